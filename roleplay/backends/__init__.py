"""Model backends, resolved from ``prefix:model`` strings through one registry of `BackendRecord`s.

``get_backend("ollama:qwen2.5:14b", seed=7)`` splits on the *first* colon, imports the backend's module
only then (so ``import roleplay`` never loads llama.cpp or an HTTP SDK), checks the options against
that backend's own options class, and returns a `Model`: an AutoGen ``ChatCompletionClient`` wrapped
with time bounds, retries, error translation and structured-output plumbing. Third-party backends join
through `register_backend`, the same records the built-ins use.

HTTP backends share one client per server through the `ClientPool` of the run (``pool=``); a model
built without one gets a pool of its own, closed with it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from autogen_core.models import ChatCompletionClient
from pydantic import ValidationError

from roleplay.backends._base import BackendRecord, Model
from roleplay.backends._pool import ClientPool
from roleplay.backends.options import BackendOptions
from roleplay.errors import ConfigError, UnknownBackendError

BackendFactory = Callable[..., Model]
"""``factory(model, options) -> Model`` (or ``factory(model, options, pool)`` for a record with ``uses_pool``)."""

# prefix -> module under roleplay.backends, imported on first use
_BUILTIN_MODULES = {"embedded": "llamacpp", "llamacpp": "llamacpp", "ollama": "ollama", "openai": "openai_compat",
                    "scripted": "scripted", "human": "human"}
_FACTORIES: dict[str, BackendRecord | BackendFactory] = {}  # registered: a record, or a bare 2-argument factory

DEFAULT_MODEL = "embedded"


def register_backend(prefix: str, factory: BackendFactory, help: str = "", *,
                     options: type[BackendOptions] = BackendOptions, takes_base_url: bool = False,
                     uses_pool: bool = False) -> None:
    """Make ``prefix:<model>`` strings resolve through ``factory(model, options)``; see `BackendRecord`."""
    if prefix in _FACTORIES or prefix in _BUILTIN_MODULES:
        raise ConfigError(f"Backend '{prefix}' is already registered; pick another prefix.")
    _FACTORIES[prefix] = BackendRecord(prefix, factory, options, help, takes_base_url, uses_pool)


def unregister_backend(prefix: str) -> None:
    """Forget a backend `register_backend` added (a plugin unloaded, a test done); built-ins stay."""
    if prefix in _BUILTIN_MODULES:
        raise ConfigError(f"Backend '{prefix}' is built in and cannot be unregistered.")
    if _FACTORIES.pop(prefix, None) is None:
        raise ConfigError(f"Backend '{prefix}' is not registered; registered: {', '.join(_FACTORIES) or 'none'}.")


def registered_backends() -> list[str]:
    """The prefixes `register_backend` added, in the order they were registered (built-ins not included)."""
    return list(_FACTORIES)


def backend_record(prefix: str) -> BackendRecord:
    """The record of backend ``prefix``, importing a built-in's module on first use."""
    if prefix in _FACTORIES:
        found = _FACTORIES[prefix]
        return found if isinstance(found, BackendRecord) else BackendRecord(prefix, found)
    if prefix not in _BUILTIN_MODULES:
        raise UnknownBackendError(prefix, known=[*_BUILTIN_MODULES, *_FACTORIES])
    module = importlib.import_module(f"roleplay.backends.{_BUILTIN_MODULES[prefix]}")
    return next(record for record in module.BACKENDS if record.prefix == prefix)


def known_backends() -> dict[str, str]:
    """Prefix -> one-line help, built-in and registered."""
    return {prefix: backend_record(prefix).help for prefix in [*_BUILTIN_MODULES, *_FACTORIES]}


def takes_base_url(spec: str) -> bool:
    """Whether model string ``spec`` runs on a server reached through ``base_url`` (not in this process)."""
    try:
        return backend_record(spec.strip().partition(":")[0]).takes_base_url
    except UnknownBackendError:
        return False


def in_process_copies(specs: Iterable[str], concurrency: int) -> dict[str, Any]:
    """``{"replicas": k}`` when every model string of ``specs`` runs in this process (embedded, llamacpp:), else ``{}``.

    k = min(concurrency, CPUs): copies of the llama.cpp server with the CPUs shared out, so that many
    dialogues decode in parallel, each request alone on a copy, and a seed gives the same dialogue at any
    concurrency (one server with several slots would not). A model on another backend would refuse the
    option, so a mix gets none; one dialogue at a time gets none (one server with every thread).
    """
    from roleplay.backends.llama_server import usable_cpus
    from roleplay.backends.options import InProcessOptions

    if concurrency < 2 or not all(issubclass(backend_record(spec.strip().partition(":")[0]).options, InProcessOptions)
                                  for spec in specs):
        return {}
    return {"replicas": min(concurrency, usable_cpus())}


def parse_options(record: BackendRecord, options: dict[str, Any]) -> BackendOptions:
    """``options`` checked against the backend's own options class."""
    try:
        return record.options(**options)
    except ValidationError as err:
        bad = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        allowed = ", ".join(record.options.model_fields)
        raise ConfigError(f"Bad option for the {record.prefix} backend ({bad}). Allowed: {allowed}.") from err


def get_backend(spec: str | ChatCompletionClient, *, pool: ClientPool | None = None, cache_dir: str | None = None,
                **options: Any) -> Model:
    """Resolve a model string (or pass through a ready `Model`, or wrap any AutoGen client) into a `Model`.

    Args:
        spec: ``prefix:model``, e.g. ``"ollama:qwen2.5:14b"``; a `Model`, returned as it is; or any AutoGen
            ``ChatCompletionClient``, whose calls then carry ``options`` (`roleplay.backends._wrapped`).
        pool: the run's `ClientPool` (None: the model gets one of its own, closed by ``model.close()``).
        cache_dir: a folder for an on-disk response cache (replays identical requests at the same seed).
        options: the backend's options (see `known_backends` and each backend's options class).

    Raises:
        UnknownBackendError: the prefix is not registered.
        ConfigError: an option is misspelt, belongs to another backend, or has a bad value.
    """
    if isinstance(spec, Model):
        return spec
    if isinstance(spec, ChatCompletionClient):  # a client the user built: options go through its create()
        from roleplay.backends._wrapped import wrap_client

        return wrap_client(spec, cache_dir=cache_dir, **options)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"A model must be a string like 'embedded' or 'ollama:qwen2.5:14b', got {spec!r}.")
    prefix, _, model = spec.strip().partition(":")
    record = backend_record(prefix)
    parsed = parse_options(record, options)
    if not record.uses_pool:
        built = record.factory(model, parsed)
    elif pool is None:
        own = ClientPool()
        built = record.factory(model, parsed, own)
        built.owned_pool = own
    else:
        built = record.factory(model, parsed, pool)
    if cache_dir is not None:
        from roleplay.backends._cache import cache_namespace, with_disk_cache

        built = with_disk_cache(built, cache_dir, cache_namespace(spec.strip(), parsed))
    return built


__all__ = ["BackendFactory", "BackendOptions", "BackendRecord", "ClientPool", "DEFAULT_MODEL", "Model",
           "backend_record", "get_backend", "in_process_copies", "known_backends", "parse_options", "register_backend",
           "registered_backends", "takes_base_url", "unregister_backend"]
