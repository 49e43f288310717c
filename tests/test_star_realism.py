"""Realistic STAR simulations on fixtures: transition counts, the human prior, the goal-aware user, natural
endings and the fidelity metrics."""

import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from policy_dialogs import said_action

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.cli import cli
from roleplay.cli._star import PRIOR_CHOICES
from roleplay.datasets.star._graphs import mark_closing_goals
from roleplay.datasets.star._loader import STAR, fold_of
from roleplay.datasets.star.generate import agenerate_star, query_tool, star_policy
from roleplay.datasets.star.user import star_user_goal
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError, PolicyGraphError
from roleplay.evaluation import compare_with_real, evaluate_dialog
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.policy.graph import add_action, is_terminal, legal_actions, new_graph, read_dot, write_dot
from roleplay.policy.prior import PRIOR_MODES, Prior, closing_actions, narrow, option_count, probabilities, weigh
from roleplay.policy.user import UserGoal, UserState, relevant_fact, user_note

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"


@pytest.fixture
def star():
    STAR.set_path(FIXTURE)
    yield STAR
    STAR.clear()


def test_every_edge_counts_the_dialogues_that_took_it(star):
    graph = star.get_task_graph("mini_book")
    assert graph.edges["hello", "ask_name"]["count"] == 1  # dialogue 1
    assert graph.edges["available", "mini_ask_confirm_booking"]["count"] == 1  # from the resolved outcome
    assert graph.edges["ask_name", "mini_ask_room"]["source"] == "dict" and graph.edges["ask_name", "mini_ask_room"][
        "count"] == 1  # dialogue 3: a dict edge counts too
    assert graph.edges["mini_ask_day", "query_check"]["count"] == 0
    assert graph.nodes["hello"]["starts"] == 1 and graph.nodes["ask_name"]["starts"] == 1
    assert "ask_name" in legal_actions(graph, None)  # an action real dialogues opened with is legal first


def test_held_out_graphs_are_mined_without_their_fold(star):
    assert {fold_of(i) for i in star.dialog_ids()} == {0} and fold_of(11) == 1
    unseen = star.get_task_graph("mini_info", held_out=0)  # every fixture dialogue is in fold 0
    assert all(d["count"] == 0 and d["source"] != "mined" for _, _, d in unseen.edges(data=True))
    seen = star.get_task_graph("mini_info", held_out=1)
    assert seen.edges["mini_inform_nothing_found", "mini_bye"]["count"] == 1
    assert sorted(seen.edges(data=True)) == sorted(star.get_task_graph("mini_info").edges(data=True))


def test_counts_and_flags_survive_dot(star, tmp_path):
    graph = star.get_task_graph("mini_book")
    back = read_dot(write_dot(graph, tmp_path / "b.dot"))
    assert back.nodes["hello"]["starts"] == 1 and back.nodes["goodbye_1"]["terminal"] is True
    assert back.edges["hello", "ask_name"]["count"] == 1
    bad = tmp_path / "bad.dot"
    bad.write_text('digraph g { graph [start="a"]; a [starts=many]; a -> b; }')
    with pytest.raises(PolicyGraphError, match=r"Node a has starts='many'.*`a \[starts=3\]`"):
        read_dot(bad)


def test_a_goodbye_marked_terminal_ends_even_if_wizards_went_on():
    graph = new_graph("g", "a")
    add_action(graph, "a")
    add_action(graph, "bye", "global")
    graph.add_edge("a", "bye", source="dot")
    graph.add_edge("bye", "a", source="mined", count=1)
    assert not is_terminal(graph, "bye")
    graph.nodes["bye"]["terminal"] = True
    assert is_terminal(graph, "bye") and closing_actions(graph) == {"bye"}


def _counted_graph():
    graph = new_graph("g", "start")
    for node in ("start", "ask", "inform", "else", "bye"):
        add_action(graph, node, "global" if node in ("else", "bye", "start") else "action")
    add_action(graph, "q", "query")
    add_action(graph, "ok", "outcome")
    graph.nodes["ok"]["when"] = "found"
    graph.nodes["bye"]["terminal"] = True
    for u, v, n in (("start", "ask", 8), ("start", "inform", 2), ("ask", "q", 5), ("q", "ok", 0), ("ok", "inform", 4),
                    ("inform", "else", 3), ("inform", "bye", 1), ("else", "bye", 2)):
        graph.add_edge(u, v, source="dot", count=n)
    return graph


def test_probabilities_are_smoothed_shares_of_the_counts():
    graph = _counted_graph()
    assert probabilities(graph, "start", ["ask", "inform"], smoothing=0) == {"ask": 0.8, "inform": 0.2}
    assert probabilities(graph, "start", ["ask", "inform"], smoothing=1) == {"ask": 0.75, "inform": 0.25}
    assert option_count(graph, "q", "inform") == 4  # through the unresolved outcome branch
    assert probabilities(graph, "else", ["bye"], smoothing=0) == {"bye": 1.0}
    assert probabilities(graph, "ask", ["start", "inform"], smoothing=0) == {"start": 0.5, "inform": 0.5}


def test_weigh_discounts_revisits_and_favours_closing_after_the_goal():
    graph, prior = _counted_graph(), Prior(mode="argmax", smoothing=0, revisit=0.1, closing_boost=10)
    assert [a for a, _ in weigh(graph, "start", ["ask", "inform"], [], prior, False)] == ["ask", "inform"]
    assert [a for a, _ in weigh(graph, "start", ["ask", "inform"], ["ask", "ask"], prior, False)][0] == "inform"
    before = dict(weigh(graph, "inform", ["else", "ask"], [], prior.model_copy(update={"smoothing": 1}), False))
    after = dict(weigh(graph, "inform", ["else", "ask"], [], prior.model_copy(update={"smoothing": 1}), True))
    assert after["else"] > before["else"] and sum(after.values()) == pytest.approx(1.0)


def test_closing_is_as_much_less_likely_before_the_goal_as_it_is_likelier_after():
    graph, prior = _counted_graph(), Prior(smoothing=0, backoff=0, closing_boost=4)
    shares = probabilities(graph, "inform", ["else", "bye"], smoothing=0)  # else 3, bye 1: both close
    assert dict(weigh(graph, "inform", ["else", "bye"], [], prior, False)) == pytest.approx(shares)
    graph.add_edge("ok", "else", source="dot", count=4)  # as often as inform: weighed 1/4 before, 4 after
    before = dict(weigh(graph, "ok", ["inform", "else"], [], prior, False))
    after = dict(weigh(graph, "ok", ["inform", "else"], [], prior, True))
    assert before["else"] == pytest.approx(0.2) and after["else"] == pytest.approx(0.8)


def test_goals_are_where_the_counted_dialogues_mostly_closed():
    graph = _counted_graph()  # inform: 3 of 4 transitions out of it close (else, bye)
    graph.nodes["inform"]["goal"] = False
    assert mark_closing_goals(graph) == ["inform"] and graph.nodes["inform"]["goal"]
    graph = _counted_graph()
    graph.nodes["inform"]["goal"] = False
    assert mark_closing_goals(graph, min_count=5) == []  # too few transitions to say
    graph.edges["inform", "else"]["count"] = 1  # 2 of 5 close: not where they mostly closed
    graph.add_edge("inform", "ask", source="dot", count=3)
    assert mark_closing_goals(graph) == []


@pytest.mark.parametrize(("mode", "mass", "offered"), [
    ("none", 0.6, ["a", "b", "c"]), ("rank", 0.6, ["a", "b", "c"]), ("argmax", 0.6, ["a"]),
    ("nucleus", 0.6, ["a", "b"]), ("nucleus", 0.0, ["a"]), ("nucleus", 1.0, ["a", "b", "c"]),
])
def test_narrow_by_mode(mode, mass, offered):
    weighted = [("a", 0.5), ("b", 0.3), ("c", 0.2)]
    assert narrow(weighted, Prior(mode=mode, mass=mass), random.Random(0)) == offered


def test_sample_follows_the_prior_and_the_seed():
    weighted, prior = [("a", 0.9), ("b", 0.1)], Prior(mode="sample")
    draws = [narrow(weighted, prior, random.Random(seed))[0] for seed in range(200)]
    assert 150 < draws.count("a") < 200 and draws == [narrow(weighted, prior, random.Random(s))[0] for s in range(200)]


def test_star_user_goal_takes_facts_from_the_instructions(star):
    goal = star_user_goal(star.get_dialog_scenario(1), star)
    assert goal.facts == {"Your name": "Robin", "Room": "Blue Room", "Day": "Monday"}
    assert goal.needs == ["Room", "Your name"] and goal.happy is True
    assert relevant_fact(goal, "mini_ask_day") == "Day" and relevant_fact(goal, "ask_name") == "Your name"
    assert relevant_fact(goal, "hello") is None


def test_user_state_stages():
    goal, state = UserGoal(request="Book the Blue Room.", facts={"Room": "Blue Room"}), UserState()
    assert state.stage(goal) == "ask" and "State what you want" in user_note(goal, state, "System", "hello")
    state.hear_self(goal, "I want the blue room, bye!", wants_end=True, stage="ask")
    assert state.said == ["Room"] and state.quit_attempts == 1 and state.stage(goal) == "inform"
    assert "Do not say goodbye yet" in user_note(goal, state, "System", "mini_ask_room")
    assert "your Room: it is Blue Room" in user_note(goal, state, "System", "mini_ask_room")
    state.served = True
    assert state.stage(goal) == "close" and "was handled" in user_note(goal, state, "System", None)
    state.hear_self(goal, "Thanks, that is all.", wants_end=True, stage="close")
    assert state.closing_turns == 1 and state.quit_attempts == 1 and state.stage(goal) == "closed"
    refused = UserState(refusals=1, turns=2)
    assert refused.stage(goal.model_copy(update={"happy": False})) == "close" and refused.stage(goal) == "inform"


def goal_user_script(request: ScriptedRequest) -> str:
    """The System says what it does; the User follows its note (states facts, closes when told to)."""
    props = (request.schema or {}).get("properties", {})
    if "action" in props:
        return json.dumps({"action": props["action"]["enum"][0] if "enum" in props["action"] else "hello"})
    if said_action(request):
        return f"I do {said_action(request)}."
    if "answer" in props:
        return json.dumps({"answer": "yes", "utterance": "Yes, please."})
    if props:  # the tool's arguments
        return json.dumps({"Name": "Blue Room", "Day": "Monday", "CustomerName": "Robin", "RequestType": "Book"})
    if "need nothing else" in request.last:
        return "Thanks, that is all. Goodbye! [END]"
    return "I am Robin and I want the Blue Room on Monday. Bye [END]"  # an early end signal, to be ignored


def test_goal_aware_user_ends_naturally_on_the_argmax_path(star):
    model = scripted_model(fn=goal_user_script)
    dialog = star.get_dialog_scenario(1)
    policy = star_policy(dialog, prior=Prior(mode="argmax", backoff=0), goal_user=True, star=star.dataset)
    generator = PersonaDialogGenerator(model, agents=[
        AgentSpec(name="User", persona=star.get_user_persona_for_scenario(dialog)),
        AgentSpec(name="System", persona=star.get_system_persona_for_scenario(dialog))],
        first_speaker="System", policy=policy, max_turns=30)
    result = generator.generate(seed=1)
    path = result.metadata["policy"]["path"]
    assert result.stop_reason == StopReason.END_SIGNAL and result.metadata["policy"]["completed"]
    assert result.metadata["policy"]["prior"] == "argmax" and result.metadata["policy"]["legal_rate"] == 1.0
    assert path[:2] == ["hello", "ask_name"] and path[-1] == "goodbye_1"  # hello -> ask_name: the counted edge
    user = result.metadata["user"]
    assert user["served"] and user["closing_turns"] >= 1 and user["quit_attempts"] >= 1
    assert set(user["said"]) == {"Your name", "Room", "Day"} and user["goal"]["facts"]["Room"] == "Blue Room"
    closing = next(i for i, t in enumerate(result.turns) if t.metadata.get("user_state", {}).get("stage") == "close")
    assert all(not is_terminal(policy.graphs["mini_book"], t.action) for t in result.turns[:closing] if t.action)
    metrics = evaluate_dialog(result, policy.graphs)
    assert metrics.user_quit_before_goal and not metrics.ended_by_max_turns  # the early [END] counts as a quit
    notes = [r for r in model.client.history if not r.schema and "Your goal" in r.last]
    assert notes and "Robin" in notes[0].last
    assert all(sum("Your goal" in text for _, _, text in r.messages) == 1 for r in notes)  # old notes forgotten


def test_shares_are_shown_when_the_model_chooses(star):
    model = scripted_model(fn=goal_user_script)
    scenario = star.get_dialog_scenario(1)
    policy = star_policy(scenario, prior="rank", star=star.dataset)
    generator = PersonaDialogGenerator(model, agents=[
        AgentSpec(name="User", persona=star.get_user_persona_for_scenario(scenario)),
        AgentSpec(name="System", persona=star.get_system_persona_for_scenario(scenario))],
        first_speaker="System", policy=policy, max_turns=2)
    generator.generate(seed=1)
    note = next(r.last for r in model.client.history if r.schema and "action" in r.schema["properties"])
    assert "- hello (human agents: " in note and "- ask_name (human agents: " in note


def test_agenerate_star_with_realism_options_and_a_bad_prior(star):
    dialog = agenerate_star_sync(star, prior="argmax", goal_user=True, held_out=True)
    assert dialog.metadata["policy"]["prior"] == "argmax" and "user" in dialog.metadata
    with pytest.raises(ConfigError, match="Unknown prior 'best'; use one of: none, rank, nucleus, sample, argmax"):
        agenerate_star_sync(star, prior="best")


def agenerate_star_sync(star, **options):
    from roleplay._aio import run_sync
    return run_sync(agenerate_star(1, model="scripted:auto", star=star.dataset, max_turns=6, **options))


def test_lenient_tool_answers_with_the_closest_rows(star):
    args = {"Name": "Blue Room", "Day": "Monday", "CustomerName": "Robin", "RequestType": "Check"}
    strict, lenient = query_tool("mini_book", star=star.dataset), query_tool("mini_book", star=star.dataset,
                                                                             lenient=True)
    assert strict({**args, "Name": "Green Room"}).found is False
    assert lenient({**args, "Name": "Green Room"}).found is True
    assert lenient({"Day": "Monday"}).error == "missing required Name, CustomerName, RequestType"


def _dialog(actions, stop=None, user_end_at=None):
    turns = []
    for i, action in enumerate(actions):
        turns.append(Turn("User", "hi", metadata={"wants_end": True} if i == user_end_at else {}))
        turns.append(Turn("System", action, action=action))
    return Dialog(id=5, turns=turns, stop_reason=stop)


def test_fidelity_metrics(star):
    graphs = {"mini_info": star.get_task_graph("mini_info")}
    real = evaluate_dialog(_dialog(["hello", "mini_ask_topic", "mini_inform_answer", "anything_else"]), graphs)
    ended = evaluate_dialog(_dialog(["hello", "mini_ask_topic"], StopReason.MAX_TURNS, user_end_at=1), graphs)
    assert ended.ended_by_max_turns and ended.user_quit_before_goal and not real.user_quit_before_goal
    late = evaluate_dialog(_dialog(["hello", "mini_ask_topic", "mini_inform_answer", "mini_bye"], user_end_at=3),
                           graphs)
    assert not late.user_quit_before_goal and not late.ended_by_max_turns  # quitting after the goal is fine
    comparison = compare_with_real([ended], {"5": real})
    assert comparison["length_ratio"]["mean"] == 0.5 and comparison["length_ratio"]["within_0.8_1.25"] == 0.0
    assert comparison["action_sequence_similarity"] == 0.5


def test_cli_generate_with_realism_flags(star, tmp_path):
    assert PRIOR_CHOICES == PRIOR_MODES
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["star", "generate", "--star-path", str(FIXTURE), "--id", "1", "--out", str(out),
                                      "-m", "scripted:auto", "--prior", "argmax", "--goal-user", "--held-out",
                                      "--max-turns", "8"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "dialogs" / "1.json").read_text())
    assert saved["metadata"]["policy"]["prior"] == "argmax" and saved["metadata"]["user"]["goal"]["facts"]
    bad = CliRunner().invoke(cli, ["star", "generate", "--star-path", str(FIXTURE), "--out", str(out),
                                   "--prior", "best"])
    assert bad.exit_code != 0 and "'best' is not one of" in bad.output


def test_pooling_across_tasks_and_pruning_rare_mined_edges(star):
    from roleplay.datasets.star._graphs import add_mined, base_graph, count_transitions, pool_across_tasks, prune_rare
    graphs = {t: base_graph(t, star.get_task(t)) for t in star.tasks()}
    graphs["mini_info"].add_edge("anything_else", "out_of_scope", source="mined", count=1)
    added = pool_across_tasks(graphs)
    assert added == 1 and graphs["mini_book"].edges["anything_else", "out_of_scope"]["source"] == "pooled"
    assert pool_across_tasks(graphs, min_tasks=3) == 0
    counted = {t: base_graph(t, star.get_task(t)) for t in star.tasks()}
    dialogs = list(star.iter_dialogs(progress=False))
    add_mined(counted, Counter({("mini_book", "mini_booking_succeeded", "mini_ask_room"): 1}), min_count=1)
    count_transitions(counted, dialogs)
    book = counted["mini_book"]
    assert book.edges["hello", "ask_name"]["count"] == 1
    assert prune_rare(book, 0.5) == 0  # nobody left mini_booking_succeeded through an edge: no shares to judge
    book.edges["mini_booking_succeeded", "mini_ask_room"]["count"] = 1
    book.edges["mini_booking_succeeded", "anything_else"]["count"] = 3
    assert prune_rare(book, 0.3) == 1 and not book.has_edge("mini_booking_succeeded", "mini_ask_room")
    book.edges["mini_booking_succeeded", "anything_else"]["count"] = 0
    assert prune_rare(book, 0.3) == 0 and book.has_edge("mini_booking_succeeded", "anything_else")  # rules stay


def test_a_scenario_file_sets_the_prior(tmp_path):
    from roleplay.errors import ScenarioError
    from roleplay.scenario import load_scenario
    (tmp_path / "g.dot").write_text('digraph g { graph [start="a"]; a [goal=true]; b [terminal=true]; '
                                    'a -> b [count=3]; }')
    text = ("name: s\nagents:\n  - {name: A, persona: {name: A}}\n  - {name: B, persona: {name: B}}\n"
            "policy: {agent: A, graph: g.dot, prior: %s}\n")
    (tmp_path / "s.yaml").write_text(text % "argmax")
    assert load_scenario(tmp_path / "s.yaml").load_policy().prior.mode == "argmax"
    (tmp_path / "s.yaml").write_text(text % "best")
    with pytest.raises(ScenarioError, match="prior"):
        load_scenario(tmp_path / "s.yaml")


def test_a_transition_through_an_unclear_answer_counts_on_the_branch_that_leads_there():
    from roleplay.datasets.star._graphs import count_transitions
    graph = new_graph("quiz", "ask")
    for node, kind in (("ask", "action"), ("yes", "answer"), ("no", "answer"), ("book", "action"),
                       ("again", "action")):
        add_action(graph, node, kind)
    graph.nodes["yes"]["when"], graph.nodes["no"]["when"] = "yes", "no"
    for u, v in (("ask", "yes"), ("ask", "no"), ("ask", "ask"), ("yes", "book"), ("yes", "again"), ("no", "again")):
        graph.add_edge(u, v, source="rule")
    graph.add_edge("no", "book", source="mined")  # a wizard's odd move: the flowchart's yes → book is preferred
    scenario = {"WizardCapabilities": [{"Task": "quiz"}]}

    def dialog(number, answer, then):
        turns = [Turn(speaker="W", text="?", action="ask"), Turn(speaker="U", text=answer),
                 Turn(speaker="W", text="!", action=then)]
        return Dialog(id=number, scenario=scenario, turns=turns)

    count_transitions({"quiz": graph}, [dialog(1, "Yes please", "again"), dialog(2, "Snail", "book"),
                                        dialog(3, "Hmm, snail", "again"), dialog(4, "Snail", "ask"),
                                        dialog(5, "No", "book")])
    assert graph.edges["yes", "book"]["count"] == 1 and graph.edges["no", "book"]["count"] == 1
    assert option_count(graph, "ask", "book") == 2  # was 1: dialogue 2 (unclear answer) was lost
    # "again" follows both answers: the unclear one goes where the clear ones went (yes), not to "no"
    assert graph.edges["yes", "again"]["count"] == 2 and graph.edges["no", "again"]["count"] == 0
    assert graph.edges["ask", "ask"]["count"] == 1 and graph.nodes["ask"]["starts"] == 5  # direct edges as before


def _typed_result_dialog(number: int, found: bool) -> dict:
    """A raw STAR dialogue (mini_info) whose wizard types the query's result instead of picking the reply."""
    said = lambda agent, text, label=None: {"Agent": agent, "Action": "pick_suggestion" if label else "utter",  # noqa: E731
                                            "Text": text, **({"ActionLabel": label} if label else {})}
    return {"DialogueID": number, "Scenario": {"Happy": True, "MultiTask": False, "UserTask": "Ask about parking.",
                                               "WizardCapabilities": [{"Task": "mini_info"}]},
            "Events": [said("User", "hi"), said("Wizard", "Hello, how can I help?", "hello"),
                       said("User", "parking?"),
                       {"Agent": "Wizard", "Action": "query", "APIName": "mini_info", "Constraints": []},
                       {"Agent": "KnowledgeBase", "Action": "return_item", "APIName": "mini_info",
                        "Item": {"Message": "free"} if found else None},
                       said("Wizard", "Parking is free."), said("User", "thanks"),
                       said("Wizard", "Anything else?", "anything_else")]}


def test_typed_results_after_a_successful_query_count_as_the_result(tmp_path):
    from roleplay.datasets.star._graphs import base_graph, label_free_results, result_actions
    root = tmp_path / "star"
    shutil.copytree(FIXTURE, root)
    for number, found in ((11, True), (31, True), (51, False)):
        (root / "dialogues" / f"{number}.json").write_text(json.dumps(_typed_result_dialog(number, found)))
    STAR.set_path(root)
    try:
        graphs = {t: base_graph(t, STAR.get_task(t)) for t in STAR.tasks()}
        assert result_actions(graphs["mini_info"], "query") == ["mini_inform_answer"]
        assert result_actions(graphs["mini_book"], "query_check") == []  # a check's next step asks to book
        real = STAR.get_dialog(11)
        labelled = label_free_results(graphs, real)
        assert [t.action for t in labelled.turns if t.speaker == "System"] == [
            "hello", "mini_inform_answer", "anything_else"]
        assert real.turns[3].action is None  # the real dialogue itself is unchanged
        failed = label_free_results(graphs, STAR.get_dialog(51))
        assert [t.action for t in failed.turns if t.speaker == "System"] == ["hello", None, "anything_else"]
        graph = STAR.get_task_graph("mini_info", held_out=0)  # mined from 11, 31 and 51 (fold 1)
        assert graph.edges["query", "mini_inform_answer"]["count"] == 2
        assert graph.edges["mini_inform_answer", "anything_else"]["count"] == 2
    finally:
        STAR.clear()


def test_mining_keeps_both_readings_of_a_typed_result(star):
    """As typed (held-out wizards' labelled actions stay accepted) and as the result (the dialogue can go on)."""
    from roleplay.datasets.star._graphs import base_graph, mine_transitions
    from roleplay.dialog import Event
    graphs = {t: base_graph(t, star.get_task(t)) for t in star.tasks()}
    turns = [Turn("System", "Hello", action="hello"), Turn("User", "parking?"), Turn("System", "Parking is free."),
             Turn("User", "and?"), Turn("System", "What else?", action="mini_ask_topic")]
    dialog = Dialog(id=11, scenario={"WizardCapabilities": [{"Task": "mini_info"}]}, turns=turns,
                    events=[Event(type="query", turn=2, data={"task": "mini_info", "action": "query", "found": True})])
    counts = mine_transitions(graphs, [dialog])
    assert counts[("mini_info", "query", "mini_ask_topic")] == 1
    assert counts[("mini_info", "mini_inform_answer", "mini_ask_topic")] == 1
    assert dialog.turns[2].action is None
