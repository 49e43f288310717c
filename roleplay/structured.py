"""Schema-constrained generation: ask a model for JSON in a given shape, validate it, retry if needed.

The schema is enforced while decoding wherever the backend can (llama.cpp grammar, Ollama ``format``,
OpenAI ``response_format``), and the result is validated afterwards anyway: a reply cut off by the
token limit, or a backend without constrained decoding, can still produce bad JSON. Each retry shows the
model its invalid output and the validation error.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import Any

import jsonschema
from autogen_core.models import AssistantMessage, LLMMessage, SystemMessage, UserMessage
from pydantic import BaseModel, ValidationError

from roleplay.backends import Model
from roleplay.errors import ConfigError, StructuredOutputError

logger = logging.getLogger(__name__)

OutputFormat = type[BaseModel] | dict[str, Any]


class InvalidOutput(ValueError):
    """The model's output did not parse or validate; retried, then turned into StructuredOutputError."""

    def __init__(self, message: str, raw: str):
        super().__init__(message)
        self.raw = raw


@functools.lru_cache(maxsize=512)
def _class_schema(output_format: type[BaseModel]) -> dict[str, Any]:
    """A pydantic class's JSON schema, built once (building it costs ~3 ms: most of a scripted call's CPU)."""
    return output_format.model_json_schema()


def schema_of(output_format: OutputFormat) -> dict[str, Any]:
    """The JSON schema of a pydantic class, or the schema dict itself (checked)."""
    if isinstance(output_format, type) and issubclass(output_format, BaseModel):
        return _class_schema(output_format)
    if isinstance(output_format, dict):
        try:
            jsonschema.Draft202012Validator.check_schema(output_format)
        except jsonschema.SchemaError as err:
            raise ConfigError(f"output_format is not a valid JSON schema: {err.message}") from err
        return output_format
    raise ConfigError(f"output_format must be a pydantic model class or a JSON schema dict, got {output_format!r}.")


def parse_output(raw: str, output_format: OutputFormat) -> Any:
    """Parse and validate ``raw`` against ``output_format``; raise `InvalidOutput` with the reason."""
    try:
        # strict=False: a raw newline or tab inside a string is taken as it is. llama.cpp's JSON-schema grammar
        # lets a model write one, and strict JSON would reject an answer whose meaning is plain.
        data = json.loads(raw, strict=False)
    except json.JSONDecodeError as err:
        raise InvalidOutput(f"not valid JSON ({err.msg} at char {err.pos})", raw) from err
    if isinstance(output_format, dict):
        try:
            jsonschema.validate(data, output_format)
        except jsonschema.ValidationError as err:
            raise InvalidOutput(f"does not match the schema: {err.message}", raw) from err
        return data
    try:
        return output_format.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InvalidOutput(f"does not match the schema at {first['loc']}: {first['msg']}", raw) from err


async def complete_structured(
    model: Model,
    system: str,
    prompt: str,
    output_format: OutputFormat,
    attempts: int = 3,
) -> tuple[Any, str, int]:
    """Ask ``model`` for JSON matching ``output_format``.

    Returns:
        (parsed output, raw text, completion tokens spent over all attempts)

    Raises:
        StructuredOutputError: no attempt produced valid output.
    """
    schema = schema_of(output_format)
    base: list[LLMMessage] = [SystemMessage(content=system), UserMessage(content=prompt, source="user")]
    messages = base
    spent = 0

    async def attempt(history: Sequence[LLMMessage]) -> tuple[Any, str]:
        nonlocal spent
        with model.call_options(schema=schema):
            result = await model.create(list(history))
        spent += result.usage.completion_tokens
        raw = str(result.content).strip()
        return parse_output(raw, output_format), raw

    # A plain loop, not tenacity: the retries do not wait, and tenacity's per-call set-up cost ~0.1 ms, a third
    # of a scripted judge call's CPU (bench/judge.py).
    for number in range(1, max(attempts, 1) + 1):
        try:
            parsed, raw = await attempt(messages)
        except InvalidOutput as bad:  # show the model what was wrong, then ask again
            if number >= attempts:
                raise StructuredOutputError(f"{model.name} gave invalid structured output {attempts} times: {bad}.",
                                            bad.raw) from bad
            logger.info("structured output from %s was invalid (%s); asking again", model.name, bad)
            messages = [*base, AssistantMessage(content=bad.raw, source="assistant"),
                        UserMessage(content=f"That output was invalid: {bad}. Reply again with only JSON "
                                    "that matches the schema.", source="user")]
            continue
        return parsed, raw, spent
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


__all__ = ["InvalidOutput", "OutputFormat", "complete_structured", "parse_output", "schema_of"]
