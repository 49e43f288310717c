"""The ``roleplay`` command: one module per group of commands, all registered on `cli`.

The only package that prints, and the only one that turns roleplay errors into click errors, so users
see the problem and the fix, never a traceback.
"""

from roleplay.cli import (  # noqa: F401  (each registers its commands)
    branch,
    compare,
    coverage,
    dialogs,
    export,
    intents,
    judge,
    new,
    personas,
    policy,
    report,
    runs,
    scenarios,
    schema,
    star,
)
from roleplay.cli.base import cli, friendly


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "friendly", "main"]
