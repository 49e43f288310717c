"""`ToolEnvironment`: the world a policy agent acts on when it takes a ``query`` action.

It owns the `QueryTool` of each task and the step that turns a conversation into a call: the agent's
model reads the recent transcript and fills in the API's arguments as JSON decoded against the tool's
schema (prompts ``query_arguments``). The orchestrator only says which task and action, and records
what came back; a task without a tool answers "found" so the graph's success branch is followed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from roleplay.backends import Model
from roleplay.dialog import Turn
from roleplay.errors import StructuredOutputError
from roleplay.policy.tools import QueryResult, QueryTool
from roleplay.prompts import render
from roleplay.structured import complete_structured

__all__ = ["TRANSCRIPT_TURNS", "ToolCall", "ToolEnvironment"]

TRANSCRIPT_TURNS = 12
"""How many of the latest turns the argument extraction reads (the details a call needs are recent)."""


@dataclass(frozen=True)
class ToolCall:
    """What one tool call returned, and why its arguments are empty if they could not be extracted."""

    result: QueryResult
    extraction_error: str | None = None


class ToolEnvironment:
    """Calls each task's `QueryTool` with arguments extracted from the conversation."""

    def __init__(self, tools: Mapping[str, QueryTool], transcript_turns: int = TRANSCRIPT_TURNS):
        self.tools = dict(tools)
        self.transcript_turns = transcript_turns

    async def call(self, task: str, action: str, model: Model, turns: Sequence[Turn]) -> ToolCall:
        """Run ``action`` (a query node of ``task``) with arguments ``model`` reads from ``turns``."""
        tool = self.tools.get(task)
        if tool is None:
            return ToolCall(QueryResult(api=action, arguments={}, found=True))
        try:
            arguments = await self.arguments(tool, model, turns)
        except StructuredOutputError as err:  # the call still happens: it finds nothing and says what is missing
            return ToolCall(tool({}), extraction_error=str(err))
        return ToolCall(tool(arguments))

    async def arguments(self, tool: QueryTool, model: Model, turns: Sequence[Turn]) -> dict[str, Any]:
        """The call's arguments, decoded against the tool's schema from the latest turns."""
        transcript = "\n".join(f"{t.speaker}: {t.text}" for t in turns[-self.transcript_turns:])
        arguments, _, _ = await complete_structured(
            model, render("query_arguments_system"), render("query_arguments", transcript=transcript, api=tool.name),
            tool.arguments_schema())
        return arguments
