"""What the tests of the executors that run dialogues elsewhere (worker processes, Ray) share."""

import json
from pathlib import Path

from click.testing import CliRunner

from roleplay import Dialog
from roleplay.cli import cli

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "doctor_patient.yaml"


def dialogs_of(folder: Path) -> dict[int, tuple]:
    """Each dialogue of a run folder as (id, seed, [(speaker, text)]), by id."""
    return {int(p.stem): (d.id, d.seed, [(t.speaker, t.text) for t in d.turns])
            for p in (folder / "dialogs").glob("*.json") for d in [Dialog.from_file(p)]}


def index_ids(folder: Path) -> list:
    """The ids the run folder's index lists, sorted."""
    return sorted(json.loads(line)["id"] for line in (folder / "index.jsonl").read_text().splitlines())


def batch_cli(*args: str):
    """``roleplay batch`` of 3 two-turn doctor_patient dialogues with ``args``."""
    return CliRunner().invoke(cli, ["batch", str(SCENARIO), "-n", "3", "--max-turns", "2", *args])
