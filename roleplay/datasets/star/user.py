"""The goal of a STAR scenario's user: its instructions and the facts its task's API needs from it.

STAR's user instructions (``UserTask``) name the user and the details of the request ("You (Robin) want
to book the Blue Room on Monday"); the task's API lists the inputs a call needs. `star_user_goal` puts
the two together: the user's name for every name-like input, and for each categorical input the
category the instructions mention. Inputs the instructions do not settle stay in ``needs`` for the
user to answer from its instructions.
"""

from __future__ import annotations

import re
from typing import Any

from roleplay.datasets.star.format import scenario_tasks, user_name
from roleplay.datasets.star.loader import StarDataset
from roleplay.policy.user import UserGoal

__all__ = ["NAME_INPUTS", "star_user_goal"]

NAME_INPUTS = frozenset({"CustomerName", "PatientName", "UserName", "RenterName", "GuestName", "FullName"})
"""API inputs that hold the user's own name."""

_SKIPPED_TYPES = {"RequestType"}


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
                    happy=bool(scenario.get("Happy", True)))
