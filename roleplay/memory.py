"""What an agent keeps of a long conversation: a `MemoryPolicy` and the pieces that carry it out.

Three policies, chosen per agent (``PersonaDialogGenerator(memory=...)``, a scenario's ``memory:``):

- ``window`` (the default, as before): the model sees the last ``context_window`` messages, and a prompt
  still too long for the model's context loses its oldest history (`roleplay.backends.context`). What
  fell out is counted in the turn's metadata (``memory``), never silently.
- ``summary``: when the next prompt would not fit (too many tokens for the context, or more messages
  than the window), the oldest messages, all but the last few (``keep_recent`` at most), are replaced by a
  summary written by the agent's own model (or ``summary_model``) with a seed derived from the dialogue's,
  so a rerun writes the same summary. Each summary is an event of the dialogue (``type="memory"``: the text, what it
  replaced, the model, seed and tokens), so it can be audited; its tokens are counted apart
  (`roleplay.usage`, source ``memory``).
- ``facts`` (with either): sentences of the agent's own earlier turns that state a fact or a commitment
  (a number or code, "I will", "my X is") stay in the prompt, pinned after the system prompt, whatever
  is dropped or summarised. The persona's own facts are in the system prompt, which no policy drops.

The agent's memory (`roleplay.agents.AgentMemory`) applies the policy; this module holds the policy,
the fact finder and the summariser's call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from autogen_core.models import LLMMessage, SystemMessage, UserMessage
from pydantic import ConfigDict, Field

from roleplay._checked import CheckedModel
from roleplay.backends import Model
from roleplay.prompts import render
from roleplay.sentences import sentences
from roleplay.usage import MEMORY, Usage, metered

__all__ = ["MemoryPolicy", "Summary", "pin_message", "stated_facts", "summarise"]


class MemoryPolicy(CheckedModel):
    """How an agent keeps a conversation longer than its context (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["window", "summary"] = Field("window", description="window: drop the oldest; summary: "
                                               "replace them with a summary.")
    facts: bool = Field(False, description="Pin the agent's own stated facts and commitments.")
    summary_model: str | None = Field(None, description="Model string that writes summaries (None: the agent's).")
    keep_recent: int = Field(4, ge=1, description="Messages kept word for word after a summary, at most (fewer "
                             "when they would fill more than half the room for history).")
    max_facts: int = Field(8, ge=1, description="Pinned facts at most (the most recent are kept).")


_FACT = re.compile(r"\d|\b(I will|I'll|I won't|I shall|I promise|I can't|I cannot|I am|I'm|my \w+ (is|are|was|were))\b",
                   re.IGNORECASE)
"""A sentence that states something checkable later: a number or code, a promise, a fact about oneself."""


def stated_facts(texts: Iterable[str], limit: int) -> list[str]:
    """The fact-stating sentences of ``texts``, each once, the most recent ``limit`` of them in order."""
    found = [s.strip() for text in texts for s in sentences(text) if _FACT.search(s)]
    unique = list(dict.fromkeys(found))
    return unique[-limit:]


def pin_message(summary: str, facts: Sequence[str]) -> SystemMessage | None:
    """The message pinned after the system prompt: the summary and the facts (None when both are empty)."""
    if not summary and not facts:
        return None
    listed = "".join(f"\n- {fact}" for fact in facts)
    return SystemMessage(content=render("memory_pin", summary=summary,
                                        facts=f"\nWhat you said (keep to it):{listed}" if facts else ""))


class Summary(CheckedModel):
    """One summary written for an agent's memory (recorded as a dialogue event)."""

    text: str
    replaced: int = Field(description="Messages the summary replaced.")
    model: str
    seed: int | None
    usage: Usage


def _transcript(messages: Sequence[LLMMessage], own_id: str) -> str:
    lines = []
    for message in messages:
        source = getattr(message, "source", "") or ""
        who = "You" if source == own_id else source or "someone"
        lines.append(f"{who}: {message.content}")
    return "\n".join(lines)


async def summarise(model: Model, name: str, own_id: str, earlier: str, messages: Sequence[LLMMessage],
                    seed: int | None) -> Summary:
    """Ask ``model`` (with ``seed``) for a summary of ``earlier`` (the previous summary) and ``messages``."""
    prompt = render("memory_summary", earlier=f"Summary so far: {earlier}\n\n" if earlier else "",
                    transcript=_transcript(messages, own_id))
    with metered(MEMORY) as meter, model.call_options(seed=seed):
        result = await model.create([SystemMessage(content=render("memory_summary_system", name=name)),
                                     UserMessage(content=prompt, source="memory")])
    text = re.sub(r"<think>.*?(</think>|$)", "", str(result.content), flags=re.DOTALL | re.IGNORECASE).strip()
    spent = sum((usage for usage in meter.by_model.values()), Usage())
    return Summary(text=text or earlier, replaced=len(messages), model=model.name, seed=seed, usage=spent)
