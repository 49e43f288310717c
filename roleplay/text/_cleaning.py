"""A model's raw reply made into a turn: its thought split off, the end marker, name labels and others' lines cut."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from roleplay.sentences import trim_to_complete

__all__ = ["clean_reply", "split_thought"]


_SPACES = re.compile(r"\s+")
_WRAPPED = re.compile(r'^["“]?([^"“”]*?)["”]?$')
"""A turn the model put in quotation marks, whole or only opened: the quotes are not part of what is said."""
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL | re.IGNORECASE)


def split_thought(raw: str) -> tuple[str, str | None]:
    """Separate a reasoning model's ``<think>...</think>`` (also unclosed, or only closed) from its words."""
    thoughts = [m.strip() for m in _THINK.findall(raw)]
    text = _THINK.sub("", raw)
    if "</think>" in text.lower():  # the chat template opened the block, the model only closed it
        before, _, text = re.split(r"(</think>)", text, maxsplit=1, flags=re.IGNORECASE)
        thoughts.insert(0, before.strip())
    thought = "\n".join(t for t in thoughts if t)
    return text.strip(), thought or None


class _Labels(NamedTuple):
    """`clean_reply`'s patterns for one speaker: its end marker, its own name prefixes, the others' labels."""

    marker: re.Pattern[str]
    own: tuple[re.Pattern[str], ...]
    other_opening: re.Pattern[str] | None
    other_line: re.Pattern[str] | None


@lru_cache(maxsize=1024)
def _labels(own_names: tuple[str, ...], other_names: tuple[str, ...], end_marker: str) -> _Labels:
    """Compiled once per speaker: every turn of every dialogue of a batch is cleaned with the same names."""
    marker = re.compile(re.escape(end_marker), re.IGNORECASE)
    own = tuple(re.compile(rf"^\s*(\S+\s+){{0,2}}?(\[{re.escape(name)}\]|{re.escape(name)}\s*:)\s*", re.IGNORECASE)
                for name in own_names)  # also after up to two stray words ("Well Doctor: Good morning.")
    if not other_names:
        return _Labels(marker, own, None, None)
    others = "|".join(re.escape(n) for n in other_names)
    prefix = rf"(\[({others})\]|({others})\s*:)"
    return _Labels(marker, own, re.compile(rf"^\s*{prefix}\s*", re.IGNORECASE),
                   re.compile(rf"(^|\n)\s*{prefix}", re.IGNORECASE))


def clean_reply(
    raw: str,
    own_names: Sequence[str],
    other_names: Sequence[str],
    end_marker: str,
    max_sentences: int | None = None,
) -> tuple[str, bool]:
    """Strip the end marker, a leading own-name prefix, quotes around the whole turn, and lines for others.

    With ``max_sentences``, keep only the first complete sentences (a small model rambles; a turn cut
    off by the token limit loses its unfinished last sentence when a complete one precedes it).
    Sentences are found by `roleplay.sentences`, so "Dr." or "3.5" never ends one.
    """
    labels = _labels(tuple(own_names), tuple(other_names), end_marker)
    text = raw.strip()
    end = bool(labels.marker.search(text))
    if end:
        text = labels.marker.sub("", text)
    for own in labels.own:
        text = own.sub("", text)
    if labels.other_opening and labels.other_line:
        # A reply that opens with another speaker's label is still this agent's turn: drop the label.
        # A label further on starts lines the model invented for someone else: cut there.
        text = labels.other_opening.sub("", text)
        cut = labels.other_line.search(text)
        if cut:
            text = text[: cut.start()]
    text = _SPACES.sub(" ", text).strip()
    text = _WRAPPED.sub(r"\1", text).strip()  # no match (a quotation inside the turn): unchanged
    if max_sentences is not None:
        text = trim_to_complete(text, max_sentences)
    return text, end

