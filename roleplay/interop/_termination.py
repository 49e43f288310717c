"""roleplay's stop conditions as an AutoGen ``TerminationCondition``: `RoleplayTermination`.

``RoundRobinGroupChat(agents, termination_condition=RoleplayTermination(MaxTurns(8) | EndSignal()))``
checks the roleplay condition against the dialogue so far (built from the team's messages as
`dialog_from_autogen` builds it, so the task is not a turn) each time AutoGen delivers new messages.
The `StopMessage` it returns carries the `StopReason` value, so ``dialog_from_autogen(result)`` records
the same reason the roleplay orchestrator would have.

One difference: AutoGen consults a termination condition only between messages, so `Timeout` here
ends the run after the turn that crossed the limit rather than cancelling that turn (as AutoGen's own
``TimeoutTermination`` does too).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StopMessage

from roleplay.conditions import StopCondition
from roleplay.dialog import StopReason
from roleplay.interop._dialogs import Transcript
from roleplay.text._names import END_MARKER

__all__ = ["RoleplayTermination"]


class RoleplayTermination(TerminationCondition):
    """Ends an AutoGen team's run when a roleplay `StopCondition` holds for the conversation so far."""

    def __init__(self, condition: StopCondition, *, speakers: Mapping[str, str] | None = None,
                 end_marker: str = END_MARKER, clock: Callable[[], float] = time.monotonic):
        self.condition = condition
        self.clock = clock
        self.speakers = dict(speakers or {})
        self.end_marker = end_marker
        self._transcript = Transcript(self.speakers, end_marker=end_marker)
        self._started: float | None = None
        self._reason: StopReason | None = None

    @property
    def terminated(self) -> bool:
        return self._reason is not None

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        if self.terminated:
            raise TerminatedException("This termination condition has been reached; reset() it before reuse.")
        if self._started is None:
            self._started = self.clock()
        spoken = len(self._transcript.dialog.turns)
        self._transcript.add(messages)
        if len(self._transcript.dialog.turns) == spoken:  # roleplay checks after turns, not after the task
            return None
        self._reason = self.condition.check(self._transcript.dialog, self.clock() - self._started)
        if self._reason is None:
            return None
        return StopMessage(content=self._reason.value, source=type(self).__name__)

    async def reset(self) -> None:
        self._transcript = Transcript(self.speakers, end_marker=self.end_marker)
        self._started = None
        self._reason = None

    def __repr__(self) -> str:
        return f"RoleplayTermination({self.condition!r})"
