"""Exporting a folder of dialogues as training data: JSONL, ShareGPT, OpenAI chat, or a Hugging Face dataset.

Any run folder is read through `roleplay.runs.folder.RunFolder`. One dialogue per line (or row).
Speakers map to roles with ``roles`` (``{"Doctor": "assistant", "Patient": "user"}``); by default the
first speaker of each dialogue is ``user`` and every other speaker ``assistant``. ShareGPT writes the
roles as ``human``/``gpt``/``system``. Files are written atomically.

Action labels (``labels=True``, ``roleplay export --labels``): every message of ``openai``/``hf``
(every ``conversations`` entry of ``sharegpt``) gets an ``action`` field, the policy action of a
system turn and null for other turns; with ``legal=True`` also ``legal_actions``, the actions the
policy graph allowed at that turn (``Turn.metadata["allowed"]``, null where it was not recorded).
``next_action`` is the next-action-prediction format: one row per policy action, system turns and tool
queries alike, with the ``messages`` before it (the dialogue history), the ``action`` taken, its
``task`` and ``legal_actions`` (null for a query: the run records its legality, not the legal set).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from roleplay._atomic import as_path, atomic_write_text, check_writable
from roleplay.dialog import Dialog, Turn
from roleplay.errors import BackendUnavailableError, ConfigError
from roleplay.runs.folder import RunFolder, check_output, read_dialog

__all__ = ["ACTION_FORMAT", "EXPORT_FORMATS", "FORMATS", "action_rows", "checked_roles", "export", "parse_roles",
           "role_of", "row", "rows"]

FORMATS = ("jsonl", "sharegpt", "openai", "hf")
"""The formats with one row per dialogue (`row`)."""
ACTION_FORMAT = "next_action"
"""Next-action prediction: one row per policy action (`action_rows`)."""
EXPORT_FORMATS = (*FORMATS, ACTION_FORMAT)
"""Every export format (the CLI's ``--format`` choices)."""
_LABELLED = ("sharegpt", "openai", "hf")
"""The formats ``labels`` adds fields to (jsonl keeps each turn's action already)."""
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
    if speaker is not None and speaker in roles:
        return roles[speaker]
    return "user" if dialog.speakers and speaker == dialog.speakers[0] else "assistant"


def checked_roles(roles: Mapping[str, str] | str | None) -> dict[str, str]:
    """``roles`` as a speaker -> role mapping (a ``"Doctor=assistant,..."`` string is parsed), each role checked."""
    if roles is None or isinstance(roles, str):
        return parse_roles(roles)
    if not isinstance(roles, Mapping):
        raise ConfigError(f"roles must map speaker -> role, e.g. {{'Doctor': 'assistant'}}; got {roles!r}.")
    return parse_roles(",".join(f"{speaker}={role}" for speaker, role in roles.items()))


def rows(folder: str | Path, fmt: str, roles: Mapping[str, str] | None = None, *, labels: bool = False,
         legal: bool = False) -> Iterator[dict[str, Any]]:
    """The export rows of every dialogue in ``folder`` (``labels``, ``legal``: see the module doc).

    Raises:
        ConfigError: two files hold the same dialogue id, ``roles`` names a speaker no dialogue has, labels
            are asked of a format that takes none, or labels (``next_action``) of dialogues with no action.
    """
    _check_format(fmt, labels, legal)
    roles = checked_roles(roles)
    actions = 0
    seen: dict[Any, Path] = {}
    speakers: set[str] = set()
    for path in RunFolder(folder).dialog_files():
        dialog = read_dialog(path)
        if dialog.id is not None and dialog.id in seen:
            raise ConfigError(f"{seen[dialog.id]} and {path} both hold dialogue {dialog.id!r}; an export keeps each "
                              "dialogue once. Remove or rename the copy.")
        seen[dialog.id] = path
        speakers.update(dialog.speakers)
        actions += sum(bool(t.action) for t in dialog.turns)
        if fmt == ACTION_FORMAT:
            yield from action_rows(dialog, roles)
        else:
            yield row(dialog, fmt, roles, labels=labels, legal=legal)
    if (labels or fmt == ACTION_FORMAT) and not actions:
        raise ConfigError(f"No turn in {folder} has a policy action, so there is nothing to label. Action labels "
                          "need dialogues run under a policy graph (a scenario with `policy:`, or STAR).")
    unknown = sorted(set(roles) - speakers)
    if unknown:
        raise ConfigError(f"--roles names {', '.join(map(repr, unknown))}, but no dialogue has such a speaker; the "
                          f"speakers are: {', '.join(sorted(speakers)) or '(none)'}. Fix the spelling.")


def _check_format(fmt: str, labels: bool, legal: bool) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}.")
    if labels and fmt not in _LABELLED:
        raise ConfigError(f"--labels adds action fields to {', '.join(_LABELLED)}; {fmt} "
                          + ("rows are action labels already." if fmt == ACTION_FORMAT
                             else "keeps every turn's action already.") + " Drop --labels or change --format.")
    if legal and not labels and fmt != ACTION_FORMAT:
        raise ConfigError("--legal adds the legal action set next to each action label; add --labels too.")


def _labels(turn: Turn, legal: bool) -> dict[str, Any]:
    """The label fields of one message: its action, and with ``legal`` the legal set at that turn."""
    fields: dict[str, Any] = {"action": turn.action}
    if legal:
        allowed = turn.metadata.get("allowed") if turn.action else None
        fields["legal_actions"] = list(allowed) if isinstance(allowed, list) else None
    return fields


def _messages(dialog: Dialog, turns: Iterable[Turn], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"role": role_of(dialog, t.speaker, roles), "content": t.text} for t in turns]


def row(dialog: Dialog, fmt: str, roles: Mapping[str, str] | None = None, *, labels: bool = False,
        legal: bool = False) -> dict[str, Any]:
    """The export row of one dialogue (`rows` of a folder; `roleplay.ray.dialogs_dataset` of a Ray dataset)."""
    roles = roles or {}
    meta = {"id": dialog.id, "seed": dialog.seed, "model": dialog.model}
    if fmt == "jsonl":
        return json.loads(dialog.model_dump_json())
    extra = [_labels(t, legal) if labels else {} for t in dialog.turns]
    if fmt == "sharegpt":
        return {"conversations": [{"from": _SHAREGPT[role_of(dialog, t.speaker, roles)], "value": t.text, **x}
                                  for t, x in zip(dialog.turns, extra, strict=True)], **meta}
    messages = [{**m, **x} for m, x in zip(_messages(dialog, dialog.turns, roles), extra, strict=True)]
    return {"messages": messages, **({"id": str(dialog.id), "seed": dialog.seed} if fmt == "hf" else meta)}


def action_rows(dialog: Dialog, roles: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Next-action prediction rows of one dialogue: the history before each policy action, and the action.

    System turns with an ``action`` and ``query`` events (a tool call the policy chose) each give a row, in
    the order they happened; ``turn`` is the index of the turn the action was taken before or at.
    """
    roles = roles or {}
    found: list[tuple[int, int, dict[str, Any]]] = []  # (turn index, 0 = query before the turn / 1 = the turn)
    for event in dialog.events:
        if event.type == "query" and event.data.get("action"):
            index = len(dialog.turns) if event.turn is None else event.turn
            found.append((index, 0, {"action": event.data["action"], "task": event.data.get("task"),
                                     "legal_actions": None, "legal": event.data.get("legal")}))
    for index, turn in enumerate(dialog.turns):
        if turn.action:
            found.append((index, 1, {"action": turn.action, "task": turn.metadata.get("task"),
                                     **_labels(turn, True), "legal": turn.metadata.get("legal")}))
    return [{"id": str(dialog.id), "seed": dialog.seed, "turn": index,
             "messages": _messages(dialog, dialog.turns[:index], roles), **label}
            for index, _, label in sorted(found, key=lambda f: (f[0], f[1]))]


def export(folder: str | Path, fmt: str, out: str | Path, roles: Mapping[str, str] | None = None, *,
           labels: bool = False, legal: bool = False) -> int:
    """Write ``folder``'s dialogues to ``out`` in ``fmt``; return how many rows were written.

    ``out`` is a file (a folder for ``hf``); it is checked before any dialogue is read. ``labels`` and
    ``legal``: see the module doc (``next_action`` writes a row per policy action, not per dialogue).
    """
    _check_format(fmt, labels, legal)
    check_output(as_path(out, "export's out"))
    as_path(folder, "export's folder")
    check_writable(out, folder=fmt == "hf")
    if Path(out).resolve() == Path(folder).resolve():
        raise ConfigError(f"--out {out} is the run folder itself; write the export elsewhere.")
    data = list(rows(folder, fmt, roles, labels=labels, legal=legal))
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
