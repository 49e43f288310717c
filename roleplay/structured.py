"""Schema-constrained generation: ask a model for JSON in a given shape, validate it, retry if needed.

The schema is enforced while decoding wherever the backend can (llama.cpp grammar, Ollama ``format``,
OpenAI ``response_format``), and the result is validated afterwards anyway: a reply cut off by the
token limit, or a backend without constrained decoding, can still produce bad JSON. Each retry shows the
model its invalid output and the validation error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import jsonschema
from autogen_core.models import AssistantMessage, LLMMessage, SystemMessage, UserMessage
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from roleplay.backends import Model
from roleplay.errors import ConfigError, StructuredOutputError

logger = logging.getLogger(__name__)

OutputFormat = type[BaseModel] | dict[str, Any]


class InvalidOutput(ValueError):
    """The model's output did not parse or validate; retried, then turned into StructuredOutputError."""

    def __init__(self, message: str, raw: str):
        super().__init__(message)
        self.raw = raw


def schema_of(output_format: OutputFormat) -> dict[str, Any]:
    """The JSON schema of a pydantic class, or the schema dict itself (checked)."""
    if isinstance(output_format, type) and issubclass(output_format, BaseModel):
        return output_format.model_json_schema()
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
        data = json.loads(raw)
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

    try:
        retrying = AsyncRetrying(stop=stop_after_attempt(attempts), retry=retry_if_exception_type(InvalidOutput),
                                 reraise=True)
        async for trial in retrying:
            with trial:
                try:
                    parsed, raw = await attempt(messages)
                except InvalidOutput as bad:  # show the model what was wrong, then let tenacity retry
                    logger.info("structured output from %s was invalid (%s); asking again", model.name, bad)
                    messages = [*base, AssistantMessage(content=bad.raw, source="assistant"),
                                UserMessage(content=f"That output was invalid: {bad}. Reply again with only JSON "
                                            "that matches the schema.", source="user")]
                    raise
    except InvalidOutput as err:
        message = f"{model.name} gave invalid structured output {attempts} times: {err}."
        raise StructuredOutputError(message, err.raw) from err
    return parsed, raw, spent


__all__ = ["InvalidOutput", "OutputFormat", "complete_structured", "parse_output", "schema_of"]
