"""`roleplay report` on 1,000 dialogues: generation time, file size, and load time in headless chromium.

The dialogues are synthesised (no model): random walks over the doctor-intake policy with about one
step in ten off the graph, utterances of 8-30 words, two batch variants and both policy modes, saved as
a batch folder. Then the report is written and, when chromium is installed (`make browser`), opened:
load time is from navigation until the unpacked list is drawn, open time is one click on a listed dialogue.

    PYTHONPATH=$PWD .venv/bin/python bench/report_size.py [N]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from roleplay import Dialog, Turn  # noqa: E402
from roleplay.dialog import StopReason  # noqa: E402
from roleplay.policy.graph import read_dot  # noqa: E402
from roleplay.policy.tracker import FlowchartTracker  # noqa: E402
from roleplay.viz.report import write_report  # noqa: E402

MODES = ("enforced", "prompt_only")
INTAKE = ROOT / "scenarios" / "doctor_intake.dot"
WORDS = ("headache pain since monday worse morning light noise sleep water coffee work screen eyes neck fever "
         "tired dizzy pills doctor nurse week days hours sharp dull side back front better evening").split()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."


def synthetic_dialog(index: int, graph) -> Dialog:
    """A doctor-patient walk on the intake graph: legal most of the time, sometimes any node."""
    rng = random.Random(index)
    tracker, turns = FlowchartTracker(graph), []
    system = sorted(n for n, d in graph.nodes(data=True) if d["kind"] in ("action", "global"))
    while len(turns) < 16:
        legal = tracker.legal_actions()
        action = rng.choice(system) if rng.random() < 0.1 or not legal else legal[0]
        tracker.advance(action)
        turns.append(Turn("Doctor", sentence(rng), action=action, metadata={"legal": tracker.steps[-1].legal}))
        if action == "goodbye":
            break
        turns.append(Turn("Patient", ("Yes. " if rng.random() < 0.4 else "No. ") + sentence(rng)))
    return Dialog(id=index, seed=index, model="synthetic", turns=turns, scenario={"name": "doctor_intake"},
                  stop_reason=StopReason.END_SIGNAL if turns[-1].action == "goodbye" else StopReason.MAX_TURNS,
                  metadata={"variant": {"temperature": (0.5, 0.9)[index % 2]},
                            "policy": {"tasks": ["doctor_intake"], "mode": MODES[index // 2 % 2]}})


def browser_times(page: Path, work: Path) -> tuple[float, float] | None:
    """(load ms, open-one-dialogue ms) in headless chromium, or None without it."""
    try:
        from test_report_browser import CHROMIUM, headless_chromium
    except Exception:  # noqa: BLE001 - pytest's skip or a missing dev extra: no browser numbers
        return None
    if CHROMIUM is None:
        return None
    with headless_chromium(work / "profile") as tools:
        tools.call("Page.navigate", url=page.as_uri())
        tools.wait_for("Page.loadEventFired", 120)
        tools.wait_until("document.getElementById('rp-status').hidden", 120)
        load = tools.evaluate("performance.now()")  # ms since navigation: the list is drawn
        opened = tools.evaluate("(() => { const t = performance.now(); document.querySelector("
                                "'#rp-list tbody tr').click(); return performance.now() - t; })()")
        assert not tools.errors(), tools.errors()
    return float(load), float(opened)


def main(n: int) -> None:
    graph = read_dot(INTAKE)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for index in range(n):
            synthetic_dialog(index, graph).to_file(work / "run" / "dialogs" / f"{index}.json")
        started = time.perf_counter()
        page = write_report(work / "run", work / "report.html", [INTAKE])
        seconds = time.perf_counter() - started
        size = page.stat().st_size
        source = sum(f.stat().st_size for f in (work / "run" / "dialogs").glob("*.json"))
        print(f"{n} dialogues: report written in {seconds:.1f} s ({1000 * seconds / n:.1f} ms per dialogue), "
              f"{size / 1e6:.2f} MB ({size / n / 1e3:.1f} kB per dialogue; the dialogue JSON files: "
              f"{source / 1e6:.2f} MB, ratio {size / source:.2f})")
        timing = browser_times(page, work)
        if timing:
            print(f"headless chromium: page ready (list drawn) {timing[0]:.0f} ms after navigation, "
                  f"one dialogue opened in {timing[1]:.0f} ms")
        else:
            print("headless chromium: not installed (make browser), no load time")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
