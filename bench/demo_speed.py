"""Demo wall time and tokens/s on the embedded model, against the raw model measured in the same run.

Run: .venv/bin/python bench/demo_speed.py
Prints the demo's wall time and generated tokens/s, the same model's raw tokens/s (llama.cpp called
directly with exactly the requests roleplay sent, recorded during the demo), their ratio, and the
engine's own overhead per turn on an instant scripted backend.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from roleplay.backends import llamacpp
from roleplay.backends._base import Model
from roleplay.backends.llamacpp import DEFAULT_CONTEXT, DEFAULT_SLOTS, PROCESS_SERVERS, embedded_model_path, usable_cpus
from roleplay.backends.scripted import ScriptedClient
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.personas import Persona
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [1, 2, 3]


def demo_runs() -> tuple[float, int, list, list[dict]]:
    """Run the demo scenario per seed, recording every request sent to llama.cpp."""
    requests: list[dict] = []
    complete = llamacpp.LlamaCppClient._run

    async def recording(self, request):
        requests.append(dict(request))
        return await complete(self, request)

    llamacpp.LlamaCppClient._run = recording
    generator = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml").generator()
    seconds, tokens, dialogs = 0.0, 0, []
    for seed in SEEDS:
        started = time.perf_counter()
        dialog = generator.generate(seed=seed)
        seconds += time.perf_counter() - started
        tokens += dialog.metadata["completion_tokens"]
        dialogs.append(dialog)
    llamacpp.LlamaCppClient._run = complete
    return seconds, tokens, dialogs, requests


def raw_model(requests: list[dict]) -> tuple[float, int]:
    """Send the recorded requests straight to the same in-process llama.cpp server, one at a time."""
    import threading

    server = PROCESS_SERVERS.server(embedded_model_path(), DEFAULT_CONTEXT, DEFAULT_SLOTS, usable_cpus())
    seconds, tokens = 0.0, 0
    for request in requests:
        started = time.perf_counter()
        out = server.chat(request, threading.Event())
        seconds += time.perf_counter() - started
        tokens += out["usage"]["completion_tokens"]
    return seconds, tokens


def engine_overhead(turns: int = 20, repeats: int = 20) -> float:
    """Seconds per turn spent in roleplay + AutoGen when the model answers instantly."""
    agents = [AgentSpec(name=n, persona=Persona(name=n)) for n in ("A", "B")]

    def model() -> Model:
        return Model(ScriptedClient(fn=lambda r: "Fine, thanks."), name="instant", backend="scripted")

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(repeats):
            gen = PersonaDialogGenerator(model(), agents=agents, stop=None, max_turns=turns)
            await gen.agenerate(seed=0)
        return (time.perf_counter() - started) / (turns * repeats)

    return asyncio.run(run())


def main() -> None:
    demo_seconds, demo_tokens, dialogs, requests = demo_runs()
    raw_seconds, raw_tokens = raw_model(requests)
    per_turn = engine_overhead()
    turns = sum(len(d) for d in dialogs)
    print(f"demo: {len(dialogs)} dialogues, {turns} turns, {demo_seconds:.1f} s "
          f"({demo_seconds / len(dialogs):.1f} s per dialogue), {demo_tokens} tokens, "
          f"{demo_tokens / demo_seconds:.1f} tokens/s")
    print(f"raw llama.cpp, the same {len(requests)} requests: {raw_tokens} tokens in {raw_seconds:.1f} s, "
          f"{raw_tokens / raw_seconds:.1f} tokens/s")
    print(f"ratio roleplay/raw tokens/s: {(demo_tokens / demo_seconds) / (raw_tokens / raw_seconds):.2f}")
    print(f"engine overhead on an instant backend: {per_turn * 1000:.3f} ms per turn "
          f"({per_turn * turns / demo_seconds * 100:.2f}% of the demo's wall time)")


if __name__ == "__main__":
    main()
