"""Composable stop conditions, checked by the orchestrator after every turn.

Combine with ``|`` (stop when any holds) and ``&`` (stop when all hold)::

    MaxTurns(20) | EndSignal() | Timeout(120) | Predicate(lambda d: "bye" in d.turns[-1].text)
    MaxTurns(40) | TokenBudget(20_000) | CostBudget(0.05, load_prices("prices.yaml"))

Each condition answers with the `StopReason` to record, or None to go on. `Timeout` is also enforced
*during* a turn: the orchestrator cancels a model call that would run past it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from roleplay.dialog import Dialog, StopReason
from roleplay.errors import ConfigError
from roleplay.prices import PriceTable, cost_of
from roleplay.usage import agent_lines

__all__ = ["AllOf", "AnyOf", "CostBudget", "EndSignal", "MaxTurns", "Predicate", "StopCondition", "Timeout",
           "TokenBudget", "check_max_turns"]


def check_max_turns(n: object) -> int:
    """``n`` if it is a whole number of turns (at least 1); else a `ConfigError` saying what to pass."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"max_turns must be a whole number of turns, at least 1; got {n!r}. "
                          "Pass e.g. max_turns=12.")
    return n


class StopCondition(ABC):
    """Decides, after each turn, whether the conversation is over."""

    @abstractmethod
    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        """Return why to stop now, or None to continue; ``elapsed`` is seconds since the run started."""

    def time_limit(self) -> float | None:
        """Seconds after which the run must stop even mid-turn, if this condition sets such a limit."""
        return None

    def __or__(self, other: StopCondition) -> AnyOf:
        return AnyOf(self, other)

    def __and__(self, other: StopCondition) -> AllOf:
        return AllOf(self, other)


class MaxTurns(StopCondition):
    """Stop once the dialogue has ``n`` turns."""

    def __init__(self, n: int):
        self.n = check_max_turns(n)

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        return StopReason.MAX_TURNS if len(dialog.turns) >= self.n else None

    def __repr__(self) -> str:
        return f"MaxTurns({self.n})"


class EndSignal(StopCondition):
    """Stop when the last speaker signalled the end (the agent adapter sets ``metadata['end']``)."""

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        if dialog.turns and dialog.turns[-1].metadata.get("end"):
            return StopReason.END_SIGNAL
        return None

    def __repr__(self) -> str:
        return "EndSignal()"


class Predicate(StopCondition):
    """Stop when ``fn(dialog_so_far)`` is true."""

    def __init__(self, fn: Callable[[Dialog], bool], reason: StopReason = StopReason.PREDICATE):
        if not callable(fn):
            raise ConfigError(f"Predicate needs a function fn(dialog) -> bool, got {fn!r}. Pass e.g. "
                              "Predicate(lambda d: len(d.turns) > 3).")
        try:
            self.reason = StopReason(reason)
        except ValueError as err:
            raise ConfigError(f"Predicate's reason {reason!r} is not a StopReason; one of: "
                              f"{', '.join(r.value for r in StopReason)}.") from err
        self.fn = fn

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        return self.reason if self.fn(dialog) else None

    def __repr__(self) -> str:
        return f"Predicate({getattr(self.fn, '__name__', self.fn)!r})"


class Timeout(StopCondition):
    """Stop after ``seconds`` of wall-clock time, cancelling a turn still in progress."""

    def __init__(self, seconds: float):
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf:
            raise ConfigError(f"Timeout needs a positive number of seconds (finite), got {seconds!r}. Pass e.g. "
                              "Timeout(120).")
        self.seconds = seconds

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        return StopReason.TIMEOUT if elapsed >= self.seconds else None

    def time_limit(self) -> float | None:
        return self.seconds

    def __repr__(self) -> str:
        return f"Timeout({self.seconds})"


class TokenBudget(StopCondition):
    """Stop once the dialogue's model calls took ``tokens`` tokens (prompt and completion, memory summaries too).

    Checked after each turn, so the turn that crosses the budget is kept: a dialogue ends at most one
    turn's tokens past it. A branch counts only its own turns (`roleplay.usage.agent_lines`).
    """

    def __init__(self, tokens: int):
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise ConfigError(f"TokenBudget needs a whole number of tokens, at least 1; got {tokens!r}. "
                              "Pass e.g. TokenBudget(20_000).")
        self.tokens = tokens

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        spent = sum(line.tokens for line in agent_lines(dialog))
        return StopReason.BUDGET if spent >= self.tokens else None

    def __repr__(self) -> str:
        return f"TokenBudget({self.tokens})"


class CostBudget(StopCondition):
    """Stop once the dialogue's model calls cost ``amount`` at ``prices`` (`roleplay.prices`).

    A model the table has no price for is a `ConfigError` at the first check: a budget that cannot
    see part of the spending would not hold.
    """

    def __init__(self, amount: float, prices: PriceTable):
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise ConfigError(f"CostBudget needs a positive amount, got {amount!r}. Pass e.g. CostBudget(0.5, prices).")
        if not isinstance(prices, PriceTable):
            raise ConfigError("CostBudget needs a PriceTable as prices: load one with "
                              "roleplay.prices.load_prices('prices.yaml').")
        self.amount = amount
        self.prices = prices

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        cost, unknown = cost_of(agent_lines(dialog), self.prices)
        if unknown:
            raise ConfigError(f"CostBudget: {self.prices.source} has no price for {', '.join(unknown)}; add a line "
                              f"'{unknown[0]}: {{prompt: ..., completion: ...}}' (per million tokens).")
        return StopReason.BUDGET if cost >= self.amount else None

    def __repr__(self) -> str:
        return f"CostBudget({self.amount})"


class AnyOf(StopCondition):
    """Stop as soon as one part says so; its reason is recorded.

    Turn caps merge: ``MaxTurns(12) | MaxTurns(20)`` is ``MaxTurns(12)``, so a cap given by a scenario and
    again by the generator is one condition, not two.
    """

    def __init__(self, *parts: StopCondition):
        _check_parts("AnyOf", parts)
        flat = [p for part in parts for p in (part.parts if isinstance(part, AnyOf) else [part])]
        caps = [p for p in flat if isinstance(p, MaxTurns)]
        tightest = min(caps, key=lambda cap: cap.n) if caps else None
        self.parts: list[StopCondition] = [p for p in flat if not isinstance(p, MaxTurns) or p is tightest]

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        return next((r for part in self.parts if (r := part.check(dialog, elapsed)) is not None), None)

    def time_limit(self) -> float | None:
        limits = [limit for part in self.parts if (limit := part.time_limit()) is not None]
        return min(limits) if limits else None

    def __repr__(self) -> str:
        return " | ".join(map(repr, self.parts))


class AllOf(StopCondition):
    """Stop only when every part says so; the first part's reason is recorded."""

    def __init__(self, *parts: StopCondition):
        self.parts = list(_check_parts("AllOf", parts))

    def check(self, dialog: Dialog, elapsed: float) -> StopReason | None:
        reasons = [part.check(dialog, elapsed) for part in self.parts]
        return reasons[0] if all(r is not None for r in reasons) else None

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.parts)) + ")"


def _check_parts(name: str, parts: tuple[Any, ...]) -> tuple[StopCondition, ...]:
    """``parts`` if each is a `StopCondition`; ConfigError naming the first that is not."""
    bad = next((part for part in parts if not isinstance(part, StopCondition)), None)
    if bad is not None or not parts:
        raise ConfigError(f"{name} combines stop conditions (MaxTurns, Timeout, Predicate...), got "
                          f"{repr(bad) if parts else 'none'}.")
    return parts
