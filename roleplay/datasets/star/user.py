"""The goal of a STAR scenario's user: its instructions and the facts its task's API needs from it.

STAR's user instructions (``UserTask``) name the user and the details of the request ("You (Robin) want
to book the Blue Room on Monday"); the task's API lists the inputs a call needs. `star_user_goal` puts
the two together: the user's name for every name-like input, and for each categorical input the
category the instructions mention. Inputs the instructions do not settle stay in ``needs`` for the
user to answer from its instructions. Two more things come from the instructions' words: how many rounds
of the service the user wants (`rounds_in`: "play 5 questions" is 5; every happy trivia scenario asks
for several) and the answers it knows to numbered items (`numbered_answers`: "You have answers for the
following questions: (5) wind, (7) do not iron" is {"5": "wind", "7": "do not iron"}).
"""

from __future__ import annotations

import re
from typing import Any

from roleplay.datasets.star.format import scenario_tasks, user_name
from roleplay.datasets.star.loader import StarDataset
from roleplay.policy.user import UserGoal

__all__ = ["NAME_INPUTS", "numbered_answers", "rounds_in", "star_user_goal"]

NAME_INPUTS = frozenset({"CustomerName", "PatientName", "UserName", "RenterName", "GuestName", "FullName"})
"""API inputs that hold the user's own name."""

_SKIPPED_TYPES = {"RequestType"}
_NUMBER_WORDS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten".split(), 1)}
_ROUNDS = re.compile(rf"\b(?:play|answer|do|get)\s+(\d+|{'|'.join(_NUMBER_WORDS)})\s+(?:more\s+)?"
                     r"(?:questions|rounds|games)\b", re.IGNORECASE)
_NUMBERED_ITEM = re.compile(r"\((\d+)\)\s*([^,;.!?()]+)")


def rounds_in(request: str) -> int:
    """How many rounds of the service the instructions ask for ("play 5 questions", "play three rounds"); 1."""
    match = _ROUNDS.search(request)
    if not match:
        return 1
    count = match.group(1).lower()
    return max(1, int(count) if count.isdigit() else _NUMBER_WORDS[count])


def numbered_answers(request: str) -> dict[str, str]:
    """Item number -> answer, from the sentences about answers: "(5) wind, (7) do not iron" -> {"5": "wind", ...}."""
    return {number: answer.strip() for sentence in re.split(r"(?<=[.!?])\s+", request)
            if re.search(r"\banswers?\b", sentence, re.IGNORECASE)
            for number, answer in _NUMBERED_ITEM.findall(sentence) if answer.strip()}


def _mentioned(categories: list[str], text: str) -> str | None:
    """The longest category the text mentions as a whole word or phrase."""
    if {c.lower() for c in categories} <= {"yes", "no", "true", "false"}:
        return None  # "no" is in too many sentences to settle a yes/no input
    for category in sorted(categories, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(category)}(?!\w)", text, re.IGNORECASE):
            return category
    return None


def star_user_goal(scenario: dict[str, Any], star: StarDataset) -> UserGoal:
    """The goal-aware user of a STAR scenario: its request, the facts it knows, the inputs its tasks need."""
    request = str(scenario.get("UserTask", ""))
    name = user_name(scenario)
    facts: dict[str, str] = {"Your name": name} if name else {}
    needs: list[str] = []
    for task in scenario_tasks(scenario):
        api = star.get_api(task)
        for spec in api.get("input", []):
            readable = str(spec.get("ReadableName") or spec["Name"])
            if spec.get("Type") in _SKIPPED_TYPES:
                continue
            if spec["Name"] in api.get("required", []):
                needs.append("Your name" if spec["Name"] in NAME_INPUTS and name else readable)
            value = _mentioned(list(spec.get("Categories") or []), request)
            if value and spec["Name"] not in NAME_INPUTS:
                facts.setdefault(readable, value)
    return UserGoal(request=request, facts=facts, needs=list(dict.fromkeys(needs)),
                    happy=bool(scenario.get("Happy", True)), rounds=rounds_in(request),
                    answers=numbered_answers(request))
