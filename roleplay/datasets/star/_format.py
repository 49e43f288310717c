"""STAR's file format: reading a file, checking a dialogue's shape, and turning it into a `Dialog`.

Real dialogues become `Dialog` objects with speakers ``User``/``System``: a wizard reply picked
from the suggestions carries its ``ActionLabel`` as the turn's ``action`` (``custom``, the wizard's
own text, carries none), and wizard queries become ``query`` events (``task``, ``action`` = the query
node, ``constraints``, ``item``, ``total``, ``found``), as do ``select_task`` switches.

``found`` is whether the call served the request: STAR's knowledge base answers a check or a booking with
an item either way, and says in its status ("That time is unavailable", "Reservation Failed") whether it
could (`reports_failure`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from roleplay._speakers import register_scenario_speakers
from roleplay.dialog import Dialog, Event, Turn
from roleplay.errors import DatasetError

__all__ = ["SYSTEM", "USER", "check_raw_dialog", "query_node", "read_json", "reports_failure", "scenario_tasks",
           "to_dialog", "user_name"]

USER, SYSTEM = "User", "System"
_NO_LABEL = {"custom"}
_FAILURE = re.compile(r"\b(?:unavailable|fail(?:ed|ure)?|unable|conflicting|not authori[sz]ed|must provide|"
                      r"try another)\b", re.IGNORECASE)
"""How STAR's status messages say a check or booking did not go through (every such message in STAR has one)."""


def read_json(path: Path) -> Any:
    """A STAR JSON file's contents; a damaged, binary or non-UTF-8 file is a `DatasetError` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path} is not UTF-8 text (byte {err.start}); is the copy damaged?", path) from err
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path} is not valid JSON ({err.msg}, line {err.lineno}); is the copy damaged?",
                           path) from err
    except OSError as err:
        raise DatasetError(f"Cannot read {path}: {err.strerror}.", path) from err


def check_raw_dialog(raw: Any, path: Path) -> dict[str, Any]:
    """``raw`` if it has STAR's dialogue shape (an object with a ``Scenario`` object, ``Events``, an int id)."""
    if not isinstance(raw, dict):
        raise DatasetError(f"{path} is not a STAR dialogue: its JSON is a {type(raw).__name__}, not an object. "
                           "Replace the file with the original from STAR.", path)
    missing = [k for k, kind in (("Scenario", dict), ("Events", list), ("DialogueID", int))
               if not isinstance(raw.get(k), kind)]
    if missing:
        raise DatasetError(f"{path} is not a STAR dialogue: no {' or '.join(missing)}. Replace the file with the "
                           "original from STAR.", path)
    return raw


def scenario_tasks(scenario: Any) -> list[str]:
    """The tasks (``WizardCapabilities[].Task``) of a STAR scenario; [] for anything that is not one."""
    if not isinstance(scenario, dict) or not isinstance(scenario.get("WizardCapabilities"), list):
        return []
    return [c["Task"] for c in scenario["WizardCapabilities"] if isinstance(c, dict) and "Task" in c]


_NAME = r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?"
_USER_NAME = [re.compile(p) for p in (
    rf"\bYou \(({_NAME})\)",                    # "You (Alexis) had an appointment..."
    rf"\bYour? are ({_NAME})(?= and\b|[.,])",     # "You are Brian White and...", STAR's typo "Your are Ben and..."
    rf"\bYour name(?: is|:)\s*({_NAME})",         # "Your name is Mark.", "About you: - Your name: Susan"
    rf"\bunder the name '({_NAME})'",            # "You booked the ride under the name 'Alexis'."
)]


def user_name(scenario: dict[str, Any]) -> str | None:
    """The user's name from STAR instructions: "You (Alexis) had...", "You are Brian White and...", "Your name is Mark".

    A name is one or two capitalised words in one of those phrasings, so "today (Thursday)" or "You are
    anticipating 20 guests" name nobody.
    """
    request = str(scenario.get("UserTask", ""))
    return next((m.group(1) for pattern in _USER_NAME if (m := pattern.search(request))), None)


def query_node(replies: dict[str, str], constraints: list[dict[str, Any]]) -> str:
    """Which query node a wizard query is: ``query_check``/``query_book`` by its RequestType, else ``query``."""
    request = next((str(v).strip('"').lower() for c in constraints for k, v in c.items() if k == "RequestType"), "")
    if request and f"query_{request}" in replies:
        return f"query_{request}"
    if "query" in replies:
        return "query"
    return next((r for r in replies if r.startswith("query") and r not in ("query_success", "query_failure")),
                "query")


def to_dialog(raw: dict[str, Any], replies: dict[str, dict[str, str]]) -> Dialog:
    """A checked raw dialogue (see `check_raw_dialog`) as a `Dialog`; ``replies``: task -> its template replies."""
    dialog = Dialog(id=raw.get("DialogueID"), scenario=raw["Scenario"], model="human (STAR)",
                    metadata={"completion_level": raw.get("CompletionLevel")})
    query: Event | None = None
    for event in raw["Events"]:
        if not isinstance(event, dict):
            continue
        agent, action = event.get("Agent"), event.get("Action")
        if agent == "User" and action == "utter":
            dialog.turns.append(Turn(USER, event.get("Text", "")))
        elif agent == "Wizard" and action in ("pick_suggestion", "utter"):
            label = event.get("ActionLabel") if action == "pick_suggestion" else None
            dialog.turns.append(Turn(SYSTEM, event.get("Text", ""), action=None if label in _NO_LABEL else label))
        elif agent == "Wizard" and action == "query":
            query = _query_event(event, len(dialog.turns), replies)
            dialog.events.append(query)
        elif agent == "KnowledgeBase" and action == "return_item" and query is not None:
            item = event.get("Item")
            query.data.update(item=item, total=event.get("TotalItems"), found=bool(item) and not reports_failure(item))
        elif agent == "Wizard" and action == "select_task":
            dialog.events.append(Event(type="select_task", turn=len(dialog.turns), data={"task": event.get("Task")}))
    return dialog


def reports_failure(item: Any) -> bool:
    """Whether a knowledge-base item is a status saying the call did not go through, not a result.

    Checks and bookings return one item either way: ``{"Message": "That time is unavailable. Please try
    another time."}``, ``{"ReservationStatus": "Reservation Failed"}``. Only the status fields (``Message``,
    ``...Status``) are read, so a search row's own words never count.
    """
    if not isinstance(item, dict):
        return False
    return any(isinstance(value, str) and _FAILURE.search(value) for key, value in item.items()
               if key == "Message" or key.endswith("Status"))


def _query_event(event: dict[str, Any], turn: int, replies: dict[str, dict[str, str]]) -> Event:
    task = event.get("APIName", "")
    constraints = event.get("Constraints", [])
    return Event(type="query", turn=turn, data={
        "task": task, "action": query_node(replies.get(task, {}), constraints), "constraints": constraints})


def _star_speakers(scenario: Any) -> tuple[str, str] | None:
    """User and System for a STAR scenario, in any generator (the tutorial's `DialogGenerator` too)."""
    return (USER, SYSTEM) if scenario_tasks(scenario) else None


register_scenario_speakers(_star_speakers)
