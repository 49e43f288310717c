import json

import pytest

from roleplay import Dialog, StopReason, Turn
from roleplay.errors import DialogFileError


def sample() -> Dialog:
    return Dialog(
        id=7, model="embedded", seed=42, scenario={"topic": "headache"},
        turns=[Turn("Doctor", "Hello, what brings you here?"),
               Turn(speaker="Patient", text="A headache: three days now.", action="inform", metadata={"x": 1})],
        stop_reason=StopReason.MAX_TURNS,
    )


def test_turn_positional_and_keyword_forms_are_equal():
    assert Turn("A", "hi") == Turn(speaker="A", text="hi")
    assert str(Turn("A", "hi")) == "A: hi"


def test_str_and_len():
    dialog = sample()
    assert len(dialog) == 2
    assert str(dialog) == "Doctor: Hello, what brings you here?\nPatient: A headache: three days now."
    assert [t.speaker for t in dialog] == ["Doctor", "Patient"]
    assert dialog.speakers == ["Doctor", "Patient"]


def test_print_shows_header_markers_and_optional_scenario(capsys):
    sample().print()
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["Dialogue ID: 7", "Model: embedded", "Seed: 42"]
    assert "--- Dialogue Begins ---" in out and "--- Dialogue Ends ---" in out
    begin = out.index("--- Dialogue Begins ---")
    assert out[begin + 1] == "[Doctor] Hello, what brings you here?"
    assert not any("Scenario" in line for line in out)
    sample().print(scenario=True)
    assert '"topic": "headache"' in capsys.readouterr().out


def test_json_round_trip_keeps_everything(tmp_path):
    dialog = sample()
    path = dialog.to_file(tmp_path / "deep" / "folder" / "d.json")
    loaded = Dialog.from_file(path)
    assert loaded == dialog
    assert loaded.turns[1].action == "inform" and loaded.turns[1].metadata == {"x": 1}
    assert json.loads(path.read_text())["schema_version"] == 1
    assert Dialog.model_validate(dialog.model_dump()) == dialog


def test_txt_round_trip_keeps_turns_only(tmp_path):
    path = sample().to_file(tmp_path / "d.txt")
    assert path.read_text() == "Doctor: Hello, what brings you here?\nPatient: A headache: three days now.\n"
    loaded = Dialog.from_file(path)
    assert [(t.speaker, t.text) for t in loaded] == [(t.speaker, t.text) for t in sample()]
    assert loaded.seed is None and loaded.turns[1].action is None


def test_to_file_leaves_no_temp_files(tmp_path):
    sample().to_file(tmp_path / "d.json")
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]


def test_to_file_rejects_unknown_extension(tmp_path):
    with pytest.raises(DialogFileError, match=r"unknown extension '\.csv'.*Use \.json or \.txt"):
        sample().to_file(tmp_path / "d.csv")
    assert not list(tmp_path.iterdir())


def test_from_file_missing(tmp_path):
    with pytest.raises(DialogFileError, match="no such file"):
        Dialog.from_file(tmp_path / "nope.json")


def test_from_file_corrupt_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": [{"speaker": "A"}')
    with pytest.raises(DialogFileError, match="not a valid dialogue JSON"):
        Dialog.from_file(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"turns": [{"speaker": "A"}]}')
    with pytest.raises(DialogFileError, match="turns.0.text"):
        Dialog.from_file(wrong)


def test_from_file_corrupt_txt(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("A: fine\nno speaker here\n")
    with pytest.raises(DialogFileError, match="line 2 is not 'speaker: text'"):
        Dialog.from_file(bad)


def test_dict_of_a_dialog_gives_its_fields_while_iterating_gives_its_turns():
    dialog = Dialog(turns=[Turn("A", "Hello."), Turn("B", "Hi.")], seed=3, model="scripted:auto")
    fields = dict(dialog)
    assert set(fields) == set(Dialog.model_fields)
    assert fields["seed"] == 3 and fields["turns"] == dialog.turns
    assert [turn.text for turn in dialog] == ["Hello.", "Hi."]
    assert dialog[1].speaker == "B" and dialog["model"] == "scripted:auto"
    with pytest.raises(KeyError):
        dialog["no_such_field"]
