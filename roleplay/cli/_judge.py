"""`roleplay judge`: score a run's dialogues on a rubric with one or more judge models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roleplay.cli._base import cli, friendly


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--rubric", default="quality", show_default=True,
              help="A bundled rubric (social, quality, task) or a rubric YAML file.")
@click.option("-j", "--judge", "judges", multiple=True, default=("embedded",), show_default=True, metavar="MODEL",
              help="Judge model string; repeat it for several judges (their agreement is then reported).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Judgement folder (default: FOLDER/judgements/<rubric>--<judge>; one judge only).")
@click.option("--seed", type=int, default=0, show_default=True, help="The judge's sampling seed.")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Response cache folder: a rerun replays the judge's answers without calling it.")
@click.option("--base-url", default=None, metavar="URL", help="Server of an ollama: or openai: judge.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Dialogues judged at once (default: 1 for an in-process judge, which runs one call at a time and "
                   "keeps one dialogue's transcript evaluated between its questions; 8 for a server judge).")
@click.option("--attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Tries per answer when the judge's JSON is invalid (each retry shows it the error).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Judge only the first N dialogues.")
@click.option("--force", is_flag=True, help="Resume even though the judge's settings changed.")
@friendly
def judge(folder: Path, rubric: str, judges: tuple[str, ...], out: Path | None, seed: int, cache: Path | None,
          base_url: str | None, concurrency: int | None, attempts: int, limit: int | None, force: bool) -> None:
    """Score the dialogues in FOLDER on a rubric; rerun the same command to resume after an interruption."""
    from roleplay.backends import takes_base_url
    from roleplay.cli._runs import report_batch, run_or_resume
    from roleplay.evaluation.judge import Judge
    from roleplay.evaluation.judging import ajudge_folder, source_files
    from roleplay.evaluation.rubric import load_rubric

    repeated = sorted({spec for spec in judges if judges.count(spec) > 1})
    if repeated:
        raise click.UsageError(f"--judge {repeated[0]} is given more than once; each judge writes one folder and is "
                               "one voice in the agreement, so name distinct judge models.")
    if out is not None and len(judges) > 1:
        raise click.UsageError("--out names one judgement folder; with several --judge leave it out (each judge "
                               "writes FOLDER/judgements/<rubric>--<judge>).")
    loaded = load_rubric(rubric)
    found = list(source_files(folder))  # a bad folder fails here, before a judge model is loaded
    ids = found[:limit] if limit else None
    options: dict[str, Any] = {"base_url": base_url} if base_url else {}
    for spec in judges:
        model = Judge(spec, loaded, attempts=attempts, seed=seed, cache_dir=str(cache) if cache else None, **options)
        click.echo(f"Judging {folder} on rubric {loaded.name} ({len(loaded.dimensions)} dimensions) with {model.name}")
        at_once = concurrency or (8 if takes_base_url(spec) else 1)
        result = run_or_resume(out or folder, ajudge_folder(model, folder, out, ids=ids, concurrency=at_once,
                                                            force=force))
        report_batch(result, Path(result.out), None)
        click.echo(f"Judgements in {result.out}")
