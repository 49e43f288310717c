"""The ``roleplay`` command: one module per group of commands, all registered on `cli`.

The only package that prints, and the only one that turns roleplay errors into click errors, so users
see the problem and the fix, never a traceback.
"""

from roleplay.cli import (  # noqa: F401  (each registers its commands)
    _branch,
    _compare,
    _coverage,
    _dialogs,
    _export,
    _intents,
    _judge,
    _new,
    _personas,
    _policy,
    _report,
    _runs,
    _scenarios,
    _schema,
    _star,
)
from roleplay.cli._base import cli, friendly


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "friendly", "main"]
