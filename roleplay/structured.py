"""Schema-constrained generation: ask a model for JSON in a given shape, validate it, retry if needed.

The schema is enforced while decoding wherever the backend can (llama.cpp grammar, Ollama ``format``,
OpenAI ``response_format``), and the result is validated afterwards anyway: a reply cut off by the
token limit, or a backend without constrained decoding, can still produce bad JSON. Each retry shows the
model its invalid output and the validation error.

Fitting the budget: the schemas roleplay sends bound their item counts and string lengths from the
reply's ``max_tokens`` (`chars_for`, `tokens_for`: `CHARS_PER_TOKEN`), so a valid answer normally
closes before the limit. When one is cut anyway, its complete items are kept if they still match the
schema (`salvage`; `StructuredAnswer.salvaged` says so) before the attempt counts as a failure, and a
failure caused by the limit says so ("cut at the token limit; raise max_tokens or lower the turn count").
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jiter
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


CHARS_PER_TOKEN = 3
"""Characters a token of English text holds, on the low side (the tokenizers roleplay runs average about 4):
what budgets convert with, so a schema bounded by it usually fits; an answer that does not is salvaged."""
CUT_AT_LIMIT = "cut at the token limit; raise max_tokens or lower the turn count"
"""What a failure says when the answers were cut by the token limit."""


def chars_for(tokens: int) -> int:
    """The characters that ``tokens`` tokens of text hold (see `CHARS_PER_TOKEN`)."""
    return max(0, tokens) * CHARS_PER_TOKEN


def tokens_for(chars: int) -> int:
    """The tokens ``chars`` characters of text take (see `CHARS_PER_TOKEN`)."""
    return math.ceil(max(0, chars) / CHARS_PER_TOKEN)


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


def salvage_object(raw: str) -> dict[str, Any] | None:
    """The values of a JSON object cut off mid-way, a cut last string kept as far as it goes (None: no object)."""
    try:
        data = jiter.from_json(raw.encode("utf-8", "replace"), partial_mode="trailing-strings")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _drop_cut_item(data: Any) -> bool:
    """Drop the last item of the innermost list that ends ``data`` (where a cut answer stopped); False if none."""
    path, node = [], data
    while isinstance(node, dict | list) and node:
        path.append(node)
        node = node[-1] if isinstance(node, list) else node[next(reversed(node))]
    lists = [n for n in path if isinstance(n, list)]
    if not lists:
        return False
    lists[-1].pop()
    return True


def salvage(raw: str, output_format: OutputFormat) -> Any | None:
    """The complete items of a JSON answer cut off mid-way, when they match ``output_format`` (else None).

    Cut strings are dropped, then the last item of the list the answer stopped in, until what is left
    validates (a dialogue cut in its ninth turn keeps its eight whole turns).
    """
    try:
        data = jiter.from_json(raw.encode("utf-8", "replace"), partial_mode="on")
    except ValueError:
        return None
    while True:
        try:
            return parse_output(json.dumps(data), output_format)
        except InvalidOutput:
            if not _drop_cut_item(data):
                return None


class StructuredAnswer(NamedTuple):
    """What `complete_structured_answer` got: the parsed output, its raw text, tokens spent, and whether it was cut."""

    output: Any
    raw: str
    tokens: int
    salvaged: bool
    """The answer was cut off (the token limit) and ``output`` holds only its complete items."""


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
    answer = await complete_structured_answer(model, system, prompt, output_format, attempts)
    return answer.output, answer.raw, answer.tokens


async def complete_structured_answer(model: Model, system: str, prompt: str, output_format: OutputFormat,
                                     attempts: int = 3) -> StructuredAnswer:
    """`complete_structured`, also saying whether the output was salvaged from an answer cut off mid-way.

    Raises:
        StructuredOutputError: no attempt produced valid output (its message says when the token limit cut them).
    """
    schema = schema_of(output_format)
    base: list[LLMMessage] = [SystemMessage(content=system), UserMessage(content=prompt, source="user")]
    messages = base
    spent, cut, salvaged = 0, False, False

    async def attempt(history: Sequence[LLMMessage]) -> tuple[Any, str]:
        nonlocal spent, cut, salvaged
        with model.call_options(schema=schema):
            result = await model.create(list(history))
        spent += result.usage.completion_tokens
        raw = str(result.content).strip()
        limit = model.options.max_tokens
        cut = result.finish_reason == "length" or (limit is not None and result.usage.completion_tokens >= limit)
        try:
            return parse_output(raw, output_format), raw
        except InvalidOutput:
            kept = salvage(raw, output_format) if cut else None
            if kept is None:
                raise
            logger.info("structured output from %s was cut at the token limit; kept its complete items", model.name)
            salvaged = True
            return kept, raw

    # A plain loop, not tenacity: the retries do not wait, and tenacity's per-call set-up cost ~0.1 ms, a third
    # of a scripted judge call's CPU (bench/judge.py).
    for number in range(1, max(attempts, 1) + 1):
        try:
            parsed, raw = await attempt(messages)
        except InvalidOutput as bad:  # show the model what was wrong, then ask again
            if number >= attempts:
                cause = f" ({CUT_AT_LIMIT}: max_tokens is {model.options.max_tokens})" if cut else ""
                raise StructuredOutputError(f"{model.name} gave invalid structured output {attempts} times: "
                                            f"{bad}{cause}.", bad.raw) from bad
            logger.info("structured output from %s was invalid (%s); asking again", model.name, bad)
            messages = [*base, AssistantMessage(content=bad.raw, source="assistant"),
                        UserMessage(content=f"That output was invalid: {bad}. Reply again with only JSON "
                                    "that matches the schema.", source="user")]
            continue
        return StructuredAnswer(parsed, raw, spent, salvaged)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


__all__ = ["CHARS_PER_TOKEN", "CUT_AT_LIMIT", "InvalidOutput", "OutputFormat", "StructuredAnswer", "chars_for",
           "complete_structured", "complete_structured_answer", "parse_output", "salvage", "salvage_object",
           "schema_of", "tokens_for"]
