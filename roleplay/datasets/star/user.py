"""The goal of a STAR scenario's user: its instructions and the facts its task's API needs from it.

STAR's user instructions (``UserTask``) name the user and the details of the request ("You (Robin) want to
book the Blue Room on Monday"); the task's API lists the inputs a call needs. `star_user_goal` puts the
two together: the user's name for every name-like input, for each categorical input the category the
instructions mention, and for each free-text or number input the value the instructions state for it
(`stated_value`: "Your account number is 7730112", "staying in room 212", "a ride from 'Harbor' to
'Library'"), unless the sentence says the user does not know it. Inputs the instructions do not settle
stay in ``needs`` for the user to answer from its instructions. Two more things come from the
instructions' words: how many rounds of the service the user wants (`rounds_in`: "play 5 questions" is 5;
every happy trivia scenario asks for several) and the answers it knows to numbered items
(`numbered_answers`: "You have answers for the following questions: (5) wind, (7) do not iron" is {"5":
"wind", "7": "do not iron"}).

Users also differ in how they behave (`roleplay.policy.user.Behaviour`): `behaviour_rates` mines how often
STAR's real users did each thing, per happy/unhappy scenario, from the dialogues of the mining folds only,
and `star_user_goal` draws a user's behaviours with those rates and its seed. What counts, per dialogue:

- ``facts_early``: the first user turn says one of the details the API needs (among users who have one);
- ``correction``: a user turn corrects itself ("sorry, I meant", "my mistake", "wrong");
- ``change_of_mind``: a user turn changes course ("actually", "instead", "on second thought");
- ``out_of_scope``: the wizard answered with ``out_of_scope`` (the user asked what it cannot do);
- ``quiet``: a user turn says nothing: no word but a filler ("hmm", "what?", "...");
- ``extra_round``: the wizard reached a goal twice though the instructions asked for one round;
- ``ends_early``: the dialogue was not completed (STAR's ``CompletionLevel``: the user left);
- ``hangs_up``: the wizard's last labelled action is not a goodbye (a terminal action): the user left first.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from typing import Any

import networkx as nx

from roleplay.datasets.star._format import SYSTEM, USER, scenario_tasks, user_name
from roleplay.datasets.star._loader import StarDataset, fold_of
from roleplay.dialog import Dialog
from roleplay.policy.graph import is_terminal
from roleplay.policy.tracker import FlowchartTracker, replay
from roleplay.policy.user import BEHAVIOURS, UserGoal, sample_behaviours

__all__ = ["NAME_INPUTS", "behaviour_rates", "dialog_behaviours", "fact_label", "numbered_answers", "rounds_in",
           "star_user_goal", "stated_value"]

NAME_INPUTS = frozenset({"CustomerName", "PatientName", "UserName", "RenterName", "GuestName", "FullName"})
"""API inputs that hold the user's own name."""

_LABELS = {  # the System asks for these as bank_ask_mothers_maiden_name / bank_ask_childhood_pets_name
    "SecurityAnswer1": "Mother's maiden name",
    "SecurityAnswer2": "Childhood pet's name",
}
"""API inputs whose ReadableName hides what they are -> the name the instructions and the System use."""

_CUES = {"PartySize": ("people",), "NumberGuests": ("guests",), "LockManufacturer": ("manufactured by",),
         "CustomerRequest": ("request",)}
"""API inputs -> other words the instructions name them by: "for 6 people", "the lock (manufactured by 'X')",
"Your request is: ..."."""

_ROLE_LEADS = {"departure": ("from", "you are at"), "arrival": ("to",)}
"""First word of an input's name -> the words that introduce its value: "a ride from 'Harbor' to 'Library'"."""

_ORDINALS = {"top": 0, "first": 0, "second": 1}
"""An ordinal in an input's name picks among the things its last word names: "Color Of Top Cable" is the X of
"swap the X cable and the Y cable"."""

_SKIPPED_TYPES = {"RequestType"}
_STATED_TYPES = {"ShortString", "LongString", "Integer"}
_NOT_KNOWN = re.compile(r"\byou\s+(?:don't|do not|didn't|did not|cannot|can't|forgot|never)\b|\bnor\b",
                        re.IGNORECASE)  # "you don't remember your PIN", not "the car company forgot your booking"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s+-\s+")  # " - " ends a list item: "- Your name: Sam - ..."
_EXAMPLE = re.compile(r"\(e\.g\.[^)]*\)", re.IGNORECASE)
_QUOTED = r"'[^']+'|\"[^\"]+\""
_NUMBER = r"\d[\d/-]*(?<=\d)(?![\w/])"
_UNTIL_CLAUSE_END = r"(?=\s+(?:and|but|-)\s|[,;()]|[.!?](?:\s|$)|$)"
_PLACE = rf"{_QUOTED}|[A-Z0-9]\w*(?:\s+(?:and\s+)?[A-Z0-9]\w*)*"
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


def fact_label(spec: dict[str, Any]) -> str:
    """The readable name of an API input's fact: STAR's ``ReadableName``, or `_LABELS`' where that hides it."""
    return _LABELS.get(spec["Name"]) or str(spec.get("ReadableName") or spec["Name"])


def _cues(spec: dict[str, Any]) -> list[str]:
    """Phrases naming the input: its label, that without a last "name"/"number", and `_CUES`.

    Dropping the last word finds "room 212" (Room Number), "the host is Maya" (Host Name) and "your childhood
    pet is Biscuit" (Childhood pet's name); brackets ("Price (monthly cold rent)") are dropped first.
    """
    label = re.sub(r"\s*\(.*?\)", "", fact_label(spec)).lower()
    short = re.sub(r"(?:'s)?\s+(?:name|number)$", "", label)
    return list(dict.fromkeys([label, short, *_CUES.get(spec["Name"], ())]))


def _value_pattern(kind: str) -> str:
    """A value as the instructions write it: quoted, a number, or (text) words up to the end of the clause."""
    if kind == "Integer":
        return r"\d+"
    if kind == "LongString":
        return rf"{_QUOTED}|[^.!?]+"
    return rf"{_QUOTED}|{_NUMBER}|[^,;()]+?{_UNTIL_CLAUSE_END}"


def _cue_patterns(spec: dict[str, Any]) -> list[re.Pattern[str]]:
    """Where a value follows (or, for numbers, precedes) one of the input's cues."""
    value, patterns = _value_pattern(spec["Type"]), []
    for cue in map(re.escape, _cues(spec)):
        patterns += [rf"\b{cue}\s+(?:is|are)\b:?\s*(?P<v>{value})",   # "your PIN is 4471", "symptoms are ..."
                     rf"\b{cue}:\s*(?P<v>{value})",                    # "Clearance Code: 5150"
                     rf"\b{cue}\s+(?P<v>{_QUOTED})",                   # "manufactured by 'Acme Locks'"
                     rf"\b{cue}\s+#?(?P<v>\d+)(?![\w/])"]              # "room 212", "booking id 207"
        if spec["Type"] == "Integer":
            patterns.append(rf"\b(?P<v>\d+)\s+{cue}\b")              # "for 6 people"
    leads = _ROLE_LEADS.get(fact_label(spec).lower().split()[0], ())
    # Case matters for places only: "to Harbor" names one, "to get" does not.
    return [*(re.compile(p, re.IGNORECASE) for p in patterns),
            *(re.compile(rf"\b{lead}\s+(?P<v>{_PLACE})") for lead in leads)]


def _nth_named(spec: dict[str, Any], sentence: str) -> str | None:
    """For an ordinal input ("Color Of Second Cable"), the n-th capitalised word before its last word ("cable")."""
    words = fact_label(spec).lower().split()
    index = next((_ORDINALS[w] for w in words if w in _ORDINALS), None)
    if index is None:
        return None
    named = re.findall(rf"\b([A-Z]\w*)\s+{re.escape(words[-1])}\b", sentence)
    return named[index] if index < len(named) else None


def stated_value(spec: dict[str, Any], request: str) -> str | None:
    """The value the instructions state for a free-text or number input, if a sentence states it.

    Examples (an "(e.g. ...)" aside is not the user's): "Your account number is 7730112", "staying in
    room 212", "You have been given a Clearance Code: 5150", "a ride from 'A' to 'B'". A sentence that says
    the user does not know it before the value ("you don't remember your PIN") states nothing.
    """
    if spec.get("Type") not in _STATED_TYPES:
        return None
    patterns = _cue_patterns(spec)
    for sentence in _SENTENCE_END.split(_EXAMPLE.sub("", request)):
        if (value := _nth_named(spec, sentence)) is not None:
            return value
        for match in (m for p in patterns for m in p.finditer(sentence)):
            if not _NOT_KNOWN.search(sentence, 0, match.start()):
                return match.group("v").strip().strip("'\"").strip()
    return None


_CORRECTION = re.compile(r"\b(?:i meant|i mean\b|sorry,? (?:i|it|that|my)\b|correction|my mistake|typo|wrong)",
                         re.IGNORECASE)
_CHANGE = re.compile(r"\b(?:changed? my mind|on second thought|instead|rather|actually)\b", re.IGNORECASE)
_FILLER = re.compile(r"^\W*(?:(?:h+m+|u+h+|u+m+|huh|what|e+r+)\W*)*$", re.IGNORECASE)


def dialog_behaviours(dialog: Dialog, goal: UserGoal, star: StarDataset, held_out: int | None) -> dict[str, bool]:
    """Which behaviours (see the module) the real user of ``dialog`` showed.

    ``facts_early`` is False too for a user with no detail to give (only its name): count it among users with one.
    """
    said = [t.text for t in dialog.turns if t.speaker == USER]
    details = [v.lower() for k, v in goal.facts.items() if k != "Your name"]
    graphs = {t: star.get_task_graph(t, held_out=held_out) for t in scenario_tasks(dialog.scenario)}
    tracker = FlowchartTracker(graphs)
    for _ in replay(tracker, dialog):
        pass
    return {
        "facts_early": bool(said and details and any(v in said[0].lower() for v in details)),
        "correction": any(_CORRECTION.search(text) for text in said),
        "change_of_mind": any(_CHANGE.search(text) for text in said),
        "out_of_scope": any(t.action == "out_of_scope" for t in dialog.turns if t.speaker == SYSTEM),
        "quiet": any(_FILLER.match(text) for text in said),
        "extra_round": goal.rounds == 1 and tracker.goal_arrivals() >= 2,
        "ends_early": (dialog.metadata.get("completion_level") or "Complete") != "Complete",
        "hangs_up": bool(tracker.steps) and not _terminal(graphs[tracker.steps[-1].task], tracker.steps[-1].action),
    }


def _terminal(graph: nx.DiGraph, action: str) -> bool:
    return action in graph and not graph.nodes[action].get("anywhere") and is_terminal(graph, action)


@functools.cache
def behaviour_rates(star: StarDataset, held_out: int | None = None) -> dict[bool, dict[str, float]]:
    """Happy (True) / unhappy (False) -> behaviour -> share of STAR's single-task users who showed it.

    Mined from the dialogues outside fold ``held_out`` (None: all), so a held-out scenario's user is drawn
    from other users' habits. ``facts_early`` is the share among users with a detail to give.
    """
    shown: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    users: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for dialog in star.iter_dialogs(progress=False, multitask=False):
        assert isinstance(dialog.id, int) and isinstance(dialog.scenario, dict), "check_raw_dialog checked both"
        if held_out is not None and fold_of(dialog.id) == held_out:
            continue
        happy, goal = bool(dialog.scenario.get("Happy", True)), star_user_goal(dialog.scenario, star)
        found = dialog_behaviours(dialog, goal, star, held_out)
        for kind, showed in found.items():
            if kind != "facts_early" or any(k != "Your name" for k in goal.facts):
                users[happy][kind] += 1
                shown[happy][kind] += showed
    return {happy: {kind: shown[happy][kind] / users[happy][kind] if users[happy][kind] else 0.0
                    for kind in BEHAVIOURS} for happy in (True, False)}


def star_user_goal(scenario: dict[str, Any], star: StarDataset, seed: int | None = None,
                   held_out: int | None = None) -> UserGoal:
    """The goal-aware user of a STAR scenario: its request, the facts it knows, the inputs its tasks need.

    With a ``seed``, its behaviours are drawn with STAR's rates for happy or unhappy users (`behaviour_rates`,
    mined without fold ``held_out``); ``extra_round`` adds a round.
    """
    request = str(scenario.get("UserTask", ""))
    name = user_name(scenario)
    facts: dict[str, str] = {"Your name": name} if name else {}
    needs: list[str] = []
    for task in scenario_tasks(scenario):
        api = star.get_api(task)
        for spec in api.get("input", []):
            if spec.get("Type") in _SKIPPED_TYPES:
                continue
            label, categories = fact_label(spec), list(spec.get("Categories") or [])
            if spec["Name"] in api.get("required", []):
                needs.append("Your name" if spec["Name"] in NAME_INPUTS and name else label)
            value = _mentioned(categories, request) if categories else stated_value(spec, request)
            if value and spec["Name"] not in NAME_INPUTS:
                facts.setdefault(label, value)
    happy = bool(scenario.get("Happy", True))
    behaviours = [] if seed is None else sample_behaviours(behaviour_rates(star, held_out)[happy],
                                                           random.Random(f"{seed}:user"))
    extra = any(b.kind == "extra_round" for b in behaviours)
    return UserGoal(request=request, facts=facts, needs=list(dict.fromkeys(needs)), happy=happy,
                    rounds=rounds_in(request) + extra, answers=numbered_answers(request), behaviours=behaviours)
