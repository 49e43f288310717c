"""DialogGenerator: one model writes the whole dialogue as schema-constrained JSON."""

import json

import pytest
from pydantic import BaseModel

from roleplay import Dialog
from roleplay.errors import ConfigError, StructuredOutputError
from roleplay.generators import DialogGenerator

GOOD = json.dumps({"dialog": [{"speaker": "Doctor", "text": "Hi."}, {"speaker": "Patient", "text": "Hello."}]})


def test_generate_returns_a_dialog_with_seed_model_and_scenario(scripted):
    model = scripted(replies=[GOOD])
    gen = DialogGenerator(model, dialogue_details="a check-up", scenario={"place": "clinic"}, min_turns=2)
    dialog = gen.generate(seed=11, id="d1")
    assert isinstance(dialog, Dialog)
    assert (dialog.id, dialog.seed, dialog.model, dialog.scenario) == ("d1", 11, "scripted", {"place": "clinic"})
    assert str(dialog) == "Doctor: Hi.\nPatient: Hello."
    request = model.client.history[0]
    assert request.schema["properties"]["dialog"]["type"] == "array"
    assert "a check-up" in request.last


def test_set_changes_details_and_scenario(scripted):
    model = scripted(replies=[GOOD, GOOD])
    gen = DialogGenerator(model, dialogue_details="first", min_turns=2)
    gen.set("second topic", scenario="s2")
    dialog = gen.generate(seed=1)
    assert "second topic" in model.client.history[0].last and dialog.scenario == "s2"


def test_invalid_json_is_retried_with_feedback(scripted):
    model = scripted(replies=['{"dialog": [', GOOD])
    dialog = DialogGenerator(model, "x", min_turns=2).generate(seed=1)
    assert len(dialog) == 2
    retry = model.client.history[1]
    assert retry.messages[-2] == ("assistant", "assistant", '{"dialog": [')
    assert "not valid JSON" in retry.last


def test_invalid_json_every_time_is_a_clear_error(scripted):
    with pytest.raises(StructuredOutputError, match="invalid structured output 3 times.*Last output: '\\[1, 2\\]'"):
        DialogGenerator(scripted(replies=["nope", "{}", "[1, 2]"]), "x").generate(seed=1)


class Summary(BaseModel):
    title: str
    mood: str


def test_custom_pydantic_format_without_turns_returns_the_object(scripted):
    model = scripted(replies=['{"title": "T", "mood": "calm"}'])
    result = DialogGenerator(model, "x", output_format=Summary).generate()
    assert result == Summary(title="T", mood="calm")


def test_json_schema_dict_format(scripted):
    schema = {"type": "object", "required": ["turns"], "properties": {"turns": {"type": "array", "items": {
        "type": "object", "required": ["role", "content"],
        "properties": {"role": {"type": "string"}, "content": {"type": "string"}}}}}}
    model = scripted(replies=['{"turns": [{"role": "A"}]}', '{"turns": [{"role": "A", "content": "yo"}]}'])
    dialog = DialogGenerator(model, "x", output_format=schema, min_turns=1).generate(seed=2)
    assert [(t.speaker, t.text) for t in dialog] == [("A", "yo")]
    assert "does not match the schema" in model.client.history[1].last


def test_bad_output_format_is_a_config_error(scripted):
    with pytest.raises(ConfigError, match="not a valid JSON schema"):
        DialogGenerator(scripted(replies=[GOOD]), "x", output_format={"type": 12}).generate()
    with pytest.raises(ConfigError, match="pydantic model class or a JSON schema dict"):
        DialogGenerator(scripted(replies=[GOOD]), "x", output_format=str).generate()
