"""Sentences and words of a turn: where a sentence ends, whether a turn is complete, its word tokens.

Sentence boundaries come from ``sentencex`` (Wikimedia's segmenter), chosen over ``pysbd`` because it
handles the cases that broke the old regex splitter just as well (``Dr.``, ``Mr.``, ``e.g.``, ``3.5``,
``p.m.`` never end a sentence), is about 30 times faster (it runs on every turn, and the guards run it
on every resample), has no dependencies, and is maintained (pysbd's last release is from 2021).

sentencex takes a few everyday words for abbreviations ("me", "ok", "no": "Tell me. I will go." stays
one sentence); `sentences` splits after them when a capitalised word follows.

A segmenter cannot know that a turn *ending* in a title (``My name is Dr.``) was cut off: a title never
ends a sentence in speech, so `is_complete` says no to it.

Segmenting and tokenizing are memoized (pure functions of an immutable string): the guards compare each
new turn with every earlier one, so without the cache a dialogue's turns are split again on every turn
and every resample.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sentencex

__all__ = ["CLOSERS", "TERMINAL", "is_complete", "ngrams", "sentences", "terminal_safe", "trim_to_complete",
           "well_formed", "words"]

TERMINAL = ".!?…"
"""A complete turn ends with one of these, possibly inside closing quotes or brackets (`CLOSERS`)."""
CLOSERS = "\"')]*"

_TITLES = re.compile(r"\b(dr|mr|mrs|ms|prof|st|mt|sr|jr|no|vs|e\.g|i\.e|etc)\.$", re.IGNORECASE)
_WORDS_NOT_ABBREVIATIONS = re.compile(r"(?<=\b(?:[Mm]e|[Oo][Kk]|[Nn]o)[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)


_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    r"""``text`` with each lone surrogate (``"\ud800"``: legal in JSON, not encodable as UTF-8) made U+FFFD.

    The one place text from outside (a model's reply, a turn saved to a file) is made storable; ``text``
    itself is returned when it has none.
    """
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: object) -> str:
    r"""``text`` with every control character but newline and tab shown as ``\xNN``, for a terminal.

    Dialogue text comes from models and files: an escape sequence in it (``\x1b[2J`` clears the screen,
    ``\x1b]0;...`` sets the title) must be seen, not obeyed. Every terminal view of outside text uses it.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", str(text))


_MEMO = 8192
"""Texts whose sentences and words are remembered (a few hundred dialogues' turns in flight)."""


@lru_cache(maxsize=_MEMO)
def _segment(text: str, language: str) -> tuple[str, ...]:
    found = [s for segment in sentencex.segment(language, text) for s in _WORDS_NOT_ABBREVIATIONS.split(segment)]
    return tuple(s.strip() for s in found if s.strip())


@lru_cache(maxsize=_MEMO)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(text))


def sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text``, stripped, in order (abbreviations and decimals stay inside a sentence)."""
    return list(_segment(well_formed(text), language))


def is_complete(text: str) -> bool:
    """Whether ``text`` ends like a finished sentence (terminal punctuation, and not on a title like ``Dr.``).

    Only the end is looked at (a search for an end-anchored pattern would try every position of the turn,
    and the guards ask on every attempt of every turn): the longest title and the character before it, for
    the word boundary, fit in the last eight characters.
    """
    text = text.strip()
    body = text.rstrip(CLOSERS)
    return bool(body) and body[-1] in TERMINAL and not _TITLES.search(text[-8:])


def trim_to_complete(text: str, max_sentences: int | None = None) -> str:
    """The first ``max_sentences`` sentences of ``text``, without an unfinished last one.

    A text with no complete sentence at all is returned as it is, so a caller can tell it is still cut off.
    """
    parts = sentences(text)
    if len(parts) > 1 and not is_complete(parts[-1]):
        parts = parts[:-1]
    if max_sentences is not None:
        parts = parts[:max_sentences]
    return " ".join(parts)


def words(text: str) -> list[str]:
    """Lower-cased word tokens: letters and digits, keeping inner apostrophes, dots and hyphens (``don't``, ``3.5``)."""
    return list(_tokens(text))


def ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    """The word n-grams of ``text``, in order (`words` tokens)."""
    tokens = _tokens(text)
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
