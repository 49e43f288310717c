"""The record of a turn cut to its last complete sentence (`Trim`), kept in the turn's metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TRIM_KEY", "Trim", "trim_of"]


TRIM_KEY = "trim"
"""The key of a turn's metadata that holds its `Trim` record."""


class Trim(BaseModel):
    """A turn shortened to its last complete sentence, recorded in ``turn.metadata["trim"]``.

    Made where words are cut: `roleplay.agents.Agent.reply` (an unfinished last sentence dropped) and the
    cut-off guard (`guarded_reply`). ``roleplay evaluate`` and ``roleplay report`` count these turns, and
    transcripts flag them, so a turn that was cut never passes for one said whole.
    """

    model_config = ConfigDict(extra="forbid")

    reason: Literal["token_limit", "char_limit", "unfinished"] = Field(
        description="token_limit: the reply used its whole max_tokens; char_limit: the text reached its schema's "
                    "maxLength; unfinished: it stopped mid-sentence anyway.")
    said: str = Field(description="The words before trimming.")

    @classmethod
    def of(cls, said: str, completion_tokens: int, max_tokens: int | None) -> Trim:
        """The record of trimming ``said``, from a reply of ``completion_tokens`` under a ``max_tokens`` limit."""
        hit = max_tokens is not None and completion_tokens >= max_tokens
        return cls(reason="token_limit" if hit else "unfinished", said=said)


def trim_of(metadata: Mapping[str, Any]) -> Trim | None:
    """The `Trim` record in a turn's ``metadata`` (None: the turn was not trimmed)."""
    record = metadata.get(TRIM_KEY)
    return Trim.model_validate(record) if isinstance(record, Mapping) else None

