"""What every backend shares: strict `BackendOptions` and the `Model` wrapper.

`Model` is an AutoGen ``ChatCompletionClient`` that wraps the backend's own client. It is the one place
that (1) turns SDK exceptions into roleplay errors naming the URL, (2) counts calls and tokens, and
(3) applies per-call options in the backend's own dialect while its `call_options` block is active: a
JSON schema for constrained output (Ollama ``format``, OpenAI ``response_format``, llama.cpp JSON-schema
grammar) and a seed other than the model's own (to resample a turn). An AutoGen agent that calls the
model can so be held to a per-turn schema without knowing about it. Each agent owns its `Model`, so these
options are that agent's explicit state, set and reset around one of its turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ConfigDict, Field

from roleplay.errors import BackendError, BackendUnreachableError, RoleplayError

SchemaArgs = Callable[[dict[str, Any]], dict[str, Any]]
SeedArgs = Callable[[int], dict[str, Any]]


def plain_seed_args(seed: int) -> dict[str, Any]:
    """Most backends take a per-call seed as a ``seed`` create argument (OpenAI, llama.cpp, scripted)."""
    return {"seed": seed}


@dataclass(frozen=True)
class CallOptions:
    """Options for the calls inside one `Model.call_options` block (None: the model's own setting)."""

    seed: int | None = None
    schema: dict[str, Any] | None = None

# Exception class names (anywhere in the MRO) that mean "nothing is listening there".
_TIMEOUT_NAMES = {"APITimeoutError", "ReadTimeout", "TimeoutException"}
_UNREACHABLE_NAMES = {"ConnectError", "ConnectTimeout", "APIConnectionError", "ConnectionError"}


class BackendOptions(BaseModel):
    """Options every backend understands; a misspelt one is rejected at once."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, description="Sampling temperature; None = backend default.")
    seed: int | None = Field(default=None, description="Sampling seed, so a rerun gives the same dialogue.")
    max_tokens: int | None = Field(default=256, gt=0, description="Most tokens one reply may have.")
    repeat_penalty: float | None = Field(default=None, gt=0, description="Penalty on repeated tokens "
                                         "(llama.cpp, Ollama; OpenAI servers have no such option and ignore it).")
    num_ctx: int | None = Field(default=None, gt=0, description="Context window in tokens (llama.cpp, Ollama).")
    base_url: str | None = Field(default=None, description="Server URL (Ollama, OpenAI-compatible).")
    api_key: str | None = Field(default=None, description="API key (OpenAI-compatible).")
    timeout: float = Field(default=120.0, gt=0, description="Seconds one HTTP request may take.")
    max_retries: int = Field(default=2, ge=0, description="SDK-level retries of one HTTP request.")
    model_info: dict[str, Any] | None = Field(default=None, description="AutoGen ModelInfo for unknown models.")
    replies: list[str] | None = Field(default=None, description="Scripted backend only: the replies, in order.")
    cache_dir: str | None = Field(default=None, description="Folder of an on-disk response cache (replays "
                                  "identical requests at the same seed without calling the model).")


def default_model_info(**overrides: Any) -> ModelInfo:
    """Model info for models AutoGen's table does not know: plain chat that can emit JSON."""
    info: dict[str, Any] = {
        "vision": False,
        "function_calling": False,
        "json_output": True,
        "structured_output": True,
        "family": "unknown",
    }
    info.update(overrides)
    return ModelInfo(**info)  # type: ignore[typeddict-item]


def json_object_schema_args(schema: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's dialect for schema-constrained output (in-process and its server alike)."""
    return {"response_format": {"type": "json_object", "schema": schema}}


class InProcessClient(ChatCompletionClient):
    """Shared plumbing for clients that run in this process (llama.cpp, scripted).

    Usage totals, a stream that is the whole reply in one chunk, and plain-chat model info. Subclasses
    implement `create` and call `record` with each call's usage.
    """

    def __init__(self) -> None:
        self._usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

    def record(self, usage: RequestUsage) -> RequestUsage:
        """Add one call's usage to the running total and return it."""
        self._usage = RequestUsage(prompt_tokens=self._usage.prompt_tokens + usage.prompt_tokens,
                                   completion_tokens=self._usage.completion_tokens + usage.completion_tokens)
        return usage

    async def create_stream(  # type: ignore[override]  # one chunk: turns are short and bounded
        self, messages: Sequence[LLMMessage], **kwargs: Any
    ) -> AsyncGenerator[str | CreateResult, None]:
        yield await self.create(messages, **kwargs)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._usage

    def total_usage(self) -> RequestUsage:
        return self._usage

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen; required by its ABC
        return self.model_info

    @property
    def model_info(self) -> ModelInfo:
        return default_model_info()


class Model(ChatCompletionClient):
    """A backend's client plus error translation, usage counting and schema-constrained decoding."""

    def __init__(
        self,
        client: ChatCompletionClient,
        *,
        name: str,
        backend: str,
        url: str | None = None,
        schema_args: SchemaArgs | None = None,
        seed_args: SeedArgs = plain_seed_args,
        options: BackendOptions | None = None,
    ):
        self.client = client
        self.name = name
        self.backend = backend
        self.url = url
        self.options = options or BackendOptions()
        self._schema_args = schema_args
        self._seed_args = seed_args
        self._call = CallOptions()
        self.calls = 0

    @contextmanager
    def call_options(self, *, seed: int | None = None, schema: dict[str, Any] | None = None) -> Iterator[None]:
        """Within this block, this model's calls use ``seed`` (instead of its own) and decode against ``schema``."""
        previous, self._call = self._call, CallOptions(seed=seed, schema=schema)
        try:
            yield
        finally:
            self._call = previous

    def _merge_args(self, extra_create_args: Mapping[str, Any], json_output: Any) -> dict[str, Any]:
        args = dict(extra_create_args)
        if self._call.schema is not None and json_output is None and self._schema_args is not None:
            args.update(self._schema_args(self._call.schema))
        if self._call.seed is not None:
            args.update(self._seed_args(self._call.seed))
        return args

    def translate_error(self, err: Exception) -> RoleplayError:
        """Map an SDK or transport exception to `BackendUnreachableError` or `BackendError`."""
        names = {cls.__name__ for cls in type(err).__mro__}
        if names & _TIMEOUT_NAMES:
            return BackendError(self.backend, f"request timed out after {self.options.timeout}s at {self.url}")
        if names & _UNREACHABLE_NAMES:
            return BackendUnreachableError(self.backend, self.url or "(no URL)", type(err).__name__)
        status = getattr(err, "status_code", None)
        return BackendError(self.backend, f"{type(err).__name__}: {err}", status_code=status)

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
        args = self._merge_args(extra_create_args, json_output)
        try:
            result = await self.client.create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=args,
                cancellation_token=cancellation_token,
            )
        except (RoleplayError, asyncio.CancelledError):
            raise
        except Exception as err:  # noqa: BLE001 - every SDK has its own tree; translate_error sorts them
            raise self.translate_error(err) from err
        self.calls += 1
        return result

    async def create_stream(  # type: ignore[override]  # streaming is passed through untouched
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        args = self._merge_args(extra_create_args, json_output)
        stream = self.client.create_stream(
            messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
            extra_create_args=args, cancellation_token=cancellation_token,
        )
        async for chunk in stream:
            yield chunk
        self.calls += 1

    async def close(self) -> None:
        await self.client.close()

    def actual_usage(self) -> RequestUsage:
        return self.client.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self.client.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.client.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.client.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen; required by its ABC
        return self.client.model_info

    @property
    def model_info(self) -> ModelInfo:
        return self.client.model_info

    def __repr__(self) -> str:
        return f"Model({self.name!r})"
