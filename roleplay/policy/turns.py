"""What a policy run asks of the models each turn: an action from the policy agent, a yes/no from the other.

The policy agent's note and schema, and the other agent's clear answer when the policy agent asked a question.
The policy agent answers in JSON ``{"action", "utterance"}``: enforced, ``action`` is an enum of the
offered actions, so constrained decoding cannot produce an illegal one; prompt-only, it is free text.
A yes/no answer is JSON ``{"answer", "utterance"}``; its answer then leads the utterance, so the
transcript says what was decided, and a backend that ignored the schema still has its words kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from roleplay.agents import Reply
from roleplay.dialog import Turn
from roleplay.orchestrator import TurnRequest
from roleplay.policy.answers import answer_of
from roleplay.policy.graph import describe
from roleplay.policy.tools import QueryResult
from roleplay.prompts import render

__all__ = ["ANSWER_SCHEMA", "JSON_TOKENS", "UTTERANCE_MAX_CHARS", "YES_NO", "AnswerRequest", "action_note",
           "action_schema", "answer_request", "answer_schema", "result_note", "utterance_budget"]

UTTERANCE_MAX_CHARS = 300
"""Longest utterance a structured turn may carry (a small model otherwise rambles until the token limit)."""
YES_NO = ("yes", "no")
"""The answers a yes/no turn chooses from."""
JSON_TOKENS = 32
"""Tokens a structured turn's JSON spends around its utterance: the braces, both keys and the choice's name."""


def utterance_budget(max_tokens: int | None) -> int:
    """The longest utterance (characters) whose JSON still closes within ``max_tokens`` tokens.

    A token holds at least one character, so an utterance of ``max_tokens - JSON_TOKENS`` characters always
    fits; a longer one could be cut off by the token limit before its closing quote, and the turn would
    lose its action (a small model rambling inside the string did, with 160 tokens and 300 characters).
    """
    return UTTERANCE_MAX_CHARS if max_tokens is None else max(1, min(UTTERANCE_MAX_CHARS, max_tokens - JSON_TOKENS))


def _choice_and_utterance(field: str, choices: Sequence[str] | None,
                          max_chars: int = UTTERANCE_MAX_CHARS) -> dict[str, Any]:
    """JSON schema of a turn that picks ``field`` (from ``choices``; None: free text) and says an utterance."""
    choice: dict[str, Any] = {"type": "string", "enum": list(choices)} if choices is not None else {"type": "string"}
    return {
        "type": "object",
        "properties": {field: choice, "utterance": {"type": "string", "maxLength": max_chars}},
        "required": [field, "utterance"],
    }


def action_schema(actions: Sequence[str] | None, max_tokens: int | None = None) -> dict[str, Any]:
    """JSON schema of a policy turn; ``actions`` None leaves the action free (prompt-only mode).

    With ``max_tokens`` (the model's reply limit), the utterance is short enough for the JSON to close.
    """
    return _choice_and_utterance("action", actions, utterance_budget(max_tokens))


def answer_schema(max_tokens: int | None = None, answers: Sequence[str] = YES_NO) -> dict[str, Any]:
    """JSON schema of a yes/no answer, ``answers`` the ones allowed.

    With ``max_tokens``, the utterance is short enough for the JSON to close.
    """
    return _choice_and_utterance("answer", list(answers), utterance_budget(max_tokens))


ANSWER_SCHEMA = answer_schema()


def action_note(graph: nx.DiGraph, options: Sequence[str], enforce: bool, result: str, users: Sequence[str],
                shares: Mapping[str, float] | None = None) -> str:
    """The director's note for a policy turn: the offered actions (enforced) or the flowchart reminder.

    ``shares`` (the prior's probability of each option) are shown beside the actions, so the model
    knows which step human agents usually take.
    """
    user = " and ".join(users)
    if not enforce:
        return render("policy_prompt_only_turn", result=result, user=user)
    listed = describe(graph, [o for o in options if o in graph])
    if shares:
        listed = "\n".join(_with_share(line, shares) for line in listed.splitlines())
    return render("policy_turn", options=listed, first=options[0], result=result, user=user)


def _with_share(line: str, shares: Mapping[str, float]) -> str:
    """``- name: template`` with the share of human agents who took the action here."""
    name, _, template = line.removeprefix("- ").partition(": ")
    return f"- {name} (human agents: {shares.get(name, 0.0):.0%}): {template}"


def result_note(action: str, result: QueryResult) -> str:
    """What the agent is told about its tool call before it chooses again."""
    return f"Result of {action}: {result.brief()}\n"


@dataclass(frozen=True)
class AnswerRequest(TurnRequest):
    """Asks for a clear yes or no, and leads the spoken utterance with it."""

    def finish(self, turn: Turn, reply: Reply) -> None:
        """Lead the utterance with the structured yes/no; keep plain words from a backend that ignored the schema."""
        answer = reply.data.get("answer") if reply.data else None
        if answer not in YES_NO:
            raw = reply.raw.strip()
            if not turn.text and raw and not raw.startswith("{"):
                turn.text = raw
            return
        turn.metadata["answer"] = answer
        if answer_of(turn.text) != answer:
            turn.text = f"{answer.capitalize()}, {turn.text}" if turn.text else f"{answer.capitalize()}."


def answer_request(asker: str, max_tokens: int | None = None, decided: str | None = None) -> AnswerRequest:
    """The request for the answer to ``asker``'s yes/no question, from a model that says at most ``max_tokens``.

    ``decided`` (yes or no): the answer the user's goal already settles; the model only words it.
    """
    return AnswerRequest(instruction=render("answer_turn", asker=asker),
                         schema=answer_schema(max_tokens, [decided] if decided else YES_NO))
