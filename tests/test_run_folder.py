"""The one run-folder layout: reading any run folder (evaluate, export), its lock, index repair, failures."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from slow_cli import slow_cli, wait_for_lines

from roleplay.backends import register_backend
from roleplay.cli import cli
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import BackendError, ConfigError
from roleplay.evaluation import load_dialogs, write_report
from roleplay.runs.batch import arun_batch
from roleplay.runs.folder import RunFolder, RunFolderWarning, content_hash

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "doctor_patient.yaml"
DOT = ROOT / "scenarios" / "doctor_intake.dot"


def finished_dialog(index: int, seed: int) -> Dialog:
    return Dialog(seed=seed, turns=[Turn("A", f"hi {index}"), Turn("B", "hello")], stop_reason=StopReason.MAX_TURNS)


async def ok(index, seed):
    return finished_dialog(index, seed)


def batch_folder(tmp_path: Path, n: int = 3) -> Path:
    out = tmp_path / "batch"
    asyncio.run(arun_batch(ok, n, out, progress=False))
    return out


def plain_folder(tmp_path: Path) -> Path:
    out = tmp_path / "plain"
    for name in ("b", "a", "10", "2"):
        Dialog(id=name, turns=[Turn("A", name)]).to_file(out / f"{name}.json")
    return out


def test_dialog_files_of_every_layout(tmp_path):
    batch = batch_folder(tmp_path)
    assert [p.relative_to(batch).as_posix() for p in RunFolder(batch).dialog_files()] == [
        "dialogs/0.json", "dialogs/1.json", "dialogs/2.json"]
    older_star = tmp_path / "star_run"
    Dialog(id=5, turns=[Turn("A", "x")]).to_file(older_star / "json" / "5.json")
    Dialog(id=5, turns=[Turn("A", "x")]).to_file(older_star / "txt" / "5.txt")
    assert [p.name for p in RunFolder(older_star).dialog_files()] == ["5.json"]
    plain = plain_folder(tmp_path)
    write_report({"summary": [{"task": "ALL", "dialogs": 4}]}, plain / "my_report")  # a report among dialogues
    (plain / "batch.json").write_text("{}")
    assert [p.name for p in RunFolder(plain).dialog_files()] == ["2.json", "10.json", "a.json", "b.json"]
    assert [d.id for d in load_dialogs(plain)] == ["2", "10", "a", "b"]


@pytest.mark.parametrize("layout", ["batch", "plain"])
def test_evaluate_and_export_any_folder_twice(tmp_path, layout):
    folder = batch_folder(tmp_path) if layout == "batch" else plain_folder(tmp_path)
    count = len(RunFolder(folder).dialog_files())
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["evaluate", str(folder), "--graph", str(DOT)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert json.loads((folder / "evaluation.json").read_text())["summary"][-1]["dialogs"] == count
        result = runner.invoke(cli, ["export", str(folder), "--format", "openai", "--out", str(tmp_path / "x.jsonl")])
        assert result.exit_code == 0 and f"Exported {count} dialogues" in result.output


def test_torn_index_line_is_dropped_with_a_warning(tmp_path):
    out = batch_folder(tmp_path)
    index = out / "index.jsonl"
    lines = index.read_text().splitlines()
    index.write_text("\n".join(lines[:2]) + "\n" + lines[2][:17])  # power loss in the middle of the last line
    with pytest.warns(RunFolderWarning, match="dropped 1 torn"):
        again = asyncio.run(arun_batch(ok, 5, out, progress=False))
    assert (again.skipped, again.done) == (3, 2)  # dialogue 2's file was in place: re-indexed, not redone
    entries = [json.loads(line) for line in index.read_text().splitlines()]  # every line parses
    assert sorted(e["id"] for e in entries) == [0, 1, 2, 3, 4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asyncio.run(arun_batch(ok, 5, out, progress=False))  # repaired once: no more warnings


def test_index_lines_a_power_cut_took_are_rebuilt_from_the_files(tmp_path):
    """The index is not fsynced: the dialogue files are the record, and a resume indexes the files it lacks."""
    out = batch_folder(tmp_path)
    index = out / "index.jsonl"
    index.write_text(index.read_text().splitlines(keepends=True)[0])  # the last two lines never reached the disk
    again = asyncio.run(arun_batch(ok, 4, out, progress=False))
    assert (again.skipped, again.done) == (3, 1)  # dialogues 1 and 2 were re-indexed, not generated again
    assert sorted(json.loads(line)["id"] for line in index.read_text().splitlines()) == [0, 1, 2, 3]


def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    folder = RunFolder(tmp_path / "b")
    with folder:
        with pytest.raises(ConfigError, match=rf"being written by another roleplay process \(pid {os.getpid()}\)"):
            asyncio.run(arun_batch(ok, 2, folder.root, progress=False))
    assert asyncio.run(arun_batch(ok, 2, folder.root, progress=False)).done == 2  # released


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".lock").write_text(dead.stdout.strip())
    assert asyncio.run(arun_batch(ok, 2, tmp_path / "b", progress=False)).done == 2
    assert (tmp_path / "b" / ".lock").read_text() == str(os.getpid())


def test_two_identical_batches_at_once(tmp_path):
    out = tmp_path / "b"
    args = [sys.executable, str(slow_cli(tmp_path, sleep=0.2)), "batch", str(SCENARIO), "-n", "40",
            "--concurrency", "2", "--out", str(out),
            "--model", "slow", "--max-turns", "4"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lines(out / "index.jsonl", 1)
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1
    assert f"being written by another roleplay process (pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    first.send_signal(signal.SIGINT)  # stop the first one cleanly (finishing it would only take longer)
    first.communicate(timeout=120)
    ids = [json.loads(line)["id"] for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) and set(ids) == {int(p.stem) for p in (out / "dialogs").glob("*.json")}


async def test_failed_dialogues_are_retried_listed_and_never_done(tmp_path):
    tries: dict[int, int] = {}

    async def make(index, seed):
        tries[index] = tries.get(index, 0) + 1
        if index == 1:
            return Dialog(seed=seed, stop_reason=StopReason.BACKEND_ERROR, metadata={"error": "HTTP 500"})
        if index == 2:
            return Dialog(seed=seed, stop_reason=StopReason.TIMEOUT)  # a hung server: no turn at all
        return finished_dialog(index, seed)

    out = tmp_path / "b"
    result = await arun_batch(make, 3, out, attempts=2, backoff=0, progress=False)
    assert (result.done, result.failed) == (1, 2) and tries == {0: 1, 1: 2, 2: 2}
    failures = {json.loads(line)["id"]: json.loads(line)["error"] for line in (out / "failures.jsonl").open()}
    assert failures == {1: "DialogFailed: HTTP 500",
                        2: "DialogFailed: the dialogue has no turns (stop reason: timeout)"}
    assert [p.name for p in (out / "dialogs").iterdir()] == ["0.json"]
    again = await arun_batch(ok, 3, out, progress=False)  # the rerun retries them
    assert (again.skipped, again.done) == (1, 2)


async def test_an_older_folder_with_empty_dialogues_redoes_them(tmp_path):
    out = tmp_path / "b"
    Dialog(id=0, seed=0, stop_reason=StopReason.BACKEND_ERROR).to_file(out / "dialogs" / "0.json")
    (out / "index.jsonl").write_text(json.dumps({"id": 0, "turns": 0, "stop_reason": "backend_error"}) + "\n")
    Dialog(id=1, seed=1, stop_reason=StopReason.MAX_TURNS).to_file(out / "dialogs" / "1.json")  # not indexed
    result = await arun_batch(ok, 2, out, progress=False)
    assert (result.skipped, result.done) == (0, 2)


def test_cli_batch_exits_non_zero_when_a_dialogue_failed(tmp_path, monkeypatch):
    from roleplay.backends.scripted import scripted_model

    def factory(model, options):
        def script(request):
            if options.seed == 1:
                raise BackendError("fake", "internal error", status_code=500)
            return "fine."
        return scripted_model(fn=script, seed=options.seed)
    register_backend("flaky", factory)
    out = tmp_path / "b"
    result = CliRunner().invoke(cli, ["batch", str(SCENARIO), "-n", "3", "--out", str(out), "-m", "flaky",
                                      "--max-turns", "2", "--attempts", "1"])
    assert result.exit_code == 1, result.output
    assert "2 done, 0 skipped, 1 failed" in result.output and "1 dialogue(s) failed" in result.output
    assert sorted(p.stem for p in (out / "dialogs").iterdir()) == ["0", "2"]
    assert json.loads((out / "failures.jsonl").read_text())["id"] == 1


def test_resume_checks_the_scenario_content(tmp_path, monkeypatch):
    from roleplay.backends.scripted import scripted_model

    register_backend("plain", lambda model, options: scripted_model(replies=["ok."] * 50))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.read_text().replace("../agents/", str(ROOT / "agents") + "/")
                        .replace("examples/", str(ROOT / "scenarios" / "examples") + "/"))
    args = ["batch", str(scenario), "-n", "2", "--out", str(tmp_path / "b"), "-m", "plain", "--max-turns", "2"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    scenario.write_text(scenario.read_text().replace("temperature", "# edited\ntemperature", 1))
    refused = CliRunner().invoke(cli, [*args[:3], "3", *args[4:]])
    assert refused.exit_code == 1 and "inputs_sha256" in refused.output and "--force" in refused.output
    forced = CliRunner().invoke(cli, [*args[:3], "3", *args[4:], "--force"])
    assert forced.exit_code == 0 and "1 done, 2 skipped" in forced.output


def test_content_hash_follows_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("x")
    b.write_text("x")
    assert content_hash([a]) == content_hash([b]) != content_hash([a, b])
    with pytest.raises(ConfigError, match="Cannot read"):
        content_hash([tmp_path / "missing"])


async def test_a_huge_batch_starts_at_once_in_little_memory(tmp_path):
    async def failing(index, seed):
        raise BackendError("fake", "down", status_code=503)

    tracemalloc.start()
    result = await arun_batch(failing, 4_000_000_000, tmp_path / "b", attempts=1, max_failures=0, concurrency=4,
                              progress=False)  # the most a batch can hold: seed + id stays below 2**32
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.aborted and result.total == 4_000_000_000 and result.failed <= 4
    assert peak < 20_000_000  # the ids are never materialised (a list of 4e9 ints would need 32 GB)


def test_a_bundled_scenario_by_name_is_batched_and_fingerprinted(tmp_path):
    out = tmp_path / "b"
    args = ["batch", "doctor_intake", "-n", "2", "--out", str(out), "-m", "scripted:auto", "--max-turns", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "batch.json").read_text())["inputs_sha256"]) == 64  # the bundled file was read


def test_writer_threads_saving_at_once_leave_whole_index_lines_each_after_its_file(tmp_path):
    """Dialogues finishing together are saved by several threads; the index must stay one line per dialogue."""
    n = 150
    long_text = "word " * 400  # index lines stay short, dialogue files do not

    async def make(index, seed):
        return Dialog(seed=seed, turns=[Turn("A", f"{long_text}{index}"), Turn("B", "hello")],
                      stop_reason=StopReason.MAX_TURNS)

    result = asyncio.run(arun_batch(make, n, tmp_path / "out", concurrency=64, progress=False))
    lines = (tmp_path / "out" / "index.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert result.done == n and len(entries) == n and {e["id"] for e in entries} == set(range(n))
    assert all(Dialog.from_file(tmp_path / "out" / e["file"]).turns[0].text.endswith(str(e["id"])) for e in entries)
