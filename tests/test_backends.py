"""The backend registry, its errors, and the Ollama / OpenAI-compatible paths at the HTTP layer."""

import json
import time

import pytest

from roleplay.backends import get_backend, known_backends, register_backend
from roleplay.backends.base import Model
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
    assert model.name == "ollama:qwen2.5:14b" and model.client._create_args["model"] == "qwen2.5:14b"


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
    assert bodies[1]["messages"][-1] == {"role": "user", "content": "Good morning."}
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
                            json={"error": "model crashed"})
    dialog = PersonaDialogGenerator("ollama:m", doctor, patient, base_url="http://ollama.test:11434").generate(seed=1)
    assert dialog.stop_reason.value == "backend_error"
    assert "HTTP 500" in dialog.metadata["error"] and "model crashed" in dialog.metadata["error"]


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
    create_args = model.client._create_args
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
