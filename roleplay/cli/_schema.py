"""`roleplay schema NAME`: the JSON Schema of a scenario or persona file, for editors and for reading."""

from __future__ import annotations

import click

from roleplay.cli._base import cli, friendly


@cli.command()
@click.argument("name", type=click.Choice(["scenario", "persona"]))
@click.option("--path", "show_path", is_flag=True, help="Print where the package ships the file instead (for an "
                                                          "editor's yaml-language-server $schema line).")
@friendly
def schema(name: str, show_path: bool) -> None:
    """Print the JSON Schema of a NAME file: every field, its type, default and meaning."""
    from roleplay._schemas import schema_text, shipped_schema

    click.echo(str(shipped_schema(name)) if show_path else schema_text(name), nl=show_path)
