"""A person in the loop: the human backend driven from code, and `roleplay run --human` through a real
pseudo-terminal (pexpect; every expect is bounded, so nothing waits for a person in CI)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from roleplay._human_play import human_generator
from roleplay.backends import get_backend
from roleplay.backends.human import HumanClient, human_model
from roleplay.backends.scripted import auto_reply, scripted_model
from roleplay.errors import ConfigError
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.personas import Persona
from roleplay.policy.graph import read_dot
from roleplay.policy.orchestrator import Policy
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


class Keyboard:
    """Types the given lines, one per prompt, and keeps every prompt and printed line (EOF when out)."""

    def __init__(self, *lines: str):
        self.lines = list(lines)
        self.screen: list[str] = []

    def read(self, prompt: str) -> str:
        self.screen.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def write(self, text: str) -> None:
        self.screen.append(text)


def doctor_and_human_patient(keyboard: Keyboard, **options) -> PersonaDialogGenerator:
    return PersonaDialogGenerator(agents=[
        AgentSpec(name="Doctor", persona=Persona(name="Doctor", role="family doctor"),
                  model=scripted_model(replies=["What brings you in?", "Since when?", "Rest, then."])),
        AgentSpec(name="Patient", persona=Persona(name="Patient"),
                  model=human_model("Patient", keyboard.read, keyboard.write)),
    ], **options)


def test_a_person_types_turns_empty_lines_ask_again_and_end_ends(doctor, patient):
    keyboard = Keyboard("", "   ", "A headache.", "Three days, bye /end")
    dialog = doctor_and_human_patient(keyboard).generate(seed=1)
    assert [(t.speaker, t.text) for t in dialog] == [
        ("Doctor", "What brings you in?"), ("Patient", "A headache."),
        ("Doctor", "Since when?"), ("Patient", "Three days, bye")]
    assert [t.metadata.get("human", False) for t in dialog] == [False, True, False, True]
    assert dialog.stop_reason.value == "end_signal" and dialog.model == {"Doctor": "scripted",
                                                                          "Patient": "human:Patient"}
    assert keyboard.screen[:4] == ["[Doctor] What brings you in?", "Patient> ",
                                   "(Type a reply, or /end to end the conversation.)", "Patient> "]
    assert "[Doctor] Since when?" in keyboard.screen


def test_end_alone_or_end_of_input_ends_the_conversation():
    dialog = doctor_and_human_patient(Keyboard("/end")).generate(seed=1)
    assert len(dialog) == 2 and dialog[-1].metadata == {**dialog[-1].metadata, "end": True, "human": True}
    dialog = doctor_and_human_patient(Keyboard()).generate(seed=1)  # Ctrl-D at the first prompt
    assert dialog.stop_reason.value == "end_signal" and len(dialog) == 2


def test_a_frontend_that_cannot_take_input_is_a_clear_error():
    def no_stdin(prompt: str) -> str:
        raise NotImplementedError("raw_input was called, but this frontend does not support input requests.")

    generator = doctor_and_human_patient(Keyboard())
    generator.agents[1] = generator.agents[1].model_copy(update={"model": human_model("Patient", no_stdin)})
    with pytest.raises(ConfigError, match="cannot take typed input.*pass read="):
        generator.generate(seed=1)


def test_the_saved_dialogue_marks_the_human_turns(tmp_path):
    dialog = doctor_and_human_patient(Keyboard("Hi.", "/end")).generate(seed=1)
    saved = json.loads(Path(dialog.to_file(tmp_path / "d.json")).read_text())
    assert [t["metadata"].get("human") for t in saved["turns"]] == [None, True, None, True]


def intake_with_human_doctor(keyboard: Keyboard) -> PersonaDialogGenerator:
    policy = Policy.single("Doctor", read_dot(SCENARIOS / "doctor_intake.dot"))
    return PersonaDialogGenerator(agents=[
        AgentSpec(name="Doctor", persona=Persona(name="Doctor"), model=human_model("Doctor", keyboard.read,
                                                                                 keyboard.write)),
        AgentSpec(name="Patient", persona=Persona(name="Patient"), model=scripted_model(fn=auto_reply)),
    ], policy=policy, max_turns=4)


def test_a_human_wizard_picks_the_policy_action_from_a_numbered_menu_then_speaks():
    keyboard = Keyboard("1", "Hello, I am Dr. Lee.", "7", "ask_complaint", "What is wrong?")
    dialog = intake_with_human_doctor(keyboard).generate(seed=2)
    doctor_turns = [t for t in dialog if t.speaker == "Doctor"]
    assert [(t.action, t.text) for t in doctor_turns] == [("greet", "Hello, I am Dr. Lee."),
                                                         ("ask_complaint", "What is wrong?")]
    assert all(t.metadata["human"] and t.metadata["legal"] for t in doctor_turns)
    assert "Choose the action:" in keyboard.screen
    assert '  1) greet  e.g. "Hello, I am the doctor. What brings you in today?"' in keyboard.screen
    assert "(Type a number from 1 to 1.)" in keyboard.screen  # "7" was refused; the name was accepted
    assert dialog.metadata["policy"]["path"] == ["greet", "ask_complaint"]


def test_a_human_user_answers_a_yes_no_question_from_the_menu():
    graph = read_dot(SCENARIOS / "doctor_intake.dot")
    doctor_lines = iter(line for a, u in [  # each policy turn: the action, then its words
        ("greet", "Hello."), ("ask_complaint", "What is wrong?"), ("ask_severity", "How bad?"),
        ("ask_red_flags", "Any fever?"), ("give_advice", "Rest.")] for line in (json.dumps({"action": a}), u))
    keyboard = Keyboard("Headache.", "Bad.", "Eight of ten.", "2", "None of those.")
    generator = PersonaDialogGenerator(agents=[
        AgentSpec(name="Doctor", persona=Persona(name="Doctor"), model=scripted_model(fn=lambda r: next(doctor_lines))),
        AgentSpec(name="Patient", persona=Persona(name="Patient"),
                  model=human_model("Patient", keyboard.read, keyboard.write)),
    ], policy=Policy.single("Doctor", graph), max_turns=9)
    dialog = generator.generate(seed=3)
    answer = dialog[7]
    assert (answer.speaker, answer.text, answer.metadata["answer"]) == ("Patient", "No, None of those.", "no")
    assert keyboard.screen.count("Choose the answer:") == 1 and "  2) no" in keyboard.screen
    assert dialog[8].action == "give_advice"


async def test_structured_fields_are_asked_one_by_one_and_bad_values_again():
    from autogen_core.models import UserMessage

    keyboard = Keyboard("x", "3", "maybe", "y", "Lisbon", "not json", '["a"]')
    model = human_model("Agent", keyboard.read, keyboard.write)
    schema = {"type": "object", "properties": {"people": {"type": "integer"}, "vegan": {"type": "boolean"},
                                               "city": {"type": "string"}, "tags": {"type": "array"}}}
    with model.call_options(schema=schema):
        result = await model.create([UserMessage(content="Book a table.", source="Guest")])
    assert json.loads(result.content) == {"people": 3, "vegan": True, "city": "Lisbon", "tags": ["a"]}
    assert "(That is not a integer; try again.)" in keyboard.screen
    assert any(line.startswith("(Not valid JSON") for line in keyboard.screen)
    assert keyboard.screen[0] == "[Guest] Book a table."


def test_the_human_backend_is_a_model_string():
    model = get_backend("human:Ana")
    assert isinstance(model.client, HumanClient) and model.name == "human:Ana" and model.backend == "human"


def test_human_generator_seats_the_person_and_drops_the_wall_clock_timeout():
    scenario = load_scenario(SCENARIOS / "doctor_patient.yaml")
    assert "Timeout" in repr(scenario.generator().stop)
    generator = human_generator(scenario, "Patient", model="scripted:auto", max_turns=4)
    assert [str(a.model) for a in generator.agents] == ["scripted:auto", "human:Patient"]
    assert "Timeout" not in repr(generator.stop)
    with pytest.raises(ConfigError, match=r"--human 'Nurse' is not one of the scenario's agents: Doctor, Patient"):
        human_generator(scenario, "Nurse")


# --- the real terminal ---------------------------------------------------------------------------------

pexpect = pytest.importorskip("pexpect")


def roleplay_run(tmp_path: Path, scenario: str, *args: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return pexpect.spawn(sys.executable, ["-c", "from roleplay.cli import main; main()", "run",
                                          str(SCENARIOS / scenario), "-m", "scripted:auto", "--seed", "5",
                                          "--out", str(tmp_path), *args],
                         env=env, cwd=str(tmp_path), timeout=60, encoding="utf-8")


def exit_status(child) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_run_human_in_a_terminal_saves_the_dialogue_with_human_turns(tmp_path):
    child = roleplay_run(tmp_path, "doctor_patient.yaml", "--human", "Patient")
    child.expect_exact("[Doctor] Sure, let us go on (turn 1).")
    child.expect_exact("Patient> ")
    child.sendline("")
    child.expect_exact("(Type a reply, or /end to end the conversation.)")
    child.sendline("My head hurts.")
    child.expect_exact("[Doctor] Sure, let us go on (turn 2).")
    child.sendline("Thanks, bye /end")
    child.expect_exact("Stopped: end_signal after 4 turns")
    assert exit_status(child) == 0
    saved = json.loads((tmp_path / "doctor_patient_5.json").read_text())
    assert [(t["speaker"], t["text"], t["metadata"].get("human", False)) for t in saved["turns"]] == [
        ("Doctor", "Sure, let us go on (turn 1).", False), ("Patient", "My head hurts.", True),
        ("Doctor", "Sure, let us go on (turn 2).", False), ("Patient", "Thanks, bye", True)]
    assert saved["model"] == {"Doctor": "scripted:auto", "Patient": "human:Patient"}


def test_run_human_as_the_policy_agent_chooses_from_the_menu(tmp_path):
    child = roleplay_run(tmp_path, "doctor_intake.yaml", "--human", "Doctor", "--max-turns", "3")
    child.expect_exact("(You speak first.)")
    child.expect_exact("Choose the action:")
    child.expect_exact("1) greet")
    child.expect_exact("action [1-2]> ")
    child.sendline("2")
    child.expect_exact("Doctor> ")  # the action chosen, its words are a plain turn
    child.sendline("What brings you in?")
    child.expect_exact("[Patient] Sure, let us go on (turn 2).")  # it heard the doctor and its first-turn note
    child.expect_exact("action [1-")
    child.sendline("1")
    child.sendline("How long has it hurt?")
    child.expect_exact("Stopped: max_turns after 3 turns")
    assert exit_status(child) == 0
    saved = json.loads((tmp_path / "doctor_intake_5.json").read_text())
    doctor = [t for t in saved["turns"] if t["speaker"] == "Doctor"]
    assert [(t["action"], t["text"], t["metadata"]["human"]) for t in doctor] == [
        ("ask_complaint", "What brings you in?", True), (doctor[1]["action"], "How long has it hurt?", True)]


def test_run_human_with_an_unknown_agent_fails_cleanly(tmp_path):
    child = roleplay_run(tmp_path, "doctor_patient.yaml", "--human", "Nurse")
    child.expect_exact("Error: --human 'Nurse' is not one of the scenario's agents: Doctor, Patient.")
    assert exit_status(child) == 1 and not list(tmp_path.glob("*.json"))
