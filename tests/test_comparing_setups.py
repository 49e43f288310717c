"""Comparing set-ups: both policy arms in one batch, --prompt-only, and evaluate/report split by variant and arm."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roleplay.cli import cli
from roleplay.dialog import Dialog
from roleplay.evaluation.groups import arm_label, setup_name, setup_of, variant_label
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def bank_scenario(folder: Path, **extra: object) -> Path:
    """The bundled bank_support scenario copied into ``folder`` (persona paths made absolute), plus ``extra``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "scenarios" / "bank_support.dot", folder)
    data = yaml.safe_load((ROOT / "scenarios" / "bank_support.yaml").read_text())
    for agent in data["agents"]:
        agent["persona"] = str(ROOT / "scenarios" / agent["persona"])
    data.update(extra)
    path = folder / "bank_support.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def dialogs_in(folder: Path) -> list[Dialog]:
    return [Dialog.from_file(p) for p in sorted((folder / "dialogs").glob("*.json"))]


def test_one_batch_holds_the_enforced_and_the_prompt_only_arm(tmp_path):
    scenario = bank_scenario(tmp_path, variants={"policy.enforce": [True, False]})
    out = tmp_path / "both"
    result = invoke("batch", str(scenario), "-n", "4", "--out", str(out), "-m", "scripted:auto", "--max-turns", "4")
    assert result.exit_code == 0, result.output
    arms = {d.id: (d.metadata["variant"], d.metadata["policy"]["mode"]) for d in dialogs_in(out)}
    assert arms == {0: ({"policy.enforce": True}, "enforced"), 1: ({"policy.enforce": False}, "prompt_only"),
                    2: ({"policy.enforce": True}, "enforced"), 3: ({"policy.enforce": False}, "prompt_only")}
    assert {setup_of(d) for d in dialogs_in(out)} == {("-", "enforced"), ("-", "prompt_only")}


def test_evaluate_splits_every_table_by_arm(tmp_path):
    scenario = bank_scenario(tmp_path, variants={"policy.enforce": [True, False], "temperature": [0.3]})
    out = tmp_path / "both"
    invoke("batch", str(scenario), "-n", "2", "--out", str(out), "-m", "scripted:auto", "--max-turns", "4")
    result = invoke("evaluate", str(out), "--graph", str(tmp_path / "bank_support.dot"))
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "evaluation.json").read_text())
    adherence = [(r["task"], r["variant"], r["arm"], r["dialogs"]) for r in saved["summary"]]
    assert adherence == [("bank_support", "temperature=0.3", "enforced", 1),
                         ("bank_support", "temperature=0.3", "prompt_only", 1),
                         ("ALL", "temperature=0.3", "enforced", 1), ("ALL", "temperature=0.3", "prompt_only", 1),
                         ("ALL", "ALL", "ALL", 2)]
    text = [(r["variant"], r["arm"]) for r in saved["text"]["summary"]]
    assert text == [("temperature=0.3", "enforced"), ("temperature=0.3", "prompt_only"), ("ALL", "ALL")]


def test_prompt_only_runs_and_several_folders_are_evaluated_and_reported_together(tmp_path):
    scenario = bank_scenario(tmp_path)
    enforced, prompt_only = tmp_path / "enforced", tmp_path / "prompt_only"
    for out, flags in ((enforced, []), (prompt_only, ["--prompt-only"])):
        result = invoke("batch", str(scenario), "-n", "2", "--out", str(out), "-m", "scripted:auto", "--max-turns",
                        "4", *flags)
        assert result.exit_code == 0, result.output
    assert {arm_label(d) for d in dialogs_in(prompt_only)} == {"prompt_only"}
    assert json.loads((prompt_only / "batch.json").read_text())["prompt_only"] is True
    report = tmp_path / "together"
    result = invoke("evaluate", str(enforced), str(prompt_only), "--out", str(report))
    assert result.exit_code == 0, result.output
    rows = json.loads(report.with_suffix(".json").read_text())["summary"]
    assert [(r["arm"], r["dialogs"]) for r in rows] == [("enforced", 2), ("prompt_only", 2), ("ALL", 4)]
    assert "kept per folder" in result.output
    html = tmp_path / "together.html"
    result = invoke("report", str(enforced), str(prompt_only), "--out", str(html))
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert "Per variant and policy arm" in page and "prompt_only" in page and "enforced" in page


def test_run_prompt_only_records_the_arm(tmp_path):
    result = invoke("run", "doctor_intake", "--prompt-only", "-m", "scripted:auto", "--seed", "1", "--max-turns",
                    "3", "-q", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    dialog = Dialog.from_file(tmp_path / "doctor_intake_1.json")
    assert arm_label(dialog) == "prompt_only"


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "doctor_patient", "--prompt-only"], "--prompt-only needs a scenario with a policy:"),
    (["evaluate", "a", "b"], "say where it goes with --out"),
    (["report", "a", "b"], "say where it goes with --out"),
])
def test_comparison_usage_errors_name_the_fix(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        Dialog(id=name).to_file(tmp_path / name / "0.json")
    result = CliRunner().invoke(cli, [*args, "-m", "scripted:auto"] if args[0] == "run" else args)
    assert result.exit_code != 0 and expected in result.output, result.output


def test_prompt_only_flag_and_an_arm_variant_conflict(tmp_path):
    scenario = bank_scenario(tmp_path, variants={"policy.enforce": [True, False]})
    result = CliRunner().invoke(cli, ["batch", str(scenario), "-n", "1", "--out", str(tmp_path / "o"),
                                      "--prompt-only", "-m", "scripted:auto"])
    assert result.exit_code != 0 and "both set the arm" in result.output


def test_a_section_variant_needs_its_section(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump({"name": "plain", "agents": [{"name": "A"}, {"name": "B"}],
                                    "variants": {"policy.enforce": [True, False]}}))
    with pytest.raises(Exception, match="add a policy: section, or remove the variant"):
        load_scenario(path)


def test_stop_fields_are_variant_keys_too(tmp_path):
    scenario = load_scenario(bank_scenario(tmp_path, variants={"stop.max_turns": [4, 8]}))
    assert [scenario.variant(i)[0].stop.max_turns for i in range(2)] == [4, 8]


def test_labels_are_shared_by_evaluate_and_report():
    dialog = Dialog(metadata={"variant": {"policy.enforce": False, "temperature": 0.9},
                              "policy": {"mode": "prompt_only"}})
    assert (variant_label(dialog), arm_label(dialog)) == ("temperature=0.9", "prompt_only")
    assert setup_name(*setup_of(dialog)) == "temperature=0.9 · prompt_only"
    assert setup_name(*setup_of(Dialog())) == "default"
