import pytest

from roleplay.errors import ConfigError, PersonaError, ScenarioError
from roleplay.personas import BasePersona, Persona
from roleplay.personas._loading import import_object, load_class
from roleplay.personas.clinic import Patient
from roleplay.scenario import load_scenario


def test_persona_renders_non_empty_fields_in_order():
    persona = Persona(name="Ana", role="patient", personality="", circumstances="headache")
    assert str(persona) == "Your name: Ana\nYour role: patient\nYour circumstances: headache"


class Doctor(BasePersona):
    name: str
    years_of_experience: int = 0
    specialities: list[str] = []


def test_subclass_typed_fields_and_lists():
    doc = Doctor(name="House", years_of_experience=20, specialities=["diagnostics", "nephrology"])
    assert doc.description().splitlines() == [
        "Your name: House", "Your years of experience: 20", "Your specialities: diagnostics, nephrology"]


class Terse(Persona):
    def description(self) -> str:
        return f"You are {self.name}, a {self.role}."


def test_subclass_may_override_description():
    assert str(Terse(name="Bo", role="nurse")) == "You are Bo, a nurse."


def test_from_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: Ana\nrole: patient\n")
    assert Persona.from_yaml(path) == Persona(name="Ana", role="patient")


def test_shipped_persona_files_load():
    from pathlib import Path
    agents = Path(__file__).parent.parent / "agents"
    names = {p.stem: Persona.from_yaml(p) for p in agents.glob("*.yaml")}
    assert {"doctor", "patient", "dad", "daughter"} <= set(names)
    assert all(p.name and p.role for p in names.values())


def test_yaml_not_a_mapping(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(PersonaError, match="must be a mapping of fields .*got list"):
        Persona.from_yaml(path)


def test_yaml_unknown_field_names_field_and_allowed(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: Ana\nmood: grumpy\n")
    with pytest.raises(PersonaError, match="unknown field 'mood'.*Allowed fields: name, role"):
        Persona.from_yaml(path)


def test_yaml_invalid_and_missing(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(PersonaError, match="not valid YAML"):
        Persona.from_yaml(path)
    with pytest.raises(PersonaError, match="persona file not found"):
        Persona.from_yaml(tmp_path / "missing.yaml")


# --- custom persona classes named in YAML ('package.module:Name') -------------------------------------------


def test_load_class_finds_a_persona_subclass():
    assert load_class("roleplay.personas.clinic:Patient", BasePersona) is Patient
    assert import_object("roleplay.personas._model:Persona.from_yaml", "call") == Persona.from_yaml


@pytest.mark.parametrize("spec, message", [
    ("roleplay.personas.clinic.Patient", "must be written 'package.module:Name'"),
    ("no_such_package.personas:Patient", "no module named 'no_such_package'.*PYTHONPATH"),
    ("roleplay.personas.clinic:Nurse", "module 'roleplay.personas.clinic' has no 'Nurse'"),
    ("roleplay.dialog:Dialog", "not a subclass of BasePersona"),
    ("roleplay.personas.clinic:__all__", "not a subclass of BasePersona"),
])
def test_load_class_errors_name_the_fix(spec, message):
    with pytest.raises(ConfigError, match=message):
        load_class(spec, BasePersona)


def test_load_class_reports_a_module_that_fails_to_import(tmp_path, monkeypatch):
    (tmp_path / "broken_personas.py").write_text("import json\nraise RuntimeError('boom')\n")
    (tmp_path / "needs_missing.py").write_text("import not_installed_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="importing 'broken_personas' failed: RuntimeError: boom"):
        load_class("broken_personas:X", BasePersona)
    with pytest.raises(ConfigError, match="importing 'needs_missing' failed: No module named 'not_installed"):
        load_class("needs_missing:X", BasePersona)


def _scenario(tmp_path, patient: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nagents:\n  - {{name: Doctor, persona: {{name: Doc, role: doctor}}}}\n  - {patient}\n")
    return path


def test_scenario_agent_of_a_custom_class(tmp_path):
    scenario = load_scenario(_scenario(tmp_path, "{name: Patient, class: 'roleplay.personas.clinic:Patient', "
                                                 "persona: {name: Ana, age: 40}}"))
    patient = scenario.agent_specs()[1].persona
    assert isinstance(patient, Patient) and patient.age == 40
    assert "Your age: 40" in patient.description()


@pytest.mark.parametrize("entry, message", [
    ("{name: P, class: 'roleplay.personas.clinic:Nurse', persona: {name: A}}", "agent 'P': persona class.*no 'Nurse'"),
    ("{name: P, class: 'roleplay.dialog:Dialog', persona: {name: A}}", "not a subclass of BasePersona"),
    ("{name: P, class: 'roleplay.personas.clinic:Patient', persona: {name: A}}", "age.*Field required"),
])
def test_scenario_custom_class_errors(tmp_path, entry, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(_scenario(tmp_path, entry))
