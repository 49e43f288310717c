"""`roleplay branch`: continue saved dialogues from turn N with other seeds, personas or settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roleplay.cli._base import cli, friendly, model_option


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--at", "at_turn", type=click.IntRange(min=0), required=True,
              help="Turns kept from the parent (the branch goes on from turn AT).")
@click.option("--variants", "variants", multiple=True, required=True, metavar="N|KEY=VALUE,...",
              help="A number of new seeds (3), or one variant's changes: seed=7, a scenario field "
                   "(temperature=0.9) or an agent's persona field (Patient.mood=angry). Repeatable.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run folder the branches go into.")
@click.option("--scenario", "scenario_file", type=click.Path(path_type=Path), default=None,
              help="Scenario the dialogues were made from (default: the one named in SOURCE's batch.json).")
@click.option("--id", "ids", multiple=True, help="Branch only these dialogues of a run folder (repeatable).")
@model_option("Override the scenario's model.")
@click.option("--max-turns", type=click.IntRange(min=1), default=None, help="Turn cap, the kept turns included.")
@click.option("--cache", "cache", type=click.Path(path_type=Path), default=None,
              help="Response cache folder for the new turns (the kept turns never call a model).")
@friendly
def branch(source: Path, at_turn: int, variants: tuple[str, ...], out: Path, scenario_file: Path | None,
           ids: tuple[str, ...], model: str | None, max_turns: int | None, cache: Path | None) -> None:
    """Branch the dialogue file or run folder SOURCE at turn AT, once per variant, into OUT."""
    from roleplay._aio import run_sync
    from roleplay.dialog import Dialog
    from roleplay.runs.branch import abranch, parse_variants, scenario_of_run
    from roleplay.runs.folder import RunFolder
    from roleplay.scenario import load_scenario

    if source.is_dir():
        parents = [(str(d.id), d) for d in RunFolder(source).iter_dialogs() if not ids or str(d.id) in ids]
        missing = sorted(set(ids) - {name for name, _ in parents})
        if missing:
            raise click.ClickException(f"{source} has no dialogue with id {', '.join(missing)}.")
    else:
        if ids:
            raise click.UsageError("--id picks dialogues of a run folder; SOURCE is one dialogue file.")
        parents = [(source.stem, Dialog.from_file(source))]
    scenario = load_scenario(scenario_file or scenario_of_run(source if source.is_dir() else source.parent))
    parse_variants(variants, None)  # a bad --variants fails here, before any model is loaded
    options: dict[str, Any] = {"cache_dir": str(cache)} if cache else {}
    made = run_sync(abranch(scenario, parents, at_turn, variants, out, model=model, max_turns=max_turns, **options))
    click.echo(f"Wrote {len(made)} branch(es) of {len(parents)} dialogue(s) at turn {at_turn} into {out}.")
