r"""The ``.txt`` dialogue format: one ``speaker: text`` line per turn, readable, and read back exactly.

A turn's further lines are indented by two spaces, so a turn may hold newlines (``\r`` and ``\r\n`` read back
as ``\n``: the format keeps line breaks, not which kind). In a speaker name, ``\``, a newline, a carriage
return, ``": "`` and a leading space are escaped with a backslash, so a name like ``"Dr: Who"`` cannot
be mistaken for the separator. ``Dialog.to_file``/``from_file`` use this for files ending in ``.txt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from roleplay.errors import DialogFileError

__all__ = ["SpokenLine", "format_txt", "parse_txt"]


class SpokenLine(Protocol):
    """What the format keeps of a turn (a `roleplay.dialog.Turn` is one): who spoke and what they said."""

    speaker: str | None
    text: str

CONTINUATION = "  "
_LINE = re.compile(r"((?:\\.|[^\\])*?): (.*)")  # the first ': ' that is not escaped ends the speaker
_ESCAPED = re.compile(r"\\(.)")
_BREAK = re.compile(r"\r\n|\r|\n")
"""A line break in a turn's text: ``\\r\\n`` and ``\\r`` too (a reader's universal newlines would split there
anyway), so each is written as a continuation line and reads back as ``\\n``. A ``.json`` file keeps them."""


def _escape_speaker(speaker: str) -> str:
    escaped = speaker.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace(": ", "\\: ")
    return "\\" + escaped if escaped[:1].isspace() else escaped


def _unescape_speaker(written: str) -> str:
    return _ESCAPED.sub(lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), written)


def format_txt(turns: Iterable[SpokenLine]) -> str:
    """The ``.txt`` text of ``turns`` (a turn without a speaker is written with an empty one)."""
    lines = []
    for turn in turns:
        first, *rest = _BREAK.split(turn.text)
        lines.append(f"{_escape_speaker(turn.speaker or '')}: {first}")
        lines.extend(CONTINUATION + line for line in rest)
    return "\n".join(lines) + "\n"


def parse_txt(text: str, source: Path) -> list[tuple[str | None, str]]:
    """The (speaker, text) turns of a ``.txt`` dialogue; a line that is neither is a `DialogFileError`.

    Pairs, not `Turn` objects: the format sits below `roleplay.dialog`, which makes the turns.
    """
    turns: list[tuple[str | None, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith(CONTINUATION) and turns:
            speaker, said = turns[-1]
            turns[-1] = (speaker, said + "\n" + line[len(CONTINUATION):])
            continue
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise DialogFileError(f"line {number} is not 'speaker: text' (nor a two-space indented continuation "
                                  f"of the turn above): {line[:80]!r}. Fix that line, or save the dialogue as .json.",
                                  source)
        speaker = _unescape_speaker(match[1])
        turns.append((speaker or None, match[2]))
    return turns
