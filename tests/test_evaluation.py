"""Adherence metrics on hand-built dialogues whose answers are known."""


import pytest

from roleplay.dialog import Dialog, Event, Turn
from roleplay.errors import DatasetError
from roleplay.evaluation import (
    compare_with_real,
    consistency,
    evaluate_dialog,
    evaluate_folder,
    sequence_similarity,
    summarize,
    write_report,
)
from roleplay.policy.graph import add_action, new_graph


@pytest.fixture
def graph():
    """greet -> ask -> lookup(query) -> {found: inform (goal), empty: sorry}; inform -> bye; oos anywhere."""
    g = new_graph("shop", "greet")
    add_action(g, "greet", "global", "Hello, welcome to the shop.")
    add_action(g, "ask", "action", "Which product are you looking for?")
    add_action(g, "lookup", "query")
    add_action(g, "found", "outcome")
    add_action(g, "empty", "outcome")
    g.nodes["found"]["when"], g.nodes["empty"]["when"] = "found", "empty"
    add_action(g, "inform", "action", "We have {product} in stock.", goal=True)
    add_action(g, "sorry", "action", "Sorry, that product is sold out.")
    add_action(g, "bye", "global", "Goodbye.")
    add_action(g, "oos", "global", "I can only help with products.", anywhere=True)
    g.add_edges_from([("greet", "ask"), ("ask", "lookup"), ("lookup", "found"), ("lookup", "empty"),
                      ("found", "inform"), ("empty", "sorry"), ("inform", "bye"), ("sorry", "bye")])
    return g


def dialog(actions, found=True, texts=None):
    turns, events = [], []
    for action in actions:
        if action == "lookup":
            events.append(Event(type="query", turn=len(turns), data={"task": "shop", "action": "lookup",
                                                                     "found": found}))
            continue
        turns.append(Turn("User", "something"))
        turns.append(Turn("System", (texts or {}).get(action, action), action=action))
    return Dialog(id=1, turns=turns, events=events)


def test_perfect_dialogue(graph):
    m = evaluate_dialog(dialog(["greet", "ask", "lookup", "inform", "bye"]), {"shop": graph})
    assert m.legal_rate == 1.0 and m.violations == 0 and m.first_violation is None
    assert m.completed and m.path_length == 5 and m.path[2] == "lookup"
    assert m.coverage == pytest.approx(5 / 7)  # system nodes: greet ask lookup inform sorry bye oos
    assert m.turns == 8


def test_violation_counts_and_first_violation_turn(graph):
    # inform after an empty lookup is illegal (the query found nothing); the goal is reached anyway
    m = evaluate_dialog(dialog(["greet", "ask", "lookup", "inform", "bye"], found=False), {"shop": graph})
    assert m.violations == 1 and m.legal_rate == pytest.approx(4 / 5)
    assert m.first_violation == 5  # the System turn saying inform
    m = evaluate_dialog(dialog(["greet", "bye"]), {"shop": graph})
    assert (m.legal_rate, m.completed, m.first_violation) == (0.5, False, 3)


def test_out_of_scope_does_not_break_the_flow(graph):
    m = evaluate_dialog(dialog(["greet", "oos", "ask", "lookup", "inform"]), {"shop": graph})
    assert m.legal_rate == 1.0


def test_consistency_score(graph):
    assert consistency("Which product are you looking for today?", "Which product are you looking for?") == 1.0
    assert consistency("Nice weather.", "Which product are you looking for?") == 0.0
    assert consistency("We have shoes in stock", "We have {product} in stock.") == 1.0  # slot names do not count
    assert consistency("anything", "Ok") is None  # no content word to match
    m = evaluate_dialog(dialog(["greet", "ask"], texts={"greet": "Hello there, welcome!", "ask": "Which one?"}),
                        {"shop": graph})
    # greet: {hello, welcome, shop} -> 2/3; ask: {which, product, looking} -> 1/3
    assert m.consistency == pytest.approx(0.5)


def test_summary_and_comparison(graph):
    good = evaluate_dialog(dialog(["greet", "ask", "lookup", "inform", "bye"]), {"shop": graph})
    bad = evaluate_dialog(dialog(["greet", "bye"]), {"shop": graph})
    rows = summarize([good, bad])
    assert [r["task"] for r in rows] == ["shop", "ALL"]
    assert rows[-1]["completion"] == 0.5 and rows[-1]["legal_rate"] == 0.75
    assert sequence_similarity(["a", "b", "c"], ["a", "c"]) == pytest.approx(2 / 3)
    comparison = compare_with_real([bad], {"1": good})
    assert comparison["pairs"] == 1
    assert comparison["action_sequence_similarity"] == pytest.approx(0.4)
    assert comparison["real_turns"]["mean"] == 8 and comparison["generated_turns"]["mean"] == 4


def test_folder_and_report(graph, tmp_path):
    dialog(["greet", "ask"]).to_file(tmp_path / "runs" / "json" / "1.json")
    report = evaluate_folder(tmp_path / "runs", lambda d: {"shop": graph})
    assert report["summary"][-1]["dialogs"] == 1
    json_path, csv_path = write_report(report, tmp_path / "report")
    assert json_path.name == "report.json" and csv_path.read_text().startswith("task,variant,arm,dialogs")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No dialogue JSON files"):
        evaluate_folder(tmp_path / "empty", lambda d: {"shop": graph})
