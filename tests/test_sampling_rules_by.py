"""Sampling rules that depend on another field (``by:``), bare lists as pick-one, and the shipped patient rules."""

from pathlib import Path

import pytest
from pydantic import BaseModel

from roleplay.errors import ConfigError, PersonaError
from roleplay.personas import Persona, PersonaGenerator
from roleplay.personas._rules import By, Choice, Fixed, parse_rule
from roleplay.personas._sampling import FieldSampler, read_rules
from roleplay.personas.clinic import Patient

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "scenarios" / "clinic" / "patient_rules.yaml"

WOMEN, MEN = ["Ana", "Chen", "Fatima"], ["Bruno", "Jamal", "Yusuf"]
BY_GENDER = {"gender": ["woman", "man"], "name": {"by": "gender", "cases": {"woman": WOMEN, "man": MEN}}}


class Tagged(BaseModel):
    """A class with a list-typed field, to fix with an explicit rule."""

    name: str
    tags: list[str] = []


def test_a_bare_list_picks_one():
    people = PersonaGenerator(Persona, {"name": ["Ana", "Bo"]}).sample(20, seed=0)
    assert {p.name for p in people} == {"Ana", "Bo"}
    assert parse_rule(["a", "b"], Path(".")) == Choice(["a", "b"])


def test_a_list_typed_field_is_fixed_with_an_explicit_value_rule():
    made = FieldSampler(Tagged, {"name": "Ana", "tags": {"value": ["calm", "tall"]}}).generate(3)
    assert made.tags == ["calm", "tall"]
    assert parse_rule({"value": ["calm"]}, Path(".")) == Fixed(["calm"])


def test_name_is_drawn_from_the_list_of_the_drawn_gender():
    people = PersonaGenerator(Patient, {**BY_GENDER, "age": {"range": [18, 90]}}).sample(60, seed=5)
    assert {p.gender for p in people} == {"woman", "man"}
    assert all(p.name in (WOMEN if p.gender == "woman" else MEN) for p in people)
    assert {p.name for p in people} == {*WOMEN, *MEN}


def test_default_serves_values_without_a_case():
    rules = {"gender": ["woman", "non-binary person"],
             "name": {"by": "gender", "cases": {"woman": WOMEN}, "default": ["Alex"]}, "age": 40}
    people = PersonaGenerator(Patient, rules).sample(30, seed=1)
    assert {p.name for p in people if p.gender != "woman"} == {"Alex"}


def test_by_in_python_and_nested_rules():
    rule = By("gender", {"woman": Choice(WOMEN), "man": Fixed("Bruno")})
    gen = PersonaGenerator(Patient, {"gender": {"choice": ["woman", "man"]}, "name": rule, "age": 30})
    people = gen.sample(20, seed=2)
    assert {p.name for p in people if p.gender == "man"} == {"Bruno"}


def test_shipped_patient_rules_are_coherent():
    _, rules = read_rules(SHIPPED)  # every rule but the LLM-written personality, which needs a model
    drawn = {k: v for k, v in rules.items() if k != "personality"}
    sampled = PersonaGenerator(Patient, drawn, base=SHIPPED.parent).sample(200, seed=0)
    lists = rules["name"]["cases"]
    assert all(p.name in lists[p.gender] for p in sampled)
    assert not set(lists["woman"]) & set(lists["man"])
    assert {"woman", "man", "non-binary person"} == {p.gender for p in sampled}


@pytest.mark.parametrize(("rules", "message"), [
    ({"name": {"by": "gender", "cases": {"woman": WOMEN}}, "gender": ["woman"], "age": 3},
     "field 'name' depends on 'gender' \\(by: gender\\), which has no rule before it \\(rules are drawn in order\\)"),
    ({"gender": {"llm": "a gender"}, "name": {"by": "gender", "cases": {"woman": WOMEN}}, "age": 3},
     "which is filled by the LLM"),
    ({"name": {"by": "job", "cases": {"nurse": WOMEN}}, "age": 3},
     "'job' \\(by: job\\), which has no rule before it\\. Give 'job' a drawn rule above 'name'"),
    ({"gender": ["woman", "man"], "name": {"by": "gender", "cases": {"woman": WOMEN}}, "age": 3},
     "field 'name' \\(by: gender\\) has no case for gender 'man'; add them to cases or give a default"),
    ({"gender": "man", "name": {"by": "gender", "cases": {"woman": WOMEN}}, "age": 3}, "no case for gender 'man'"),
    ({"gender": ["man"], "name": {"by": "gender"}, "age": 3}, "by: gender needs cases"),
    ({"gender": ["man"], "name": {"by": "gender", "cases": []}, "age": 3}, "by: gender needs cases"),
    ({"gender": ["man"], "name": {"by": "", "cases": {"man": MEN}}, "age": 3}, "by names the field"),
    ({"gender": ["man"], "name": {"by": "gender", "cases": {"man": MEN}, "weights": [1]}, "age": 3},
     "rule 'by' does not take weights; it takes cases, default"),
    ({"gender": ["man"], "name": {"by": "gender", "cases": {"man": {"range": [3, 1]}}}, "age": 3},
     "range \\[3, 1\\] is empty"),
    ({"name": [], "age": 3}, "a bare list is a pick-one rule and needs options; write \\{value: \\[\\]\\}"),
])
def test_bad_dependent_rules(rules, message):
    with pytest.raises((ConfigError, PersonaError), match=message):
        PersonaGenerator(Patient, rules)


def test_a_value_with_no_case_drawn_from_a_file_names_the_fix(tmp_path):
    (tmp_path / "genders.txt").write_text("woman\nman\n")
    rules = {"gender": {"file": "genders.txt"}, "name": {"by": "gender", "cases": {"woman": WOMEN}}, "age": 3}
    gen = PersonaGenerator(Patient, rules, base=tmp_path)  # a file's values are not checked up front
    with pytest.raises(ConfigError, match="by: gender has no case for 'man'; add it to cases \\(known: woman\\)"):
        gen.sample(20, seed=0)
