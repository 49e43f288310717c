"""Token accounting: what each agent, dialogue and run spent, and the meter that counts calls outside turns.

Three places record tokens, and this module is where they meet:

- every turn's metadata (``prompt_tokens``, ``completion_tokens``, ``cached_prompt_tokens`` where the backend
  reports it), written by the orchestrator from the agent's model calls;
- a `metered` block: `roleplay.backends._base.Model` reports each call to the innermost meter open in the
  current task, so each call counts once, and calls that are not turns (a persona sampler filling a persona,
  a judge, a memory summary inside a turn) are counted apart, each under its own ``source``;
- ``dialog.metadata["usage"]``: a list of `UsageLine` (source, name, model, tokens), one per agent and per
  other source, written when the dialogue ends. A run's totals (``batch.json``, ``evaluate``, ``report``)
  are sums of these lines (`totals`), so the run's sum is the sum over its dialogues' turns by construction.

A branch (``Dialog.fork``) counts only the turns it generated: its prefix was paid for by its parent.
Prices are apart, in `roleplay.prices`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from pydantic import BaseModel, Field

__all__ = ["AGENT", "JUDGE", "MEMORY", "SAMPLER", "Meter", "Usage", "UsageLine", "add_lines", "agent_lines",
           "dialog_usage", "metered", "report_call", "totals", "turn_usage", "usage_summary"]

AGENT, MEMORY, SAMPLER, JUDGE = "agent", "memory", "sampler", "judge"
"""Where tokens went: an agent's turns, its memory summaries, the persona sampler, a judge."""


class Turn(Protocol):
    """What accounting reads of a `roleplay.dialog.Turn`.

    A protocol: this module imports nothing of roleplay, so every backend can report to it.
    """

    speaker: str | None
    metadata: dict[str, Any]


class Event(Protocol):
    """What accounting reads of a `roleplay.dialog.Event`."""

    type: str
    turn: int | None
    data: dict[str, Any]


class Dialog(Protocol):
    """What accounting reads of a `roleplay.dialog.Dialog`."""

    model: str | dict[str, str] | None
    metadata: dict[str, Any]

    @property
    def turns(self) -> Sequence[Turn]: ...  # read-only, so a list of `roleplay.dialog.Turn` matches

    @property
    def events(self) -> Sequence[Event]: ...
    branched_at: int | None


class Usage(BaseModel):
    """Tokens and calls, summable with ``+``."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = Field(0, description="Prompt tokens the provider reported as served from its cache.")
    calls: int = 0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens,
                     cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
                     calls=self.calls + other.calls)


class UsageLine(Usage):
    """What one source spent in one dialogue: an agent (``name`` is the speaker), or a sampler, judge, memory."""

    source: str = AGENT
    name: str = ""
    model: str = ""


def turn_usage(turn: Turn) -> Usage:
    """The tokens one turn's model calls took (as the orchestrator recorded them)."""
    meta = turn.metadata
    return Usage(prompt_tokens=int(meta.get("prompt_tokens") or 0),
                 completion_tokens=int(meta.get("completion_tokens") or 0),
                 cached_prompt_tokens=int(meta.get("cached_prompt_tokens") or 0),
                 calls=int(meta.get("calls") or (1 if "prompt_tokens" in meta else 0)))


def _model_of(dialog: Dialog, speaker: str | None) -> str:
    if isinstance(dialog.model, dict):
        return str(dialog.model.get(speaker or "", ""))
    return str(dialog.model or "")


def agent_lines(dialog: Dialog) -> list[UsageLine]:
    """One line per agent: its turns' tokens, and its memory summaries' apart (turns from ``branched_at`` on)."""
    start = dialog.branched_at or 0
    spent: dict[tuple[str, str], Usage] = {}
    for turn in dialog.turns[start:]:
        key = (AGENT, turn.speaker or "")
        spent[key] = spent.get(key, Usage()) + turn_usage(turn)
    for event in dialog.events:
        if event.type == MEMORY and (event.turn or 0) >= start and "usage" in event.data:
            key = (MEMORY, str(event.data.get("agent", "")))
            spent[key] = spent.get(key, Usage()) + Usage.model_validate(event.data["usage"])
    return [UsageLine(source=source, name=name, model=_model_of(dialog, name), **usage.model_dump())
            for (source, name), usage in spent.items()]


def dialog_usage(dialog: Dialog) -> list[UsageLine]:
    """The dialogue's usage lines: as saved in its metadata, else worked out from its turns (older files)."""
    saved = dialog.metadata.get("usage")
    if isinstance(saved, list):
        return [UsageLine.model_validate(line) for line in saved]
    return agent_lines(dialog)


def add_lines(dialog: Dialog, lines: Iterable[UsageLine]) -> None:
    """Add ``lines`` (a sampler's, a judge's) to the dialogue's saved usage."""
    dialog.metadata["usage"] = [line.model_dump() for line in [*dialog_usage(dialog), *lines]]


def totals(lines: Iterable[UsageLine], by: tuple[str, ...] = ("source",)) -> dict[str, Usage]:
    """``lines`` summed per key (fields of `UsageLine` joined by ``/``), plus ``"total"``."""
    summed: dict[str, Usage] = {}
    for line in lines:
        key = "/".join(str(getattr(line, field)) for field in by)
        summed[key] = summed.get(key, Usage()) + Usage(**line.model_dump(include=set(Usage.model_fields)))
    summed["total"] = sum(summed.values(), Usage())
    return summed


class Meter:
    """Usage counted per model string inside one `metered` block."""

    def __init__(self, source: str):
        self.source = source
        self.by_model: dict[str, Usage] = {}

    def add(self, model: str, usage: Usage) -> None:
        """Count one call of ``model``."""
        self.by_model[model] = self.by_model.get(model, Usage()) + usage

    def lines(self, name: str = "") -> list[UsageLine]:
        """What was counted, one line per model."""
        return [UsageLine(source=self.source, name=name, model=model, **usage.model_dump())
                for model, usage in self.by_model.items()]


_METERS: ContextVar[tuple[Meter, ...]] = ContextVar("roleplay_meters", default=())


@contextmanager
def metered(source: str) -> Iterator[Meter]:
    """Count every model call made in this block (in this task and the tasks it starts) under ``source``.

    A call counts in the innermost open block only: a memory summary written during a turn is the
    memory's, not the turn's.
    """
    meter = Meter(source)
    token = _METERS.set((*_METERS.get(), meter))
    try:
        yield meter
    finally:
        _METERS.reset(token)


def report_call(model: str, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0) -> None:
    """Count one model call in the innermost open `metered` block (`Model.create` calls it)."""
    meters = _METERS.get()
    if meters:
        meters[-1].add(model, Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                                    cached_prompt_tokens=cached_prompt_tokens, calls=1))


def usage_summary(lines: Iterable[UsageLine]) -> dict[str, Any]:
    """Totals per source and per agent, as plain data (for ``batch.json`` and reports)."""
    lines = list(lines)
    return {"by_source": {k: v.model_dump() for k, v in totals(lines).items()},
            "by_agent": {k: v.model_dump() for k, v in totals([ln for ln in lines if ln.source == AGENT],
                                                             ("name",)).items() if k != "total"},
            "by_model": {k: v.model_dump() for k, v in totals(lines, ("model",)).items() if k != "total"}}

