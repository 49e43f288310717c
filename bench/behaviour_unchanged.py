"""Does a refactor change what the engine says? Record a fixed set of dialogues on two commits and compare them.

usage: python bench/behaviour_unchanged.py BEFORE AFTER [--embedded] [--star PATH]

BEFORE and AFTER are git commits (exported with ``git archive`` into a temporary folder, so the working tree is not
touched), ``WORKTREE`` (this checkout as it is now) or folders holding an earlier recording. Each side runs the same
commands: scripted batches of three scenarios, a scripted STAR generation and, with ``--embedded``, short dialogues
on the embedded model, all with fixed seeds (embedded: two doctor_patient dialogues of six turns; a policy
scenario on the embedded model ran for over 50 minutes under load without finishing one dialogue).
The dialogues are compared field by field, ignoring what a clock
decides (timestamps, seconds, tokens per second; a dialogue a wall-clock timeout ended is compared over the
turns both sides said). It prints one line per run (identical or the first differences)
and exits 1 if any dialogue differs. A commit's recording is kept under /tmp/roleplay-behaviour/<sha> and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "roleplay-behaviour"
CLOCK_KEYS = {"seconds", "tokens_per_second", "timestamp", "elapsed", "started", "finished", "duration"}
SCRIPTED = "scripted:auto"


def runs(star: Path, embedded: bool) -> dict[str, list[str]]:
    """The fixed set of commands, by name: each writes a run folder passed as --out."""
    batches = {
        f"{name}-scripted": ["batch", f"scenarios/{name}.yaml", "-m", SCRIPTED, "-n", "5", "--seed", "3"]
        for name in ("doctor_patient", "doctor_intake", "bank_support")
    }
    star_ids = ["--id", "1", "--id", "101", "--id", "1001"]
    batches["star-scripted"] = ["star", "generate", "--star-path", str(star), "-m", SCRIPTED, *star_ids]
    if embedded:
        batches["doctor_patient-embedded"] = [
            "batch", "scenarios/doctor_patient.yaml", "-m", "embedded", "-n", "2", "--seed", "3", "--max-turns", "6",
        ]
    return batches


def export(commit: str) -> Path:
    """The package of ``commit`` in a fresh folder (roleplay/, scenarios/ and agents/)."""
    target = Path(tempfile.mkdtemp(prefix="roleplay-src-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "roleplay", "scenarios", "agents"],
                             check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(target, filter="data")
    return target


def record(source: Path, out: Path, star: Path, embedded: bool) -> None:
    """Run every command with ``source`` first on the import path, each into out/<name>."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    cli = [sys.executable, "-c", "from roleplay.cli import main; main()"]
    for name, args in runs(star, embedded).items():
        folder = out / name
        if (folder / "index.jsonl").exists():
            continue
        done = subprocess.run([*cli, *args, "--out", str(folder)], cwd=source, env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"{name} failed in {source}:\n{done.stderr[-2000:]}")


def side(spec: str, star: Path, embedded: bool) -> Path:
    """The folder of recordings for a commit, WORKTREE or an existing folder."""
    if Path(spec).is_dir() and spec != ".":
        return Path(spec)
    if spec == "WORKTREE":
        out = Path(tempfile.mkdtemp(prefix="roleplay-behaviour-worktree-"))
        record(ROOT, out, star, embedded)
        return out
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", spec], check=True, capture_output=True,
                         text=True).stdout.strip()
    out = CACHE / sha[:12]
    source = export(sha)
    try:
        record(source, out, star, embedded)
    finally:
        shutil.rmtree(source, ignore_errors=True)
    return out


def without_clock(value: object) -> object:
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK_KEYS}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


def differences(before: object, after: object, path: str = "") -> list[str]:
    """Paths where two JSON values differ, the first few only."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            out += differences(before.get(key, "<missing>"), after.get(key, "<missing>"), f"{path}.{key}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [d for i, (b, a) in pairs for d in differences(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {str(before)[:80]!r} -> {str(after)[:80]!r}"]


def timed_out_prefix(before: dict, after: dict) -> tuple[dict, dict, int]:
    """The turns both sides said before a wall-clock timeout cut one of them (how far a loaded machine gets
    is not behaviour); the dialogue totals, which count the cut turns, are left out."""
    cut = min(len(before["turns"]), len(after["turns"]))
    kept = [{"turns": side["turns"][:cut], "events": [e for e in side["events"] if (e.get("turn") or 0) < cut]}
            for side in (before, after)]
    return kept[0], kept[1], cut


def compare(before: Path, after: Path) -> bool:
    same = True
    for run in sorted(p.name for p in before.iterdir() if p.is_dir()):
        files = sorted((before / run / "dialogs").glob("*.json"))
        problems: list[str] = []
        notes: list[str] = []
        if not (after / run).is_dir():
            problems.append("missing on the AFTER side")
        for file in files:
            other = after / run / "dialogs" / file.name
            if not other.exists():
                problems.append(f"{file.name}: missing")
                continue
            before_dialog, after_dialog = (without_clock(json.loads(f.read_text())) for f in (file, other))
            if "timeout" in (before_dialog.get("stop_reason"), after_dialog.get("stop_reason")):
                before_dialog, after_dialog, cut = timed_out_prefix(before_dialog, after_dialog)
                notes.append(f"{file.name}: ended on the wall-clock timeout; compared its first {cut} turns")
            found = differences(before_dialog, after_dialog)
            problems += [f"{file.name}{d}" for d in found[:3]]
        print(f"{run}: {len(files)} dialogues " + ("identical" if not problems else "DIFFER"))
        for line in [*problems[:10], *notes]:
            print(f"    {line}")
        same = same and not problems
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--embedded", action="store_true", help="also a few short dialogues on the embedded model")
    parser.add_argument("--star", type=Path, default=ROOT.parent / "shared" / "star", help="the STAR folder")
    args = parser.parse_args()
    before = side(args.before, args.star, args.embedded)
    after = side(args.after, args.star, args.embedded)
    print(f"before: {before}\nafter:  {after}")
    sys.exit(0 if compare(before, after) else 1)


if __name__ == "__main__":
    main()
