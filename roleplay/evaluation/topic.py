"""Does a dialogue stay on its scenario? Topic words, and who uses them how early.

The guards keep a small model from degenerating; they cannot see that a consultation about a headache
turned into small talk about "sharing expertise". These measures can, for any scenario:

- the topic words are the scenario's ``topic:`` list (saved with each dialogue as
  ``dialog.scenario["topic"]``), else the content words of its ``description`` that name no speaker
  (a rough default: "A father and his daughter plan her tenth birthday party" gives plan, tenth, birthday,
  party); a word also matches with a short ending added ("headache" in "headaches");
- `topic_start`: per speaker, whether it used a topic word in its first `FIRST_TURNS` turns (the patient
  states its complaint, the doctor asks about it);
- `mentions`: whether one turn uses a topic word; the share of such turns says whether the dialogue stays on topic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from roleplay.dialog import Dialog
from roleplay.sentences import words
from roleplay.text._roles import identity_terms

__all__ = ["FIRST_TURNS", "mentions", "topic_start", "topic_terms"]

FIRST_TURNS = 2
"""A speaker is on topic from the start when it uses a topic word in this many of its first turns."""
_ENDING = r"(?:s|es|ed|ing|ful|y)?"
"""Endings a topic word may take and still match ("headaches", "hurting", "painful")."""
_FUNCTION_WORDS = frozenset(
    "a an the and or but of to in on at by for from with about into over after before while during as is are was "
    "were be been being am do does did have has had this that these those their there they them his her its our "
    "your you he she we it who whom which what when where why how all any each every some other than then very "
    "just only also more most together today".split())


def topic_terms(dialog: Dialog) -> list[str]:
    """The words that show ``dialog`` is on its subject: the scenario's ``topic`` list, else its description's."""
    scenario = dialog.scenario if isinstance(dialog.scenario, dict) else {}
    if scenario.get("topic"):
        return [str(term).lower() for term in scenario["topic"]]
    names = {word for speaker in {*dialog.speakers, *dialog.personas}
             for term in identity_terms(speaker, dialog.personas.get(speaker)) for word in words(term)}
    skip = _FUNCTION_WORDS | names
    return list(dict.fromkeys(w for w in words(str(scenario.get("description") or "")) if w not in skip and len(w) > 2))


def mentions(text: str, terms: Sequence[str]) -> bool:
    """Whether ``text`` uses one of ``terms`` (whole words or phrases, case-insensitive, a short ending allowed)."""
    if not terms:
        return False
    alternation = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.search(rf"\b(?:{alternation}){_ENDING}\b", text, re.IGNORECASE) is not None


def topic_start(dialog: Dialog, terms: Sequence[str], first_turns: int = FIRST_TURNS) -> dict[str, bool]:
    """Speaker -> whether it used a topic word in its first ``first_turns`` turns (speakers who spoke only)."""
    said: dict[str, list[str]] = {}
    for turn in dialog.turns:
        said.setdefault(turn.speaker or "", []).append(turn.text)
    return {speaker: any(mentions(text, terms) for text in texts[:first_turns]) for speaker, texts in said.items()}
