"""Text-quality measures of dialogues, independent of any policy graph."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["distinct_n"]


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    """Distinct-n: distinct word n-grams / all word n-grams over ``texts`` (lower-cased, split on spaces).

    1.0 = no n-gram repeats anywhere in the set; low values mean repetitive, templated text.
    """
    grams = [tuple(words[i:i + n]) for words in (t.lower().split() for t in texts) for i in range(len(words) - n + 1)]
    return round(len(set(grams)) / len(grams), 4) if grams else None
