"""No repeated runs of tokens and no stale openings, with llama.cpp's own samplers (DRY and logit bias).

A small model copies whole sentences of the conversation (the other party's last turn, its own earlier
ones), and repeat penalties only see the last 64 tokens. The guard ``no_repeat_ngram`` (default 3) asks
llama.cpp's DRY sampler to forbid, at each step, a token that would complete a run of that many tokens
already present in the conversation's messages or earlier in the reply: DRY penalises a token by
``multiplier * base ** (run - allowed_length)`` when it extends a repeated run of ``allowed_length`` tokens
or more, so ``allowed_length = size - 1`` with a large `DRY_MULTIPLIER` is Hugging Face's
``no_repeat_ngram_size`` with the conversation as the memory. DRY looks back over the last
``penalty_last_n`` tokens of the prompt and reply: sized here to the messages after the system prompt,
so the persona's own words ("a headache for three days") stay sayable. Runs never cross a newline
(the only sequence breaker), so they never cross two messages either.

Nor may a reply open with the token that opened one of the last `FRESH_OPENINGS` messages: a small model
opens every turn of both parties alike ("I'm so glad ...", "I'm sorry ...", "I'm here ..."), and one word
changed after the opening is out of reach of the n-grams and of `roleplay.guards.same_opening`. A
``logit_bias`` holds for every token of a reply, so the backend decodes the first token alone under the
bias and the rest after it (`roleplay.backends.llamacpp`). Both are pure functions of the tokens and the
seed, so the same seed still gives the same reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DRY_BASE", "DRY_MULTIPLIER", "FRESH_OPENINGS", "NoRepeat", "TEMPLATE_TOKENS", "no_repeat"]

FRESH_OPENINGS = 4
"""The last messages whose first token a reply may not open with: the other's last two turns, one's own
last turn and the note before the turn. On the embedded model (doctor_patient, seeds 0-13, bench/RESULTS.md)
"I'm" opened 117 of 140 turns without it, 40 with it, and a speaker used a topic word (headache, pain, ...)
in its first two turns 11 times in 28 without it, 19 with it."""

DRY_MULTIPLIER = 64.0
"""DRY's penalty (in logits) on a token that would complete a repeated run: e**-64, so the run is never said."""

DRY_BASE = 1.75
"""llama.cpp's default growth of the penalty per token of a longer run."""

TEMPLATE_TOKENS = 5
"""Tokens a chat template adds around one message (ChatML: ``<|im_start|>role\\n ... <|im_end|>\\n``)."""


@dataclass(frozen=True)
class NoRepeat:
    """The no-repeat guard of one request, in llama.cpp's terms.

    Attributes:
        size: the run length in tokens that may not be said again.
        openings: tokens a reply may not open with.
        penalty_last_n: how many tokens, from the end of the prompt and reply, DRY looks back over.
    """

    size: int
    openings: tuple[int, ...]
    penalty_last_n: int

    def dry_args(self) -> dict[str, Any]:
        """Request fields of llama.cpp's DRY sampler."""
        return {"dry_multiplier": DRY_MULTIPLIER, "dry_base": DRY_BASE, "dry_allowed_length": self.size - 1,
                "dry_penalty_last_n": self.penalty_last_n, "dry_sequence_breakers": ["\n"]}

    def opening_bias(self) -> list[list[Any]]:
        """A ``logit_bias`` that bans the openings (``false`` is llama.cpp's "never")."""
        return [[token, False] for token in self.openings]


def no_repeat(size: int, memory: Sequence[Sequence[int]], reply_tokens: int,
              openings: int = FRESH_OPENINGS) -> NoRepeat:
    """The guard for a reply of at most ``reply_tokens`` tokens after the messages ``memory``.

    Args:
        size: run length in tokens (3 blocks most copied phrases; larger blocks only longer copies).
        memory: the tokens of each message after the system prompt, oldest first.
        reply_tokens: the most tokens the reply may have (DRY also looks back over the reply itself).
        openings: the last this many messages of ``memory`` give the tokens the reply may not open with.

    Raises:
        ValueError: ``size`` below 2.
    """
    if size < 2:
        raise ValueError(f"A blocked n-gram needs at least 2 tokens, got {size}.")
    recent = list(memory)[max(len(memory) - openings, 0):] if openings > 0 else []
    banned = tuple(sorted({int(tokens[0]) for tokens in recent if len(tokens)}))
    looked_back = sum(len(tokens) + TEMPLATE_TOKENS for tokens in memory) + TEMPLATE_TOKENS + reply_tokens
    return NoRepeat(size, banned, looked_back)
