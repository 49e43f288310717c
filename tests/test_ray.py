"""Batches on Ray actors (one local Ray session, 2 CPUs): same dialogues as local, faults, Ray Data, CLI.

Ray 2.60 cannot be bound to 127.0.0.1 only (``ray.init`` maps a loopback node address to the machine's own);
its processes listen on the machine's interfaces behind Ray's token authentication (on by default), and
the session ends with the module.
"""

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from executors import SCENARIO, batch_cli, dialogs_of, index_ids

from roleplay.backends import known_backends, register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.errors import BackendUnreachableError, ConfigError
from roleplay.runs.batch import arun_batch
from roleplay.runs.export import rows
from roleplay.runs.jobs import batch_job
from roleplay.runs.ray_executor import DialogWorker, RayJob, arun_ray_batch, connect, node_job
from roleplay.scenario import load_scenario

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE_SEED = 112  # the `rayseeded` model cannot reach its server for this seed


def seeded_factory(model, options):
    """Replies that depend on the seed and on what was heard, after a short delay (so an actor can be killed)."""
    def script(request):
        if options.seed == UNREACHABLE_SEED:
            raise BackendUnreachableError("openai", "http://127.0.0.1:9", "connection refused")
        time.sleep(0.01)
        name = request.system.split(".")[0].removeprefix("You are ")
        return f"{name} (seed {options.seed}) turn {sum(r == 'user' for r, _, _ in request.messages)}."
    return scripted_model(fn=script, seed=options.seed)


def register_seeded():
    """Runs in this process and in every Ray worker process (the session's setup hook)."""
    if "rayseeded" not in known_backends():
        register_backend("rayseeded", seeded_factory)


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    register_seeded()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             runtime_env={"worker_process_setup_hook": register_seeded})
    yield
    ray.shutdown()


def job():
    return batch_job(load_scenario(SCENARIO), model="rayseeded", max_turns=4)




def test_node_ip_in_a_server_url_is_the_actors_node():
    template = batch_job(load_scenario(SCENARIO), model="openai:m", servers=["http://{node_ip}:8000/v1", "http://x/v1"])
    assert node_job(template, "10.0.0.7").servers == ["http://10.0.0.7:8000/v1", "http://x/v1"]
    assert node_job(template, "10.0.0.7").pool is not template.pool  # each actor has its own HTTP clients
    assert DialogWorker(template).job.servers[0] == f"http://{ray.util.get_node_ip_address()}:8000/v1"


@pytest.fixture(scope="module")
def local_batch(tmp_path_factory):
    """The 12 dialogues of the local executor (seed 100), to compare the Ray ones with."""
    out = tmp_path_factory.mktemp("local")
    assert asyncio.run(arun_batch(job(), 12, out, seed=100, concurrency=4, progress=False)).done == 12
    return out


async def test_ray_batch_is_the_local_batch(tmp_path, local_batch):
    remote = await arun_ray_batch(job(), 12, tmp_path / "ray", workers=3, concurrency=2, seed=100, progress=False)
    assert (remote.done, remote.failed) == (12, 0)
    assert dialogs_of(tmp_path / "ray") == dialogs_of(local_batch)
    assert dialogs_of(tmp_path / "ray")[5][:2] == (5, 105) and "(seed 105)" in dialogs_of(tmp_path / "ray")[5][2][0][1]
    assert index_ids(tmp_path / "ray") == list(range(12))


async def test_failures_are_recorded_as_locally(tmp_path):
    """An error whose class Ray cannot pickle comes back as that class: retried, then listed the same way."""
    local = await arun_batch(job(), 3, tmp_path / "local", seed=111, attempts=2, backoff=0, progress=False)
    remote = await arun_ray_batch(job(), 3, tmp_path / "ray", workers=1, seed=111, attempts=2, backoff=0,
                                  progress=False)
    assert (local.done, local.failed) == (remote.done, remote.failed) == (2, 1)
    failures = [(tmp_path / f / "failures.jsonl").read_text() for f in ("local", "ray")]
    assert failures[0] == failures[1]
    assert json.loads(failures[1]) == {"id": 1, "seed": 112, "attempts": 2, "error": (
        "BackendUnreachableError: Cannot reach the openai server at http://127.0.0.1:9 (connection refused). Start "
        "the server, or point roleplay at it (base_url option / environment variable), or use the in-process model "
        "with --model embedded.")}


async def wait_until(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the batch"
        await asyncio.sleep(0.01)


async def test_killed_actors_then_rerun_completes_exactly_12(tmp_path):
    out = tmp_path / "b"
    make = RayJob(job(), workers=3, concurrency=2)
    run = asyncio.create_task(arun_batch(make, 12, out, concurrency=6, attempts=1, progress=False))
    await wait_until(lambda: (out / "index.jsonl").is_file() and make.in_flight[1] > 0 and make.in_flight[2] > 0)
    ray.kill(make.actors[1])  # for good: its dialogues go to the others
    ray.kill(make.actors[2], no_restart=False)  # Ray restarts it
    first = await run
    assert first.failed >= 2 and first.done + first.failed == 12
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == first.failed
    assert {f["error"].split(":")[0] for f in failures} == {"WorkerLost"}
    assert not {f["id"] for f in failures} & set(index_ids(out))
    second = await arun_ray_batch(job(), 12, out, workers=1, concurrency=4, progress=False)
    assert (second.done, second.skipped, second.failed) == (first.failed, first.done, 0)
    assert index_ids(out) == list(range(12))
    assert sorted(int(p.stem) for p in (out / "dialogs").glob("*.json")) == list(range(12))


async def test_all_actors_dead_stops_the_batch(tmp_path):
    make = RayJob(job(), workers=1, concurrency=1)
    run = asyncio.create_task(arun_batch(make, 4, tmp_path / "b", concurrency=1, attempts=2, backoff=0,
                                         progress=False))
    await wait_until(lambda: make.in_flight and make.in_flight[0] > 0)
    ray.kill(make.actors[0])
    with pytest.raises(ConfigError, match="All 1 Ray actors died for good"):
        await run


def test_dialogs_dataset_yields_the_batch_rows_and_leaves_out_failures(local_batch):
    """Dialogues 0..11 are the local batch's; dialogue 12 (seed 112) cannot reach its server and is left out."""
    import roleplay.ray

    dataset = roleplay.ray.dialogs_dataset(job(), 13, seed=100, workers=1, concurrency=7, attempts=1, num_cpus=0.5)
    got = sorted(dataset.take_all(), key=lambda r: r["seed"])
    assert len(got) == 12
    expected = sorted(rows(local_batch, "openai"), key=lambda r: r["seed"])
    assert [(r["id"], r["seed"], [dict(m) for m in r["messages"]]) for r in got] == \
        [(r["id"], r["seed"], r["messages"]) for r in expected]


def test_dialogs_dataset_bad_inputs():
    import roleplay.ray

    with pytest.raises(ConfigError, match="Unknown export format 'csv'"):
        roleplay.ray.dialogs_dataset(job(), 3, fmt="csv")
    with pytest.raises(ConfigError, match="must be >= 1, got 3, 0"):
        roleplay.ray.dialogs_dataset(job(), 3, workers=0)
    with pytest.raises(ConfigError, match="runs a scenario job"):
        roleplay.ray.dialogs_dataset(lambda i, s: None, 3)



def test_cli_ray_executor(tmp_path):
    result = batch_cli("--out", str(tmp_path / "b"), "-m", "rayseeded", "--executor", "ray", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "3 done, 0 skipped, 0 failed" in result.output
    assert index_ids(tmp_path / "b") == [0, 1, 2]


def test_cli_error_in_an_actor_is_shown_without_traceback(tmp_path):
    result = batch_cli("--out", str(tmp_path / "b"), "-m", "nosuch:x", "--executor", "ray", "--workers", "1")
    assert result.exit_code == 1
    assert "Error: Unknown backend 'nosuch'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--workers", "0"], 2, "Invalid value for '--workers'"),
    (["--workers", "2", "--executor", "local"], 2, "--workers needs --executor processes or ray"),
    (["--ray-address", "127.0.0.1:1", "--executor", "processes"], 2, "--ray-address needs --executor ray"),
    (["--ray-address", "127.0.0.1:1"], 1, "No Ray cluster answers at 127.0.0.1:1"),
    (["--ray-address", "my-cluster"], 1, "--ray-address 'my-cluster' is not HOST:PORT"),
])
def test_cli_bad_ray_options(tmp_path, args, code, message):
    executor = [] if "--executor" in args else ["--executor", "ray"]
    result = batch_cli("--out", str(tmp_path / "b"), "-m", "rayseeded", *executor, *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "b" / "dialogs").exists()


def test_cli_without_ray_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    result = batch_cli("--out", str(tmp_path / "b"), "-m", "rayseeded", "--executor", "ray")
    assert result.exit_code == 1
    assert "pip install 'roleplay-sim[ray]'" in result.output and "Traceback" not in result.output
    with pytest.raises(ConfigError, match=r"roleplay-sim\[ray\]"):
        connect(None)


def test_importing_roleplay_does_not_import_ray():
    code = ("import sys, roleplay, roleplay.cli, roleplay.ray, roleplay.runs.ray_executor; "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
