"""Servers that answer in hostile ways (a local fake on 127.0.0.1, started and stopped here).

A ``Retry-After`` of nan, inf or a negative number is not waited for; a reply far larger than its token
limit is refused or cut before any guard sees it; a lone surrogate in a reply is stored as U+FFFD; and a
server that ignores the JSON schema fails the policy agent's turns instead of filling them with templates.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from autogen_core.models import UserMessage
from click.testing import CliRunner
from fake_http import send_json

from roleplay.backends import get_backend
from roleplay.backends.options import retry_after_seconds
from roleplay.cli import cli
from roleplay.errors import BackendError

QUESTION = [UserMessage(content="hi", source="user")]


def chat(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}], "usage": {"completion_tokens": 5}}).encode()


class Hostile(ThreadingHTTPServer):
    """Answers each POST with ``self.answer(body) -> (status, headers, payload)``."""

    daemon_threads = True

    def __init__(self, answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.calls = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Hostile

    def log_message(self, *args: object) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.calls += 1
        status, headers, payload = self.server.answer(body)
        send_json(self, status, payload, headers)


@pytest.fixture
def serve():
    started = []

    def start(answer) -> Hostile:
        server = Hostile(answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("value, expected", [("nan", None), ("inf", None), ("-inf", None), ("-3", None),
                                             ("soon", None), (None, None), ("2.5", 2.5), ("0", 0.0)])
def test_retry_after_is_a_finite_wait_or_nothing(value, expected):
    assert retry_after_seconds(value) == expected


@pytest.mark.timeout(30)
@pytest.mark.parametrize("header", ["nan", "inf", "-1"])
async def test_a_429_with_a_nonsense_retry_after_is_retried_within_the_bound(serve, header):
    server = serve(lambda body: (429, {"Retry-After": header}, b'{"error": "slow down"}'))
    model = get_backend("openai:m", base_url=server.url, max_retries=2, request_timeout=5)
    started = time.perf_counter()
    with pytest.raises(BackendError, match="slow down"):
        await model.create(QUESTION)
    await model.close()
    assert server.calls == 3 and time.perf_counter() - started < 5  # 0.5 s + 1 s of backoff, not nan


@pytest.mark.timeout(30)
async def test_a_reply_far_beyond_its_token_limit_is_refused_unread(serve):
    server = serve(lambda body: (200, {}, chat("x" * 2_000_000)))
    model = get_backend("openai:m", base_url=server.url, max_tokens=48, max_retries=0)
    started = time.perf_counter()
    with pytest.raises(BackendError, match=r"answered more than \d+ bytes to a request for at most 48 tokens"):
        await model.create(QUESTION)
    await model.close()
    assert time.perf_counter() - started < 5


async def test_a_reply_somewhat_beyond_its_limit_is_cut_and_marked(serve, caplog):
    server = serve(lambda body: (200, {}, chat("word " * 2_000)))
    model = get_backend("openai:m", base_url=server.url, max_tokens=48)
    result = await model.create(QUESTION)
    await model.close()
    assert len(result.content) == 48 * 32 and result.finish_reason == "length"
    assert "was cut to 1536 characters" in caplog.text


async def test_a_lone_surrogate_in_a_reply_becomes_the_replacement_character(serve):
    server = serve(lambda body: (200, {}, b'{"choices": [{"message": {"content": "ok \\ud800 fine."}}]}'))
    model = get_backend("openai:m", base_url=server.url)
    result = await model.create(QUESTION)
    await model.close()
    assert result.content == "ok \ufffd fine."


def test_a_server_that_ignores_the_schema_fails_the_policy_turns_not_silently(serve, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = serve(lambda body: (200, {}, chat('{"foo": 1}' if "response_format" in body else "Hello there.")))
    out = tmp_path / "b"
    result = CliRunner().invoke(cli, ["batch", "doctor_intake", "-n", "2", "-m", "openai:m", "--base-url", server.url,
                                      "--out", str(out), "--attempts", "1", "--max-turns", "4"])
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert "0 done" in result.output and "2 failed" in result.output
    assert "is not of the action schema it was sent" in result.output
    dialogs = list((out / "dialogs").glob("*.json")) if (out / "dialogs").is_dir() else []
    assert not any(json.loads(Path(p).read_text())["turns"] for p in dialogs)


async def test_a_persona_cut_to_fit_the_context_is_a_visible_warning_once(caplog):
    from autogen_core.models import SystemMessage

    from roleplay.backends._base import Model
    from roleplay.backends.options import BackendOptions
    from roleplay.backends.scripted import ScriptedClient, auto_reply

    model = Model(ScriptedClient(fn=auto_reply), name="scripted", backend="scripted",
                  options=BackendOptions(max_tokens=20), context_size=150)
    huge = [SystemMessage(content="You are Ann. " + "She likes tea. " * 5_000), *QUESTION]
    for _ in range(2):
        await model.create(huge)
    cuts = [r for r in caplog.records if r.levelname == "WARNING" and "system prompt" in r.getMessage()]
    assert len(cuts) == 1 and "was cut in its middle" in cuts[0].getMessage()
