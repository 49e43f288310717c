"""The saved record of one conversation: `Turn`, `Event`, `StopReason` and `Dialog`.

A `Turn` is what a party said; an `Event` is observability (a tool call, a tracker move, a retry).
Both carry a literal ``kind`` so a saved dialogue reloads into the right classes. Files are
written atomically; the format follows the file's extension (``.json`` keeps everything,
``.txt`` keeps the turns as ``speaker: text`` lines, a turn's further lines indented: `roleplay._txt`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticSerializationError

from roleplay._atomic import as_path, atomic_write_text
from roleplay._checked import CheckedModel
from roleplay._txt import format_txt, parse_txt
from roleplay.errors import ConfigError, DialogFileError
from roleplay.sentences import terminal_safe, well_formed

SCHEMA_VERSION = 1
_CARRIED_METADATA = ("variant", "sampled", "server")
"""Metadata a branch keeps from its parent: what the dialogue was made of, not what its run measured."""
BEGIN_MARKER = "--- Dialogue Begins ---"
END_MARKER = "--- Dialogue Ends ---"


class StopReason(str, Enum):
    """Why a dialogue ended."""

    MAX_TURNS = "max_turns"
    END_SIGNAL = "end_signal"
    PREDICATE = "predicate"
    TIMEOUT = "timeout"
    OFF_POLICY = "off_policy"
    BACKEND_ERROR = "backend_error"
    GENERATED = "generated"
    BUDGET = "budget"
    """A `TokenBudget` or `CostBudget` was spent (`roleplay.conditions`)."""


class Turn(CheckedModel):
    """One utterance. ``Turn("Doctor", "Hello")`` and ``Turn(speaker=..., text=...)`` both work."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["turn"] = "turn"
    speaker: str | None = Field(default=None, description="Who spoke, as shown in transcripts.")
    text: str = Field(description="What was said, with any end-of-conversation marker removed.")
    action: str | None = Field(default=None, description="Policy action label of this turn, e.g. a STAR wizard action.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Per-turn extras: tokens, latency, raw output.")

    positional: ClassVar[tuple[str, ...]] = ("speaker", "text")  # Turn("Ana", "Hello")

    if TYPE_CHECKING:  # the call's signature, for type checkers (`CheckedModel.positional` does the work)
        def __init__(self, speaker: str | None = None, text: str | None = None, /, **data: Any) -> None: ...

    def __str__(self) -> str:
        return f"{self.speaker}: {self.text}"


class Event(CheckedModel):
    """Something that happened during a run that is not an utterance (tool call, tracker move, retry)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["event"] = "event"
    type: str = Field(description="What happened, e.g. 'query', 'tracker', 'retry', 'error'.")
    turn: int | None = Field(default=None, description="Index of the turn this event belongs to, if any.")
    data: dict[str, Any] = Field(default_factory=dict, description="Event payload.")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Dialog(CheckedModel):
    """A conversation and everything needed to reproduce or study it."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this file format.")
    id: int | str | None = Field(default=None, description="Dialogue id (e.g. the STAR id or the batch index).")
    model: str | dict[str, str] | None = Field(default=None, description="Model string, or one per speaker.")
    seed: int | None = Field(default=None, description="Seed the dialogue was generated with.")
    scenario: dict[str, Any] | str | None = Field(default=None, description="Scenario the dialogue plays out.")
    personas: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Speaker -> persona fields.")
    turns: list[Turn] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    complete: bool | None = Field(default=None, description="True when the conversation ended on its own.")
    stop_reason: StopReason | None = Field(default=None, description="Why generation stopped.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Run facts: timings, tokens, errors.")
    timestamp: str = Field(default_factory=_now, description="UTC creation time.")
    # Left out of the file when unset, so a dialogue that is no branch reads as before (older versions too).
    parent_id: int | str | None = Field(default=None, exclude_if=lambda v: v is None,
                                        description="Id of the dialogue this one branched from.")
    branched_at: int | None = Field(default=None, ge=0, exclude_if=lambda v: v is None,
                                    description="Turns shared with the parent (`fork`).")

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, version: int) -> int:
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {version} is not supported: this version of roleplay reads dialogue "
                             f"files of schema_version {SCHEMA_VERSION} only. Upgrade roleplay to read newer files.")
        return version

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self) -> Iterator[Turn]:  # type: ignore[override]  # turns, not pydantic's (field, value) pairs
        return iter(self.turns)

    def keys(self) -> list[str]:
        """The field names, so ``dict(dialog)`` gives the fields as for any pydantic model (iterating gives turns)."""
        return list(type(self).model_fields)

    @overload
    def __getitem__(self, index: int) -> Turn: ...

    @overload
    def __getitem__(self, index: str) -> Any: ...

    def __getitem__(self, index: int | str) -> Turn | Any:
        """``dialog[i]`` is turn i; ``dialog["field"]`` a field (what ``dict(dialog)`` reads)."""
        if isinstance(index, str):
            if index not in type(self).model_fields:
                raise KeyError(index)
            return getattr(self, index)
        return self.turns[index]

    def __str__(self) -> str:
        return "\n".join(str(turn) for turn in self.turns)

    @property
    def speakers(self) -> list[str]:
        """Distinct speakers in order of first appearance."""
        return list(dict.fromkeys(t.speaker for t in self.turns if t.speaker is not None))

    def render(self, scenario: bool = False) -> str:
        """The text `print` shows: a header, then ``[speaker] text`` lines between begin/end markers."""
        lines = []
        if self.id is not None:
            lines.append(f"Dialogue ID: {self.id}")
        lines.append(f"Model: {self.model}")
        lines.append(f"Seed: {self.seed}")
        if scenario and self.scenario:
            shown = self.scenario if isinstance(self.scenario, str) else json.dumps(self.scenario, indent=2)
            lines.append(f"Scenario: {shown}")
        lines.append(BEGIN_MARKER)
        lines.extend(f"[{turn.speaker}] {turn.text}" for turn in self.turns)
        lines.append(END_MARKER)
        if self.stop_reason is not None:
            lines.append(f"Stop reason: {self.stop_reason.value}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """How a notebook shows a dialogue: coloured turns, actions, events (`roleplay.viz.transcript`)."""
        from roleplay.viz.transcript import dialog_html

        return dialog_html(self)

    def print(self, scenario: bool = False) -> None:
        r"""Print the dialogue with its header; ``scenario=True`` shows the scenario too.

        Control characters in its text are shown as ``\xNN`` (`terminal_safe`), never obeyed by the terminal.
        """
        print(terminal_safe(self.render(scenario=scenario)))

    def to_file(self, path: str | Path) -> Path:
        """Save as JSON (everything) or TXT (``speaker: text`` lines), chosen by extension, atomically.

        A lone surrogate in a text (which UTF-8 cannot store) is written as U+FFFD (`well_formed`).
        """
        target = as_path(path, "Dialog.to_file (a .json or .txt file)")
        suffix = target.suffix.lower()
        if suffix == ".json":
            try:
                text = self.model_dump_json(indent=2)
            except PydanticSerializationError:  # a lone surrogate: pydantic cannot encode it; json.dumps can
                text = json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)
        elif suffix == ".txt":
            text = format_txt(self.turns)
        else:
            raise DialogFileError(f"unknown extension '{suffix or '(none)'}'. Use .json or .txt.", target)
        return atomic_write_text(target, well_formed(text))

    def fork(self, at_turn: int) -> Dialog:
        """The first ``at_turn`` turns as a new dialogue (a prefix) that a generator continues (``prefix=``).

        Everything is deep-copied, so a branch never changes its parent. The prefix keeps the parent's
        model, seed, scenario and personas, the events of its turns and the variant facts of its metadata;
        it records ``parent_id`` and ``branched_at``. Run facts (timings, totals, stop reason) are left out:
        the continuation records its own.
        """
        if isinstance(at_turn, bool) or not isinstance(at_turn, int) or not 0 <= at_turn <= len(self.turns):
            raise ConfigError(f"fork(at_turn={at_turn!r}): dialogue {self.id} has {len(self.turns)} turns; pass a "
                              f"whole number from 0 to {len(self.turns)}.")
        carried = {k: v for k, v in self.metadata.items() if k in _CARRIED_METADATA}
        return Dialog.model_validate({
            **self.model_dump(include={"model", "seed", "scenario", "personas"}),
            "turns": [t.model_dump() for t in self.turns[:at_turn]],
            "events": [e.model_dump() for e in self.events if e.turn is not None and e.turn < at_turn],
            "metadata": copy.deepcopy(carried), "parent_id": self.id, "branched_at": at_turn,
        })

    @classmethod
    def from_file(cls, path: str | Path) -> Dialog:
        """Load a dialogue saved by `to_file`; a TXT file gives turns only."""
        source = as_path(path, "Dialog.from_file (a .json or .txt file)")
        if source.is_dir():
            raise DialogFileError("is a folder, but a dialogue file (.json or .txt) is needed. Check the path.", source)
        if not source.is_file():
            raise DialogFileError("no such file. Check the path.", source)
        suffix = source.suffix.lower()
        try:
            text = source.read_text(encoding="utf-8-sig")  # -sig: an editor's byte-order mark is fine
        except UnicodeDecodeError as err:
            raise DialogFileError(f"not a UTF-8 text file (byte {err.start} cannot be decoded); a dialogue file is "
                                  "JSON or text saved as UTF-8.", source) from err
        except OSError as err:
            raise DialogFileError(f"cannot read it: {err.strerror or err}. Check its permissions.", source) from err
        if suffix == ".json":
            try:
                return cls.model_validate_json(text)
            except ValidationError as err:
                raise DialogFileError(f"not a valid dialogue JSON file: {_first_error(err)}", source) from err
        if suffix == ".txt":
            return cls(turns=[Turn(speaker=speaker, text=said) for speaker, said in parse_txt(text, source)])
        raise DialogFileError(f"unknown extension '{suffix or '(none)'}'. Use .json or .txt.", source)


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


def dialog_failure(dialog: Dialog) -> str | None:
    """Why ``dialog`` counts as failed (a backend error, no turns at all), or None if it is a result."""
    if dialog.stop_reason == StopReason.BACKEND_ERROR:
        return str(dialog.metadata.get("error", "backend error"))
    if not dialog.turns:
        reason = dialog.stop_reason.value if dialog.stop_reason else "unknown"
        return f"the dialogue has no turns (stop reason: {reason}); {dialog.metadata.get('error', '')}".rstrip("; ")
    return None

