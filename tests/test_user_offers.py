"""A goal-aware user accepts an offer to do what it came for ("a viewing is free, shall I book it?")."""

import json

from policy_dialogs import run_policy_dialog

from roleplay.backends.scripted import ScriptedRequest
from roleplay.policy.graph import add_action, new_graph, steps_to_goal
from roleplay.policy.tracker import FlowchartTracker
from roleplay.policy.user import UserGoal


def _booking_graph():
    """hello -> check -> offer ("shall I book it?"): yes -> book -> booked (goal); no -> ask_day -> check again.

    A mined ``no -> book`` edge (a wizard who booked anyway) must not count as the flowchart's way.
    """
    graph = new_graph("booking", "hello")
    add_action(graph, "hello", "global")
    add_action(graph, "ask_day", template="Which day?")
    add_action(graph, "check", "query")
    add_action(graph, "offer", template="It is free. Shall I book it?")
    add_action(graph, "book", "query")
    add_action(graph, "booked", template="Booked!", goal=True)
    add_action(graph, "bye", "global", template="Bye!")
    graph.nodes["bye"]["terminal"] = True
    for answer in ("yes", "no"):
        add_action(graph, answer, "answer")
        graph.nodes[answer]["when"] = answer
        graph.add_edge("offer", answer, source="rule")
    for u, v, n in (("hello", "check", 3), ("check", "offer", 3), ("yes", "book", 2), ("no", "ask_day", 4),
                    ("ask_day", "check", 2), ("book", "booked", 2), ("booked", "bye", 2)):
        graph.add_edge(u, v, source="dict", count=n)
    graph.add_edge("no", "book", source="mined", count=1)
    graph.nodes["hello"]["starts"] = 3
    return graph


def test_the_answer_that_reaches_the_goal_sooner_on_the_flowchart():
    graph = _booking_graph()
    assert steps_to_goal(graph, "yes") == 2 and steps_to_goal(graph, "no") == 6  # the mined no -> book is left out
    tracker = FlowchartTracker(graph)
    assert not tracker.offer_pending()  # nothing asked yet
    for action in ("hello", "check", "offer"):
        tracker.advance(action)
    assert tracker.offer_pending()
    add_action(graph, "done", goal=True)  # "no" reaches a goal at once: not an offer (ride_book's closing goals)
    graph.add_edge("no", "done", source="dict")
    assert not _asked_offer(graph)
    graph.remove_node("done")
    graph.remove_edge("no", "ask_day")  # "no" leads nowhere near a goal: the flowchart says nothing of the question
    assert steps_to_goal(graph, "no") is None and not _asked_offer(graph)


def _asked_offer(graph) -> bool:
    tracker = FlowchartTracker(graph)
    for action in ("hello", "check", "offer"):
        tracker.advance(action)
    return tracker.offer_pending()


def reluctant_user(request: ScriptedRequest) -> str:
    """The User says "no" whenever it may, and closes when told to."""
    props = (request.schema or {}).get("properties", {})
    if "answer" in props:
        return json.dumps({"answer": props["answer"]["enum"][-1], "utterance": "Hmm, not sure."})
    if "need nothing else" in request.last:
        return "Thanks, I need nothing else. Goodbye! [END]"
    return "I want to book a viewing on Tuesday."


def run_booking(happy: bool):
    return run_policy_dialog(reluctant_user, "booking", _booking_graph(),
                             UserGoal(request="Book a viewing on Tuesday.", happy=happy), max_turns=8)


def test_a_happy_user_accepts_the_offer_its_goal_needs():
    dialog, model = run_booking(happy=True)
    asked = [r.schema["properties"]["answer"]["enum"] for r in model.client.history
             if r.schema and "answer" in r.schema["properties"]]
    assert asked == [["yes"]]  # the model only words the answer its goal settles
    assert dialog.metadata["policy"]["path"][:5] == ["hello", "check", "offer", "book", "booked"]
    assert dialog.metadata["policy"]["completed"] and dialog.metadata["user"]["served"]
    answer = next(t for t in dialog.turns if t.metadata.get("answer"))
    assert answer.metadata["answer"] == "yes" and answer.text.startswith("Yes")


def test_an_unhappy_user_still_decides_for_itself():
    dialog, model = run_booking(happy=False)
    asked = [r.schema["properties"]["answer"]["enum"] for r in model.client.history
             if r.schema and "answer" in r.schema["properties"]]
    assert asked[0] == ["yes", "no"]
    assert dialog.metadata["policy"]["path"][:5] == ["hello", "check", "offer", "ask_day", "check"]
