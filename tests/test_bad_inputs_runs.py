"""Bad inputs to run folders, exports and STAR: a clear roleplay error naming the problem, never a traceback."""

import asyncio
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay._atomic import atomic_write_text, check_writable
from roleplay.cli import cli
from roleplay.datasets.star._loader import STAR, StarDataset, StarDataWarning
from roleplay.datasets.star.user import behaviour_rates
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError, DatasetError, DialogFileError
from roleplay.runs.batch import arun_batch
from roleplay.runs.export import export
from roleplay.runs.folder import RunFolder, checked_id, safe_filename

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


async def ok(index, seed):
    return Dialog(seed=seed, turns=[Turn("A", "hi")], stop_reason=StopReason.MAX_TURNS)


def no_traceback(result) -> str:
    assert "Traceback" not in result.output
    return result.output


# --- path traversal ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../tasks/x", "../../etc/passwd", "/etc/passwd", "a/b", ".hidden", "..", "", -1,
                                 True, 1.5, None, "x" * 200])
def test_ids_that_would_leave_their_folder_are_refused(bad):
    with pytest.raises(ConfigError):
        checked_id(bad)


def test_good_ids_pass():
    assert [checked_id(v) for v in (0, 81, "81", "intake_3", "a.b-c")] == [0, 81, "81", "intake_3", "a.b-c"]


@pytest.mark.parametrize("name, expected", [("../../x", "x"), ("/tmp/evil", "tmp_evil"), ("..", "dialog"),
                                            ("doctor patient", "doctor_patient"), ("ok-name_1", "ok-name_1"),
                                            ("a/../../b", "a_.._.._b"), ("", "dialog")])
def test_safe_filename_never_leaves_the_folder(tmp_path, name, expected):
    assert safe_filename(name) == expected
    assert (tmp_path / safe_filename(name)).resolve().parent == tmp_path.resolve()


def test_star_ids_cannot_read_outside_dialogues():
    star = StarDataset(FIXTURE)
    for bad in ("../tasks/mini_book/mini_book", "../../x", "/etc/passwd"):
        with pytest.raises(ConfigError, match="cannot be a file name"):
            star.get_dialog(bad)
    with pytest.raises(DatasetError, match="Unknown STAR task"):
        star.get_task("../mini_book/mini_book")
    with pytest.raises(ConfigError):
        star.get_db_schema("../apis/mini_book")
    STAR.set_path(FIXTURE)
    with pytest.raises(ConfigError, match="cannot be a file name"):
        STAR.get_dialog("../tasks/mini_book/mini_book")
    STAR.clear()


async def test_batch_ids_cannot_write_outside_the_folder(tmp_path):
    with pytest.raises(ConfigError, match="cannot be a file name"):
        await arun_batch(ok, ["../../escaped"], tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="ids repeat"):
        await arun_batch(ok, [1, 1], tmp_path / "b", progress=False)
    assert not list(tmp_path.rglob("escaped*"))


# --- decode errors and damaged files ------------------------------------------------------------------------
def test_binary_dialogue_file_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.json").write_bytes(b"\xff\xfe\x00binary\x89PNG")
    with pytest.raises(DialogFileError, match=r"1.json: not a UTF-8 text file"):
        RunFolder(tmp_path / "d").load_dialogs()
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "d"), "--format", "jsonl", "--out", "x.jsonl"])
    assert result.exit_code == 1 and "not a UTF-8 text file" in no_traceback(result)


def test_damaged_batch_json_is_a_clear_error(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "batch.json").write_bytes(b"\x00\xff{")
    with pytest.raises(ConfigError, match="batch.json is damaged"):
        asyncio.run(arun_batch(ok, 1, tmp_path / "b", progress=False))


def broken_star(tmp_path: Path) -> Path:
    root = tmp_path / "star"
    shutil.copytree(FIXTURE, root)
    (root / "dialogues" / "7.json").write_text("[1, 2, 3]")
    (root / "dialogues" / "8.json").write_text(json.dumps({"DialogueID": 8, "Events": []}))
    (root / "dialogues" / "9.json").write_bytes(b"\xff\xfe not utf-8")
    return root


def test_broken_star_dialogues_are_clear_errors_and_skipped_in_bulk(tmp_path):
    star = StarDataset(broken_star(tmp_path))
    with pytest.raises(DatasetError, match=r"7.json is not a STAR dialogue: its JSON is a list"):
        star.get_dialog(7)
    with pytest.raises(DatasetError, match=r"8.json is not a STAR dialogue: no Scenario"):
        star.get_dialog_scenario(8)
    with pytest.raises(DatasetError, match=r"9.json is not UTF-8 text"):
        star.get_dialog(9)
    with pytest.warns(StarDataWarning, match="Skipping STAR dialogue 7"):
        assert [d.id for d in star.get_dialogs()] == [1, 2, 3]
    with pytest.warns(StarDataWarning):
        assert "hello" in star.get_task_graph("mini_book")  # mining reads every dialogue: the others still count
    with pytest.warns(StarDataWarning):
        assert star.find_ids(happy=True, multitask=False) == [1]


def test_star_dialogue_without_its_id_is_a_clear_error_and_skipped_by_folds(tmp_path):
    # It used to load with id None, and everything splitting dialogues into folds by id raised a TypeError.
    root = tmp_path / "star"
    shutil.copytree(FIXTURE, root)
    raw = json.loads((root / "dialogues" / "2.json").read_text())
    del raw["DialogueID"]
    (root / "dialogues" / "2.json").write_text(json.dumps(raw))
    star = StarDataset(root)
    with pytest.raises(DatasetError, match=r"2.json is not a STAR dialogue: no DialogueID"):
        star.get_dialog(2)
    with pytest.warns(StarDataWarning, match="Skipping STAR dialogue 2"):
        assert behaviour_rates(star, held_out=0)
    with pytest.warns(StarDataWarning, match="Skipping STAR dialogue 2"):
        assert "hello" in star.mine_graphs(keep=lambda dialog_id: dialog_id != 3)["mini_book"]


def test_cli_star_generate_on_a_damaged_copy_skips_the_broken_dialogues(tmp_path):
    root = broken_star(tmp_path)
    result = CliRunner().invoke(cli, ["star", "generate", "--star-path", str(root), "--out", str(tmp_path / "o"),
                                      "-m", "scripted:auto", "--max-turns", "4"])
    assert result.exit_code == 0, result.output
    assert "2 done" in no_traceback(result)
    result = CliRunner().invoke(cli, ["star", "generate", "--star-path", str(root), "--out", str(tmp_path / "o"),
                                      "-m", "scripted:auto", "--id", "7"])
    assert result.exit_code == 1 and "is not a STAR dialogue" in no_traceback(result)


# --- unwritable and wrong outputs ---------------------------------------------------------------------------
@pytest.fixture
def batch(tmp_path):
    asyncio.run(arun_batch(ok, 2, tmp_path / "b", progress=False))
    return tmp_path / "b"


def test_export_out_is_an_existing_folder(batch, tmp_path):
    (tmp_path / "folder").mkdir()
    result = CliRunner().invoke(cli, ["export", str(batch), "--format", "jsonl", "--out", str(tmp_path / "folder")])
    assert result.exit_code == 1 and "is a folder, but a file is needed" in no_traceback(result)


def test_export_out_under_a_file(batch, tmp_path):
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["export", str(batch), "--format", "jsonl", "--out", str(tmp_path / "file/x")])
    assert result.exit_code == 1 and "is a file, not a folder" in no_traceback(result)


def test_hf_export_out_is_a_file(batch, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, but a folder is needed"):
        export(batch, "hf", tmp_path / "file")


def test_batch_out_is_a_file(tmp_path):
    (tmp_path / "o").write_text("x")
    with pytest.raises(ConfigError, match="is a file, but a folder is needed"):
        asyncio.run(arun_batch(ok, 1, tmp_path / "o", progress=False))


@pytest.mark.skipif(AS_ROOT, reason="root writes anywhere")
def test_unwritable_outputs_are_found_before_any_work(batch, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = CliRunner().invoke(cli, ["export", str(batch), "--format", "jsonl", "--out", str(locked / "x")])
        assert result.exit_code == 1 and "no permission" in no_traceback(result)
        with pytest.raises(ConfigError, match="no permission"):
            asyncio.run(arun_batch(ok, 1, locked / "b", progress=False))
    finally:
        locked.chmod(stat.S_IRWXU)


def test_write_errors_become_config_errors(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ConfigError, match="Cannot write .*x.json: No space left on device"):
        atomic_write_text(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []  # no temp file left


def test_atomic_files_get_the_mode_a_plain_write_gives(tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    mode = stat.S_IMODE(atomic_write_text(tmp_path / "x.txt", "x").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) != 0o600


def test_check_writable_accepts_new_nested_paths(tmp_path):
    check_writable(tmp_path / "a" / "b" / "c.jsonl")
    check_writable(tmp_path / "new_folder", folder=True)


def test_evaluate_report_under_a_file(batch, tmp_path):
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["evaluate", str(batch), "--graph",
                                      str(Path(__file__).resolve().parent.parent / "scenarios" / "doctor_intake.dot"),
                                      "--out", str(tmp_path / "file" / "report")])
    assert result.exit_code == 1 and "is a file, not a folder" in no_traceback(result)
