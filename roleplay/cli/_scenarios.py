"""`roleplay scenarios`: the scenarios shipped inside the package, by the names `roleplay run` takes."""

from __future__ import annotations

import click

from roleplay.cli._base import cli, friendly


@cli.command()
@click.option("--paths", is_flag=True, help="Show where each file lies (copy one to start your own).")
@friendly
def scenarios(paths: bool) -> None:
    """List the bundled scenarios: run one with `roleplay run NAME`."""
    from roleplay.resources import bundled_scenarios

    for scenario in bundled_scenarios():
        detail = str(scenario.path) if paths else scenario.description
        click.echo(f"{scenario.name:18} {detail}")
