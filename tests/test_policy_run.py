"""Running an agent on its policy graph with scripted models: enforcement, queries, prompt-only, STAR."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from policy_dialogs import said_action

from roleplay import backends
from roleplay.backends import register_backend
from roleplay.backends.options import BackendOptions
from roleplay.backends.scripted import ScriptedClient, ScriptedRequest, scripted_model
from roleplay.cli import cli
from roleplay.datasets.star._loader import STAR
from roleplay.datasets.star.generate import agenerate_star, query_tool
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError, PolicyGraphError, ScenarioError
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.personas import Persona
from roleplay.policy._turns import JSON_TOKENS
from roleplay.policy.graph import add_action, new_graph, read_dot
from roleplay.policy.orchestrator import Policy, action_schema
from roleplay.scenario import load_scenario
from roleplay.structured import chars_for

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"
ROOT = Path(__file__).resolve().parent.parent


def policy_script(pick, user_says="Yes please.", plain_answers=False):
    """A model for both sides: the policy turn picks ``pick(enum or None, request)``; tool calls fill args.

    ``plain_answers``: the user ignores the answer schema and says ``user_says`` as plain text."""
    def script(request: ScriptedRequest) -> str:
        schema = request.schema or {}
        props = schema.get("properties", {})
        if "action" in props:
            return json.dumps({"action": pick(props["action"].get("enum"), request)})
        if said_action(request):
            return f"I do {said_action(request)}."
        if "answer" in props and plain_answers:
            return user_says
        if "answer" in props:  # the user's clear yes/no after a question
            return json.dumps({"answer": "no" if user_says.startswith("No") else "yes",
                               "utterance": user_says.removeprefix("No, ")})
        if schema:
            return json.dumps({k: (v["enum"][0] if "enum" in v else 1 if v.get("type") == "integer" else "Robin")
                               for k, v in props.items()})
        return user_says
    return script


@pytest.fixture
def star():
    STAR.set_path(FIXTURE)
    yield STAR
    STAR._path = None


def run_policy(star, pick, enforce=True, max_turns=12, user_says="Yes please.", plain_answers=False):
    model = scripted_model(fn=policy_script(pick, user_says, plain_answers))
    scenario = star.get_dialog_scenario(1)
    policy = Policy(agent="System", graphs={"mini_book": star.get_task_graph("mini_book")},
                    tools={"mini_book": query_tool("mini_book")}, enforce=enforce)
    generator = PersonaDialogGenerator(model, agents=[
        AgentSpec(name="User", persona=star.get_user_persona_for_scenario(scenario)),
        AgentSpec(name="System", persona=star.get_system_persona_for_scenario(scenario))],
        first_speaker="System", policy=policy, max_turns=max_turns,
        guards=Guards(enabled=False))  # the scripted user says one line every turn: the guards would redo it
    return generator.generate(seed=3), model


def test_enforced_run_reaches_the_goal_on_the_first_legal_action(star):
    dialog, model = run_policy(star, lambda enum, request: enum[0], max_turns=16)
    system = [t for t in dialog.turns if t.speaker == "System"]
    assert all(t.metadata["legal"] for t in system)
    assert dialog.metadata["policy"]["completed"] is True
    assert dialog.metadata["policy"]["legal_rate"] == 1.0
    path = dialog.metadata["policy"]["path"]
    assert path[:4] == ["hello", "ask_name", "mini_ask_room", "mini_ask_day"]
    assert "query_check" in path and "query_book" in path and "mini_booking_succeeded" in path
    assert system[-1].action == "goodbye_1" and dialog.stop_reason.value == "end_signal"
    queries = [e.data for e in dialog.events if e.type == "query"]
    assert [q["action"] for q in queries] == ["query_check", "query_book"]
    assert queries[0]["arguments"]["Name"] == "Blue Room" and queries[0]["found"] is True
    # each policy turn offered exactly the tracker's legal actions as the enum
    first = next(r for r in model.client.history if r.schema and "action" in r.schema["properties"])
    assert first.schema["properties"]["action"]["enum"][:2] == ["hello", "ask_name"]


def test_a_model_trying_an_illegal_action_never_produces_an_illegal_turn(star):
    dialog, _ = run_policy(star, lambda enum, request: "mini_booking_succeeded", max_turns=6)
    system = [t for t in dialog.turns if t.speaker == "System"]
    assert system and all(t.metadata["legal"] for t in system)
    assert system[0].action == "hello" and system[0].metadata["fallback"] is True
    assert dialog.metadata["policy"]["violations"] == []


def test_prompt_only_mode_records_violations(star):
    dialog, model = run_policy(star, lambda enum, request: "mini_booking_succeeded", enforce=False, max_turns=4)
    assert dialog.metadata["policy"]["mode"] == "prompt_only"
    assert dialog.metadata["policy"]["legal_rate"] == 0.0
    assert dialog.turns[0].action == "mini_booking_succeeded" and not dialog.turns[0].metadata["legal"]
    policy_request = next(r for r in model.client.history if r.schema and "action" in r.schema["properties"])
    assert "enum" not in policy_request.schema["properties"]["action"]
    assert "digraph" in policy_request.system  # the flowchart is pasted into the system prompt


def test_goodbye_waits_for_the_goal_and_repeats_are_limited(star):
    """A model that always wants to leave or to say out_of_scope still moves forward."""
    def pick(enum, request):
        for wanted in ("goodbye_1", "out_of_scope"):
            if wanted in enum:
                return wanted
        return enum[0]
    dialog, _ = run_policy(star, pick, max_turns=30)
    path = dialog.metadata["policy"]["path"]
    assert "goodbye_1" not in path[:-1]
    assert all(not (a == b == "out_of_scope") for a, b in zip(path, path[1:], strict=False))
    assert dialog.metadata["policy"]["completed"] is True


def test_user_no_takes_the_no_branch(star):
    dialog, _ = run_policy(star, lambda enum, request: enum[0], max_turns=12,
                           user_says="No, I would rather have another room.")
    path = dialog.metadata["policy"]["path"]
    confirm = path.index("mini_ask_confirm_booking")
    assert path[confirm + 1] == "mini_ask_room"
    answer = next(t for t in dialog.turns if t.metadata.get("answer"))
    assert answer.metadata["answer"] == "no"
    assert answer.text == "No, I would rather have another room."  # the no leads the utterance again


def test_the_user_answers_a_question_in_json_only_when_one_is_pending(star):
    dialog, model = run_policy(star, lambda enum, request: enum[0], max_turns=16,
                               user_says="I am here for the booking.")
    asked = [r for r in model.client.history if r.schema and "answer" in r.schema.get("properties", {})]
    assert len(asked) == 1 and "asked you a yes-or-no question" in asked[0].messages[-1][2]
    answer = next(t for t in dialog.turns if t.metadata.get("answer"))
    before = dialog.turns[dialog.turns.index(answer) - 1]
    assert before.action == "mini_ask_confirm_booking"
    assert answer.text == "Yes, I am here for the booking." and answer.metadata["answer"] == "yes"
    assert dialog.metadata["policy"]["completed"] is True
    others = [t for t in dialog.turns if t.speaker == "User" and t is not answer]
    assert others and all("answer" not in t.metadata and t.text == "I am here for the booking." for t in others)


def test_action_schema():
    assert action_schema(["a", "b"])["properties"]["action"]["enum"] == ["a", "b"]
    assert action_schema(None)["properties"]["action"] == {"type": "string", "maxLength": 64}


def test_policy_for_unknown_agent(star, doctor, patient):
    graph = read_dot(ROOT / "scenarios" / "doctor_intake.dot")
    generator = PersonaDialogGenerator(scripted_model(replies=["x"] * 4), doctor, patient,
                                       policy=Policy.single("Nurse", graph))
    with pytest.raises(ConfigError, match="The policy follows agent 'Nurse', which is not one of: Doctor, Patient"):
        generator.generate(seed=1)


def test_doctor_intake_scenario_runs_on_its_dot_graph(monkeypatch):
    def factory(model, options):
        return scripted_model(fn=policy_script(lambda enum, request: enum[0], "No fever, no."), seed=options.seed)
    register_backend("canned", factory)
    generator = load_scenario(ROOT / "scenarios" / "doctor_intake.yaml").generator(model="canned")
    dialog = generator.generate(seed=2)
    path = dialog.metadata["policy"]["path"]
    assert path[0] == "greet" and "give_advice" in path and path[-1] == "goodbye"
    assert dialog.metadata["policy"]["completed"] and dialog.metadata["policy"]["legal_rate"] == 1.0


def test_scenario_with_bad_policy_graph(tmp_path):
    (tmp_path / "bad.dot").write_text("digraph g { a -> b; }")
    (tmp_path / "s.yaml").write_text("name: x\nagents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]"
                                     "\npolicy: {agent: A, graph: bad.dot}\n")
    with pytest.raises(ScenarioError, match="cannot load the policy graph: .*names no start node"):
        load_scenario(tmp_path / "s.yaml")


@pytest.fixture
def canned_star(monkeypatch, star):
    def factory(model, options):
        return scripted_model(fn=policy_script(lambda enum, request: (enum or ["hello"])[0]), seed=options.seed)
    register_backend("canned", factory)


async def test_star_roleplay_and_description_generation(canned_star, monkeypatch):
    dialog = await agenerate_star(1, "roleplay", "canned", max_turns=8)
    assert dialog.speakers == ["System", "User"] and dialog.seed == 1 and dialog.id == 1
    assert dialog.metadata["mode"] == "roleplay"

    described = json.dumps({"dialog": [{"speaker": "User", "text": "Hi"},
                                       {"speaker": "System", "text": "What is your name?", "action": "ask_name"},
                                       {"speaker": "User", "text": "Robin."},
                                       {"speaker": "System", "text": "Thanks."}]})
    register_backend("writer", lambda model, options: scripted_model(replies=[described]))
    dialog = await agenerate_star(1, "description", "writer")
    assert [t.action for t in dialog.turns] == [None, "ask_name", None, None]
    with pytest.raises(ConfigError, match="Unknown mode 'poetry'"):
        await agenerate_star(1, "poetry", "canned")


@pytest.mark.parametrize("args, message", [
    (["star", "generate", "--star-path", "nowhere", "--out", "o"], "is not a STAR folder"),
    (["star", "generate", "--star-path", str(FIXTURE), "--task", "nope", "--out", "o"], "Unknown STAR task 'nope'"),
    (["star", "generate", "--star-path", str(FIXTURE), "--task", "mini_info", "--happy", "--out", "o"],
     "No STAR dialogue matches"),
    (["evaluate", "nowhere", "--star-path", str(FIXTURE)], "is not a folder of dialogues"),
    (["evaluate", "."], "No dialogue JSON files"),
    (["graph", "missing.dot"], "No such DOT file"),
])
def test_cli_bad_input(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_cli_graph_lists_actions():
    result = CliRunner().invoke(cli, ["graph", str(ROOT / "scenarios" / "doctor_intake.dot")])
    assert result.exit_code == 0
    assert "ask_red_flags -> give_advice, refer_urgent, clarify" in result.output


def test_evaluate_with_a_dot_graph(tmp_path):
    Dialog(id=7, turns=[]).to_file(tmp_path / "d" / "7.json")
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "d"), "--graph",
                                      str(ROOT / "scenarios" / "doctor_intake.dot")])
    assert result.exit_code == 0, result.output
    assert "doctor_intake" in result.output


async def test_multi_task_scenario_switches_task(star, monkeypatch):
    def pick(enum, request):
        return "mini_ask_room" if "mini_ask_room" in enum else enum[0]
    register_backend("switcher",
                        lambda model, options: scripted_model(fn=policy_script(pick), seed=options.seed))
    dialog = await agenerate_star(3, "roleplay", "switcher", max_turns=6)
    system = [t for t in dialog.turns if t.speaker == "System"]
    # the scenario starts on mini_info; the booking question is legal at the start of mini_book: a switch
    assert system[0].action == "mini_ask_room" and system[0].metadata["task"] == "mini_book"
    assert all(t.metadata["legal"] for t in system)
    assert [(e.turn, e.data["task"]) for e in dialog.events if e.type == "select_task"] == [(0, "mini_book")]
    assert dialog.metadata["policy"]["tasks"] == ["mini_info", "mini_book"]


def test_an_answer_given_as_plain_text_despite_the_schema_is_kept_and_read(star):
    """A backend that ignores the answer schema: its words are the turn, and the answer is read from them."""
    dialog, _ = run_policy(star, lambda enum, request: enum[0], max_turns=12, user_says="No, not that one.",
                           plain_answers=True)
    path = dialog.metadata["policy"]["path"]
    answer = dialog.turns[[t.action for t in dialog.turns].index("mini_ask_confirm_booking") + 1]
    assert answer.text == "No, not that one." and "answer" not in answer.metadata
    assert path[path.index("mini_ask_confirm_booking") + 1] == "mini_ask_room"


class CountingTurnPolicy:
    """A stateful turn policy: round robin that counts how often it is asked."""

    def __init__(self):
        self.calls = 0

    def __call__(self, dialog, names):
        self.calls += 1
        return names[len(dialog.turns) % len(names)]


@pytest.mark.parametrize("with_policy", [True, False])
def test_the_turn_policy_is_asked_once_per_turn(star, with_policy):
    turn_policy = CountingTurnPolicy()
    policy = Policy(agent="System", graphs={"mini_book": star.get_task_graph("mini_book")},
                    tools={"mini_book": query_tool("mini_book")}) if with_policy else None
    scenario = star.get_dialog_scenario(1)
    generator = PersonaDialogGenerator(scripted_model(fn=policy_script(lambda enum, request: enum[0])), agents=[
        AgentSpec(name="User", persona=star.get_user_persona_for_scenario(scenario)),
        AgentSpec(name="System", persona=star.get_system_persona_for_scenario(scenario))],
        first_speaker="System", policy=policy, max_turns=7, turn_policy=turn_policy)
    dialog = generator.generate(seed=3)
    assert len(dialog.turns) == 7 and turn_policy.calls == 7


def test_a_policy_turn_adds_up_the_tokens_of_every_call_it_made(star):
    """Its action calls (two around a tool call, each two scripted words), the call for its words, and on a query
    turn the call that filled the query's arguments: every call of a turn costs tokens."""
    dialog, _ = run_policy(star, lambda enum, request: enum[0], max_turns=16)
    query_turns = {e.turn for e in dialog.events if e.type == "query"}
    system = [(i, t) for i, t in enumerate(dialog.turns) if t.speaker == "System"]
    plain = [t for i, t in system if i not in query_turns]
    with_query = [t for i, t in system if i in query_turns]
    assert plain and with_query
    assert all(t.metadata["calls"] == 2 and t.metadata["completion_tokens"] == 2 + len(t.text.split())
               for t in plain)
    assert all(t.metadata["calls"] == 4 and t.metadata["completion_tokens"] > 2 * 2 + len(t.text.split())
               for t in with_query)


def test_a_policy_graph_starting_on_an_outcome_is_rejected_before_the_run(doctor, patient):
    graph = new_graph("t", start="found")
    add_action(graph, "found", "outcome")
    add_action(graph, "greet")
    graph.add_edge("found", "greet")
    generator = PersonaDialogGenerator(scripted_model(replies=["x"] * 4), doctor, patient,
                                       policy=Policy.single("Doctor", graph))
    with pytest.raises(PolicyGraphError, match="start node 'found' is an outcome node"):
        generator.generate(seed=1)


@pytest.mark.parametrize(("max_tokens", "max_chars"), [(None, 64), (2000, 64), (30, 42), (10, 1)])
def test_a_free_action_fits_the_token_limit_and_an_enforced_one_is_only_the_enum(max_tokens, max_chars):
    assert action_schema(None, max_tokens)["properties"]["action"]["maxLength"] == max_chars
    assert action_schema(["greet"], max_tokens)["properties"] == {"action": {"type": "string", "enum": ["greet"]}}


def test_policy_turns_ask_for_the_action_alone_and_answers_within_the_models_token_limit(star):
    """The policy agent's words come in a plain turn; the user's yes/no utterance is bounded by the budget."""
    script = policy_script(lambda enum, request: enum[0])
    model = backends.Model(ScriptedClient(fn=script), name="scripted", backend="scripted",
                           schema_args=lambda schema: {"json_schema": schema}, options=BackendOptions(max_tokens=100))
    policy = Policy(agent="System", graphs={"mini_book": star.get_task_graph("mini_book")}, enforce=True)
    generator = PersonaDialogGenerator(model, agents=[AgentSpec(name="User", persona=Persona(name="User")),
                                                      AgentSpec(name="System", persona=Persona(name="System"))],
                                       first_speaker="System", policy=policy, max_turns=16,
                                       guards=Guards(enabled=False))
    dialog = generator.generate(seed=1)
    asked = [r.schema for r in model.client.history if r.schema]
    assert all(set(schema["properties"]) == {"action"} for schema in asked if "action" in schema["properties"])
    answers = [schema for schema in asked if "answer" in schema["properties"]]
    assert answers and all(s["properties"]["utterance"]["maxLength"] == chars_for(100 - JSON_TOKENS) for s in answers)
    said = [r for r in model.client.history if said_action(r)]
    system = [t for t in dialog.turns if t.speaker == "System"]
    assert [said_action(r) for r in said] == [t.action for t in system]  # one call for the words of each action
    assert all(t.text == f"I do {t.action}." for t in system)
