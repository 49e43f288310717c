"""Text embeddings: the one function every embedding in roleplay goes through, `embed`.

``embed("embedded", texts)`` uses the embedded model (SmolLM2-135M) through llama.cpp with mean pooling,
``llamacpp:<gguf>`` any local GGUF, ``ollama:<tag>`` Ollama's ``/api/embed`` and ``openai:<model>``
any OpenAI-compatible ``/embeddings`` endpoint (``base_url`` / ``$OPENAI_BASE_URL``, ``$OPENAI_API_KEY``).
It is one function on purpose: when the in-process engine changes (another llama.cpp binding), only
`_local` changes. SmolLM2-135M is a chat model, not a trained sentence encoder: its embeddings are a
weak signal; use a real embedding model (``ollama:nomic-embed-text``, ``openai:text-embedding-3-small``)
for distances you report.
"""

from __future__ import annotations

import os
from typing import Any

from roleplay.errors import BackendError, ConfigError

__all__ = ["EMBED_CHARS", "embed"]

EMBED_CHARS = 2000
"""Longest text embedded; longer texts are cut to this many characters (callers record that they were)."""


def embed(model: str, texts: list[str], base_url: str | None = None, batch: int = 64) -> list[list[float]]:
    """One vector per text, in order, from ``model`` (a model string as for `roleplay.backends.get_backend`).

    Raises:
        ConfigError: a backend that cannot embed (scripted, human), or an unknown prefix.
        BackendUnavailableError: xllamacpp or the GGUF file is missing.
        BackendError: a server refused or answered something that is not embeddings.
    """
    prefix, _, name = model.strip().partition(":")
    texts = [text[:EMBED_CHARS] for text in texts]
    if prefix in ("embedded", "llamacpp"):
        return _local(model.strip(), texts)
    if prefix not in ("ollama", "openai"):
        raise ConfigError(f"The {prefix!r} backend cannot embed text; use embedded, llamacpp:<gguf>, "
                          "ollama:<embedding model> or openai:<embedding model>.")
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch):
        vectors += _remote(prefix, name, texts[start:start + batch], base_url)
    return vectors


def _local(model: str, texts: list[str]) -> list[list[float]]:
    """Mean-pooled llama.cpp embeddings of the embedded model or a GGUF file, from the in-process servers."""
    from roleplay.backends.llama_server import PROCESS_SERVERS

    return PROCESS_SERVERS.embed([text or " " for text in texts], model=model)


def _remote(prefix: str, name: str, texts: list[str], base_url: str | None) -> list[list[float]]:
    """Embeddings from Ollama (``/api/embed``) or an OpenAI-compatible server (``/embeddings``)."""
    import httpx

    if prefix == "ollama":
        url = (base_url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434").rstrip("/") + "/api/embed"
        body: dict[str, Any] = {"model": name, "input": texts}
        headers = {}
    else:
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/") + \
            "/embeddings"
        body = {"model": name, "input": texts}
        key = os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        answer = httpx.post(url, json=body, headers=headers, timeout=120)
    except httpx.HTTPError as err:
        raise BackendError(prefix, f"cannot reach {url} to embed text: {err}. Is the server running?") from err
    if answer.status_code != 200:
        raise BackendError(prefix, f"{url} answered {answer.status_code}: {answer.text[:300]}", answer.status_code)
    try:
        data = answer.json()
        vectors = data["embeddings"] if prefix == "ollama" else [item["embedding"] for item in data["data"]]
    except (ValueError, KeyError, TypeError) as err:
        raise BackendError(prefix, f"{url} answered with something that is not embeddings: "
                           f"{answer.text[:200]}") from err
    if len(vectors) != len(texts):
        raise BackendError(prefix, f"{url} returned {len(vectors)} embeddings for {len(texts)} texts.")
    return [list(map(float, vector)) for vector in vectors]
