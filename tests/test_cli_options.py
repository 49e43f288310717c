"""Options every user meets: `run --base-url`, and the environment variables `--help` shows."""

import http.server
import json
import threading

import pytest
from click.testing import CliRunner
from fake_http import send_json

from roleplay.cli import cli
from roleplay.dialog import Dialog


class ChatServer(http.server.BaseHTTPRequestHandler):
    """OpenAI's chat API on 127.0.0.1: every reply says which port answered."""

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = f"Hello from port {self.server.server_address[1]}."
        send_json(self, 200, json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_run_base_url_reaches_that_server(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # --base-url wins over the environment
    port = server.server_address[1]
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "-m", "openai:m", "--base-url",
                                      f"http://127.0.0.1:{port}/v1", "--max-turns", "2", "--seed", "3",
                                      "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    dialog = Dialog.from_file(tmp_path / "doctor_patient_3.json")
    assert [t.text for t in dialog] == [f"Hello from port {port}."] * 2


def test_run_model_from_the_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ROLEPLAY_MODEL", "openai:m")
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "--base-url",
                                      f"http://127.0.0.1:{server.server_address[1]}/v1", "--max-turns", "1",
                                      "--seed", "1", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    assert "model: openai:m" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--base-url", "http://127.0.0.1:9/v1"], "embedded runs in this process; use an ollama: or openai: model"),
    (["-m", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--human", "Doctor"], "with --human run the other"),
    (["-m", "openai:m", "--base-url", "http://127.0.0.1:x/v1"], "has a bad port"),
])
def test_run_base_url_bad_inputs(args, message, tmp_path):
    result = CliRunner().invoke(cli, ["run", "doctor_patient", "--out", str(tmp_path), *args])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("command", ["run", "batch", "branch", "intent-chat", "personas", "star"])
def test_help_shows_the_model_environment_variable(command):
    args = [command, "--help"] if command not in ("personas", "star") else \
        [command, "sample" if command == "personas" else "generate", "--help"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "env var: ROLEPLAY_MODEL" in " ".join(result.output.split())  # help text wraps


def test_top_level_help_lists_the_environment():
    result = CliRunner().invoke(cli, ["--help"])
    for name in ("ROLEPLAY_MODEL", "OLLAMA_HOST", "OPENAI_BASE_URL", "OPENAI_API_KEY", "RAY_ADDRESS"):
        assert name in result.output
