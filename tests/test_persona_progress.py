"""A progress bar while a model fills persona fields (seconds per persona), and none when nothing is slow."""

from pathlib import Path

from click.testing import CliRunner

from roleplay.cli import cli
from roleplay.personas import PersonaGenerator
from roleplay.personas.clinic import Patient

RULES = Path(__file__).resolve().parent.parent / "scenarios" / "clinic" / "patient_rules.yaml"


def test_personas_sample_shows_a_bar_while_the_model_fills_fields():
    result = CliRunner().invoke(cli, ["personas", "sample", str(RULES), "-n", "3", "-m", "scripted:auto"])
    assert result.exit_code == 0, result.output
    assert "Patient objects: 100%" in result.stderr and "3/3" in result.stderr
    assert "3 distinct of 3" in result.stdout


def test_no_bar_for_drawn_fields_only(tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text("class: roleplay.personas.clinic:Patient\nrules: {name: [Ana, Bo], age: {range: [20, 30]}}\n")
    result = CliRunner().invoke(cli, ["personas", "sample", str(rules), "-n", "3"])
    assert result.exit_code == 0 and "objects" not in result.stderr


def test_library_bar_on_request(capsys):
    gen = PersonaGenerator(Patient, {"name": ["Ana"], "age": 30, "personality": {"llm": "calm"}}, model="scripted:auto")
    gen.sample(2, seed=0, progress=True)
    assert "2/2" in capsys.readouterr().err
    gen.sample(2, seed=0)
    assert capsys.readouterr().err == ""
