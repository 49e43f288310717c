"""Who a turn speaks as: the names a speaker is known by, and the signs it speaks as someone else.

Pure functions of the text, so the guards (`roleplay.guards`) reject what evaluation
(`roleplay.evaluation.text`) measures, with the same patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = ["identity_terms", "role_confusion"]

_TITLE = re.compile(r"^(dr|mr|mrs|ms|prof)\.?\s", re.IGNORECASE)
_ASSISTANT = re.compile(r"^\s*here(?:'s|’s| is)\s+(?:a|an|another|the|your|some)\s+(?:[\w-]+\s+){0,2}?"
                        r"(?:samples?|examples?|versions?|revisions?|responses?|one for you|conversation|dialogue)\b",
                        re.IGNORECASE)
"""A chat model's own voice, out of any role: "Here's a sample of your responses.", "Here's a revised version of
the conversation:", "Here's another one for you to complete" (the embedded model, doctor_patient seeds 1, 12, 4242)."""
_GREETING = r"(?:hello|hi|hey|dear|welcome|thanks|thank you|bye|goodbye|morning|afternoon|evening|meet you)"
_CLAIM = (r"(?:i am|i'm|im|my name is|this is|call me|speaking as|i was|i've been|i have been|i work as|i worked as"
          r"|i'm working as)")
_AS_ROLE_I = r"(?:,?\s+(?:i|i'm|i've|i'd|i'll|my|me|we)\b)"
"""After "as a <role>": the speaker goes on about itself ("As your doctor, I advise"; not "she works as a doctor")."""
_SELF_AS = r"(?:\bme|\bmyself|\bi)\s*,?\s+as\s+(?:the|a|an|your|their|his|her|our)"
"""Me/I/myself *as* someone's role: "rely on me as their doctor", "I, as your doctor" ("you as my doctor" is fine)."""
_MY_TIME_AS = (r"\bmy\s+(?:\w+\s+)?(?:years?|job|work|role|duty|duties|experience|career|time|life|practice|training"
               r"|position)\s+as\s+(?:the|a|an|your|their)")
"""One's own past or work *as* a role: "my twenty years as a doctor", "my job as your doctor"."""
_NOT_POSSESSIVE = r"(?![\w-]|['’]s\b)"
"""A role word ends here and is not a possessive: "I'm the doctor's patient" claims nothing."""


def identity_terms(label: str | None, persona: Mapping[str, Any] | None = None) -> list[str]:
    """The words a speaker is known by: its label, its persona's name and role, and the role's last word."""
    persona = persona or {}
    terms = {label or "", str(persona.get("name") or ""), str(persona.get("role") or "")}
    role_words = str(persona.get("role") or "").split()
    if len(role_words) > 1:
        terms.add(role_words[-1])  # "family doctor" is also "doctor"
    title = _TITLE.match(str(persona.get("name") or ""))
    if title:
        terms.add(title.group(1))  # "Dr. Garcia" is also "Dr."
    return sorted((t.strip() for t in terms if t.strip()), key=len, reverse=True)


def _alternation(terms: Iterable[str]) -> str:
    return "|".join(re.escape(t).replace(r"\.", r"\.?") for t in terms)


class _RolePatterns(NamedTuple):
    """`role_confusion`'s regular expressions for one speaker's identity terms and the others'.

    Every claim names another party, and every address the speaker: ``others_keys`` and ``own_keys`` are
    words a text must contain for those patterns to match, so most turns skip them (see `_may_mention`).
    """

    label: re.Pattern[str] | None
    claims: tuple[re.Pattern[str], ...]
    narrated: re.Pattern[str] | None
    addressed: tuple[re.Pattern[str], ...]
    others_keys: tuple[str, ...]
    own_keys: tuple[str, ...]


def _search_keys(terms: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased words each match of a term's pattern contains (its text up to a dot, made optional)."""
    keys = [term.split(".")[0].lower() for term in terms]
    return tuple("" if not key.isascii() else key for key in keys)  # "": unsure, always search


def _may_mention(lowered: str, keys: Sequence[str]) -> bool:
    """Whether an ASCII text (lower-cased) holds one of ``keys``; a non-ASCII one is always searched.

    Exact for ASCII: there a case-insensitive pattern matches where the lower-cased word is a substring.
    """
    return not lowered.isascii() or any(key in lowered for key in keys)


@lru_cache(maxsize=1024)
def _role_patterns(own: tuple[str, ...], others: tuple[str, ...]) -> _RolePatterns:
    """Compiled once per pair of identities: a batch judges every turn of the same speakers again and again."""
    own_lower = {t.lower() for t in own}
    names = _alternation(t for t in others if t.lower() not in own_lower)
    mine = _alternation(own)
    everyone = _alternation([*own, *others])

    def compiled(*patterns: str) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in patterns)
    return _RolePatterns(
        label=compiled(rf"^\s*(\[({names})\]|({names})\s*:)")[0] if names else None,
        claims=compiled(rf"\b{_CLAIM}\s+(?:the |a |an |your )?({names}){_NOT_POSSESSIVE}",
                        # the same with a word or two before the role: "I'm a 45-year-old family doctor"
                        rf"\b{_CLAIM}\s+(?:the|a|an|your)\s+(?:[\w-]+\s+){{1,2}}?({names}){_NOT_POSSESSIVE}",
                        rf"(?:{_SELF_AS}|{_MY_TIME_AS})\s+({names}){_NOT_POSSESSIVE}",
                        rf"\bas\s+(?:a|an|the|your|their)\s+({names}){_AS_ROLE_I}",
                        rf"\b(?:we|us)\s+({names})s\b") if names else (),
        narrated=compiled(rf"(?:^|[.!?]\s+)(the\s+(?:{everyone}))(?:['’]s)?\s+\w"  # "The doctor asks"
                          rf"|^\s*(an?\s+(?:{everyone}))(?:\s+\w+s\b|\s*,)")[0]  # opens "A patient comes/, a"
                 if everyone else None,
        addressed=compiled(rf"(?:[,!]\s*|\b{_GREETING},?\s+)({mine})\s*[,.!?]",
                           rf"\byou(?:'re| are)\s+(?:the |a |an |my )?({mine})(?![\w-])") if own else (),
        others_keys=_search_keys(t for t in others if t.lower() not in own_lower),
        own_keys=_search_keys(own),
    )


def role_confusion(text: str, own: Sequence[str], others: Sequence[str], opening: str | None = None) -> str | None:
    """Why ``text`` is spoken as someone else (None if it is not); ``own``/``others`` from `identity_terms`.

    ``opening`` is the model's text before cleaning (which drops a leading label), checked for
    another speaker's label.
    """
    patterns = _role_patterns(tuple(own), tuple(others))
    label = patterns.label and patterns.label.match(opening or text)
    if label:
        return f"speaks under the label {label.group(0).strip()!r}"
    assistant = _ASSISTANT.match(text)
    if assistant:
        return f"speaks as an assistant handing over a text ({assistant.group(0).strip()!r})"
    lowered = text.lower()
    names_others, names_self = _may_mention(lowered, patterns.others_keys), _may_mention(lowered, patterns.own_keys)
    claim = next((m for p in patterns.claims if (m := p.search(text))), None) if names_others else None
    if claim:
        return f"claims to be {claim.group(1)!r}"
    narrated = patterns.narrated and (names_others or names_self) and patterns.narrated.search(text)
    if narrated:
        return f"narrates {narrated.group(narrated.lastindex or 0)!r} in the third person"
    addressed = next((m for p in patterns.addressed if (m := p.search(text))), None) if names_self else None
    if addressed:
        return f"addresses itself as {addressed.group(1)!r}"
    return None

