"""`roleplay report`: one HTML file to browse and share a run folder."""

from __future__ import annotations

from pathlib import Path

import click

from roleplay.cli._base import OutputPath, cli, friendly
from roleplay.cli._runs import prices_option


@cli.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=OutputPath(), default=None,
              help="The HTML file to write (default: FOLDER/report.html; needed for several folders).")
@click.option("--graph", "graph_paths", multiple=True, type=click.Path(path_type=Path),
              help="A DOT policy graph, or a folder of them (scenarios/star), for adherence, heatmaps and paths. "
                   "Repeatable. A batch's own scenario graph is found without it.")
@click.option("--title", default=None, help="Page title (default: the folder's name).")
@prices_option
@friendly
def report(folders: tuple[Path, ...], out: Path | None, graph_paths: tuple[Path, ...], title: str | None,
           prices: Path | None) -> None:
    """Write one self-contained HTML report of the dialogues in FOLDERS (no network needed to view it).

    Several folders (an enforced and a prompt-only run, say) make one report, every table split by batch
    variant and policy arm.
    """
    import time

    from roleplay.prices import load_prices
    from roleplay.viz.report import write_report

    started = time.perf_counter()
    path = write_report(folders, out, graph_paths, title, load_prices(prices) if prices is not None else None)
    click.echo(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s; "
               "open it in a browser.")
