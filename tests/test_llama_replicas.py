"""Copies of the in-process llama.cpp server (``replicas``): parallel decoding that leaves a dialogue's text alone."""

import threading
from pathlib import Path

import pytest

from roleplay.backends import in_process_copies, llama_server
from roleplay.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.parametrize(("model", "concurrency", "cpus", "expected"), [
    ("embedded", 8, 2, {"replicas": 2}),
    ("embedded", 3, 16, {"replicas": 3}),
    ("embedded", 1, 16, {}),  # one dialogue at a time: one server with every thread
    ("llamacpp:/models/m.gguf", 4, 4, {"replicas": 4}),
    ("scripted:auto", 8, 2, {}),  # not in this process: the option would be refused
    ("openai:m", 8, 2, {}),
])
def test_a_batch_on_an_in_process_model_gets_one_copy_per_dialogue_in_flight_up_to_the_cpus(
        model, concurrency, cpus, expected, monkeypatch):
    monkeypatch.setattr(llama_server, "usable_cpus", lambda: cpus)
    scenario = load_scenario(SCENARIOS / "doctor_patient.yaml")
    cast = {model or agent.model or scenario.model for agent in scenario.agents}
    assert in_process_copies(cast, concurrency) == expected


def test_a_cast_with_one_agent_elsewhere_gets_no_copies(monkeypatch):
    monkeypatch.setattr(llama_server, "usable_cpus", lambda: 8)
    scenario = load_scenario(SCENARIOS / "doctor_patient.yaml")
    agents = [scenario.agents[0].model_copy(update={"model": "scripted:auto"}), *scenario.agents[1:]]
    mixed = scenario.model_copy(update={"agents": agents, "model": "embedded"})
    assert in_process_copies({agent.model or mixed.model for agent in mixed.agents}, 8) == {}
    assert in_process_copies({"embedded"}, 8) == {"replicas": 8}


@pytest.mark.embedded
def test_copies_decode_at_once_and_each_gives_what_one_server_gives():
    """A short request finishes on the second copy while a long one holds the first; and a request's text is
    the same on a copy with one thread as on a lone server with two."""
    from roleplay.backends.llama_server import LlamaServers, embedded_model_path

    request = {"messages": [{"role": "user", "content": "Say something about the sea."}], "max_tokens": 24,
               "seed": 3, "temperature": 0.9, "cache_prompt": False}
    with LlamaServers() as servers:
        pair = servers.server(embedded_model_path(), 1024, 1, 2, replicas=2)
        lone = servers.server(embedded_model_path(), 1024, 1, 2)
        assert pair.replicas == 2 and len(servers) == 2
        started, stop = threading.Event(), threading.Event()
        long_answer: dict = {}

        def long_request() -> None:
            started.set()
            long_answer.update(pair.chat({**request, "max_tokens": 2000, "seed": 1}, stop))
        holder = threading.Thread(target=long_request)
        holder.start()
        started.wait()
        while pair.free_slots != 1:  # the long request holds one copy
            threading.Event().wait(0.01)
        short = pair.chat(request, threading.Event())
        finished_first = not long_answer  # the long one was still decoding on the other copy
        stop.set()
        holder.join(timeout=60)
        assert finished_first and short["content"]
        assert short["content"] == lone.chat(request, threading.Event())["content"]
