"""How much a turn repeats: copies of earlier turns or sentences, word pairs said before, same openings.

Pure functions of the text, so the guards (`roleplay.guards`) reject what evaluation
(`roleplay.evaluation.text`) measures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz, process, utils

from roleplay.sentences import ngrams, sentences, words

__all__ = ["FORMULA_WORDS", "copy_score", "new_pair_share", "prompt_lines", "same_opening"]

_LINE_LABEL = re.compile(r"^[^:\n]{1,40}:\s+")
"""A prompt line's label: "Doctor: " before an example turn, "Your name: " before a persona field."""
FORMULA_WORDS = 3
"""Greetings and thanks this short ("Good morning.", "Thank you, doctor.") may be said back word for word."""


@lru_cache(maxsize=8192)
def _comparable(text: str, min_words: int) -> tuple[str, tuple[str, ...]]:
    """``text`` and its sentences of at least ``min_words`` words, normalised as rapidfuzz compares them.

    Memoized: every earlier turn (and the system prompt) is compared again on each new turn and resample.
    """
    parts = (s for s in sentences(text) if len(words(s)) >= min_words)
    return utils.default_process(text), tuple(utils.default_process(s) for s in parts)


class _Reference(NamedTuple):
    """Earlier turns as `copy_score` compares with them: every whole turn and sentence, and whose it is."""

    choices: tuple[str, ...]
    owners: tuple[int, ...]


@lru_cache(maxsize=1024)
def _reference(earlier: tuple[str, ...], min_words: int) -> _Reference:
    """Memoized: a turn's resamples, and every turn's prompt-leak check, compare with the same texts."""
    units = [_comparable(turn, min_words) for turn in earlier]
    choices = [whole for whole, _ in units] + [part for _, parts in units for part in parts]
    owners = list(range(len(units))) + [index for index, (_, parts) in enumerate(units) for _ in parts]
    return _Reference(tuple(choices), tuple(owners))


@lru_cache(maxsize=8192)
def _pairs(text: str) -> frozenset[tuple[str, ...]]:
    return frozenset(ngrams(text, 2))


@lru_cache(maxsize=1024)
def _seen_pairs(earlier: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    return frozenset().union(*(_pairs(turn) for turn in earlier))


def copy_score(text: str, earlier: Sequence[str], min_words: int = 1) -> tuple[float, int | None]:
    """How much ``text`` repeats ``earlier`` turns: the best rapidfuzz ratio (0-100) and that turn's index.

    Whole turns are compared, and so are sentences of at least ``min_words`` words: a small model
    often repeats one long sentence and changes the rest, which a whole-turn ratio misses.
    """
    if not earlier or not text.strip():
        return 0.0, None
    reference = _reference(tuple(earlier), min_words)
    whole, parts = _comparable(text, min_words)
    best_score, best_index = 0.0, None
    for query in (whole, *parts):
        match = process.extractOne(query, reference.choices, scorer=fuzz.ratio, processor=None)
        if match and match[1] > best_score:
            best_score, best_index = match[1], reference.owners[match[2]]
    return round(best_score, 1), best_index


@lru_cache(maxsize=256)
def prompt_lines(prompt: str) -> tuple[str, ...]:
    """The lines of a system prompt without their labels, each a unit a turn may copy whole.

    An example turn of short sentences ("Good morning, please have a seat. What brings you in today?")
    is under the sentence length `copy_score` compares, and a small share of the whole prompt.
    """
    return tuple(line for line in (_LINE_LABEL.sub("", raw).strip() for raw in prompt.splitlines()) if line)


def new_pair_share(text: str, earlier: Sequence[str]) -> float | None:
    """The share of ``text``'s word pairs that no earlier turn used (None for a text under two words).

    A turn stitched from phrases already said is as degenerate as a copy, though no sentence matches.
    """
    pairs = ngrams(text, 2)
    if not pairs:
        return None
    seen = _seen_pairs(tuple(earlier))
    return round(sum(pair not in seen for pair in pairs) / len(pairs), 3)


def same_opening(text: str, own: Sequence[str], runs: int) -> str | None:
    """The two opening words ``text`` shares with each of the speaker's last ``runs`` turns (None if not).

    A paraphrase loop changes the words after the opening, so no ratio or word-pair rule sees it.
    """
    opening = words(text)[:2]
    if runs <= 0 or len(opening) < 2 or len(own) < runs:
        return None
    return " ".join(opening) if all(words(turn)[:2] == opening for turn in own[-runs:]) else None

