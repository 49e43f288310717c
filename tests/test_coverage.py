"""Policy coverage of run folders: nodes, edges, outcome/answer branches and anywhere-actions, and reachability."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from scripted_runs import TINY, doctor_intake_dialog

from roleplay.cli import cli
from roleplay.dialog import Dialog, Event, Turn
from roleplay.evaluation.coverage import dialog_edges, folder_coverage, reachable
from roleplay.policy.graph import read_dot
from roleplay.runs.folder import RunFolder

ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.dot"
    path.write_text(TINY)
    return path


def shop_dialog(dialog_id, found, answer, detour=False):
    """A dialogue on the tiny graph: greet, search (found or not), then offer/yes-no or sorry, goodbye."""
    turns = [Turn("System", "Hello.", action="greet"), Turn("User", "Find me a lamp.")]
    events = [Event(type="query", turn=2, data={"task": "shop", "action": "search", "found": found})]
    if detour:
        turns += [Turn("System", "I cannot help with that.", action="oos"), Turn("User", "Fine.")]
        events[0].turn = 4
    if found:
        turns += [Turn("System", "Shall I book it?", action="offer"), Turn("User", f"{answer}.")]
        turns += [Turn("System", "Booked.", action="book")] if answer == "Yes" else []
    else:
        turns += [Turn("System", "Sorry, none.", action="sorry"), Turn("User", "Ok.")]
    turns.append(Turn("System", "Bye.", action="goodbye"))
    return Dialog(id=dialog_id, turns=turns, events=events, metadata={"policy": {"tasks": ["shop"]}})


def run_folder(tmp_path, dialogs):
    folder = RunFolder(tmp_path / "run")
    for dialog in dialogs:
        folder.save(dialog.id, dialog)
    return tmp_path / "run"


def test_reachable_stops_at_terminal_actions_and_adds_anywhere_actions(shop):
    nodes, edges = reachable(read_dot(shop))
    assert "oos" in nodes and ("goodbye", "greet") not in edges
    assert ("search", "empty") in edges and len(edges) == 11


def test_a_dialogue_credits_the_resolved_branches_it_went_through(shop):
    graph = read_dot(shop)
    seen = dialog_edges(shop_dialog(0, found=True, answer="No"), {"shop": graph})["shop"]
    assert sorted(seen["edges"]) == [("found", "offer"), ("greet", "search"), ("no", "goodbye"),
                                     ("offer", "no"), ("search", "found")]
    assert seen["illegal"] == 0 and "yes" not in seen["nodes"]


def test_the_step_back_from_an_anywhere_action_is_judged_from_before_the_detour(shop):
    graph = read_dot(shop)
    seen = dialog_edges(shop_dialog(0, found=False, answer=None, detour=True), {"shop": graph})["shop"]
    assert "oos" in seen["nodes"] and ("greet", "search") in seen["edges"]
    assert not any("oos" in edge for edge in seen["edges"])


def test_an_illegal_step_credits_nothing(shop):
    graph = read_dot(shop)
    dialog = Dialog(id=0, turns=[Turn("System", "Hi.", action="greet"), Turn("System", "Booked.", action="book")])
    seen = dialog_edges(dialog, {"shop": graph})["shop"]
    assert seen["illegal"] == 1 and seen["edges"] == [] and "book" not in seen["nodes"]


def test_a_step_after_an_action_off_the_graph_credits_no_edge_from_it(shop):
    """A prompt-only model invents actions; the step after one has no edge to credit (it raised KeyError)."""
    graph = read_dot(shop)
    dialog = Dialog(id=0, turns=[Turn("System", "Hm.", action="made_up#1,x"), Turn("System", "Hello.", action="greet"),
                                 Turn("User", "Find me a lamp."), Turn("System", "Bye.", action="goodbye")])
    seen = dialog_edges(dialog, {"shop": graph})["shop"]
    assert seen["illegal"] >= 1 and "made_up#1,x" not in seen["nodes"]
    assert not any("made_up#1,x" in edge for edge in seen["edges"])


def test_folder_coverage_counts_and_lists_what_was_never_reached(tmp_path, shop):
    graph = read_dot(shop)
    folder = run_folder(tmp_path, [shop_dialog(0, True, "Yes"), shop_dialog(1, True, "Yes", detour=True)])
    [task] = folder_coverage(folder, lambda d: {"shop": graph})
    assert task.dialogs == 2 and task.edges.reachable == 11 and task.edges.total == 12
    assert (task.outcome_branches.covered, task.outcome_branches.reachable) == (1, 2)
    assert (task.answer_branches.covered, task.answer_branches.reachable) == (1, 2)
    assert (task.anywhere.covered, task.anywhere.reachable) == (1, 1)
    assert {(e["from"], e["to"]) for e in task.uncovered_edges} == {
        ("search", "empty"), ("empty", "sorry"), ("sorry", "goodbye"), ("offer", "no"), ("no", "goodbye")}
    assert task.unreachable_edges == [{"from": "goodbye", "to": "greet", "source": "dot"}]
    assert task.edge_visits["greet -> search"] == 2 and task.uncovered_nodes == ["empty", "no", "sorry"]


def test_every_branch_covered_reaches_full_coverage(tmp_path, shop):
    graph = read_dot(shop)
    dialogs = [shop_dialog(0, True, "Yes", detour=True), shop_dialog(1, True, "No"), shop_dialog(2, False, None)]
    [task] = folder_coverage(run_folder(tmp_path, dialogs), lambda d: {"shop": graph})
    assert task.edges.rate == task.nodes.rate == task.answer_branches.rate == 1.0 and task.uncovered_edges == []


def test_a_scripted_run_of_the_doctor_intake_scenario(tmp_path, monkeypatch):
    dialog = doctor_intake_dialog(monkeypatch)
    folder = run_folder(tmp_path, [dialog.model_copy(update={"id": 0})])
    graph = ROOT / "scenarios" / "doctor_intake.dot"
    result = CliRunner().invoke(cli, ["coverage", str(folder), "--graph", str(graph)])
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "coverage.json").read_text())
    [task] = report["tasks"]
    assert task["answer_branches"] == {"covered": 1, "reachable": 2, "total": 2}
    uncovered = {(e["from"], e["to"]) for e in task["uncovered_edges"]}
    assert {("ask_red_flags", "yes"), ("yes", "refer_urgent")} <= uncovered and ("ask_red_flags", "no") not in uncovered
    assert "ask_red_flags -> yes" in result.output and "doctor_intake" in result.output
    assert (folder / "coverage.csv").read_text().startswith("task,dialogs,nodes")


@pytest.mark.parametrize(("args", "message"), [
    (["--graph", "{shop}", "--star-path", "x"], "not both"),
    ([], "names no scenario with a graph"),
    (["--graph", "{other}"], "No dialogue in"),
])
def test_cli_bad_input(tmp_path, shop, args, message):
    folder = run_folder(tmp_path, [shop_dialog(0, True, "Yes")])
    other = tmp_path / "other.dot"
    other.write_text(TINY.replace("digraph shop", "digraph other").replace("oos [", "xx [kind=action]; oos ["))
    result = CliRunner().invoke(cli, ["coverage", str(folder), *(a.format(shop=shop, other=other) for a in args)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_cli_on_a_folder_without_dialogues(tmp_path, shop):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["coverage", str(tmp_path / "empty"), "--graph", str(shop)])
    assert result.exit_code == 1 and "No dialogue JSON files" in result.output


def test_the_report_lists_the_edges_never_taken(tmp_path, shop):
    from roleplay.viz.report import make_report

    graph = read_dot(shop)
    html = make_report([shop_dialog(0, True, "Yes"), shop_dialog(1, True, "No")], {"shop": graph})
    section = html[html.index("<h2>Policy coverage</h2>"):html.index("<h2>Per variant")]
    assert "search → empty" in section and "empty → sorry" in section and "offer → no" not in section
    assert "<td>8/11</td>" in section and "<td>3/4</td>" in section


def test_the_report_draws_the_edges_never_taken_dashed_red_on_the_heatmap(shop):
    from roleplay.viz.flowchart import policy_heatmap
    from roleplay.viz.report import make_report

    graph = read_dot(shop)
    html = make_report([shop_dialog(0, True, "Yes"), shop_dialog(1, True, "No")], {"shop": graph})
    heatmap = html[html.index("<h2>Where the dialogues went</h2>"):html.index("<h2>Transcripts</h2>")]
    dashed = heatmap.count('stroke-dasharray="6,4"')
    assert dashed == 3 + 1 and "reachable, never taken" in heatmap  # search->empty, empty->sorry, sorry->goodbye + key
    plain = policy_heatmap(graph, [["greet", "search"]]).svg
    assert 'stroke-dasharray="6,4"' not in plain and "never taken" not in plain  # drawn only when asked


def test_a_batch_of_a_bundled_scenario_finds_its_graph_without_graph(tmp_path):
    """`roleplay batch doctor_intake` records the bundled name; coverage and report find its graph from it."""
    run = tmp_path / "intake"
    batch = CliRunner().invoke(cli, ["batch", "doctor_intake", "-n", "2", "--out", str(run), "-m", "scripted:auto"])
    assert batch.exit_code == 0, batch.output
    assert json.loads((run / "batch.json").read_text())["scenario"] == "doctor_intake"
    coverage = CliRunner().invoke(cli, ["coverage", str(run)])
    assert coverage.exit_code == 0, coverage.output
    assert json.loads((run / "coverage.json").read_text())["tasks"][0]["task"] == "doctor_intake"
    report = CliRunner().invoke(cli, ["report", str(run)])
    assert report.exit_code == 0, report.output
    assert "Policy coverage" in (run / "report.html").read_text()
