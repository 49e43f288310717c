"""The AutoGen adapter: a persona becomes a talking `Agent`. The only module importing autogen_agentchat.

Each `Agent` is an AutoGen ``AssistantAgent`` with its own system prompt (persona, dialogue rules and
optional style examples) and its own memory (`roleplay.memory.AgentMemory`, a model context whose message
list it owns, showing the model the last ``context_window`` messages, or a summary and pinned facts with a
`MemoryPolicy`, so a long conversation never overflows a small model's context). The agent hears the other
parties' turns since it last spoke and answers with one turn. Its raw output is cleaned (a reasoning
model's ``<think>`` block, end marker, stray name prefixes, lines written for other speakers, an
unfinished last sentence) and the cleaned text replaces the raw one in its memory, so what it remembers
saying is what the transcript shows. `roleplay.guards` decides whether a turn is kept or asked for again
(`Agent.undo_last_reply`).

To replace AutoGen, reimplement `Agent` (its constructor and `reply`); nothing else in roleplay touches it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import TextMessage, ThoughtEvent
from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, UserMessage

from roleplay import defaults
from roleplay.backends import Model
from roleplay.dialog import Turn
from roleplay.memory import AgentMemory, MemoryPolicy
from roleplay.personas import BasePersona
from roleplay.prompts.persona import persona_system_prompt, render_examples
from roleplay.sentences import is_complete, trim_to_complete
from roleplay.structured import salvage_object
from roleplay.text import TRIM_KEY, Guards, Trim, identity_terms
from roleplay.text._cleaning import clean_reply, split_thought
from roleplay.text._names import DIRECTOR, END_MARKER, agent_id, check_unique_names

__all__ = ["DIRECTOR", "END_MARKER", "Agent", "Reply", "agent_id", "check_unique_names", "clean_reply",
           "persona_system_prompt", "render_examples", "split_thought"]


@dataclass
class Reply:
    """One cleaned turn from an agent, plus what the model spent on it and what it thought."""

    text: str
    end: bool
    raw: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    data: dict[str, Any] | None = None
    spoken: str = ""
    """The model's words before cleaning (thoughts removed), for the guards' label check."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Extras for the turn's metadata: ``thought`` of a reasoning model, ``guard`` decisions."""



class Agent:
    """A persona that talks: an AutoGen assistant with its own prompt, model and memory.

    ``others`` are the other parties as (label, persona) pairs: the agent needs their names to cut
    lines written for them and, with ``guards``, to notice when it speaks as one of them.
    """

    def __init__(
        self,
        name: str,
        persona: BasePersona,
        model: Model,
        system_prompt: str,
        context_window: int = defaults.CONTEXT_WINDOW,
        end_marker: str = END_MARKER,
        max_sentences: int | None = None,
        *,
        others: Sequence[tuple[str, BasePersona]] = (),
        guards: Guards | None = None,
        memory: MemoryPolicy | None = None,
        summariser: Model | None = None,
    ):
        """An agent; ``memory`` is its `MemoryPolicy` (default ``window``), ``summariser`` its summaries' model.

        ``summariser`` defaults to the agent's own ``model``.
        """
        self.name = name
        self.id = agent_id(name)
        self.persona = persona
        self.model = model
        self.system_prompt = system_prompt
        self.end_marker = end_marker
        self.max_sentences = max_sentences
        self.others = list(others)
        self.other_names = [n for n, _ in self.others]
        self.guards = guards or Guards()
        self._memory = AgentMemory(buffer_size=context_window, policy=memory, own_id=self.id)
        self.summariser = summariser or model
        self._turn_start = 0
        self._heard_count = itertools.count()
        self._assistant = AssistantAgent(
            name=self.id,
            model_client=model,
            system_message=system_prompt,
            model_context=self._memory,
            description=f"{name}, role-played from a persona",
        )

    @property
    def memory(self) -> AgentMemory:
        """What this agent heard and said (the model sees the last ``context_window`` messages)."""
        return self._memory

    def _own_names(self) -> list[str]:
        names = {self.name, self.id, getattr(self.persona, "name", "") or "", getattr(self.persona, "role", "") or ""}
        return sorted((n for n in names if n), key=len, reverse=True)

    @cached_property
    def identity(self) -> tuple[str, ...]:
        """What this agent is called: its label, persona name and role (see `guards.identity_terms`)."""
        return tuple(identity_terms(self.name, self.persona.model_dump()))

    @cached_property
    def other_identities(self) -> tuple[str, ...]:
        """What the other parties are called (worked out once: the guards ask on every attempt of every turn)."""
        personas = dict(self.others)
        return tuple(term for name in self.other_names
                     for term in identity_terms(name, personas[name].model_dump() if name in personas else None))

    async def reply(
        self,
        heard: Sequence[Turn],
        *,
        prefix_speakers: bool = False,
        instruction: str | None = None,
        schema: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float | None = None,
        no_repeat_ngram: int | None = None,
        cancellation_token: CancellationToken | None = None,
    ) -> Reply:
        """Hear the turns since this agent last spoke (and an optional director's note), then speak once.

        With ``schema``, the reply is decoded as JSON matching it (an action chosen from an enum, a yes or
        no with the ``utterance`` alongside); ``Reply.data`` holds the parsed object (cut off by the token
        limit: its complete values and the words of a cut string, `roleplay.structured.salvage_object`;
        None if nothing parsed), ``Reply.text`` the cleaned utterance. An unfinished last sentence dropped
        (``max_sentences``) is recorded as a `roleplay.guards.Trim` in ``Reply.metadata``. The director's note is
        forgotten afterwards, so per-turn guidance does not fill the memory. ``seed`` and ``temperature``
        replace the model's own for this reply (to resample it); ``no_repeat_ngram`` forbids repeating a
        run of that many tokens of the conversation (`roleplay.backends._no_repeat`). A reasoning model's
        thought is kept out of the turn and its memory, in ``Reply.metadata["thought"]``.
        """
        messages = self._messages(heard, prefix_speakers, instruction)
        await self._memory.compact(self.model, self.summariser, self.system_prompt, [m.content for m in messages])
        self._turn_start = len(self._memory.messages)
        with self.model.call_options(seed=seed, schema=schema, temperature=temperature,
                                     no_repeat_ngram=no_repeat_ngram):
            response = await self._respond(messages, cancellation_token or CancellationToken())
        raw = response.chat_message.to_text()  # a TextMessage (no tools, no output type): its content
        usage = response.chat_message.models_usage
        completion_tokens = usage.completion_tokens if usage else 0
        data = _json_object(raw) if schema is not None else None
        said, thought = split_thought(str(data.get("utterance", "")) if data is not None else
                                      ("" if schema is not None else raw))
        thoughts = [str(e.content) for e in response.inner_messages or [] if isinstance(e, ThoughtEvent)]
        thought = "\n".join(t for t in [*thoughts, thought or ""] if t) or None  # the model's own field first
        whole, end = clean_reply(said, self._own_names(), self.other_names, self.end_marker)
        text = whole if self.max_sentences is None else trim_to_complete(whole, self.max_sentences)
        metadata: dict[str, Any] = {"thought": thought} if thought else {}
        if text != whole and not is_complete(whole) and is_complete(text):  # an unfinished sentence dropped
            metadata[TRIM_KEY] = Trim.of(whole, completion_tokens, self.model.options.max_tokens).model_dump()
        self._memory.replace_last_reply(text, self.id)
        self._memory.forget_source(DIRECTOR)  # a note is for this turn: kept, notes would fill the context
        return Reply(
            text=text,
            end=end,
            raw=raw,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=completion_tokens,
            data=data,
            spoken=said,
            metadata={**metadata, **self._memory_note()},
        )

    def _memory_note(self) -> dict[str, Any]:
        """What the model did not see this turn, for the turn's metadata (nothing when it saw everything)."""
        hidden, cut = self._memory.out_of_window(), self.model.fitted_away
        if not (hidden or cut or self._memory.summaries):
            return {}
        return {"memory": {"policy": self._memory.policy.kind, "out_of_window": hidden, "fitted_away": cut,
                           "summaries": self._memory.summaries}}

    async def prime(self, turns: Sequence[Turn], prefix_speakers: bool = False) -> None:
        """Remember ``turns`` (a prefix, `Dialog.fork`) as if this agent had heard and said them."""
        for turn in turns:
            if turn.speaker == self.name:
                await self._memory.add_message(AssistantMessage(content=turn.text, source=self.id))
            else:
                text = f"[{turn.speaker}] {turn.text}" if prefix_speakers else turn.text
                await self._memory.add_message(UserMessage(content=text, source=agent_id(turn.speaker or "someone")))

    async def _respond(self, messages: Sequence[TextMessage], cancellation_token: CancellationToken) -> Response:
        """The assistant's final response, its event stream read to the end.

        AutoGen's ``on_messages`` returns as soon as it sees the response and leaves two async generators
        open; closing them later costs the event loop a wake-up and a task each, on every turn.
        """
        response = None
        async for event in self._assistant.on_messages_stream(messages, cancellation_token):
            if isinstance(event, Response):
                response = event
        if response is None:
            raise RuntimeError("AutoGen's assistant ended its stream without a response.")
        return response

    def _messages(self, heard: Sequence[Turn], prefix_speakers: bool, instruction: str | None) -> list[TextMessage]:
        """What this agent hears, as AutoGen messages, numbered by the agent.

        Given an id and a time, a message skips AutoGen's defaults (a random UUID, a deep copy of its
        metadata), which were most of what making it cost, on every turn of a batch.
        """
        now = datetime.now(UTC)

        def message(source: str, content: str) -> TextMessage:
            return TextMessage(source=source, content=content, id=f"{self.id}-heard-{next(self._heard_count)}",
                               metadata={}, created_at=now)
        messages = [message(agent_id(t.speaker or "someone"), f"[{t.speaker}] {t.text}" if prefix_speakers else t.text)
                    for t in heard]
        if instruction:
            messages.append(message(DIRECTOR, instruction))
        return messages

    def remember(self, text: str) -> None:
        """Replace what this agent remembers saying last (e.g. a tool call instead of its unused words)."""
        self._memory.replace_last_reply(text, self.id)

    def forget_last_reply(self) -> None:
        """Forget what this agent said last but keep what it heard (a choice made in JSON is not a turn)."""
        if self._memory.messages and isinstance(self._memory.messages[-1], AssistantMessage):
            self._memory.messages.pop()

    def undo_last_reply(self) -> None:
        """Forget the last `reply` call entirely (what it heard and said), so it can be asked again."""
        self._memory.truncate(self._turn_start)

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, model={self.model.name!r})"


def _json_object(raw: str) -> dict[str, Any] | None:
    """The JSON object of a structured reply; one cut by the token limit keeps its complete values."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return salvage_object(raw)
    return data if isinstance(data, dict) else None
