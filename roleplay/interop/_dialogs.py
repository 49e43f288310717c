"""An AutoGen team's run as a roleplay `Dialog`: `dialog_from_autogen` and the `Transcript` it is built on.

What becomes what:

- the task (the leading messages from ``user``, AutoGen's source for a string task) is kept as context
  in ``dialog.scenario["task"]``, not as a turn;
- every other chat message (``TextMessage``, ``HandoffMessage``, ``ToolCallSummaryMessage``, structured
  and multimodal messages) is a `Turn`, spoken by the message's source; roleplay's end marker is
  taken out of the text into ``turn.metadata["end"]``;
- tool calls (``ToolCallRequestEvent``) and their results (``ToolCallExecutionEvent``), thoughts, speaker
  selections and other agent events are `Event`s attached to the turn they precede; streaming chunks
  are skipped (the full message follows them);
- AutoGen's free-text ``stop_reason`` is kept in ``metadata["autogen_stop_reason"]`` and mapped to a
  `StopReason` where its wording is known (`stop_reason_of`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    ModelClientStreamingChunkEvent,
    StopMessage,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
)

from roleplay._checked import checked_items
from roleplay.dialog import Dialog, Event, StopReason, Turn
from roleplay.text._cleaning import clean_reply
from roleplay.text._names import END_MARKER

__all__ = ["Transcript", "dialog_from_autogen", "stop_reason_of"]

AutoGenMessage = BaseAgentEvent | BaseChatMessage

_KNOWN_STOPS: list[tuple[re.Pattern[str], StopReason]] = [
    (re.compile(r"^Maximum number of (messages|turns)", re.I), StopReason.MAX_TURNS),
    (re.compile(r"^Text '.*' mentioned", re.I | re.S), StopReason.END_SIGNAL),
    (re.compile(r"^Timeout", re.I), StopReason.TIMEOUT),
    (re.compile(r"^Functional termination", re.I), StopReason.PREDICATE),
]


def stop_reason_of(text: str | None) -> StopReason | None:
    """The `StopReason` AutoGen's stop text means: a roleplay condition's own value, or a known AutoGen wording."""
    if not text:
        return None
    first = text.split(",")[0].strip()  # AutoGen joins the messages of several conditions with ", "
    if first in {r.value for r in StopReason}:
        return StopReason(first)
    return next((reason for pattern, reason in _KNOWN_STOPS if pattern.search(first)), None)


def _event(message: BaseAgentEvent, turn: int) -> Event:
    data: dict[str, Any] = {"source": message.source}
    if isinstance(message, ToolCallRequestEvent):
        data["calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.content]
        return Event(type="tool_call", turn=turn, data=data)
    if isinstance(message, ToolCallExecutionEvent):
        data["results"] = [{"call_id": r.call_id, "name": r.name, "content": r.content, "is_error": r.is_error}
                           for r in message.content]
        return Event(type="tool_result", turn=turn, data=data)
    data["text"] = message.to_text()
    # every AutoGen message class declares `type` (its MessageFactory reads it); the base classes' stubs do not
    kind = message.type.removesuffix("Event")  # type: ignore[attr-defined]
    return Event(type=re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower(), turn=turn, data=data)


class Transcript:
    """Builds a `Dialog` from AutoGen messages fed in order, a batch at a time (a team's run, or deltas)."""

    def __init__(self, speakers: Mapping[str, str] | None = None, task_sources: Iterable[str] = ("user",),
                 end_marker: str = END_MARKER):
        self.speakers = dict(speakers or {})
        self.task_sources = set(task_sources)
        self.end_marker = end_marker
        self.dialog = Dialog()
        self._task: list[str] = []
        self._in_task = True

    def add(self, messages: Sequence[AutoGenMessage]) -> None:
        """Add messages in the order AutoGen produced them."""
        for message in messages:
            if self._in_task and isinstance(message, BaseChatMessage) and message.source in self.task_sources:
                self._task.append(message.to_text())
                self.dialog.scenario = {"task": "\n\n".join(self._task)}
                continue
            self._in_task = False
            if isinstance(message, ModelClientStreamingChunkEvent):
                continue
            if isinstance(message, StopMessage):
                self.dialog.events.append(Event(type="stop", turn=len(self.dialog.turns),
                                                data={"source": message.source, "text": message.content}))
            elif isinstance(message, BaseChatMessage):
                self.dialog.turns.append(self._turn(message))
            else:
                self.dialog.events.append(_event(message, len(self.dialog.turns)))

    def _turn(self, message: BaseChatMessage) -> Turn:
        text, end = clean_reply(message.to_text(), (), (), self.end_marker)
        metadata: dict[str, Any] = {"end": end or message.metadata.get("end") == "true",
                                    "message_type": message.type}  # type: ignore[attr-defined]  # as in _event
        if message.models_usage is not None:
            metadata.update(prompt_tokens=message.models_usage.prompt_tokens,
                            completion_tokens=message.models_usage.completion_tokens)
        target = getattr(message, "target", None)
        if target:
            metadata["handoff_to"] = target
        return Turn(speaker=self.speakers.get(message.source, message.source), text=text, metadata=metadata)

    def finish(self, stop_reason: str | None) -> Dialog:
        """The dialogue with AutoGen's stop reason recorded, its mapped `StopReason` and token totals."""
        dialog = self.dialog
        dialog.stop_reason = stop_reason_of(stop_reason)
        dialog.complete = dialog.stop_reason in (StopReason.END_SIGNAL, StopReason.PREDICATE)
        dialog.metadata.update(
            autogen_stop_reason=stop_reason,
            prompt_tokens=sum(t.metadata.get("prompt_tokens", 0) for t in dialog.turns),
            completion_tokens=sum(t.metadata.get("completion_tokens", 0) for t in dialog.turns),
        )
        return dialog


def dialog_from_autogen(
    result: TaskResult | Sequence[AutoGenMessage],
    *,
    speakers: Mapping[str, str] | None = None,
    task_sources: Iterable[str] = ("user",),
    end_marker: str = END_MARKER,
) -> Dialog:
    """Turn an AutoGen ``TaskResult`` (or its messages) into a `Dialog`.

    Args:
        result: what ``await team.run(task=...)`` (or an agent's ``run``) returned.
        speakers: AutoGen agent name -> speaker label in the transcript (e.g. ``{"Dr_Smith": "Dr. Smith"}``).
        task_sources: sources whose leading messages are the task, kept as context rather than turns.
        end_marker: the end-of-conversation marker to take out of the text into ``metadata["end"]``.
    """
    transcript = Transcript(speakers, task_sources, end_marker)
    if not isinstance(result, TaskResult):
        result = checked_items(result, (BaseChatMessage, BaseAgentEvent), "dialog_from_autogen's result",
                               "pass what team.run(task=...) returned, or its .messages")
    if isinstance(result, TaskResult):
        transcript.add(result.messages)
        return transcript.finish(result.stop_reason)
    transcript.add(result)
    return transcript.finish(None)
