"""A roleplay persona as a plain AutoGen agent: `as_autogen`.

The agent is an ``AssistantAgent`` whose system prompt is the one roleplay's own agents get (who it
is, who it talks to, the dialogue rules), so it drops into ``RoundRobinGroupChat``, ``SelectorGroupChat``
or ``GraphFlow`` beside any other AutoGen agent. Its AutoGen name is the persona's name made an
identifier (``'Dr. Smith' -> 'Dr_Smith'``); its description (what a selector reads) names its role.

``clean_replies=True`` puts roleplay's reply cleaning between the agent and its model: a leading own
name, lines written for the other parties and (with ``max_sentences``) rambling are removed before the
agent sees the reply, so its message and its memory hold the cleaned text. The end marker is kept at
the end of a reply that had it, so ``TextMentionTermination(END_MARKER)`` still ends the team's run
and `dialog_from_autogen` still records the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_core.model_context import BufferedChatCompletionContext
from autogen_core.models import ChatCompletionClient, CreateResult

from roleplay._checked import checked
from roleplay.backends import get_backend
from roleplay.backends._wrapped import ClientWrapper
from roleplay.errors import ConfigError
from roleplay.personas import BasePersona, Persona
from roleplay.prompts.persona import persona_system_prompt
from roleplay.text._cleaning import clean_reply
from roleplay.text._names import END_MARKER, agent_id

__all__ = ["OtherParty", "ReplyCleaningClient", "as_autogen"]

OtherParty = BasePersona | tuple[str, BasePersona] | str
"""Someone the persona talks to: a persona, (speaker name, persona), or just a name (a plain AutoGen agent)."""


class ReplyCleaningClient(ClientWrapper):
    """Cleans each text reply of ``inner`` as roleplay's agents do (tool calls pass untouched)."""

    def __init__(self, inner: ChatCompletionClient, own_names: Sequence[str], other_names: Sequence[str],
                 end_marker: str = END_MARKER, max_sentences: int | None = None):
        super().__init__(inner)
        self.own_names = list(own_names)
        self.other_names = list(other_names)
        self.end_marker = end_marker
        self.max_sentences = max_sentences

    def result(self, result: CreateResult) -> CreateResult:
        if not isinstance(result.content, str):
            return result
        text, end = clean_reply(result.content, self.own_names, self.other_names, self.end_marker,
                                self.max_sentences)
        return result.model_copy(update={"content": f"{text} {self.end_marker}".strip() if end else text})


def _party(other: OtherParty) -> tuple[str, BasePersona]:
    if isinstance(other, tuple):
        return other
    if isinstance(other, str):
        return other, Persona(name=other)
    if not other.display_name:
        raise ConfigError(f"A persona in others= has no name or role ({other!r}); pass it as (name, persona).")
    return other.display_name, other


def as_autogen(
    persona: BasePersona,
    model: str | ChatCompletionClient,
    *,
    name: str | None = None,
    others: Sequence[OtherParty] = (),
    dialogue_details: str = "",
    clean_replies: bool = False,
    max_sentences: int | None = None,
    end_marker: str = END_MARKER,
    context_window: int | None = None,
    description: str | None = None,
    **backend_options: Any,
) -> AssistantAgent:
    """An AutoGen ``AssistantAgent`` that role-plays ``persona``.

    Args:
        persona: who the agent is.
        model: a model string (``"ollama:qwen2.5:14b"``) or any AutoGen ``ChatCompletionClient``; a client is
            used as it is unless ``backend_options`` (seed, temperature, ...) are given.
        name: speaker name (default: the persona's name or role); AutoGen gets it as an identifier.
        others: who it talks to, for its system prompt.
        dialogue_details: what the conversation is about.
        clean_replies: clean each reply as roleplay's own agents do (see the module docstring).
        max_sentences: with ``clean_replies``, keep at most this many sentences per reply.
        end_marker: what the agent writes when the conversation is over.
        context_window: keep only the last this-many messages in the agent's memory (default: all).
        description: what a ``SelectorGroupChat`` reads about the agent (default: name and role).
        **backend_options: options for the model (`roleplay.backends.BackendOptions`).

    Raises:
        ConfigError: the persona has no name and none was given, or a backend option is wrong.
    """
    checked(persona, BasePersona, "as_autogen's persona", "write e.g. Persona(name='Ann', role='a doctor')")
    speaker = name or persona.display_name
    if not speaker:
        raise ConfigError(f"The persona has no name or role ({persona!r}); pass name='...'.")
    parties = [_party(o) for o in others]
    client: ChatCompletionClient = model if isinstance(model, ChatCompletionClient) and not backend_options \
        else get_backend(model, **backend_options)
    if clean_replies:
        own = {speaker, agent_id(speaker), getattr(persona, "name", "") or "", getattr(persona, "role", "") or ""}
        client = ReplyCleaningClient(client, sorted((n for n in own if n), key=len, reverse=True),
                                     [n for n, _ in parties], end_marker, max_sentences)
    role = getattr(persona, "role", "") or ""
    return AssistantAgent(
        name=agent_id(speaker),
        model_client=client,
        system_message=persona_system_prompt(speaker, persona, parties, dialogue_details, end_marker),
        description=description or (f"{speaker} ({role})" if role and role != speaker else speaker),
        model_context=BufferedChatCompletionContext(buffer_size=context_window) if context_window else None,
    )
