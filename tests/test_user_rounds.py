"""A goal-aware user who wants several rounds of the same service (STAR trivia: "play 5 questions")."""

from pathlib import Path

import pytest
from policy_dialogs import run_policy_dialog

from roleplay.backends.scripted import ScriptedRequest
from roleplay.datasets.star._loader import STAR
from roleplay.datasets.star.user import numbered_answers, rounds_in, star_user_goal
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.evaluation import evaluate_dialog
from roleplay.policy.graph import add_action, new_graph
from roleplay.policy.prior import Prior
from roleplay.policy.tracker import FlowchartTracker
from roleplay.policy.user import UserGoal, UserState, known_answer, user_note

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"
TRIVIA_LIKE = ("You would like to play a game of trivia. You've already answered some of the questions, so you "
               "should start from question 3 and play 3 questions. You have answers for the following questions: "
               "(5) wind, (7) do not iron. For the rest, try your best!")


@pytest.mark.parametrize(("request_text", "rounds"), [
    (TRIVIA_LIKE, 3), ("Play five questions with me.", 5), ("I want to play three rounds.", 3),
    ("Let's answer 4 more questions.", 4), ("You (Robin) want to book 2 rooms on Monday.", 1),
    ("You would like to play a game of trivia.", 1), ("", 1),
])
def test_rounds_are_read_from_the_instructions(request_text, rounds):
    assert rounds_in(request_text) == rounds


def test_numbered_answers_come_from_the_sentence_about_answers():
    assert numbered_answers(TRIVIA_LIKE) == {"5": "wind", "7": "do not iron"}
    assert numbered_answers("Start from question (3). You have answers: (2) canton; (11) two in the bush!") == {
        "2": "canton", "11": "two in the bush"}
    assert numbered_answers("You (Robin) want the Blue Room.") == {}


def test_star_user_goal_wants_the_rounds_its_instructions_ask_for():
    STAR.set_path(FIXTURE)
    try:
        scenario = {"UserTask": TRIVIA_LIKE, "Happy": True, "WizardCapabilities": [{"Task": "mini_info"}]}
        goal = star_user_goal(scenario, STAR.dataset)
        assert goal.rounds == 3 and goal.answers == {"5": "wind", "7": "do not iron"}
        assert star_user_goal(STAR.get_dialog_scenario(1), STAR.dataset).rounds == 1
    finally:
        STAR.clear()


def test_the_user_asks_for_the_next_round_until_every_round_is_served():
    goal = UserGoal(request="Play 3 questions.", rounds=3, answers={"5": "wind"})
    state = UserState(turns=2, goals=1)
    assert state.stage(goal) == "inform"
    note = user_note(goal, state, "System", "trivia_ask_question")
    assert "served 1 of the 3 rounds" in note and "say yes" in note and "Do not say goodbye yet" in note
    assert "your answer to it is wind" in user_note(goal, state, "System", "trivia_ask_question", {"Num": 5})
    assert known_answer(goal, {"Num": 4}) is None and "your answer" not in note
    state.goals, state.served = 3, True
    assert state.stage(goal) == "close" and "was handled" in user_note(goal, state, "System", None)
    assert "rounds" not in user_note(UserGoal(request="x"), UserState(turns=1, goals=1), "System", None)


def _round_graph():
    """hello -> ask_question -> inform_ask_next (goal) -> ask_question again, or anything_else -> bye."""
    graph = new_graph("quiz", "hello")
    add_action(graph, "hello", "global")
    add_action(graph, "ask_question", template="Here is a question.")
    add_action(graph, "inform_ask_next", template="Correct! Another one?", goal=True)
    add_action(graph, "anything_else", "global", template="Anything else?")
    add_action(graph, "bye", "global", template="Bye!")
    graph.nodes["bye"]["terminal"] = True
    for u, v, n in (("hello", "ask_question", 4), ("ask_question", "inform_ask_next", 6),
                    ("inform_ask_next", "ask_question", 5), ("inform_ask_next", "anything_else", 3),
                    ("anything_else", "bye", 3)):
        graph.add_edge(u, v, source="dot", count=n)
    graph.nodes["hello"]["starts"] = 4
    return graph


def quiz_user(request: ScriptedRequest) -> str:
    """The User follows its note: next round, or close."""
    if "need nothing else" in request.last:
        return "Thanks, I need nothing else. Goodbye! [END]"
    return "Yes, the next question please."


def run_quiz(rounds: int):
    prior = Prior(mode="argmax", revisit=0.5)  # over the whole path, a third question would look less likely
    return run_policy_dialog(quiz_user, "quiz", _round_graph(),  # than closing before the goal
                             UserGoal(request=f"Play {rounds} questions.", rounds=rounds), max_turns=30, prior=prior)


def test_a_user_who_wants_three_rounds_plays_three_before_closing():
    dialog, model = run_quiz(3)
    assert dialog.metadata["policy"]["path"] == ["hello", *["ask_question", "inform_ask_next"] * 3, "anything_else",
                                                 "bye"]
    assert dialog.stop_reason == StopReason.END_SIGNAL
    user = dialog.metadata["user"]
    assert user["goal"]["rounds"] == 3 and user["goals"] == 3 and user["served"] and user["quit_attempts"] == 0
    stages = [t.metadata["user_state"]["stage"] for t in dialog.turns if t.speaker == "User"]
    assert stages == ["ask", *["inform"] * 5, "close", "closed"]  # closes only after the third goal
    notes = [r.last for r in model.client.history if not r.schema]
    assert any("served 2 of the 3 rounds" in note for note in notes)
    assert not evaluate_dialog(dialog, {"quiz": _round_graph()}).user_quit_before_goal


def test_one_round_closes_after_the_first_goal_as_before():
    dialog, _ = run_quiz(1)
    assert dialog.metadata["policy"]["path"] == ["hello", "ask_question", "inform_ask_next", "anything_else", "bye"]
    assert dialog.metadata["user"]["goals"] == 1 and dialog.metadata["user"]["served"]


def test_goal_arrivals_count_rounds_not_goal_steps():
    tracker = FlowchartTracker(_round_graph())
    for action in ("hello", "ask_question", "inform_ask_next", "inform_ask_next", "ask_question", "inform_ask_next"):
        tracker.advance(action)
    assert tracker.goal_arrivals() == 2 and tracker.completed()


def test_a_goal_that_asks_a_question_counts_each_answered_round():
    """Trivia's "Correct! Would you like to continue?" asks; the user's answer opens the next round."""
    graph = _round_graph()
    add_action(graph, "correct", "answer", template="Correct")
    graph.nodes["correct"]["when"] = "correct"
    graph.add_edge("inform_ask_next", "correct", source="rule")
    graph.add_edge("correct", "inform_ask_next", source="dict", count=4)
    tracker = FlowchartTracker(graph)
    for action in ("hello", "ask_question", "inform_ask_next", "inform_ask_next", "inform_ask_next"):
        tracker.advance(action)
    assert tracker.goal_arrivals() == 3 and tracker.served(3) and not tracker.served(4)


def test_a_user_who_ends_after_one_of_two_rounds_quit_before_the_goal():
    turns = []
    for i, action in enumerate(["hello", "ask_question", "inform_ask_next", "anything_else"]):
        turns.append(Turn("User", "hi", metadata={"wants_end": True} if i == 3 else {}))
        turns.append(Turn("System", action, action=action))
    graphs = {"quiz": _round_graph()}
    two = Dialog(id=1, turns=turns, metadata={"user": {"goal": {"rounds": 2}}})
    assert evaluate_dialog(two, graphs).user_quit_before_goal
    assert not evaluate_dialog(Dialog(id=1, turns=turns), graphs).user_quit_before_goal
