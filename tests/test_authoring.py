"""Writing a scenario without reading the source: the README's authoring section, run literally; `roleplay new`;
`roleplay schema` and the schema files the package ships; bundled names wherever a graph is read."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roleplay._schemas import SCHEMAS, json_schema, schema_text, shipped_schema
from roleplay.cli import cli
from roleplay.cli._new import write_scenario_folder
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Write your own scenario"


def readme_commands() -> list[str]:
    """The commands of the ```bash block under the README's authoring heading, comments cut off."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no '{SECTION}' section"
    block = re.search(r"```bash\n(.*?)```", text.split(SECTION, 1)[1], re.DOTALL)
    assert block is not None, "the authoring section has no ```bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def run_readme(folder: Path, model: str | None, timeout: float) -> list[subprocess.CompletedProcess[str]]:
    """Run each README command from ``folder`` with this checkout's `roleplay` (``model`` as $ROLEPLAY_MODEL)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("ROLEPLAY_MODEL", None)
    if model is not None:
        env["ROLEPLAY_MODEL"] = model
    done = []
    for command in readme_commands():
        words = shlex.split(command)
        assert words[0] == "roleplay", command
        done.append(subprocess.run([sys.executable, "-m", "roleplay", *words[1:]], cwd=folder, env=env, text=True,
                                   capture_output=True, timeout=timeout))
        assert done[-1].returncode == 0, f"{command}\n{done[-1].stdout}\n{done[-1].stderr}"
    return done


def test_the_readme_names_new_then_run():
    assert [shlex.split(c)[:2] for c in readme_commands()] == [["roleplay", "new"], ["roleplay", "run"]]


def test_the_readme_authoring_section_runs_as_written(tmp_path):
    run_readme(tmp_path, "scripted:auto", timeout=300)
    saved = sorted((tmp_path / "runs").glob("*.json"))
    assert len(saved) == 1
    dialog = Dialog.from_file(saved[0])
    assert len(dialog.turns) >= 2 and {t.speaker for t in dialog.turns} == {"Doctor", "Patient"}


@pytest.mark.embedded
def test_the_readme_authoring_section_runs_on_the_default_model(tmp_path):
    run_readme(tmp_path, None, timeout=1800)
    dialog = Dialog.from_file(next((tmp_path / "runs").glob("*.json")))
    assert dialog.model == "embedded" and len(dialog.turns) >= 2
    assert all(t.text.strip() for t in dialog.turns)


def test_new_writes_a_commented_scenario_that_loads_with_its_personas(tmp_path):
    files = write_scenario_folder(tmp_path / "my_clinic")
    assert [f.name for f in files] == ["doctor.yaml", "patient.yaml", "scenario.yaml"]
    text = (tmp_path / "my_clinic" / "scenario.yaml").read_text()
    assert text.startswith("# my_clinic:") and "roleplay schema scenario" in text
    scenario = load_scenario(tmp_path / "my_clinic" / "scenario.yaml")
    assert scenario.name == "my_clinic"
    assert [s.persona.name for s in scenario.agent_specs()] == ["Dr. Lee", "Sam"]
    assert not list(tmp_path.glob(".my_clinic.*")), "the staging folder was left behind"


def test_new_never_overwrites(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["new", str(tmp_path / "taken")])
    assert result.exit_code != 0 and "already exists; roleplay new never overwrites" in result.output
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["mine.txt"]
    with pytest.raises(ConfigError, match="not a usable scenario name"):
        write_scenario_folder(tmp_path / "--")


def test_every_commented_setting_of_the_starter_is_a_real_field(tmp_path):
    """Uncommenting an optional line of the starter scenario must give a valid scenario, not an unknown field."""
    write_scenario_folder(tmp_path / "s")
    path = tmp_path / "s" / "scenario.yaml"
    lines = path.read_text().splitlines()
    optional = [line.removeprefix("# ") for line in lines if re.match(r"# \w+: [\d.]+ ", line)]
    assert {line.split(":")[0] for line in optional} >= {"temperature", "max_tokens", "max_sentences", "repeat_penalty"}
    path.write_text("\n".join([*lines, *optional]) + "\n")
    data = yaml.safe_load(path.read_text())
    assert data["max_tokens"] == 80
    load_scenario(path)


def test_the_shipped_schemas_are_what_the_models_generate_now():
    for name in SCHEMAS:
        assert shipped_schema(name).read_text(encoding="utf-8") == schema_text(name), (
            f"{shipped_schema(name)} is stale: regenerate it with python -c 'from roleplay._schemas import "
            "write_schemas; write_schemas()'")


def test_schema_command_prints_the_scenario_schema():
    result = CliRunner().invoke(cli, ["schema", "scenario"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == json_schema("scenario")
    assert {"name", "agents", "stop", "policy", "variants"} <= set(schema["properties"])
    assert "path" not in schema["properties"] and schema["additionalProperties"] is False
    assert schema["$defs"]["StopEntry"]["properties"]["max_turns"]["default"] == 12
    path = CliRunner().invoke(cli, ["schema", "persona", "--path"]).output.strip()
    assert Path(path) == shipped_schema("persona")
    assert CliRunner().invoke(cli, ["schema", "nothing"]).exit_code != 0
    assert set(SCHEMAS) == {"scenario", "persona"}  # the names the command's choice offers


@pytest.mark.parametrize("args", [["graph", "doctor_intake"], ["graph", "bank_support"], ["graph", "bank_balance"],
                                  ["personas", "sample", "clinic_diverse", "-n", "2", "-m", "scripted:auto"],
                                  ["scenarios"]])
def test_bundled_names_work_where_a_file_is_expected(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    if args == ["scenarios"]:
        assert "bank_support" in result.output


def test_a_graph_name_that_is_nothing_says_which_names_exist(tmp_path):
    result = CliRunner().invoke(cli, ["graph", "nowhere"])
    assert result.exit_code != 0 and "give a bundled graph's name (doctor_intake" in result.output
