"""A person in the loop: the ``human`` backend, where someone types one agent's turns.

Give an agent the model string ``human`` (or run ``roleplay run SCENARIO --human NAME``) and each of its
turns becomes a prompt: the person sees what the others said since their last turn, then types a reply.
``/end`` alone, or at the end of a reply, ends the conversation; an empty line asks again; end of input
(Ctrl-D) ends too. In Jupyter the same prompts go through ``input()``.

When the agent is asked for JSON (the schema reaches the client through `Model.call_options`), the
person fills it in field by field instead: a field with choices (a policy agent's legal actions, a
yes/no answer) is a numbered menu, showing each action's example reply when the director's note lists
one; then the utterance is typed (a policy turn asks for its words as a plain turn right after
the action, without showing the others' words twice). So a person can stand in for a policy agent
(a "wizard") without the orchestrator knowing. The saved dialogue marks the person's turns with
``metadata["human"] = True`` (`roleplay.generators.mark_human_turns`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, CreateResult, LLMMessage, RequestUsage, SystemMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from roleplay.backends._base import BackendRecord, Model, PlainChatClient
from roleplay.backends._dialects import SCHEMA_KEY
from roleplay.backends.options import BackendOptions
from roleplay.errors import ConfigError
from roleplay.sentences import terminal_safe
from roleplay.text._names import DIRECTOR, END_MARKER

__all__ = ["BACKENDS", "HUMAN", "HumanClient", "human_model", "make_client"]

HUMAN = "human"
END_COMMAND = "/end"
_EXAMPLE_LINE = re.compile(r"^\s*-\s*([\w.-]+):\s*(.+)$", re.M)


class HumanClient(PlainChatClient):
    """A ``ChatCompletionClient`` whose replies a person types; ``read``/``write`` default to input/print."""

    def __init__(self, label: str = "", read: Callable[[str], str] = input, write: Callable[[str], None] = print,
                 end_marker: str = END_MARKER):
        super().__init__()
        self.label = label
        self.read = read
        self.write = write
        self.end_marker = end_marker
        self._shown: tuple[int, list[tuple[str | None, str]]] | None = None

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
        notes = self._show_heard(messages)
        schema = extra_create_args.get(SCHEMA_KEY)
        if schema is None and isinstance(json_output, type) and issubclass(json_output, BaseModel):
            schema = json_output.model_json_schema()
        content = self._fill(schema, "\n".join(notes)) if schema else self._utterance()
        usage = self.record(RequestUsage(prompt_tokens=0, completion_tokens=0))
        return CreateResult(finish_reason="stop", content=content, usage=usage, cached=False)

    def _show_heard(self, messages: Sequence[LLMMessage]) -> list[str]:
        """Show what the others said since this person last spoke; return the director's notes."""
        last_own = max((i for i, m in enumerate(messages) if isinstance(m, AssistantMessage)), default=-1)
        heard = [m for m in messages[last_own + 1:] if not isinstance(m, SystemMessage)]
        notes = [str(m.content) for m in heard if getattr(m, "source", None) == DIRECTOR]
        said = [m for m in heard if getattr(m, "source", None) != DIRECTOR]
        shown = [(getattr(m, "source", None), str(m.content)) for m in said]
        if (last_own, shown) == self._shown:  # the same turn asked again (a policy turn's words after its action)
            return notes
        self._shown = (last_own, shown)
        for source, text in shown:
            self.write(terminal_safe(text if text.startswith("[") else f"[{source or '?'}] {text}"))
        if not said and last_own < 0:
            self.write("(You speak first.)")
        return notes

    def _line(self, prompt: str) -> str | None:
        """One non-empty line (asking again on an empty one); None at end of input."""
        while True:
            try:
                line = self.read(prompt).strip()
            except EOFError:
                return None
            except NotImplementedError as err:  # IPython's StdinNotImplementedError: a frontend without input
                raise ConfigError(f"This frontend cannot take typed input ({err}); play the human part in a "
                                  "terminal or in Jupyter, or pass read=... to human_model().") from err
            if line:
                return line
            self.write(f"(Type a reply, or {END_COMMAND} to end the conversation.)")

    def _utterance(self, prompt: str = "") -> str:
        line = self._line(prompt or f"{self.label or 'You'}> ")
        if line is None or line == END_COMMAND:
            return self.end_marker
        if line.endswith(END_COMMAND):
            return f"{line.removesuffix(END_COMMAND).strip()} {self.end_marker}"
        return line

    def _fill(self, schema: dict[str, Any], notes: str) -> str:
        """JSON for ``schema``, asked field by field (an object of simple fields), else typed as JSON."""
        fields = schema.get("properties")
        if schema.get("type", "object") != "object" or not isinstance(fields, dict):
            return self._raw_json()
        examples = dict(_EXAMPLE_LINE.findall(notes))
        return json.dumps({key: self._field(key, spec, examples) for key, spec in fields.items()})

    def _field(self, key: str, spec: dict[str, Any], examples: Mapping[str, str]) -> Any:
        if "enum" in spec:
            return self._choose(key, [str(v) for v in spec["enum"]], examples)
        kind = spec.get("type")
        if kind == "string":
            return self._utterance(f"{key}> ") if key == "utterance" else (self._line(f"{key}> ") or "")
        if kind in ("integer", "number", "boolean"):
            return self._scalar(key, kind)
        return json.loads(self._raw_json(f"{key} (JSON)> "))

    def _choose(self, key: str, options: Sequence[str], examples: Mapping[str, str]) -> str:
        """A numbered menu of ``options``; a number or an option's exact name picks it."""
        self.write(f"Choose the {key}:")
        for number, option in enumerate(options, start=1):
            self.write(f"  {number}) {option}" + (f"  e.g. \"{examples[option]}\"" if option in examples else ""))
        while True:
            line = self._line(f"{key} [1-{len(options)}]> ")
            if line is None:
                return options[0]
            if line in options:
                return line
            if line.isdigit() and 1 <= int(line) <= len(options):
                return options[int(line) - 1]
            self.write(f"(Type a number from 1 to {len(options)}.)")

    def _scalar(self, key: str, kind: str) -> Any:
        while True:
            line = self._line(f"{key} ({kind})> ") or ""
            try:
                if kind == "boolean":
                    return {"y": True, "yes": True, "true": True, "n": False, "no": False, "false": False}[line.lower()]
                return int(line) if kind == "integer" else float(line)
            except (KeyError, ValueError):
                self.write(f"(That is not a {kind}; try again.)")

    def _raw_json(self, prompt: str = "JSON> ") -> str:
        while True:
            line = self._line(prompt) or "{}"
            try:
                json.loads(line)
                return line
            except json.JSONDecodeError as err:
                self.write(f"(Not valid JSON: {err.msg}; try again.)")

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return 0

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return 1_000_000


def human_model(label: str = "", read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> Model:
    """A ready `Model` over a `HumanClient` (pass your own ``read``/``write`` to drive it from code)."""
    return Model(HumanClient(label, read, write), name=f"{HUMAN}:{label}" if label else HUMAN, backend=HUMAN,
                 schema_args=lambda schema: {SCHEMA_KEY: schema})


def make_client(model: str, options: BackendOptions) -> Model:
    """Registry factory: ``human`` or ``human:<label shown in the prompt>``; sampling options do not apply."""
    return human_model(model)


BACKENDS = (BackendRecord(HUMAN, make_client,
                          help="a person types this agent's turns in the terminal or notebook: human"),)
