"""Test tiers (see docs/testing.md): unit tests use scripted models; `embedded` and `server` tests run
the real SmolLM2 model in-process or behind a local OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import pytest

from roleplay.backends import registered_backends, unregister_backend
from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.personas import Persona


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Run every test in its own folder, so relative outputs never land in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _backends_registered_by_a_test_end_with_it():
    """A test registers its scripted backends with `register_backend`; they are unregistered when it ends."""
    before = set(registered_backends())
    yield
    for prefix in set(registered_backends()) - before:
        unregister_backend(prefix)


REAL_MODEL_MARKERS = ("embedded", "server")


@pytest.fixture(autouse=True)
def _no_real_model_unless_marked(request, monkeypatch):
    """Fail a test that loads the real llama.cpp model without saying so (pydantic-ai's ALLOW_MODEL_REQUESTS).

    Unit tests must stay fast and deterministic on scripted backends; a test that needs the real model is
    marked ``embedded`` or ``server``, so the tiers in docs/testing.md stay honest. Every in-process model
    starts an ``xllamacpp.Server`` (roleplay.backends.llama_server) and sends it requests: both are refused here.
    """
    if any(request.node.get_closest_marker(m) for m in REAL_MODEL_MARKERS):
        return
    try:
        import xllamacpp
    except ImportError:  # the core install has no llama.cpp: nothing to guard
        return

    def refuse(*args, **kwargs):
        raise AssertionError("This test would load or run the real llama.cpp model: use a scripted backend, "
                             "or mark it @pytest.mark.embedded (or server).")
    from roleplay.backends.llama_server import LlamaServer

    monkeypatch.setattr(xllamacpp, "Server", refuse)
    monkeypatch.setattr(LlamaServer, "chat", refuse)  # a server an earlier, marked test started


@pytest.fixture
def echo_fn():
    """A persona-aware script: '<own name> says turn <n>' where n counts the user messages it heard."""
    def script(request: ScriptedRequest) -> str:
        name = request.system.split(".")[0].removeprefix("You are ").strip()
        heard = sum(1 for role, _, _ in request.messages if role == "user")
        return f"{name} says turn {heard}."
    return script


@pytest.fixture
def doctor() -> Persona:
    return Persona(name="Doctor", role="family doctor", personality="calm")


@pytest.fixture
def patient() -> Persona:
    return Persona(name="Patient", role="patient", circumstances="a headache for three days")


@pytest.fixture
def scripted():
    """Factory: scripted(fn=...) or scripted(replies=[...]) -> Model."""
    return scripted_model
