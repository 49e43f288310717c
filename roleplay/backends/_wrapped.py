"""A `ChatCompletionClient` you built yourself, used wherever roleplay takes a model string.

``PersonaDialogGenerator(model=OpenAIChatCompletionClient(...))`` (or a scenario's ``generator(model=...)``,
or a batch job) wraps the client in a `Model` through `wrap_client`. Two things a model string gives for
free must then still hold:

- **Sampling options are honoured or refused, never dropped.** The generator's seed, temperature and
  token limit go into every ``create(extra_create_args=...)`` call, in the client's own dialect (table
  `_DIALECTS`): OpenAI-family clients take them as they are (options OpenAI has no name for, such as
  ``repeat_penalty``, go in ``extra_body``, which llama.cpp and vLLM servers read); Ollama's client moves
  them into its ``options``. An option a known client cannot honour raises `ConfigError` naming it
  (Anthropic's API has no seed: wrap the client in `Unseeded` to accept irreproducible dialogues).
  Any other client gets the OpenAI names, which most AutoGen clients take; one that rejects a name
  raises its own error, which names it.
- **Structured output uses the client's own mechanism.** A per-turn JSON schema (a policy agent's
  action enum, `DialogGenerator`'s output format) becomes OpenAI's ``response_format`` or Ollama's
  ``format``; for any other client, AutoGen's ``json_output=True`` when its model info says it can.
  The reply is validated afterwards either way.

The client stays yours: closing the `Model` does not close it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ValidationError

from roleplay._yaml import problems
from roleplay.backends._base import Model
from roleplay.backends._dialects import SCHEMA_KEY, json_schema_args
from roleplay.backends.options import BackendOptions
from roleplay.errors import ConfigError

__all__ = ["ClientWrapper", "SamplingClient", "Unseeded", "client_label", "wrap_client"]

JsonOutput = bool | type[BaseModel] | None
SAMPLING = ("temperature", "seed", "max_tokens", "repeat_penalty", "num_ctx")
_BUILT_ELSEWHERE = ("base_url", "api_key", "timeout", "max_retries", "model_info", "replies", "cache_dir")


class ClientWrapper(ChatCompletionClient):
    """A client that adjusts another client's calls (`arguments`, `result`) and delegates the rest."""

    def __init__(self, inner: ChatCompletionClient):
        self.inner = inner

    def arguments(self, json_output: JsonOutput, extra: dict[str, Any]) -> tuple[JsonOutput, dict[str, Any]]:
        """The ``json_output`` and create arguments to send on (unchanged by default)."""
        return json_output, extra

    def result(self, result: CreateResult) -> CreateResult:
        """The result to hand back (unchanged by default)."""
        return result

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: JsonOutput = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        json_output, args = self.arguments(json_output, dict(extra_create_args))
        result = await self.inner.create(messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                                         extra_create_args=args, cancellation_token=cancellation_token)
        return self.result(result)

    async def create_stream(  # an async generator, as every AutoGen client's is
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: JsonOutput = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        json_output, args = self.arguments(json_output, dict(extra_create_args))
        async for chunk in self.inner.create_stream(messages, tools=tools, tool_choice=tool_choice,
                                                    json_output=json_output, extra_create_args=args,
                                                    cancellation_token=cancellation_token):
            yield self.result(chunk) if isinstance(chunk, CreateResult) else chunk

    async def close(self) -> None:
        await self.inner.close()

    def actual_usage(self) -> RequestUsage:
        return self.inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self.inner.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen; required by its ABC
        return self.inner.model_info

    @property
    def model_info(self) -> ModelInfo:
        return self.inner.model_info


class Unseeded(ClientWrapper):
    """Your explicit consent that ``inner`` runs without a seed (its API has none): dialogues will not repeat."""

    def arguments(self, json_output: JsonOutput, extra: dict[str, Any]) -> tuple[JsonOutput, dict[str, Any]]:
        extra.pop("seed", None)
        return json_output, extra


SchemaMechanism = Callable[[dict[str, Any], ModelInfo], tuple[JsonOutput, dict[str, Any]]]


def _openai_schema(schema: dict[str, Any], info: ModelInfo) -> tuple[JsonOutput, dict[str, Any]]:
    return None, json_schema_args(schema)


def _ollama_schema(schema: dict[str, Any], info: ModelInfo) -> tuple[JsonOutput, dict[str, Any]]:
    return None, {"format": schema}


def _json_mode(schema: dict[str, Any], info: ModelInfo) -> tuple[JsonOutput, dict[str, Any]]:
    return (True if info.get("json_output") else None), {}


@dataclass(frozen=True)
class Dialect:
    """How one family of clients takes sampling options and a JSON schema."""

    renamed: dict[str, str] = field(default_factory=dict)  # roleplay option -> the client's name for it
    extra_body: tuple[str, ...] = ()  # options sent inside ``extra_body`` (OpenAI-compatible servers)
    unsupported: dict[str, str] = field(default_factory=dict)  # option -> why the client cannot honour it
    schema: SchemaMechanism = _json_mode

    def create_args(self, sampling: dict[str, Any], client: str) -> dict[str, Any]:
        """The create arguments for ``sampling``; `ConfigError` for an option this client cannot honour."""
        for option, why in self.unsupported.items():
            if option in sampling:
                hint = " or wrap it: roleplay.interop.Unseeded(client)" if option == "seed" else ""
                raise ConfigError(f"{client} cannot honour {option}={sampling[option]!r}: {why}. "
                                  f"Drop the option{hint}.")
        args = {self.renamed.get(k, k): v for k, v in sampling.items() if k not in self.extra_body}
        body = {k: v for k, v in sampling.items() if k in self.extra_body}
        return {**args, **({"extra_body": body} if body else {})}


_OPENAI = Dialect(extra_body=("repeat_penalty", "num_ctx"), schema=_openai_schema)
_DIALECTS: dict[str, Dialect] = {  # keyed by class name, so no optional SDK (anthropic...) is imported to check
    "BaseOpenAIChatCompletionClient": _OPENAI,
    "BaseOllamaChatCompletionClient": Dialect(renamed={"max_tokens": "num_predict"}, schema=_ollama_schema),
    "BaseAnthropicChatCompletionClient": Dialect(unsupported={"seed": "Anthropic's API has no seed, so its "
                                                              "dialogues cannot be repeated"}),
}


def dialect_of(client: ChatCompletionClient) -> Dialect:
    """The dialect of the first class in ``client``'s MRO that `_DIALECTS` knows (OpenAI names otherwise)."""
    if isinstance(client, Unseeded):  # the inner client's dialect, with its lack of a seed accepted
        inner = dialect_of(client.inner)
        return replace(inner, unsupported={k: v for k, v in inner.unsupported.items() if k != "seed"})
    return next((_DIALECTS[c.__name__] for c in type(client).__mro__ if c.__name__ in _DIALECTS), Dialect())


class SamplingClient(ClientWrapper):
    """Adds the generator's sampling options to every call, and turns a schema into the client's mechanism."""

    def __init__(self, inner: ChatCompletionClient, sampling: Mapping[str, Any]):
        super().__init__(inner)
        self.dialect = dialect_of(inner)
        self.sampling = self.dialect.create_args(dict(sampling), type(inner).__name__)

    def arguments(self, json_output: JsonOutput, extra: dict[str, Any]) -> tuple[JsonOutput, dict[str, Any]]:
        schema = extra.pop(SCHEMA_KEY, None)
        per_call = self.dialect.create_args(extra, type(self.inner).__name__) if extra else {}
        args = {**self.sampling, **per_call}
        if schema is not None and json_output is None:
            json_output, schema_args = self.dialect.schema(schema, self.inner.model_info)
            args.update(schema_args)
        return json_output, args

    async def close(self) -> None:
        """Nothing to do: the client belongs to whoever built it."""


def client_label(client: ChatCompletionClient) -> str:
    """``client:<class>``, the model string a dialogue records for a client you built."""
    return f"client:{type(client).__name__}"


def wrap_client(client: ChatCompletionClient, **options: Any) -> Model:
    """A `Model` over ``client`` that passes the given sampling options with every call.

    Raises:
        ConfigError: an option is misspelt, is set when building a client (``base_url``...), or cannot
            be honoured by this client.
    """
    built_elsewhere = sorted(k for k, v in options.items() if k in _BUILT_ELSEWHERE and v is not None)
    if built_elsewhere:
        raise ConfigError(f"{', '.join(built_elsewhere)} cannot be applied to a client you built: set "
                          f"{'it' if len(built_elsewhere) == 1 else 'them'} when you construct the "
                          f"{type(client).__name__} (for a response cache, wrap it in autogen_ext's "
                          "ChatCompletionCache).")
    try:
        parsed = BackendOptions(**{k: v for k, v in options.items() if k not in _BUILT_ELSEWHERE})
    except ValidationError as err:
        raise ConfigError(f"Bad backend option ({problems(err)}). Allowed: {', '.join(SAMPLING)}.") from err
    given = {k: getattr(parsed, k) for k in parsed.model_fields_set}
    sampling = {k: v for k, v in given.items() if k in SAMPLING and v is not None}
    return Model(SamplingClient(client, sampling), name=client_label(client), backend="client",
                 schema_args=lambda schema: {SCHEMA_KEY: schema}, options=parsed)
