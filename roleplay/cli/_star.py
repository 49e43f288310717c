"""`roleplay star ...`: the STAR dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click

from roleplay import defaults
from roleplay.cli._base import OutputPath, cli, friendly, model_option
from roleplay.cli._coverage import cover_options
from roleplay.cli._runs import batch_arguments, report_batch, run_options, run_or_resume

PRIOR_CHOICES = ("none", "rank", "nucleus", "sample", "argmax")
"""`roleplay.policy.prior.PRIOR_MODES`, spelled out so the CLI starts without importing the policy engine."""


@cli.group()
def star() -> None:
    """Work with a local copy of the STAR dataset (synthetic dialogues for its scenarios)."""


@star.command("generate")
@click.option("--star-path", type=click.Path(path_type=Path), required=True, help="Folder with tasks/, dialogues/.")
@click.option("--task", default=None, help="Only scenarios of this task, e.g. doctor_followup.")
@click.option("--happy/--unhappy", default=None, help="Only happy (or only unhappy) scenarios.")
@click.option("--multitask/--single-task", default=False, show_default=True, help="Multi-task or single-task ones.")
@click.option("--id", "ids", type=click.IntRange(min=0), multiple=True, help="Only these dialogue ids (repeatable).")
@click.option("--out", type=OutputPath(), required=True,
              help="Run folder (resumable): dialogs/<id>.json, index.jsonl, failures.jsonl, as for `batch`.")
@click.option("--mode", type=click.Choice(["roleplay", "description"]), default="roleplay", show_default=True)
@click.option("--prompt-only", is_flag=True, help="Role-play without enforcing the graph (the flowchart is only "
                                                   "pasted into the prompt), to compare with enforcement.")
@click.option("--prior", type=click.Choice(PRIOR_CHOICES), default="sample", show_default=True,
              help="Steer the System by how often human wizards took each transition: sample (the prior draws "
                   "the action, so paths vary as the humans' do: a corpus), argmax (the most typical path), rank "
                   "(order the options), nucleus (offer the likeliest), none (the model chooses freely).")
@click.option("--goal-user/--plain-user", default=True, show_default=True,
              help="A goal-aware User: answers from its task's facts, closes once served; the System's goodbye "
                   "follows its closing turn.")
@click.option("--behaviours/--no-behaviours", default=True, show_default=True,
              help="Goal-aware User: draw its behaviours (a correction, an out-of-scope question...) with the "
                   "rates of STAR's real users, seeded; recorded in the dialogue's metadata['user'].")
@click.option("--held-out", is_flag=True, help="Run each scenario on graphs mined without its fold (2-fold by id).")
@model_option("Model, e.g. embedded, ollama:qwen2.5:14b, openai:gpt-4o-mini, llamacpp:/x.gguf.", default="embedded")
@click.option("--max-turns", type=click.IntRange(min=2), default=defaults.STAR_MAX_TURNS, show_default=True)
@run_options
@cover_options
@friendly
def star_generate(star_path: Path, task: str | None, happy: bool | None, multitask: bool, ids: tuple[int, ...],
                  out: Path, mode: Literal["roleplay", "description"], prompt_only: bool, prior: str, goal_user: bool,
                  behaviours: bool, held_out: bool, model: str, max_turns: int, cover: str | None, cover_wave: int,
                  **run: Any) -> None:
    """One synthetic dialogue per matching STAR dialogue (id and seed: the real dialogue's id); resumable."""
    from roleplay.datasets.star._loader import StarDataset
    from roleplay.datasets.star.generate import agenerate_star_batch

    filters = [name for name, given in (("--task", task is not None), ("--happy/--unhappy", happy is not None),
                                         ("--multitask/--single-task", _given("multitask"))) if given]
    if ids and filters:
        raise click.UsageError(f"--id picks dialogues by id, and {', '.join(filters)} would be ignored: give --id, "
                               "or the filters, not both.")
    dataset = StarDataset(star_path)
    chosen = list(dict.fromkeys(ids)) or dataset.find_ids(task, happy, multitask)
    if not chosen:
        raise click.ClickException("No STAR dialogue matches these filters; loosen --task/--happy/--multitask.")
    click.echo(f"{len(chosen)} scenarios; model {model}, mode {mode}{' (prompt-only)' if prompt_only else ''}, "
               f"concurrency {run['concurrency']} -> {out}")
    options: dict[str, Any] = {"max_turns": max_turns, "prior": prior, "goal_user": goal_user, "behaviours": behaviours,
               "held_out": held_out} if mode == "roleplay" else {}
    result = run_or_resume(out, agenerate_star_batch(
        chosen, out, mode, model, enforce=not prompt_only, star=dataset, cover=cover, cover_wave=cover_wave,
        **batch_arguments(run), **options))
    report_batch(result, out, run["max_failures"])


@star.command("export-graphs")
@click.option("--star-path", type=click.Path(path_type=Path), required=True, help="Folder with tasks/, dialogues/.")
@click.option("--out", type=OutputPath(), required=True,
              help="Folder for the DOT files (the repository's own copy: scenarios/star).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Keep a mined transition seen at least this many times.")
@friendly
def star_export_graphs(star_path: Path, out: Path, min_count: int) -> None:
    """Write every task's reconstructed policy graph as OUT/<task>.dot (read back with `roleplay graph`)."""
    from roleplay.datasets.star._loader import StarDataset
    from roleplay.policy.graph import mean_out_degree, write_dot

    dataset = StarDataset(star_path)
    for task in dataset.tasks():
        graph = dataset.get_task_graph(task, min_count=min_count)
        path = write_dot(graph, out / f"{task}.dot")
        click.echo(f"{path}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, "
                   f"mean legal next actions {mean_out_degree(graph):.2f}")


def _given(name: str) -> bool:
    """Whether option ``name`` was given on the command line (or by the environment), not left at its default."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT)
