"""Batch generation on scripted backends: determinism, resume after kill -9, retries, failures, cache, exports."""

import asyncio
import http.server
import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from slow_cli import kill_9_then_rerun, slow_cli, wait_for_lines

from roleplay import Dialog
from roleplay.backends import register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.cli import cli
from roleplay.dialog import StopReason, Turn
from roleplay.errors import BackendError, BackendUnreachableError, ConfigError, ScenarioError
from roleplay.runs.batch import YOUNG_COLLECTION, arun_batch, is_transient, run_batch
from roleplay.runs.export import export, parse_roles
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "doctor_patient.yaml"


def seeded_script(calls: list | None = None, delay: float = 0.0):
    """Replies that depend on the seed and on what was heard, after a random (order-scrambling) delay."""
    def factory(model, options):
        def script(request):
            if calls is not None:
                calls.append(options.seed)
            if delay:
                time.sleep(random.random() * delay)
            name = request.system.split(".")[0].removeprefix("You are ")
            return f"{name} (seed {options.seed}) turn {sum(r == 'user' for r, _, _ in request.messages)}."
        return scripted_model(fn=script, seed=options.seed)
    return factory


@pytest.fixture
def seeded(monkeypatch):
    calls: list = []
    register_backend("seeded", seeded_script(calls, delay=0.002))
    return calls


def turns_of(folder: Path) -> dict[int, list[str]]:
    return {int(p.stem): [str(t) for t in Dialog.from_file(p).turns] for p in (folder / "dialogs").glob("*.json")}


def scenario_make(model="seeded", **options):
    return batch_job(load_scenario(SCENARIO), model=model, max_turns=4, **options)


async def test_same_seeds_same_files_at_any_concurrency(seeded, tmp_path):
    one = await arun_batch(scenario_make(), 12, tmp_path / "c1", seed=100, concurrency=1, progress=False)
    eight = await arun_batch(scenario_make(), 12, tmp_path / "c8", seed=100, concurrency=8, progress=False)
    assert one.done == eight.done == 12
    assert turns_of(tmp_path / "c1") == turns_of(tmp_path / "c8")
    dialog = Dialog.from_file(tmp_path / "c8" / "dialogs" / "5.json")
    assert dialog.id == 5 and dialog.seed == 105 and "(seed 105)" in dialog.turns[0].text
    index = [json.loads(line) for line in (tmp_path / "c8" / "index.jsonl").read_text().splitlines()]
    assert sorted(e["id"] for e in index) == list(range(12))


async def test_sync_wrapper_works_inside_a_running_loop(seeded, tmp_path):
    asyncio.get_running_loop()  # as in a notebook cell
    result = run_batch(scenario_make(), 3, tmp_path / "b", seed=7, progress=False)
    assert (result.done, result.failed) == (3, 0)
    assert Dialog.from_file(tmp_path / "b" / "dialogs" / "2.json").seed == 9


async def test_the_heap_before_a_run_is_frozen_for_it_and_handed_back_after(tmp_path):
    """Objects from before the run stay out of the collector's scans, and young ones are collected less often,
    while it runs (bench/engine_ceiling.py); both settings are handed back after."""
    import gc

    frozen_during, thresholds_during = [], []

    async def make(id: int, seed: int) -> Dialog:
        frozen_during.append(gc.get_freeze_count())
        thresholds_during.append(gc.get_threshold())
        return Dialog(id=id, seed=seed, turns=[Turn(speaker="A", text="Hello.")])
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    result = await arun_batch(make, 3, tmp_path / "b", progress=False)
    assert result.done == 3 and min(frozen_during) > before + 1000  # the modules' objects at least
    assert set(thresholds_during) == {(YOUNG_COLLECTION, *thresholds[1:])} and YOUNG_COLLECTION > thresholds[0]
    assert gc.get_freeze_count() == before and gc.get_threshold() == thresholds


async def test_rerun_skips_finished_and_extends(seeded, tmp_path):
    await arun_batch(scenario_make(), 3, tmp_path / "b", progress=False)
    calls = len(seeded)
    again = await arun_batch(scenario_make(), 5, tmp_path / "b", progress=False)
    assert (again.skipped, again.done) == (3, 2)
    assert set(seeded[calls:]) == {3, 4}


async def test_resume_with_other_settings_is_refused(seeded, tmp_path):
    await arun_batch(scenario_make(), 2, tmp_path / "b", seed=1, progress=False)
    with pytest.raises(ConfigError, match=r"holds a batch with other settings \(seed: 1 -> 2\)"):
        await arun_batch(scenario_make(), 2, tmp_path / "b", seed=2, progress=False)


async def test_transient_errors_are_retried_then_recorded(tmp_path):
    tries: dict[int, int] = {}

    async def make(index, seed):
        tries[index] = tries.get(index, 0) + 1
        if index == 1 and tries[index] < 3:
            raise BackendError("openai", "overloaded", status_code=503)
        if index == 2:
            raise BackendError("openai", "bad request", status_code=400)  # not transient: no retry
        if index == 3:
            return Dialog(seed=seed, stop_reason=StopReason.BACKEND_ERROR, metadata={"error": "boom"})
        return Dialog(seed=seed, turns=[Turn("A", "hi")], stop_reason=StopReason.MAX_TURNS)

    result = await arun_batch(make, 4, tmp_path / "b", attempts=3, backoff=0, progress=False)
    assert (result.done, result.failed) == (2, 2)
    assert tries == {0: 1, 1: 3, 2: 1, 3: 3}
    failures = [json.loads(line) for line in (tmp_path / "b" / "failures.jsonl").read_text().splitlines()]
    assert {f["id"]: f["error"] for f in failures} == {
        2: "BackendError: openai backend failed (HTTP 400): bad request", 3: "DialogFailed: boom"}
    assert sorted(p.stem for p in (tmp_path / "b" / "dialogs").glob("*.json")) == ["0", "1"]


async def test_max_failures_aborts(tmp_path):
    async def make(index, seed):
        raise BackendUnreachableError("ollama", "http://127.0.0.1:1")

    result = await arun_batch(make, 20, tmp_path / "b", attempts=1, max_failures=2, concurrency=1, progress=False)
    assert result.aborted and result.failed == 3 and result.done == 0


def test_is_transient():
    assert is_transient(BackendError("x", "timeout"))
    assert is_transient(BackendError("x", "slow down", status_code=429))
    assert not is_transient(BackendError("x", "no such model", status_code=404))
    assert not is_transient(ValueError("bug"))


async def test_cache_replays_without_calling_the_model(seeded, tmp_path):
    cache = tmp_path / "cache"
    first = await arun_batch(scenario_make(cache_dir=str(cache)), 4, tmp_path / "a", seed=7, progress=False)
    assert first.done == 4 and len(seeded) == 16
    seeded.clear()
    await arun_batch(scenario_make(cache_dir=str(cache)), 4, tmp_path / "b", seed=7, progress=False)
    assert seeded == []  # every response came from the cache
    assert turns_of(tmp_path / "a") == turns_of(tmp_path / "b")
    await arun_batch(scenario_make(cache_dir=str(cache)), 1, tmp_path / "c", seed=50, progress=False)
    assert set(seeded) == {50}  # another seed is another cache entry


def start_slow_batch(tmp_path, concurrency, finished, **popen):
    """Start `roleplay batch` (40 dialogues, slow scripted model) in a subprocess; return once
    ``finished`` dialogues are indexed: (process, out folder, args)."""
    out = tmp_path / "b"
    args = [sys.executable, str(slow_cli(tmp_path)), "batch", str(SCENARIO), "-n", "40",
            "--concurrency", str(concurrency), "--out", str(out), "--model", "slow", "--max-turns", "4"]
    proc = subprocess.Popen(args, **popen)
    wait_for_lines(out / "index.jsonl", finished)
    return proc, out, args


def test_resume_after_kill_9(tmp_path):
    out = tmp_path / "b"
    args = [sys.executable, str(slow_cli(tmp_path)), "batch", str(SCENARIO), "-n", "40", "--concurrency", "4",
            "--out", str(out), "--model", "slow", "--max-turns", "4"]
    finished_before, done = kill_9_then_rerun(args, out, 5)
    index = out / "index.jsonl"
    assert 5 <= finished_before < 40
    assert done.returncode == 0, done.stderr
    assert f"{finished_before} skipped" in done.stdout or "skipped" in done.stdout
    files = sorted(int(p.stem) for p in (out / "dialogs").glob("*.json"))
    assert files == list(range(40))
    assert not list((out / "dialogs").glob(".*"))  # no temp file left
    ids = [json.loads(line)["id"] for line in index.read_text().splitlines() if line.strip().endswith("}")]
    assert sorted(set(ids)) == list(range(40)) and len(ids) == 40  # no duplicates
    for path in (out / "dialogs").glob("*.json"):
        Dialog.from_file(path)


def test_cli_batch_with_variants_and_export(monkeypatch, tmp_path):
    register_backend("seeded", seeded_script())
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.read_text().replace("../agents/", str(ROOT / "agents") + "/")
                        .replace("examples/", str(ROOT / "scenarios" / "examples") + "/") +
                        "\nvariants:\n  temperature: [0.3, 0.9]\n  Patient.circumstances: [a cough, a rash]\n")
    out = tmp_path / "b"
    result = CliRunner().invoke(cli, ["batch", str(scenario), "-n", "5", "--out", str(out), "--model", "seeded",
                                      "--max-turns", "2", "--concurrency", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "4 variant(s)" in result.output and "5 done, 0 skipped, 0 failed" in result.output
    variants = [Dialog.from_file(out / "dialogs" / f"{i}.json").metadata["variant"] for i in range(5)]
    assert variants[0] == variants[4] != variants[1]
    assert variants[0] == {"Patient.circumstances": "a cough", "temperature": 0.3}
    assert Dialog.from_file(out / "dialogs" / "1.json").personas["Patient"]["circumstances"] == "a cough"

    for fmt in ("jsonl", "sharegpt", "openai"):
        result = CliRunner().invoke(cli, ["export", str(out), "--format", fmt, "--out", str(tmp_path / f"x.{fmt}"),
                                          "--roles", "Doctor=assistant,Patient=user"], catch_exceptions=False)
        assert result.exit_code == 0 and "Exported 5 dialogues" in result.output
    originals = [Dialog.from_file(out / "dialogs" / f"{i}.json") for i in range(5)]
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert [Dialog.model_validate_json(line) for line in lines] == originals
    share = [json.loads(line) for line in (tmp_path / "x.sharegpt").read_text().splitlines()]
    assert [[c["value"] for c in row["conversations"]] for row in share] == [[t.text for t in d] for d in originals]
    assert share[0]["conversations"][0]["from"] == "gpt"  # the Doctor speaks first and is the assistant
    chat = [json.loads(line) for line in (tmp_path / "x.openai").read_text().splitlines()]
    assert [m["role"] for m in chat[0]["messages"]] == ["system", "assistant", "user"]  # system: Doctor's persona
    assert [m["content"] for m in chat[0]["messages"][1:]] == [t.text for t in originals[0]]


class FakeOpenAIServer(http.server.BaseHTTPRequestHandler):
    """A real HTTP server speaking OpenAI's chat API; each reply names the port that answered, the seed and
    the speaker (from its system prompt, "You are Doctor. ..."), so the two speakers never say the same words."""

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        port = self.server.server_address[1]
        speaker = body["messages"][0]["content"].split()[2].rstrip(".")
        text = f"port {port} seed {body['seed']} for {speaker}."
        reply = json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        self.server.requests += 1

    def log_message(self, *args):
        pass


@pytest.fixture
def server_pool():
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAIServer) for _ in range(2)]
    for server in servers:
        server.requests = 0
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_cli_batch_spreads_dialogues_over_a_server_pool(server_pool, tmp_path):
    urls = [f"http://127.0.0.1:{s.server_address[1]}/v1" for s in server_pool]
    out = tmp_path / "b"
    result = CliRunner().invoke(cli, ["batch", str(SCENARIO), "-n", "5", "--out", str(out), "-m", "openai:smol",
                                      "--max-turns", "2", "--concurrency", "5", "--seed", "10",
                                      "--base-url", urls[0], "--base-url", urls[1]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 servers" in result.output and "5 done" in result.output
    for i in range(5):
        dialog = Dialog.from_file(out / "dialogs" / f"{i}.json")
        assert dialog.metadata["server"] == urls[i % 2]
        assert [t.text for t in dialog] == [f"port {server_pool[i % 2].server_address[1]} seed {10 + i} for {who}."
                                            for who in ("Doctor", "Patient")]
    assert [s.requests for s in server_pool] == [6, 4]


def test_server_pool_needs_a_server_backend():
    with pytest.raises(ScenarioError, match="embedded runs in this process; use an ollama: or openai: model"):
        batch_job(load_scenario(SCENARIO), model="embedded", servers=["http://one.test/v1"])


def test_hf_export_round_trip(seeded, tmp_path):
    datasets = pytest.importorskip("datasets")
    asyncio.run(arun_batch(scenario_make(), 3, tmp_path / "b", progress=False))
    assert export(tmp_path / "b", "hf", tmp_path / "hf") == 3
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert [row["messages"][0]["content"] for row in loaded] == [
        Dialog.from_file(tmp_path / "b" / "dialogs" / f"{i}.json").turns[0].text for i in range(3)]


@pytest.mark.parametrize("args, message", [
    (["batch", str(SCENARIO), "-n", "0", "--out", "o"], "Invalid value for '-n'"),
    (["batch", "nowhere.yaml", "-n", "2", "--out", "o"], "scenario file not found"),
    (["export", "nowhere", "--format", "jsonl", "--out", "x"], "is not a folder of dialogues"),
    (["export", ".", "--format", "openai", "--out", "x", "--roles", "Doctor=boss"], "Bad role mapping"),
])
def test_cli_bad_input(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_bad_variant(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\nagents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\n"
                        "variants: {C.role: [x]}\n")
    with pytest.raises(ScenarioError, match="variant 'C.role' names agent 'C'"):
        load_scenario(scenario)
    scenario.write_text("name: x\nagents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\n"
                        "variants: {A.mood: [x]}\n")
    with pytest.raises(ScenarioError, match="unknown field 'mood'"):
        load_scenario(scenario)


def test_parse_roles():
    assert parse_roles("A=user, B=assistant") == {"A": "user", "B": "assistant"}
    assert parse_roles(None) == {}


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    proc, out, _ = start_slow_batch(tmp_path, 2, 2, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Interrupted. Finished dialogues are safe" in err and "rerun the same command to resume" in err
    assert "Traceback" not in err
    for path in (out / "dialogs").glob("*.json"):
        Dialog.from_file(path)
