"""What every backend shares: the `Model` wrapper around a backend's AutoGen client.

`Model` is an AutoGen ``ChatCompletionClient`` that wraps the backend's own client. It is the one place
that (1) bounds every call in time and retries transient failures (timeouts, dropped connections, HTTP
429 and 5xx) for every backend alike, (2) turns SDK exceptions into roleplay errors naming the URL,
(3) counts calls, and (4) applies per-call options in the backend's own dialect while its
`call_options` block is active: a JSON schema for constrained output (Ollama ``format``, OpenAI
``response_format``, llama.cpp JSON-schema grammar), a seed and temperature other than the model's own
(to resample a turn), and a ban on repeating the conversation's n-grams (llama.cpp). An AutoGen agent
that calls the model can so be held to a per-turn schema without knowing about it. Each agent owns its
`Model`, so these options are that agent's explicit state, set and reset around one of its turns.
(5) When the model's context size is known, every prompt is fitted into it with room for the reply
(`roleplay.backends.context`): the oldest history goes first, so a long conversation never fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage, SystemMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from roleplay.backends._dialects import json_object_schema_args, plain_seed_args
from roleplay.backends._plain import PlainChatClient, default_model_info
from roleplay.backends._pool import ClientPool
from roleplay.backends.context import fit_to_context
from roleplay.backends.options import RETRY_WAIT_CAP, BackendOptions, check_seed, reply_limit
from roleplay.errors import BackendError, BackendTimeoutError, BackendUnreachableError, RoleplayError
from roleplay.sentences import well_formed
from roleplay.usage import report_call

logger = logging.getLogger(__name__)

SchemaArgs = Callable[[dict[str, Any]], dict[str, Any]]
SeedArgs = Callable[[int], dict[str, Any]]
NoRepeatArgs = Callable[[int], dict[str, Any]]

CONTEXT_MARGIN = 32
"""Tokens kept free beyond the reply's room: the chat template's markers, which a token count may not see."""




@dataclass(frozen=True)
class CallOptions:
    """Options for the calls inside one `Model.call_options` block (None: the model's own setting)."""

    seed: int | None = None
    schema: dict[str, Any] | None = None
    temperature: float | None = None
    no_repeat_ngram: int | None = None


# Exception class names (anywhere in the MRO) that mean "no answer in time" or "nothing is listening there".
_TIMEOUT_NAMES = {"APITimeoutError", "ReadTimeout", "TimeoutException", "TimeoutError"}
_UNREACHABLE_NAMES = {"ConnectError", "ConnectTimeout", "APIConnectionError", "ConnectionError",
                      "ClientConnectionError"}  # the last: aiohttp (no connection, or the server hung up)


def is_retryable(err: BaseException) -> bool:
    """A failure the same request may not meet again: no answer in time, no connection, HTTP 429 or 5xx."""
    if isinstance(err, BackendError):
        return err.status_code is None or err.status_code == 429 or err.status_code >= 500
    return isinstance(err, BackendUnreachableError)


def retry_wait(attempt: int, err: BaseException) -> float:
    """Seconds before attempt ``attempt + 1``: what Retry-After asked, else 0.5 s doubling; at most the cap."""
    asked = getattr(err, "retry_after", None)
    wait = asked if asked is not None else 0.5 * 2 ** (attempt - 1)
    return min(max(wait, 0.0), RETRY_WAIT_CAP)


@dataclass(frozen=True)
class BackendRecord:
    """What the registry knows of one backend.

    Attributes:
        prefix: the part of a model string before the first colon.
        factory: ``factory(model, options)``, or ``factory(model, options, pool)`` when ``uses_pool``.
        options: the backend's options class (a misspelt or foreign option is rejected against it).
        help: one line for ``roleplay backends``.
        takes_base_url: the model runs on a server reached through ``base_url`` (not in this process).
        uses_pool: the factory takes the run's `ClientPool`, so all its models share one client per server.
    """

    prefix: str
    factory: Callable[..., Model]
    options: type[BackendOptions] = BackendOptions
    help: str = ""
    takes_base_url: bool = False
    uses_pool: bool = False








class Model(ChatCompletionClient):
    """A backend's client plus time bounds, retries, error translation and per-call options.

    Args:
        client: the backend's AutoGen client.
        name: the model string, e.g. ``"openai:gpt-4o-mini"``.
        backend: the backend prefix, named in errors.
        url: the server, named in errors (None in-process).
        schema_args: create args that constrain decoding to a JSON schema, in the backend's dialect.
        seed_args: create args that set a per-call seed, in the backend's dialect.
        no_repeat_args: create args that forbid repeating an n-gram of the conversation while decoding, in
            the backend's dialect (None: the backend cannot, and the option is ignored).
        options: the backend's options (time limit and attempts come from them).
        owned_pool: a `ClientPool` made for this model alone, closed with it (None: the run owns the pool).
        context_size: the model's context window in tokens, which every prompt is fitted into with room
            for the reply (default: ``options.num_ctx``; None: the server copes, nothing is trimmed).
    """

    def __init__(
        self,
        client: ChatCompletionClient,
        *,
        name: str,
        backend: str,
        url: str | None = None,
        schema_args: SchemaArgs | None = None,
        seed_args: SeedArgs = plain_seed_args,
        no_repeat_args: NoRepeatArgs | None = None,
        options: BackendOptions | None = None,
        owned_pool: ClientPool | None = None,
        context_size: int | None = None,
    ):
        self.client = client
        self.name = name
        self.backend = backend
        self.url = url
        self.options = options or BackendOptions()
        self.schema_args = schema_args
        self.seed_args = seed_args
        self.no_repeat_args = no_repeat_args
        self.owned_pool = owned_pool
        self.context_size = context_size or self.options.num_ctx
        self._call = CallOptions()
        self.calls = 0
        self._said_cut = False
        self.fitted_away = 0
        """Messages the last call's prompt lost to `fitted` (0: it fitted whole)."""

    def with_client(self, client: ChatCompletionClient) -> Model:
        """This model's settings around another client (e.g. a response cache wrapping this one's client)."""
        return Model(client, name=self.name, backend=self.backend, url=self.url, schema_args=self.schema_args,
                     seed_args=self.seed_args, no_repeat_args=self.no_repeat_args, options=self.options,
                     owned_pool=self.owned_pool, context_size=self.context_size)

    @contextmanager
    def call_options(self, *, seed: int | None = None, schema: dict[str, Any] | None = None,
                     temperature: float | None = None, no_repeat_ngram: int | None = None) -> Iterator[None]:
        """Within this block, this model's calls use ``seed`` and ``temperature`` instead of its own.

        They also decode against ``schema`` and never repeat a run of ``no_repeat_ngram`` tokens of the
        conversation (where the backend can; see `roleplay.backends._no_repeat`).
        """
        previous, self._call = self._call, CallOptions(seed=check_seed(seed), schema=schema, temperature=temperature,
                                                       no_repeat_ngram=no_repeat_ngram)
        try:
            yield
        finally:
            self._call = previous

    def _merge_args(self, extra_create_args: Mapping[str, Any], json_output: Any) -> dict[str, Any]:
        args = dict(extra_create_args)
        if self._call.schema is not None and json_output is None and self.schema_args is not None:
            args.update(self.schema_args(self._call.schema))
        if self._call.seed is not None:
            args.update(self.seed_args(self._call.seed))
        if self._call.temperature is not None:  # every backend (and AutoGen's own clients) reads this create arg
            args["temperature"] = self._call.temperature
        if self._call.no_repeat_ngram and self.no_repeat_args is not None:
            args.update(self.no_repeat_args(self._call.no_repeat_ngram))
        return args

    def translate_error(self, err: Exception) -> RoleplayError:
        """Map an SDK or transport exception to `BackendTimeoutError`, `BackendUnreachableError` or `BackendError`."""
        names = {cls.__name__ for cls in type(err).__mro__}
        if names & _TIMEOUT_NAMES:
            return self.timeout_error()
        if names & _UNREACHABLE_NAMES:
            return BackendUnreachableError(self.backend, self.url or "(no URL)", type(err).__name__)
        status = getattr(err, "status_code", None)
        return BackendError(self.backend, f"{type(err).__name__}: {err}", status_code=status)

    def timeout_error(self) -> BackendTimeoutError:
        """The error of a call that got no answer within its time limit, stating the bound of the whole call."""
        return BackendTimeoutError(self.backend, self.url, self.options.request_timeout, self.options.attempts,
                                   self.options.time_bound())

    def fitted(self, messages: Sequence[LLMMessage], create_args: Mapping[str, Any]) -> Sequence[LLMMessage]:
        """``messages`` within the context size, leaving room for the reply (see `roleplay.backends.context`)."""
        if not self.context_size:
            return messages
        reply = int(create_args.get("max_tokens") or self.options.max_tokens or 0)
        limit = self.context_size - reply - CONTEXT_MARGIN
        fitted = fit_to_context(messages, limit, self.count_tokens)
        self.fitted_away = len(messages) - len(fitted)
        if fitted is not messages:
            logger.info("%s: prompt fitted into %d tokens (%d of %d messages kept)", self.name, limit, len(fitted),
                        len(messages))
            cut = [m for m in fitted if isinstance(m, SystemMessage) and m not in messages]
            if cut and not self._said_cut:  # dropping old history is routine; cutting the persona is not
                self._said_cut = True
                logger.warning("%s: the system prompt (persona and instructions) is too long for the context of %d "
                               "tokens and was cut in its middle to %d characters; shorten the persona.", self.name,
                               self.context_size, len(str(cut[0].content)))
        return fitted

    async def _create_once(self, messages: Sequence[LLMMessage], kwargs: dict[str, Any]) -> CreateResult:
        try:
            async with asyncio.timeout(self.options.request_timeout):  # unlike wait_for, no extra task per call
                return await self.client.create(messages, **kwargs)
        except (RoleplayError, asyncio.CancelledError):
            raise
        except TimeoutError as err:
            raise self.timeout_error() from err
        except Exception as err:  # noqa: BLE001 - every SDK has its own tree; translate_error sorts them
            raise self.translate_error(err) from err

    async def _create_with_retries(self, messages: Sequence[LLMMessage], kwargs: dict[str, Any]) -> CreateResult:
        # A plain loop, not tenacity: this runs once per turn, and tenacity's bookkeeping costs ~0.3 ms a call.
        for attempt in range(1, self.options.attempts):
            try:
                return await self._create_once(messages, kwargs)
            except RoleplayError as err:
                if not is_retryable(err):
                    raise
                wait = retry_wait(attempt, err)
            await asyncio.sleep(wait)
        return await self._create_once(messages, kwargs)  # the last attempt: its error is the call's

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
        kwargs = {"tools": tools, "tool_choice": tool_choice, "json_output": json_output,
                  "extra_create_args": args, "cancellation_token": cancellation_token}
        result = await self._create_with_retries(self.fitted(messages, args), kwargs)
        result = self._bounded(result, args)
        if result.cached:
            logger.debug("%s: answered from the response cache", self.name)
        self.calls += 1
        report_call(self.name, result.usage.prompt_tokens, result.usage.completion_tokens,
                    getattr(result.usage, "cached_prompt_tokens", 0) or 0)  # a backend that knows sets it
        return result

    def _bounded(self, result: CreateResult, args: Mapping[str, Any]) -> CreateResult:
        """The reply as text a turn can hold.

        Lone surrogates (legal JSON, not UTF-8) become U+FFFD, and a reply longer than its token limit allows
        (`reply_limit`) is cut there, marked ``finish_reason="length"`` and logged as a warning.
        """
        if not isinstance(result.content, str):
            return result
        text = well_formed(result.content)
        limit = reply_limit(int(args.get("max_tokens") or self.options.max_tokens or 0) or None)
        if limit is not None and len(text) > limit:
            logger.warning("%s: a reply of %d characters to a request for at most %s tokens was cut to %d characters",
                           self.name, len(text), args.get("max_tokens") or self.options.max_tokens, limit)
            return result.model_copy(update={"content": text[:limit], "finish_reason": "length"})
        return result if text is result.content else result.model_copy(update={"content": text})

    async def create_stream(  # streaming is passed through untouched
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
            self.fitted(messages, args), tools=tools, tool_choice=tool_choice, json_output=json_output,
            extra_create_args=args, cancellation_token=cancellation_token,
        )
        async for chunk in stream:
            yield chunk
        self.calls += 1

    async def close(self) -> None:
        await self.client.close()
        if self.owned_pool is not None:
            await self.owned_pool.aclose()

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


__all__ = ["BackendRecord", "CONTEXT_MARGIN", "CallOptions", "Model", "PlainChatClient", "default_model_info",
           "is_retryable", "json_object_schema_args", "plain_seed_args", "retry_wait"]
