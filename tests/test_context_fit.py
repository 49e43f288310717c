"""Prompts are fitted into the model's context: oldest history first, then long messages cut (any backend)."""

from __future__ import annotations

import asyncio

from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)

from roleplay.backends._base import CONTEXT_MARGIN, Model
from roleplay.backends.context import CUT_MARK, fit_to_context
from roleplay.backends.options import BackendOptions
from roleplay.backends.scripted import ScriptedClient, auto_reply
from roleplay.policy.tools import BRIEF_ITEMS, BRIEF_LIST, BRIEF_TEXT, QueryResult


def words(messages) -> int:
    return sum(len(str(m.content).split()) for m in messages)


def talk(n: int, size: int = 10) -> list:
    return [SystemMessage(content="rules " * 20)] + [
        (UserMessage if i % 2 else AssistantMessage)(content=f"turn{i} " + "word " * (size - 1), source="x")
        for i in range(n)]


def test_messages_that_fit_are_left_alone():
    messages = talk(4)
    assert fit_to_context(messages, words(messages), words) is messages


def test_the_oldest_history_goes_first_the_system_prompt_and_the_newest_stay():
    messages = talk(12)
    fitted = fit_to_context(messages, 20 + 5 * 10, words)
    assert words(fitted) <= 70
    assert fitted[0] is messages[0] and fitted[-5:] == messages[-5:]
    assert len(fitted) == 6


def test_a_tool_result_never_opens_the_history_without_its_call():
    result = FunctionExecutionResultMessage(content=[FunctionExecutionResult(content="x " * 30, call_id="1",
                                                                             name="f")])
    messages = [SystemMessage(content="rules"), UserMessage(content="a " * 30, source="u"), result,
                UserMessage(content="now?", source="u")]
    fitted = fit_to_context(messages, 40, lambda ms: sum(len(str(m.content).split()) for m in ms))
    assert [type(m).__name__ for m in fitted] == ["SystemMessage", "UserMessage"]


def test_a_newest_message_too_long_by_itself_is_cut_in_its_middle():
    long = "start " + "filler " * 300 + "end"
    messages = [SystemMessage(content="rules"), UserMessage(content=long, source="u")]
    fitted = fit_to_context(messages, 50, words)
    assert words(fitted) <= 50
    text = str(fitted[-1].content)
    assert text.startswith("start ") and text.endswith("end") and CUT_MARK in text


def test_a_model_with_a_context_size_sends_prompts_that_fit_with_room_for_the_reply():
    client = ScriptedClient(fn=auto_reply)
    model = Model(client, name="scripted", backend="scripted", options=BackendOptions(max_tokens=20),
                  context_size=150)
    asyncio.run(model.create(talk(30)))
    sent = client.history[-1].messages
    assert sum(len(text.split()) for _, _, text in sent) <= 150 - 20 - CONTEXT_MARGIN
    assert sent[0][0] == "system" and sent[-1][2].startswith("turn29 ")


def test_without_a_context_size_nothing_is_trimmed():
    client = ScriptedClient(fn=auto_reply)
    model = Model(client, name="scripted", backend="scripted", options=BackendOptions())
    asyncio.run(model.create(talk(30)))
    assert len(client.history[-1].messages) == 31


def test_a_query_result_is_told_briefly():
    row = {"Steps": [f"step {i} " + "x" * 200 for i in range(10)], "Minutes": 42}
    result = QueryResult(api="trip", arguments={}, items=[row] * 5, total=5, found=True)
    brief = result.brief()
    assert len(brief) < len(result.model_dump_json()) / 10
    assert brief.count('"Minutes": 42') == BRIEF_ITEMS
    assert brief.count("step ") == BRIEF_ITEMS * BRIEF_LIST and f'{"x" * (BRIEF_TEXT - 10)}' in brief
    assert "nothing found" in QueryResult(api="trip", arguments={}).brief()
