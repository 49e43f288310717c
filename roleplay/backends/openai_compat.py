"""Any OpenAI-compatible server: ``openai:<model>`` (OpenAI, vLLM, llama.cpp's servers, LM Studio, ...).

The URL comes from the ``base_url`` option or ``$OPENAI_BASE_URL``; the key from ``api_key`` or
``$OPENAI_API_KEY``. A local server needs no key; a remote one without a key fails at once, before the
first call.

Why not autogen-ext's ``OpenAIChatCompletionClient``: role-play sends plain chat (no tools, no streaming,
no vision), and for that the OpenAI SDK costs more client CPU than the request itself (its request
transform alone is ~3 ms a turn), which caps a batch against a fast GPU server. This client is an
AutoGen ``ChatCompletionClient`` that posts the request with aiohttp over one connection pool per
server (`OpenAIServer`, kept in the run's `ClientPool`) and reads the answer's JSON directly. HTTP
proxies named by the environment (``$HTTPS_PROXY``, ``$NO_PROXY``...) are honoured, as httpx would.

Constrained decoding: OpenAI and vLLM take ``response_format={"type": "json_schema", ...}``; llama.cpp's
Python server takes only ``{"type": "json_object", "schema": ...}``. The server object starts with the
first; when the server rejects it, it switches its public ``schema_dialect`` to the second for the rest
of the run and sends the request again. Speaker names are not sent in the ``name`` field, which many
compatible servers reject; each agent is told who is who in its system prompt instead.
"""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import urllib.request
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

import aiohttp
import certifi
from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from roleplay.backends._autogen_private import openai_model_info
from roleplay.backends._base import BackendRecord, Model, PlainChatClient, default_model_info
from roleplay.backends._dialects import json_schema_args
from roleplay.backends._pool import ClientPool
from roleplay.backends.options import OpenAIOptions, reply_limit, retry_after_seconds
from roleplay.errors import BackendError, ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_ROLES = {"SystemMessage": "system", "UserMessage": "user", "AssistantMessage": "assistant"}
_FINISH = {"stop", "length", "content_filter"}




def _as_json_object(response_format: dict[str, Any]) -> dict[str, Any]:
    """The same schema in llama.cpp's server dialect."""
    return {"type": "json_object", "schema": response_format["json_schema"]["schema"]}


def proxy_for(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url`` (``$HTTPS_PROXY``, ``$NO_PROXY``...), as httpx would pick it."""
    split = urlsplit(base_url)
    proxy = urllib.request.getproxies().get(split.scheme)
    if not proxy or urllib.request.proxy_bypass(split.hostname or ""):
        return None
    if not proxy.startswith(("http://", "https://")):
        raise ConfigError(f"{proxy} is not an HTTP proxy, and the openai backend goes through HTTP proxies only: "
                          f"set $HTTP_PROXY/$HTTPS_PROXY to an http:// proxy, or add {split.hostname} to $NO_PROXY.")
    return proxy


class Answer(NamedTuple):
    """A server's answer, read in full."""

    status: int
    content: bytes
    retry_after: float | None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class OpenAIServer:
    """One OpenAI-compatible server for a run: its connection pool and the schema dialect it accepts.

    Requests go out through one aiohttp session: its C-accelerated HTTP parser and idle-connection stack
    cost 0.22 ms of CPU a request with 256 in flight, where httpcore over anyio costs 0.65 (it scans every
    idle connection, with a system call each, on every request) and httpx on top of it more. The session
    is made on the first request, in the event loop of the run (aiohttp binds it to that loop); one
    dialogue at a time reuses one connection.
    """

    def __init__(self, base_url: str, api_key: str | None, timeout: float):
        self.base_url = base_url
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        self.proxy = proxy_for(base_url)
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self.schema_dialect: Literal["json_schema", "json_object"] = "json_schema"
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            # certifi's CA bundle for https (30 ms to load: once per server, and never for plain http)
            verify = ssl.create_default_context(cafile=certifi.where()) if self.url.startswith("https:") else True
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=verify),
                                                  timeout=self.timeout)
        return self._session

    async def _post(self, body: dict[str, Any]) -> Answer:
        fmt = body.get("response_format")
        if self.schema_dialect == "json_object" and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            body = {**body, "response_format": _as_json_object(fmt)}
        async with self._session_now().post(self.url, data=json.dumps(body).encode(), headers=self.headers,
                                            proxy=self.proxy) as response:
            content = await self._read(response, body.get("max_tokens"))
            return Answer(response.status, content, retry_after_seconds(response.headers.get("Retry-After")))

    async def _read(self, response: aiohttp.ClientResponse, max_tokens: Any) -> bytes:
        """The answer's body, read only up to what a reply of ``max_tokens`` can need (`_body_limit`)."""
        limit, chunks, size = _body_limit(max_tokens), [], 0
        async for chunk in response.content.iter_chunked(1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise BackendError("openai", f"{self.base_url} answered more than {limit} bytes to a request for at "
                                   f"most {max_tokens} tokens: it is not answering as an OpenAI-compatible server "
                                   "should. Check that server.", status_code=response.status)
        return b"".join(chunks)

    def _rejects_json_schema(self, body: dict[str, Any], text: str) -> bool:
        """Whether the server refused this request's ``json_schema`` response format (llama.cpp's answers 500)."""
        fmt = body.get("response_format")
        asked = isinstance(fmt, dict) and fmt.get("type") == "json_schema"
        return asked and self.schema_dialect == "json_schema" and "json_schema" in text

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST one chat completion; the answer's JSON, or a `BackendError` with the status and the server's words."""
        answer = await self._post(body)
        if answer.status >= 400 and self._rejects_json_schema(body, answer.text):
            self.schema_dialect = "json_object"  # use the server's dialect from now on
            answer = await self._post(body)
        if answer.status >= 400:
            raise BackendError("openai", f"{self.base_url} answered: {answer.text[:300]}",
                               status_code=answer.status, retry_after=answer.retry_after)
        try:
            data = json.loads(answer.content)
            data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise BackendError("openai", f"{self.base_url} answered with something that is not a chat completion: "
                               f"{answer.text[:200]!r}") from err
        return data

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _body_limit(max_tokens: Any) -> int:
    """The most bytes an answer is read to: its text at `reply_limit` as JSON-escaped as it gets, plus 64 KB."""
    chars = reply_limit(max_tokens if isinstance(max_tokens, int) else None) or 1_000_000
    return 6 * chars + 65_536


def _to_openai(message: LLMMessage) -> dict[str, str]:
    role = _ROLES.get(type(message).__name__)
    if role is None or not isinstance(message.content, str):
        raise ConfigError(f"The openai backend sends plain chat; it cannot send a {type(message).__name__} with "
                          "tool calls or images.")
    return {"role": role, "content": message.content}


class OpenAIChatClient(PlainChatClient):
    """An AutoGen client for one agent: its model and sampling settings over a shared `OpenAIServer`."""

    def __init__(self, server: OpenAIServer, model: str, options: OpenAIOptions, info: ModelInfo):
        super().__init__()
        self.server = server
        sampling = {"temperature": options.temperature, "seed": options.seed, "max_tokens": options.max_tokens}
        self.create_args = {"model": model, **{k: v for k, v in sampling.items() if v is not None}}
        self._info = info

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
        if tools:
            raise ConfigError("The openai backend of roleplay does not send tools; its agents speak plain chat.")
        body: dict[str, Any] = {**self.create_args, "messages": [_to_openai(m) for m in messages]}
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            body.update(json_schema_args(json_output.model_json_schema()))
        elif json_output is True:
            body["response_format"] = {"type": "json_object"}
        body.update(extra_create_args)
        data = await self.server.chat(body)
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason")
        return CreateResult(
            finish_reason=finish if finish in _FINISH else "unknown",
            content=choice["message"].get("content") or "",
            usage=self.record(RequestUsage(prompt_tokens=usage.get("prompt_tokens") or 0,
                                           completion_tokens=usage.get("completion_tokens") or 0)),
            cached=False,
        )

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        """A rough count (4 characters a token): only the server knows its tokenizer."""
        return sum(len(str(m.content)) // 4 + 4 for m in messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return int(self._info.get("context_length", 8192)) - self.count_tokens(messages)  # type: ignore[call-overload]

    @property
    def model_info(self) -> ModelInfo:
        return self._info


@lru_cache(maxsize=256)
def is_local(url: str) -> bool:
    """Whether ``url`` names this machine or a private network (servers there usually need no key).

    Memoized: a batch builds each dialogue's models anew, and parsing an address is not free.
    """
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    if host == "localhost" or "." not in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(".local")
    return address.is_loopback or address.is_private


def _model_info(model: str, options: OpenAIOptions, base_url: str) -> ModelInfo:
    """The model's capabilities: given in the options, from AutoGen's table of OpenAI's own models, or plain chat.

    AutoGen's table is consulted only for OpenAI's servers: reading it imports the OpenAI SDK (over a
    second of start-up), and a model on any other server is not in it.
    """
    if options.model_info is not None:
        return default_model_info(**options.model_info)
    host = urlsplit(base_url).hostname or ""
    if not (host == "openai.com" or host.endswith((".openai.com", ".openai.azure.com"))):
        return default_model_info()
    try:
        return openai_model_info(model)
    except (ImportError, KeyError, ValueError):  # unknown to AutoGen's table: a local or third-party model
        return default_model_info()


def make_client(model: str, options: OpenAIOptions, pool: ClientPool) -> Model:
    """Registry factory: ``openai:<model>`` with ``base_url`` and ``api_key``."""
    if not model:
        raise ConfigError("Name the model: 'openai:<model>', e.g. 'openai:gpt-4o-mini'.")
    base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    api_key = options.api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key and not is_local(base_url):
        raise ConfigError(f"openai:{model} at {base_url} needs an API key: set $OPENAI_API_KEY or the api_key "
                          "option (a server on this machine or a private network needs none).")
    server = pool.client(("openai", base_url, api_key, options.request_timeout),
                         lambda: OpenAIServer(base_url, api_key, options.request_timeout), OpenAIServer.aclose)
    info = _model_info(model, options, base_url)
    return Model(OpenAIChatClient(server, model, options, info), name=f"openai:{model}",
                 backend="openai", url=base_url, schema_args=json_schema_args, options=options)


BACKENDS = (BackendRecord("openai", make_client, OpenAIOptions, uses_pool=True, takes_base_url=True,
                          help="any OpenAI-compatible server: openai:<model>, base_url + api_key"),)

__all__ = ["BACKENDS", "Answer", "OpenAIChatClient", "OpenAIServer", "is_local", "json_schema_args", "make_client",
           "proxy_for"]
