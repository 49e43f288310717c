"""`roleplay personas sample`: look at a cast before generating a dataset with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from roleplay.cli._base import cli, friendly, model_option
from roleplay.sentences import terminal_safe

TABLE_ROWS = 10_000
"""The most personas shown as a table (it needs every row before the first line); --jsonl streams any number."""


@cli.group()
def personas() -> None:
    """Personas sampled from rules (a rules file, or a scenario's sample: agents)."""


@personas.command("sample")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="How many personas.")
@click.option("--seed", type=int, default=0, show_default=True, help="Persona i uses seed + i (as dialogue i does).")
@click.option("--agent", default=None, help="Only this agent of a scenario (default: every agent with sample:).")
@model_option("Model for LLM-filled fields. Default: the scenario's or agent's, or embedded for a rules file.")
@click.option("--width", type=click.IntRange(min=8), default=40, show_default=True, help="Cut cells to this width.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON object per persona instead of a table.")
@friendly
def sample(source: Path, n: int, seed: int, agent: str | None, model: str | None, width: int,
           as_jsonl: bool) -> None:
    """Sample N personas from SOURCE (a rules file or a scenario) and print them as a table."""
    from roleplay._yaml import read_yaml
    from roleplay.backends import DEFAULT_MODEL
    from roleplay.personas import PersonaGenerator
    from roleplay.scenario import load_scenario

    bundled = not source.exists() and source.suffix == "" and len(source.parts) == 1  # e.g. doctor_patient
    data = {"agents": []} if bundled else read_yaml(source, "rules or scenario", "Give a rules file or a scenario "
                                                    "file (or the name of a bundled scenario).")
    if isinstance(data, dict) and "agents" in data:
        generators = load_scenario(source).samplers(model)
        if agent is not None:
            if agent not in generators:
                raise click.ClickException(f"{source} has no agent '{agent}' with sample:; it samples: "
                                           f"{', '.join(generators) or 'none'}.")
            generators = {agent: generators[agent]}
        if not generators:
            raise click.ClickException(f"{source} has no agent with sample: (its personas are fixed, so there is "
                                       "nothing to sample); add sample: rules to an agent, or pick a scenario that "
                                       "has them, e.g. clinic_diverse.")
    else:
        generators = {source.stem: PersonaGenerator.from_yaml(source, model=model or DEFAULT_MODEL)}
    if not as_jsonl and n > TABLE_ROWS:
        raise click.ClickException(f"-n {n} is too many personas for a table (at most {TABLE_ROWS}); pass --jsonl to "
                                   "print them one per line as they are drawn.")
    for name, generator in generators.items():
        # A model fills fields: seconds per persona, so a bar on stderr (--jsonl shows each persona as it comes).
        shown = bool(generator.llm_fields) and n > 1 and not as_jsonl
        personas = (persona.model_dump() for persona in generator.isample(n, seed, progress=shown))
        if as_jsonl:
            for row in personas:
                click.echo(json.dumps({"agent": name, **row}, ensure_ascii=False))
            continue
        rows = list(personas)
        click.echo(f"{name} ({generator.target.__name__}), seeds {seed}..{seed + n - 1}:")
        click.echo(render_table(rows, width))


def render_table(rows: list[dict[str, Any]], width: int) -> str:
    """The fields that vary as a table; the ones every persona shares on one line; the distinct count."""
    from roleplay.cli._tables import terminal_width
    from roleplay.viz._tables import render_table as rich_table

    varying = [k for k in rows[0] if any(row[k] != rows[0][k] for row in rows)]
    shared = [f"{k}={_cut(rows[0][k], width)}" for k in rows[0] if k not in varying and rows[0][k] not in ("", None)]
    shown = [{k: _cut(row[k], width) for k in varying} for row in rows]
    lines = [rich_table(shown, terminal_width(), turn=False).rstrip("\n") if varying
             else "(all the same)"]
    if shared:
        lines.append(f"same for all: {', '.join(shared)}")
    distinct = len({json.dumps(row, sort_keys=True, default=str) for row in rows})
    lines.append(f"{distinct} distinct of {len(rows)} ({distinct / len(rows):.0%})\n")
    return "\n".join(lines)


def _cut(value: Any, width: int) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = terminal_safe(text)  # an LLM-filled field may hold an escape sequence
    return text if len(text) <= width else text[: width - 1] + "…"
