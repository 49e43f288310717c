"""An on-disk response cache, so a rerun with the same seeds replays dialogues without calling the model.

It is AutoGen's ``ChatCompletionCache`` over a ``DiskCacheStore`` (diskcache: SQLite, safe across
threads and processes). AutoGen keys a response by the messages, tools, JSON mode and create args;
roleplay's backends bake the seed and sampling options into the client instead, so keys are
namespaced by the model string and those options: the same prompt at another seed is another entry.
The cache wraps the backend's client, and a new `Model` with the same settings is built around it
(`Model.with_client`), so retries, time bounds and error translation stay outside the cache.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from autogen_core import CacheStore
from autogen_ext.models.cache import CHAT_CACHE_VALUE_TYPE, ChatCompletionCache

from roleplay.backends._base import Model
from roleplay.backends.options import BackendOptions
from roleplay.errors import BackendUnavailableError, ConfigError


class _NamespacedStore(CacheStore[CHAT_CACHE_VALUE_TYPE]):
    """Prefixes every key, so one disk cache serves many (model, seed, options) combinations."""

    def __init__(self, inner: CacheStore[CHAT_CACHE_VALUE_TYPE], namespace: str):
        self.inner = inner
        self.namespace = namespace

    def get(self, key: str, default: CHAT_CACHE_VALUE_TYPE | None = None) -> CHAT_CACHE_VALUE_TYPE | None:
        return self.inner.get(f"{self.namespace}:{key}", default)

    def set(self, key: str, value: CHAT_CACHE_VALUE_TYPE) -> None:
        self.inner.set(f"{self.namespace}:{key}", value)


def cache_namespace(spec: str, options: BackendOptions) -> str:
    """What, besides the prompt, decides a response: the model string, seed and sampling options."""
    decisive = {name: getattr(options, name, None) for name in ("temperature", "seed", "max_tokens", "repeat_penalty",
                                                                "num_ctx", "base_url", "replies")}
    return json.dumps({"model": spec, **decisive}, sort_keys=True)


def with_disk_cache(model: Model, directory: str | Path, namespace: str) -> Model:
    """``model`` with its calls routed through a disk cache in ``directory`` (created if needed)."""
    try:
        import diskcache
        from autogen_ext.cache_store.diskcache import DiskCacheStore
    except ImportError as err:  # pragma: no cover - diskcache is a dependency
        raise BackendUnavailableError("The response cache needs diskcache; run 'make venv'.") from err
    if Path(directory).exists() and not Path(directory).is_dir():
        raise ConfigError(f"The response cache {directory} is a file, not a folder; give a folder (it is created "
                          "if missing).")
    try:
        opened = diskcache.Cache(str(directory))
    except (OSError, sqlite3.Error) as err:  # a folder that cannot be made, a damaged cache.db: no rerun helps
        raise ConfigError(f"The response cache {directory} cannot be opened ({type(err).__name__}: {err}). Delete "
                          "or fix that folder, or pass another --cache folder.") from err
    store: Any = DiskCacheStore[CHAT_CACHE_VALUE_TYPE](opened)
    return model.with_client(ChatCompletionCache(model.client, _NamespacedStore(store, namespace)))


__all__ = ["cache_namespace", "with_disk_cache"]
