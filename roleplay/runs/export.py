"""Exporting a folder of dialogues as training data: JSONL, ShareGPT, OpenAI chat, or a Hugging Face dataset.

Any run folder is read through `roleplay.runs.folder.RunFolder`. One dialogue per line (or row).

Roles (`roleplay.runs._roles`): by default the *assistant* is the policy agent (the speaker whose turns
carry a policy action), else the second speaker; every other speaker is the ``user``. ``roles``
(``{"Patient": "assistant"}``) overrides the speakers it names. ShareGPT writes the roles as
``human``/``gpt``/``system``.

System message (``system``; on by default for ``openai``, off for the others; ``--system/--no-system``):
the first message (ShareGPT entry) is the assistant's persona, ``You are <name>.`` and one
``Your <field>: value`` line per field; a dialogue whose assistant has no recorded persona gets none.

Columns: every ``sharegpt``/``openai``/``hf``/``next_action`` row holds ``id`` (always a string, or
null), ``seed``; the dialogue formats also ``model`` (a string: a per-speaker model is JSON text),
``scenario`` (the scenario's name) and ``personas`` (speaker -> the persona fields the dialogue was
played with, sampled ones too). ``jsonl`` is the dialogue record itself (it reloads with
``Dialog.model_validate_json``), so its ``id`` keeps the dialogue's own type.

Leaving out bad dialogues (``drop_flagged``, ``--drop-flagged``): a dialogue is left out when it failed
(a backend error, an error recorded in its metadata, or no turns) or holds a flagged turn: one a guard
gave up on (``metadata.guard.unresolved``) or whose policy action was illegal (``metadata.legal``
false). Each left-out dialogue and the reason (`flag_reason`) go to ``on_left_out``; the CLI prints them.

Action labels (``labels=True``, ``roleplay export --labels``): every message of ``openai``/``hf``
(every ``conversations`` entry of ``sharegpt``) gets an ``action`` field, the policy action of a
system turn and null for other turns; with ``legal=True`` also ``legal_actions``, the actions the
policy graph allowed at that turn (``Turn.metadata["allowed"]``, null where it was not recorded).
``next_action`` is the next-action-prediction format: one row per policy action, system turns and tool
queries alike, with the ``messages`` before it (the dialogue history), the ``action`` taken, its
``task`` and ``legal_actions`` (null for a query: the run records its legality, not the legal set).
Files are written atomically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from roleplay._atomic import as_path, atomic_write_text, check_writable
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import BackendUnavailableError, ConfigError
from roleplay.runs._roles import checked_roles, parse_roles, role_of, speaker_roles, system_message
from roleplay.runs.folder import RunFolder, check_output, read_dialog

__all__ = ["ACTION_FORMAT", "EXPORT_FORMATS", "FORMATS", "action_rows", "checked_roles", "export", "flag_reason",
           "parse_roles", "role_of", "row", "rows"]

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "sharegpt", "openai", "hf")
"""The formats with one row per dialogue (`row`)."""
ACTION_FORMAT = "next_action"
"""Next-action prediction: one row per policy action (`action_rows`)."""
EXPORT_FORMATS = (*FORMATS, ACTION_FORMAT)
"""Every export format (the CLI's ``--format`` choices)."""
_LABELLED = ("sharegpt", "openai", "hf")
"""The formats ``labels`` adds fields to (jsonl keeps each turn's action already)."""
_CHAT = _LABELLED
"""The formats with chat messages, a system message and the metadata columns."""
_SHAREGPT = {"user": "human", "assistant": "gpt", "system": "system"}

LeftOut = Callable[[Dialog, str], None]
"""Called with each dialogue ``drop_flagged`` leaves out and the reason."""


def flag_reason(dialog: Dialog) -> str | None:
    """Why ``dialog`` is no training data (failed, or a turn flagged: module doc); None when it is fine."""
    if dialog.stop_reason == StopReason.BACKEND_ERROR or "error" in dialog.metadata:
        return f"failed: {dialog.metadata.get('error', 'backend error')}"
    if not dialog.turns:
        return "failed: no turns"
    for index, turn in enumerate(dialog.turns):
        unresolved = (turn.metadata.get("guard") or {}).get("unresolved")
        if unresolved:
            return f"turn {index} flagged by the guards ({', '.join(map(str, unresolved))})"
        if turn.metadata.get("legal") is False:
            return f"turn {index} took the illegal action {turn.action!r}"
    return None


def rows(folder: str | Path, fmt: str, roles: Mapping[str, str] | None = None, *, labels: bool = False,
         legal: bool = False, system: bool | None = None, drop_flagged: bool = False,
         on_left_out: LeftOut | None = None) -> Iterator[dict[str, Any]]:
    """The export rows of every dialogue in ``folder`` (the options: see the module doc).

    Raises:
        ConfigError: two files hold the same dialogue id, ``roles`` names a speaker no dialogue has, labels
            are asked of a format that takes none, or labels (``next_action``) of dialogues with no action.
    """
    _check_format(fmt, labels, legal, system)
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
        reason = flag_reason(dialog) if drop_flagged else None
        if reason is not None:
            logger.info("export leaves out dialogue %s: %s", dialog.id, reason)
            if on_left_out is not None:
                on_left_out(dialog, reason)
            continue
        actions += sum(bool(t.action) for t in dialog.turns)
        if fmt == ACTION_FORMAT:
            yield from action_rows(dialog, roles)
        else:
            yield row(dialog, fmt, roles, labels=labels, legal=legal, system=system)
    if (labels or fmt == ACTION_FORMAT) and not actions:
        raise ConfigError(f"No turn in {folder} has a policy action, so there is nothing to label. Action labels "
                          "need dialogues run under a policy graph (a scenario with `policy:`, or STAR).")
    unknown = sorted(set(roles) - speakers)
    if unknown:
        raise ConfigError(f"--roles names {', '.join(map(repr, unknown))}, but no dialogue has such a speaker; the "
                          f"speakers are: {', '.join(sorted(speakers)) or '(none)'}. Fix the spelling.")


def _check_format(fmt: str, labels: bool, legal: bool, system: bool | None = None) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}.")
    if labels and fmt not in _LABELLED:
        raise ConfigError(f"--labels adds action fields to {', '.join(_LABELLED)}; {fmt} "
                          + ("rows are action labels already." if fmt == ACTION_FORMAT
                             else "keeps every turn's action already.") + " Drop --labels or change --format.")
    if legal and not labels and fmt != ACTION_FORMAT:
        raise ConfigError("--legal adds the legal action set next to each action label; add --labels too.")
    if system and fmt not in _CHAT:
        raise ConfigError(f"--system adds a system message to the chat formats ({', '.join(_CHAT)}); {fmt} has no "
                          "messages to add it to. Drop --system or change --format.")


def _labels(turn: Turn, legal: bool) -> dict[str, Any]:
    """The label fields of one message: its action, and with ``legal`` the legal set at that turn."""
    fields: dict[str, Any] = {"action": turn.action}
    if legal:
        allowed = turn.metadata.get("allowed") if turn.action else None
        fields["legal_actions"] = list(allowed) if isinstance(allowed, list) else None
    return fields


def _messages(dialog: Dialog, turns: Iterable[Turn], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    mapping = speaker_roles(dialog, roles)
    return [{"role": mapping[t.speaker], "content": t.text} for t in turns]


def _text_id(dialog: Dialog) -> str | None:
    """The one id type of every format: text (a batch's 3 and STAR's "3" are the same dialogue), or None."""
    return None if dialog.id is None else str(dialog.id)


def _columns(dialog: Dialog) -> dict[str, Any]:
    """The row's metadata columns: id, seed, model (text), scenario (its name) and every speaker's persona."""
    model = dialog.model if not isinstance(dialog.model, dict) else json.dumps(dialog.model, sort_keys=True)
    scenario = dialog.scenario.get("name") if isinstance(dialog.scenario, dict) else dialog.scenario
    return {"id": _text_id(dialog), "seed": dialog.seed, "model": model, "scenario": scenario,
            "personas": dialog.personas}


def row(dialog: Dialog, fmt: str, roles: Mapping[str, str] | None = None, *, labels: bool = False,
        legal: bool = False, system: bool | None = None) -> dict[str, Any]:
    """The export row of one dialogue (`rows` of a folder; `roleplay.ray.dialogs_dataset` of a Ray dataset)."""
    if fmt == "jsonl":
        return json.loads(dialog.model_dump_json())
    mapping = speaker_roles(dialog, roles or {})
    messages = [{"role": mapping[t.speaker], "content": t.text, **(_labels(t, legal) if labels else {})}
                for t in dialog.turns]
    prompt = system_message(dialog, mapping) if (fmt == "openai" if system is None else system) else None
    if prompt is not None:
        messages.insert(0, {"role": "system", "content": prompt, **({"action": None} if labels else {}),
                            **({"legal_actions": None} if labels and legal else {})})
    if fmt == "sharegpt":
        conversation = [{"from": _SHAREGPT[m.pop("role")], "value": m.pop("content"), **m} for m in messages]
        return {"conversations": conversation, **_columns(dialog)}
    return {"messages": messages, **_columns(dialog)}


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
    return [{"id": _text_id(dialog), "seed": dialog.seed, "turn": index,
             "messages": _messages(dialog, dialog.turns[:index], roles), **label}
            for index, _, label in sorted(found, key=lambda f: (f[0], f[1]))]


def export(folder: str | Path, fmt: str, out: str | Path, roles: Mapping[str, str] | None = None, *,
           labels: bool = False, legal: bool = False, system: bool | None = None, drop_flagged: bool = False,
           on_left_out: LeftOut | None = None) -> int:
    """Write ``folder``'s dialogues to ``out`` in ``fmt``; return how many rows were written.

    ``out`` is a file (a folder for ``hf``); it is checked before any dialogue is read. The options: see
    the module doc (``next_action`` writes a row per policy action, not per dialogue).
    """
    _check_format(fmt, labels, legal, system)
    check_output(as_path(out, "export's out"))
    as_path(folder, "export's folder")
    check_writable(out, folder=fmt == "hf")
    if Path(out).resolve() == Path(folder).resolve():
        raise ConfigError(f"--out {out} is the run folder itself; write the export elsewhere.")
    data = list(rows(folder, fmt, roles, labels=labels, legal=legal, system=system, drop_flagged=drop_flagged,
                     on_left_out=on_left_out))
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
