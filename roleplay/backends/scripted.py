"""Scripted backends: canned replies or a Python function instead of a model.

They are first-class models (``get_backend("scripted", replies=[...])``, ``ScriptedClient(fn=...)``, or
``scripted:auto``, which answers any schema with the smallest valid JSON and anything else with a short
turn) so tests, demos and notebooks in CI drive the real engine. Every request is recorded in ``history``, so a test can
assert which prompt a persona saw, which seed and which JSON schema were asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from roleplay.backends._base import BackendRecord, Model, PlainChatClient
from roleplay.backends._dialects import SCHEMA_KEY
from roleplay.backends.options import BackendOptions, ScriptedOptions
from roleplay.errors import ConfigError


@dataclass
class ScriptedRequest:
    """What one call asked for: the messages as (role, source, text) triples, the seed and the schema."""

    messages: list[tuple[str, str | None, str]]
    seed: int | None
    schema: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> str:
        """The system prompt of this call (empty if none)."""
        return next((text for role, _, text in self.messages if role == "system"), "")

    @property
    def last(self) -> str:
        """The text of the last message."""
        return self.messages[-1][2] if self.messages else ""


ScriptFn = Callable[[ScriptedRequest], str | Exception]


def _role(message: LLMMessage) -> str:
    return {"SystemMessage": "system", "UserMessage": "user", "AssistantMessage": "assistant"}.get(
        type(message).__name__, "tool"
    )


class ScriptedClient(PlainChatClient):
    """Replies from a list (in order) or from ``fn(request)``; an Exception returned by ``fn`` is raised."""

    def __init__(self, replies: Sequence[str] | None = None, fn: ScriptFn | None = None, seed: int | None = None):
        if (replies is None) == (fn is None):
            raise ConfigError("A scripted model needs exactly one of replies=[...] or fn=callable.")
        super().__init__()
        self._replies = list(replies or [])
        self._fn = fn
        self.seed = seed
        self.history: list[ScriptedRequest] = []

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        extra = dict(extra_create_args)
        schema = extra.pop(SCHEMA_KEY, None)
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            schema = json_output.model_json_schema()
        request = ScriptedRequest(
            messages=[(_role(m), getattr(m, "source", None), str(m.content)) for m in messages],
            seed=extra.pop("seed", self.seed),
            schema=schema,
            extra=extra,
        )
        self.history.append(request)
        if self._fn is not None:
            reply = self._fn(request)
        elif len(self.history) <= len(self._replies):
            reply = self._replies[len(self.history) - 1]
        else:
            raise ConfigError(
                f"The scripted model ran out of replies after {len(self._replies)}; give it more replies or a fn."
            )
        if isinstance(reply, Exception):
            raise reply
        usage = self.record(RequestUsage(prompt_tokens=sum(len(t.split()) for _, _, t in request.messages),
                                         completion_tokens=len(reply.split())))
        return CreateResult(finish_reason="stop", content=reply, usage=usage, cached=False)

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return sum(len(str(m.content).split()) for m in messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return 1_000_000 - self.count_tokens(messages)


def scripted_model(replies: Sequence[str] | None = None, fn: ScriptFn | None = None,
                   seed: int | None = None, name: str = "scripted") -> Model:
    """A ready `Model` over a `ScriptedClient`."""
    return Model(ScriptedClient(replies=replies, fn=fn, seed=seed), name=name, backend="scripted",
                 schema_args=lambda schema: {SCHEMA_KEY: schema}, options=BackendOptions(seed=seed))


def example_of(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value that satisfies ``schema``: first enum value, required fields, min items/length."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_of(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return example_of(schema[combinator][0], defs)
    kind = schema.get("type", "object")
    if kind == "object":
        required = schema.get("required", list(schema.get("properties", {})))
        return {k: example_of(v, defs) for k, v in schema.get("properties", {}).items() if k in required}
    if kind == "array":
        return [example_of(schema.get("items", {"type": "string"}), defs) for _ in range(max(1, schema.get(
            "minItems", 1)))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    text = "Yes, that works for me."
    return text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), ".")


def auto_reply(request: ScriptedRequest) -> str:
    """Schema-valid JSON for a structured request (like pydantic-ai's TestModel), else a short numbered turn."""
    if request.schema:
        return json.dumps(example_of(request.schema))
    heard = sum(1 for role, _, _ in request.messages if role == "user")
    return f"Sure, let us go on (turn {heard})."


def make_client(model: str, options: ScriptedOptions) -> Model:
    """Registry factory: ``scripted`` with ``replies=[...]``, or ``scripted:auto`` (schema-valid answers)."""
    if model == "auto":
        return scripted_model(fn=auto_reply, seed=options.seed, name="scripted:auto")
    if options.replies is None:
        raise ConfigError("The scripted backend needs replies=[...], or use 'scripted:auto' "
                          "(or build ScriptedClient(fn=...) yourself).")
    return scripted_model(replies=options.replies, seed=options.seed, name=f"scripted:{model}" if model else "scripted")


BACKENDS = (BackendRecord("scripted", make_client, ScriptedOptions,
                          help="canned replies for tests and demos: options replies=[...], or scripted:auto"),)

__all__ = ["BACKENDS", "ScriptFn", "ScriptedClient", "ScriptedRequest", "auto_reply", "example_of", "make_client",
           "scripted_model"]
