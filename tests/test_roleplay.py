"""The role-play engine end to end on scripted models: agents, orchestrator, stop conditions, generators."""

import asyncio
import gc
import sys

import pytest

from roleplay import StopReason
from roleplay.agents import clean_reply
from roleplay.backends import register_backend
from roleplay.backends.scripted import ScriptedRequest
from roleplay.conditions import MaxTurns, Predicate, Timeout
from roleplay.dialog import Dialog, Turn
from roleplay.errors import BackendError, BackendUnreachableError, ConfigError
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.personas import Persona
from roleplay.sentences import is_complete, sentences, words


def test_two_agents_alternate_and_each_has_its_own_prompt_and_memory(doctor, patient, scripted, echo_fn):
    model_a, model_b = scripted(fn=echo_fn), scripted(fn=echo_fn)
    gen = PersonaDialogGenerator(persona_a=doctor, persona_b=patient, dialogue_details="a consultation",
                                 agents=[AgentSpec(name="Doctor", persona=doctor, model=model_a),
                                         AgentSpec(name="Patient", persona=patient, model=model_b)],
                                 guards=Guards(enabled=False))  # "<name> says turn <n>" every turn is a loop
    dialog = gen.generate(seed=3, max_turns=5)
    assert [t.speaker for t in dialog] == ["Doctor", "Patient", "Doctor", "Patient", "Doctor"]
    # the doctor heard only the kickoff first; after that each agent hears the other's turn and one note
    assert [t.text for t in dialog] == ["Doctor says turn 1.", "Patient says turn 2.", "Doctor says turn 2.",
                                        "Patient says turn 3.", "Doctor says turn 3."]
    doc_calls, pat_calls = model_a.client.history, model_b.client.history
    assert len(doc_calls) == 3 and len(pat_calls) == 2
    assert doc_calls[0].system.startswith("You are Doctor.") and "Your role: family doctor" in doc_calls[0].system
    assert "in a conversation with Patient." in doc_calls[0].system and "a consultation" in doc_calls[0].system
    assert pat_calls[0].system.startswith("You are Patient.")
    assert "in a conversation with Doctor (family doctor)." in pat_calls[0].system
    # memory: the patient's second call contains its own first reply and both doctor turns, in order; its
    # first-turn note is forgotten, this turn's note (the subject) comes last
    assert [(r, t) for r, _, t in pat_calls[1].messages[1:]] == [
        ("user", "Doctor says turn 1."), ("assistant", "Patient says turn 2."), ("user", "Doctor says turn 2."),
        ("user", "Keep to the subject of this conversation: a consultation")]
    assert dialog.stop_reason is StopReason.MAX_TURNS and dialog.complete is False
    assert dialog.seed == 3 and dialog.model == "scripted"
    assert set(dialog.personas) == {"Doctor", "Patient"} and dialog.personas["Doctor"]["role"] == "family doctor"


def test_each_agent_opens_with_its_situation_then_hears_the_subject_before_each_turn(scripted):
    from roleplay.personas.clinic import Patient

    doctor = Persona(name="Dr. Garcia", role="family doctor", circumstances="A patient has come to your clinic.")
    patient = Patient(name="Ana", age=45, complaint="a headache for three days")
    models = {"Doctor": scripted(replies=["What brings you in?", "How long?"]),
              "Patient": scripted(replies=["My head hurts.", "Three days."])}
    gen = PersonaDialogGenerator(agents=[AgentSpec(name=n, persona=p, model=models[n]) for n, p in
                                         [("Doctor", doctor), ("Patient", patient)]],
                                 dialogue_details="Ana sees her doctor about a headache.")
    gen.generate(seed=1, max_turns=4)
    notes = {name: [[t for _, source, t in call.messages if source == "director"] for call in m.client.history]
             for name, m in models.items()}
    assert notes["Doctor"][0] == ["A patient has come to your clinic.\nThe conversation begins now. You speak first: "
                                  "say your opening line to Patient."]
    assert notes["Patient"][0] == ["a headache for three days\nSay it in your own words, as Patient, now."]  # complaint
    subject = ["Keep to the subject of this conversation: Ana sees her doctor about a headache."]
    assert notes["Doctor"][1] == notes["Patient"][1] == subject  # only this turn's note: the first was forgotten
    plain = scripted(replies=["Hi.", "Hello."])
    PersonaDialogGenerator(plain, doctor, Persona(name="Bo", role="patient")).generate(seed=1, max_turns=2)
    assert [source for _, source, _ in plain.client.history[1].messages] == [None, "Dr_Garcia"]  # no situation: no note


def test_end_marker_stops_and_is_stripped(doctor, patient, scripted):
    replies = ["Hello.", "I have a headache.", "Rest and drink water. Goodbye! [END]", "never said"]
    gen = PersonaDialogGenerator(scripted(replies=replies), doctor, patient)
    dialog = gen.generate(seed=1, max_turns=10)
    assert dialog.stop_reason is StopReason.END_SIGNAL and dialog.complete is True
    assert len(dialog) == 3
    assert dialog.turns[-1].text == "Rest and drink water. Goodbye!"
    assert all("[END]" not in t.text for t in dialog)
    assert dialog.turns[-1].metadata["end"] is True


def test_predicate_stop(doctor, patient, scripted):
    gen = PersonaDialogGenerator(scripted(replies=["Hi.", "Hello.", "OK, bye then.", "x"]), doctor, patient,
                                 stop=Predicate(lambda d: "bye" in d.turns[-1].text))
    dialog = gen.generate(seed=1)
    assert dialog.stop_reason is StopReason.PREDICATE and len(dialog) == 3


def test_timeout_cancels_a_slow_turn(doctor, patient, scripted):
    from roleplay.backends._base import Model
    from roleplay.backends.scripted import ScriptedClient

    class Slow(ScriptedClient):
        async def create(self, messages, **kwargs):
            if len(self.history) >= 1:
                await asyncio.sleep(30)
            return await super().create(messages, **kwargs)

    model = Model(Slow(replies=["Quick.", "Never."]), name="slow", backend="scripted")
    gen = PersonaDialogGenerator(model, doctor, patient, stop=Timeout(0.5))
    dialog = gen.generate(seed=1)
    assert dialog.stop_reason is StopReason.TIMEOUT
    assert [t.text for t in dialog] == ["Quick."]
    assert dialog.metadata["seconds"] < 5


def test_three_parties_round_robin_with_speaker_prefixes(scripted):
    names = ["Mom", "Dad", "Kid"]
    models = {n: scripted(fn=lambda r, n=n: f"{n} talks.") for n in names}
    agents = [AgentSpec(name=n, persona=Persona(name=n, role="family"), model=models[n]) for n in names]
    dialog = PersonaDialogGenerator(agents=agents, first_speaker="Dad").generate(seed=2, max_turns=7)
    assert [t.speaker for t in dialog] == ["Dad", "Kid", "Mom", "Dad", "Kid", "Mom", "Dad"]
    # with three parties each agent hears who said what
    mom_first = models["Mom"].client.history[0]
    assert [t for _, _, t in mom_first.messages[1:]] == ["[Dad] Dad talks.", "[Kid] Kid talks."]
    assert "Dad" in mom_first.system and "Kid" in mom_first.system
    assert dialog.model == "scripted"


def test_custom_turn_policy(scripted):
    agents = [AgentSpec(name=n, persona=Persona(name=n)) for n in ["Host", "Guest1", "Guest2"]]

    def host_between(dialog, names):
        n = len(dialog.turns)
        return "Host" if n % 2 == 0 else ("Guest1" if n % 4 == 1 else "Guest2")

    dialog = PersonaDialogGenerator(scripted(fn=lambda r: "ok."), agents=agents,
                                    turn_policy=host_between).generate(seed=0, max_turns=6)
    assert [t.speaker for t in dialog] == ["Host", "Guest1", "Host", "Guest2", "Host", "Guest1"]


def test_turn_policy_naming_a_stranger_is_a_clear_error(scripted, doctor, patient):
    gen = PersonaDialogGenerator(scripted(fn=lambda r: "ok."), doctor, patient, turn_policy=lambda d, n: "Nurse")
    with pytest.raises(ConfigError, match="chose 'Nurse', which is not one of: Doctor, Patient"):
        gen.generate(seed=0)


def test_seed_reaches_the_backend_and_is_recorded(doctor, patient, monkeypatch):
    seen = []

    def script(request: ScriptedRequest) -> str:
        seen.append(request.seed)
        return f"seeded {request.seed}."

    from roleplay.backends.scripted import scripted_model
    register_backend("seedcheck",
                        lambda model, options: scripted_model(fn=script, seed=options.seed))
    gen = PersonaDialogGenerator("seedcheck:", doctor, patient)
    first = gen.generate(seed=1234, max_turns=2)
    again = gen.generate(seed=1234, max_turns=2)
    other = gen.generate(seed=99, max_turns=2)
    assert seen == [1234, 1234, 1234, 1234, 99, 99]
    assert first.seed == 1234 and [t.text for t in first] == [t.text for t in again]
    assert [t.text for t in other] != [t.text for t in first]
    unseeded = gen.generate(max_turns=1)
    assert isinstance(unseeded.seed, int) and seen[-1] == unseeded.seed


def test_agents_may_use_different_models(doctor, patient, scripted):
    a, b = scripted(fn=lambda r: "a.", name="m-one"), scripted(fn=lambda r: "b.", name="m-two")
    gen = PersonaDialogGenerator(agents=[AgentSpec(name="Doctor", persona=doctor, model=a),
                                         AgentSpec(name="Patient", persona=patient, model=b)])
    dialog = gen.generate(seed=0, max_turns=2)
    assert dialog.model == {"Doctor": "m-one", "Patient": "m-two"}
    assert [t.text for t in dialog] == ["a.", "b."]


def test_backend_error_ends_the_dialogue_with_reason_not_exception(doctor, patient, scripted):
    calls = iter(["fine.", BackendError("scripted", "boom", status_code=500)])
    dialog = PersonaDialogGenerator(scripted(fn=lambda r: next(calls)), doctor, patient).generate(seed=0)
    assert dialog.stop_reason is StopReason.BACKEND_ERROR
    assert "HTTP 500" in dialog.metadata["error"] and len(dialog) == 1


def test_unreachable_backend_is_raised(doctor, patient, scripted):
    fail = BackendUnreachableError("ollama", "http://127.0.0.1:9")
    with pytest.raises(BackendUnreachableError, match="127.0.0.1:9"):
        PersonaDialogGenerator(scripted(fn=lambda r: fail), doctor, patient).generate(seed=0)


def test_names_that_are_not_identifiers_are_sanitized_for_autogen(scripted):
    agents = [AgentSpec(name="doctor-1", persona=Persona(role="doctor")),
              AgentSpec(name="Dr. Who?", persona=Persona(role="doctor"))]
    dialog = PersonaDialogGenerator(scripted(fn=lambda r: "hm."), agents=agents).generate(seed=0, max_turns=2)
    assert [t.speaker for t in dialog] == ["doctor-1", "Dr. Who?"]


def test_duplicate_names_are_rejected(scripted):
    agents = [AgentSpec(name="Dr. Who", persona=Persona()), AgentSpec(name="Dr Who", persona=Persona())]
    with pytest.raises(ConfigError, match="same name once made an identifier"):
        PersonaDialogGenerator(scripted(fn=lambda r: "x"), agents=agents)
    with pytest.raises(ConfigError, match="no letters or digits"):
        PersonaDialogGenerator(scripted(fn=lambda r: "x"), agents=[AgentSpec(name="??", persona=Persona()),
                                                                   AgentSpec(name="B", persona=Persona())])


def test_needs_two_personas(doctor):
    with pytest.raises(ConfigError, match="persona_a and persona_b"):
        PersonaDialogGenerator("embedded", persona_a=doctor)


def test_first_speaker_must_exist(doctor, patient, scripted):
    gen = PersonaDialogGenerator(scripted(fn=lambda r: "x"), doctor, patient, first_speaker="Nurse")
    with pytest.raises(ConfigError, match="first_speaker 'Nurse'"):
        gen.generate(seed=0)


@pytest.mark.parametrize("raw, expected, end", [
    ("Doctor: Hello there.", "Hello there.", False),
    ("Parlo Doctor: Good morning.", "Good morning.", False),
    ("[Doctor] Hi. How are you?\nPatient: I am fine.", "Hi. How are you?", False),
    ("See you soon! [end]", "See you soon!", True),
    ("One. Two. Three. Four.", "One. Two. Three.", False),
    ("Complete sentence. And a cut off", "Complete sentence.", False),
    ('Patient: "Hello doctor." \nPatient: more', 'Hello doctor.', False),  # the quotes around the turn go too
    ('"I\'m Dr. Garcia. What brings you in?"', "I'm Dr. Garcia. What brings you in?", False),
    ("“Good morning.”", "Good morning.", False),
    ('"I have had a headache since Monday.', "I have had a headache since Monday.", False),  # only opened
    ('She said "rest" and left.', 'She said "rest" and left.', False),  # a quotation inside the turn stays
    ('"Rest," she said, "and drink water."', '"Rest," she said, "and drink water."', False),
    ("My name is Dr. Smith. Take 3.5 mg, e.g. with food. Mr. Lee agrees. Extra.",
     "My name is Dr. Smith. Take 3.5 mg, e.g. with food. Mr. Lee agrees.", False),
    ("I saw Dr. Smith at 5 p.m. yesterday. And then", "I saw Dr. Smith at 5 p.m. yesterday.", False),
])
def test_clean_reply(raw, expected, end):
    assert clean_reply(raw, ["Doctor"], ["Patient"], "[END]", max_sentences=3) == (expected, end)


def test_memory_holds_the_cleaned_reply(doctor, patient, scripted):
    model = scripted(replies=["Doctor: Hi.\nPatient: I am invented.", "Real patient.", "Bye."])
    dialog = PersonaDialogGenerator(model, doctor, patient).generate(seed=0, max_turns=3)
    assert dialog.turns[0].text == "Hi." and "invented" in dialog.turns[0].metadata["raw"]
    third_call = model.client.history[2]
    assert ("assistant", "Hi.") in [(r, t) for r, _, t in third_call.messages]


async def test_agenerate_and_sync_generate_inside_a_running_loop(doctor, patient, scripted, echo_fn):
    gen = PersonaDialogGenerator(scripted(fn=echo_fn), doctor, patient)
    async_dialog = await gen.agenerate(seed=5, max_turns=2)
    sync_dialog = gen.generate(seed=5, max_turns=2)  # we are inside pytest-asyncio's loop, like Jupyter
    assert [t.text for t in async_dialog] == [t.text for t in sync_dialog]


def test_max_turns_argument_overrides_the_default(doctor, patient, scripted):
    gen = PersonaDialogGenerator(scripted(fn=lambda r: "x."), doctor, patient, stop=MaxTurns(50), max_turns=10)
    assert len(gen.generate(seed=0, max_turns=3)) == 3
    assert len(gen.generate(seed=0)) == 10


def test_sentences_never_end_on_abbreviations_or_decimals():
    assert sentences("I'm Dr. Garcia, e.g. your doctor. The dose is 3.5 mg. Mr. Lee is next!") == [
        "I'm Dr. Garcia, e.g. your doctor.", "The dose is 3.5 mg.", "Mr. Lee is next!"]
    assert not is_complete("My name is Dr.") and not is_complete("and then") and is_complete('He said "yes."')
    assert words("Don't take 3.5 mg, Dr. Lee!") == ["don't", "take", "3.5", "mg", "dr", "lee"]


def test_think_blocks_are_stripped_and_kept_in_metadata(doctor, patient, scripted):
    model = scripted(replies=["<think>They look worried.\nAsk gently.</think> How are you feeling?",
                              "Fine, thanks.", "Closed only.</think> Good to hear."])
    dialog = PersonaDialogGenerator(model, doctor, patient).generate(seed=0, max_turns=3)
    assert [t.text for t in dialog] == ["How are you feeling?", "Fine, thanks.", "Good to hear."]
    assert dialog.turns[0].metadata["thought"] == "They look worried.\nAsk gently."
    assert "thought" not in dialog.turns[1].metadata
    assert dialog.turns[2].metadata["thought"] == "Closed only."
    assert "<think>" not in str(model.client.history[2].messages)  # memory holds the words only


def test_a_model_thought_field_is_kept_out_of_the_turn(doctor, patient):
    from autogen_core.models import CreateResult, RequestUsage
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from roleplay.backends._base import Model

    usage = RequestUsage(prompt_tokens=1, completion_tokens=1)
    client = ReplayChatCompletionClient([CreateResult(finish_reason="stop", content="Hello there.", usage=usage,
                                                      cached=False, thought="reasoning_content here"),
                                         "Hi doctor."])
    model = Model(client, name="replay", backend="replay")
    dialog = PersonaDialogGenerator(model, doctor, patient).generate(seed=0, max_turns=2)
    assert dialog.turns[0].text == "Hello there."
    assert dialog.turns[0].metadata["thought"] == "reasoning_content here"


def test_examples_appear_in_the_prompt_not_in_memory(doctor, patient, scripted, echo_fn):
    example = Dialog(turns=[Turn("Doctor", "What brings you in?"), Turn("Patient", "A sprained ankle.")])
    model = scripted(fn=echo_fn)
    PersonaDialogGenerator(model, doctor, patient, example_dialogs=[example]).generate(seed=0, max_turns=3)
    first, third = model.client.history[0], model.client.history[2]
    assert "Doctor: What brings you in?\nPatient: A sprained ankle." in first.system
    assert "never repeat their lines" in first.system
    assert all("sprained" not in text for role, _, text in third.messages if role != "system")


def test_agents_know_the_other_parties_when_built(doctor, patient, scripted):
    gen = PersonaDialogGenerator(scripted(fn=lambda r: "Hi."), doctor, patient)
    doc, pat = gen._build_agents(seed=1)
    assert doc.other_names == ["Patient"] and pat.other_names == ["Doctor"]
    assert "family doctor" in pat.other_identities and "Doctor" in doc.identity


async def test_agent_memory_is_its_own_list_and_can_roll_back_a_turn(doctor, patient, scripted):
    from roleplay.agents import Agent, AgentMemory

    agent = Agent("Doctor", doctor, scripted(replies=["One.", "Two."]), "You are Doctor.",
                  others=[("Patient", patient)])
    await agent.reply([Turn("Patient", "Hello.")])
    memory = agent.memory
    assert isinstance(memory, AgentMemory) and [m.content for m in memory.messages] == ["Hello.", "One."]
    agent.undo_last_reply()
    assert memory.messages == []
    await agent.reply([Turn("Patient", "Hello.")], seed=5)
    assert [m.content for m in memory.messages] == ["Hello.", "Two."]
    assert agent.model.client.history[1].seed == 5
    state = await memory.save_state()
    await memory.clear()
    await memory.load_state(state)
    assert len(await memory.get_messages()) == 2
    with pytest.raises(ConfigError, match="context_window"):
        AgentMemory(0)


def test_scenario_examples_from_files_and_inline(tmp_path):
    from roleplay.errors import ScenarioError
    from roleplay.scenario import load_scenario

    (tmp_path / "ex.txt").write_text("A: Hello there.\nB: Hi, how are you?\n")
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nagents: [{persona: {name: A}}, {persona: {name: B}}]\n"
                    "examples: [ex.txt, [{speaker: A, text: Bye now.}]]\n")
    examples = load_scenario(path).generator("scripted:auto").example_dialogs
    assert [[str(t) for t in d] for d in examples] == [["A: Hello there.", "B: Hi, how are you?"], ["A: Bye now."]]
    path.write_text("name: s\nagents: [{persona: {name: A}}, {persona: {name: B}}]\nexamples: [missing.txt]\n")
    with pytest.raises(ScenarioError, match="cannot read example dialogue 'missing.txt'.*no such file"):
        load_scenario(path)


def test_shipped_scenarios_have_examples():
    from pathlib import Path

    from roleplay.scenario import load_scenario

    for name in ("doctor_patient", "birthday_party", "family_planning"):
        scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / f"{name}.yaml")
        speakers = {s.name for s in scenario.agent_specs()}
        assert all(set(d.speakers) <= speakers for d in scenario.example_dialogs()) and scenario.examples


async def test_a_turn_leaves_no_async_generator_for_the_event_loop_to_close(scripted):
    """AutoGen's ``on_messages`` leaves its event streams open; closing them later costs a task per turn."""
    finalized = []
    first_iter, finalizer = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(first_iter, lambda agen: (finalized.append(agen), finalizer(agen)))
    try:
        replies = iter(f"Line number {i} of a brand new sentence, all different words {i}." for i in range(100))
        generator = PersonaDialogGenerator(scripted(fn=lambda request: next(replies)), Persona(name="A", role="doctor"),
                                           Persona(name="B", role="patient"), max_turns=6)
        dialog = await generator.agenerate(seed=1)
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(first_iter, finalizer)
    assert len(dialog.turns) == 6
    assert finalized == []
