"""Each backend's options, strict (a misspelt option is rejected at once), as llm gives each model its own.

`BackendOptions` holds what every backend understands: sampling, the per-request time limit. Backends
add their own fields in a subclass: a server's URL, key and retries (`ServerOptions`), the scripted
backend's canned replies (`ScriptedOptions`). The registry validates the options of a model string
against its backend's class, so ``replies=`` on an Ollama model is an error, not silently ignored.
"""

from __future__ import annotations

from typing import Any, overload
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from roleplay.errors import ConfigError

SEED_LIMIT = 2**32
DEFAULT_REQUEST_TIMEOUT = 120.0
DEFAULT_IN_PROCESS_TIMEOUT = 600.0
RETRY_WAIT_CAP = 10.0  # most seconds between two attempts of one request (a longer Retry-After is cut to it)
CHARS_PER_TOKEN = 32
"""The most characters one token is taken to hold: a reply longer than ``max_tokens`` times this is cut
(`reply_limit`). Real tokens hold 1-16 characters; a server that sends megabytes to a 48-token request is
broken, and the guards would spend minutes comparing such a text."""


def reply_limit(max_tokens: int | None) -> int | None:
    """The most characters a reply of ``max_tokens`` tokens can hold (None: no token limit, no bound)."""
    return None if max_tokens is None else max_tokens * CHARS_PER_TOKEN


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds: None unless a finite number >= 0 (``nan`` would sleep for ever)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


@overload
def check_seed(seed: int) -> int: ...
@overload
def check_seed(seed: None) -> None: ...
def check_seed(seed: int | None) -> int | None:
    """Reject a seed outside ``0 <= seed < 2**32``: backends keep 32 bits, so 2**32 + 7 would silently be 7."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"Seed {seed!r} is not an int; use a whole number 0 <= seed < {SEED_LIMIT} (2**32).")
    if seed is not None and not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"Seed {seed} is out of range: use 0 <= seed < {SEED_LIMIT} (2**32). llama.cpp and "
                          "most servers keep only 32 bits (a larger seed would repeat a smaller one) and treat -1 "
                          "as 'random', which would make a run impossible to repeat.")
    return seed


class BackendOptions(BaseModel):
    """Options every backend understands; a misspelt one is rejected at once."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # inf would be sent as non-JSON 'Infinity'

    temperature: float | None = Field(default=None, ge=0, description="Sampling temperature; None = backend default.")
    seed: int | None = Field(default=None, description="Sampling seed (0 <= seed < 2**32), so a rerun repeats "
                             "the dialogue.")
    max_tokens: int | None = Field(default=256, gt=0, description="Most tokens one reply may have.")
    repeat_penalty: float | None = Field(default=None, gt=0, description="Penalty on repeated tokens "
                                         "(llama.cpp, Ollama; OpenAI servers have no such option and ignore it).")
    num_ctx: int | None = Field(default=None, gt=0, description="Context window in tokens (llama.cpp, Ollama; "
                                "an OpenAI server sets its own).")
    request_timeout: float = Field(default=DEFAULT_REQUEST_TIMEOUT, gt=0,
                                   description="Seconds one model call (one attempt) may take before it fails.")

    @field_validator("seed", mode="before")  # before: pydantic would take True as 1 and "7" as 7
    @classmethod
    def _seed_in_range(cls, seed: Any) -> int | None:
        try:
            return check_seed(seed)
        except ConfigError as err:
            raise ValueError(str(err)) from err

    @property
    def attempts(self) -> int:
        """How many times one call is tried (in-process backends: once; a timed-out generation is not redone)."""
        return 1

    def time_bound(self) -> float:
        """The most seconds one call can take in all: every attempt at its limit plus the waits between them."""
        return self.attempts * self.request_timeout + (self.attempts - 1) * RETRY_WAIT_CAP


class ServerOptions(BackendOptions):
    """Options of a backend that reaches a model server over HTTP."""

    base_url: str | None = Field(default=None, description="Server URL.")
    max_retries: int = Field(default=2, ge=0, description="Retries of one request after a timeout, a dropped "
                             "connection, HTTP 429 or 5xx (waiting as Retry-After asks, at most "
                             f"{RETRY_WAIT_CAP:.0f} s).")
    model_info: dict[str, Any] | None = Field(default=None, description="AutoGen ModelInfo for unknown models.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        """A server URL that can be reached at all: http(s), a host, a port that is a number.

        Checked now, once, rather than failing every request of a batch. A URL without a scheme
        (``localhost:11434``, as Ollama's host is often written) gets ``http://``, so every client takes it.
        """
        if url is None:
            return None
        url = url if "://" in url else f"http://{url}"
        split = urlsplit(url)
        try:
            split.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError as err:
            raise ValueError(f"base_url {url!r} has a bad port ({err}); write e.g. http://127.0.0.1:8080/v1") from err
        if split.scheme not in ("http", "https") or not split.hostname or any(c.isspace() for c in url):
            raise ValueError(f"base_url {url!r} is not an http(s) URL with a host; write e.g. "
                             "http://127.0.0.1:8080/v1")
        return url

    @property
    def attempts(self) -> int:
        return 1 + self.max_retries


class OpenAIOptions(ServerOptions):
    """Options of an OpenAI-compatible server."""

    api_key: str | None = Field(default=None, description="API key (default $OPENAI_API_KEY; local servers "
                                "need none).")


class InProcessOptions(BackendOptions):
    """Options of a model that runs in this process (llama.cpp).

    No server can be stuck, so the time limit only guards against a runaway generation, and is long enough
    for a small model on a busy machine.
    """

    request_timeout: float = Field(default=DEFAULT_IN_PROCESS_TIMEOUT, gt=0,
                                   description="Seconds one model call may take before it is stopped.")
    threads: int | None = Field(default=None, gt=0, description="CPU threads llama.cpp computes with; None = "
                                "every CPU this process may use (fewer leaves cores to other work).")
    slots: int | None = Field(default=None, gt=0, description="Sequences the process's llama.cpp server decodes "
                              "at once, each with num_ctx tokens of context. None = 1: more decode faster but make "
                              "a dialogue depend on the others decoded with it (docs/models.md).")
    replicas: int | None = Field(default=None, gt=0, description="Copies of the llama.cpp server, sharing the "
                                 "model's memory and splitting `threads` among them; each request is decoded by one "
                                 "copy, so copies decode in parallel. None = 1: with fewer threads per copy a "
                                 "dialogue's text can differ from a run on one server (docs/models.md).")


class ScriptedOptions(BackendOptions):
    """Options of the scripted backend."""

    replies: list[str] | None = Field(default=None, description="The replies, in order.")


__all__ = ["BackendOptions", "CHARS_PER_TOKEN", "DEFAULT_IN_PROCESS_TIMEOUT", "DEFAULT_REQUEST_TIMEOUT",
           "InProcessOptions", "OpenAIOptions", "RETRY_WAIT_CAP", "SEED_LIMIT", "ScriptedOptions", "ServerOptions",
           "check_seed", "reply_limit", "retry_after_seconds"]
