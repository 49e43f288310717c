"""THE on-disk layout of a run folder, and the one place where ids and names become paths.

A run folder (written by `roleplay batch` and `roleplay star generate`) holds:

- ``dialogs/<id>.json``: each finished dialogue, written to a temp file, fsynced and renamed;
- ``index.jsonl``: one line per finished dialogue, appended (one ``write``, so lines from several
  writer threads never mix) only *after* its file is in place (so a line never points to a missing or
  partial file). The files are the record: the index is not fsynced (that cost as much as the file's own
  fsync), and a line a power cut took is written again from ``dialogs/`` when the run resumes (`finished`);
- ``failures.jsonl``: dialogues that still failed after their retries, with the error;
- ``batch.json``: the run's parameters (content hashes of its inputs included), checked on resume;
- ``.lock``: held (``flock``) by the one process writing the folder, holding its pid. The kernel drops
  the lock when that process dies, so a lock left by a killed run is taken over without asking.

Readers (`dialog_files`, `load_dialogs`: evaluate, export, reports) also accept a folder of the older
``star generate`` layout (``json/<id>.json``) and a plain folder of dialogue JSON files. Files that a
reader writes into a folder (``evaluation.json``, a report) are never taken for dialogues.
"""

from __future__ import annotations

import errno
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from roleplay._atomic import TEMP_SUFFIX, as_path, atomic_write_text, check_writable, is_own_temp
from roleplay._ids import _is_dialog_name, checked_id, safe_filename
from roleplay.dialog import Dialog, dialog_failure
from roleplay.errors import ConfigError, DatasetError, DialogFileError
from roleplay.runs._outputs import check_output, content_hash
from roleplay.usage import UsageLine, dialog_usage

__all__ = ["REPORT_MARKER", "RunFolder", "RunFolderWarning", "check_output", "checked_id", "content_hash",
           "safe_filename"]

REPORT_MARKER = "roleplay report"
"""First key of every JSON report written into a run folder (``{"report": REPORT_MARKER, ...}``)."""
_RESERVED = {"batch.json", "evaluation.json"}


class RunFolderWarning(UserWarning):
    """Something in a run folder was damaged (a torn index line) and repaired."""




class RunFolder:
    """One run folder: where each dialogue, the index, the failures, the parameters and the lock live."""

    def __init__(self, root: str | Path):
        self.root = as_path(root, "A run folder")
        self.dialogs = self.root / "dialogs"
        self.index = self.root / "index.jsonl"
        self.failures = self.root / "failures.jsonl"
        self.params = self.root / "batch.json"
        self.lock_file = self.root / ".lock"
        self._lock: TextIO | None = None

    def path(self, dialog_id: int | str) -> Path:
        """Where dialogue ``dialog_id`` lives (the id is checked: it cannot point elsewhere)."""
        return self.dialogs / f"{checked_id(dialog_id)}.json"

    # --- writing: lock, parameters, index, failures ---------------------------------------------------
    def acquire(self) -> None:
        """Take the folder's exclusive lock, or raise ConfigError naming the process that holds it."""
        import fcntl

        check_writable(self.root, folder=True)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = self.lock_file.open("a+", encoding="utf-8")
        except OSError as err:
            raise _lock_error(self.lock_file, err) from err
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(f"{self.root} is being written by another roleplay process (pid {owner}). Wait for "
                              "it to finish or stop it, or write to another --out folder.") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        except OSError as err:  # a full disk shows here first
            handle.close()
            raise _lock_error(self.lock_file, err) from err
        self._lock = handle

    def release(self) -> None:
        """Drop the lock (the file stays; an unlocked file means nobody is writing)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> RunFolder:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def check_params(self, params: dict[str, Any], force: bool = False, extensible: tuple[str, ...] = ("n",)) -> None:
        """Refuse to resume a run made with other parameters (unless ``force``), then record ``params``.

        Without a ``batch.json`` (an older folder, or one deleted) `finished` checks each dialogue's own seed.
        """
        if self.params.is_file() and not force:
            previous = _read_json_object(self.params)
            changed = {k: (previous.get(k), v) for k, v in params.items()
                       if k not in extensible and previous.get(k) != v}
            if changed:
                detail = ", ".join(f"{k}: {_short(old)} -> {_short(new)}" for k, (old, new) in changed.items())
                raise ConfigError(f"{self.root} holds a batch with other settings ({detail}). Resume with the "
                                  "same settings, write to a new --out folder, or pass --force to mix them.")
        atomic_write_text(self.params, json.dumps(params, indent=2, sort_keys=True, default=str))

    def finished(self, seed_of: Callable[[int | str], int] | None = None) -> set[int | str]:
        """Ids whose dialogue is in place and succeeded; repairs the index and drops temp files a crash left.

        Nothing found is trusted: every file in ``dialogs/`` must be named as `path` names its id and hold
        that id (a copy or a renamed file is an error naming it), an indexed file that no longer reads as a
        dialogue is generated again, and an index line repeated is kept once. With ``seed_of`` (id -> the seed
        this run gives it), a dialogue made with another seed is an error too. Call it while holding the lock:
        it rewrites the index and deletes temp files.
        """
        self.dialogs.mkdir(parents=True, exist_ok=True)
        for leftover in self.dialogs.glob(".*" + TEMP_SUFFIX):
            if is_own_temp(leftover, _is_dialog_name):  # a temp of ours a crash left; a user's .tmp stays
                leftover.unlink()
        lines = self._read_index()
        entries = {e["id"]: e for e in lines}  # an id indexed twice keeps its last line
        done: set[int | str] = set()
        for path in self.dialogs.glob("*.json"):
            key = self._own_id(path)
            dialog = self._verified(path, key)
            if dialog is not None and seed_of is not None and dialog.seed not in (None, seed_of(key)):
                raise ConfigError(f"{path} was made with seed {dialog.seed}, but this run gives dialogue {key!r} seed "
                                  f"{seed_of(key)}, and {self.params.name} is missing to tell the settings apart. "
                                  "Rerun with the --seed that made the folder, write to a new --out folder, or pass "
                                  "--force to mix them.")
            if dialog is None:  # damaged: generated again, so its index line goes
                entries.pop(key, None)
                continue
            entries.setdefault(key, self._entry(key, dialog))  # a line a crash lost is written again
            if dialog_failure(dialog) is None:
                done.add(key)
        kept = [e for key, e in entries.items() if key in done or not _succeeded(e)]  # no line without its file
        if kept != lines:
            atomic_write_text(self.index, "".join(json.dumps(e) + "\n" for e in kept))
        return done

    def _own_id(self, path: Path) -> int | str:
        """The id of ``dialogs/<name>``, or ConfigError if `path` would not name it so (``007.json``, ``x y.json``)."""
        key: int | str = int(path.stem) if path.stem.isdigit() else path.stem
        try:
            named = self.path(key)
        except ConfigError:
            named = None
        if named is None or named.name != path.name:
            would = f"dialogue {key!r} would be {named.name}" if named is not None else "no dialogue id is named so"
            raise ConfigError(f"{path} is not a file this run wrote ({would}). Move it out of {self.dialogs}, then "
                              "rerun to resume.")
        return key

    def _verified(self, path: Path, key: int | str) -> Dialog | None:
        """The dialogue in ``path`` if it reads and holds id ``key``; None (with a warning) if it is damaged."""
        try:
            dialog = read_dialog(path)
        except DialogFileError as err:
            warnings.warn(f"{path} is damaged ({err}); dialogue {key} is generated again.", RunFolderWarning,
                          stacklevel=3)
            return None
        if dialog.id is not None and dialog.id != key:
            raise ConfigError(f"{path} holds dialogue {dialog.id!r}, not {key!r}: a copy or a renamed file. Move it "
                              f"out of {self.dialogs}, then rerun to resume.")
        return dialog

    def _read_index(self) -> list[dict[str, Any]]:
        """The index entries; a torn or unparsable line is dropped (and the file rewritten) with a warning."""
        if not self.index.is_file():
            return []
        text = self.index.read_text(encoding="utf-8", errors="replace")
        entries, bad = [], 0
        for line in text.splitlines():
            entry = _parse_entry(line)
            if entry is None:
                bad += line.strip() != ""
            else:
                entries.append(entry)
        if bad:
            warnings.warn(f"{self.index}: dropped {bad} torn or unreadable line(s) (an interrupted write); "
                          "their dialogues are re-indexed from dialogs/ or generated again.",
                          RunFolderWarning, stacklevel=3)
        if bad or (text and not text.endswith("\n")):
            atomic_write_text(self.index, "".join(json.dumps(e) + "\n" for e in entries))
        return entries

    def save(self, dialog_id: int | str, dialog: Dialog) -> None:
        """File first (atomic, fsynced), index line second."""
        dialog.to_file(self.path(dialog_id))
        self.record(dialog_id, dialog)

    def record(self, dialog_id: int | str, dialog: Dialog) -> None:
        """Append dialogue ``dialog_id`` to the index."""
        _append_line(self.index, self._entry(dialog_id, dialog))

    @staticmethod
    def _entry(dialog_id: int | str, dialog: Dialog) -> dict[str, Any]:
        """The index line of dialogue ``dialog_id``."""
        return {
            "id": dialog_id, "seed": dialog.seed, "file": f"dialogs/{dialog_id}.json", "turns": len(dialog.turns),
            "stop_reason": dialog.stop_reason.value if dialog.stop_reason else None,
            "tokens": dialog.metadata.get("completion_tokens", 0), "variant": dialog.metadata.get("variant"),
            **({"sampled": dialog.metadata["sampled"]} if dialog.metadata.get("sampled") else {}),
            **({"parent_id": dialog.parent_id, "branched_at": dialog.branched_at} if dialog.branched_at is not None
               else {}),
            "usage": [line.model_dump(exclude_defaults=True) for line in dialog_usage(dialog)],
        }

    def usage_lines(self) -> list[UsageLine]:
        """The usage lines of every finished dialogue, from the index (the last line of each id counts).

        Cheap at any size (no dialogue file is read); lines written before usage was indexed count nothing.
        """
        latest: dict[Any, dict[str, Any]] = {}
        for entry in self._read_index():
            latest[entry["id"]] = entry
        return [UsageLine.model_validate(line) for entry in latest.values() if _succeeded(entry)
                for line in entry.get("usage") or []]

    def record_totals(self, totals: dict[str, Any]) -> None:
        """Add the run's totals (``usage``, why it stopped) to ``batch.json``, keeping its parameters."""
        params = _read_json_object(self.params) if self.params.is_file() else {}
        atomic_write_text(self.params, json.dumps({**params, **totals}, indent=2, sort_keys=True, default=str))

    def fail(self, dialog_id: int | str, seed: int, err: BaseException, attempts: int) -> None:
        """Record a dialogue that failed for good."""
        _append_line(self.failures, {"id": dialog_id, "seed": seed, "attempts": attempts,
                                     "error": f"{type(err).__name__}: {err}"})

    # --- reading: any run folder ------------------------------------------------------------------------
    def dialog_files(self) -> list[Path]:
        """The dialogue files: ``dialogs/`` (batch, star generate), ``json/`` (older star runs) or the folder.

        Sorted by numeric id, then by name. Report files written into the folder are left out.
        """
        if not self.root.is_dir():
            raise DatasetError(f"{self.root} is not a folder of dialogues. Pass the --out folder of a run.", self.root)
        for sub in (self.dialogs, self.root / "json"):
            if sub.is_dir():
                return _sorted_json(sub.glob("*.json"))
        files = _sorted_json(p for p in self.root.glob("*.json") if p.name not in _RESERVED and not _is_report(p))
        if not files:
            raise DatasetError(f"No dialogue JSON files in {self.root} (nor in dialogs/ or json/). Pass the --out "
                               "folder of a run.", self.root)
        return files

    def iter_dialogs(self) -> Iterator[Dialog]:
        """The folder's dialogues, read one at a time."""
        for path in self.dialog_files():
            yield read_dialog(path)

    def load_dialogs(self) -> list[Dialog]:
        """Every dialogue of the folder."""
        return list(self.iter_dialogs())



def read_dialog(path: Path) -> Dialog:
    """`Dialog.from_file`, with a binary or non-UTF-8 file reported as a `DialogFileError`."""
    try:
        return Dialog.from_file(path)
    except UnicodeDecodeError as err:
        raise DialogFileError(f"not a UTF-8 text file (byte {err.start}); is it a dialogue JSON file?", path) from err


def _succeeded(entry: dict[str, Any]) -> bool:
    return bool(entry.get("turns")) and entry.get("stop_reason") != "backend_error"


def _parse_entry(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("id"), (int, str)) else None


def _append_line(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line.

    One ``write`` call on an ``O_APPEND`` file: writer threads appending at once never interleave their
    lines. Not fsynced: what it records is also on disk in its own (fsynced) file.
    """
    line = (json.dumps(entry) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            if os.write(fd, line) != len(line):
                raise OSError(errno.ENOSPC, "short write")
        finally:
            os.close(fd)
    except OSError as err:
        raise ConfigError(f"Cannot write {path}: {err.strerror}. Check that the folder is writable and the disk "
                          "has space, then rerun the same command to resume.") from err


def _lock_error(path: Path, err: OSError) -> ConfigError:
    return ConfigError(f"Cannot write the lock file {path}: {err.strerror or err}. Check that the disk has space and "
                       "the folder is writable, then rerun.")


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is damaged ({err}). Delete it to start the run's parameters afresh.") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object. Delete it to start the run's parameters afresh.")
    return data


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _sorted_json(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.name))


def _is_report(path: Path) -> bool:
    """A JSON report written by roleplay: its first key is ``"report": REPORT_MARKER``."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    return re.match(rb'\{\s*"report":\s*"' + REPORT_MARKER.encode() + rb'"', head) is not None
