"""What the per-agent KV state (`AgentPrefixCache`) saves on the embedded model, measured in one run.

Two agents take turns on one in-process model, so without it every call re-evaluates its whole prompt
(system prompt + conversation). With it, each agent restores the state its last call ended with and
evaluates only the new messages. The same doctor-patient dialogues (same seeds) run with the state on and
off, alternating, and the script prints the wall time of each, the ratio, and the largest state kept.

    .venv/bin/python bench/prefix_cache.py [dialogues per mode, default 3] [turns, default 10]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from roleplay.backends import llamacpp
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


class Recording(llamacpp.AgentPrefixCache):
    """The real cache, noting the size of each state it keeps."""

    largest = 0

    def __setitem__(self, tokens, state) -> None:
        super().__setitem__(tokens, state)
        Recording.largest = max(Recording.largest, state.llama_state_size)


class Off(llamacpp.AgentPrefixCache):
    """Never offers a state: every call evaluates its whole prompt."""

    def __contains__(self, tokens) -> bool:
        return False


def run(cache: type, seed: int, turns: int) -> tuple[float, int, int]:
    """One dialogue; (seconds, turns, generated tokens)."""
    llamacpp.AgentPrefixCache = cache
    generator = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml").generator(max_turns=turns)
    started = time.perf_counter()
    dialog = generator.generate(seed=seed)
    return time.perf_counter() - started, len(dialog), dialog.metadata["completion_tokens"]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    turns = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    run(Off, 0, 2)  # warm-up: load the model
    totals = {Off: [0.0, 0, 0], Recording: [0.0, 0, 0]}
    for seed in range(1, count + 1):
        for cache in (Off, Recording):
            for i, value in enumerate(run(cache, seed, turns)):
                totals[cache][i] += value
    for cache, label in ((Off, "full prompt every call"), (Recording, "own KV state restored")):
        seconds, spoken, tokens = totals[cache]
        print(f"{label:24} {count} dialogues, {spoken} turns: {seconds:6.1f} s, {seconds / spoken:.2f} s/turn, "
              f"{tokens / seconds:5.1f} generated tokens/s")
    print(f"speed-up: x{totals[Off][0] / totals[Recording][0]:.2f} wall time "
          f"(turns: {totals[Off][1]} vs {totals[Recording][1]}); largest state kept: {Recording.largest / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
