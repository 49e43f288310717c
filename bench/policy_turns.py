"""Policy turns said whole: mid-sentence endings, recorded trims and legal rate per scenario and max_tokens.

For each policy scenario (default: doctor_intake and bank_support) and each ``--max-tokens``, runs one
dialogue per seed on ``--model`` and counts, over the policy agent's turns: those ending mid-sentence
(`roleplay.sentences.is_complete` says no), those with a recorded trim (``metadata["trim"]``, or the
guards' ``trimmed``), those ending mid-sentence with no record at all (the number that must be 0),
the engine's fallbacks, the legal rate and the utterance-action consistency. ``--show-seed`` prints that
seed's policy turns of the first scenario at each max_tokens, to read.

With ``--star-path``, also runs the seed tutorial's STAR description path,
``DialogGenerator(model, dialogue_details=desc, scenario=scenario).generate(id=i, seed=s)``, for each
``--star-ids`` x ``--star-seeds``, and reports whether each produced a dialogue of >= 4 turns whose
speakers are User and System, or why not. Runs on any checkout (it reads metadata keys, imports only
stable API), so the same command measures before and after a change:

    nice -n 10 python bench/policy_turns.py --seeds 4242,1,2,3 --star-path ../shared/star
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from roleplay.dialog import Dialog
from roleplay.evaluation import evaluate_dialog, table
from roleplay.scenario import load_scenario
from roleplay.sentences import is_complete


def _recorded(metadata: dict[str, Any]) -> bool:
    guard = metadata.get("guard") or {}
    return bool(metadata.get("trim") or guard.get("trimmed") or "cut_off" in guard.get("unresolved", []))


def policy_row(name: str, max_tokens: int, dialogs: list[Dialog], graphs: dict[str, Any], seconds: float) -> dict:
    """One table row: the policy turns of ``dialogs`` and how they ended."""
    turns = [t for d in dialogs for t in d.turns if t.action]
    mid = [t for t in turns if not is_complete(t.text)]
    metrics = [evaluate_dialog(d, graphs) for d in dialogs]
    legal = [m.legal_rate for m in metrics if m.legal_rate is not None]
    consistency = [m.consistency for m in metrics if m.consistency is not None]
    return {"scenario": name, "max_tokens": max_tokens, "dialogs": len(dialogs), "policy_turns": len(turns),
            "mid_sentence": len(mid), "recorded_trims": sum(_recorded(t.metadata) for t in turns),
            "mid_sentence_unrecorded": sum(not _recorded(t.metadata) for t in mid),
            "fallbacks": sum(bool(t.metadata.get("fallback") or t.metadata.get("words_fallback")) for t in turns),
            "legal_rate": round(statistics.fmean(legal), 3) if legal else None,
            "consistency": round(statistics.fmean(consistency), 3) if consistency else None,
            "completed": sum(m.completed for m in metrics), "s_per_dialog": round(seconds / len(dialogs), 1)}


def run_policies(args: argparse.Namespace) -> None:
    rows = []
    for name in args.scenarios.split(","):
        scenario = load_scenario(name)
        graphs = dict(scenario.load_policy().graphs)
        for max_tokens in map(int, args.max_tokens.split(",")):
            timeout = {"request_timeout": args.request_timeout} if args.request_timeout else {}
            generator = scenario.generator(model=args.model, **timeout)
            generator.max_tokens = max_tokens  # each agent's reply limit (the scenario's own is 160)
            started, dialogs = time.perf_counter(), []
            for seed in tqdm(args.seeds, desc=f"{name} max_tokens={max_tokens}"):
                dialogs.append(generator.generate(seed=seed, max_turns=args.max_turns))
                if args.save:
                    dialogs[-1].to_file(Path(args.save) / f"{scenario.name}_{max_tokens}_{seed}.json")
                if seed == args.show_seed and name == args.scenarios.split(",")[0]:
                    show_policy_turns(seed, max_tokens, dialogs[-1])
            rows.append(policy_row(name, max_tokens, dialogs, graphs, time.perf_counter() - started))
            print(json.dumps(rows[-1]), flush=True)  # a run cut short keeps its finished cells
    print(table(rows))


def show_policy_turns(seed: int, max_tokens: int, dialog: Dialog) -> None:
    """Print one dialogue's policy turns, to read, with their trim and fallback flags."""
    print(f"\nseed {seed}, max_tokens {max_tokens}: policy turns", flush=True)
    for turn in (t for t in dialog.turns if t.action):
        flags = [k for k in ("trim", "fallback", "words_fallback") if turn.metadata.get(k)]
        print(f"  [{turn.action}] {turn.text}" + (f"  ({', '.join(flags)})" if flags else ""), flush=True)


_TUTORIAL = """
import json, sys, time
from roleplay.datasets import STAR
from roleplay.generators import DialogGenerator
STAR.set_path(sys.argv[1])
scenario, desc = STAR.get_dialog_scenario_description(int(sys.argv[2]))
options = {"request_timeout": float(sys.argv[5])} if len(sys.argv) > 5 else {}  # a loaded machine's allowance
started = time.perf_counter()
try:
    dialog = DialogGenerator(model=sys.argv[4], dialogue_details=desc, scenario=scenario, **options).generate(
        id=int(sys.argv[2]), seed=int(sys.argv[3]))
    row = {"turns": len(dialog.turns), "speakers": ",".join(sorted({t.speaker or "" for t in dialog.turns})),
           "trimmed": sum(bool(t.metadata.get("trim")) for t in dialog.turns),
           "salvaged": bool(dialog.metadata.get("salvaged")), "error": ""}
except Exception as err:
    row = {"turns": 0, "speakers": "", "trimmed": 0, "salvaged": False,
           "error": type(err).__name__ + ": " + str(err)[:120]}
print(json.dumps({**row, "seconds": round(time.perf_counter() - started, 1)}))
"""


def tutorial_run(star_path: str, dialog_id: int, seed: int, model: str, timeout: float | None) -> dict[str, Any]:
    """One run of the tutorial's STAR description path, in its own process (a crash of llama.cpp is a row)."""
    extra = [str(timeout)] if timeout else []
    done = subprocess.run([sys.executable, "-c", _TUTORIAL, star_path, str(dialog_id), str(seed), model, *extra],
                          capture_output=True, text=True)
    try:
        row = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        crash = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        row = {"turns": 0, "speakers": "", "trimmed": 0, "salvaged": False,
               "error": f"process exited {done.returncode}: {crash[:120]}", "seconds": None}
    ok = row["turns"] >= 4 and row["speakers"] == "System,User"
    return {"id": dialog_id, "seed": seed, "ok": ok, **row}


def run_star_tutorial(args: argparse.Namespace) -> None:
    rows = []
    for seed in range(1, args.star_seeds + 1):
        for dialog_id in map(int, args.star_ids.split(",")):
            rows.append(tutorial_run(args.star_path, dialog_id, seed, args.model, args.request_timeout))
            print(rows[-1], flush=True)
    print(table(rows))
    print(f"STAR tutorial path: {sum(r['ok'] for r in rows)}/{len(rows)} dialogues of >= 4 turns by User and System")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--scenarios", default="doctor_intake,bank_support")
    parser.add_argument("--max-tokens", default="60,96,160")
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[4242, 1, 2, 3])
    parser.add_argument("--max-turns", type=int, default=16)
    parser.add_argument("--show-seed", type=int, default=4242)
    parser.add_argument("--save", default=None, help="a folder to save every policy dialogue in, to read later")
    parser.add_argument("--star-path", default=None)
    parser.add_argument("--star-ids", default="1,5100")
    parser.add_argument("--star-seeds", type=int, default=5)
    parser.add_argument("--request-timeout", type=float, default=None,
                        help="seconds per model request (default: the scenario's, or the tutorial's 600)")
    parser.add_argument("--skip-policies", action="store_true")
    args = parser.parse_args()
    if not args.skip_policies:
        run_policies(args)
    if args.star_path:
        run_star_tutorial(args)


if __name__ == "__main__":
    main()
