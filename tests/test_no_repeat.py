"""The no-repeat guard in llama.cpp's terms: DRY over the conversation, and a ban on stale openings."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from autogen_core.models import AssistantMessage, SystemMessage, UserMessage

from roleplay.backends._base import Model
from roleplay.backends._no_repeat import DRY_MULTIPLIER, FRESH_OPENINGS, TEMPLATE_TOKENS, no_repeat
from roleplay.backends.llamacpp import LlamaCppClient
from roleplay.backends.options import InProcessOptions
from roleplay.backends.scripted import ScriptedClient


def test_dry_forbids_completing_a_run_of_the_conversation_and_looks_back_past_the_system_prompt_only():
    guard = no_repeat(3, memory=[[5, 6, 7], [8, 9]], reply_tokens=20, openings=0)
    args = guard.dry_args()
    assert args["dry_allowed_length"] == 2  # a token after 2 repeated tokens would complete a 3-token run
    assert args["dry_multiplier"] == DRY_MULTIPLIER >= 30  # e**-30 or less: never sampled
    assert args["dry_sequence_breakers"] == ["\n"]  # runs never cross a line, nor so two messages
    assert args["dry_penalty_last_n"] == 3 + 2 + 3 * TEMPLATE_TOKENS + 20  # the messages, their markers, the reply
    assert guard.opening_bias() == []


def test_the_reply_cannot_open_as_one_of_the_last_messages_did():
    memory = [[1, 5], [2, 6], [3, 7], [4, 8], [4, 9], [9]]  # the last four open with 3, 4, 4 and 9
    assert no_repeat(3, memory, 10).opening_bias() == [[3, False], [4, False], [9, False]]
    assert no_repeat(3, memory, 10, openings=0).openings == ()
    assert no_repeat(3, [[], [6]], 10, openings=FRESH_OPENINGS).openings == (6,)  # an empty message opens nothing


def test_a_blocked_ngram_needs_two_tokens():
    with pytest.raises(ValueError, match="at least 2 tokens"):
        no_repeat(1, memory=[], reply_tokens=5)


class FakeServer:
    """What `LlamaCppClient` needs of a `LlamaServer`: a tokenizer (one token per word) and chat answers."""

    def __init__(self, answers: list[dict[str, Any]]):
        self.answers = answers
        self.requests: list[dict[str, Any]] = []
        self.executor = None  # the event loop's default executor

    def tokenize(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]

    def chat(self, request: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        self.requests.append(request)
        return {"usage": {"prompt_tokens": 30, "completion_tokens": 1}, "timings": {"prompt_n": 30},
                **self.answers[len(self.requests) - 1]}


class FakeServers:
    def __init__(self, server: FakeServer):
        self.fake = server

    def server(self, *args: Any, **kwargs: Any) -> FakeServer:
        return self.fake


def fake_client(answers: list[dict[str, Any]], **options: Any) -> tuple[LlamaCppClient, FakeServer]:
    server = FakeServer(answers)
    client = LlamaCppClient(None, InProcessOptions(seed=4, max_tokens=20, **options), FakeServers(server))
    return client, server


CONVERSATION = [SystemMessage(content="You are Ann with a sore knee."), UserMessage(content="Hello Ann", source="u"),
                AssistantMessage(content="Good morning doctor", source="a"),
                UserMessage(content="Why here", source="u")]


async def test_the_opening_is_decoded_alone_under_the_ban_and_the_reply_continues_it():
    client, server = fake_client([{"content": "My", "finish_reason": "length"},
                                  {"content": "My knee hurts.", "finish_reason": "stop",
                                   "usage": {"prompt_tokens": 31, "completion_tokens": 3}}])
    result = await client.create(CONVERSATION, extra_create_args={"no_repeat_ngram": 3})
    first, rest = server.requests
    assert first["max_tokens"] == 1 and first["logit_bias"] == [[3, False], [4, False], [5, False]]
    assert first["seed"] == 4 and first["dry_allowed_length"] == 2 and "no_repeat_ngram" not in first
    assert rest["messages"][-1] == {"role": "assistant", "content": "My"} and "logit_bias" not in rest
    assert rest["max_tokens"] == 19 and rest["seed"] == 4 and rest["dry_penalty_last_n"] == first["dry_penalty_last_n"]
    assert result.content == "My knee hurts." and result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (30, 4)
    assert client.evaluated_prompt_tokens == 60


async def test_an_opening_that_ends_the_reply_is_the_reply_and_json_mode_has_no_guard():
    client, server = fake_client([{"content": "", "finish_reason": "stop"}])
    assert (await client.create(CONVERSATION, extra_create_args={"no_repeat_ngram": 3})).content == ""
    assert len(server.requests) == 1
    client, server = fake_client([{"content": "{}", "finish_reason": "stop"}])
    await client.create(CONVERSATION, json_output=True, extra_create_args={"no_repeat_ngram": 3})
    (only,) = server.requests
    assert "logit_bias" not in only and "dry_multiplier" not in only and only["max_tokens"] == 20


async def test_the_call_option_reaches_a_backend_that_can_ban_ngrams_and_no_other():
    from autogen_core.models import UserMessage

    client = ScriptedClient(replies=["a", "b"])
    able = Model(client, name="able", backend="able", no_repeat_args=lambda size: {"ban": size})
    question = [UserMessage(content="hi", source="user")]
    with able.call_options(no_repeat_ngram=3, temperature=1.1):
        await able.create(question)
    await able.create(question)
    assert [r.extra for r in client.history] == [{"ban": 3, "temperature": 1.1}, {}]
    other = Model(ScriptedClient(replies=["a"]), name="other", backend="other")
    with other.call_options(no_repeat_ngram=3):
        await other.create(question)
    assert other.client.history[0].extra == {}


@pytest.mark.embedded
def test_the_embedded_model_cannot_echo_the_conversation_and_stays_deterministic():
    import asyncio

    from autogen_core.models import UserMessage

    from roleplay.backends import get_backend

    line = "My grandmother grew purple tomatoes behind the old railway station every summer."
    question = [UserMessage(content=f"Repeat this sentence exactly: {line}", source="user")]

    async def answer(no_repeat: int | None) -> str:
        model = get_backend("embedded", seed=3, temperature=0.2, max_tokens=40)
        with model.call_options(no_repeat_ngram=no_repeat):
            return str((await model.create(question)).content)

    free, banned, again = (asyncio.run(answer(n)) for n in (None, 3, 3))
    assert "purple tomatoes behind" in free  # the model echoes when it may
    assert "purple tomatoes behind" not in banned and banned == again
