import pytest

from roleplay.errors import PersonaError
from roleplay.personas import BasePersona, Persona


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
