"""Degeneration guards: each fires on a scripted failure, resamples with the derived seed, records it, gives up."""

from __future__ import annotations

import random

import pytest

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.dialog import Dialog, Turn
from roleplay.errors import ScenarioError
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import (
    HOTTEST,
    Guards,
    copy_score,
    derive_seed,
    identity_terms,
    new_pair_share,
    prompt_lines,
    role_confusion,
    same_opening,
)
from roleplay.personas import Persona
from roleplay.scenario import load_scenario

GARCIA = Persona(name="Dr. Garcia", role="family doctor")
ANA = Persona(name="Ana", role="patient")
SEED = 42
LONG = "I have had a terrible headache for three days and it gets worse every evening."


def heard(request: ScriptedRequest) -> str:
    return next((text for role, source, text in reversed(request.messages) if role == "user" and source != "director"),
                "")  # the other party's last turn, not a note


def play(doctor_fn, patient_fn, turns=4, guards=None, seed=SEED):
    doctor, patient = scripted_model(fn=doctor_fn, seed=seed), scripted_model(fn=patient_fn, seed=seed)
    gen = PersonaDialogGenerator(agents=[AgentSpec(name="Doctor", persona=GARCIA, model=doctor),
                                         AgentSpec(name="Patient", persona=ANA, model=patient)],
                                 guards=guards)
    return gen.generate(seed=seed, max_turns=turns), doctor.client, patient.client


def doctor_asks(request: ScriptedRequest) -> str:
    said = sum(role == "assistant" for role, _, _ in request.messages)
    return ["What brings you in today?", "How long has it been going on?", "Does anything make it better?",
            "Please rest and drink water."][min(said, 3)] if request.seed == SEED else "Tell me more."


def test_a_turn_echoing_the_other_party_is_resampled_with_the_derived_seed(caplog):
    caplog.set_level("INFO", logger="roleplay")

    def patient(request: ScriptedRequest) -> str:
        if request.seed == SEED and "long" in heard(request):
            return heard(request)  # echo the doctor's question
        return f"{LONG}" if "brings" in heard(request) else "About three days now, since Monday."

    dialog, _, client = play(doctor_asks, patient)
    echo = dialog.turns[3]
    assert echo.text == "About three days now, since Monday."
    guard = echo.metadata["guard"]
    assert guard["resamples"] == 1 and guard["seed"] == derive_seed(SEED, 3, 1) and guard["unresolved"] == []
    assert guard["rejected"][0]["problems"] == ["near_copy"] and guard["rejected"][0]["copy_of"] == 2
    assert [r.seed for r in client.history] == [SEED, SEED, derive_seed(SEED, 3, 1)]
    assert "guard" not in dialog.turns[1].metadata
    assert [r.message for r in caplog.records if r.name == "roleplay.guards"] == [
        f"Patient turn 3: ['near_copy']; resampling with seed {derive_seed(SEED, 3, 1)}"]  # what -v shows


def test_a_turn_reciting_the_system_prompt_is_resampled():
    def patient(request: ScriptedRequest) -> str:
        if request.seed == SEED:
            return "You're Patient. Stay in character and speak only as Patient."  # the prompt's first lines
        return "It started three days ago, after a long flight."

    dialog, _, client = play(doctor_asks, patient, turns=2)
    turn = dialog.turns[1]
    assert turn.text == "It started three days ago, after a long flight."
    assert "prompt_leak" in turn.metadata["guard"]["rejected"][0]["problems"]
    assert [r.seed for r in client.history] == [SEED, derive_seed(SEED, 1, 1)]


EXAMPLE = Dialog(turns=[Turn(speaker="Doctor", text="Good morning, please have a seat. What brings you in today?"),
                         Turn(speaker="Patient", text="I will. Thank you, doctor, goodbye.")])


def play_with_example(doctor_fn, patient_fn, turns=2):
    doctor, patient = scripted_model(fn=doctor_fn, seed=SEED), scripted_model(fn=patient_fn, seed=SEED)
    gen = PersonaDialogGenerator(agents=[AgentSpec(name="Doctor", persona=GARCIA, model=doctor),
                                         AgentSpec(name="Patient", persona=ANA, model=patient)],
                                 example_dialogs=[EXAMPLE])
    return gen.generate(seed=SEED, max_turns=turns), doctor.client, patient.client


def test_a_turn_saying_an_example_line_is_resampled():
    def doctor(request: ScriptedRequest) -> str:  # the example's first line, two sentences under min_words each
        return EXAMPLE.turns[0].text if request.seed == SEED else "Hello Ana, how long has your head hurt?"

    dialog, client, _ = play_with_example(doctor, lambda r: "About three days now, and it is worse at night.")
    turn = dialog.turns[0]
    assert turn.text == "Hello Ana, how long has your head hurt?"
    assert turn.metadata["guard"]["rejected"][0]["problems"] == ["prompt_leak"]
    assert [r.seed for r in client.history] == [SEED, derive_seed(SEED, 0, 1)]


def test_a_short_formula_like_an_example_line_may_be_said():
    closing = "Thank you, doctor, goodbye."  # close to the example's "I will. Thank you, doctor, goodbye."
    dialog, _, client = play_with_example(doctor_asks, lambda r: closing)
    assert dialog.turns[1].text == closing and "guard" not in dialog.turns[1].metadata
    assert len(client.history) == 1


def test_prompt_lines_drop_labels_and_blank_lines():
    prompt = "You are Doctor.\nYour name: Dr. Garcia\n\nDoctor: Good morning. Sit down.\nRules:\n- Be brief."
    assert prompt_lines(prompt) == ("You are Doctor.", "Dr. Garcia", "Good morning. Sit down.", "Rules:",
                                    "- Be brief.")


def test_repeating_itself_gives_up_after_n_and_keeps_the_least_similar():
    replies = iter([LONG, LONG, f"{LONG} What brings you in today?", LONG.replace("terrible", "bad"), LONG])

    dialog, _, client = play(doctor_asks, lambda r: next(replies), guards=Guards(resamples=3))
    turn = dialog.turns[3]
    guard = turn.metadata["guard"]
    assert guard["resamples"] == 3 and guard["unresolved"] == ["near_copy"]
    assert [r.seed for r in client.history[1:]] == [SEED, *(derive_seed(SEED, 3, a) for a in (1, 2, 3))]
    assert turn.text == LONG.replace("terrible", "bad")  # least similar of the four (a kept sentence counts)
    assert guard["seed"] == derive_seed(SEED, 3, 2) and "salvaged" not in guard  # its question is the doctor's
    # the agent remembers the kept reply once, and heard the doctor's question once
    last = client.history[-1].messages
    assert [t for role, _, t in last if role == "assistant"] == [LONG]
    assert sum(t == "How long has it been going on?" for _, _, t in last) == 1


def test_resamples_run_hotter_and_no_repeat_reaches_the_model():
    dialog, doctor, patient = play(doctor_asks, lambda r: LONG, guards=Guards(resamples=2, resample_heat=0.25))
    temperatures = [r.extra.get("temperature") for r in patient.history]
    assert temperatures == [None, None, 0.95, 1.2]  # 0.7 (the default) + 0.25 per resample; turn 1 was fine
    assert all("no_repeat_ngram" not in r.extra for r in patient.history)  # the scripted backend cannot ban n-grams
    hot, _, patient = play(doctor_asks, lambda r: LONG, guards=Guards(resamples=9, resample_heat=1.0))
    assert max(r.extra.get("temperature") or 0 for r in patient.history) == HOTTEST


def test_when_every_attempt_copies_the_new_sentences_are_kept():
    new = "It started after a long flight."
    replies = iter([LONG, LONG, f"{LONG} {new}", "Thank you, I will rest."])

    dialog, _, client = play(doctor_asks, lambda r: next(replies), turns=6, guards=Guards(resamples=1))
    turn = dialog.turns[3]
    guard = turn.metadata["guard"]
    assert turn.text == new and guard["unresolved"] == []
    assert guard["salvaged"] == {"from": f"{LONG} {new}", "dropped": [LONG]}
    assert [t for role, _, t in client.history[-1].messages if role == "assistant"] == [LONG, new]


def test_speaking_as_the_other_party_is_resampled():
    def patient(request: ScriptedRequest) -> str:
        if request.seed == SEED:
            return "Hello, I am Dr. Garcia, how can I help you today?"
        return "Hello doctor, I have a headache."

    dialog, _, client = play(doctor_asks, patient, turns=2)
    turn = dialog.turns[1]
    assert turn.text == "Hello doctor, I have a headache."
    assert turn.metadata["guard"]["rejected"][0]["confusion"] == "claims to be 'Dr. Garcia'"
    assert client.history[1].seed == derive_seed(SEED, 1, 1)


def test_a_reply_under_the_other_speakers_label_is_resampled():
    def patient(request: ScriptedRequest) -> str:
        return "Doctor: Let me examine you." if request.seed == SEED else "It hurts here."

    dialog, _, _ = play(doctor_asks, patient, turns=2)
    assert dialog.turns[1].text == "It hurts here."
    assert "label" in dialog.turns[1].metadata["guard"]["rejected"][0]["confusion"]


def test_a_cut_off_turn_is_trimmed_to_its_last_complete_sentence():
    dialog, _, client = play(doctor_asks, lambda r: "It started on Monday. Then I took 3.5 mg of the", turns=2)
    turn = dialog.turns[1]
    assert turn.text == "It started on Monday."
    assert turn.metadata["guard"] == {"resamples": 0, "seed": None, "unresolved": [], "rejected": [],
                                      "trimmed": "It started on Monday. Then I took 3.5 mg of the"}
    assert turn.metadata["trim"] == {"reason": "unfinished", "said": "It started on Monday. Then I took 3.5 mg of the"}
    assert len(client.history) == 1


def test_a_cut_off_turn_without_a_complete_sentence_is_resampled():
    def patient(request: ScriptedRequest) -> str:
        return "My name is Dr." if request.seed == SEED else "My name is Ana."

    dialog, _, _ = play(doctor_asks, patient, turns=2)
    assert dialog.turns[1].text == "My name is Ana."
    assert dialog.turns[1].metadata["guard"]["rejected"][0]["problems"] == ["cut_off", "role_confusion"]


def test_an_empty_turn_that_stays_empty_is_kept_and_marked():
    dialog, _, client = play(doctor_asks, lambda r: "", turns=3, guards=Guards(resamples=1))
    assert dialog.turns[1].metadata["guard"]["unresolved"] == ["empty"]
    assert len(client.history) == 2 and len(dialog) == 3  # gave up cleanly and the dialogue went on


def test_guards_off_never_resample():
    dialog, _, client = play(doctor_asks, lambda r: LONG, guards=Guards(enabled=False))
    assert len(client.history) == 2 and all("guard" not in t.metadata for t in dialog)


def test_same_seed_same_dialogue_with_guards_on():
    def noisy(request: ScriptedRequest) -> str:
        rng = random.Random(request.seed)
        return rng.choice([LONG, "Yes, it hurts a lot in the evening.", "I cannot sleep well", "Dr. Garcia: Rest."])

    first, _, _ = play(noisy, noisy, turns=6)
    again, _, _ = play(noisy, noisy, turns=6)
    other, _, _ = play(noisy, noisy, turns=6, seed=7)
    assert any("guard" in t.metadata for t in first)
    assert [(t.text, t.metadata.get("guard")) for t in first] == [(t.text, t.metadata.get("guard")) for t in again]
    assert [t.text for t in first] != [t.text for t in other]


@pytest.mark.parametrize("text, speaker, expected", [
    ("I'm Dr. Garcia, your doctor.", "Patient", "claims to be 'Dr. Garcia'"),
    ("My name is Dr Garcia.", "Patient", "claims to be 'Dr Garcia'"),
    ("As your doctor, I advise rest.", "Patient", "claims to be 'doctor'"),
    ("Welcome to my clinic, Dr. Garcia!", "Doctor", "addresses itself as 'Dr. Garcia'"),
    ("Thank you, doctor.", "Doctor", "addresses itself as 'doctor'"),
    ("The conversation has begun. You are Doctor, and your patient is Ana.", "Doctor", "addresses itself as 'Doctor'"),
    ("You're the doctor here.", "Doctor", "addresses itself as 'doctor'"),
    ("You are my doctor, so I trust you.", "Patient", None),
    ("You are doctoring the numbers.", "Doctor", None),
    ("I'm Dr. Garcia. What brings you in?", "Doctor", None),
    ("Thank you, doctor.", "Patient", None),
    ("I am a patient of yours since 2019.", "Patient", None),
    # a claim with a word or two before the role (seed 1 of the demo: the patient became a doctor)
    ("My name is Elena, and I'm a 45-year-old family doctor.", "Patient", "claims to be 'family doctor'"),
    ("I am a busy doctor in this city.", "Patient", "claims to be 'doctor'"),
    ("I'm a patient of the doctor.", "Patient", None),
    ("I'm here to see the doctor today.", "Patient", None),
    ("I'm a little worried, doctor.", "Patient", None),
    ("I am the new doctor's assistant.", "Patient", None),
    # speaking of itself *as* the other's role (seed 4242 of the demo: "those who rely on me as their doctor")
    ("Sharing expertise with those who rely on me as their doctor.", "Patient", "claims to be 'doctor'"),
    ("I, as your doctor, say you should rest.", "Patient", "claims to be 'doctor'"),
    ("Think of me as your doctor.", "Patient", "claims to be 'doctor'"),
    ("In my twenty years as a doctor I have seen this.", "Patient", "claims to be 'doctor'"),
    ("I have been a doctor for a long time.", "Patient", "claims to be 'doctor'"),
    ("We doctors never get to rest.", "Patient", "claims to be 'doctor'"),
    ("Us patients have to wait.", "Doctor", "claims to be 'patient'"),
    ("I was a patient here, too.", "Doctor", "claims to be 'patient'"),
    ("I see you as my doctor.", "Patient", None),
    ("I trust you as my doctor, and I rely on you.", "Patient", None),
    ("Think of me as your doctor.", "Doctor", None),
    ("Please treat me as a patient with migraines.", "Patient", None),
    ("I'm the doctor's last patient today.", "Patient", None),
    ("I was at the doctor's last year.", "Patient", None),
    ("My sister works as a doctor.", "Patient", None),
    ("You are very kind as a doctor.", "Patient", None),
    # narrating like a stage direction (the dialogue details restated each turn are in the third person)
    ("The patient's face is pale. You can tell it hurts.", "Doctor", "narrates 'The patient' in the third person"),
    ("Thank you. The doctor asks how long it has hurt.", "Doctor", "narrates 'The doctor' in the third person"),
    ("The pain is worse at night.", "Patient", None),
    ("Then the doctor said I should rest.", "Patient", None),
    # a turn that opens like a story about someone (seed 4242 of the demo: the doctor began this way)
    ("A patient comes to my clinic with a headache.", "Doctor", "narrates 'A patient' in the third person"),
    ("An doctor is here for you.", "Patient", "narrates 'An doctor' in the third person"),
    ("A patient, a young woman with a headache.", "Doctor", "narrates 'A patient' in the third person"),
    ("A doctor told me to rest.", "Patient", None),  # past tense: the speaker's own story
    ("I saw a patient comes in.", "Doctor", None),  # only the opening counts
    ("As a doctor I have seen worse.", "Patient", "claims to be 'doctor'"),
    ("Do you talk to your fellow doctors about it?", "Patient", None),
    # a chat assistant's voice instead of any role (the embedded model, doctor_patient seeds 1, 12 and 4242)
    ("Here's a sample of your responses. 1.", "Patient",
     "speaks as an assistant handing over a text (\"Here's a sample\")"),
    ("Here's another one for you to complete: can I give you the code?", "Doctor",
     "speaks as an assistant handing over a text (\"Here's another one for you\")"),
    ("Here is a revised version of the conversation: Dad: Hey.", "Patient",
     "speaks as an assistant handing over a text ('Here is a revised version')"),
    ("Here's the thing, doctor: it hurts most at night.", "Patient", None),
    ("Here is a list of the tablets I take.", "Patient", None),
    ("Here's your prescription; take one tablet each evening.", "Doctor", None),
    # the patterns run only on turns naming a party: any case, a title without its dot, non-ASCII text
    ("I AM DR GARCIA.", "Patient", "claims to be 'DR GARCIA'"),
    ("Hello — I am Dr. Garcia, café owner.", "Patient", "claims to be 'Dr. Garcia'"),
    ("Thank you, DOCTOR!", "Doctor", "addresses itself as 'DOCTOR'"),
    ("The pain comes and goes — mostly at night.", "Patient", None),
])
def test_role_confusion(text, speaker, expected):
    terms = {"Doctor": identity_terms("Doctor", GARCIA.model_dump()), "Patient": identity_terms("Patient",
                                                                                                 ANA.model_dump())}
    others = [t for name, found in terms.items() if name != speaker for t in found]
    assert role_confusion(text, terms[speaker], others) == expected


def test_copy_score_sees_a_repeated_sentence_inside_a_new_turn():
    earlier = ["Hello.", f"{LONG} Anything else?"]
    assert copy_score(f"Well. {LONG}", earlier, min_words=7) == (100.0, 1)
    assert copy_score("Something entirely different, about the weather today.", earlier, 7)[0] < 60


def test_a_short_turn_said_again_word_for_word_is_a_copy():
    earlier = ["I'm so glad you're here.", "Thank you, doctor."]
    again = copy_score("I'm so glad you're here!", earlier)
    assert again == (100.0, 0) and Guards().is_copy("I'm so glad you're here!", again[0])
    other = copy_score("I'm worried about it.", earlier)[0]
    assert not Guards().is_copy("I'm worried about it.", other, new_pair_share("I'm worried about it.", earlier))


def test_derived_seeds_differ_by_turn_and_attempt_and_are_stable():
    seeds = {derive_seed(1, turn, attempt) for turn in range(5) for attempt in range(1, 4)}
    assert len(seeds) == 15 and derive_seed(1, 2, 3) == derive_seed(1, 2, 3) and derive_seed(None, 0, 1) >= 0


def test_scenario_guards_and_bad_guards(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nagents: [{persona: {name: A}}, {persona: {name: B}}]\nguards: {enabled: false}\n")
    assert load_scenario(path).generator("scripted:auto").guards.enabled is False
    path.write_text("name: s\nagents: [{persona: {name: A}}, {persona: {name: B}}]\nguards: {near_copy: 200}\n")
    with pytest.raises(ScenarioError, match="guards.near_copy"):
        load_scenario(path)


def test_a_turn_stitched_from_phrases_already_said_counts_as_a_copy():
    earlier = ["I'm so glad of that, you have been very helpful today.", "We can chat about anything you want."]
    stitched = "I'm so glad of that, we can chat about anything you want."
    assert new_pair_share(stitched, earlier) < 0.5 and copy_score(stitched, earlier, 7)[0] < 85
    assert Guards().is_copy(stitched, 0.0, new_pair_share(stitched, earlier))
    assert not Guards(min_new_pairs=0).is_copy(stitched, 0.0, new_pair_share(stitched, earlier))
    assert new_pair_share("Fine.", earlier) is None


def test_a_paraphrase_loop_opening_every_turn_alike_is_resampled():
    def doctor(request: ScriptedRequest) -> str:
        said = sum(role == "assistant" for role, _, _ in request.messages)
        loop = ["The pain of the day.", "The pain you describe is a sprain.", "The pain after your injury."]
        return loop[said] if request.seed == SEED else "Let me check your blood pressure."

    dialog, client, _ = play(doctor, lambda r: f"It hurts, {len(r.messages)} times over.", turns=6)
    assert [t.text for t in dialog.turns[::2]] == [
        "The pain of the day.", "The pain you describe is a sprain.", "Let me check your blood pressure."]
    rejected = dialog.turns[4].metadata["guard"]["rejected"][0]
    assert rejected["problems"] == ["same_opening"] and rejected["opening"] == "the pain"
    assert same_opening("The pain again.", ["The pain.", "Rest."], runs=2) is None  # only a run of openings
    assert same_opening("The pain again.", ["The pain."], runs=0) is None  # 0 turns the check off
