"""Coverage-driven generation (`--cover`): targets, steering, determinism, resume, recorded misses, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from policy_dialogs import system_follows_the_prior
from scripted_runs import DOCTOR_INTAKE, TINY, doctor_intake_dialog
from slow_cli import kill_9_then_rerun, slow_cli

from roleplay._aio import run_sync
from roleplay.backends.scripted import example_of, scripted_model
from roleplay.cli import cli
from roleplay.errors import ConfigError
from roleplay.evaluation.coverage import folder_coverage
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.personas import Persona
from roleplay.policy._steering import Steering
from roleplay.policy.config import Policy
from roleplay.policy.graph import read_dot
from roleplay.policy.planning import PlanModel, PlanState
from roleplay.runs.cover import check_cover, cover_candidates
from roleplay.runs.folder import RunFolder
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
GRAPH = ROOT / "scenarios" / "doctor_intake.dot"


def run_batch(out: Path, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["batch", str(DOCTOR_INTAKE), "--out", str(out), "--model", "scripted:auto",
                                      "--max-turns", "16", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def dialogs_of(out: Path) -> list[dict]:
    """Each dialogue's actions, words and target, in id order (what must not change between runs)."""
    dialogs = sorted(RunFolder(out).load_dialogs(), key=lambda d: d.id)
    return [{"id": d.id, "turns": [(t.speaker, t.text, t.action) for t in d.turns],
             "target": d.metadata.get("coverage_target")} for d in dialogs]


def edge_coverage(out: Path) -> tuple[int, int]:
    graph = read_dot(GRAPH)
    [task] = folder_coverage(out, lambda d: {"doctor_intake": graph})
    return task.edges.covered, task.edges.reachable


def test_the_planner_knows_which_edges_the_orchestrator_rules_allow():
    model = PlanModel(read_dot(GRAPH), goal_user=False)
    assert ("ask_red_flags", "no") in model.coverable() and ("no", "give_advice") in model.coverable()
    plan = model.plan(PlanState(), {("no", "give_advice")}, finish=True)
    assert [s.move.value for s in plan if s.move.kind in ("act", "answer")] == [
        "greet", "ask_complaint", "ask_severity", "ask_red_flags", "no", "give_advice", "anything_else", "goodbye"]
    assert model.plan(PlanState(), {("no", "give_advice")}, finish=True, turns=6) is None  # too few turns


def test_cover_edges_takes_every_coverable_edge_that_the_plain_run_misses(tmp_path):
    run_batch(tmp_path / "plain", "-n", "4")
    run_batch(tmp_path / "cover", "-n", "4", "--cover", "edges")
    plain, covered = edge_coverage(tmp_path / "plain"), edge_coverage(tmp_path / "cover")
    assert plain[0] < covered[0] == covered[1]  # the scripted Doctor alone always takes the same path
    targets = [d["target"] for d in dialogs_of(tmp_path / "cover") if d["target"]]
    assert targets and all(t["reached"] and t["completable"] for t in targets)
    assert {"answer": "no"} in [{k: v for k, v in s.items() if k == "answer"} for t in targets for s in t["steered"]]
    assert json.loads((tmp_path / "cover" / "batch.json").read_text())["cover"] == {"kind": "edges", "wave": 1}


def test_cover_branches_aims_only_at_outcome_and_answer_branches():
    graph = read_dot(GRAPH)
    assert cover_candidates(graph, "branches", load_scenario(DOCTOR_INTAKE).load_policy()) == [
        ("ask_red_flags", "no"), ("ask_red_flags", "yes")]


def test_same_seed_same_targets_and_dialogues_at_any_concurrency(tmp_path):
    run_batch(tmp_path / "a", "-n", "5", "--cover", "edges", "--seed", "3")
    run_batch(tmp_path / "b", "-n", "5", "--cover", "edges", "--seed", "3", "--concurrency", "4")
    assert dialogs_of(tmp_path / "a") == dialogs_of(tmp_path / "b")


def test_a_wider_wave_aims_its_dialogues_at_distinct_edges(tmp_path):
    run_batch(tmp_path / "w", "-n", "3", "--cover", "branches", "--cover-wave", "2", "--concurrency", "2")
    first_wave = [tuple(d["target"]["edge"]) for d in dialogs_of(tmp_path / "w")[:2]]
    assert sorted(first_wave) == [("ask_red_flags", "no"), ("ask_red_flags", "yes")]


def test_a_resumed_run_gives_the_same_coverage_as_an_uninterrupted_one(tmp_path):
    run_batch(tmp_path / "whole", "-n", "6", "--cover", "edges")
    run_batch(tmp_path / "parts", "-n", "2", "--cover", "edges")
    output = run_batch(tmp_path / "parts", "-n", "6", "--cover", "edges")  # n extends a batch
    assert "2 skipped" in output
    assert dialogs_of(tmp_path / "parts") == dialogs_of(tmp_path / "whole")


def test_kill_9_then_resume_gives_the_same_dialogues_and_coverage(tmp_path):
    def args(out: Path) -> list[str]:
        return [sys.executable, str(slow_cli(tmp_path, sleep=0.02)), "batch", str(DOCTOR_INTAKE), "-n", "8",
                "--out", str(out), "--model", "slow", "--max-turns", "12", "--cover", "edges"]
    before, rerun = kill_9_then_rerun(args(tmp_path / "killed"), tmp_path / "killed", 2)
    assert rerun.returncode == 0, rerun.stderr
    assert 2 <= before < 8
    whole = subprocess.run(args(tmp_path / "whole"), capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    assert dialogs_of(tmp_path / "killed") == dialogs_of(tmp_path / "whole")
    assert edge_coverage(tmp_path / "killed") == edge_coverage(tmp_path / "whole")


def test_a_target_not_reached_is_recorded_not_forced(monkeypatch):
    """The Patient of this script says "no" whatever it is asked: a steering towards "yes" misses, and says so."""
    doctor_intake_dialog(monkeypatch)  # registers the always-"no" script as model "canned"
    generator = load_scenario(DOCTOR_INTAKE).generator(model="canned")
    dialog = run_sync(generator.agenerate(seed=1, steer=Steering("doctor_intake", [("ask_red_flags", "yes")])))
    target = dialog.metadata["coverage_target"]
    assert target["edge"] == ["ask_red_flags", "yes"] and target["reached"] is False
    assert any(step.get("answer") == "yes" for step in target["steered"])  # asked for; the Patient said no
    assert "give_advice" in dialog.metadata["policy"]["path"]  # the dialogue went on, on its graph


def test_the_tool_finds_nothing_when_the_target_is_the_empty_outcome_and_the_event_says_so(tmp_path):
    (tmp_path / "shop.dot").write_text(TINY)
    user = scripted_model(fn=system_follows_the_prior(
        lambda request: json.dumps(example_of(request.schema)) if request.schema else "Fine."))
    generator = PersonaDialogGenerator(user, agents=[AgentSpec(name="User", persona=Persona(name="User")),
                                                     AgentSpec(name="System", persona=Persona(name="System"))],
                                       first_speaker="System", max_turns=10, guards=Guards(enabled=False),
                                       policy=Policy(agent="System", graphs={"shop": read_dot(tmp_path / "shop.dot")}))
    dialog = run_sync(generator.agenerate(seed=4, steer=Steering("shop", [("search", "empty")])))
    [query] = [e.data for e in dialog.events if e.type == "query"]
    assert query["found"] is False and query["steered"] is True  # the shop has no tool: it would have found
    target = dialog.metadata["coverage_target"]
    assert target["reached"] is True and {"turn": 2, "outcome": "empty", "applied": True} in target["steered"]
    assert dialog.metadata["policy"]["path"] == ["greet", "search", "sorry", "goodbye"]


def test_bad_cover_values_are_refused_with_the_fix():
    result = CliRunner().invoke(cli, ["batch", str(DOCTOR_INTAKE), "-n", "2", "--out", "/tmp/never",
                                      "--cover", "nodes"])
    assert result.exit_code == 2 and "'nodes' is not one of 'edges', 'branches'" in result.output
    with pytest.raises(ConfigError, match="Unknown --cover 'nodes'; use 'edges'"):
        check_cover("nodes", {"g": read_dot(GRAPH)})


def test_cover_without_a_policy_graph_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["batch", str(ROOT / "scenarios" / "doctor_patient.yaml"), "-n", "2",
                                      "--out", str(tmp_path / "o"), "--model", "scripted:auto", "--cover", "edges"])
    assert result.exit_code != 0
    assert "--cover steers the agent that follows a policy graph, and this scenario has none" in result.output
    assert not (tmp_path / "o" / "dialogs").exists()


def test_cover_needs_the_local_executor(tmp_path):
    result = CliRunner().invoke(cli, ["batch", str(DOCTOR_INTAKE), "-n", "2", "--out", str(tmp_path / "o"),
                                      "--cover", "edges", "--executor", "processes"])
    assert result.exit_code != 0 and "--cover needs --executor local" in result.output
