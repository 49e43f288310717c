"""A policy turn said whole: the action from a small constrained call, its words as a guarded plain turn.

Trims are recorded (`roleplay.guards.Trim`) and counted by evaluate and report; a resample keeps the action.
"""

from __future__ import annotations

import json
from pathlib import Path

from policy_dialogs import said_action

from roleplay.backends import Model, register_backend
from roleplay.backends.options import BackendOptions
from roleplay.backends.scripted import ScriptedClient, ScriptedRequest, scripted_model
from roleplay.dialog import Dialog, Turn
from roleplay.evaluation import evaluate_dialog, summarize
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import Guards, Trim, trim_of
from roleplay.personas import Persona
from roleplay.policy.config import Policy
from roleplay.policy.graph import read_dot
from roleplay.sentences import is_complete
from roleplay.viz.transcript import dialog_html, facts, transcript_rows

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
GRAPH = read_dot(SCENARIOS / "doctor_intake.dot")
CUT = "Could you tell me how long you have had it? And is the pain on one side or"


def run_intake(words, turns: int = 4, max_tokens: int | None = None, guards: Guards | None = None,
               patient_says: str = "It has been three days now."):
    """The Doctor on doctor_intake (first offered action), its words from ``words(action, request)``."""
    def doctor(request: ScriptedRequest) -> str:
        props = (request.schema or {}).get("properties", {})
        if "action" in props:
            return json.dumps({"action": props["action"]["enum"][0]})
        return words(said_action(request), request)

    def patient(request: ScriptedRequest) -> str:
        if request.schema:
            return json.dumps({"answer": "no", "utterance": "No, none of those."})
        return patient_says

    doctor_model = Model(ScriptedClient(fn=doctor, seed=7), name="scripted", backend="scripted",
                         schema_args=lambda schema: {"json_schema": schema},
                         options=BackendOptions(seed=7, max_tokens=max_tokens))
    generator = PersonaDialogGenerator(agents=[
        AgentSpec(name="Doctor", persona=Persona(name="Dr. Garcia", role="family doctor"), model=doctor_model),
        AgentSpec(name="Patient", persona=Persona(name="Ana", role="patient"), model=scripted_model(fn=patient))],
        policy=Policy.single("Doctor", GRAPH), max_turns=turns, guards=guards)
    return generator.generate(seed=7), doctor_model.client


def test_the_words_are_asked_for_in_a_plain_turn_told_the_action_and_its_example():
    dialog, client = run_intake(lambda action, request: f"Here we go with {action}, then.")
    actions = [r for r in client.history if r.schema]
    assert [set(r.schema["properties"]) for r in actions] == [{"action"}, {"action"}]
    words = [r for r in client.history if not r.schema]
    assert [said_action(r) for r in words] == ["greet", "ask_complaint"]
    assert 'Its example reply: "Hello, I am the doctor. What brings you in today?"' in words[0].last
    doctor = [t for t in dialog.turns if t.speaker == "Doctor"]
    assert [t.text for t in doctor] == ["Here we go with greet, then.", "Here we go with ask_complaint, then."]
    assert all(t.metadata["legal"] and "fallback" not in t.metadata for t in doctor)
    # the JSON choice is not remembered as something the Doctor said; its words are
    remembered = [text for role, _, text in words[1].messages if role == "assistant"]
    assert remembered == ["Here we go with greet, then."]


def test_words_cut_by_the_token_limit_are_trimmed_to_whole_sentences_and_recorded():
    dialog, _ = run_intake(lambda action, request: CUT, turns=2, max_tokens=len(CUT.split()))
    turn = dialog.turns[0]
    assert turn.text == "Could you tell me how long you have had it?" and turn.action == "greet"
    assert trim_of(turn.metadata) == Trim(reason="token_limit", said=CUT)
    assert turn.metadata["legal"] is True


def test_the_policy_agent_is_guarded_and_a_resample_keeps_its_action():
    def words(action, request):
        if request.seed == 7:  # the first attempt speaks as the patient
            return "Hello, I'm Ana, the patient, and my head hurts."
        return "Good morning, what brings you in today?"

    dialog, client = run_intake(words, turns=2)
    turn = dialog.turns[0]
    assert turn.text == "Good morning, what brings you in today?" and turn.action == "greet"
    assert turn.metadata["legal"] is True and turn.metadata["guard"]["resamples"] == 1
    assert "claims to be" in turn.metadata["guard"]["rejected"][0]["confusion"]
    assert sum(1 for r in client.history if r.schema) == 1  # the action was chosen once, not redone


def test_words_that_stay_unusable_become_the_actions_template_and_say_so():
    dialog, _ = run_intake(lambda action, request: "", turns=2, guards=Guards(resamples=1))
    turn = dialog.turns[0]
    assert turn.text == "Hello, I am the doctor. What brings you in today?"
    assert turn.metadata["words_fallback"] is True and turn.metadata["guard"]["unresolved"] == ["empty"]
    assert "words_fallback" in transcript_rows(dialog)[0]["flags"]


def test_no_policy_turn_ends_mid_sentence_without_a_record():
    """Whatever the words, each Doctor turn is whole, or trimmed with a record, or the template."""
    said = iter(["Good morning", CUT, "", "How bad is it, from one to ten?", "Rest and", "Any fever?"] * 3)
    dialog, _ = run_intake(lambda action, request: next(said), turns=10, guards=Guards(resamples=0))
    doctor = [t for t in dialog.turns if t.speaker == "Doctor"]
    assert len(doctor) == 5
    assert all(is_complete(t.text) for t in doctor)
    assert any(trim_of(t.metadata) for t in doctor) and any(t.metadata.get("words_fallback") for t in doctor)


def test_evaluate_and_the_transcript_count_and_show_trimmed_turns():
    dialog, _ = run_intake(lambda action, request: CUT if action == "greet" else "What is bothering you?",
                           turns=4, max_tokens=len(CUT.split()))
    metrics = evaluate_dialog(dialog, {"doctor_intake": GRAPH})
    assert (metrics.policy_turns, metrics.trimmed) == (2, 1)
    row = summarize([metrics])[-1]
    assert list(row)[:7] == ["task", "variant", "arm", "dialogs", "legal_rate", "consistency", "trimmed_turns"]
    assert row["trimmed_turns"] == 0.5 and row["legal_rate"] == 1.0
    assert "trimmed" in transcript_rows(dialog)[0]["flags"]
    assert ("trimmed turns", "1") in facts(dialog) and "trimmed" in dialog_html(dialog)


def test_a_trim_record_survives_a_saved_dialogue(tmp_path):
    turn = Turn(speaker="A", text="Hi.", action="greet", metadata={"trim": Trim(reason="unfinished",
                                                                                said="Hi. And").model_dump()})
    Dialog(id=1, turns=[turn]).to_file(tmp_path / "d.json")
    assert trim_of(Dialog.from_file(tmp_path / "d.json").turns[0].metadata) == Trim(reason="unfinished",
                                                                                     said="Hi. And")
    assert trim_of({}) is None


def test_the_bank_support_scenario_is_shipped_and_runs_on_its_policy(monkeypatch):
    from roleplay.scenario import load_scenario

    def factory(model, options):
        def script(request: ScriptedRequest) -> str:
            props = (request.schema or {}).get("properties", {})
            if "action" in props:
                return json.dumps({"action": props["action"]["enum"][0]})
            if "answer" in props:
                return json.dumps({"answer": "no", "utterance": "No, I do not."})
            return f"I do {said_action(request)}." if said_action(request) else "It is the charge from Tuesday."
        return scripted_model(fn=script, seed=options.seed)

    register_backend("canned", factory)
    dialog = load_scenario("bank_support").generator(model="canned").generate(seed=2)
    path = dialog.metadata["policy"]["path"]
    assert path[:5] == ["greet", "ask_name", "verify_identity", "ask_charge", "ask_recognise"]
    assert "block_card" in path and path[-1] == "goodbye" and dialog.metadata["policy"]["legal_rate"] == 1.0


def test_a_yes_no_answer_cut_by_the_token_limit_keeps_its_answer_and_whole_sentences():
    def patient(request: ScriptedRequest) -> str:
        if request.schema:
            return '{"answer": "no", "utterance": "No, none of those. But my neck feels a bit sti'
        return "It has been three days now."

    def doctor(request: ScriptedRequest) -> str:
        props = (request.schema or {}).get("properties", {})
        if "action" in props:
            return json.dumps({"action": props["action"]["enum"][0]})
        return f"I do {said_action(request)}."

    generator = PersonaDialogGenerator(agents=[
        AgentSpec(name="Doctor", persona=Persona(name="Dr. Garcia", role="family doctor"),
                  model=scripted_model(fn=doctor)),
        AgentSpec(name="Patient", persona=Persona(name="Ana", role="patient"), model=scripted_model(fn=patient))],
        policy=Policy.single("Doctor", GRAPH), max_turns=12, guards=Guards(same_opening=0, min_new_pairs=0))
    dialog = generator.generate(seed=7)
    answer = next(t for t in dialog.turns if t.metadata.get("answer"))
    assert answer.text == "No, none of those." and answer.metadata["answer"] == "no"
    assert trim_of(answer.metadata).said == "No, none of those. But my neck feels a bit sti"
    assert dialog.turns[dialog.turns.index(answer) + 1].action == "give_advice"


def test_saying_the_actions_example_reply_is_not_a_prompt_leak():
    """The note shows the template; words that follow it are what the action asks for, not a leak."""
    dialog, _ = run_intake(lambda action, request: GRAPH.nodes[action]["template"], turns=11)
    doctor = [t for t in dialog.turns if t.speaker == "Doctor"]
    assert doctor[-1].action == "give_advice"  # its template is long: as like the note as a leak would be
    assert all(t.text == GRAPH.nodes[t.action]["template"] and "guard" not in t.metadata for t in doctor)
