"""Dialogue ids and names that become file names, checked so none reads or writes outside its folder.

Below the run folder (`roleplay.runs.folder`) in the data flow: a dataset loader names its files with
`checked_id` too.
"""

from __future__ import annotations

import re
from typing import Any

from roleplay.errors import ConfigError

__all__ = ["checked_id", "safe_filename"]


_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def checked_id(value: Any) -> int | str:
    """A dialogue id safe to use as a file name: an int >= 0, or letters, digits, ``_ . -`` (no leading dot).

    Raises ConfigError for anything else (``"../tasks/x"``, ``"/etc/x"``, ``""``), so no id reads or
    writes outside its folder.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"Dialogue id {value!r} is not an int or a string; use e.g. 81 or 'intake_3'.")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"Dialogue id {value} is negative; ids are 0 or more.")
        return value
    if not _ID.fullmatch(value) or ".." in value:
        raise ConfigError(f"Dialogue id {value!r} cannot be a file name: use letters, digits, '_', '.' and '-' "
                          "(no '/', no leading '.', no '..').")
    return value


def _is_dialog_name(name: str) -> bool:
    """Whether ``name`` is the file name `RunFolder.path` gives a dialogue (``<id>.json``)."""
    return name.endswith(".json") and _ID.fullmatch(name[:-5]) is not None and ".." not in name


def safe_filename(name: str, fallback: str = "dialog") -> str:
    """``name`` made into one safe file name: path separators and odd characters become ``_``.

    For names that come from user input (a scenario's ``name: ../../x`` or ``/tmp/x``) and are meant to
    label a file, not to choose a folder: the result never leaves the folder it is joined to.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._")[:120]
    return cleaned or fallback

