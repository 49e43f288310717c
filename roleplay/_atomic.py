"""Atomic file writes: a crash leaves either the old file or the new one, never half of one.

Operating-system failures (disk full, read-only disk, a parent that is a file, no permission) become a
`ConfigError` naming the path, and `check_writable` finds most of them before any work is spent.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from roleplay.errors import ConfigError


@cache
def _umask() -> int:
    """The process's umask (what a plain open() takes off 0o666), read once, when first needed.

    Linux shows it in /proc/self/status, so it is read without being changed; elsewhere it is set and put
    back at once, the only way POSIX offers, and never at import.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        status = ""
    line = next((line for line in status.splitlines() if line.startswith("Umask:")), None)
    if line is not None:
        return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


TEMP_SUFFIX = ".roleplay-tmp"
"""The end of every temp file `atomic_write_text` makes (``.<name>.<random>.roleplay-tmp``): a crash may
leave one, and a run folder deletes only files named so (`is_own_temp`), never a user's own ``.tmp``."""
_OWN_TEMP = re.compile(r"\.(?P<name>.+)\.[A-Za-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temp file in the same folder, fsync it, then rename it into place."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    except OSError as err:
        raise _write_error(target, err) from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(target, err) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def as_path(value: object, what: str) -> Path:
    """``value`` as a `Path`, or ConfigError naming ``what`` wanted one (``None``, a number, ``""`` are not paths).

    The one check of a path argument at the public API's boundary (a file or folder to read or write).
    """
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(f"{what} needs a path (a str or pathlib.Path), got {value!r}.")
    return Path(value)


def is_own_temp(path: str | Path, target_name: Callable[[str], bool]) -> bool:
    """Whether ``path`` is a temp file `atomic_write_text` left for a target whose name passes ``target_name``."""
    match = _OWN_TEMP.fullmatch(Path(path).name)
    return match is not None and target_name(match["name"])


def check_writable(path: str | Path, folder: bool = False) -> None:
    """Raise ConfigError now if ``path`` (a file, or a folder with ``folder=True``) could not be written.

    Checks the kinds of the path and its nearest existing parent and their permissions, so a long run
    does not end with an unwritable output. (A full disk can still only be found by writing.)
    """
    target = Path(path)
    if target.exists() and target.is_dir() != folder:
        want, got = ("a folder", "a file") if folder else ("a file", "a folder")
        raise ConfigError(f"{target} is {got}, but {want} is needed here. Pass another path.")
    parent = target if folder and target.exists() else target.parent  # a file is replaced through its folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"Cannot create {target}: {parent} is a file, not a folder. Pass another path.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"Cannot write {target}: no permission in {parent} (or a read-only disk). Pass a "
                          "writable path.")


def _write_error(target: Path, err: OSError) -> ConfigError:
    blocking = next((parent for parent in target.parents if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:  # mkdir says only "File exists" or "Not a directory"
        return ConfigError(f"Cannot create {target}: {blocking} is a file, not a folder. Pass another path.")
    return ConfigError(f"Cannot write {target}: {err.strerror or err}. Check that its folder exists and is "
                       "writable and that the disk has space.")
