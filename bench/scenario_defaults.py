"""A scenario that sets nothing: the old defaults against the new ones (the bundled scenarios' settings).

A user's first scenario names its agents and says what happens, and nothing else. Before this change such a
scenario ran with 96 tokens a turn, no sentence limit and no repeat penalty; the bundled scenarios all set 80
tokens (160 with a policy), 3 sentences and a repeat penalty of 1.15, and those are now the defaults. This plays
one scenario written as a user would (a customer disputes a card charge with a bank clerk; not a bundled one)
with no settings ("after", today's defaults) and with the old defaults written out ("before"), seed by seed
interleaved so both arms share the machine's load, and prints `roleplay evaluate`'s text measures per arm:
on-topic turns (the scenario's topic words), words per turn, and seconds per dialogue.

    PYTHONPATH=$PWD nice -n 5 python bench/scenario_defaults.py --seeds 14 --turns 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from roleplay.dialog import Dialog
from roleplay.evaluation import table, text_report
from roleplay.scenario import Scenario

USER_SCENARIO = {
    "name": "card_dispute",
    "description": "A customer disputes a card charge with a bank clerk.",
    "dialogue_details": "A customer phones the bank about a card charge of 84 euros they did not make. The clerk "
                        "asks about the charge and offers to block the card.",
    "agents": [{"name": "Clerk", "persona": {"name": "Sam", "role": "bank clerk",
                                              "personality": "polite and patient"}},
               {"name": "Customer", "persona": {"name": "Ana", "role": "customer",
                                                 "circumstances": "Your statement shows a charge of 84 euros that "
                                                                  "you did not make."}}],
    "topic": ["charge", "card", "euros", "payment", "statement", "block", "dispute", "account"],
}
OLD_DEFAULTS = {"max_tokens": 96, "max_sentences": None, "repeat_penalty": None}
"""What a scenario with no settings used before: the settings written out, so this checkout can play both."""


def arms() -> dict[str, Scenario]:
    return {"before": Scenario.model_validate({**USER_SCENARIO, **OLD_DEFAULTS, "path": Path("card_dispute.yaml")}),
            "after": Scenario.model_validate({**USER_SCENARIO, "path": Path("card_dispute.yaml")})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=14)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--core", type=int, default=0, help="the one core this process (so llama.cpp's threads) "
                        "runs on: one thread does not spin on a busy machine; two benches can use two cores")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    played: dict[str, list[Dialog]] = {"before": [], "after": []}
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    scenarios = arms()
    for seed in range(args.seeds):
        for arm, scenario in scenarios.items():
            started = time.perf_counter()
            dialog = scenario.generator(max_turns=args.turns).generate(seed=seed, id=seed)
            seconds[arm].append(time.perf_counter() - started)
            dialog.metadata["variant"] = {"defaults": arm}
            played[arm].append(dialog)
            print(f"seed {seed} {arm}: {len(dialog)} turns in {seconds[arm][-1]:.1f}s", flush=True)
    rows = []
    for arm, dialogs in played.items():
        overall = text_report(dialogs)["summary"][-1]
        rows.append({"arm": arm, "dialogs": len(dialogs), "on_topic_rate": overall["on_topic_rate"],
                     "topic_start_rate": overall["topic_start_rate"], "words_per_turn": overall["words_per_turn"],
                     "words_max": overall["words_max"], "near_copy_rate": overall["near_copy_rate"],
                     "s_per_dialog": round(statistics.fmean(seconds[arm]), 1)})
    print(table(rows))
    before, after = rows
    print(f"after/before: on-topic {after['on_topic_rate'] / max(before['on_topic_rate'] or 0, 1e-9):.2f}, "
          f"words per turn {after['words_per_turn'] / before['words_per_turn']:.2f}, "
          f"time {after['s_per_dialog'] / before['s_per_dialog']:.2f}")


if __name__ == "__main__":
    main()
