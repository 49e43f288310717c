"""Which chat role each speaker of a dialogue takes in an export, and the system message that goes with it.

The default mapping makes the *assistant* the agent a model would be trained to be: the policy agent
(the speaker whose turns carry a policy ``action``: the Doctor of ``doctor_intake``, STAR's System) if
the dialogue has one, else the second speaker (the one who answers the opener; the only speaker of a
one-speaker dialogue). Every other speaker is the ``user``. ``roles`` (``{"Patient": "assistant"}``,
``--roles Patient=assistant``) overrides the speakers it names; once it names an ``assistant``, the
speakers it leaves out are ``user``, so one mapping entry is enough to swap the sides.

The system message (`system_message`) tells the assistant who it is: its persona's fields as
``Your <field>: value`` lines (`roleplay.personas._model.describe`), under ``You are <name>.``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.personas._model import describe

__all__ = ["ROLES", "assistant_speaker", "checked_roles", "parse_roles", "role_of", "speaker_roles",
           "system_message"]

ROLES = ("user", "assistant", "system")


def parse_roles(text: str | None) -> dict[str, str]:
    """``"Doctor=assistant,Patient=user"`` -> mapping; roles must be user, assistant or system."""
    if not text:
        return {}
    roles = {}
    for pair in text.split(","):
        speaker, sep, role = pair.partition("=")
        if not sep or not speaker.strip() or role.strip() not in ROLES:
            raise ConfigError(f"Bad role mapping {pair!r}: write Speaker=role with role one of {', '.join(ROLES)}, "
                              "e.g. --roles Doctor=assistant,Patient=user.")
        roles[speaker.strip()] = role.strip()
    return roles


def checked_roles(roles: Mapping[str, str] | str | None) -> dict[str, str]:
    """``roles`` as a speaker -> role mapping (a ``"Doctor=assistant,..."`` string is parsed), each role checked."""
    if roles is None or isinstance(roles, str):
        return parse_roles(roles)
    if not isinstance(roles, Mapping):
        raise ConfigError(f"roles must map speaker -> role, e.g. {{'Doctor': 'assistant'}}; got {roles!r}.")
    return parse_roles(",".join(f"{speaker}={role}" for speaker, role in roles.items()))


def assistant_speaker(dialog: Dialog) -> str | None:
    """The default assistant: the policy agent, else the second speaker, else the only one (None: no turns)."""
    acting = [t.speaker for t in dialog.turns if t.action and t.speaker is not None]
    if acting:
        return acting[0]
    speakers = dialog.speakers
    return speakers[1] if len(speakers) > 1 else (speakers[0] if speakers else None)


def speaker_roles(dialog: Dialog, roles: Mapping[str, str]) -> dict[str | None, str]:
    """Every speaker of ``dialog`` (None for an unnamed turn) -> its chat role, ``roles`` first (module doc)."""
    assistant = None if "assistant" in roles.values() else assistant_speaker(dialog)
    mapping: dict[str | None, str] = {s: roles.get(s) or ("assistant" if s == assistant else "user")
                                      for s in dialog.speakers}
    mapping[None] = "user"
    return mapping


def role_of(dialog: Dialog, speaker: str | None, roles: Mapping[str, str]) -> str:
    """The chat role of one ``speaker`` of ``dialog`` (`speaker_roles`)."""
    return speaker_roles(dialog, roles).get(speaker, "user")


def system_message(dialog: Dialog, mapping: Mapping[str | None, str]) -> str | None:
    """The assistant's persona as a system message; None when the assistant has no recorded persona."""
    assistant = next((s for s, role in mapping.items() if role == "assistant" and s is not None), None)
    fields: dict[str, Any] = {k: v for k, v in dialog.personas.get(assistant or "", {}).items() if k != "class"}
    text = describe(fields)
    if not text:
        return None
    name = fields.get("name") or fields.get("role") or assistant
    return f"You are {name}.\n{text}"
