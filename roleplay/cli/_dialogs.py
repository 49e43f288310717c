"""`roleplay run` and `roleplay show`: one dialogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roleplay.cli._arms import prompt_only as as_prompt_only
from roleplay.cli._arms import prompt_only_option
from roleplay.cli._base import OutputPath, cli, friendly, model_option, request_timeout_option, writable_folder
from roleplay.dialog import Dialog, Turn, dialog_failure


@cli.command()
@click.argument("scenario")
@model_option("Model for every agent, e.g. embedded, ollama:qwen2.5:14b, openai:gpt-4o-mini, llamacpp:/x.gguf. "
              "Default: the scenario's.")
@click.option("--seed", type=int, default=None, help="Sampling seed (random if not given; saved in the dialogue).")
@click.option("--max-turns", type=click.IntRange(min=1), default=None, help="Override the scenario's turn cap.")
@click.option("--out", type=OutputPath(), default=Path("runs"), show_default=True,
              help="Folder for the JSON and TXT files.")
@click.option("-q", "--quiet", is_flag=True, help="Do not print turns as they are spoken.")
@click.option("--human", metavar="NAME", default=None, help="Play agent NAME yourself: type its turns (/end ends).")
@click.option("--base-url", metavar="URL", default=None,
              help="Server of an ollama: or openai: model (default: $OLLAMA_HOST or $OPENAI_BASE_URL).")
@prompt_only_option
@request_timeout_option
@friendly
def run(scenario: str, model: str | None, seed: int | None, max_turns: int | None, out: Path, quiet: bool,
        human: str | None, base_url: str | None, prompt_only: bool, request_timeout: float | None) -> None:
    """Role-play SCENARIO, print it turn by turn and save it.

    SCENARIO is a bundled name (`roleplay scenarios` lists them, e.g. doctor_patient) or a YAML file.
    Exits 1 if the dialogue ended on a model error or has no turns (it is still saved).
    """
    from roleplay._human_play import human_generator
    from roleplay.backends.options import check_seed
    from roleplay.generators import new_seed
    from roleplay.runs.folder import safe_filename
    from roleplay.runs.jobs import batch_job
    from roleplay.scenario import load_scenario
    from roleplay.sentences import terminal_safe

    if human is not None and base_url is not None:
        raise click.UsageError("--base-url serves the models; with --human run the other agent on its default "
                               "server ($OLLAMA_HOST or $OPENAI_BASE_URL), or drop --human.")
    loaded = load_scenario(scenario)
    if prompt_only:
        loaded = as_prompt_only(loaded)
    writable_folder(out)
    seed = new_seed() if seed is None else check_seed(seed)
    options: dict[str, Any] = {"request_timeout": request_timeout} if request_timeout else {}
    if base_url is not None:
        batch_job(loaded, model=model, servers=[base_url])  # the same check as batch: every model takes a server
        options["base_url"] = base_url
    generator = loaded.generator(model=model, max_turns=max_turns, seed=seed, **options) if human is None else \
        human_generator(loaded, human, model, max_turns)  # the person sees the turns in their prompts
    quiet = quiet or human is not None
    click.echo(f"Scenario: {loaded.name} | model: {generator.model_label()} | seed: {seed}")

    def show(turn: Turn) -> None:
        if not quiet:
            click.echo(terminal_safe(f"[{turn.speaker}] {turn.text}"))

    dialog = generator.generate(seed=seed, on_turn=show)
    stem = out / f"{safe_filename(loaded.name)}_{seed}"  # a name like ../x never leaves --out
    _save_and_report(dialog, stem)


def _save_and_report(dialog: Dialog, stem: Path) -> None:
    """Save ``dialog`` as ``stem``.json and .txt, say how it ended; exit 1 (after saving) if it failed."""
    json_path = dialog.to_file(stem.with_suffix(".json"))
    txt_path = dialog.to_file(stem.with_suffix(".txt"))
    facts = dialog.metadata
    click.echo(
        f"Stopped: {dialog.stop_reason.value if dialog.stop_reason else '?'} after {len(dialog)} turns, "
        f"{facts.get('seconds')} s, {facts.get('completion_tokens')} tokens generated "
        f"({facts.get('tokens_per_second')} tokens/s)."
    )
    click.echo(f"Saved {json_path} and {txt_path}")
    failure = _failure(dialog)
    if failure:
        click.echo(f"Error: {failure}", err=True)
        raise click.exceptions.Exit(1)


def _failure(dialog: Dialog) -> str | None:
    """Why a finished dialogue is not a success a script should build on (`dialog_failure`), with what to do."""
    failure = dialog_failure(dialog)
    if failure is None:
        return None
    if dialog.turns:
        return f"{failure} (rerun with -v for the details)"
    return f"{failure}; check the model and the scenario's stop conditions (rerun with -v)."


@cli.command()
@click.argument("dialog_file", type=click.Path(path_type=Path))
@click.option("--scenario", "with_scenario", is_flag=True, help="Show the scenario too.")
@friendly
def show(dialog_file: Path, with_scenario: bool) -> None:
    """Pretty-print a saved dialogue (.json or .txt): coloured speakers, actions and legality, events, stop reason."""
    from rich.console import Console

    from roleplay.viz.transcript import dialog_terminal

    Console(highlight=False).print(dialog_terminal(Dialog.from_file(dialog_file), scenario=with_scenario))
