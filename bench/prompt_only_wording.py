"""Prompt-only baseline: does the turn note's wording make the policy agent invent actions?

The prompt-only arm (``policy.enforce: false``) puts the flowchart in the policy agent's system prompt and asks
for an action each turn as free text. The note used to say "Take the next step of your flowchart", and the
model answered with an action named after the note (``take_step``): the baseline partly measured its own
prompt. This plays the same seeds with the old note ("before", quoted below) and the shipped one ("after",
``roleplay/prompts/policy_prompt_only_turn.txt``), interleaved seed by seed so both arms share the machine's
load (the other party scripted), and counts over the policy agent's actions: invented (not a node of the
graph), illegal (a node the flowchart does not allow there; `roleplay.evaluation.evaluate_dialog`), and how
many echo the note's words.

    PYTHONPATH=$PWD nice -n 5 python bench/prompt_only_wording.py --seeds 14 --turns 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from unittest import mock

import roleplay.prompts
from roleplay.dialog import Dialog
from roleplay.evaluation import evaluate_dialog, table
from roleplay.scenario import load_scenario

BEFORE = ('{result}Take the next step of your flowchart. Reply in JSON with "action": the flowchart action you take '
          'now.\n')
NOTE = "policy_prompt_only_turn"
ECHO = ("step", "next", "take", "flowchart")
SHIPPED = roleplay.prompts.template


def old_wording(name: str) -> str:
    """The templates as shipped, but the prompt-only turn note as it was."""
    return BEFORE if name == NOTE else SHIPPED(name)


def play(scenario_name: str, seed: int, turns: int, arm: str) -> tuple[Dialog, float]:
    """One prompt-only dialogue with the arm's wording, and its seconds.

    The other party answers from ``scripted:auto``: only the policy agent's choices are measured, and on a
    loaded machine the embedded model's time goes to them alone.
    """
    found = load_scenario(scenario_name)
    agents = [a if a.name == found.policy.agent else a.model_copy(update={"model": "scripted:auto"})
              for a in found.agents]
    scenario = found.model_copy(update={"policy": found.policy.model_copy(update={"enforce": False}),
                                        "agents": agents})
    started = time.perf_counter()
    if arm == "before":
        with mock.patch.object(roleplay.prompts, "template", old_wording):
            dialog = scenario.generator(max_turns=turns).generate(seed=seed, id=seed)
    else:
        dialog = scenario.generator(max_turns=turns).generate(seed=seed, id=seed)
    return dialog, time.perf_counter() - started


def row(arm: str, played: list[tuple[Dialog, float]], graphs: dict) -> dict:
    """The arm's counts over every policy action of its dialogues."""
    actions = [t.action for d, _ in played for t in d.turns if t.action]
    graph = next(iter(graphs.values()))
    invented = [a for a in actions if a not in graph]
    legal = [m.legal_rate for m in (evaluate_dialog(d, graphs) for d, _ in played) if m.legal_rate is not None]
    return {"arm": arm, "dialogs": len(played), "actions": len(actions),
            "invented_share": round(len(invented) / len(actions), 3) if actions else None,
            "echoing_note_share": round(sum(any(w in a.lower() for w in ECHO) for a in invented) / len(actions), 3)
            if actions else None,
            "legal_rate": round(statistics.fmean(legal), 3) if legal else None,
            "s_per_dialog": round(statistics.fmean(s for _, s in played), 1),
            "top_invented": ", ".join(f"{a}:{n}" for a, n in Counter(invented).most_common(3))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=14)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--scenario", default="doctor_intake")
    parser.add_argument("--core", type=int, default=0, help="the one core this process (so llama.cpp's threads) "
                        "runs on: one thread does not spin on a busy machine; two benches can use two cores")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    played: dict[str, list[tuple[Dialog, float]]] = {"before": [], "after": []}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for arm in played:
            played[arm].append(play(args.scenario, seed, args.turns, arm))
            print(f"seed {seed} {arm}: {[t.action for t in played[arm][-1][0].turns if t.action]}", flush=True)
    graphs = dict(load_scenario(args.scenario).load_policy().graphs)
    rows = [row(arm, dialogs, graphs) for arm, dialogs in played.items()]
    print(table(rows))
    before, after = rows
    if before["invented_share"] and after["invented_share"] is not None:
        print(f"invented actions after/before: {after['invented_share'] / before['invented_share']:.2f}")


if __name__ == "__main__":
    main()
