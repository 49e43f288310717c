"""Synthetic STAR corpora: the calibrated sampling prior, users with behaviours drawn from data, determinism."""

import json
import random

import pytest
from click.testing import CliRunner
from test_star_realism import FIXTURE

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.cli import cli
from roleplay.datasets.star._loader import STAR, fold_of
from roleplay.datasets.star.generate import star_policy
from roleplay.datasets.star.user import behaviour_rates, dialog_behaviours, star_user_goal
from roleplay.dialog import Dialog, Turn
from roleplay.evaluation import evaluate_dialog
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.policy.graph import add_action, new_graph
from roleplay.policy.prior import Prior, default_mode, narrow, probabilities, shares, unigram_count, weigh
from roleplay.policy.user import BEHAVIOURS, Behaviour, UserGoal, UserState, sample_behaviours, user_note


@pytest.fixture
def star():
    STAR.set_path(FIXTURE)
    yield STAR
    STAR.clear()


def _toy(counts: dict[str, int]):
    graph = new_graph("toy", "s")
    add_action(graph, "s", "action")
    for node, count in counts.items():
        add_action(graph, node, "action")
        graph.add_edge("s", node, source="dot", count=count)
    return graph


def test_sampled_actions_follow_the_counts_chi_square():
    graph, counts = _toy({"a": 60, "b": 30, "c": 10}), {"a": 60, "b": 30, "c": 10}
    prior = Prior(mode="sample", smoothing=0, revisit=1.0, closing_boost=1.0, temperature=1.0, backoff=0.0)
    draws = 3000
    picked = [narrow(weigh(graph, "s", ["a", "b", "c"], [], prior, False), prior, random.Random(seed))[0]
              for seed in range(draws)]
    chi_square = sum((picked.count(a) - draws * n / 100) ** 2 / (draws * n / 100) for a, n in counts.items())
    assert chi_square < 13.8  # 2 degrees of freedom, p = 0.001
    flat = prior.model_copy(update={"temperature": 1e6})  # a huge temperature: uniform
    picked = [narrow(weigh(graph, "s", ["a", "b", "c"], [], flat, False), flat, random.Random(seed))[0]
              for seed in range(draws)]
    assert sum((picked.count(a) - draws / 3) ** 2 / (draws / 3) for a in counts) < 13.8


def test_temperature_and_back_off_by_hand():
    prior = Prior(smoothing=0, backoff=0, temperature=2.0)
    # shares 0.9, 0.1 -> square roots 0.949, 0.316 -> 0.75, 0.25
    assert shares([9, 1], [0, 0], prior) == pytest.approx([0.75, 0.25])
    assert shares([9, 1], [0, 0], Prior(smoothing=0, backoff=0, temperature=0.5)) == pytest.approx([81 / 82, 1 / 82])
    # back-off 2 with 2 local counts: weight 2/4 on local (1, 0), 2/4 on anywhere (1/4, 3/4)
    assert shares([2, 0], [1, 3], Prior(smoothing=0, backoff=2)) == pytest.approx([0.625, 0.375])
    assert shares([0, 0], [1, 3], Prior(smoothing=0, backoff=2)) == pytest.approx([0.25, 0.75])  # unseen: anywhere
    assert shares([0, 0], [0, 0], Prior(smoothing=0)) == [0.5, 0.5]
    assert Prior().backoff > 0 and shares([4, 0], [0, 4], Prior()) != shares([4, 0], [0, 4], Prior(backoff=0))


def test_unigram_counts_and_probabilities_with_a_prior():
    graph = _toy({"a": 3, "b": 1})
    graph.add_edge("a", "b", source="dot", count=5)
    graph.nodes["b"]["starts"] = 2
    assert unigram_count(graph, "b") == 8 and unigram_count(graph, "a") == 3 and unigram_count(graph, "x") == 0
    # from "a", nothing counted towards "s": back-off gives the anywhere shares of s (0) and b (8)
    assert probabilities(graph, "b", ["s", "b"], Prior(smoothing=0, backoff=1)) == pytest.approx({"s": 0, "b": 1})
    assert probabilities(graph, "s", ["a", "b"], 0) == {"a": 0.75, "b": 0.25}  # a bare smoothing still works


def test_sample_is_the_default_for_graphs_with_counts(tmp_path):
    from roleplay.scenario import load_scenario
    assert default_mode([_toy({"a": 1})]) == "sample" and default_mode([_toy({"a": 0})]) == "none"
    text = ("name: s\nagents:\n  - {name: A, persona: {name: A}}\n  - {name: B, persona: {name: B}}\n"
            "policy: {agent: A, graph: g.dot}\n")
    (tmp_path / "s.yaml").write_text(text)
    dot = 'digraph g { graph [start="a"]; a [goal=true]; b [terminal=true]; a -> b%s; }'
    (tmp_path / "g.dot").write_text(dot % " [count=3]")
    assert load_scenario(tmp_path / "s.yaml").load_policy().prior.mode == "sample"
    (tmp_path / "g.dot").write_text(dot % "")
    assert load_scenario(tmp_path / "s.yaml").load_policy().prior.mode == "none"


def test_behaviours_are_drawn_by_seed_with_their_rates():
    everything = sample_behaviours(dict.fromkeys(BEHAVIOURS, 1.0), random.Random("7:user"))
    assert [b.kind for b in everything] == list(BEHAVIOURS)
    assert {b.turn for b in everything if b.kind in ("facts_early", "extra_round")} == {0}
    asked = [b.turn for b in everything if b.kind in ("correction", "out_of_scope", "change_of_mind", "quiet")]
    assert len(set(asked)) == 4 and min(asked) >= 1  # one asked-for behaviour per turn
    assert sample_behaviours(dict.fromkeys(BEHAVIOURS, 0.0), random.Random(1)) == []
    rates = {"correction": 0.3, "out_of_scope": 0.1}
    draws = [sample_behaviours(rates, random.Random(f"{seed}:user")) for seed in range(2000)]
    assert draws == [sample_behaviours(rates, random.Random(f"{seed}:user")) for seed in range(2000)]
    share = sum(any(b.kind == "correction" for b in d) for d in draws) / 2000
    assert share == pytest.approx(0.3, abs=0.04)


def test_star_user_goal_records_behaviours_mined_without_the_held_out_fold(star):
    scenario = star.get_dialog_scenario(1)
    assert star_user_goal(scenario, star.dataset).behaviours == []  # no seed: the plain user
    rates = behaviour_rates(star.dataset)
    assert set(rates) == {True, False} and set(rates[True]) == set(BEHAVIOURS)
    assert all(v == 0.0 for v in behaviour_rates(star.dataset, held_out=0)[True].values())  # fold 0 is all there is
    seeded = [star_user_goal(scenario, star.dataset, seed=s).behaviours for s in range(30)]
    assert seeded == [star_user_goal(scenario, star.dataset, seed=s).behaviours for s in range(30)]


def test_dialog_behaviours_reads_real_users(star):
    scenario = star.get_dialog_scenario(1)
    goal = UserGoal(request="", facts={"Your name": "Robin", "Room": "Blue Room"})
    dialog = Dialog(id=1, scenario=scenario, metadata={"completion_level": "EarlyDisconnectDuringDialogue"}, turns=[
        Turn("System", "hi", action="hello"), Turn("User", "The Blue Room please"),
        Turn("System", "?", action="out_of_scope"), Turn("User", "Sorry, I meant the red one"), Turn("User", "hmm...")])
    found = dialog_behaviours(dialog, goal, star.dataset, None)
    assert found == {"facts_early": True, "correction": True, "change_of_mind": False, "out_of_scope": True,
                     "quiet": True, "extra_round": False, "ends_early": True, "hangs_up": True}


def test_notes_ask_for_the_behaviour_on_its_turn_and_the_state_records_it():
    goal = UserGoal(request="Book the Blue Room", facts={"Room": "Blue Room"}, behaviours=[
        Behaviour(kind="facts_early"), Behaviour(kind="correction", turn=1), Behaviour(kind="ends_early", turn=3)])
    state = UserState()
    assert "give all your details" in user_note(goal, state, "System", None)
    state.hear_self(goal, "Blue Room please", False, "ask")
    note = user_note(goal, state, "System", "mini_ask_room")
    assert "give your Room wrongly" in note and "sorry, I mean Blue Room" in note
    state.hear_self(goal, "Red... sorry, I mean Blue Room", False, "inform")
    assert "cannot help" not in user_note(goal, state, "System", None) and state.stage(goal) == "inform"
    state.turns = 3
    assert state.stage(goal) == "close" and "is taking too long" in user_note(goal, state, "System", None)
    state.hear_self(goal, "I have to go, bye", True, "close")
    assert state.played == ["facts_early", "correction", "ends_early"] and state.quit_attempts == 0


def behaving_user(request: ScriptedRequest) -> str:
    """The System takes its first option; the User plays what its note asks for."""
    props = (request.schema or {}).get("properties", {})
    if "action" in props:
        action = props["action"]["enum"][0]
        return json.dumps({"action": action, "utterance": f"I do {action}."})
    if "answer" in props:
        return json.dumps({"answer": props["answer"]["enum"][0], "utterance": "Yes."})
    if props:
        return json.dumps({"Name": "Blue Room", "Day": "Monday", "CustomerName": "Robin", "RequestType": "Book"})
    if "say goodbye" in request.last and "Do not say goodbye" not in request.last:
        return "Thanks, that is all. Goodbye!"
    if "cannot help with" in request.last:
        return "Can you also order me a pizza? Anyway, I am Robin, the Blue Room on Monday."
    if "wrongly" in request.last:
        return "The Red Room... sorry, I mean the Blue Room, on Monday. I am Robin."
    return "I am Robin and I want the Blue Room on Monday."


def _run(star, behaviours, seed=1, prior="sample"):
    scenario = star.get_dialog_scenario(1)
    policy = star_policy(scenario, prior=prior, goal_user=True, star=star.dataset)
    policy.user_goal.behaviours = behaviours
    generator = PersonaDialogGenerator(scripted_model(fn=behaving_user), agents=[
        AgentSpec(name="User", persona=star.get_user_persona_for_scenario(scenario)),
        AgentSpec(name="System", persona=star.get_system_persona_for_scenario(scenario))],
        first_speaker="System", policy=policy, max_turns=30)
    return generator.generate(seed=seed), policy


@pytest.mark.parametrize("kinds", [("correction",), ("out_of_scope",)])
def test_a_correction_or_an_out_of_scope_question_keeps_the_tracker_on_the_graph(star, kinds):
    dialog, policy = _run(star, [Behaviour(kind=k, turn=n) for n, k in enumerate(kinds, 1)])
    metrics = evaluate_dialog(dialog, policy.graphs)
    assert metrics.legal_rate == 1.0 and metrics.completed and not metrics.ended_by_max_turns
    user = dialog.metadata["user"]
    assert set(user["played"]) == set(kinds) and [b["kind"] for b in user["goal"]["behaviours"]] == list(kinds)
    assert user["served"] and set(user["said"]) >= {"Room", "Day"}


def test_same_seed_same_dialogue_different_seed_other_paths(star):
    first, _ = _run(star, [Behaviour(kind="out_of_scope", turn=1)], seed=3)
    again, _ = _run(star, [Behaviour(kind="out_of_scope", turn=1)], seed=3)
    said = lambda d: [(t.speaker, t.text, t.action) for t in d.turns]  # noqa: E731  (turn metadata holds timings)
    assert said(first) == said(again) and [e.data for e in first.events] == [e.data for e in again.events]
    assert first.metadata["policy"] == again.metadata["policy"] and first.metadata["user"] == again.metadata["user"]
    paths = {tuple(_run(star, [], seed=s)[0].metadata["policy"]["path"]) for s in range(12)}
    assert len(paths) > 1  # sampling varies the path across seeds


def test_cli_generate_defaults_to_the_sampling_prior_and_a_behaving_user(star, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["star", "generate", "--star-path", str(FIXTURE), "--id", "1", "--out",
                                      str(out), "-m", "scripted:auto", "--max-turns", "8"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "dialogs" / "1.json").read_text())
    assert saved["metadata"]["policy"]["prior"] == "sample" and "behaviours" in saved["metadata"]["user"]["goal"]
    assert "played" in saved["metadata"]["user"]
    plain = CliRunner().invoke(cli, ["star", "generate", "--star-path", str(FIXTURE), "--id", "1", "--out",
                                     str(tmp_path / "plain"), "-m", "scripted:auto", "--max-turns", "8",
                                     "--plain-user", "--prior", "argmax"])
    assert plain.exit_code == 0, plain.output
    saved = json.loads((tmp_path / "plain" / "dialogs" / "1.json").read_text())
    assert saved["metadata"]["policy"]["prior"] == "argmax" and "user" not in saved["metadata"]


def test_mine_graphs_is_what_held_out_graphs_are(star):
    mined = star.dataset.mine_graphs(lambda i: fold_of(i) != 1)["mini_book"]
    cached = star.get_task_graph("mini_book", held_out=1)
    assert sorted(mined.edges(data=True)) == sorted(cached.edges(data=True))


def test_agenerate_star_draws_the_users_behaviours_with_the_dialogues_seed(star):
    from roleplay._aio import run_sync
    from roleplay.datasets.star.generate import agenerate_star
    from roleplay.policy.user import Behaviour as B
    scenario = star.get_dialog_scenario(2)  # unhappy: the fixture's one unhappy user was out of scope and quiet
    for seed in (3, 4):
        dialog = run_sync(agenerate_star(2, model="scripted:auto", star=star.dataset, max_turns=6, seed=seed,
                                         goal_user=True, behaviours=True))
        drawn = [B(**b) for b in dialog.metadata["user"]["goal"]["behaviours"]]
        assert drawn == star_user_goal(scenario, star.dataset, seed=seed).behaviours
        assert {b.kind for b in drawn} == {"out_of_scope", "quiet"}  # rate 1.0 each, on different turns
    plain = run_sync(agenerate_star(1, model="scripted:auto", star=star.dataset, max_turns=6, goal_user=True))
    assert plain.metadata["user"]["goal"]["behaviours"] == []  # the library's default: the plain goal-aware user
