"""An on-disk response cache, so a rerun with the same seeds replays dialogues without calling the model.

It is AutoGen's ``ChatCompletionCache`` over a ``DiskCacheStore`` (diskcache: SQLite, safe across
threads and processes). AutoGen keys a response by the messages, tools, JSON mode and create args;
roleplay's backends bake the seed and sampling options into the client instead, so keys are
namespaced by the model string and those options: the same prompt at another seed is another entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autogen_core import CacheStore
from autogen_ext.models.cache import CHAT_CACHE_VALUE_TYPE, ChatCompletionCache

from roleplay.backends.base import BackendOptions, Model
from roleplay.errors import BackendUnavailableError


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
    decisive = options.model_dump(include={"temperature", "seed", "max_tokens", "repeat_penalty", "num_ctx",
                                           "base_url", "replies"})
    return json.dumps({"model": spec, **decisive}, sort_keys=True)


def use_disk_cache(model: Model, directory: str | Path, namespace: str) -> Model:
    """Route ``model``'s calls through a disk cache in ``directory`` (created if needed)."""
    try:
        import diskcache
        from autogen_ext.cache_store.diskcache import DiskCacheStore
    except ImportError as err:  # pragma: no cover - diskcache is a dependency
        raise BackendUnavailableError("The response cache needs diskcache; run 'make venv'.") from err
    store: Any = DiskCacheStore[CHAT_CACHE_VALUE_TYPE](diskcache.Cache(str(directory)))
    model.client = ChatCompletionCache(model.client, _NamespacedStore(store, namespace))
    return model
