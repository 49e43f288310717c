"""Turn-taking: who speaks next, until a stop condition holds. Produces the `Dialog`.

`Orchestrator.run` is a template method: ``initialize``, then ``step`` and a stop check until done, then
``finalize``, with the run facts (time, tokens, stop reason) recorded even when a step fails. The loop chooses
the speaker once per turn and hands it to `step`; subclasses change `step` or `request_for` (for example
to keep an agent on a policy graph), never the loop, and record every turn through `_record`.

Failures: a backend that answers with an error ends *this* dialogue with
``StopReason.BACKEND_ERROR`` and the error text in its metadata, so a batch goes on; a backend that
cannot be reached at all is a configuration problem (`BackendUnreachableError`, a `ConfigError`) and is raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from roleplay import defaults
from roleplay.agents import Agent, Reply
from roleplay.conditions import EndSignal, MaxTurns, StopCondition
from roleplay.dialog import Dialog, Event, StopReason, Turn
from roleplay.errors import ConfigError, RunError
from roleplay.guards import guarded_reply
from roleplay.prompts import render
from roleplay.usage import AGENT, MEMORY, Meter, agent_lines, metered

logger = logging.getLogger(__name__)

__all__ = ["Orchestrator", "TurnPolicy", "TurnRequest", "round_robin"]

TurnPolicy = Callable[[Dialog, Sequence[str]], str]
"""Picks the next speaker's name from the dialogue so far and the names in speaking order."""


def round_robin(dialog: Dialog, names: Sequence[str]) -> str:
    """Everyone in turn, starting with the first name."""
    return names[len(dialog.turns) % len(names)]


@dataclass(frozen=True)
class TurnRequest:
    """What the orchestrator asks of a speaker for one turn: a director's note and, optionally, a JSON schema.

    A request that asks for structured output also reads it back (`finish`), so the hook that shapes a
    turn lives with the request that needed it; the plain request leaves the turn as spoken.
    """

    instruction: str | None = None
    schema: dict[str, Any] | None = None

    def finish(self, turn: Turn, reply: Reply) -> None:
        """Adjust ``turn`` from the structured ``reply`` (nothing to do for a plain request)."""


class Orchestrator:
    """Lets N agents speak in turn until ``stop`` says the conversation is over."""

    def __init__(
        self,
        agents: Sequence[Agent],
        stop: StopCondition | None = None,
        turn_policy: TurnPolicy = round_robin,
        first_speaker: str | None = None,
        on_turn: Callable[[Turn], None] | None = None,
        subject: str = "",
    ):
        """``subject`` (the dialogue details) is restated in each later turn's note (see `request_for`)."""
        if len(agents) < 2:
            raise ConfigError(f"A conversation needs at least two agents, got {len(agents)}.")
        names = [a.name for a in agents]
        if first_speaker is not None and first_speaker not in names:
            raise ConfigError(f"first_speaker {first_speaker!r} is not one of the agents: {', '.join(names)}.")
        if first_speaker is not None:
            start = names.index(first_speaker)
            agents = [*agents[start:], *agents[:start]]
        self.agents = {a.name: a for a in agents}
        self.stop = stop or (MaxTurns(defaults.MAX_TURNS) | EndSignal())
        self.turn_policy = turn_policy
        self.on_turn = on_turn
        self.subject = subject.strip()
        self._heard: dict[str, int] = {}
        self._started = 0.0
        self._meter = Meter(AGENT)  # the calls of the turn in progress (`run` opens one per turn)

    @property
    def names(self) -> list[str]:
        """Agent names in speaking order."""
        return list(self.agents)

    def initialize(self, dialog: Dialog) -> None:
        """Reset per-run state before the first turn.

        A dialogue that already has turns is a prefix (`Dialog.fork`) whose turns the agents were given
        as memory (`Agent.prime`): everyone has heard them.
        """
        self._heard = {name: len(dialog.turns) for name in self.agents}
        self._started = time.perf_counter()

    def next_speaker(self, dialog: Dialog) -> Agent:
        """Ask the turn policy who speaks next (once per turn), and check the answer."""
        name = self.turn_policy(dialog, self.names)
        if name not in self.agents:
            raise ConfigError(f"The turn policy chose {name!r}, which is not one of: {', '.join(self.agents)}.")
        return self.agents[name]

    def unheard(self, agent: Agent, dialog: Dialog) -> list[Turn]:
        """The turns spoken since ``agent`` last spoke."""
        return dialog.turns[self._heard[agent.name]:]

    async def step(self, dialog: Dialog, agent: Agent) -> Turn:
        """One turn of ``agent``, chosen by the loop: it hears what it missed and replies."""
        request = self.request_for(agent, dialog)
        started = time.perf_counter()
        reply = await guarded_reply(agent, dialog.turns, self.unheard(agent, dialog),
                                    prefix_speakers=len(self.agents) > 2, instruction=request.instruction,
                                    schema=request.schema)
        turn = Turn(speaker=agent.name, text=reply.text, metadata={"end": reply.end, **reply.metadata})
        request.finish(turn, reply)
        return self._record(dialog, agent, turn, [reply], started)

    def request_for(self, agent: Agent, dialog: Dialog) -> TurnRequest:
        """What to ask of ``agent`` this turn: its `first_turn_note` on its first turn, then the ``subject``.

        A small model drifts to small talk within a few turns although its system prompt holds the dialogue
        details; said again just before each turn, they keep it nearer the subject (`bench/quality.py`
        measures it). Each note is forgotten after its turn (`Agent.reply`).
        """
        first = self.first_turn_note(agent, dialog)
        if first is not None or not self.subject:
            return TurnRequest(instruction=first)
        return TurnRequest(instruction=render("subject", subject=self.subject))

    def first_turn_note(self, agent: Agent, dialog: Dialog, situation: bool = True) -> str | None:
        """On ``agent``'s first turn: the kickoff for the first speaker, else a note to say its persona's situation.

        Without it a small model answers "What brings you in?" with small talk: the situation
        (`BasePersona.situation`) is one line among the persona's in its system prompt. The first speaker
        hears its situation before the kickoff but is not asked to say it (asked, the embedded model narrated
        it: "A patient came in today ..."). None once the agent has spoken, or for a later speaker without
        a situation (or with ``situation=False``).
        """
        if any(turn.speaker == agent.name for turn in dialog.turns):
            return None
        told = agent.persona.situation().strip() if situation else ""
        if not dialog.turns:
            return render("kickoff", situation=f"{told}\n" if told else "", other_names=" and ".join(agent.other_names))
        return render("situation", situation=told, name=agent.name) if told else None

    def _record(self, dialog: Dialog, agent: Agent, turn: Turn, replies: Sequence[Reply], started: float) -> Turn:
        """Append ``turn`` with what every turn records, and note that its speaker has heard everything so far.

        ``replies`` are all the model calls the turn took (a policy turn may call twice around a tool): their
        tokens add up; the last one's raw output is kept when it differs from the spoken text.
        """
        raw = replies[-1].raw if replies else ""
        turn.metadata.update(
            seconds=round(time.perf_counter() - started, 3),
            prompt_tokens=sum(r.prompt_tokens for r in replies),
            completion_tokens=sum(r.completion_tokens for r in replies),
            **({"raw": raw} if raw.strip() != turn.text else {}),
        )
        _count_calls(turn, self._meter.lines())
        dialog.turns.append(turn)
        self._heard[agent.name] = len(dialog.turns)
        dialog.events.extend(Event(type=MEMORY, turn=len(dialog.turns) - 1, data={"agent": agent.name, **data})
                             for data in agent.memory.take_events())
        return turn

    def elapsed(self) -> float:
        """Seconds since `initialize`."""
        return time.perf_counter() - self._started

    async def _step_within_limit(self, dialog: Dialog) -> StopReason | None:
        agent = self.next_speaker(dialog)
        limit = self.stop.time_limit()
        if limit is None:
            turn = await self.step(dialog, agent)
        else:
            remaining = limit - self.elapsed()
            if remaining <= 0:
                return StopReason.TIMEOUT
            try:
                turn = await asyncio.wait_for(self.step(dialog, agent), timeout=remaining)
            except TimeoutError:
                return StopReason.TIMEOUT
        if self.on_turn is not None:
            self.on_turn(turn)
        return None

    async def run(self, dialog: Dialog | None = None) -> Dialog:
        """Run the conversation into ``dialog`` (a new one if not given) and return it."""
        dialog = dialog if dialog is not None else Dialog()
        self.initialize(dialog)
        reason: StopReason | None = None
        try:
            while reason is None:
                with metered(AGENT) as self._meter:  # every call of the turn (memory summaries apart: their own)
                    reason = await self._step_within_limit(dialog)
                if reason is None:
                    reason = self.stop.check(dialog, self.elapsed())
        except RunError as err:
            reason = StopReason.BACKEND_ERROR
            dialog.metadata["error"] = str(err)
            logger.warning("dialogue %s ended on a backend error: %s", dialog.id, err)
        finally:
            self.finalize(dialog, reason)
        return dialog

    def finalize(self, dialog: Dialog, reason: StopReason | None) -> None:
        """Record why and how the run ended."""
        dialog.stop_reason = reason
        dialog.complete = reason in (StopReason.END_SIGNAL, StopReason.PREDICATE)
        prompt = sum(t.metadata.get("prompt_tokens", 0) for t in dialog.turns)
        completion = sum(t.metadata.get("completion_tokens", 0) for t in dialog.turns)
        seconds = self.elapsed()
        dialog.metadata.update(
            seconds=round(seconds, 3),
            prompt_tokens=prompt,
            completion_tokens=completion,
            tokens_per_second=round(completion / seconds, 2) if seconds > 0 else None,
            usage=[line.model_dump() for line in agent_lines(dialog)],
        )


def _count_calls(turn: Turn, lines: Sequence[Any]) -> None:
    """Put every model call of the turn in its tokens: a guard's rejected attempts and a tool's argument call too.

    The replies only report the calls that were kept; the turn's meter saw them all. Without a metered
    call (a turn recorded outside `run`), the replies' numbers stay.
    """
    calls = sum(line.calls for line in lines)
    if not calls:
        return
    turn.metadata.update(prompt_tokens=sum(line.prompt_tokens for line in lines),
                         completion_tokens=sum(line.completion_tokens for line in lines))
    cached = sum(line.cached_prompt_tokens for line in lines)
    if cached:
        turn.metadata["cached_prompt_tokens"] = cached
    if calls > 1:
        turn.metadata["calls"] = calls
