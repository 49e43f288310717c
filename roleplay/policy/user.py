"""A goal-aware simulated user: it knows what it wants and what it knows, and when it is done.

`UserGoal` is what the user came for (its instructions) and the facts the policy agent will need from it
(slot → value: its name, the day, the room...), how many rounds of the service it wants (``rounds``: five
trivia questions are five arrivals at a goal) and the answers it knows to numbered items the agent looks
up (``answers``: trivia question 5 → "wind"). `UserState` follows the conversation: which facts the
user has said, how many goals the policy agent reached, whether its request was served (a goal node
reached ``rounds`` times) or clearly refused, how many
closing turns it has said (the policy agent may say goodbye after the first and must after the
second), and how often it tried to end before the goal (a quit attempt, ignored and counted:
simulated users are known to give up early). `user_note` is the director's note for the user's next
turn, by stage: state the request, answer from the facts (and, with rounds left, ask for the next
round), or thank and close. `GoalUser` holds one dialogue's goal and state, and answers what the policy
orchestrator asks of the user (its note, its stage, a yes it has settled, whether it has closed).

Users differ: a goal carries ``behaviours`` (`Behaviour`: what, at which of the user's turns), drawn per
dialogue with frequencies mined from real users (`sample_behaviours`; STAR's in
`roleplay.datasets.star.user.behaviour_rates`): giving every detail in the first turn (``facts_early``),
correcting a detail (``correction``), asking something out of scope (``out_of_scope``), wavering on a
detail (``change_of_mind``), saying next to nothing for a turn (``quiet``), wanting the service once more
(``extra_round``), leaving before being served (``ends_early``: from that turn on it closes), ending the
dialogue with its own second closing turn ("no, that's all, bye" after "anything else?"), before the
agent's goodbye (``hangs_up``; a user who leaves early hangs up at once). The note of that turn asks for
it and the state records it (``played``); the policy agent's answer stays on its graph whatever the user says.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roleplay.prompts import render

__all__ = ["BEHAVIOURS", "Behaviour", "BehaviourKind", "GoalUser", "Stage", "UserGoal", "UserState", "known_answer",
           "relevant_fact", "sample_behaviours", "user_note"]

Stage = str
_WORD = re.compile(r"[a-z]+")
_ASKED = re.compile(r"(?:^|_)ask_")
_STOP_WORDS = {"ask", "the", "of", "for", "your", "s"}

BehaviourKind = Literal["facts_early", "correction", "out_of_scope", "change_of_mind", "quiet", "extra_round",
                        "ends_early", "hangs_up"]
BEHAVIOURS: tuple[str, ...] = ("facts_early", "correction", "out_of_scope", "change_of_mind", "quiet", "extra_round",
                               "ends_early", "hangs_up")
_WHOLE_DIALOGUE = ("facts_early", "extra_round", "hangs_up")
LATEST_TURN = 2
"""`sample_behaviours` puts a mid-dialogue behaviour on one of the user's turns 1..LATEST_TURN (0 is its request)."""

_ASKS = {
    "correction": "In this turn, first give {fact} wrongly, then correct yourself at once (\"sorry, I mean {value}\").",
    "out_of_scope": "Also ask {agent} about one thing it cannot help with, something outside its service.",
    "change_of_mind": "In this turn, say you are thinking of changing {fact}, then decide to keep {value} after all.",
    "quiet": "Say very little in this turn: a few words, none of your details.",
}
"""What the note asks for on a behaviour's turn ({fact}, {value}: a detail of the user's; {agent}: the other)."""


class Behaviour(BaseModel):
    """One way this user departs from the plain cooperative user, and on which of its turns."""

    model_config = ConfigDict(extra="forbid")

    kind: BehaviourKind = Field(description="What the user does (see the module).")
    turn: int = Field(0, ge=0, description="The user's own turn it happens on (0: its first).")


class UserGoal(BaseModel):
    """What the simulated user wants and the facts it can give."""

    model_config = ConfigDict(extra="forbid")

    request: str = Field(description="The user's instructions: what it came for.")
    facts: dict[str, str] = Field(default_factory=dict, description="Readable slot name -> the user's value.")
    needs: list[str] = Field(default_factory=list, description="Slots the agent's tool requires (readable names).")
    happy: bool = Field(True, description="False: the user may be refused; it ends once clearly refused.")
    patience: int = Field(2, ge=1, description="Happy path: refusals after which the user gives up anyway.")
    rounds: int = Field(1, ge=1, description="Times the request must be served (goals reached) before the user "
                        "is done: 'play 5 questions' is 5.")
    answers: dict[str, str] = Field(default_factory=dict, description="Number of an item the agent looks up "
                                    "(a trivia question) -> the user's answer to it.")
    behaviours: list[Behaviour] = Field(default_factory=list, description="How this user departs from the plain "
                                        "cooperative one, drawn per dialogue (`sample_behaviours`).")

    def behaviour_at(self, turn: int) -> Behaviour | None:
        """The behaviour planned for the user's ``turn`` (its own turns, from 0), if any."""
        return next((b for b in self.behaviours if b.turn == turn and b.kind in _ASKS), None)

    def wants(self, kind: str) -> bool:
        """Whether the user plans behaviour ``kind``."""
        return any(b.kind == kind for b in self.behaviours)

    def leaves_at(self) -> int | None:
        """The user's turn from which it closes unserved (``ends_early``), if it plans to."""
        return next((b.turn for b in self.behaviours if b.kind == "ends_early"), None)


def sample_behaviours(rates: Mapping[str, float], rng: random.Random) -> list[Behaviour]:
    """Draw each behaviour with its rate (share of real users who showed it), in `BEHAVIOURS` order.

    ``facts_early``, ``extra_round`` and ``hangs_up`` concern the whole dialogue (turn 0); the others get one of the
    user's turns 1..`LATEST_TURN` (``ends_early``: two later, so it leaves mid-dialogue). Every behaviour
    consumes the same draws whatever the rates, so one seed gives comparable users under different rate tables.
    """
    drawn: list[Behaviour] = []
    for kind in BEHAVIOURS:
        happens, turn = rng.random() < rates.get(kind, 0.0), rng.randint(1, LATEST_TURN)
        if not happens:
            continue
        if kind in _ASKS:
            while any(b.turn == turn and b.kind in _ASKS for b in drawn):
                turn += 1  # one asked-for behaviour per turn: a clash moves to the next turn
        drawn.append(Behaviour(kind=kind, turn=0 if kind in _WHOLE_DIALOGUE else
                               turn + 2 if kind == "ends_early" else turn))
    return drawn


class UserState(BaseModel):
    """Where the simulated user is; recorded in every user turn's metadata and in the dialogue's."""

    turns: int = Field(0, description="Turns the user has spoken.")
    said: list[str] = Field(default_factory=list, description="Facts the user has mentioned so far.")
    goals: int = Field(0, description="Times the policy agent arrived at a goal (rounds served so far).")
    served: bool = Field(False, description="The request was served: every round (the policy reached a goal "
                         "as many times as the goal's rounds).")
    refusals: int = Field(0, description="Times the agent said it could not do it.")
    closing_turns: int = Field(0, description="Closing turns the user has said (thanks, nothing else, goodbye).")
    quit_attempts: int = Field(0, description="End signals the user gave before its request was served.")
    played: list[str] = Field(default_factory=list, description="The behaviours the user was asked to play so far.")
    hung_up: bool = Field(False, description="The user's closing turn ended the dialogue (it hangs up or leaves "
                          "early), before the policy agent's goodbye.")

    def stage(self, goal: UserGoal) -> Stage:
        """``ask`` (nothing said yet), ``inform`` (answering), ``close`` (served or refused) or ``closed``."""
        if self.closing_turns:
            return "closed"
        if self.served or self.refusals >= (goal.patience if goal.happy else 1) or self.leaving(goal):
            return "close"
        return "inform" if self.turns else "ask"

    def leaving(self, goal: UserGoal) -> bool:
        """Whether an unserved user that planned to end early (``ends_early``) has reached that turn."""
        leaves = goal.leaves_at()
        return not self.served and leaves is not None and self.turns >= leaves

    def hear_self(self, goal: UserGoal, text: str, wants_end: bool, stage: Stage) -> None:
        """Update from the user's own turn: facts said, a closing turn, a premature end signal."""
        lowered = text.lower()
        planned = _planned(goal, self, stage)
        if planned is not None or (stage == "ask" and goal.wants("facts_early")):
            self.played.append(planned.kind if planned is not None else "facts_early")
        if stage == "close" and self.leaving(goal) and "ends_early" not in self.played:
            self.played.append("ends_early")
        if (stage == "closed" and goal.wants("hangs_up")) or (stage == "close" and self.leaving(goal)):
            self.hung_up = True  # a served user hangs up on its second closing turn (after "anything else?")
            self.played += ["hangs_up"] if goal.wants("hangs_up") else []
        if goal.wants("extra_round") and 0 < self.goals < goal.rounds and "extra_round" not in self.played:
            self.played.append("extra_round")  # served once, it asks for one more
        self.turns += 1
        self.said += [n for n, value in goal.facts.items() if n not in self.said and value.lower() in lowered]
        if stage in ("close", "closed"):
            self.closing_turns += 1
        elif wants_end:
            self.quit_attempts += 1


def _words(text: str) -> set[str]:
    """Content words, plurals and possessives cut to the stem ("mothers", "Mother's" -> "mother").

    "name" counts only alone: ``ask_name`` asks for "Your name", ``doctor_ask_doctor_name`` for the doctor.
    """
    words = _WORD.findall(text.lower().replace("_", " "))
    content = {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words} - _STOP_WORDS
    return content - {"name"} if len(content) > 1 else content


def relevant_fact(goal: UserGoal, action: str | None) -> str | None:
    """The fact the agent's action asks for, by the words they share (``doctor_ask_doctor_name`` → Doctor Name).

    Only the words after "ask" count (``doctor_ask_start_time`` asks for a time, not the doctor's name; but
    ``hotel_ask_name`` asks for the hotel's), and a fact scores the share of all the words the two use
    (Jaccard): for ``doctor_ask_start_time``, "Start Time Hour" beats "Start Day".
    """
    if not action:
        return None
    owner, asked = _ASKED.split(action, maxsplit=1) if _ASKED.search(action) else ("", action)
    wanted = _words(asked)
    if wanted == {"name"} and owner:
        wanted = _words(owner)  # hotel_ask_name asks for the hotel's name; ask_name for yours
    scored = [(len(wanted & words) / len(wanted | words or {""}), -i, name)
              for i, name in enumerate(goal.facts) for words in [_words(name)]]
    best = max(scored, default=(0.0, 0, None))
    return best[2] if best[0] > 0 else None


def known_answer(goal: UserGoal, looked_up: Mapping[str, object]) -> str | None:
    """The number of the item the agent's last tool call looked up, if the user knows its answer."""
    return next((str(v) for v in looked_up.values() if str(v) in goal.answers), None)


def _opening(goal: UserGoal, state: UserState, agent: str, stage: Stage) -> str:
    """What the user's turn should do: state the request, answer, or (rounds left) ask for the next round."""
    if stage == "ask":
        return ("State what you want and give all your details in this one turn." if goal.wants("facts_early")
                else "State what you want in one sentence.")
    if 0 < state.goals < goal.rounds:
        return (f"{agent} has served {state.goals} of the {goal.rounds} rounds you want, so you want the next one: "
                "answer what was just asked, and if asked whether to go on, say yes.")
    return "Answer what was just asked, from your details."


def user_note(goal: UserGoal, state: UserState, agent: str, last_action: str | None,
              looked_up: Mapping[str, object] | None = None) -> str:
    """The director's note for the user's next turn, by stage (see `UserState.stage`).

    ``looked_up``: the arguments of the agent's last tool call; a numbered item among them whose answer the
    user knows (``goal.answers``) is the hint, ahead of the fact the action asks for.
    """
    stage = state.stage(goal)
    facts = "; ".join(f"{name}: {value}" for name, value in goal.facts.items()) or "see your instructions"
    if stage in ("close", "closed"):
        why = "was handled" if state.served else "is taking too long" if state.leaving(goal) else "cannot be done"
        return render("user_goal_close", agent=agent, why=why, again="" if stage == "close" else " again")
    item, fact = known_answer(goal, looked_up or {}), relevant_fact(goal, last_action)
    if item is not None:
        hint = f" {agent} just looked up number {item}: your answer to it is {goal.answers[item]}."
    else:
        hint = f" {agent} asks for your {fact}: it is {goal.facts[fact]}." if fact else ""
    opening, planned = _opening(goal, state, agent, stage), _planned(goal, state, stage)
    if planned is not None:
        name = fact or next(iter(goal.facts), "")
        named = name if name.lower().startswith("your") else f"your {name}" if name else "a detail"
        asked = _ASKS[planned.kind].format(fact=named,
                                           value=goal.facts.get(name, "it"), agent=agent)
        opening, hint = f"{asked} {opening}", "" if planned.kind == "quiet" else hint
    return render("user_goal_turn", agent=agent, request=goal.request, facts=facts, hint=hint, opening=opening)


def _planned(goal: UserGoal, state: UserState, stage: Stage) -> Behaviour | None:
    """The mid-dialogue behaviour the user's next turn plays: one planned for it, while it is still answering."""
    return goal.behaviour_at(state.turns) if stage == "inform" else None


class GoalUser:
    """The goal-aware user of one dialogue: what it came for (``goal``; None: no goal-aware user) and where it is.

    The policy orchestrator keeps one per dialogue and asks it, turn by turn, for everything that depends
    on the user's goal, so the loop does not reach into goals and states itself.
    """

    def __init__(self, goal: UserGoal | None = None) -> None:
        self.goal = goal
        self.state = UserState()

    @property
    def rounds(self) -> int:
        """Times the user wants the service (1 without a goal)."""
        return self.goal.rounds if self.goal is not None else 1

    def stage(self) -> Stage:
        """Where its next turn is (`UserState.stage`); empty without a goal."""
        return self.state.stage(self.goal) if self.goal is not None else ""

    def hear_self(self, text: str, wants_end: bool, stage: Stage) -> dict[str, object] | None:
        """Update from its own turn said at ``stage``; returns the state to record on that turn (None: no goal)."""
        if self.goal is None:
            return None
        self.state.hear_self(self.goal, text, wants_end, stage)
        return {"stage": stage, **self.state.model_dump()}

    def note(self, agent: str, last_action: str | None, looked_up: Mapping[str, object],
             out_of_scope: bool = False) -> str:
        """The director's note for its next turn (`user_note`); ``out_of_scope``: also ask something out of scope."""
        goal = self.goal
        if goal is None:
            return ""
        if out_of_scope:
            goal = goal.model_copy(update={"behaviours": [b for b in goal.behaviours if b.turn != self.state.turns]
                                           + [Behaviour(kind="out_of_scope", turn=self.state.turns)]})
        return user_note(goal, self.state, agent, last_action, looked_up)

    def settled_answer(self, offer_pending: bool) -> str | None:
        """The yes a happy user gives to an offer of what it came for, before it is served; else None (the model's)."""
        if self.goal is None or not self.goal.happy or self.state.served:
            return None
        return "yes" if offer_pending else None

    @property
    def closed(self) -> bool:
        """Whether the policy agent may say goodbye: the user has closed once (or there is no goal-aware user)."""
        return self.goal is None or self.state.closing_turns > 0

    @property
    def must_end(self) -> bool:
        """Whether the policy agent must say goodbye now: the user has closed twice."""
        return self.goal is not None and self.state.closing_turns > 1

    def served_rounds(self, goals: int, served: bool) -> bool:
        """Record the goals the policy agent reached; whether a new round starts (a goal with rounds left)."""
        new_round = self.state.goals < goals < self.rounds
        self.state.goals, self.state.served = goals, served
        return new_round

    def record(self) -> dict[str, object] | None:
        """The dialogue's ``metadata["user"]``: its goal and final state (None: no goal-aware user)."""
        return {"goal": self.goal.model_dump(), **self.state.model_dump()} if self.goal is not None else None
