"""Persona and context sampling: every rule kind, seeds, LLM-filled fields in one call, bad rules, scenarios, CLI."""

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, field_validator, model_validator

from roleplay import Dialog
from roleplay.backends import register_backend
from roleplay.backends.scripted import auto_reply, scripted_model
from roleplay.cli import cli
from roleplay.errors import ConfigError, PersonaError, ScenarioError
from roleplay.personas import (
    LLM,
    BasePersona,
    Context,
    ContextGenerator,
    Persona,
    PersonaGenerator,
    Range,
)
from roleplay.personas.clinic import Patient
from roleplay.runs.batch import run_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
CLINIC = ROOT / "scenarios" / "clinic_diverse.yaml"
PATIENT_RULES = ROOT / "scenarios" / "clinic" / "patient_rules.yaml"
RULES = {"name": {"choice": ["Ana", "Bo", "Cy", "Di"]}, "age": {"range": [18, 90]}}


def test_each_rule_kind_draws_from_its_source(tmp_path):
    (tmp_path / "lines.txt").write_text("first line\n\n  second line  \n")
    (tmp_path / "jobs.csv").write_text("title,sector\nnurse,health\n,empty\nchef,food\n")
    gen = PersonaGenerator(Patient, {
        "name": "Ana", "age": {"range": [18, 20]}, "gender": {"choice": ["w", "m"], "weights": [0, 1]},
        "complaint": {"file": "lines.txt"}, "occupation": {"csv": "jobs.csv", "column": "title"},
        "history": lambda partial, rng: f"{partial['name']} at {partial['age']}"}, base=tmp_path)
    people = gen.sample(40, seed=3)
    assert {p.name for p in people} == {"Ana"} and {p.gender for p in people} == {"m"}
    assert {p.age for p in people} == {18, 19, 20}
    assert {p.complaint for p in people} == {"first line", "second line"}
    assert {p.occupation for p in people} == {"nurse", "chef"}
    assert all(p.history == f"Ana at {p.age}" for p in people)


def test_float_range_and_mapping_value():
    class Measured(BasePersona):
        height: float = 0.0
        extra: dict = {}

    person = PersonaGenerator(Measured, {"height": Range(1.5, 1.6), "extra": {"value": {"range": 1}}}).generate(1)
    assert 1.5 <= person.height <= 1.6 and isinstance(person.height, float) and person.extra == {"range": 1}


def test_same_seed_same_personas_without_touching_global_random():
    gen = PersonaGenerator(Patient, RULES)
    state = random.getstate()
    first = gen.sample(30, seed=11)
    random.seed(999)
    assert gen.sample(30, seed=11) == first
    assert gen.sample(30, seed=12) != first
    assert [gen.generate(11 + i) for i in range(30)] == first  # sample(n, seed)[i] is generate(seed + i)
    random.setstate(state)
    gen.sample(5, seed=1)
    assert random.getstate() == state


def test_failing_draws_are_redrawn_then_reported():
    calls = []

    def age(partial, rng):
        calls.append(1)
        return -5 if len(calls) == 1 else 40
    assert PersonaGenerator(Patient, {"name": "Ana", "age": age}).generate(0).age == 40 and len(calls) == 2
    with pytest.raises(PersonaError, match=r"after 3 attempts \(field 'age' = 'old': .*field's type"):
        PersonaGenerator(Patient, {"name": "Ana", "age": {"choice": ["old"]}}).generate(0)
    calls.clear()
    with pytest.raises(PersonaError, match=r"after 2 attempts \(field 'age' = -1"):
        PersonaGenerator(Patient, {"name": "Ana", "age": lambda p, rng: calls.append(1) or -1}, attempts=2).generate(0)
    assert len(calls) == 2


class Couple(BasePersona):
    name: str = ""
    partner: str = ""

    @model_validator(mode="after")
    def _not_self(self):
        if self.name == self.partner:
            raise ValueError("one cannot be one's own partner")
        return self


def test_class_level_check_failing_is_reported():
    with pytest.raises(PersonaError, match="fail the class's own check: .*own partner"):
        PersonaGenerator(Couple, {"name": "Ana", "partner": "Ana"}).generate(0)


@pytest.mark.parametrize("rules, message", [
    ({"nme": "Ana", "age": 3}, "unknown field 'nme'. Did you mean 'name'\\?.*Patient has: name, role, age"),
    ({"name": "A", "age": {"range": [90, 18]}}, "field 'age': range \\[90, 18\\] is empty"),
    ({"name": "A", "age": {"range": [18]}}, "range needs two bounds"),
    ({"name": "A", "age": {"range": ["a", 3]}}, "range bounds must be numbers"),
    ({"name": {"file": "missing.txt"}, "age": 3}, "file '.*missing.txt' not found"),
    ({"name": {"csv": "missing.csv", "column": "x"}, "age": 3}, "CSV file '.*missing.csv' not found"),
    ({"name": {"csv": "jobs.csv", "column": "job"}, "age": 3}, "no column 'job'; its columns are: title, sector"),
    ({"name": {"csv": "jobs.csv"}, "age": 3}, "needs the column to pick from"),
    ({"name": {"file": "empty.txt"}, "age": 3}, "no non-empty line"),
    ({"name": {"choice": ["a", "b"], "weights": [1]}, "age": 3}, "2 options but 1 weights"),
    ({"name": {"choice": ["a"], "weights": [-1]}, "age": 3}, "weights must be numbers >= 0"),
    ({"name": {"choice": []}, "age": 3}, "non-empty list of options"),
    ({"name": {"pick": ["a"]}, "age": 3}, "exactly one kind key \\(value, choice, range, file, csv, call, llm, by\\); "
                                          "found pick"),
    ({"name": {"choice": ["a"], "range": [1, 2]}, "age": 3}, "exactly one kind key"),
    ({"name": {"range": [1, 2], "column": "x"}, "age": 3}, "rule 'range' does not take column"),
    ({"name": {"call": "roleplay.nowhere:f"}, "age": 3}, "no module named 'roleplay.nowhere'"),
    ({"name": {"llm": 3}, "age": 3}, "llm takes an instruction string"),
    ({"name": "Ana"}, "age required but without a rule"),
    ({"name": {"llm": "a name"}, "age": 3}, "filled by the LLM but no model was given"),
])
def test_bad_rules_are_clear_errors(tmp_path, rules, message):
    (tmp_path / "jobs.csv").write_text("title,sector\nnurse,health\n")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(PersonaError, match=message):
        PersonaGenerator(Patient, rules, base=tmp_path)


def test_generator_needs_a_persona_class():
    with pytest.raises(ConfigError, match="needs a BasePersona subclass"):
        PersonaGenerator(Context, {})


def test_llm_fields_filled_in_one_constrained_call_per_persona():
    model = scripted_model(fn=auto_reply)
    gen = PersonaGenerator(Patient, {"name": {"choice": ["Ana", "Bo"]}, "age": LLM("an age that fits"),
                                     "personality": {"llm": "consistent with the rest"}}, model=model)
    people = gen.sample(3, seed=5)
    history = model.client.history
    assert len(history) == 3 and all(isinstance(p, Patient) for p in people)
    schema = history[0].schema
    assert schema["required"] == ["age", "personality"] and not schema["additionalProperties"]
    assert schema["properties"]["age"]["type"] == "integer" and schema["properties"]["age"]["maximum"] == 120
    assert schema["properties"]["personality"]["maxLength"] == 200
    assert f"- name: {people[0].name}" in history[0].last and "- age: an age that fits" in history[0].last


def test_llm_model_is_seeded_with_the_persona_seed(monkeypatch):
    seeds = []

    def factory(model, options):
        seeds.append(options.seed)
        return scripted_model(fn=lambda r: json.dumps({"personality": f"calm #{options.seed}"}), seed=options.seed)
    register_backend("seedy", factory)
    gen = PersonaGenerator(Patient, {**RULES, "personality": LLM()}, model="seedy")
    assert [p.personality for p in gen.sample(3, seed=7)] == ["calm #7", "calm #8", "calm #9"] and seeds == [7, 8, 9]
    assert gen.sample(3, seed=7) == gen.sample(3, seed=7)


class Moody(BasePersona):
    name: str = "X"
    mood: str = ""

    @field_validator("mood")
    @classmethod
    def _not_bad(cls, value: str) -> str:
        if value == "bad":
            raise ValueError("mood must not be 'bad'")
        return value


def test_llm_answer_failing_the_class_is_asked_again_then_reported():
    model = scripted_model(replies=['{"mood": "bad"}', '{"mood": "fine"}'])
    assert PersonaGenerator(Moody, {"mood": LLM()}, model=model).generate(0).mood == "fine"
    assert "was invalid" in model.client.history[1].last and "must not be 'bad'" in model.client.history[1].last
    always_bad = scripted_model(fn=lambda r: '{"mood": "bad"}')
    with pytest.raises(PersonaError, match="kept failing validation after 2 attempts.*must not be 'bad'"):
        PersonaGenerator(Moody, {"mood": LLM()}, model=always_bad, attempts=2).generate(0)


def test_rules_file_with_class_and_relative_paths():
    gen = PersonaGenerator.from_yaml(PATIENT_RULES, model="scripted:auto")
    people = gen.sample(20, seed=0)
    assert all(isinstance(p, Patient) and 18 <= p.age <= 90 for p in people)
    complaints = (PATIENT_RULES.parent / "complaints.txt").read_text().splitlines()
    assert len(complaints) >= 30 and all(p.complaint in complaints for p in people)
    assert len({(p.name, p.age, p.complaint) for p in people}) == 20


@pytest.mark.parametrize("text, message", [
    ("- a list\n", "a rules file is a mapping with 'rules:"),
    ("rules: {name: Ana}\nmodel: embedded\n", "a rules file is a mapping"),
    ("class: [x]\nrules: {name: Ana}\n", "'class' must be a string"),
    ("class: 'roleplay.dialog:Dialog'\nrules: {name: Ana}\n", "not a subclass of BasePersona"),
    ("rules: {name: {range: [3, 1]}}\n", "field 'name': range \\[3, 1\\] is empty"),
])
def test_bad_rules_files(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(PersonaError, match=message):
        PersonaGenerator.from_yaml(path)
    with pytest.raises(PersonaError, match="rules file not found"):
        PersonaGenerator.from_yaml(tmp_path / "nope.yaml")


class Plain(BaseModel):
    place: str = ""


def test_context_generator_samples_settings():
    gen = ContextGenerator({"place": {"choice": ["a city clinic", "a village practice"]}, "time": "Monday morning",
                            "shared_facts": LLM("two facts everyone in the waiting room knows")},
                           model="scripted:auto")
    contexts = gen.sample(6, seed=2)
    assert {c.place for c in contexts} == {"a city clinic", "a village practice"} and contexts == gen.sample(6, 2)
    assert contexts[0].description().startswith(f"Place: {contexts[0].place}\nTime: Monday morning\nShared facts: ")
    facts = gen.schema["properties"]["shared_facts"]
    assert facts["maxItems"] == 4 and facts["items"]["maxLength"] == 50  # four facts share one field's budget
    with pytest.raises(ConfigError, match="pydantic class with description"):
        ContextGenerator({}, context_class=Plain)


def test_context_generator_from_yaml(tmp_path):
    (tmp_path / "places.txt").write_text("a pharmacy\na hospital ward\n")
    (tmp_path / "context.yaml").write_text("rules:\n  place: {file: places.txt}\n  time: {choice: [dawn, dusk]}\n")
    assert ContextGenerator.from_yaml(tmp_path / "context.yaml").generate(1).place in {"a pharmacy", "a hospital ward"}


# --- scenarios: sample: per agent, batches, resume, variants ------------------------------------------------


def sampled_scenario(tmp_path, patient: str, extra: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nfirst_speaker: Doctor\nagents:\n  - {{name: Doctor, persona: {{name: Doc}}}}\n"
                    f"  - {patient}\n{extra}")
    return path


def test_scenario_generator_draws_the_cast_with_the_seed():
    scenario = load_scenario(CLINIC)
    with pytest.raises(ScenarioError, match="agent 'Patient' samples its persona per dialogue"):
        scenario.agent_specs()
    one = scenario.generator(model="scripted:auto", seed=4).agents[1].persona
    assert isinstance(one, Patient)
    assert one == scenario.generator(model="scripted:auto", seed=4).agents[1].persona
    assert one.model_dump() == PersonaGenerator.from_yaml(PATIENT_RULES, model="scripted:auto").generate(4).model_dump()


def test_inline_sample_keeps_fixed_persona_fields(tmp_path):
    scenario = load_scenario(sampled_scenario(tmp_path, "{name: Patient, persona: {role: patient}, sample: "
                                                        "{name: {choice: [Ana, Bo]}, circumstances: {range: [1, 1]}}}"))
    with pytest.raises(ConfigError, match="circumstances.*valid string"):
        scenario.generator(model="scripted:auto")
    good = load_scenario(sampled_scenario(tmp_path, "{name: Patient, persona: {role: patient}, sample: "
                                                    "{name: {choice: [Ana, Bo]}}}"))
    persona = good.generator(seed=1).agents[1].persona
    assert type(persona) is Persona and persona.role == "patient" and persona.name in {"Ana", "Bo"}


@pytest.mark.parametrize("patient, message", [
    ("{persona: {role: patient}, sample: {name: {choice: [Ana]}}}", "an agent with sample: needs a name"),
    ("{name: P, sample: {mood: {choice: [ok]}}}", "cannot load an agent's persona.*unknown field 'mood'"),
    ("{name: P, sample: {name: {file: nope.txt}}}", "file '.*nope.txt' not found"),
    ("{name: P, sample: missing_rules.yaml}", "rules file not found"),
    ("{name: P, class: 'roleplay.personas.clinic:Nurse', sample: {name: Ana}}", "no 'Nurse'"),
    ("{name: P, sample: {name: {range: [2, 1]}}}", "range \\[2, 1\\] is empty"),
])
def test_bad_sample_entries_fail_at_load(tmp_path, patient, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(sampled_scenario(tmp_path, patient))


def personas_by_id(folder: Path) -> dict[int, dict]:
    files = (folder / "dialogs").glob("*.json")
    return {int(p.stem): Dialog.from_file(p).metadata["sampled"]["Patient"] for p in files}


def test_batch_of_20_records_20_different_patients(tmp_path):
    job = batch_job(load_scenario(CLINIC), model="scripted:auto", max_turns=2)
    result = run_batch(job, 20, tmp_path / "b", seed=100, concurrency=4, progress=False)
    assert result.done == 20
    sampled = personas_by_id(tmp_path / "b")
    assert len({json.dumps(p, sort_keys=True) for p in sampled.values()}) == 20
    dialog = Dialog.from_file(tmp_path / "b" / "dialogs" / "7.json")
    assert {k: v for k, v in dialog.personas["Patient"].items() if k != "class"} == sampled[7]
    assert dialog.personas["Patient"]["class"] == "Patient" and dialog.seed == 107
    generator = PersonaGenerator.from_yaml(PATIENT_RULES, model="scripted:auto")
    assert sampled[7] == generator.generate(107).model_dump()  # dialogue i's patient is the one drawn with seed + i
    index = [json.loads(line) for line in (tmp_path / "b" / "index.jsonl").read_text().splitlines()]
    assert {entry["id"]: entry["sampled"]["Patient"] for entry in index} == sampled  # the index records them too


def test_resume_keeps_each_dialogues_persona(tmp_path):
    job = batch_job(load_scenario(CLINIC), model="scripted:auto", max_turns=2)
    run_batch(job, 20, tmp_path / "full", seed=3, progress=False)
    run_batch(job, 8, tmp_path / "resumed", seed=3, progress=False)
    (tmp_path / "resumed" / "dialogs" / "5.json").unlink()  # lost, as after a crash
    fresh = batch_job(load_scenario(CLINIC), model="scripted:auto", max_turns=2)  # a new process
    result = run_batch(fresh, 20, tmp_path / "resumed", seed=3, progress=False)
    assert result.skipped == 7 and result.done == 13
    assert personas_by_id(tmp_path / "resumed") == personas_by_id(tmp_path / "full")


def test_variants_are_a_grid_over_the_sampled_cast(tmp_path):
    path = sampled_scenario(tmp_path, f"{{name: Patient, sample: {PATIENT_RULES}}}",
                            "variants:\n  Patient.history: [none, asthma]\n")
    path.write_text(path.read_text().replace("- {name: Patient", "- {name: Patient, class: "
                                             "'roleplay.personas.clinic:Patient'"))
    run_batch(batch_job(load_scenario(path), model="scripted:auto", max_turns=2), 4, tmp_path / "v", progress=False)
    for index in range(4):
        dialog = Dialog.from_file(tmp_path / "v" / "dialogs" / f"{index}.json")
        history = ["none", "asthma"][index % 2]
        assert dialog.metadata["variant"] == {"Patient.history": history}
        assert dialog.personas["Patient"]["history"] == history  # the variant overrides the sampled value
        assert dialog.personas["Patient"]["name"] == dialog.metadata["sampled"]["Patient"]["name"]


# --- roleplay personas sample ----------------------------------------------------------------------------------


def test_cli_prints_a_table_of_sampled_personas():
    result = CliRunner().invoke(cli, ["personas", "sample", str(PATIENT_RULES), "-n", "12", "-m", "scripted:auto"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # stderr has the progress bar
    assert lines[0] == "patient_rules (Patient), seeds 0..11:"
    assert lines[1].split()[:3] == ["name", "age", "gender"] and set(lines[2]) == {"─"}
    assert "same for all: role=patient" in result.stdout and "12 distinct of 12" in result.stdout


def test_cli_samples_a_scenarios_agents_as_jsonl():
    result = CliRunner().invoke(cli, ["personas", "sample", str(CLINIC), "-n", "3", "--seed", "100", "--jsonl",
                                      "-m", "scripted:auto"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["agent"] for r in rows] == ["Patient"] * 3
    assert rows[1]["name"] == PersonaGenerator.from_yaml(PATIENT_RULES, model="scripted:auto").generate(101).name


@pytest.mark.parametrize("args, message", [
    ([str(ROOT / "scenarios" / "doctor_patient.yaml")], "has no agent with sample:"),
    ([str(CLINIC), "--agent", "Doctor"], "has no agent 'Doctor' with sample:; it samples: Patient"),
    (["nowhere.yaml"], "rules or scenario file not found"),
])
def test_cli_errors_are_clear(args, message):
    result = CliRunner().invoke(cli, ["personas", "sample", *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_patient_class_bounds_its_age():
    with pytest.raises(PersonaError, match="age"):
        Patient.from_dict({"name": "A", "age": 130})


@pytest.mark.embedded
def test_llm_filled_patients_on_the_embedded_model_validate():
    generator = PersonaGenerator.from_yaml(PATIENT_RULES, model="embedded")
    people = generator.sample(2, seed=0)  # schema-constrained decoding: the answer always fits Patient
    assert all(isinstance(p, Patient) and 1 <= len(p.personality.strip()) <= 200 for p in people)


def test_llm_fields_are_bounded_by_the_token_budget():
    """Each LLM-filled string gets its share of max_tokens, so the JSON answer closes within it."""
    from roleplay.structured import chars_for

    rules = {"role": "patient", "personality": LLM("a trait"), "background": LLM("a job")}
    small = PersonaGenerator(Persona, rules, model="scripted:auto", max_tokens=64)
    assert {small.schema["properties"][f]["maxLength"] for f in ("personality", "background")} == {
        chars_for((64 - 8) // 2 - 8)}
    default = PersonaGenerator(Persona, rules, model="scripted:auto")
    assert default.schema["properties"]["background"]["maxLength"] == 200

