"""Judging cost and crash safety on a scripted judge, measured in one run.

1. Writes a run folder of N small dialogues (4 turns), then judges it on the ``quality`` rubric (8 judge
   calls per dialogue: 2 whole-conversation questions, naturalness of each speaker, persona consistency
   of each turn) with a scripted judge that answers at once, at concurrency 16. Prints the process CPU
   time (every thread: the event loop and the writer threads) per dialogue: the engine's own cost, with
   no model time in it. Goal: <= 2 ms per dialogue.
2. Starts the same judging in a child process with a judge that takes 2 ms per answer, kills it with
   SIGKILL part-way, reruns it to the end, and checks that every dialogue has exactly one result file,
   that the index lists each id once, that no temp file is left, and that every file parses.

    python bench/judge.py [N, default 1000]

With ``--embedded RUN [RUBRIC]`` it judges the run folder RUN (default rubric ``social``: 10 calls per
two-speaker dialogue) with the embedded model instead, into ``RUN/judgements/``, and prints the judge
calls made (retries included), failures and the time taken: every answer must be schema-valid.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.dialog import Dialog, Turn
from roleplay.evaluation.judge import Judge
from roleplay.evaluation.judging import judgement_folder, run_judging
from roleplay.evaluation.rubric import load_rubric
from roleplay.runs.folder import RunFolder

ANSWER = json.dumps({"reasoning": "The turns follow each other and the speaker stays in role.", "score": 4})


def answer(request: ScriptedRequest) -> str:
    return ANSWER


def slow_answer(request: ScriptedRequest) -> str:
    time.sleep(0.002)
    return ANSWER


def make_run(root: Path, n: int) -> None:
    personas = {"Patient": {"name": "Robin", "role": "patient"}, "Doctor": {"name": "Dr. Lee", "role": "doctor"}}
    with RunFolder(root) as folder:
        for i in range(n):
            turns = [Turn("Patient", f"I have had a headache for {i % 7 + 1} days."), Turn("Doctor", "Any fever?"),
                     Turn("Patient", "No fever, just the pain behind my eyes."), Turn("Doctor", "Rest and water.")]
            folder.save(i, Dialog(id=i, seed=i, turns=turns, personas=personas))


def judge(run: Path, out: Path, fn=answer) -> tuple[int, float, float]:
    """Judge ``run`` into ``out``; (dialogues done, process CPU seconds, wall seconds)."""
    model = Judge(scripted_model(fn=fn, name="scripted:bench"), load_rubric("quality"))
    cpu, wall = time.process_time(), time.perf_counter()
    result = run_judging(model, run, out, concurrency=16, progress=False)
    return result.done, time.process_time() - cpu, time.perf_counter() - wall


def check(out: Path, n: int) -> str:
    files = sorted((out / "dialogs").glob("*.json"))
    ids = [json.loads(line)["id"] for line in (out / "index.jsonl").read_text().splitlines()]
    leftovers = list((out / "dialogs").glob(".*.tmp"))
    judged = sum(1 for f in files if Dialog.from_file(f).metadata["judgement"]["dialog_id"] == int(f.stem))
    ok = len(files) == n == len(set(ids)) == len(ids) == judged and not leftovers
    return (f"{len(files)} result files for {n} dialogues, index {len(ids)} lines ({len(set(ids))} ids), "
            f"{len(leftovers)} temp files left, {judged} files parse with their own id: {'OK' if ok else 'FAILED'}")


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        make_run(run, n)
        done, cpu, wall = judge(run, Path(tmp) / "judged")
        calls = done * 8
        print(f"judged {done} dialogues ({calls} scripted judge calls) in {wall:.2f} s wall, {cpu:.2f} s CPU: "
              f"{1000 * cpu / done:.3f} ms CPU per dialogue ({1000 * cpu / calls:.3f} ms per call); goal <= 2 ms")

        out = Path(tmp) / "killed"
        child = subprocess.Popen([sys.executable, __file__, "--child", str(run), str(out)])
        index = out / "index.jsonl"
        while not (index.is_file() and len(index.read_text().splitlines()) >= n // 3):
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        before = len(index.read_text().splitlines())
        done, _, wall = judge(run, out, slow_answer)
        print(f"kill -9 after {before} of {n} results; the rerun judged {done} more in {wall:.1f} s")
        print(check(out, n))


def embedded(run: Path, rubric: str) -> None:
    # one llama.cpp thread: on a shared, overloaded machine a second thread mostly spin-waits for the first
    model = Judge("embedded", load_rubric(rubric), threads=1)
    units = sum(len(model.units(d)[0]) for d in RunFolder(run).iter_dialogs())
    wall = time.perf_counter()
    # one dialogue at a time: the in-process model runs one call at a time anyway, and consecutive questions
    # about the same dialogue share its transcript, which the model then evaluates once (its KV state is kept)
    result = run_judging(model, run, concurrency=1, progress=False)  # into RUN/judgements/ (a rerun resumes)
    wall = time.perf_counter() - wall
    out = judgement_folder(run, model.rubric, model.name)
    judged = [d.metadata["judgement"] for d in RunFolder(out).iter_dialogs()]
    scores = [s["score"] for j in judged for s in j["scores"]]
    print(f"embedded judge, rubric {rubric}: {result.done} dialogues judged ({result.skipped} were already), "
          f"{result.failed} failed; {units} units asked, {len(scores)} schema-valid scores in {out}; "
          f"{model.model.calls} model calls this run (retries of invalid answers included); {result.tokens} "
          f"completion tokens; {wall:.0f} s wall")
    print("score histogram:", dict(sorted(collections.Counter(scores).items())))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--embedded"]:
        embedded(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "social")
    elif sys.argv[1:2] == ["--child"]:
        judge(Path(sys.argv[2]), Path(sys.argv[3]), slow_answer)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
