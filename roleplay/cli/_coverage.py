"""`roleplay coverage`: how much of the policy graph(s) a run folder's dialogues exercised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from roleplay.cli._base import OutputPath, cli, friendly
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError

_SHOWN = 12
"""Uncovered edges printed per task (the JSON report lists them all)."""


def coverage_graphs(folder: Path, graph_paths: tuple[Path, ...],
                    star_path: Path | None) -> Callable[[Dialog], Mapping[str, Any]]:
    """A dialogue -> its graphs function: from ``--graph`` files/folders, from STAR, or the batch's own scenario."""
    from roleplay.viz.report import graphs_for, load_graphs, scenario_graphs

    if star_path is not None and graph_paths:
        raise ConfigError("Give --star-path (STAR dialogues) or --graph FILE.dot (your own policy), not both.")
    if star_path is not None:
        from roleplay.datasets.star._format import scenario_tasks
        from roleplay.datasets.star._loader import StarDataset

        dataset = StarDataset(star_path)
        return lambda dialog: {t: dataset.get_task_graph(t) for t in scenario_tasks(dialog.scenario)}
    graphs = load_graphs(graph_paths) if graph_paths else scenario_graphs(folder)
    if not graphs:
        raise ConfigError(f"No policy graph for {folder}: its batch.json names no scenario with a graph. Pass "
                          "--graph FILE.dot (or a folder of them), or --star-path for STAR dialogues.")
    return lambda dialog: graphs_for(dialog, graphs)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--graph", "graph_paths", multiple=True, type=click.Path(path_type=Path),
              help="A DOT policy graph, or a folder of them (scenarios/star). Repeatable. Default: the batch's "
                   "own scenario graph.")
@click.option("--star-path", type=click.Path(path_type=Path), default=None,
              help="STAR folder: each STAR dialogue's task graphs.")
@click.option("--out", type=OutputPath(), default=None,
              help="Report path without extension (default: FOLDER/coverage) -> .csv and .json.")
@friendly
def coverage(folder: Path, graph_paths: tuple[Path, ...], star_path: Path | None, out: Path | None) -> None:
    """Node, edge and branch coverage of FOLDER's dialogues on their policy graph(s), and what was never reached."""
    from rich.console import Console
    from rich.table import Table

    from roleplay._atomic import check_writable
    from roleplay.evaluation.coverage import coverage_rows, folder_coverage
    from roleplay.evaluation.report import write_report
    from roleplay.runs.folder import check_output

    report_path = out or folder / "coverage"
    for written in (report_path.with_suffix(".json"), report_path.with_suffix(".csv")):
        check_output(written)
        check_writable(written)
    tasks = folder_coverage(folder, coverage_graphs(folder, graph_paths, star_path))
    if not tasks:
        raise ConfigError(f"No dialogue in {folder} followed one of the given graphs (no task matched); pass the "
                          "graph the run used with --graph, or --star-path for STAR dialogues.")
    rows = coverage_rows(tasks)
    table = Table(title=f"Policy coverage of {folder} (covered/reachable)")
    columns = {"task": "task", "dialogs": "dialogs", "nodes": "nodes", "edges": "edges", "outcome_branches": "outcome",
               "answer_branches": "answer", "anywhere": "anywhere", "illegal_steps": "illegal"}
    for column, header in columns.items():
        table.add_column(header, justify="left" if column == "task" else "right", no_wrap=column != "task")
    for row in rows:
        table.add_row(*(f"{row[c]} {row[c + '_rate']:.0%}" if row.get(c + "_rate") is not None else str(row[c])
                        for c in columns))
    console = Console(highlight=False)
    console.width = max(console.width, 110)  # the table needs it; piped output (80 columns) would squeeze the task
    console.print(table)
    for task in tasks:
        if task.uncovered_edges:
            edges = ", ".join(f"{e['from']} -> {e['to']}" for e in task.uncovered_edges[:_SHOWN])
            more = f", and {len(task.uncovered_edges) - _SHOWN} more" if len(task.uncovered_edges) > _SHOWN else ""
            console.print(f"{task.task}: never taken ({len(task.uncovered_edges)}): {edges}{more}", soft_wrap=True)
    json_path, csv_path = write_report({"summary": rows, "tasks": [t.model_dump() for t in tasks]}, report_path)
    click.echo(f"Saved {csv_path} and {json_path}")


def cover_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--cover`` and ``--cover-wave``: coverage-driven generation (`roleplay.runs.cover`) for a batch command."""
    command = click.option("--cover-wave", type=click.IntRange(min=1), default=1, show_default=True,
                           help="With --cover: dialogues that share one coverage state and run at once (a target "
                                "depends only on the dialogues of earlier waves: any concurrency, same result).")(
        command)
    return click.option("--cover", type=click.Choice(["edges", "branches"]), default=None,
                        help="Steer each dialogue towards policy edges (or outcome/answer branches) no earlier "
                             "dialogue took; see docs/coverage.md.")(command)


def cover_job(job: Any, ids: Any, graphs_for: Callable[[Any], Mapping[str, Any]], cover: str, out: Path, *,
              seed: int, wave: int, attempts: int, max_turns: int | None, policy: Any = None) -> Any:
    """``job`` wrapped in a `roleplay.runs.cover.CoverJob` (checked: a cover kind, and a graph to cover)."""
    from roleplay.runs.cover import CoverJob, check_cover

    first = next(iter(ids), None)
    kind = check_cover(cover, graphs_for(first) if first is not None else None)
    return CoverJob(job, ids, graphs_for, kind, out, seed=seed, wave=wave, attempts=attempts, max_turns=max_turns,
                    policy=policy)
