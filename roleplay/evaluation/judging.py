"""Judging a run folder on the batch engine: concurrent, resumable, one result file per dialogue.

`judge_folder` hands `roleplay.runs.batch.arun_batch` a job that judges one dialogue of the source
run per id, so judging gets the batch's guarantees unchanged: up to ``concurrency`` dialogues in
flight, transient failures (an invalid answer after the judge's own retries included) retried with
backoff and then listed in ``failures.jsonl``, the folder locked while written, and a rerun (after
Ctrl-C or ``kill -9``) judging only what is not yet in place. Each result is the judged dialogue
itself with the `Judgement` in ``metadata["judgement"]``, written atomically by `RunFolder` as
``<out>/dialogs/<id>.json``: a result file is self-contained (what was judged, and the verdict).

By default a judgement folder lives in the run: ``<run>/judgements/<rubric>--<judge>/``;
`load_judgements` reads every one there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roleplay._aio import run_sync
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.evaluation.judge import Judge, Judgement
from roleplay.evaluation.rubric import Rubric
from roleplay.runs.batch import BatchResult, arun_batch
from roleplay.runs.folder import RunFolder, checked_id, read_dialog, safe_filename

__all__ = ["JUDGEMENTS", "JudgeJob", "ajudge_folder", "judged_dialog", "judgement_folder", "load_judgements",
           "run_judging", "source_files"]

JUDGEMENTS = "judgements"
"""The sub-folder of a run that holds its judgement folders."""


def judgement_folder(run: str | Path, rubric: Rubric, judge_name: str) -> Path:
    """Where ``judge_name``'s judgements of ``run`` on ``rubric`` go by default."""
    return Path(run) / JUDGEMENTS / safe_filename(f"{rubric.name}--{judge_name}")


def judged_dialog(dialog: Dialog, judgement: Judgement) -> Dialog:
    """The result file's content: ``dialog`` with its judgement, and the judge's tokens as the run's tokens.

    The dialogue's own generation tokens move to ``metadata["generation_tokens"]``, so the batch's token
    count (``completion_tokens``) is what the judge spent.
    """
    metadata = dict(dialog.metadata)
    metadata["generation_tokens"] = metadata.pop("completion_tokens", 0)
    metadata["completion_tokens"] = judgement.completion_tokens
    metadata["judgement"] = judgement.model_dump()
    return dialog.model_copy(update={"metadata": metadata})


class JudgeJob:
    """``await job(id, seed)``: the judged copy of the source run's dialogue ``id`` (a batch job)."""

    def __init__(self, judge: Judge, files: dict[int | str, Path]):
        self.judge = judge
        self.files = files

    async def __call__(self, dialog_id: int | str, seed: int) -> Dialog:
        dialog = read_dialog(self.files[dialog_id])
        if dialog.id is None:
            dialog.id = dialog_id
        return judged_dialog(dialog, await self.judge.ajudge(dialog))

    async def __aenter__(self) -> JudgeJob:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.judge.aclose()


def source_files(run: str | Path) -> dict[int | str, Path]:
    """The run's dialogue files by id (the file name), each id safe as a result file name."""
    files: dict[int | str, Path] = {}
    for path in RunFolder(run).dialog_files():
        files[checked_id(int(path.stem) if path.stem.isdigit() else path.stem)] = path
    return files


async def ajudge_folder(judge: Judge, run: str | Path, out: str | Path | None = None, *,
                        ids: Sequence[int | str] | None = None, concurrency: int = 4, attempts: int = 2,
                        force: bool = False, progress: bool = True) -> BatchResult:
    """Judge the dialogues of ``run`` (all, or ``ids``) into ``out`` (default: `judgement_folder`).

    ``attempts`` counts whole-dialogue tries by the batch (each unit already had the judge's own retries).
    A rerun with the same judge and rubric resumes; another judge or rubric in the same ``out`` is refused.
    """
    files = source_files(run)
    chosen = list(files) if ids is None else [checked_id(i) for i in ids]
    missing = [i for i in chosen if i not in files]
    if missing:
        raise ConfigError(f"{run} has no dialogue(s) {missing[:5]}; pick ids from its dialogs/ folder.")
    target = Path(out) if out is not None else judgement_folder(run, judge.rubric, judge.name)
    params: dict[str, Any] = {"judge": judge.name, "rubric": judge.rubric.model_dump(mode="json"),
                              "source": str(Path(run))}
    return await arun_batch(JudgeJob(judge, files), chosen, target, concurrency=concurrency, attempts=attempts,
                            progress=progress, params=params, force=force)


def load_judgements(run: str | Path) -> list[tuple[Dialog, Judgement]]:
    """Every judgement stored under ``<run>/judgements/`` (any rubric, any judge), with the dialogue judged."""
    root = Path(run) / JUDGEMENTS
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if (p / "dialogs").is_dir()):
        for dialog in RunFolder(folder).iter_dialogs():
            data = dialog.metadata.get("judgement")
            if isinstance(data, dict):
                found.append((dialog, Judgement.model_validate(data)))
    return found


def run_judging(judge: Judge, run: str | Path, out: str | Path | None = None, **options: Any) -> BatchResult:
    """`ajudge_folder` from synchronous code (a notebook cell included)."""
    return run_sync(ajudge_folder(judge, run, out, **options))
