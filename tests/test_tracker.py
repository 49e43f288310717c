"""FlowchartTracker: transitions, violations, branches, anywhere-actions, multi-task, replay."""

import json
from pathlib import Path

import pytest

from roleplay.datasets.star._graphs import base_graph
from roleplay.dialog import Dialog, Event, Turn
from roleplay.errors import PolicyGraphError
from roleplay.policy._answers import answer_of
from roleplay.policy.graph import NodeKind
from roleplay.policy.tracker import FlowchartTracker, replay

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"


def mini(task: str):
    return base_graph(task, json.loads((FIXTURE / "tasks" / task / f"{task}.json").read_text()))


@pytest.fixture
def tracker():
    return FlowchartTracker(mini("mini_book"))


def test_legal_path_to_the_goal(tracker):
    for action in ["hello", "ask_name", "mini_ask_room", "mini_ask_day", "query_check"]:
        assert tracker.advance(action).legal, action
    assert tracker.pending(NodeKind.OUTCOME) == ["available", "unavailable"]
    tracker.resolve_when(NodeKind.OUTCOME, "found")
    assert "mini_room_unavailable" not in tracker.legal_actions()
    tracker.advance("mini_ask_confirm_booking")
    assert tracker.resolve_when(NodeKind.ANSWER, "yes") == "yes"
    assert tracker.legal_actions()[0] == "query_book"
    tracker.advance("query_book")
    tracker.resolve("query_success")
    assert not tracker.completed()
    assert tracker.advance("mini_booking_succeeded").legal
    assert tracker.completed()
    tracker.advance("anything_else")
    assert not tracker.at_terminal()
    tracker.advance("goodbye_1")
    assert tracker.at_terminal()
    assert tracker.violations == []
    assert tracker.path[-2:] == ["anything_else", "goodbye_1"]


def test_illegal_action_is_recorded_once_then_resynced(tracker):
    tracker.advance("hello")
    step = tracker.advance("mini_booking_succeeded")  # jumps over the whole booking
    assert not step.legal and "ask_name" in step.allowed
    assert tracker.advance("anything_else").legal  # judged from where the dialogue really is
    assert [s.action for s in tracker.violations] == ["mini_booking_succeeded"]


def test_unknown_action_is_a_violation(tracker):
    step = tracker.advance("dance")
    assert not step.legal
    assert tracker.position[tracker.task] is None  # unknown labels do not move the tracker


def test_out_of_scope_resumes_where_it_was(tracker):
    tracker.advance("hello")
    tracker.advance("ask_name")
    assert tracker.advance("out_of_scope").legal
    assert "mini_ask_room" in tracker.legal_actions()
    assert tracker.advance("mini_ask_room").legal


def test_resolve_rejects_a_branch_that_does_not_follow(tracker):
    tracker.advance("hello")
    with pytest.raises(PolicyGraphError, match="'yes' does not follow 'hello'"):
        tracker.resolve("yes")


def test_multi_task_switch():
    tracker = FlowchartTracker({"mini_info": mini("mini_info"), "mini_book": mini("mini_book")})
    assert tracker.task == "mini_info"
    tracker.advance("hello")
    step = tracker.advance("mini_ask_room")  # only the booking graph has it; legal there from the start? no
    assert step.task == "mini_book"
    assert tracker.task == "mini_book"
    tracker.switch("mini_info")
    assert tracker.advance("mini_ask_topic").legal
    assert not tracker.completed()
    with pytest.raises(PolicyGraphError, match="Unknown task 'nope'"):
        tracker.switch("nope")


def test_empty_tracker_is_an_error():
    with pytest.raises(PolicyGraphError, match="at least one policy graph"):
        FlowchartTracker({})


@pytest.mark.parametrize("text, answer", [
    ("Yes please, book it.", "yes"), ("Sure.", "yes"), ("No, not that one.", "no"),
    ("I don't want it", "no"), ("Got it, I'm there now.", "done"), ("The blue one.", None),
])
def test_answer_of(text, answer):
    assert answer_of(text) == answer


def test_replay_resolves_queries_and_answers():
    dialog = Dialog(turns=[
        Turn("System", "Hi", action="hello"), Turn("User", "book the blue room, I'm Robin"),
        Turn("System", "Free. Book it?", action="mini_ask_confirm_booking"), Turn("User", "No thanks."),
        Turn("System", "Which room then?", action="mini_ask_room"),
    ], events=[Event(type="query", turn=2, data={"task": "mini_book", "action": "query_check", "found": True})])
    tracker = FlowchartTracker({"mini_book": mini("mini_book")})
    steps = [(step.action, step.legal, turn) for step, _, turn in replay(tracker, dialog)]
    assert steps == [("hello", True, 0), ("query_check", True, 2), ("mini_ask_confirm_booking", True, 2),
                     ("mini_ask_room", True, 4)]
