"""Ollama servers: ``ollama:<tag>``, e.g. ``ollama:qwen2.5:14b``.

Wraps autogen-ext's Ollama client around one ``ollama.AsyncClient`` per server and time limit, kept in
the run's `ClientPool` (autogen-ext's ``OllamaChatCompletionClient`` would build its own per agent,
with no time limit at all: a server that accepts and never answers would hang the run). Its per-call
``options`` *replace* the client's dict, so temperature, seed, token limit and context size are set
once here, at construction; calls add ``format`` (the JSON schema) for constrained decoding, and a
resampled turn sends the whole dict again with its own seed.
"""

from __future__ import annotations

import os
from typing import Any

from roleplay.backends._autogen_private import ollama_client_base, ollama_model_info
from roleplay.backends._base import BackendRecord, Model, default_model_info
from roleplay.backends._pool import ClientPool
from roleplay.backends.options import ServerOptions
from roleplay.errors import BackendUnavailableError, ConfigError

DEFAULT_HOST = "http://127.0.0.1:11434"


def _host(options: ServerOptions) -> str:
    host = options.base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
    return host if "://" in host else f"http://{host}"


def _model_info(model: str, options: ServerOptions) -> dict[str, Any]:
    if options.model_info is not None:
        return dict(default_model_info(**options.model_info))
    try:
        return dict(ollama_model_info(model))
    except (KeyError, ValueError):  # not in AutoGen's table: any pulled model still works as plain chat
        return dict(default_model_info())


def make_client(model: str, options: ServerOptions, pool: ClientPool) -> Model:
    """Registry factory: ``ollama:<tag>`` against ``base_url`` / ``$OLLAMA_HOST`` / localhost."""
    if not model:
        raise ConfigError("Name the Ollama model: 'ollama:<tag>', e.g. 'ollama:qwen2.5:14b'.")
    try:
        # The base class takes a ready AsyncClient; the public subclass always builds its own.
        from ollama import AsyncClient

        BaseOllamaChatCompletionClient = ollama_client_base()
    except ImportError as err:
        raise BackendUnavailableError("The Ollama backend needs autogen-ext[ollama]: pip install "
                                      "'autogen-ext[ollama]==0.7.5'.") from err
    sampling = {
        "temperature": options.temperature,
        "seed": options.seed,
        "num_predict": options.max_tokens,
        "num_ctx": options.num_ctx,
        "repeat_penalty": options.repeat_penalty,
    }
    fixed = {k: v for k, v in sampling.items() if v is not None}
    host = _host(options)
    shared = pool.client(("ollama", host, options.request_timeout),
                         lambda: AsyncClient(host=host, timeout=options.request_timeout), AsyncClient.close)
    client = BaseOllamaChatCompletionClient(shared, create_args={"model": model, "options": fixed},
                                            model_info=_model_info(model, options))
    return Model(client, name=f"ollama:{model}", backend="ollama", url=host,
                 schema_args=lambda schema: {"format": schema},
                 seed_args=lambda seed: {"options": {**fixed, "seed": seed}}, options=options)


BACKENDS = (BackendRecord("ollama", make_client, ServerOptions, uses_pool=True, takes_base_url=True,
                          help="an Ollama server: ollama:<tag>, host from OLLAMA_HOST or base_url"),)

__all__ = ["BACKENDS", "DEFAULT_HOST", "make_client"]
