"""No repeated n-grams while decoding: a llama.cpp logits processor that blocks a copy before it is written.

A small model copies whole sentences of the conversation (the other party's last turn, its own earlier
ones), and repeat penalties only see the last 64 tokens. `NoRepeatNgrams` forbids, at each step, every
token that would complete a token n-gram already present in the conversation's messages or earlier in
this reply (Hugging Face's ``no_repeat_ngram_size``, with the conversation as the memory). The system
prompt is not a memory: the persona's own words ("a headache for three days") stay sayable.
It is a pure function of the tokens, so the same seed still gives the same reply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

__all__ = ["NoRepeatNgrams"]


class NoRepeatNgrams:
    """Forbid tokens that would repeat an n-gram of ``size`` tokens from ``memory`` or from the reply itself.

    Args:
        size: n-gram length in tokens (3 blocks most copied phrases; larger blocks only longer copies).
        memory: token sequences already said (each message's tokens; n-grams never cross two messages).
    """

    def __init__(self, size: int, memory: Sequence[Sequence[int]]):
        if size < 2:
            raise ValueError(f"A blocked n-gram needs at least 2 tokens, got {size}.")
        self.size = size
        self._next: dict[tuple[int, ...], set[int]] = defaultdict(set)
        for tokens in memory:
            self._learn(list(tokens), 0)
        self._prompt_length: int | None = None
        self._learned_until = 0

    def _learn(self, tokens: list[int], start: int) -> None:
        for end in range(max(start, self.size - 1), len(tokens)):
            self._next[tuple(tokens[end - self.size + 1:end])].add(tokens[end])

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._prompt_length is None:  # the first call sees the whole prompt and no reply yet
            self._prompt_length = len(input_ids)
        reply = [int(t) for t in input_ids[self._prompt_length:]]
        self._learn(reply, self._learned_until)
        self._learned_until = len(reply)
        if len(reply) >= self.size - 1:
            blocked = self._next.get(tuple(reply[len(reply) - self.size + 1:]))
            if blocked:
                scores[list(blocked)] = -float("inf")
        return scores
