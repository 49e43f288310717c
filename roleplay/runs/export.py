"""Exporting a folder of dialogues as training data: JSONL, ShareGPT, OpenAI chat, or a Hugging Face dataset.

Any run folder is read through `roleplay.runs.folder.RunFolder`. One dialogue per line (or row).
Speakers map to roles with ``roles`` (``{"Doctor": "assistant", "Patient": "user"}``); by default the
first speaker of each dialogue is ``user`` and every other speaker ``assistant``. ShareGPT writes the
roles as ``human``/``gpt``/``system``. Files are written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from roleplay._atomic import as_path, atomic_write_text, check_writable
from roleplay.dialog import Dialog
from roleplay.errors import BackendUnavailableError, ConfigError
from roleplay.runs.folder import RunFolder, check_output, read_dialog

__all__ = ["FORMATS", "checked_roles", "export", "parse_roles", "role_of", "row", "rows"]

FORMATS = ("jsonl", "sharegpt", "openai", "hf")
"""The export formats (the CLI's ``--format`` choices)."""
_SHAREGPT = {"user": "human", "assistant": "gpt", "system": "system"}
_ROLES = ("user", "assistant", "system")


def parse_roles(text: str | None) -> dict[str, str]:
    """``"Doctor=assistant,Patient=user"`` -> mapping; roles must be user, assistant or system."""
    if not text:
        return {}
    roles = {}
    for pair in text.split(","):
        speaker, sep, role = pair.partition("=")
        if not sep or not speaker.strip() or role.strip() not in _ROLES:
            raise ConfigError(f"Bad role mapping {pair!r}: write Speaker=role with role one of {', '.join(_ROLES)}, "
                              "e.g. --roles Doctor=assistant,Patient=user.")
        roles[speaker.strip()] = role.strip()
    return roles


def role_of(dialog: Dialog, speaker: str | None, roles: Mapping[str, str]) -> str:
    """The chat role of ``speaker``: from ``roles``, else user for the first speaker and assistant after."""
    if speaker in roles:
        return roles[speaker]
    return "user" if dialog.speakers and speaker == dialog.speakers[0] else "assistant"


def checked_roles(roles: Mapping[str, str] | str | None) -> dict[str, str]:
    """``roles`` as a speaker -> role mapping (a ``"Doctor=assistant,..."`` string is parsed), each role checked."""
    if roles is None or isinstance(roles, str):
        return parse_roles(roles)
    if not isinstance(roles, Mapping):
        raise ConfigError(f"roles must map speaker -> role, e.g. {{'Doctor': 'assistant'}}; got {roles!r}.")
    return parse_roles(",".join(f"{speaker}={role}" for speaker, role in roles.items()))


def rows(folder: str | Path, fmt: str, roles: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """The export rows of every dialogue in ``folder``.

    Raises:
        ConfigError: two files hold the same dialogue id, or ``roles`` names a speaker no dialogue has.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    roles = checked_roles(roles)
    seen: dict[Any, Path] = {}
    speakers: set[str] = set()
    for path in RunFolder(folder).dialog_files():
        dialog = read_dialog(path)
        if dialog.id is not None and dialog.id in seen:
            raise ConfigError(f"{seen[dialog.id]} and {path} both hold dialogue {dialog.id!r}; an export keeps each "
                              "dialogue once. Remove or rename the copy.")
        seen[dialog.id] = path
        speakers.update(dialog.speakers)
        yield row(dialog, fmt, roles)
    unknown = sorted(set(roles) - speakers)
    if unknown:
        raise ConfigError(f"--roles names {', '.join(map(repr, unknown))}, but no dialogue has such a speaker; the "
                          f"speakers are: {', '.join(sorted(speakers)) or '(none)'}. Fix the spelling.")


def row(dialog: Dialog, fmt: str, roles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The export row of one dialogue (`rows` of a folder; `roleplay.ray.dialogs_dataset` of a Ray dataset)."""
    roles = roles or {}
    meta = {"id": dialog.id, "seed": dialog.seed, "model": dialog.model}
    if fmt == "jsonl":
        return json.loads(dialog.model_dump_json())
    if fmt == "sharegpt":
        return {"conversations": [{"from": _SHAREGPT[role_of(dialog, t.speaker, roles)], "value": t.text}
                                  for t in dialog.turns], **meta}
    messages = [{"role": role_of(dialog, t.speaker, roles), "content": t.text} for t in dialog.turns]
    return {"messages": messages, **({"id": str(dialog.id), "seed": dialog.seed} if fmt == "hf" else meta)}


def export(folder: str | Path, fmt: str, out: str | Path, roles: Mapping[str, str] | None = None) -> int:
    """Write ``folder``'s dialogues to ``out`` in ``fmt``; return how many were written.

    ``out`` is a file (a folder for ``hf``); it is checked before any dialogue is read.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    check_output(as_path(out, "export's out"))
    as_path(folder, "export's folder")
    check_writable(out, folder=fmt == "hf")
    if Path(out).resolve() == Path(folder).resolve():
        raise ConfigError(f"--out {out} is the run folder itself; write the export elsewhere.")
    data = list(rows(folder, fmt, roles))
    if fmt == "hf":
        try:
            import datasets
        except ImportError as err:
            raise BackendUnavailableError(
                "The hf format needs the 'datasets' package: pip install 'roleplay-sim[hf]'.") \
                from err
        try:
            datasets.Dataset.from_list(data).save_to_disk(str(out))
        except OSError as err:
            raise ConfigError(f"Cannot write the dataset to {out}: {err}. Pass a writable, empty folder.") from err
    else:
        atomic_write_text(out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data))
    return len(data)
