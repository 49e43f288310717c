"""Every error roleplay raises, in two families.

RoleplayError
├── ConfigError                 you asked for something impossible: fix your input
│   ├── UnknownBackendError     .prefix, .known
│   ├── BackendUnavailableError a backend's library or model file is missing
│   ├── BackendUnreachableError .backend, .url: no server answers there
│   ├── PersonaError            .path: a persona file or object is wrong
│   ├── ScenarioError           .path: a scenario file is wrong
│   ├── DialogFileError         .path: a dialogue file cannot be read or written
│   ├── PolicyGraphError        .node, .path: a policy graph (DOT or STAR) is wrong
│   └── DatasetError            .path: a dataset path, id or task is wrong
└── RunError                    a simulation failed while running
    ├── BackendError            .backend, .status_code, .retry_after: the model call failed
    │   └── BackendTimeoutError .seconds, .attempts, .bound: no answer within the time limit
    └── StructuredOutputError   .raw: the model never produced valid structured output

Messages state the problem and then the fix. Only ``cli.py`` turns these into
click errors, so the library never prints and the CLI never shows a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class RoleplayError(Exception):
    """Root of every error raised on purpose by roleplay."""


class ConfigError(RoleplayError, ValueError):
    """The input (model string, persona, scenario, file) is wrong; the message says how to fix it."""


class RunError(RoleplayError, RuntimeError):
    """A simulation failed while running."""


class UnknownBackendError(ConfigError):
    """A model string names a backend prefix nobody registered."""

    def __init__(self, prefix: str, known: Iterable[str]):
        self.prefix = prefix
        self.known = sorted(known)
        close = difflib.get_close_matches(prefix, self.known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(
            f"Unknown backend '{prefix}'.{hint} Known: {', '.join(self.known)}. "
            "Write the model as '<backend>:<model>', e.g. 'ollama:qwen2.5:14b', or just 'embedded'."
        )


class BackendUnavailableError(ConfigError):
    """A backend cannot start here: its library or its model file is missing."""


class BackendUnreachableError(ConfigError):
    """No server answered at the backend's URL."""

    def __init__(self, backend: str, url: str, detail: str = ""):
        self.backend = backend
        self.url = url
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"Cannot reach the {backend} server at {url}{extra}. Start the server, or point roleplay at it "
            f"(base_url option / environment variable), or use the in-process model with --model embedded."
        )


class PersonaError(ConfigError):
    """A persona file or persona data is invalid."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ScenarioError(ConfigError):
    """A scenario file is invalid."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class DialogFileError(ConfigError):
    """A dialogue file cannot be read or written."""

    def __init__(self, message: str, path: str | Path):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class PolicyGraphError(ConfigError):
    """A policy graph is malformed, or names a node it does not have."""

    def __init__(self, message: str, node: str | None = None, path: str | Path | None = None):
        self.node = node
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class DatasetError(ConfigError):
    """A dataset cannot be read: missing path, unknown dialogue id or task."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        super().__init__(message)


class BackendError(RunError):
    """A model call failed (HTTP error, bad response); the dialogue records it as its stop reason."""

    def __init__(self, backend: str, message: str, status_code: int | None = None, retry_after: float | None = None):
        self.backend = backend
        self.status_code = status_code
        self.retry_after = retry_after
        code = f" (HTTP {status_code})" if status_code else ""
        super().__init__(f"{backend} backend failed{code}: {message}")


class BackendTimeoutError(BackendError):
    """A model call got no answer within ``request_timeout``; the message states the bound of the whole call."""

    def __init__(self, backend: str, url: str | None, seconds: float, attempts: int, bound: float):
        self.seconds = seconds
        self.attempts = attempts
        self.bound = bound
        where = f" at {url}" if url else ""
        tries = f"{attempts} attempts of at most {seconds:g} s each, {bound:g} s in all with the waits between" \
            if attempts > 1 else f"1 attempt, {bound:g} s in all"
        super().__init__(backend, f"no answer{where} within the request timeout ({tries}). Check that the server "
                         "is not overloaded or stuck, or raise the time limit (--request-timeout, or request_timeout: "
                         "in the scenario).")


class StructuredOutputError(RunError):
    """The model did not produce output matching the requested schema, even after retries."""

    def __init__(self, message: str, raw: str = ""):
        self.raw = raw
        shown = raw if len(raw) <= 300 else raw[:300] + "…"
        super().__init__(
            f"{message} Last output: {shown!r}. Try a larger model, a simpler output format, "
            "or a larger max_tokens so the JSON is not cut off."
        )


__all__ = ["BackendError", "BackendTimeoutError", "BackendUnavailableError", "BackendUnreachableError", "ConfigError",
           "DatasetError", "DialogFileError", "PersonaError", "PolicyGraphError", "RoleplayError", "RunError",
           "ScenarioError", "StructuredOutputError", "UnknownBackendError"]
