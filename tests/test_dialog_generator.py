"""The description-based writer: the schema holds it to the known speakers and a minimum turn count."""

from __future__ import annotations

import json

import pytest

from roleplay.dialog import Dialog, Turn
from roleplay.errors import ConfigError, StructuredOutputError
from roleplay.generators import DialogGenerator, dialog_schema
from roleplay.personas import Persona


def turns(*pairs: tuple[str, str]) -> str:
    return json.dumps({"dialog": [{"speaker": s, "text": t} for s, t in pairs]})


FOUR = turns(("User", "Hi."), ("System", "Hello, how can I help?"), ("User", "Book a table."), ("System", "Done."))


def test_schema_has_the_speaker_enum_and_min_items(scripted):
    model = scripted(replies=[FOUR])
    dialog = DialogGenerator(model, "a booking", speakers=["User", "System"]).generate(seed=1)
    schema = model.client.history[0].schema
    dialog_items = schema["properties"]["dialog"]
    assert dialog_items["minItems"] == 4
    assert dialog_items["items"]["properties"]["speaker"]["enum"] == ["User", "System"]
    assert dialog.speakers == ["User", "System"] and len(dialog) == 4
    assert "The speakers are exactly: User, System." in model.client.history[0].system


def test_speakers_come_from_personas_and_describe_them(scripted):
    model = scripted(replies=[turns(("Dr. Garcia", "Hello."), ("Ana", "Hi."))])
    gen = DialogGenerator(model, "a visit", personas=[Persona(name="Dr. Garcia", role="doctor"), Persona(name="Ana")],
                          min_turns=2)
    gen.generate(seed=1)
    request = model.client.history[0]
    assert request.schema["properties"]["dialog"]["items"]["properties"]["speaker"]["enum"] == ["Dr. Garcia", "Ana"]
    assert "Your role: doctor" in request.system


def test_a_one_turn_dialogue_or_an_invented_speaker_is_rejected_and_retried(scripted):
    model = scripted(replies=[turns(("Alice", "Hi Bob.")), turns(("User", "Hi."), ("Alice", "Hello."),
                                                                 ("User", "Bye."), ("System", "Bye.")), FOUR])
    dialog = DialogGenerator(model, "x", speakers=["User", "System"]).generate(seed=1)
    assert dialog.speakers == ["User", "System"]
    assert "does not match the schema" in model.client.history[1].last
    assert "'Alice' is not one of" in model.client.history[2].last
    with pytest.raises(StructuredOutputError):
        DialogGenerator(scripted(replies=[turns(("User", "Hi."))] * 3), "x").generate(seed=1)


def test_a_json_schema_dict_is_tightened_too():
    star_like = {"type": "object", "properties": {"dialog": {"type": "array", "minItems": 2, "items": {
        "type": "object", "properties": {"speaker": {"type": "string", "enum": ["User", "System"]},
                                         "text": {"type": "string"}, "action": {"type": "string"}}}}}}
    tightened = dialog_schema(star_like, ["User", "System"], 4)
    assert tightened["properties"]["dialog"]["minItems"] == 4 and star_like["properties"]["dialog"]["minItems"] == 2
    assert dialog_schema(star_like, (), 1)["properties"]["dialog"]["minItems"] == 2


def test_examples_and_thoughts(scripted):
    example = Dialog(turns=[Turn("User", "Is it raining?"), Turn("System", "No, it is sunny.")])
    model = scripted(replies=[turns(("User", "<think>greet first</think>Hi."), ("System", "Hello."),
                                    ("User", "Weather?"), ("System", "Sunny."))])
    dialog = DialogGenerator(model, "x", speakers=["User", "System"], example_dialogs=[example]).generate(seed=1)
    assert "User: Is it raining?\nSystem: No, it is sunny." in model.client.history[0].system
    assert dialog.turns[0].text == "Hi." and dialog.turns[0].metadata["thought"] == "greet first"


def test_bad_arguments_are_config_errors(scripted):
    with pytest.raises(ConfigError, match="min_turns"):
        DialogGenerator(scripted(replies=[FOUR]), min_turns=0)
    with pytest.raises(ConfigError, match="name or role"):
        DialogGenerator(scripted(replies=[FOUR]), personas=[Persona()])
