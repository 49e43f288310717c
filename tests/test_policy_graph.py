"""Policy graphs: STAR reconstruction rules, legal actions, DOT round trips and bad DOT files."""

import json
import warnings
from pathlib import Path

import pytest

from roleplay.datasets.star._graphs import base_graph, classify
from roleplay.errors import PolicyGraphError
from roleplay.policy.graph import (
    NodeKind,
    PolicyGraphWarning,
    add_action,
    check_graph,
    goal_nodes,
    is_terminal,
    legal_actions,
    mean_out_degree,
    new_graph,
    read_dot,
    to_dot,
    write_dot,
)

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"
ROOT = Path(__file__).resolve().parent.parent


def mini(task: str):
    return base_graph(task, json.loads((FIXTURE / "tasks" / task / f"{task}.json").read_text()))


def test_classify_names():
    assert classify("query_check") == NodeKind.QUERY
    assert classify("available") == NodeKind.OUTCOME
    assert classify("yes") == NodeKind.ANSWER
    assert classify("goodbye_2") == classify("ride_bye") == classify("out_of_scope") == NodeKind.GLOBAL
    assert classify("mini_ask_day") == NodeKind.ACTION


def test_reconstruction_adds_the_implicit_branches():
    graph = mini("mini_book")
    assert graph.graph["start"] == "hello"
    # query_check -> available/unavailable, query_book -> success/failure: missing from the dict
    assert set(graph.successors("query_check")) >= {"available", "unavailable"}
    assert set(graph.successors("query_book")) >= {"query_success", "query_failure"}
    # the confirmation question has no successor in the dict: it gets the yes/no answers
    assert set(graph.successors("mini_ask_confirm_booking")) == {"yes", "no"}
    assert graph.edges["query_check", "available"]["source"] == "rule"
    assert graph.edges["hello", "ask_name"]["source"] == "dict"
    assert goal_nodes(graph) == ["mini_booking_failed", "mini_booking_succeeded"]
    assert graph.nodes["out_of_scope"]["anywhere"] is True
    assert graph.nodes["query_failure"]["when"] == "empty"


def test_legal_actions_follow_resolutions():
    graph = mini("mini_book")
    both = legal_actions(graph, "query_check")
    assert {"mini_ask_confirm_booking", "mini_room_unavailable"} <= set(both)
    found = legal_actions(graph, "query_check", resolution="available")
    assert "mini_ask_confirm_booking" in found and "mini_room_unavailable" not in found
    assert legal_actions(graph, "mini_ask_confirm_booking", resolution="yes")[0] == "query_book"
    assert legal_actions(graph, "mini_ask_confirm_booking", resolution="no")[0] == "mini_ask_room"
    # the start: the greeting, or skip it; out_of_scope is legal everywhere and listed last
    start = legal_actions(graph, None)
    assert start[:2] == ["hello", "ask_name"] and start[-1] == "out_of_scope"


def test_slot_questions_may_be_skipped_and_repeated():
    graph = mini("mini_book")
    assert {"mini_ask_day", "query_check", "ask_name"} <= set(legal_actions(graph, "ask_name"))
    assert "mini_booking_succeeded" not in legal_actions(graph, "ask_name")


def test_terminal_and_out_degree():
    graph = mini("mini_book")
    assert is_terminal(graph, "goodbye_1")
    assert not is_terminal(graph, "anything_else")
    assert 1 < mean_out_degree(graph) < 6


def test_dot_round_trip(tmp_path):
    graph = mini("mini_book")
    path = write_dot(graph, tmp_path / "mini_book.dot")
    back = read_dot(path)
    assert back.graph["start"] == "hello"
    assert set(back.edges) == set(graph.edges)
    for node in graph:
        for key in ("kind", "template", "goal", "anywhere"):
            assert back.nodes[node][key] == graph.nodes[node][key], (node, key)
    assert back.nodes["yes"]["when"] == "yes"
    assert to_dot(back) == to_dot(graph)


def test_shipped_doctor_intake_graph():
    graph = read_dot(ROOT / "scenarios" / "doctor_intake.dot")
    assert graph.graph["start"] == "greet"
    assert legal_actions(graph, "ask_red_flags", resolution="yes")[0] == "refer_urgent"
    assert goal_nodes(graph) == ["give_advice", "refer_urgent"]


@pytest.mark.parametrize("text, message", [
    ("digraph g { a -> ", "Not valid DOT"),
    ("digraph g { a -> b; }", "names no start node"),
    ('digraph g { graph [start="z"]; a -> b; }', "Unknown start node 'z'"),
    ('digraph g { graph [start="a"]; a [kind=banana]; a -> b; }', "unknown kind 'banana'"),
    ('digraph g { graph [start="a"]; a -> b [count=abc]; }',
     r"Edge a -> b has count='abc'.*\[count=3\]` or leave it out"),
    ('digraph g { graph [start="a"]; a -> b [count=-2]; }', "Edge a -> b has count='-2'"),
    ('digraph g { graph [start="r"]; r [kind=outcome, when=found]; r -> a; }',
     r"start node 'r' is an outcome node.*point `graph \[start=...\]` at an action"),
    ('digraph g { graph [start="yes"]; yes [kind=answer]; yes -> a; }', "start node 'yes' is an answer node"),
    ("", "no graph found"),
])
def test_bad_dot_files(tmp_path, text, message):
    path = tmp_path / "bad.dot"
    path.write_text(text)
    with pytest.raises(PolicyGraphError, match=message):
        read_dot(path)


def test_missing_dot_file(tmp_path):
    with pytest.raises(PolicyGraphError, match="No such DOT file"):
        read_dot(tmp_path / "nowhere.dot")


def test_unreachable_nodes_warn(tmp_path):
    path = tmp_path / "g.dot"
    path.write_text('digraph g { graph [start="a"]; a -> b; c -> d; }')
    with pytest.warns(PolicyGraphWarning, match="not reachable from start 'a': c, d"):
        read_dot(path)


def test_a_cycle_that_never_reaches_a_goal_warns(tmp_path):
    path = tmp_path / "g.dot"
    path.write_text('digraph g { graph [start="a"]; a -> b; b -> c; c -> b; d [goal=true]; a -> d; }')
    with pytest.warns(PolicyGraphWarning, match="the cycle b, c never reaches a goal"):
        read_dot(path)


def test_a_graph_without_goals_warns_about_its_cycles(tmp_path):
    path = tmp_path / "g.dot"
    path.write_text('digraph g { graph [start="a"]; a -> b; b -> a; }')
    with pytest.warns(PolicyGraphWarning, match="the cycle a, b never reaches a goal"):
        read_dot(path)


@pytest.mark.parametrize("edges", [
    "a -> b; b -> a; b -> g;",               # a retry loop that can still reach the goal
    "a -> g; g -> x; x -> y; y -> x;",       # a loop after the goal: the task is complete
    "a -> g; a -> bye; bye -> bye;",         # a goodbye said twice ends the dialogue anyway
])
def test_cycles_that_are_fine_do_not_warn(tmp_path, edges):
    path = tmp_path / "g.dot"
    path.write_text(f'digraph g {{ graph [start="a"]; g [goal=true]; {edges} }}')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_dot(path)


def test_graphs_built_in_python_are_checked_too():
    graph = new_graph("t", start="found")
    add_action(graph, "found", "outcome")
    add_action(graph, "a")
    graph.add_edge("found", "a")
    with pytest.raises(PolicyGraphError, match="start node 'found' is an outcome node"):
        check_graph(graph)
    graph = new_graph("t", start="a")
    add_action(graph, "a")
    add_action(graph, "b", goal=True)
    graph.add_edge("a", "b", count="many")
    with pytest.raises(PolicyGraphError, match="Edge a -> b has count='many'"):
        check_graph(graph)
