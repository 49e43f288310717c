"""`GoalUser`: one dialogue's goal-aware user, as the policy orchestrator asks it."""

from roleplay.policy.user import Behaviour, GoalUser, UserGoal


def test_without_a_goal_the_user_asks_nothing_of_the_loop():
    user = GoalUser()
    assert (user.stage(), user.rounds, user.note("Clerk", None, {}), user.record()) == ("", 1, "", None)
    assert user.hear_self("Bye.", True, "") is None and user.state.turns == 0
    assert user.closed and not user.must_end  # goodbyes are the policy's own business
    assert user.settled_answer(offer_pending=True) is None


def test_a_goal_user_moves_from_asking_to_closing_and_records_its_state():
    user = GoalUser(UserGoal(request="Book a room.", facts={"day": "Tuesday"}, rounds=2))
    assert user.stage() == "ask" and not user.closed
    recorded = user.hear_self("I want a room on Tuesday.", False, "ask")
    assert recorded is not None and recorded["stage"] == "ask" and recorded["said"] == ["day"]
    assert user.settled_answer(offer_pending=True) == "yes" and user.settled_answer(offer_pending=False) is None
    assert user.served_rounds(goals=1, served=False)  # one of two rounds: a new round starts
    assert not user.served_rounds(goals=2, served=True) and user.stage() == "close"
    assert user.settled_answer(offer_pending=True) is None  # served: the model answers
    user.hear_self("Thanks, bye.", True, "close")
    assert user.closed and not user.must_end
    user.hear_self("Bye.", True, "closed")
    assert user.must_end and user.record()["closing_turns"] == 2


def test_an_unhappy_user_settles_nothing_and_an_out_of_scope_turn_changes_only_that_note():
    goal = UserGoal(request="Book a room.", facts={"day": "Tuesday"}, happy=False)
    assert GoalUser(goal).settled_answer(offer_pending=True) is None
    user = GoalUser(goal.model_copy(update={"happy": True, "behaviours": [Behaviour(kind="quiet", turn=5)]}))
    user.hear_self("I want a room.", False, user.stage())  # answering now: a planned behaviour can play
    plain, detour = user.note("Clerk", None, {}), user.note("Clerk", None, {}, out_of_scope=True)
    assert plain != detour and user.goal is not None and len(user.goal.behaviours) == 1  # the goal is not changed
