"""Action-labelled exports: the policy action (and legal set) per message, and next-action prediction rows."""

import json

import pytest
from click.testing import CliRunner
from scripted_runs import doctor_intake_dialog

from roleplay.cli import cli
from roleplay.dialog import Dialog, Event, Turn
from roleplay.errors import ConfigError
from roleplay.runs.export import action_rows, export
from roleplay.runs.folder import RunFolder


@pytest.fixture
def run(tmp_path, monkeypatch):
    """A run folder of two scripted doctor-intake dialogues."""
    folder = RunFolder(tmp_path / "run")
    for i in range(2):
        folder.save(i, doctor_intake_dialog(monkeypatch, seed=2 + i).model_copy(update={"id": i}))
    return tmp_path / "run"


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def system_turns(run):
    return [t for t in RunFolder(run).load_dialogs()[0].turns if t.action]


def test_openai_messages_carry_the_action_and_legal_set_and_load_with_datasets(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    assert export(run, "openai", tmp_path / "o.jsonl", {"Doctor": "assistant", "Patient": "user"},
                  labels=True, legal=True) == 2
    messages = lines(tmp_path / "o.jsonl")[0]["messages"]
    doctor = [m for m in messages if m["role"] == "assistant"]
    assert [m["action"] for m in doctor] == [t.action for t in system_turns(run)]
    assert doctor[0]["action"] == "greet" and "greet" in doctor[0]["legal_actions"]
    assert all(m["action"] is None and m["legal_actions"] is None for m in messages if m["role"] == "user")
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "o.jsonl"), split="train")
    assert loaded[0]["messages"][1]["action"] == "greet" and len(loaded) == 2  # [0]: the system message


def test_sharegpt_entries_carry_the_action_and_load_with_datasets(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    export(run, "sharegpt", tmp_path / "s.jsonl", labels=True)
    conversation = lines(tmp_path / "s.jsonl")[0]["conversations"]
    assert [c["action"] for c in conversation if c["action"]] == [t.action for t in system_turns(run)]
    assert "legal_actions" not in conversation[0] and conversation[0]["from"] == "gpt"  # the policy agent
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "s.jsonl"), split="train")
    assert [c["action"] for c in loaded[0]["conversations"]] == [c["action"] for c in conversation]


def test_hf_dataset_messages_carry_the_action(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    export(run, "hf", tmp_path / "hf", labels=True, legal=True)
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    actions = [m["action"] for m in loaded[0]["messages"] if m["action"]]
    assert actions == [t.action for t in system_turns(run)]
    assert all(m["legal_actions"] for m in loaded[0]["messages"] if m["action"])


def test_next_action_rows_pair_the_history_with_the_action(run, tmp_path):
    count = export(run, "next_action", tmp_path / "a.jsonl", {"Doctor": "assistant", "Patient": "user"})
    rows = lines(tmp_path / "a.jsonl")
    dialog = RunFolder(run).load_dialogs()[0]
    first = [r for r in rows if r["id"] == "0"]
    assert count == len(rows) and [r["action"] for r in first] == [t.action for t in dialog.turns if t.action]
    assert first[0]["messages"] == [] and first[0]["legal_actions"][0] == "greet"
    later = first[2]
    assert later["messages"] == [{"role": "assistant" if t.speaker == "Doctor" else "user", "content": t.text}
                                 for t in dialog.turns[:later["turn"]]]
    assert later["task"] == "doctor_intake" and later["legal"] is True


def test_next_action_rows_load_with_datasets(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    count = export(run, "next_action", tmp_path / "a.jsonl", {"Doctor": "assistant", "Patient": "user"})
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "a.jsonl"), split="train")
    assert len(loaded) == count and loaded[0]["action"] == "greet" and loaded[0]["messages"] == []
    assert loaded[2]["messages"][0]["role"] == "assistant" and "greet" in loaded[0]["legal_actions"]


def test_next_action_rows_include_tool_queries_in_order():
    dialog = Dialog(id=5, turns=[Turn("System", "Hi.", action="hello"), Turn("User", "A lamp."),
                                 Turn("System", "Found one.", action="inform")],
                    events=[Event(type="query", turn=2, data={"task": "shop", "action": "search", "legal": True})])
    rows = action_rows(dialog)
    assert [(r["turn"], r["action"]) for r in rows] == [(0, "hello"), (2, "search"), (2, "inform")]
    assert rows[1]["legal_actions"] is None and len(rows[1]["messages"]) == 2


def test_cli_export_with_labels(run, tmp_path):
    result = CliRunner().invoke(cli, ["export", str(run), "--format", "openai", "--out", str(tmp_path / "x.jsonl"),
                                      "--labels", "--legal"])
    assert result.exit_code == 0, result.output
    assert "with action labels" in result.output and lines(tmp_path / "x.jsonl")[0]["messages"][1]["action"]


@pytest.mark.parametrize(("fmt", "labels", "legal", "message"), [
    ("jsonl", True, False, "keeps every turn's action already"),
    ("next_action", True, False, "rows are action labels already"),
    ("openai", False, True, "add --labels too"),
])
def test_bad_label_options(run, tmp_path, fmt, labels, legal, message):
    with pytest.raises(ConfigError, match=message):
        export(run, fmt, tmp_path / "x.jsonl", labels=labels, legal=legal)
    assert not (tmp_path / "x.jsonl").exists()


def test_labels_of_dialogues_without_actions_is_an_error(tmp_path):
    Dialog(id=1, turns=[Turn("A", "Hi."), Turn("B", "Hello.")]).to_file(tmp_path / "d" / "1.json")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "d"), "--format", "next_action",
                                      "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1 and "has a policy action" in result.output and not (tmp_path / "x.jsonl").exists()
