"""The ``roleplay`` command group and the error handling every command shares.

The only module that prints, and the only one that turns roleplay errors into click errors, so users
see the problem and the fix, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from roleplay import __version__
from roleplay.backends import known_backends
from roleplay.errors import ConfigError, RoleplayError
from roleplay.sentences import terminal_safe

F = TypeVar("F", bound=Callable[..., Any])


INTERRUPTED = 130  # the shell's code for a process ended by SIGINT (128 + 2), so scripts can tell Ctrl-C apart


@contextlib.contextmanager
def shown_warnings() -> Iterator[None]:
    """Show roleplay's own warnings (a policy graph's shape, a repaired run folder) as 'Warning: ...' on stderr.

    Every command, so ``run`` on a scenario says what ``graph`` says about its graph. Other warnings are
    shown as Python shows them.
    """
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if category.__module__.startswith("roleplay."):
                click.echo(terminal_safe(f"Warning: {message}"), err=True)
            else:
                shown(message, category, *args, **kwargs)
        warnings.showwarning = show
        warnings.filterwarnings("always", module=r"roleplay(\.|$)")  # ours, again in a second run in one process
        yield


def friendly(fn: F) -> F:
    """Show a `RoleplayError` as 'Error: <problem and fix>' with exit code 1, and Ctrl-C as a note with code 130."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with shown_warnings():
                return fn(*args, **kwargs)
        except RoleplayError as err:
            raise click.ClickException(terminal_safe(err)) from err  # errors may quote a model's reply
        except OSError as err:  # the disk filled up or went read-only where no check could see it coming
            where = f"{err.filename}: " if err.filename else ""
            raise click.ClickException(f"{where}{err.strerror or err}. Check that the disk has space and the "
                                       "paths are writable, then rerun (a batch resumes where it stopped).") from err
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was left behind.", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
    return wrapper  # type: ignore[return-value]


class OutputPath(click.Path):
    """An output path (``--out``, ``--svg``) checked at once by `roleplay.runs.folder.check_output`.

    So no command writes into a run folder's own files (``run/dialogs/``, ``run/batch.json``...).
    """

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from roleplay.runs.folder import check_output

        path = super().convert(value, param, ctx)
        assert isinstance(path, Path), "path_type=Path"
        try:
            check_output(path)
        except ConfigError as err:
            self.fail(str(err), param, ctx)
        return path


def model_string(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``-m/--model``: refuse an empty or blank string (it would quietly mean 'the scenario's model')."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty; name a model, e.g. embedded, ollama:qwen2.5:14b or openai:gpt-4o-mini "
                                 "(`roleplay backends` lists the backends), or leave -m out for the default.")
    return value


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
        click.echo(terminal_safe(self.format(record)), err=True)


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


_ENVIRONMENT = """\b
Environment:
  ROLEPLAY_MODEL   the model of every command that takes -m/--model, when -m is not given
  OLLAMA_HOST      server of ollama: models (default http://127.0.0.1:11434)
  OPENAI_BASE_URL  server of openai: models (default https://api.openai.com/v1)
  OPENAI_API_KEY   key for openai: models
  RAY_ADDRESS      Ray cluster of --executor ray
A --base-url option wins over OLLAMA_HOST and OPENAI_BASE_URL."""


@click.group(epilog=_ENVIRONMENT)
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


def model_option(help_text: str, default: str | None = None) -> Callable[[F], F]:
    """``-m/--model``, read from ``$ROLEPLAY_MODEL`` when not given (``--help`` says so), checked by `model_string`."""
    return click.option("-m", "--model", envvar="ROLEPLAY_MODEL", show_envvar=True, callback=model_string,
                        default=default, show_default=default is not None, help=help_text)


def request_timeout_option(command: F) -> F:
    """``--request-timeout SECONDS``: the most one model call may take, over the scenario's and the backend's."""
    return click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                        metavar="SECONDS", help="Seconds one model call may take before it fails (default: the "
                        "scenario's request_timeout, else 120 for servers, 600 in-process).")(command)

