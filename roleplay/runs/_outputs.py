"""What a run folder owns, so no command writes into it (`check_output`), and the hash of a run's input files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from roleplay._atomic import as_path
from roleplay.errors import ConfigError

__all__ = ["check_output", "content_hash"]


_OWN = ("dialogs", "json", "index.jsonl", "failures.jsonl", "batch.json", ".lock")
"""A run folder's own files and folders: only `RunFolder` writes them."""


def check_output(path: str | Path) -> None:
    """Refuse an output path that is, or lies inside, one of a run folder's own files (`_OWN`).

    The one guard of every command and API that writes a file the user names (a report, an export, a
    dialogue, a sample): ``evaluate run --out run/dialogs/1`` would replace dialogue 1 with a report, and
    ``run --out run/dialogs`` would add a dialogue the batch never made. A run folder is one holding
    ``batch.json``, ``index.jsonl`` or ``.lock``. Writing beside them (``run/evaluation.json``) is fine.
    """
    target = as_path(path, "An output").resolve()
    for root in target.parents:
        if not any((root / name).is_file() for name in ("batch.json", "index.jsonl", ".lock")):
            continue
        own = root / target.relative_to(root).parts[0]
        if own.name in _OWN:
            raise ConfigError(f"{path} would write into {own}, which belongs to the run folder {root}: it "
                              "would replace or add to the run's own dialogues and records. Pass a path outside "
                              f"it, e.g. {root / ('evaluation' if own.name != 'evaluation' else 'report')} or "
                              "another folder.")


def content_hash(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the named files' bytes (in the given order), to notice an edited input on resume."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(Path(path).read_bytes())
        except OSError as err:
            raise ConfigError(f"Cannot read {path} to fingerprint it: {err.strerror}. Check the path.") from err
        digest.update(b"\0")
    return digest.hexdigest()

