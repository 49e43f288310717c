"""Ollama servers: ``ollama:<tag>``, e.g. ``ollama:qwen2.5:14b``.

Wraps autogen-ext's ``OllamaChatCompletionClient``. Its per-call ``options`` *replace* the client's
dict, so temperature, seed, token limit and context size are set once here, at construction; calls
add ``format`` (the JSON schema) for constrained decoding, and a resampled turn sends the whole dict
again with its own seed.
"""

from __future__ import annotations

import os

from roleplay.backends.base import BackendOptions, Model, default_model_info
from roleplay.errors import BackendUnavailableError, ConfigError

DEFAULT_HOST = "http://127.0.0.1:11434"


def _host(options: BackendOptions) -> str:
    host = options.base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
    return host if "://" in host else f"http://{host}"


def make_client(model: str, options: BackendOptions) -> Model:
    """Registry factory: ``ollama:<tag>`` against ``base_url`` / ``$OLLAMA_HOST`` / localhost."""
    if not model:
        raise ConfigError("Name the Ollama model: 'ollama:<tag>', e.g. 'ollama:qwen2.5:14b'.")
    try:
        from autogen_ext.models.ollama import OllamaChatCompletionClient
        from autogen_ext.models.ollama._model_info import get_info
    except ImportError as err:
        raise BackendUnavailableError("The Ollama backend needs autogen-ext[ollama]; run 'make venv'.") from err
    sampling = {
        "temperature": options.temperature,
        "seed": options.seed,
        "num_predict": options.max_tokens,
        "num_ctx": options.num_ctx,
        "repeat_penalty": options.repeat_penalty,
    }
    info = options.model_info
    if info is None:
        try:
            info = dict(get_info(model))
        except (KeyError, ValueError):  # not in AutoGen's table: any pulled model still works as plain chat
            info = dict(default_model_info())
    host = _host(options)
    fixed = {k: v for k, v in sampling.items() if v is not None}
    client = OllamaChatCompletionClient(
        model=model,
        host=host,
        options=fixed,
        model_info=info,  # type: ignore[arg-type]
    )
    return Model(client, name=f"ollama:{model}", backend="ollama", url=host,
                 schema_args=lambda schema: {"format": schema},
                 seed_args=lambda seed: {"options": {**fixed, "seed": seed}}, options=options)
