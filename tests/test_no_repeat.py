"""The no-repeat n-gram logits processor: a token that would repeat a run of the conversation is forbidden."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roleplay.backends.base import Model
from roleplay.backends.no_repeat import NoRepeatNgrams
from roleplay.backends.scripted import ScriptedClient

VOCAB = 10
PROMPT = [0, 1, 2]  # the formatted prompt: its tokens are never a memory themselves


def step(processor: NoRepeatNgrams, reply: list[int]) -> set[int]:
    """The tokens forbidden after ``reply`` (the processor sees the prompt plus the reply so far)."""
    scores = processor(np.array(PROMPT + reply), np.zeros(VOCAB, dtype=np.single))
    return {token for token, score in enumerate(scores) if math.isinf(score)}


def test_a_run_said_in_the_conversation_cannot_be_said_again():
    processor = NoRepeatNgrams(3, memory=[[5, 6, 7], [8, 9]], openings=0)
    assert step(processor, []) == set()  # the reply's first tokens: no run to continue yet
    assert step(processor, [5]) == set()
    assert step(processor, [5, 6]) == {7}  # 5 6 7 was said
    assert step(processor, [5, 6, 4, 8]) == set()  # 8 9 is only two tokens long: no 3-gram to repeat


def test_the_reply_cannot_repeat_itself_and_runs_never_cross_two_messages():
    processor = NoRepeatNgrams(3, memory=[[1, 2], [3, 4]], openings=0)
    assert [step(processor, reply) for reply in ([], [1], [1, 2])] == [set(), set(), set()]  # 1 2 | 3 is no run
    processor = NoRepeatNgrams(3, memory=[])
    replies = [[], [4], [4, 5], [4, 5, 6], [4, 5, 6, 4], [4, 5, 6, 4, 5]]
    assert [step(processor, reply) for reply in replies] == [set(), set(), set(), set(), set(), {6}]


def test_the_reply_cannot_open_as_one_of_the_last_messages_did():
    memory = [[1, 5], [2, 6], [3, 7], [4, 8], [4, 9], [9]]  # the last four open with 3, 4, 4 and 9
    processor = NoRepeatNgrams(3, memory=memory, openings=4)
    assert step(processor, []) == {3, 4, 9}
    assert step(processor, [3]) == set()  # only the opening token: later the same tokens are free
    assert step(NoRepeatNgrams(3, memory=memory, openings=0), []) == set()
    assert step(NoRepeatNgrams(3, memory=[[], [6]], openings=4), []) == {6}  # an empty message opens nothing


def test_a_blocked_ngram_needs_two_tokens():
    with pytest.raises(ValueError, match="at least 2 tokens"):
        NoRepeatNgrams(1, memory=[])


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
