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

`AgentMemory` (the AutoGen model context each `roleplay.agents.Agent` owns) applies the policy, with the
fact finder and the summariser's call beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from autogen_core.model_context import ChatCompletionContext, ChatCompletionContextState
from autogen_core.models import AssistantMessage, FunctionExecutionResultMessage, LLMMessage, SystemMessage, UserMessage
from pydantic import ConfigDict, Field

from roleplay._checked import CheckedModel
from roleplay.backends import Model
from roleplay.backends._base import CONTEXT_MARGIN
from roleplay.errors import ConfigError
from roleplay.prompts import render
from roleplay.sentences import sentences
from roleplay.usage import MEMORY, Usage, metered

__all__ = ["AgentMemory", "MemoryPolicy", "Summary", "pin_message", "stated_facts", "summarise"]


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


class AgentMemory(ChatCompletionContext):
    """The agent's memory: every message it heard or said, of which the model sees the last ``buffer_size``.

    The message list is this class's own attribute (``messages``), so correcting the newest reply,
    forgetting director notes or rolling back a rejected turn never reaches into AutoGen's internals.
    ``policy`` (`roleplay.memory.MemoryPolicy`) says what happens to older messages: with ``summary``,
    `compact` replaces them with a summary; with ``facts``, the agent's own stated facts stay pinned.
    What it did is kept for the dialogue's events (`take_events`).
    """

    def __init__(self, buffer_size: int, policy: MemoryPolicy | None = None, own_id: str = "") -> None:
        super().__init__()
        if buffer_size <= 0:
            raise ConfigError(f"context_window must be at least 1, got {buffer_size}.")
        self.buffer_size = buffer_size
        self.messages: list[LLMMessage] = []
        self.policy = policy or MemoryPolicy()
        self.own_id = own_id
        self.summary = ""
        self.summarised_facts: list[str] = []
        self.summaries = 0
        self._events: list[dict[str, Any]] = []

    async def add_message(self, message: LLMMessage) -> None:
        self.messages.append(message)

    def window(self) -> list[LLMMessage]:
        """The last ``buffer_size`` messages (never starting on an orphaned tool result)."""
        window = self.messages[-self.buffer_size:]
        return window[1:] if window and isinstance(window[0], FunctionExecutionResultMessage) else window

    def out_of_window(self) -> int:
        """Messages kept but no longer shown to the model."""
        return len(self.messages) - len(self.window())

    async def get_messages(self) -> list[LLMMessage]:
        """The pinned summary and facts (if any), then the window."""
        window = self.window()
        pinned = pin_message(self.summary, self.pinned_facts(len(self.messages) - len(window)))
        return [pinned, *window] if pinned is not None else window

    def pinned_facts(self, hidden: int) -> list[str]:
        """With ``facts``: the agent's own stated facts from summarised messages and the ``hidden`` oldest ones."""
        if not self.policy.facts:
            return []
        own = [str(m.content) for m in self.messages[:hidden]
               if isinstance(m, AssistantMessage) and m.source == self.own_id]
        return stated_facts([*self.summarised_facts, *own], self.policy.max_facts)

    async def compact(self, model: Model, summariser: Model, system_prompt: str, incoming: Sequence[str]) -> None:
        """With ``summary``: if the next prompt would not fit, summarise all but the most recent messages.

        The next prompt is the system prompt, the pinned notes, the window and the ``incoming`` messages; it
        does not fit when it holds more messages than the window or more tokens than the model's context
        leaves after the reply's room. At most ``keep_recent`` messages stay word for word, fewer when they
        would fill more than half of that room (else the next turn would overflow again and a small context
        would write a summary every turn). Call it before the turn's messages are added (so undoing a turn
        never meets a summary).
        """
        if self.policy.kind != "summary" or len(self.messages) <= 1 or \
                not self._overflows(model, system_prompt, incoming):
            return
        old = len(self.messages) - self._kept(model, system_prompt, incoming)
        replaced = self.messages[:old]
        summary = await summarise(summariser, self.own_id, self.own_id, self.summary, replaced,
                                  _summary_seed(summariser, self.summaries))
        self.summarised_facts += [str(m.content) for m in replaced
                                  if isinstance(m, AssistantMessage) and m.source == self.own_id]
        self.summary = summary.text
        self.summaries += 1
        del self.messages[:old]
        self._events.append({"policy": "summary", **summary.model_dump()})

    def _room(self, model: Model, system_prompt: str, incoming: Sequence[str]) -> int | None:
        """Tokens left for the history (notes and window) in the next prompt; None when the context is unknown."""
        if not model.context_size:
            return None
        fixed: list[LLMMessage] = [SystemMessage(content=system_prompt),
                                   *(UserMessage(content=text, source="incoming") for text in incoming)]
        reply = int(model.options.max_tokens or 0) + CONTEXT_MARGIN
        return model.context_size - reply - model.count_tokens(fixed)

    def _overflows(self, model: Model, system_prompt: str, incoming: Sequence[str]) -> bool:
        if len(self.messages) + len(incoming) > self.buffer_size:
            return True
        room = self._room(model, system_prompt, incoming)
        pin = pin_message(self.summary, [])
        return room is not None and model.count_tokens([*([pin] if pin else []), *self.messages]) > room

    def _kept(self, model: Model, system_prompt: str, incoming: Sequence[str]) -> int:
        keep = min(self.policy.keep_recent, len(self.messages) - 1)
        room = self._room(model, system_prompt, incoming)
        while room is not None and keep > 1 and model.count_tokens(self.messages[-keep:]) > room // 2:
            keep -= 1
        return keep

    def take_events(self) -> list[dict[str, Any]]:
        """What the memory did since last asked (summaries written), for the dialogue's events."""
        events, self._events = self._events, []
        return events

    async def clear(self) -> None:
        self.messages = []

    async def save_state(self) -> Mapping[str, Any]:
        return ChatCompletionContextState(messages=self.messages).model_dump()

    async def load_state(self, state: Mapping[str, Any]) -> None:
        self.messages = ChatCompletionContextState.model_validate(state).messages

    def forget_source(self, source: str) -> None:
        """Drop every message from ``source`` (per-turn director notes need not pile up in memory)."""
        self.messages = [m for m in self.messages if getattr(m, "source", None) != source]

    def replace_last_reply(self, text: str, source: str) -> None:
        """Make the newest assistant message say ``text`` (the cleaned turn, without any thought)."""
        for index in range(len(self.messages) - 1, -1, -1):
            if isinstance(self.messages[index], AssistantMessage):
                self.messages[index] = AssistantMessage(content=text, source=source)
                return

    def truncate(self, length: int) -> None:
        """Forget everything after the first ``length`` messages (undo a turn)."""
        del self.messages[length:]


def _summary_seed(model: Model, index: int) -> int | None:
    """The seed of summary ``index``: derived from the model's (the dialogue's) seed, so a rerun repeats it."""
    seed = model.options.seed
    return None if seed is None else (seed * 1_000_003 + 7919 * (index + 1)) % 2**31
