"""A run folder is safe from outputs aimed into it, and a resume trusts nothing it finds there.

Outputs: no command writes into a run folder's own files (``dialogs/``, ``index.jsonl``, ``batch.json``...),
one guard for all (`roleplay.runs.folder.check_output`). Resume: a copied or renamed dialogue file is
an error naming it, a damaged one is generated again, a repeated index line is kept once, dialogues
whose batch.json is gone are not mixed with another seed, and a data file that sampling rules draw from
is part of the fingerprint. Resume deletes only its own temp files.
"""

from __future__ import annotations

import errno
import hashlib
import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay._atomic import TEMP_SUFFIX
from roleplay.cli import cli
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError
from roleplay.runs.batch import arun_batch
from roleplay.runs.folder import RunFolder, RunFolderWarning, check_output

SCENARIO = "name: t\nagents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\nstop: {max_turns: 2}\n"
SAMPLED = ("name: t\nstop: {max_turns: 2}\n"
           "agents: [{name: A, sample: {role: {file: complaints.txt}}}, {name: B, persona: {role: b}}]\n")


async def ok(index, seed):
    return Dialog(seed=seed, turns=[Turn("A", f"hi {index}")], stop_reason=StopReason.MAX_TURNS)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256), to prove a command changed nothing."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code != 0, result.output
    return result.output


@pytest.fixture
def run(tmp_path) -> Path:
    """A finished 3-dialogue batch folder, made through the CLI."""
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "s.yaml"), "-n", "3", "-m", "scripted:auto",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


# --- outputs aimed into a run folder -------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["evaluate", "{run}", "--out", "{run}/dialogs/1"],
    ["evaluate", "{run}", "--out", "{run}/batch"],
    ["export", "{run}", "--format", "jsonl", "--out", "{run}/dialogs/0.json"],
    ["export", "{run}", "--format", "jsonl", "--out", "{run}/index.jsonl"],
    ["export", "{run}", "--format", "openai", "--out", "{run}/failures.jsonl"],
    ["run", "{scenario}", "-m", "scripted:auto", "--out", "{run}/dialogs", "--seed", "1"],
    ["report", "{run}", "--out", "{run}/dialogs/r.html"],
    ["graph", "{dot}", "--svg", "{run}/dialogs/g.svg"],
    ["batch", "{scenario}", "-n", "1", "-m", "scripted:auto", "--out", "{run}/dialogs/inner"],
    ["star", "generate", "--star-path", "{star}", "--out", "{run}/dialogs/star"],
    ["intent-chat", "-m", "scripted:auto", "--out", "{run}/index.jsonl"],
], ids=lambda args: " ".join(args[:1] + args[-2:]).replace("{run}", "run"))
def test_no_command_writes_into_a_run_folders_own_files(run, args, tmp_path):
    (tmp_path / "g.dot").write_text('digraph g { graph [start="a"]; a [kind=action, goal=true]; }\n',
                                    encoding="utf-8")
    before = snapshot(run)
    filled = [a.format(run=run, scenario=tmp_path / "s.yaml", dot=tmp_path / "g.dot",
                       star=Path(__file__).parent / "fixtures" / "star_mini") for a in args]
    output = invoke(*filled)
    assert "belongs to the run folder" in output and str(run) in output
    assert snapshot(run) == before


def test_writing_beside_a_run_folders_own_files_is_fine(run):
    check_output(run / "evaluation.json")
    check_output(run / "report.html")
    check_output(run.parent / "elsewhere" / "x.jsonl")
    with pytest.raises(ConfigError, match="belongs to the run folder"):
        check_output(run / ".lock")


def test_evaluate_into_the_run_folder_default_place_still_works(run):
    result = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "evaluation.json").is_file()


def test_intent_chat_does_not_replace_a_file_it_did_not_write(tmp_path):
    mine = tmp_path / "notes.jsonl"
    mine.write_text("my own data\n", encoding="utf-8")
    output = invoke("intent-chat", "-m", "scripted:auto", "--per-intent", "1", "--out", str(mine))
    assert "exists and was not written by intent-chat" in output
    assert mine.read_text(encoding="utf-8") == "my own data\n"


async def test_resume_deletes_only_its_own_temp_files(tmp_path):
    await arun_batch(ok, 2, tmp_path / "r", progress=False)
    dialogs = tmp_path / "r" / "dialogs"
    users = [dialogs / ".notes.tmp", dialogs / ".0.json.tmp", dialogs / f".x{TEMP_SUFFIX}"]
    for path in users:
        path.write_text("a user's own file", encoding="utf-8")
    ours = dialogs / f".5.json.abcd1234{TEMP_SUFFIX}"
    ours.write_text("{half a dialog", encoding="utf-8")
    await arun_batch(ok, 3, tmp_path / "r", progress=False)
    assert all(p.read_text(encoding="utf-8") == "a user's own file" for p in users)
    assert not ours.exists()


# --- resume trusts nothing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, message", [
    ("007.json", r"007.json is not a file this run wrote \(dialogue 7 would be 7.json\)"),  # a copy, renamed
    ("7.json", r"7.json holds dialogue 0, not 7"),  # a copy under a real dialogue's name
    ("notes.json", r"notes.json holds dialogue 0, not 'notes'"),
])
async def test_a_copied_dialogue_file_is_refused_not_indexed(tmp_path, name, message):
    await arun_batch(ok, 3, tmp_path / "r", progress=False)
    dialogs = tmp_path / "r" / "dialogs"
    (dialogs / name).write_bytes((dialogs / "0.json").read_bytes())
    with pytest.raises(ConfigError, match=message):
        await arun_batch(ok, 10, tmp_path / "r", progress=False)


async def test_a_damaged_indexed_file_is_generated_again(tmp_path):
    await arun_batch(ok, 4, tmp_path / "r", progress=False)
    (tmp_path / "r" / "dialogs" / "3.json").write_text("{not json", encoding="utf-8")
    with pytest.warns(RunFolderWarning, match=r"3.json is damaged"):
        result = await arun_batch(ok, 4, tmp_path / "r", progress=False)
    assert (result.done, result.skipped) == (1, 3)
    assert Dialog.from_file(tmp_path / "r" / "dialogs" / "3.json").turns[0].text == "hi 3"
    ids = [json.loads(line)["id"] for line in (tmp_path / "r" / "index.jsonl").read_text().splitlines()]
    assert sorted(ids) == [0, 1, 2, 3]


async def test_a_repeated_index_is_kept_once(tmp_path):
    await arun_batch(ok, 3, tmp_path / "r", progress=False)
    index = tmp_path / "r" / "index.jsonl"
    index.write_text(index.read_text() * 3, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = await arun_batch(ok, 3, tmp_path / "r", progress=False)
    assert (result.done, result.skipped) == (0, 3)
    assert sorted(json.loads(line)["id"] for line in index.read_text().splitlines()) == [0, 1, 2]


async def test_dialogues_without_their_batch_json_are_not_mixed_with_another_seed(tmp_path):
    await arun_batch(ok, 3, tmp_path / "r", seed=0, progress=False)
    (tmp_path / "r" / "batch.json").unlink()
    with pytest.raises(ConfigError, match=r"(\d).json was made with seed \1, but this run gives dialogue \1 "
                                          r"seed 10\1, and batch.json is missing"):
        await arun_batch(ok, 5, tmp_path / "r", seed=100, progress=False)
    forced = await arun_batch(ok, 5, tmp_path / "r", seed=100, progress=False, force=True)
    assert forced.done == 2


def test_a_data_file_of_the_sampling_rules_is_in_the_fingerprint(tmp_path):
    (tmp_path / "s.yaml").write_text(SAMPLED, encoding="utf-8")
    (tmp_path / "complaints.txt").write_text("a cough\na rash\n", encoding="utf-8")
    args = ["batch", str(tmp_path / "s.yaml"), "-n", "2", "-m", "scripted:auto", "--out", str(tmp_path / "run")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    (tmp_path / "complaints.txt").write_text("a broken leg\n", encoding="utf-8")
    output = invoke(*args[:3], "3", *args[4:])
    assert "other settings (inputs_sha256" in output


# --- a full disk, huge counts, failures that a rerun cannot fix ---------------------------------------------------
def test_a_full_disk_when_the_lock_is_written_is_a_clear_error(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Path, "open", full)
    with pytest.raises(ConfigError, match=r"Cannot write the lock file .*\.lock: No space left on device"):
        RunFolder(tmp_path / "r").acquire()


def test_a_full_disk_in_the_cli_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    real_open = Path.open

    def full(self, *args, **kwargs):
        if self.name == ".lock":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(self, *args, **kwargs)
    monkeypatch.setattr(Path, "open", full)
    output = invoke("batch", str(tmp_path / "s.yaml"), "-n", "1", "-m", "scripted:auto", "--out", str(tmp_path / "r"))
    assert "No space left on device" in output


@pytest.mark.timeout(20)
def test_a_batch_past_the_last_seed_is_refused_at_once(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    output = invoke("batch", str(tmp_path / "s.yaml"), "-n", "10000000000000", "-m", "scripted:auto",
                    "--out", str(tmp_path / "r"))
    assert "past the largest seed 4294967295" in output
    assert not (tmp_path / "r" / "dialogs").exists()


async def test_failures_name_their_cause_and_whether_a_rerun_helps(tmp_path):
    async def broken(index, seed):
        raise KeyError("replies")

    result = await arun_batch(broken, 2, tmp_path / "r", progress=False, attempts=3, backoff=0.01)
    assert result.failed == 2 and result.permanent == 2
    assert result.cause() == ("Cause: KeyError: 'replies' (2 of 2). Rerunning will fail the same way: fix that "
                              "first, then rerun the same command.")
    attempts = [json.loads(line)["attempts"] for line in (tmp_path / "r" / "failures.jsonl").read_text().splitlines()]
    assert attempts == [3, 3]  # recorded as given, but tried once: a KeyError is not transient


def test_a_malformed_base_url_fails_at_once_naming_it(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    output = invoke("batch", str(tmp_path / "s.yaml"), "-n", "2", "-m", "openai:m", "--base-url",
                    "http://127.0.0.1:notaport/v1", "--out", str(tmp_path / "r"))
    assert "bad port" in output
    assert not (tmp_path / "r" / "failures.jsonl").exists()


def test_a_star_task_file_without_replies_is_named_before_any_dialogue(tmp_path):
    import shutil

    star = tmp_path / "star"
    shutil.copytree(Path(__file__).parent / "fixtures" / "star_mini", star)
    task = next(star.glob("tasks/*/*.json"))
    data = json.loads(task.read_text(encoding="utf-8"))
    del data["replies"]
    task.write_text(json.dumps(data), encoding="utf-8")
    output = invoke("star", "generate", "--star-path", str(star), "--out", str(tmp_path / "o"), "-m", "scripted:auto")
    assert f"{task} is not a STAR task file: it has no replies" in output
    assert not (tmp_path / "o" / "failures.jsonl").exists()


@pytest.mark.parametrize("cache", ["damaged", "/proc/roleplay-cache"])
def test_a_cache_that_cannot_be_opened_stops_the_batch_naming_it(tmp_path, cache):
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    if cache == "damaged":
        cache = str(tmp_path / "c")
        Path(cache).mkdir()
        (Path(cache) / "cache.db").write_text("not sqlite at all", encoding="utf-8")
    output = invoke("batch", str(tmp_path / "s.yaml"), "-n", "2", "-m", "scripted:auto", "--cache", cache,
                    "--out", str(tmp_path / "r"))
    assert f"The response cache {cache} cannot be opened" in output and "pass another --cache folder" in output
    assert not (tmp_path / "r" / "failures.jsonl").exists()  # stopped at once, not tried per dialogue
