"""The ``roleplay`` command group and the error handling every command shares.

The only module that prints, and the only one that turns roleplay errors into click errors, so users
see the problem and the fix, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from roleplay import __version__
from roleplay.backends import known_backends
from roleplay.errors import ConfigError, RoleplayError

F = TypeVar("F", bound=Callable[..., Any])


INTERRUPTED = 130  # the shell's code for a process ended by SIGINT (128 + 2), so scripts can tell Ctrl-C apart


def friendly(fn: F) -> F:
    """Show a `RoleplayError` as 'Error: <problem and fix>' with exit code 1, and Ctrl-C as a note with code 130."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RoleplayError as err:
            raise click.ClickException(str(err)) from err
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was left behind.", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
    return wrapper  # type: ignore[return-value]


def writable_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any model time is spent."""
    blocking = next((path for path in (folder, *folder.parents) if path.exists() and not path.is_dir()), None)
    if blocking is not None:  # named as such, not as mkdir's 'File exists' or 'Not a directory'
        raise ConfigError(f"Cannot write to the output folder {folder}: {blocking} is a file, not a folder; pass "
                          "a writable folder with --out.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ConfigError(f"Cannot write to the output folder {folder} ({err.strerror or err}); "
                          "pass a writable folder with --out.") from err
    return folder


class _EchoHandler(logging.Handler):
    """Log records to the current stderr through click (which tests capture), one line each."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def show_logs(verbosity: int) -> Callable[[], None]:
    """Show the ``roleplay`` logger on stderr at info (-v) or debug (-vv) level; returns the undo.

    Without -v nothing changes: Python's default shows warnings and errors.
    """
    if not verbosity:
        return lambda: None
    logger = logging.getLogger("roleplay")
    level = logging.INFO if verbosity == 1 else logging.DEBUG
    handler, previous = _EchoHandler(), logger.level
    handler.setLevel(level)
    logger.addHandler(handler)
    logger.setLevel(level)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return undo


@click.group()
@click.version_option(__version__, "-V", "--version", prog_name="roleplay")
@click.option("-v", "--verbose", count=True, help="Show what happens: -v retries, fallbacks, resamples and cache "
                                                     "hits; -vv everything.")
def cli(verbose: int) -> None:
    """Simulate conversations between LLM agents that role-play personas."""
    click.get_current_context().call_on_close(show_logs(verbose))


@cli.command()
def backends() -> None:
    """List the model backends (the prefix before ':' in a model string)."""
    for prefix, help_text in known_backends().items():
        click.echo(f"{prefix:10} {help_text}")


def request_timeout_option(command: F) -> F:
    """``--request-timeout SECONDS``: the most one model call may take, over the scenario's and the backend's."""
    return click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                        metavar="SECONDS", help="Seconds one model call may take before it fails (default: the "
                        "scenario's request_timeout, else 120 for servers, 600 in-process).")(command)

