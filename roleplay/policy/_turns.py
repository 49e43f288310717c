"""What a policy run asks of the models each turn: an action and then its words, or a yes/no answer.

A policy turn is two calls (see docs/policies.md). First the action: JSON ``{"action"}`` alone
(`action_schema`), enforced an enum of the offered actions, so constrained decoding cannot produce an
illegal one; prompt-only free text. Then the words: a plain turn told which action it performs and its
example reply (`say_note`), which the guards judge like any other turn. No character cap decides where
a sentence ends: only the token limit can cut the words, and a cut turn is trimmed to its last
complete sentence with a `roleplay.guards.Trim` in its metadata.

A yes/no answer is JSON ``{"answer", "utterance"}``; its answer then leads the utterance, so the
transcript says what was decided, and a backend that ignored the schema still has its words kept. Its
utterance is bounded by the token budget (`answer_schema`); words cut there or by the limit are kept
(`roleplay.agents.Agent.reply` salvages a cut JSON) and trimmed to whole sentences by the guards, recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from roleplay.agents import Reply
from roleplay.dialog import Turn
from roleplay.orchestrator import TurnRequest
from roleplay.policy._answers import answer_of
from roleplay.policy.graph import describe
from roleplay.policy.tools import QueryResult
from roleplay.prompts import render
from roleplay.structured import chars_for

__all__ = ["ACTION_NAME_CHARS", "JSON_TOKENS", "UTTERANCE_MAX_CHARS", "YES_NO", "AnswerRequest",
           "action_note", "action_schema", "answer_request", "answer_schema", "result_note", "say_note"]

YES_NO = ("yes", "no")
"""The answers a yes/no turn chooses from."""
JSON_TOKENS = 16
"""Tokens a structured turn's JSON spends besides its values: the braces, the keys, the quotes."""
ACTION_NAME_CHARS = 64
"""Longest action name a prompt-only turn may write (its action is free text; a STAR label is under 40)."""
UTTERANCE_MAX_CHARS = 400
"""Longest yes/no utterance when the model's reply limit is not known."""


def action_schema(actions: Sequence[str] | None, max_tokens: int | None = None) -> dict[str, Any]:
    """JSON schema of a policy turn's action; ``actions`` None leaves it free text (prompt-only mode).

    Only the action: the words are asked for afterwards as a plain turn (`say_note`). A free action is
    bounded to what ``max_tokens`` (the model's reply limit) holds after the JSON around it.
    """
    if actions is not None:
        return {"type": "object", "properties": {"action": {"type": "string", "enum": list(actions)}},
                "required": ["action"]}
    budget = ACTION_NAME_CHARS if max_tokens is None else max(1, min(ACTION_NAME_CHARS,
                                                                      chars_for(max_tokens - JSON_TOKENS)))
    return {"type": "object", "properties": {"action": {"type": "string", "maxLength": budget}},
            "required": ["action"]}


def answer_schema(max_tokens: int | None = None, answers: Sequence[str] = YES_NO) -> dict[str, Any]:
    """JSON schema of a yes/no answer, ``answers`` the ones allowed.

    The utterance is bounded by what ``max_tokens`` holds after the JSON (`roleplay.structured.chars_for`),
    so the answer closes within the limit; words cut by that bound or by the limit are trimmed to their
    last complete sentence by the guards, recorded as a `roleplay.guards.Trim`.
    """
    limit = UTTERANCE_MAX_CHARS if max_tokens is None else max(1, chars_for(max_tokens - JSON_TOKENS))
    return {"type": "object", "properties": {"answer": {"type": "string", "enum": list(answers)},
                                             "utterance": {"type": "string", "maxLength": limit}},
            "required": ["answer", "utterance"]}



def action_note(graph: nx.DiGraph, options: Sequence[str], enforce: bool, result: str, users: Sequence[str],
                shares: Mapping[str, float] | None = None) -> str:
    """The director's note for a policy turn: the offered actions (enforced) or the flowchart reminder.

    ``shares`` (the prior's probability of each option) are shown beside the actions, so the model
    knows which step human agents usually take.
    """
    user = " and ".join(users)
    if not enforce:
        return render("policy_prompt_only_turn", result=result, user=user)
    listed = describe(graph, [o for o in options if o in graph], shares)
    return render("policy_turn", options=listed, first=options[0], result=result, user=user)


def say_note(graph: nx.DiGraph, action: str, result: str, users: Sequence[str]) -> str:
    """The director's note for a policy turn's words: the action chosen, its example reply, any tool result."""
    template = graph.nodes[action].get("template", "") if action in graph else ""
    example = f' Its example reply: "{template}"' if template else ""
    return render("policy_say", action=action, example=example, result=result, user=" and ".join(users))


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
