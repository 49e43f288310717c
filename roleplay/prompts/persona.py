"""The system prompt of a role-playing agent, built from its persona, the others and style examples."""

from __future__ import annotations

from collections.abc import Sequence

from roleplay.dialog import Dialog
from roleplay.personas._model import BasePersona
from roleplay.prompts import render
from roleplay.text._names import END_MARKER

__all__ = ["persona_system_prompt", "render_examples"]


def persona_system_prompt(
    name: str,
    persona: BasePersona,
    others: Sequence[tuple[str, BasePersona]],
    dialogue_details: str = "",
    end_marker: str = END_MARKER,
    examples: Sequence[Dialog] = (),
) -> str:
    """The system prompt of a role-playing agent: who it is, who it talks to, the rules, style examples.

    ``examples`` are shown as examples of tone and length (sdialog's ``example_dialogs``), marked as
    not part of this conversation; they never enter the agent's memory.
    """
    def who(other_name: str, other: BasePersona) -> str:
        role = getattr(other, "role", "") or ""
        return f"{other_name} ({role})" if role and role.lower() != other_name.lower() else other_name

    other_names = [n for n, _ in others]
    return render(
        "persona_system",
        name=name,
        persona=persona.description(),
        others=", ".join(who(n, p) for n, p in others) or "someone",
        other_names=" or ".join(other_names) or "others",
        details=f"About this conversation: {dialogue_details.strip()}\n" if dialogue_details.strip() else "",
        examples=render_examples(examples),
        end_marker=end_marker,
    )


def render_examples(examples: Sequence[Dialog]) -> str:
    """Example dialogues as a prompt section ("" without examples)."""
    if not examples:
        return ""
    blocks = ["\n".join(f"{turn.speaker}: {turn.text}" for turn in example.turns) for example in examples]
    return render("examples", dialogs="\n\n".join(blocks)) + "\n"

