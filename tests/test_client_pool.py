"""HTTP backends against a local fake server (127.0.0.1, started here): one connection pool per server for a
whole run, and every failure a server can produce ends within its stated bound with a clear error."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from autogen_core.models import UserMessage
from fake_http import send_json

from roleplay.backends import ClientPool, get_backend
from roleplay.backends.openai_compat import OpenAIServer
from roleplay.errors import BackendError, BackendTimeoutError, ConfigError
from roleplay.runs.batch import arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

QUESTION = [UserMessage(content="hi", source="user")]
CHAT = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Fine, thanks."},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
OLLAMA = {"model": "m", "created_at": "2026-01-01T00:00:00Z", "done": True, "done_reason": "stop",
          "message": {"role": "assistant", "content": "Fine, thanks."}, "prompt_eval_count": 3, "eval_count": 2}


class FakeServer(ThreadingHTTPServer):
    """Answers by the first path segment: /ok, /hang, /400, /500, /429, /badjson, /slow, /nojsonschema."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.released = threading.Event()  # set at shutdown, so hanging handlers end
        self.requests: list[tuple[str, dict]] = []
        self.connections: set[int] = set()
        self.targets: list[str] = []

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible
    server: FakeServer

    def log_message(self, *args: object) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.targets.append(self.path)  # absolute ("http://host/...") when it came through as a proxy
        mode = urlsplit(self.path).path.split("/")[1]
        self.server.requests.append((mode, body))
        self.server.connections.add(self.client_address[1])
        answer = OLLAMA if self.path.endswith("/api/chat") else CHAT
        if mode == "hang":
            self.server.released.wait()
            return
        if mode == "slow":
            self.server.released.wait(1.0)
        if mode == "nojsonschema" and body.get("response_format", {}).get("type") == "json_schema":
            return self._send(500, b'{"error": "response_format.type: Input should be text or json_object, '
                                   b'got json_schema"}')  # what llama-cpp-python's server answers
        if mode in ("400", "500", "429"):
            error = b'{"error": "bad request"}' if mode == "400" else b'{"error": "model crashed"}'
            return self._send(int(mode), error, {"Retry-After": "0.2"} if mode == "429" else {})
        self._send(200, b"not json{" if mode == "badjson" else json.dumps(answer).encode())

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, payload, headers)


@pytest.fixture
def server():
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.released.set()
    fake.shutdown()
    fake.server_close()


@pytest.fixture
async def backend():
    """`get_backend`, closing every model it made at the end of the test (each holds its own connections)."""
    made = []

    def make(model: str, **options):
        made.append(get_backend(model, **options))
        return made[-1]
    yield make
    for model in made:
        await model.close()


def scenario_file(tmp_path, model: str):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({
        "name": "pool", "model": model, "first_speaker": "Doctor", "stop": {"max_turns": 4},
        "agents": [{"name": "Doctor", "persona": {"name": "Doctor", "role": "doctor"}},
                   {"name": "Patient", "persona": {"name": "Patient", "role": "patient"}}],
    }), encoding="utf-8")
    return path


@pytest.mark.parametrize("model, suffix", [("openai:m", "/v1"), ("ollama:m", "")])
async def test_a_batch_opens_one_connection_pool_per_server(server, tmp_path, model, suffix, monkeypatch):
    import aiohttp
    import httpx

    built = []
    pool_class = aiohttp.ClientSession if model.startswith("openai") else httpx.AsyncClient
    original = pool_class.__init__

    def counting_init(self, *args, **kwargs):
        built.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(pool_class, "__init__", counting_init)
    job = batch_job(load_scenario(scenario_file(tmp_path, model)), servers=[server.url("ok") + suffix])
    result = await arun_batch(job, 12, tmp_path / "out", concurrency=3, progress=False)
    assert result.done == 12 and result.turns == 48 and len(server.requests) == 48
    assert len(built) == 1 and job.pool.created == 1  # one server's clients for 24 agents in 12 dialogues
    assert len(server.connections) < 12  # reused across dialogues: a client per dialogue would open 12, per agent 24
    assert len(job.pool) == 0  # closed at the end of the run


async def test_models_built_without_a_pool_close_their_own_client(server):
    model = get_backend("openai:m", base_url=server.url("ok") + "/v1")
    assert (await model.create(QUESTION)).content == "Fine, thanks."
    assert model.owned_pool is not None and model.owned_pool.created == 1
    await model.close()
    async with ClientPool() as pool:
        first = get_backend("openai:m", base_url=server.url("ok") + "/v1", pool=pool, seed=1)
        second = get_backend("openai:m", base_url=server.url("ok") + "/v1", pool=pool, seed=2)
        other = get_backend("openai:m", base_url=server.url("500") + "/v1", pool=pool)
        assert first.client.server is second.client.server is not other.client.server
        assert first.owned_pool is None and pool.created == 2


@pytest.mark.timeout(30)
@pytest.mark.parametrize("model, suffix", [("openai:m", "/v1"), ("ollama:m", "")])
async def test_a_server_that_never_answers_times_out_stating_the_whole_bound(server, backend, model, suffix):
    backend = backend(model, base_url=server.url("hang") + suffix, request_timeout=0.3, max_retries=1)
    with pytest.raises(BackendTimeoutError, match=r"2 attempts of at most 0.3 s each, 10.6 s in all") as caught:
        await backend.create(QUESTION)
    assert caught.value.bound == backend.options.time_bound() == 10.6
    assert [mode for mode, _ in server.requests] == ["hang", "hang"]


@pytest.mark.timeout(30)
async def test_a_slow_answer_within_the_limit_arrives_and_beyond_it_fails(server, backend):
    slow = server.url("slow") + "/v1"
    assert (await backend("openai:m", base_url=slow, request_timeout=10).create(QUESTION)).content
    with pytest.raises(BackendTimeoutError, match="1 attempt, 0.2 s in all"):
        await backend("openai:m", base_url=slow, request_timeout=0.2, max_retries=0).create(QUESTION)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode, status, requests", [("500", 500, 3), ("429", 429, 3), ("badjson", None, 3)])
async def test_server_errors_are_retried_then_reported_clearly(server, backend, mode, status, requests):
    model = backend("openai:m", base_url=server.url(mode) + "/v1", request_timeout=5, max_retries=2)
    with pytest.raises(BackendError) as caught:
        await model.create(QUESTION)
    assert caught.value.status_code == status and len(server.requests) == requests
    assert ("model crashed" if status else "not a chat completion") in str(caught.value)
    assert server.url(mode) in str(caught.value)


async def test_a_client_error_is_not_retried(server, backend):
    with pytest.raises(BackendError, match="HTTP 400.*bad request"):
        await backend("openai:m", base_url=server.url("400") + "/v1").create(QUESTION)
    assert len(server.requests) == 1


async def test_a_server_without_json_schema_gets_json_object_for_the_rest_of_the_run(server):
    async with ClientPool() as pool:
        url = server.url("nojsonschema") + "/v1"
        first, second = (get_backend("openai:m", base_url=url, pool=pool) for _ in range(2))
        for model in (first, second):
            with model.call_options(schema={"type": "object"}):
                assert (await model.create(QUESTION)).content == "Fine, thanks."
    formats = [body["response_format"]["type"] for _, body in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # learned once, for every agent on the server
    assert first.client.server.schema_dialect == "json_object"


def test_openai_without_a_key_against_a_remote_server_fails_before_any_call(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="needs an API key: set \\$OPENAI_API_KEY or the api_key option"):
        get_backend("openai:gpt-4o-mini", base_url="https://api.example.com/v1")
    for local in ("http://127.0.0.1:8000/v1", "http://localhost:1234/v1", "http://192.168.1.20:8000/v1",
                  "http://vllm:8000/v1"):
        assert get_backend("openai:m", base_url=local).url == local
    assert get_backend("openai:m", base_url="https://api.example.com/v1", api_key="k").url


async def test_a_batch_job_prepares_each_variant_once_not_each_dialogue(tmp_path, monkeypatch):
    from roleplay.personas import Persona
    from roleplay.scenario import Scenario

    (tmp_path / "doctor.yaml").write_text("name: Doctor\nrole: doctor\n", encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({
        "name": "once", "model": "scripted:auto", "first_speaker": "Doctor", "stop": {"max_turns": 2},
        "agents": [{"name": "Doctor", "persona": "doctor.yaml"}, {"name": "Patient", "persona": {"role": "patient"}}],
        "variants": {"temperature": [0.2, 0.9]},
    }), encoding="utf-8")
    job = batch_job(load_scenario(path))
    reads = {"variant": 0, "persona": 0}
    variant, from_yaml = Scenario.variant, Persona.from_yaml.__func__

    def counting_variant(self, index):
        reads["variant"] += 1
        return variant(self, index)

    def counting_persona(cls, source):
        reads["persona"] += 1
        return from_yaml(cls, source)

    monkeypatch.setattr(Scenario, "variant", counting_variant)
    monkeypatch.setattr(Persona, "from_yaml", classmethod(counting_persona))
    result = await arun_batch(job, 8, tmp_path / "out", concurrency=4, progress=False)
    assert result.done == 8
    assert reads == {"variant": 2, "persona": 2}  # once per grid variant, not once per dialogue


def _proxy_environment(monkeypatch, **env: str) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


async def test_the_openai_backend_goes_through_the_proxy_the_environment_names(server, monkeypatch):
    """The fake server is the proxy here: it gets the request for a host that does not exist, in absolute form."""
    _proxy_environment(monkeypatch, HTTP_PROXY=f"http://127.0.0.1:{server.server_address[1]}")
    model = get_backend("openai:m", base_url="http://llm.test:8000/ok/v1", api_key="sk-test")
    try:
        assert (await model.create(QUESTION)).content == "Fine, thanks."
    finally:
        await model.close()
    assert server.targets == ["http://llm.test:8000/ok/v1/chat/completions"]


async def test_a_host_in_no_proxy_is_reached_directly(server, monkeypatch):
    _proxy_environment(monkeypatch, HTTP_PROXY="http://127.0.0.1:1", NO_PROXY="127.0.0.1")  # nothing listens on :1
    model = get_backend("openai:m", base_url=server.url("ok") + "/v1")
    try:
        assert (await model.create(QUESTION)).content == "Fine, thanks."
    finally:
        await model.close()
    assert server.targets == ["/ok/v1/chat/completions"]


async def test_one_conversation_at_a_time_uses_one_connection_and_parallel_ones_spread(server):
    """An idle connection is reused: one request in flight at a time never opens a second one."""
    model = get_backend("openai:m", base_url=server.url("ok") + "/v1")
    try:
        for _ in range(5):
            await model.create(QUESTION)
        assert len(server.connections) == 1
        await asyncio.gather(*(model.create(QUESTION) for _ in range(6)))
        assert len(server.connections) == 6  # six at once: six connections, none waits for another's
    finally:
        await model.close()


def test_a_socks_proxy_is_a_clear_error(monkeypatch):
    _proxy_environment(monkeypatch, HTTP_PROXY="socks5://127.0.0.1:1")
    with pytest.raises(ConfigError, match="not an HTTP proxy.*add llm.test to \\$NO_PROXY"):
        OpenAIServer("http://llm.test:8000/v1", None, 5.0)
