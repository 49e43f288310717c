"""`roleplay.backends.embeddings.embed`: the one embedding function, over HTTP (mocked transport) and in-process."""

from __future__ import annotations

import json

import httpx
import pytest

from roleplay.backends.embeddings import EMBED_CHARS, embed
from roleplay.errors import BackendError, BackendUnavailableError, ConfigError


def test_openai_compatible_embeddings(httpx_mock, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    httpx_mock.add_response(url="http://127.0.0.1:9/v1/embeddings",
                            json={"data": [{"embedding": [1, 2]}, {"embedding": [3, 4.5]}]})
    assert embed("openai:emb", ["a", "b" * (EMBED_CHARS + 10)], base_url="http://127.0.0.1:9/v1") == \
        [[1.0, 2.0], [3.0, 4.5]]
    sent = httpx_mock.get_request()
    assert json.loads(sent.content) == {"model": "emb", "input": ["a", "b" * EMBED_CHARS]}
    assert sent.headers["Authorization"] == "Bearer k"


def test_ollama_embeddings_in_batches(httpx_mock):
    for _ in range(2):
        httpx_mock.add_response(url="http://127.0.0.1:9/api/embed", json={"embeddings": [[0.5], [0.25]]})
    assert embed("ollama:nomic", ["a", "b", "c", "d"], base_url="http://127.0.0.1:9", batch=2) == \
        [[0.5], [0.25], [0.5], [0.25]]
    assert [json.loads(r.content)["input"] for r in httpx_mock.get_requests()] == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize(("response", "message"), [
    ({"status_code": 500, "text": "boom"}, "answered 500: boom"),
    ({"json": {"embeddings": [[1.0]]}}, "returned 1 embeddings for 2 texts"),
    ({"json": {"nothing": 1}}, "not embeddings"),
])
def test_server_answers_that_are_not_embeddings_are_clear_errors(httpx_mock, response, message):
    httpx_mock.add_response(url="http://127.0.0.1:9/api/embed", **response)
    with pytest.raises(BackendError, match=message):
        embed("ollama:x", ["a", "b"], base_url="http://127.0.0.1:9")


def test_unreachable_server(httpx_mock):
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:9/api/embed"):
        embed("ollama:x", ["a"], base_url="http://127.0.0.1:9")


def test_backends_that_cannot_embed(tmp_path):
    with pytest.raises(ConfigError, match="The 'scripted' backend cannot embed text"):
        embed("scripted:auto", ["a"])
    with pytest.raises(BackendUnavailableError, match="GGUF file not found"):
        embed(f"llamacpp:{tmp_path / 'none.gguf'}", ["a"])


@pytest.mark.embedded
def test_embedded_model_embeddings():
    first, second, again = embed("embedded", ["The pain is behind my eyes.", "Book a table for two.",
                                              "The pain is behind my eyes."])
    assert len(first) == len(second) == 576

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True)) / (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5

    # the same text again in the batch: the same vector up to float rounding (batch position); another text differs
    assert cosine(first, again) > 0.999 > cosine(first, second)
