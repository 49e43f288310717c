"""No repeated n-grams while decoding: a llama.cpp logits processor that blocks a copy before it is written.

A small model copies whole sentences of the conversation (the other party's last turn, its own earlier
ones), and repeat penalties only see the last 64 tokens. `NoRepeatNgrams` forbids, at each step, every
token that would complete a token n-gram already present in the conversation's messages or earlier in
this reply (Hugging Face's ``no_repeat_ngram_size``, with the conversation as the memory). The system
prompt is not a memory: the persona's own words ("a headache for three days") stay sayable.
Nor may a reply open with the token that opened one of the last `FRESH_OPENINGS` messages: a small
model opens every turn of both parties alike ("I'm so glad ...", "I'm sorry ...", "I'm here ..."), and
one word changed after the opening is out of reach of the n-grams and of `roleplay.guards.same_opening`.
It is a pure function of the tokens, so the same seed still gives the same reply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

__all__ = ["FRESH_OPENINGS", "NoRepeatNgrams"]

FRESH_OPENINGS = 4
"""The last messages whose first token a reply may not open with: the other's last two turns, one's own
last turn and the note before the turn. On the embedded model (doctor_patient, seeds 0-13, bench/RESULTS.md)
"I'm" opened 117 of 140 turns without it, 40 with it, and a speaker used a topic word (headache, pain, ...)
in its first two turns 11 times in 28 without it, 19 with it."""


class NoRepeatNgrams:
    """Forbid tokens that would repeat an n-gram of ``size`` tokens from ``memory`` or from the reply itself.

    Args:
        size: n-gram length in tokens (3 blocks most copied phrases; larger blocks only longer copies).
        memory: token sequences already said (each message's tokens; n-grams never cross two messages).
        openings: the last this many messages of ``memory`` give the tokens the reply may not open with.
    """

    def __init__(self, size: int, memory: Sequence[Sequence[int]], openings: int = FRESH_OPENINGS):
        if size < 2:
            raise ValueError(f"A blocked n-gram needs at least 2 tokens, got {size}.")
        self.size = size
        self._next: dict[tuple[int, ...], set[int]] = defaultdict(set)
        for tokens in memory:
            self._learn(list(tokens), 0)
        recent = list(memory)[max(len(memory) - openings, 0):] if openings > 0 else []
        self._openings = sorted({int(tokens[0]) for tokens in recent if len(tokens)})
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
        if not reply and self._openings:
            scores[self._openings] = -float("inf")
        if len(reply) >= self.size - 1:
            blocked = self._next.get(tuple(reply[len(reply) - self.size + 1:]))
            if blocked:
                scores[list(blocked)] = -float("inf")
        return scores
