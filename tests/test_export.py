"""Exports ready for training: who is the assistant, the persona as a system message, metadata columns,
one id type, and leaving out failed or flagged dialogues; rows checked against OpenAI's chat format."""

import json

import pytest
from click.testing import CliRunner
from scripted_runs import doctor_intake_dialog

from roleplay.cli import cli
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError
from roleplay.runs._roles import assistant_speaker, speaker_roles
from roleplay.runs.export import export, flag_reason, row
from roleplay.runs.folder import RunFolder

DOCTOR = {"class": "Persona", "name": "Dr. Garcia", "role": "family doctor", "rules": "Ask one thing at a time."}
PATIENT = {"class": "Patient", "name": "Yusuf", "age": 71, "gender": "man", "complaint": "a cough"}

_MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}


def openai_format_errors(example: dict) -> list[str]:
    """The checks of OpenAI's fine-tuning data validation (cookbook "Data preparation and analysis for chat
    model fine-tuning"), as a list of problems: none for a valid training example."""
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["missing_messages_list"]
    errors = []
    for index, message in enumerate(messages):
        if set(message) - _MESSAGE_KEYS:
            errors.append(f"message {index}: unrecognized keys {sorted(set(message) - _MESSAGE_KEYS)}")
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            errors.append(f"message {index}: unrecognized role {message.get('role')!r}")
        if not isinstance(message.get("content"), str) or not message["content"]:
            errors.append(f"message {index}: missing or empty content")
        if "weight" in message and (message["role"] != "assistant" or message["weight"] not in (0, 1)):
            errors.append(f"message {index}: weight must be 0 or 1, on an assistant message")
    if not any(m.get("role") == "assistant" for m in messages):
        errors.append("example_missing_assistant_message")
    if any(m.get("role") == "system" for m in messages[1:]):
        errors.append("system message not first")
    return errors


def consultation(i: int, **changes) -> Dialog:
    """A doctor-patient dialogue with no policy: the Doctor opens, the sampled Patient answers."""
    dialog = Dialog(id=i, seed=10 + i, model="scripted", scenario={"name": "clinic_diverse", "description": "x"},
                    personas={"Doctor": DOCTOR, "Patient": {**PATIENT, "age": 70 + i}},
                    turns=[Turn("Doctor", "What brings you in?"), Turn("Patient", f"A cough, for {i} days."),
                           Turn("Doctor", "Rest and drink water.")], stop_reason=StopReason.END_SIGNAL)
    return dialog.model_copy(update=changes)


def save(folder, dialogs) -> None:
    run = RunFolder(folder)
    for dialog in dialogs:
        run.save(dialog.id, dialog)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def clinic(tmp_path):
    save(tmp_path / "run", [consultation(i) for i in range(3)])
    return tmp_path / "run"


def test_the_policy_agent_is_the_assistant_though_it_speaks_first(monkeypatch):
    dialog = doctor_intake_dialog(monkeypatch)
    assert dialog.speakers[0] == "Doctor" and assistant_speaker(dialog) == "Doctor"
    messages = row(dialog, "openai")["messages"]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("You are Dr. Garcia.")
    assert [m["role"] for m in messages[1:3]] == ["assistant", "user"]
    assert openai_format_errors(row(dialog, "openai")) == []


def test_without_a_policy_the_second_speaker_is_the_assistant():
    dialog = consultation(0)
    assert speaker_roles(dialog, {}) == {"Doctor": "user", "Patient": "assistant", None: "user"}
    assert assistant_speaker(Dialog(turns=[Turn("Narrator", "Once.")])) == "Narrator"
    assert assistant_speaker(Dialog()) is None


def test_naming_the_assistant_makes_every_other_speaker_the_user(monkeypatch):
    dialog = doctor_intake_dialog(monkeypatch)
    assert speaker_roles(dialog, {"Patient": "assistant"}) == {"Doctor": "user", "Patient": "assistant", None: "user"}
    system = row(dialog, "openai", {"Patient": "assistant"})["messages"][0]["content"]
    assert system.startswith("You are Ana.") and "Your role: patient" in system


def test_system_message_is_the_assistants_persona_and_optional():
    dialog = consultation(1)
    system = row(dialog, "openai")["messages"][0]
    assert system == {"role": "system", "content": "You are Yusuf.\nYour name: Yusuf\nYour age: 71\n"
                                                   "Your gender: man\nYour complaint: a cough"}
    assert [m["role"] for m in row(dialog, "openai", system=False)["messages"]] == ["user", "assistant", "user"]
    assert "system" not in [m["role"] for m in row(dialog, "hf")["messages"]]  # off by default but for openai
    assert row(dialog, "sharegpt", system=True)["conversations"][0] == {"from": "system", "value": system["content"]}
    unknown = dialog.model_copy(update={"personas": {}})
    assert [m["role"] for m in row(unknown, "openai")["messages"]] == ["user", "assistant", "user"]


def test_openai_rows_pass_the_chat_format_check_and_load_back_with_persona_columns(clinic, tmp_path):
    datasets = pytest.importorskip("datasets")
    assert export(clinic, "openai", tmp_path / "o.jsonl") == 3
    examples = lines(tmp_path / "o.jsonl")
    assert [openai_format_errors(e) for e in examples] == [[], [], []]
    assert openai_format_errors({"messages": [{"role": "user", "content": "hi"}]}) == [
        "example_missing_assistant_message"]  # the check can fail
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "o.jsonl"), split="train")
    assert {"messages", "id", "seed", "model", "scenario", "personas"} <= set(loaded.column_names)
    assert [r["personas"]["Patient"]["age"] for r in loaded] == [70, 71, 72]
    assert loaded[0]["scenario"] == "clinic_diverse" and loaded[0]["model"] == "scripted"


def test_hf_dataset_keeps_sampled_personas_scenario_and_model(clinic, tmp_path):
    datasets = pytest.importorskip("datasets")
    export(clinic, "hf", tmp_path / "hf")
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert loaded[2]["personas"]["Patient"] == {**PATIENT, "age": 72}
    assert loaded[2]["personas"]["Doctor"]["name"] == "Dr. Garcia"
    assert (loaded[0]["scenario"], loaded[0]["model"], loaded[0]["seed"]) == ("clinic_diverse", "scripted", 10)


def test_id_is_text_in_every_format(tmp_path, monkeypatch):
    save(tmp_path / "run", [doctor_intake_dialog(monkeypatch).model_copy(update={"id": 7})])
    ids = []
    for fmt in ("openai", "sharegpt", "next_action"):
        export(tmp_path / "run", fmt, tmp_path / f"{fmt}.jsonl")
        ids += {r["id"] for r in lines(tmp_path / f"{fmt}.jsonl")}
    assert ids == ["7", "7", "7"]
    assert row(Dialog(turns=[Turn("A", "Hi.")]), "openai")["id"] is None


def test_a_per_speaker_model_is_one_text_column():
    dialog = consultation(0, model={"Patient": "embedded", "Doctor": "openai:m"})
    assert json.loads(row(dialog, "openai")["model"]) == {"Doctor": "openai:m", "Patient": "embedded"}


def flagged_dialogs() -> list[Dialog]:
    """A good dialogue and one of each kind that ``drop_flagged`` leaves out."""
    guarded, illegal = consultation(1), consultation(2)
    guarded.turns[1].metadata["guard"] = {"resamples": 3, "unresolved": ["copy"]}
    illegal.turns[0].action, illegal.turns[0].metadata["legal"] = "prescribe", False
    failed = consultation(3, stop_reason=StopReason.BACKEND_ERROR, metadata={"error": "HTTP 500"})
    resolved = consultation(5)
    resolved.turns[1].metadata["guard"] = {"resamples": 1, "unresolved": []}
    return [consultation(0), guarded, illegal, failed, consultation(4, turns=[]), resolved]


def test_flag_reasons():
    assert [flag_reason(d) for d in flagged_dialogs()] == [
        None, "turn 1 flagged by the guards (copy)", "turn 0 took the illegal action 'prescribe'",
        "failed: HTTP 500", "failed: no turns", None]


def test_drop_flagged_leaves_out_failed_and_flagged_dialogues_and_says_which(tmp_path):
    save(tmp_path / "run", flagged_dialogs())
    left_out = []
    count = export(tmp_path / "run", "openai", tmp_path / "o.jsonl", drop_flagged=True,
                   on_left_out=lambda dialog, why: left_out.append((dialog.id, why)))
    assert count == 2 and [r["id"] for r in lines(tmp_path / "o.jsonl")] == ["0", "5"]
    assert [i for i, _ in left_out] == [1, 2, 3, 4]
    assert export(tmp_path / "run", "openai", tmp_path / "all.jsonl") == 6  # kept without the filter


def test_cli_drop_flagged_lists_what_it_left_out(tmp_path):
    save(tmp_path / "run", flagged_dialogs())
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "run"), "--format", "sharegpt", "--out",
                                      str(tmp_path / "s.jsonl"), "--drop-flagged", "--system"])
    assert result.exit_code == 0, result.output
    assert "Left out dialogue 3: failed: HTTP 500" in result.output
    assert "Exported 2 dialogues" in result.output and "left out 4 flagged or failed dialogue(s)" in result.output
    assert lines(tmp_path / "s.jsonl")[0]["conversations"][0]["from"] == "system"


def test_cli_no_system_and_roles(clinic, tmp_path):
    result = CliRunner().invoke(cli, ["export", str(clinic), "--format", "openai", "--out", str(tmp_path / "o.jsonl"),
                                      "--no-system", "--roles", "Doctor=assistant"])
    assert result.exit_code == 0, result.output
    assert [m["role"] for m in lines(tmp_path / "o.jsonl")[0]["messages"]] == ["assistant", "user", "assistant"]


@pytest.mark.parametrize("fmt", ["jsonl", "next_action"])
def test_system_message_asked_of_a_format_without_messages(clinic, tmp_path, fmt):
    with pytest.raises(ConfigError, match="--system adds a system message to the chat formats"):
        export(clinic, fmt, tmp_path / "x.jsonl", system=True)
    assert not (tmp_path / "x.jsonl").exists()
