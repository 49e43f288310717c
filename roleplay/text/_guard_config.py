"""`Guards`: which degeneration guards run and how hard they try.

The checks they run are in `roleplay.text`; the resampling that redoes a rejected turn is `roleplay.guards`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from roleplay.sentences import words
from roleplay.text._repetition import FORMULA_WORDS

__all__ = ["HOTTEST", "Guards"]


HOTTEST = 1.3
"""The hottest a resample runs: hotter, a small model stops making sense."""


class Guards(BaseModel):
    """Which degeneration guards run and how hard they try (on by default)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Run the guards at all.")
    near_copy: float = Field(default=85.0, ge=0, le=100, description="rapidfuzz ratio (0-100) from which a turn "
                             "counts as a copy of an earlier turn.")
    role_confusion: bool = Field(default=True, description="Redo turns spoken as another party.")
    cut_off: bool = Field(default=True, description="Trim or redo empty and unfinished turns.")
    min_words: int = Field(default=7, ge=1, description="Shorter turns are copies only when said again word for "
                           "word; turns and sentences this long also when similar or saying too little that is new.")
    min_new_pairs: float = Field(default=0.5, ge=0, le=1, description="Share of a turn's word pairs that must be "
                                 "new to the dialogue (0 turns this check off).")
    resamples: int = Field(default=3, ge=0, description="Most extra attempts per turn.")
    resample_heat: float = Field(default=0.3, ge=0, description="Added to the temperature on each resample (at "
                                 f"most {HOTTEST}): at the same temperature a looping model loops again.")
    same_opening: int = Field(default=2, ge=0, description="A turn opening with the same two words as each of the "
                              "speaker's last this many turns is a loop ('The pain ...' every turn); 0 turns it off.")
    no_repeat_ngram: int | None = Field(default=3, ge=2, description="While decoding, never repeat a run of this "
                                        "many tokens of the conversation, nor open a turn as one of the last "
                                        "messages opened (llama.cpp; other backends ignore it); None turns both "
                                        "off.")

    def is_copy(self, text: str, similarity: float, new_pairs: float | None = None) -> bool:
        """Whether a turn with this `copy_score` and `new_pair_share` counts as a near-copy.

        A turn of at least ``min_words`` words is a copy from ``near_copy`` on, or when it says too little
        that is new. A shorter one only when it is said again word for word ("I'm so glad you're here."
        four times), unless it is a formula of at most `FORMULA_WORDS` words ("Good morning." said back).
        """
        length = len(words(text))
        if length < self.min_words:
            return length > FORMULA_WORDS and similarity >= 100
        return similarity >= self.near_copy or (new_pairs is not None and new_pairs < self.min_new_pairs)

