"""Rubrics: what a judge is asked about a dialogue, as data (YAML files, or `Rubric` objects).

A rubric is a list of dimensions. Each dimension asks one question about one or more speakers, on an
integer scale whose ends (and any points between) are described by anchors, about the whole dialogue
(``scope: dialogue``) or about each turn of the judged speakers (``scope: turn``). Three rubrics ship
with roleplay (``social``, ``quality``, ``task``); `load_rubric` takes their name or a path.

Two optional fields tie a dimension to the simulator-error review (`roleplay.evaluation.judge`):
``requires: user_goal`` skips the dimension for dialogues whose user had no stated goal, and
``sim_error_below: N`` marks the dialogue ``user_sim_error`` when the score is below N.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from roleplay._yaml import problems, read_yaml
from roleplay.errors import ConfigError

__all__ = ["BUNDLED", "Dimension", "Rubric", "RubricError", "load_rubric"]

BUNDLED = ("social", "quality", "task")
"""The rubrics shipped in ``roleplay/evaluation/rubrics``."""


class RubricError(ConfigError):
    """A rubric file or object is not usable; the message names the field and the fix."""


class Dimension(BaseModel):
    """One question a judge answers with an integer on ``scale`` and its reasoning."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Short id, e.g. 'believability'.")
    question: str = Field(min_length=1, description="What the judge is asked.")
    speakers: Literal["conversation", "each", "user", "system"] | list[str] = Field(
        "conversation", description="Who is judged: the conversation as a whole, each speaker in turn, the user "
        "(the first speaker), the system (the others), or speaker names.")
    scale: tuple[int, int] = Field(description="Lowest and highest score, e.g. [0, 10].")
    anchors: dict[int, str] = Field(description="Score -> what it means; both ends of the scale are required.")
    scope: Literal["dialogue", "turn"] = Field("dialogue", description="One score per dialogue, or per judged turn.")
    requires: Literal["user_goal"] | None = Field(None, description="Judge only dialogues whose user had a goal.")
    sim_error_below: int | None = Field(None, description="A score below this marks a user-simulator error.")

    @model_validator(mode="after")
    def _anchored(self) -> Dimension:
        low, high = self.scale
        if low >= high:
            raise ValueError(f"scale [{low}, {high}] must go from a lower to a higher integer, e.g. [0, 10]")
        if high - low > 100:
            raise ValueError(f"scale [{low}, {high}] has more than 101 points; use at most e.g. [0, 100]")
        outside = sorted(k for k in self.anchors if not low <= k <= high)
        if outside:
            raise ValueError(f"anchors {outside} lie outside the scale [{low}, {high}]")
        missing = [end for end in (low, high) if end not in self.anchors]
        if missing:
            raise ValueError(f"anchors miss the scale's end(s) {missing}: say what {missing[0]} means")
        if self.sim_error_below is not None and not low < self.sim_error_below <= high:
            raise ValueError(f"sim_error_below {self.sim_error_below} must lie in ({low}, {high}]")
        return self

    @property
    def values(self) -> list[int]:
        """Every allowed score, lowest first."""
        return list(range(self.scale[0], self.scale[1] + 1))

    def anchor_text(self) -> str:
        """The anchors as ``score: meaning`` lines, lowest first."""
        return "\n".join(f"{score}: {meaning}" for score, meaning in sorted(self.anchors.items()))


class Rubric(BaseModel):
    """A named set of dimensions."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    dimensions: list[Dimension] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        names = [d.name for d in self.dimensions]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"dimension names repeat: {', '.join(repeated)}; give each dimension its own name")
        return self


def load_rubric(name_or_path: str | Path) -> Rubric:
    """A bundled rubric by name (``social``, ``quality``, ``task``) or a rubric YAML file.

    Raises:
        RubricError: no such rubric, or the file's content is not a valid rubric (the field is named).
    """
    text = str(name_or_path)
    if text in BUNDLED:
        path = Path(str(resources.files("roleplay.evaluation").joinpath(f"rubrics/{text}.yaml")))
    else:
        path = Path(text)
        if not path.suffix and not path.exists():
            raise RubricError(f"Unknown rubric {text!r}. Use one of {', '.join(BUNDLED)}, or the path of a rubric "
                              "YAML file.")
    data = read_yaml(path, "rubric", f"Use one of {', '.join(BUNDLED)}, or check the path.", error=_FileError)  # type: ignore[arg-type]
    try:
        return Rubric.model_validate(data)
    except ValidationError as err:
        raise RubricError(f"{path}: not a valid rubric: {problems(err)}. Fix that field (see docs/evaluation.md)."
                          ) from err


class _FileError(RubricError):
    """`read_yaml`'s error type: takes the path as a second argument."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(f"{path}: {message}" if path else message)
