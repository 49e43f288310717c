"""A cheap rule check of persona consistency: turns that contradict a speaker's stated fields.

No model is needed. Three rules, each narrow enough to be right when it fires (it misses far more
contradictions than it finds; the ``persona_consistency`` judge dimension is the broad check):

- **stated fields**: "my <field> is X" where the speaker's persona (or its user goal's facts) gives
  that field another value ("my name is Sam" from a persona named Robin);
- **age**: "I am 40 (years old)" / "I'm a 40-year-old" against the persona's ``age`` field or the age
  its background states ("a 52-year-old teacher");
- **someone else's identity**: "I am <name>" or "I am your <role>" naming *another* speaker's name or
  role and not one's own (the patient saying "I am your doctor").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from roleplay.dialog import Dialog

__all__ = ["PersonaFlag", "persona_flags", "stated_fields"]

_AGE_IN_TEXT = re.compile(r"\b(\d{1,3})[- ]year[- ]old\b", re.I)
_SAID_AGE = re.compile(r"\bI(?:'m| am)\s+(?:a\s+)?(\d{1,3})(?:[- ]years?[- ]old|\b(?!\s*(?:%|percent|minutes|hours|"
                       r"days|weeks|months|dollars|euros|pounds)))", re.I)
_SAID_IDENTITY = re.compile(r"\bI(?:'m| am)\s+(?:(?:your|the|a|an)\s+)?([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?)", re.I)


class PersonaFlag(BaseModel):
    """One turn that contradicts its speaker's persona."""

    turn: int
    speaker: str
    field: str
    stated: str
    expected: str


def stated_fields(persona: Mapping[str, Any]) -> dict[str, str]:
    """Field -> value text of a persona (lists joined), with ``age`` read from the background if not a field."""
    fields = {str(k).replace("_", " ").lower(): ", ".join(map(str, v)) if isinstance(v, list) else str(v)
              for k, v in persona.items() if v not in (None, "", [], {}) and not isinstance(v, dict)}
    if "age" not in fields:
        found = _AGE_IN_TEXT.search(" ".join(fields.values()))
        if found:
            fields["age"] = found.group(1)
    return fields


def _goal_facts(dialog: Dialog) -> dict[str, str]:
    user = dialog.metadata.get("user")
    goal = user.get("goal") if isinstance(user, dict) else None
    facts = goal.get("facts") if isinstance(goal, dict) else None
    return {str(k).lower(): str(v) for k, v in facts.items()} if isinstance(facts, dict) else {}


def _field_claims(text: str, fields: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(field, stated, expected) for "my <field> is X" sentences whose X does not start like the field's value."""
    found = []
    for field, value in fields.items():
        if field == "age" or len(value) > 40:  # long free-text fields (background, rules) are not "my x is" facts
            continue
        match = re.search(rf"\bmy {re.escape(field)} is\s+([^.,;!?]+)", text, re.I)
        if match:
            stated = match.group(1).strip()
            expected = _plain_words(value)
            if expected and expected[0] not in _plain_words(stated):
                found.append((field, stated, value))
    return found


def _plain_words(text: str) -> list[str]:
    """Lower-cased words without punctuation ("Dr. Lee" -> ["dr", "lee"])."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _others(dialog: Dialog, speaker: str) -> dict[str, str]:
    """Lower-cased name or role of every other speaker -> which field it is."""
    names: dict[str, str] = {}
    for other, persona in dialog.personas.items():
        if other == speaker:
            continue
        for field in ("name", "role"):
            value = str(persona.get(field) or "").strip().lower()
            if value:
                names[value] = field
        names.setdefault(other.lower(), "name")
    return names


def _identity_claims(text: str, own: Mapping[str, str], others: Mapping[str, str]) -> list[tuple[str, str, str]]:
    found = []
    own_words = {own.get("name", "").lower(), own.get("role", "").lower()}
    for match in _SAID_IDENTITY.finditer(text):
        words = match.group(1).lower()
        for candidate in (words, words.split()[0]):
            if candidate in others and candidate not in own_words:
                field = others[candidate]
                found.append((field, match.group(0), own.get(field, "(not stated)")))
                break
    return found


def persona_flags(dialog: Dialog) -> list[PersonaFlag]:
    """The turns of ``dialog`` that contradict their speaker's persona, by the three rules above."""
    flags = []
    facts = _goal_facts(dialog)
    user = dialog.speakers[0] if dialog.speakers else None
    for index, turn in enumerate(dialog.turns):
        if turn.speaker is None:
            continue
        own = stated_fields(dialog.personas.get(turn.speaker, {}))
        if turn.speaker == user:
            own = {**facts, **own}
        claims = _field_claims(turn.text, own) + _identity_claims(turn.text, own, _others(dialog, turn.speaker))
        age = _SAID_AGE.search(turn.text)
        if age and own.get("age", "").isdigit() and age.group(1) != own["age"]:
            claims.append(("age", age.group(0), own["age"]))
        flags += [PersonaFlag(turn=index, speaker=turn.speaker, field=field, stated=stated, expected=expected)
                  for field, stated, expected in claims]
    return flags
