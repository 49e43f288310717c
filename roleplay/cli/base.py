"""The ``roleplay`` command group and the error handling every command shares.

The only module that prints, and the only one that turns roleplay errors into click errors, so users
see the problem and the fix, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from roleplay.backends import known_backends
from roleplay.errors import RoleplayError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Show a `RoleplayError` as 'Error: <problem and fix>' with exit code 1, and Ctrl-C as a short note."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RoleplayError as err:
            raise click.ClickException(str(err)) from err
        except KeyboardInterrupt:
            raise click.ClickException("Interrupted; nothing half-written was left behind.") from None
    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="roleplay")
def cli() -> None:
    """Simulate conversations between LLM agents that role-play personas."""


@cli.command()
def backends() -> None:
    """List the model backends (the prefix before ':' in a model string)."""
    for prefix, help_text in known_backends().items():
        click.echo(f"{prefix:10} {help_text}")
