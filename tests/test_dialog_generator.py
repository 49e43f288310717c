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


def bounded_model(replies, max_tokens):
    from roleplay.backends import Model
    from roleplay.backends.options import BackendOptions
    from roleplay.backends.scripted import ScriptedClient

    return Model(ScriptedClient(replies=replies), name="scripted", backend="scripted",
                 schema_args=lambda schema: {"json_schema": schema}, options=BackendOptions(max_tokens=max_tokens))


@pytest.mark.parametrize("max_tokens", [200, 1024, 4096])
def test_the_schema_is_bounded_so_a_valid_answer_fits_the_token_budget(max_tokens):
    from roleplay.generators import DIALOG_TOKENS, TURN_TOKENS, GeneratedDialog, turn_bounds
    from roleplay.structured import tokens_for

    turns_schema = dialog_schema(GeneratedDialog, ["A", "B"], 4, max_tokens)["properties"]["dialog"]
    most, longest = turns_schema["maxItems"], turns_schema["items"]["properties"]["text"]["maxLength"]
    assert most >= 4 and 40 <= longest <= 300 and (most, longest) == turn_bounds(max_tokens, 4)
    assert DIALOG_TOKENS + most * (TURN_TOKENS + tokens_for(longest)) <= max_tokens


def test_a_budget_too_small_for_the_turns_is_a_config_error_naming_the_fix():
    with pytest.raises(ConfigError, match="max_tokens=100 cannot hold 8 turns.*raise max_tokens or lower the turn"):
        DialogGenerator("scripted:auto", "x", max_tokens=100, min_turns=8)


def test_a_dialogue_cut_at_the_token_limit_keeps_its_complete_turns():
    cut = FOUR[:-2] + ', {"speaker": "User", "text": "And one more thi'
    model = bounded_model([cut], max_tokens=len(cut.split()))
    dialog = DialogGenerator(model, "x", speakers=["User", "System"]).generate(seed=1)
    assert [t.text for t in dialog.turns] == ["Hi.", "Hello, how can I help?", "Book a table.", "Done."]
    assert dialog.metadata["salvaged"] == {"reason": "token_limit", "turns": 4} and len(model.client.history) == 1


def test_answers_cut_every_time_fail_saying_the_token_limit_cut_them():
    cut = '{"dialog": [{"speaker": "User", "text": "Hi."}, {"speaker": "System", "text": "Hel'
    model = bounded_model([cut] * 3, max_tokens=len(cut.split()))
    with pytest.raises(StructuredOutputError, match="cut at the token limit; raise max_tokens or lower the turn count"):
        DialogGenerator(model, "x", speakers=["User", "System"], min_turns=2, max_tokens=200).generate(seed=1)
    with pytest.raises(StructuredOutputError) as error:  # invalid, but not for length: no such advice
        DialogGenerator(bounded_model(["nope"] * 3, 200), "x", min_turns=2).generate(seed=1)
    assert "token limit" not in str(error.value)


def test_a_turn_that_stops_mid_sentence_is_trimmed_with_a_record(scripted):
    from roleplay.guards import Trim, trim_of

    model = scripted(replies=[turns(("User", "Hi."), ("System", "Hello. How can I"), ("User", "Book."),
                                    ("System", "Done."))])
    dialog = DialogGenerator(model, "x", speakers=["User", "System"]).generate(seed=1)
    assert dialog.turns[1].text == "Hello."
    assert trim_of(dialog.turns[1].metadata) == Trim(reason="unfinished", said="Hello. How can I")


def test_a_star_scenario_is_written_by_user_and_system(scripted):
    import roleplay.datasets  # noqa: F401  (the tutorial imports STAR first; it names a STAR scenario's speakers)

    model = scripted(replies=[FOUR])
    scenario = {"WizardCapabilities": [{"Task": "bank_balance"}], "Happy": True}
    dialog = DialogGenerator(model, dialogue_details="a description", scenario=scenario).generate(seed=1, id=1)
    request = model.client.history[0]
    assert request.schema["properties"]["dialog"]["items"]["properties"]["speaker"]["enum"] == ["User", "System"]
    assert "The speakers are exactly: User, System." in request.system and dialog.speakers == ["User", "System"]
    assert "enum" not in DialogGenerator(model, "x", scenario={"place": "a bank"}).output_format[
        "properties"]["dialog"]["items"]["properties"]["speaker"]


def test_a_turn_that_reaches_its_length_bound_is_trimmed_as_char_limit(scripted):
    from roleplay.defaults import DIALOG_MAX_TOKENS
    from roleplay.generators import turn_bounds
    from roleplay.guards import trim_of

    bound = turn_bounds(DIALOG_MAX_TOKENS, 4)[1]
    endless = ("I need a table for two. " + "and then " * 60)[:bound]  # what the grammar lets through
    model = scripted(replies=[turns(("User", endless), ("System", "Sure."), ("User", "Thanks."), ("System", "Bye."))])
    dialog = DialogGenerator(model, "x", speakers=["User", "System"]).generate(seed=1)
    assert dialog.turns[0].text == "I need a table for two."
    assert trim_of(dialog.turns[0].metadata).reason == "char_limit"
