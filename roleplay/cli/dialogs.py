"""`roleplay run` and `roleplay show`: one dialogue."""

from __future__ import annotations

from pathlib import Path

import click

from roleplay.cli.base import cli, friendly
from roleplay.dialog import Dialog, Turn


@cli.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("-m", "--model", envvar="ROLEPLAY_MODEL", default=None,
              help="Model for every agent, e.g. embedded, ollama:qwen2.5:14b, openai:gpt-4o-mini, llamacpp:/x.gguf. "
                   "Default: the scenario's.")
@click.option("--seed", type=int, default=None, help="Sampling seed (random if not given; saved in the dialogue).")
@click.option("--max-turns", type=click.IntRange(min=1), default=None, help="Override the scenario's turn cap.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Folder for the JSON and TXT files.")
@click.option("-q", "--quiet", is_flag=True, help="Do not print turns as they are spoken.")
@friendly
def run(scenario_file: Path, model: str | None, seed: int | None, max_turns: int | None, out: Path,
        quiet: bool) -> None:
    """Role-play SCENARIO_FILE (e.g. scenarios/doctor_patient.yaml), print it turn by turn and save it."""
    from roleplay.generators import new_seed
    from roleplay.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    generator = scenario.generator(model=model, max_turns=max_turns)
    seed = new_seed() if seed is None else seed
    label = generator.model_label()
    click.echo(f"Scenario: {scenario.name} | model: {label} | seed: {seed}")

    def show(turn: Turn) -> None:
        if not quiet:
            click.echo(f"[{turn.speaker}] {turn.text}")

    dialog = generator.generate(seed=seed, on_turn=show)
    stem = out / f"{scenario.name}_{seed}"
    json_path = dialog.to_file(stem.with_suffix(".json"))
    txt_path = dialog.to_file(stem.with_suffix(".txt"))
    facts = dialog.metadata
    click.echo(
        f"Stopped: {dialog.stop_reason.value if dialog.stop_reason else '?'} after {len(dialog)} turns, "
        f"{facts.get('seconds')} s, {facts.get('completion_tokens')} tokens generated "
        f"({facts.get('tokens_per_second')} tokens/s)."
    )
    if "error" in facts:
        click.echo(f"Error: {facts['error']}", err=True)
    click.echo(f"Saved {json_path} and {txt_path}")


@cli.command()
@click.argument("dialog_file", type=click.Path(path_type=Path))
@click.option("--scenario", "with_scenario", is_flag=True, help="Show the scenario too.")
@friendly
def show(dialog_file: Path, with_scenario: bool) -> None:
    """Pretty-print a saved dialogue (.json or .txt): coloured speakers, actions and legality, events, stop reason."""
    from rich.console import Console

    from roleplay.viz.transcript import dialog_terminal

    Console(highlight=False).print(dialog_terminal(Dialog.from_file(dialog_file), scenario=with_scenario))
