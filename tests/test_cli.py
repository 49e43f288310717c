"""Scenario files and the `roleplay` command, on scripted models."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay import Dialog
from roleplay.backends import register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.cli import cli
from roleplay.errors import ScenarioError
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def canned(monkeypatch):
    """A 'canned:' backend whose replies name the speaker, so the CLI runs with no model."""
    def factory(model, options):
        return scripted_model(fn=lambda r: f"{r.system.split('.')[0].removeprefix('You are ')} speaks.",
                              seed=options.seed, name="canned")
    register_backend("canned", factory)


@pytest.mark.parametrize("name, speakers", [("doctor_patient", ["Doctor", "Patient"]),
                                            ("birthday_party", ["Dad", "Daughter"]),
                                            ("family_planning", ["Mom", "Dad", "Daughter"])])
def test_shipped_scenarios_load(name, speakers):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert [s.name for s in scenario.agent_specs()] == speakers
    assert scenario.generator().first_speaker == speakers[0]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_scenario_with_missing_agent_file(tmp_path):
    path = write(tmp_path, "name: x\nagents:\n  - {name: A, persona: nowhere/a.yaml}\n"
                           "  - {name: B, persona: {role: b}}\n")
    with pytest.raises(ScenarioError, match=r"cannot load an agent's persona: .*nowhere/a.yaml: persona file not"):
        load_scenario(path)


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "must be a YAML mapping"),
    ("name: x\nagents: [{persona: {role: a}}, {persona: {role: b}}]\ncolour: red\n", "unknown field colour"),
    ("name: x\nagents: [{persona: {role: a}}]\n", "agents: List should have at least 2 items"),
    ("name: x\nagents: [{persona: {role: a, mood: x}}, {persona: {role: b}}]\n", "unknown field 'mood'"),
    ("name: x\nagents: [{persona: {}}, {persona: {role: b}}]\n", "has no name and its persona has no name or role"),
    ("name: [x\n", "not valid YAML"),
])
def test_bad_scenarios(tmp_path, text, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(write(tmp_path, text))


def test_missing_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "none.yaml")


def test_unknown_first_speaker(tmp_path):
    path = write(tmp_path, "name: x\nfirst_speaker: Zed\nagents: [{name: A, persona: {role: a}}, "
                           "{name: B, persona: {role: b}}]\n")
    with pytest.raises(ScenarioError, match="first_speaker 'Zed' is not one of the agents: A, B"):
        load_scenario(path).generator()


def test_cli_run_prints_turns_and_saves_json_and_txt(tmp_path, canned):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(SCENARIOS / "doctor_patient.yaml"), "--model", "canned:",
                                      "--seed", "5", "--max-turns", "3", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Scenario: doctor_patient | model: canned: | seed: 5"
    assert lines[1:4] == ["[Doctor] Doctor speaks.", "[Patient] Patient speaks.", "[Doctor] Doctor speaks."]
    assert "Stopped: max_turns after 3 turns" in result.output
    saved = Dialog.from_file(out / "doctor_patient_5.json")
    assert saved.seed == 5 and saved.model == "canned" and len(saved) == 3
    assert saved.scenario["name"] == "doctor_patient"
    assert (out / "doctor_patient_5.txt").read_text().splitlines()[0] == "Doctor: Doctor speaks."
    shown = CliRunner().invoke(cli, ["show", str(out / "doctor_patient_5.json")])
    assert shown.exit_code == 0 and "[Patient] Patient speaks." in shown.output and "Seed: 5" in shown.output


def test_cli_errors_are_one_clear_line_without_traceback(tmp_path):
    runner = CliRunner()
    bad_model = runner.invoke(cli, ["run", str(SCENARIOS / "doctor_patient.yaml"), "--model", "olama:x"])
    assert bad_model.exit_code == 1
    assert "Error: Unknown backend 'olama'. Did you mean 'ollama'?" in bad_model.output
    assert "Traceback" not in bad_model.output
    missing = runner.invoke(cli, ["show", str(tmp_path / "gone.json")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    no_scenario = runner.invoke(cli, ["run", str(tmp_path / "none.yaml")])
    assert no_scenario.exit_code == 1 and "scenario file not found" in no_scenario.output


def test_cli_backends_lists_prefixes():
    result = CliRunner().invoke(cli, ["backends"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()][:5] == [
        "embedded", "llamacpp", "ollama", "openai", "scripted"]
