"""The AutoGen boundary both ways: personas in real AutoGen teams, team runs as Dialogs, stop conditions as
AutoGen terminations, and user-built ChatCompletionClients wherever a model string goes."""

from __future__ import annotations

import json

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TerminatedException
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent, ToolCallRequestEvent
from autogen_agentchat.teams import RoundRobinGroupChat, SelectorGroupChat
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, FunctionExecutionResult, RequestUsage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient

from roleplay.agents import END_MARKER
from roleplay.backends import Model, get_backend
from roleplay.conditions import EndSignal, MaxTurns, Predicate, Timeout
from roleplay.dialog import StopReason
from roleplay.errors import ConfigError
from roleplay.generators import DialogGenerator, PersonaDialogGenerator
from roleplay.interop import RoleplayTermination, Unseeded, as_autogen, dialog_from_autogen, stop_reason_of
from roleplay.personas import Persona
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

TOOL_INFO = {"vision": False, "function_calling": True, "json_output": True, "family": "unknown",
             "structured_output": False}


def persona_agents(doctor, patient, doctor_lines, patient_lines, **options):
    doc = as_autogen(doctor, ReplayChatCompletionClient(doctor_lines), others=[patient], **options)
    pat = as_autogen(patient, ReplayChatCompletionClient(patient_lines), others=[doctor], **options)
    return doc, pat


# --- persona -> AutoGen agent ---------------------------------------------------------------------------

async def test_as_autogen_gives_an_assistant_agent_with_the_persona_prompt(doctor, patient):
    client = ReplayChatCompletionClient(["Hello."])
    agent = as_autogen(doctor, client, others=[patient, "Nurse"], dialogue_details="A clinic visit.")
    assert isinstance(agent, AssistantAgent)
    assert agent.name == "Doctor" and agent.description == "Doctor (family doctor)"
    await agent.run(task="Begin.")
    prompt = client.create_calls[0]["messages"][0].content  # what the model was told
    assert prompt.startswith("You are Doctor.") and "Your role: family doctor" in prompt
    assert "conversation with Patient, Nurse" in prompt and "A clinic visit." in prompt


def test_as_autogen_names_need_letters_and_a_persona_needs_a_name():
    with pytest.raises(ConfigError, match="pass name="):
        as_autogen(Persona(personality="shy"), ReplayChatCompletionClient(["x"]))
    agent = as_autogen(Persona(name="Dr. Smith"), "scripted", replies=["Hi."], others=["Nurse"])
    assert agent.name == "Dr_Smith"


async def test_persona_agents_speak_their_lines_in_a_round_robin_group_chat(doctor, patient):
    doc, pat = persona_agents(doctor, patient, ["Hello, what brings you in?", "Rest and drink water."],
                              ["I have had a headache for three days.", "Thank you, goodbye."])
    team = RoundRobinGroupChat([doc, pat], termination_condition=RoleplayTermination(MaxTurns(4)))
    result = await team.run(task="A patient visits the family doctor.")
    dialog = dialog_from_autogen(result)
    assert [(t.speaker, t.text) for t in dialog] == [
        ("Doctor", "Hello, what brings you in?"), ("Patient", "I have had a headache for three days."),
        ("Doctor", "Rest and drink water."), ("Patient", "Thank you, goodbye.")]
    assert dialog.scenario == {"task": "A patient visits the family doctor."}
    assert dialog.stop_reason is StopReason.MAX_TURNS and dialog.metadata["autogen_stop_reason"] == "max_turns"


async def test_persona_and_plain_agents_share_a_selector_group_chat(doctor, patient):
    doc, pat = persona_agents(doctor, patient, ["Good morning, I am Dr. Doctor.", "Any fever? [END]"],
                              ["My head hurts."])
    nurse = AssistantAgent("Nurse", model_client=ReplayChatCompletionClient(["Blood pressure is normal."]),
                           description="A nurse who takes measurements.")
    selector = ReplayChatCompletionClient(["Doctor", "Patient", "Nurse", "Doctor"])
    team = SelectorGroupChat([doc, pat, nurse], model_client=selector,
                             termination_condition=RoleplayTermination(MaxTurns(10) | EndSignal()))
    dialog = dialog_from_autogen(await team.run(task="A clinic visit."))
    assert dialog.speakers == ["Doctor", "Patient", "Nurse"]
    assert [t.speaker for t in dialog] == ["Doctor", "Patient", "Nurse", "Doctor"]
    assert dialog[-1].text == "Any fever?" and dialog[-1].metadata["end"] is True
    assert dialog.stop_reason is StopReason.END_SIGNAL and dialog.complete is True


async def test_clean_replies_strips_names_and_foreign_lines_but_keeps_the_end_marker(doctor, patient):
    doc, pat = persona_agents(doctor, patient, ["Doctor: Hello there.\nPatient: I am fine.", "Bye now. [END]"],
                              ["Patient: My head hurts."], clean_replies=True)
    team = RoundRobinGroupChat([doc, pat], termination_condition=TextMentionTermination(END_MARKER))
    result = await team.run(task="A visit.")
    assert [m.content for m in result.messages[1:]] == ["Hello there.", "My head hurts.", f"Bye now. {END_MARKER}"]
    dialog = dialog_from_autogen(result)
    assert [t.text for t in dialog] == ["Hello there.", "My head hurts.", "Bye now."]
    assert dialog.stop_reason is StopReason.END_SIGNAL  # AutoGen's "Text '[END]' mentioned", mapped
    remembered = [m.content for m in await doc.model_context.get_messages() if m.source == "Doctor"]
    assert remembered == ["Hello there.", f"Bye now. {END_MARKER}"]  # what the transcript shows


# --- AutoGen run -> Dialog ------------------------------------------------------------------------------

async def test_tool_calls_become_events_of_the_turn_they_precede():
    def lookup_weather(city: str) -> str:
        """Today's weather in a city."""
        return f"Sunny in {city}."

    call = FunctionCall(id="c1", name="lookup_weather", arguments=json.dumps({"city": "Lisbon"}))
    client = ReplayChatCompletionClient(
        [CreateResult(finish_reason="function_calls", content=[call], usage=RequestUsage(prompt_tokens=5,
                                                                                              completion_tokens=3),
                      cached=False), "It is sunny in Lisbon."], model_info=TOOL_INFO)
    agent = AssistantAgent("Guide", model_client=client, tools=[lookup_weather], reflect_on_tool_use=True)
    dialog = dialog_from_autogen(await agent.run(task="What is the weather in Lisbon?"))
    assert [(t.speaker, t.text) for t in dialog] == [("Guide", "It is sunny in Lisbon.")]
    kinds = [(e.type, e.turn) for e in dialog.events]
    assert kinds == [("tool_call", 0), ("tool_result", 0)]
    assert dialog.events[0].data["calls"][0] == {"id": "c1", "name": "lookup_weather",
                                                 "arguments": '{"city": "Lisbon"}'}
    assert dialog.events[1].data["results"][0]["content"] == "Sunny in Lisbon."
    assert dialog.scenario == {"task": "What is the weather in Lisbon?"}


def test_messages_convert_without_a_task_result_and_keep_a_later_user_as_a_speaker():
    messages = [
        TextMessage(source="user", content="Plan a party."),
        TextMessage(source="Mom", content="Saturday works."),
        ToolCallRequestEvent(source="Mom", content=[FunctionCall(id="1", name="calendar", arguments="{}")]),
        ToolCallExecutionEvent(source="Mom", content=[FunctionExecutionResult(call_id="1", name="calendar",
                                                                               content="free", is_error=False)]),
        TextMessage(source="user", content="I agree."),
    ]
    dialog = dialog_from_autogen(messages, speakers={"Mom": "Mom (host)"})
    assert [(t.speaker, t.text) for t in dialog] == [("Mom (host)", "Saturday works."), ("user", "I agree.")]
    assert [e.turn for e in dialog.events] == [1, 1]
    assert dialog.stop_reason is None and dialog.metadata["autogen_stop_reason"] is None


@pytest.mark.parametrize(("text", "reason"), [
    ("Maximum number of messages 5 reached, current message count: 5", StopReason.MAX_TURNS),
    ("Maximum number of turns 4 reached.", StopReason.MAX_TURNS),
    ("Text 'TERMINATE' mentioned", StopReason.END_SIGNAL),
    ("Timeout of 30 seconds reached", StopReason.TIMEOUT),
    ("Functional termination condition met", StopReason.PREDICATE),
    ("end_signal, max_turns", StopReason.END_SIGNAL),
    ("External termination requested", None),
    (None, None),
])
def test_autogen_stop_texts_map_to_stop_reasons(text, reason):
    assert stop_reason_of(text) is reason


# --- roleplay stop conditions as AutoGen terminations --------------------------------------------------

def said(source: str, text: str) -> TextMessage:
    return TextMessage(source=source, content=text)


async def test_termination_adapter_counts_turns_not_the_task_and_must_be_reset():
    stop = RoleplayTermination(MaxTurns(2))
    assert await stop([said("user", "The task.")]) is None
    assert await stop([said("A", "one")]) is None
    message = await stop([said("B", "two")])
    assert message.content == "max_turns" and stop.terminated
    with pytest.raises(TerminatedException, match="reset"):
        await stop([said("A", "three")])
    await stop.reset()
    assert not stop.terminated and await stop([said("A", "again")]) is None


async def test_termination_adapter_composes_like_roleplay_and_matches_autogen_equivalents():
    roleplay_stop = RoleplayTermination(MaxTurns(5) | EndSignal() | Predicate(lambda d: "fire" in d[-1].text))
    autogen_stop = MaxMessageTermination(6) | TextMentionTermination(END_MARKER)  # +1: AutoGen counts the task
    for batch in ([said("user", "go")], [said("A", "hi")], [said("B", f"bye {END_MARKER}")]):
        ours, theirs = await roleplay_stop(batch), await autogen_stop(batch)
        assert (ours is None) == (theirs is None)
    assert ours.content == "end_signal"
    fire = RoleplayTermination(Predicate(lambda d: "fire" in d[-1].text))
    assert (await fire([said("A", "the fire alarm")])).content == "predicate"


async def test_timeout_is_checked_when_messages_arrive():
    now = iter([0.0, 10.0, 70.0])
    stop = RoleplayTermination(Timeout(60), clock=lambda: next(now))
    assert await stop([said("A", "first")]) is None  # starts the clock at 0, checked at 10
    assert (await stop([said("B", "late")])).content == "timeout"


# --- any ChatCompletionClient wherever a model string goes -----------------------------------------------

def sent(client: ReplayChatCompletionClient) -> list[dict]:
    return [dict(call["extra_create_args"]) for call in client.create_calls]


def test_a_user_client_receives_the_generators_seed_temperature_and_token_limit(doctor, patient):
    client = ReplayChatCompletionClient(["Hello.", "Hi doctor.", "How long?", "Three days."])
    dialog = PersonaDialogGenerator(client, doctor, patient, temperature=0.3, max_tokens=64).generate(seed=7,
                                                                                                       max_turns=4)
    assert [t.text for t in dialog] == ["Hello.", "Hi doctor.", "How long?", "Three days."]
    assert sent(client) == [{"seed": 7, "temperature": 0.3, "max_tokens": 64}] * 4
    assert dialog.model == "client:ReplayChatCompletionClient" and dialog.seed == 7
    assert client.create_calls and client.chat_completions  # the client is not closed: it is still the user's


def test_a_user_client_gets_json_mode_for_structured_output_when_it_has_it():
    content = json.dumps({"dialog": [{"speaker": "A", "text": "hi"}, {"speaker": "B", "text": "hello"}]})
    client = ReplayChatCompletionClient([content], model_info=TOOL_INFO)
    dialog = DialogGenerator(client, "two friends meet", temperature=None, min_turns=2).generate(seed=3)
    assert [(t.speaker, t.text) for t in dialog] == [("A", "hi"), ("B", "hello")]
    assert client.create_calls[0]["json_output"] is True
    assert sent(client) == [{"seed": 3, "max_tokens": 1024}]


async def test_a_per_call_seed_reaches_a_user_client():
    client = ReplayChatCompletionClient(["a", "b"])
    model = get_backend(client, seed=7, temperature=0.5)
    with model.call_options(seed=99):
        await model.create([UserMessage(content="hi", source="user")])
    await model.create([UserMessage(content="hi", source="user")])
    assert [args["seed"] for args in sent(client)] == [99, 7]
    assert isinstance(model, Model) and model.backend == "client"


async def test_a_scenario_and_its_batch_job_run_on_a_user_client(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nagents:\n  - {name: A, persona: {role: host}}\n"
                        "  - {name: B, persona: {role: guest}}\nstop: {max_turns: 2}\nrepeat_penalty: 1.1\n")
    client = ReplayChatCompletionClient(["Welcome.", "Thanks."])
    dialog = await load_scenario(scenario).generator(model=client).agenerate(seed=5)
    assert [t.text for t in dialog] == ["Welcome.", "Thanks."]
    assert sent(client)[0] == {"seed": 5, "temperature": 0.7, "max_tokens": 80, "repeat_penalty": 1.1}
    client.chat_completions.extend(["Hello again.", "Hi."])
    dialog = await batch_job(load_scenario(scenario), model=client)(3, 8)
    assert (dialog.id, dialog.model, [t.text for t in dialog]) == (3, "client:ReplayChatCompletionClient",
                                                                   ["Hello again.", "Hi."])
    assert sent(client)[-1]["seed"] == 8


async def test_an_openai_client_gets_options_and_the_schema_in_its_own_dialect():
    import openai._base_client
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    http = getattr(openai._base_client, "httpx2", None) or openai._base_client.httpx  # whichever the SDK uses
    bodies = []

    def server(request):
        bodies.append(json.loads(request.content))
        return http.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "local",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})

    client = OpenAIChatCompletionClient(model="local", base_url="http://llm.test/v1", api_key="x", model_info=TOOL_INFO,
                                        http_client=http.AsyncClient(transport=http.MockTransport(server)))
    model = get_backend(client, seed=4, temperature=0.2, max_tokens=32, repeat_penalty=1.15)
    with model.call_options(schema={"type": "object"}):
        await model.create([UserMessage(content="hi", source="user")])
    await model.create([UserMessage(content="hi", source="user")])
    inside, after = bodies
    assert (inside["seed"], inside["temperature"], inside["max_tokens"]) == (4, 0.2, 32)
    assert inside["repeat_penalty"] == 1.15  # via extra_body, which llama.cpp and vLLM servers read
    assert inside["response_format"] == {"type": "json_schema", "json_schema": {"name": "output",
                                                                                "schema": {"type": "object"}}}
    assert after["seed"] == 4 and "response_format" not in after


def test_options_a_client_cannot_take_are_refused_with_the_fix():
    client = ReplayChatCompletionClient(["x"])
    with pytest.raises(ConfigError, match=r"base_url cannot be applied to a client you built.*ReplayChatCompletion"):
        get_backend(client, base_url="http://x")
    with pytest.raises(ConfigError, match=r"cache_dir.*ChatCompletionCache"):
        get_backend(client, cache_dir="cache")
    with pytest.raises(ConfigError, match="temprature"):
        get_backend(client, temprature=0.1)


def test_a_client_without_seeds_is_refused_unless_unseeded_is_explicit(doctor, patient):
    class BaseAnthropicChatCompletionClient(ReplayChatCompletionClient):
        """Stands in for autogen-ext's Anthropic client (not installed here): same class name, same limits."""

    client = BaseAnthropicChatCompletionClient(["Hello.", "Hi."])
    with pytest.raises(ConfigError, match=r"cannot honour seed=1: Anthropic's API has no seed.*Unseeded\(client\)"):
        PersonaDialogGenerator(client, doctor, patient).generate(seed=1, max_turns=2)
    dialog = PersonaDialogGenerator(Unseeded(client), doctor, patient).generate(seed=1, max_turns=2)
    assert [t.text for t in dialog] == ["Hello.", "Hi."]
    assert all("seed" not in args for args in sent(client)) and sent(client)[0]["temperature"] == 0.7
