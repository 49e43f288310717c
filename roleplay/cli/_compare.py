"""`roleplay compare RUN REFERENCE`: distances of a run's dialogues to a reference corpus, beside its own spread."""

from __future__ import annotations

from pathlib import Path

import click

from roleplay.cli._base import cli, friendly
from roleplay.dialog import Dialog


def reference_dialogs(reference: Path, run: list[Dialog], tasks: tuple[str, ...]) -> tuple[list[Dialog], str]:
    """The reference corpus and a label.

    A STAR folder gives its dialogues of ``tasks`` (default: the run's tasks); anything else is read as a
    run folder or a folder of Dialog JSON.
    """
    from roleplay.runs.folder import RunFolder

    if not all((reference / sub).is_dir() for sub in ("tasks", "dialogues", "apis")):
        if tasks:
            raise click.UsageError("--task filters a STAR reference; REFERENCE is not a STAR folder.")
        return RunFolder(reference).load_dialogs(), str(reference)
    from roleplay.datasets.star._format import scenario_tasks
    from roleplay.datasets.star._loader import StarDataset

    wanted = set(tasks) or {task for dialog in run for task in scenario_tasks(dialog.scenario)}
    if not wanted:
        raise click.UsageError("The run's dialogues name no STAR task; pass --task NAME (repeatable).")
    dataset = StarDataset(reference)
    chosen = [i for i in dataset.readable_ids() if set(scenario_tasks(dataset.get_dialog_scenario(i))) <= wanted]
    return [dataset.get_dialog(i) for i in chosen], f"STAR {reference} (tasks: {', '.join(sorted(wanted))})"


@cli.command("compare")
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--task", "tasks", multiple=True, help="With a STAR REFERENCE: its dialogues of these tasks "
                                                     "(default: the tasks of RUN's dialogues). Repeatable.")
@click.option("--embed-model", default="embedded", show_default=True,
              help="Model for the turn embeddings of the Fréchet distance (embedded is a weak encoder; prefer e.g. "
                   "ollama:nomic-embed-text); 'none' skips it.")
@click.option("--base-url", default=None, metavar="URL", help="Server of an ollama: or openai: embedding model.")
@click.option("--embed-limit", type=click.IntRange(min=2), default=3000, show_default=True,
              help="Most turns embedded per side (whole dialogues, drawn at random; said in the notes).")
@click.option("--repeats", type=click.IntRange(min=1), default=10, show_default=True,
              help="Random halvings of REFERENCE averaged per metric.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report path without extension (default: RUN/comparison) -> .csv and .json.")
@friendly
def compare_command(run: Path, reference: Path, tasks: tuple[str, ...], embed_model: str, base_url: str | None,
                    embed_limit: int, repeats: int, seed: int, out: Path | None) -> None:
    """How far the dialogues in RUN are from REFERENCE (a run folder, a folder of Dialog JSON, or a STAR folder).

    Each metric is shown as the distance of RUN to one half of REFERENCE beside the distance between the two
    halves of REFERENCE (the baseline), at the same sample sizes.
    """
    from roleplay._atomic import check_writable
    from roleplay.cli._tables import echo_table
    from roleplay.evaluation.compare import compare
    from roleplay.evaluation.report import write_report
    from roleplay.runs.folder import RunFolder

    report_path = out or run / "comparison"
    check_writable(report_path.with_suffix(".json"))
    dialogs = RunFolder(run).load_dialogs()
    references, label = reference_dialogs(reference, dialogs, tasks)
    result = compare(dialogs, references, embed_model=None if embed_model == "none" else embed_model, seed=seed,
                     repeats=repeats, embed_limit=embed_limit, base_url=base_url)
    click.echo(f"{run} ({result['run_dialogs']} dialogues) against {label} ({result['reference_dialogs']} "
               f"dialogues), {repeats} random halvings:")
    echo_table(result["rows"])
    for note in result["notes"]:
        click.echo(f"Note: {note}")
    json_path, csv_path = write_report({"summary": result["rows"], "reference": label, **result}, report_path)
    click.echo(f"Saved {csv_path} and {json_path}")
