"""Rubric judges: a model scores dialogues on a `Rubric`, one schema-constrained answer per judged unit.

A unit is a (dimension, speaker) pair for ``scope: dialogue`` or a (dimension, turn) pair for
``scope: turn``; ``speakers: conversation`` judges the conversation as a whole. Every answer is JSON
``{"reasoning": str, "score": int}`` with the score an enum of the dimension's scale, enforced while
decoding where the backend can and validated afterwards anyway (`roleplay.structured`); an invalid
answer (bad JSON, a score off the scale, a refusal) is shown to the judge with the error and asked
again, ``attempts`` times in all, and then the whole dialogue fails with `JudgeFailed` naming the
dimension and the last raw answer. The judge model is any model string or AutoGen client, seeded
(``seed``) and optionally cached on disk (``cache_dir``), so a rerun replays instead of calling it.

The simulator-error review: a dimension with ``sim_error_below`` (the ``task`` rubric's
``user_followed_goal``) sets `Judgement.user_sim_error` with its reasoning. Running many dialogues
concurrently and resumably is `roleplay.evaluation.judging`'s job (on the batch engine).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from roleplay.backends import Model, get_backend, takes_base_url
from roleplay.dialog import Dialog, Turn
from roleplay.errors import StructuredOutputError
from roleplay.evaluation.rubric import Dimension, Rubric
from roleplay.runs.export import role_of
from roleplay.structured import complete_structured

__all__ = ["REASONING_CHARS", "TRANSCRIPT_CHARS", "TURN_CHARS", "Judge", "JudgeFailed", "Judgement", "Score",
           "answer_model", "score_schema", "user_goal"]

TURN_CHARS = 600
"""Longest turn text shown to the judge; a longer turn is cut and the judgement says so (``truncated``)."""
TRANSCRIPT_CHARS = 6000
"""Most transcript characters shown (the newest turns are kept); again recorded in ``truncated``."""
REASONING_CHARS = 200
"""Longest reasoning an answer may give (one or two sentences). The bound is part of the schema, so constrained
decoding stops a judge that rambles instead of running into its token limit and failing; and the reasoning is
most of a judge's tokens (on the embedded model 400 characters cost twice the time of 150: bench/RESULTS.md)."""

SYSTEM = ("You are a careful, strict evaluator of conversations. You read a transcript and answer one question "
          "about it on the given scale. Reply with JSON only: {\"reasoning\": \"<one or two sentences of "
          "evidence>\", \"score\": <integer on the scale>}.")


class JudgeFailed(StructuredOutputError):
    """The judge gave no valid answer for a dimension after its retries (the batch retries the dialogue)."""


class Score(BaseModel):
    """One judged unit's answer."""

    dimension: str
    score: int
    reasoning: str
    speaker: str | None = Field(None, description="The judged speaker (None: the conversation as a whole).")
    turn: int | None = Field(None, description="The judged turn's index, for per-turn dimensions.")


class Judgement(BaseModel):
    """Everything one judge said about one dialogue on one rubric."""

    judge: str
    rubric: str
    dialog_id: int | str | None = None
    scores: list[Score] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="Dimensions not asked, with why.")
    calls: int = 0
    completion_tokens: int = Field(0, description="Tokens the judge generated, retries included.")
    truncated: bool = Field(False, description="The transcript shown to the judge was cut (long turns or length).")
    user_sim_error: bool | None = Field(None, description="The user simulator broke its instructions (None: not "
                                        "reviewed: no user goal, or no review dimension in the rubric).")
    user_sim_reason: str | None = None

    def means(self) -> dict[str, float]:
        """Dimension -> mean score over its units (speakers, turns)."""
        grouped: dict[str, list[int]] = {}
        for score in self.scores:
            grouped.setdefault(score.dimension, []).append(score.score)
        return {name: sum(values) / len(values) for name, values in grouped.items()}


def user_goal(dialog: Dialog) -> str | None:
    """The simulated user's instructions, if the run had any: a goal-aware user's goal, or STAR's UserTask."""
    user = dialog.metadata.get("user")
    if isinstance(user, dict) and isinstance(user.get("goal"), dict):
        goal = user["goal"]
        facts = "; ".join(f"{k}: {v}" for k, v in (goal.get("facts") or {}).items())
        return f"{goal.get('request', '')}" + (f" Facts it can give: {facts}." if facts else "")
    scenario = dialog.scenario if isinstance(dialog.scenario, dict) else {}
    task = scenario.get("UserTask")
    return str(task) if task else None


def _targets(dimension: Dimension, dialog: Dialog) -> list[str | None]:
    """The speakers a dimension judges in this dialogue (None: the conversation as a whole)."""
    spec = dimension.speakers
    if spec == "conversation":
        return [None]
    if spec == "each":
        return list(dialog.speakers)
    if isinstance(spec, list):
        return [s for s in dialog.speakers if s in spec]
    wanted = "user" if spec == "user" else "assistant"
    return [s for s in dialog.speakers if role_of(dialog, s, {}) == wanted]


class _Shown:
    """The transcript as the judge sees it: numbered turns, long ones cut, the oldest dropped past the budget."""

    def __init__(self, turns: list[Turn]):
        lines, self.truncated = [], False
        for index, turn in enumerate(turns):
            text = turn.text if len(turn.text) <= TURN_CHARS else turn.text[:TURN_CHARS] + " [...]"
            self.truncated |= len(turn.text) > TURN_CHARS
            lines.append(f"[{index}] {turn.speaker}: {text}")
        while sum(len(line) + 1 for line in lines) > TRANSCRIPT_CHARS and len(lines) > 1:
            lines.pop(0)
            self.truncated = True
        self.text = "\n".join(lines)


class Judge:
    """A judge model and a rubric: ``await judge.ajudge(dialog)`` gives a `Judgement`.

    Args:
        model: a model string (``ollama:qwen2.5:14b``, ``openai:gpt-4o-mini``, ``embedded``...) or an AutoGen
            client / roleplay `Model`.
        rubric: the rubric to score on.
        attempts: tries per unit before the dialogue fails (each retry shows the invalid answer and why).
        seed: the judge's sampling seed.
        cache_dir: an on-disk response cache (a rerun replays the same prompts without calling the model).
        parallel: questions about one dialogue asked at once (default 1 in-process, 8 for a server model).
        options: further backend options (temperature, max_tokens, base_url...).
    """

    def __init__(self, model: str | ChatCompletionClient, rubric: Rubric, *, attempts: int = 3, seed: int = 0,
                 cache_dir: str | None = None, parallel: int | None = None, **options: Any):
        options.setdefault("max_tokens", 256)
        self.model: Model = get_backend(model, cache_dir=cache_dir, seed=seed, **options)
        self.rubric = rubric
        self.attempts = attempts
        self.name = self.model.name
        in_process = isinstance(model, str) and not takes_base_url(model)
        self.parallel = parallel or (1 if in_process else 8)
        """Questions about one dialogue asked at once. 1 for an in-process model: it runs one call at a time
        anyway, and calls queued behind each other would spend their request timeout waiting."""

    def units(self, dialog: Dialog) -> tuple[list[tuple[Dimension, str | None, int | None]], list[str]]:
        """The (dimension, speaker, turn) units to ask about ``dialog``, and the dimensions skipped with why."""
        units: list[tuple[Dimension, str | None, int | None]] = []
        skipped: list[str] = []
        for dimension in self.rubric.dimensions:
            if dimension.requires == "user_goal" and user_goal(dialog) is None:
                skipped.append(f"{dimension.name}: the user had no stated goal")
                continue
            targets = _targets(dimension, dialog)
            if not targets:
                skipped.append(f"{dimension.name}: no {dimension.speakers} speaker in the dialogue")
            elif dimension.scope == "turn":  # in turn order; a turn is always judged as its speaker's
                units += [(dimension, t.speaker, i) for i, t in enumerate(dialog.turns)
                          if None in targets or t.speaker in targets]
            else:
                units += [(dimension, speaker, None) for speaker in targets]
        return units, skipped

    def prompt(self, dialog: Dialog, shown: _Shown, dimension: Dimension, speaker: str | None,
               turn: int | None) -> str:
        """The question for one unit: transcript, context, then the question with its scale and anchors.

        The transcript comes first, so every question about a dialogue starts with the same text and an
        in-process model evaluates it once (its KV state is kept between calls) rather than per question.
        """
        parts = [f"Transcript:\n{shown.text}"]
        if speaker is not None and dialog.personas.get(speaker):
            fields = "\n".join(f"- {k}: {v}" for k, v in dialog.personas[speaker].items() if v not in (None, ""))
            parts.append(f"{speaker}'s persona:\n{fields}")
        goal = user_goal(dialog)
        if goal and (dimension.requires == "user_goal" or dimension.speakers in ("user", "system")):
            parts.append(f"The user's instructions: {goal}")
        about = "the conversation as a whole" if speaker is None else f"the speaker {speaker}"
        if turn is not None:
            about = f"turn [{turn}] (by {dialog.turns[turn].speaker})"
        low, high = dimension.scale
        parts.append(f"Judge {about}.\nQuestion: {dimension.question.strip()}\nScale: an integer from {low} to "
                     f"{high}. What the scores mean:\n{dimension.anchor_text()}")
        return "\n\n".join(parts)

    async def _ask(self, dialog: Dialog, shown: _Shown, dimension: Dimension, speaker: str | None,
                   turn: int | None) -> tuple[Score, int]:
        try:
            answer, _, tokens = await complete_structured(self.model, SYSTEM, self.prompt(dialog, shown, dimension,
                                                          speaker, turn), answer_model(*dimension.scale),
                                                          attempts=self.attempts)
        except StructuredOutputError as err:
            where = f" for {speaker}" if speaker else ""
            raise JudgeFailed(f"Judge {self.name} gave no valid answer on '{dimension.name}'{where} of dialogue "
                              f"{dialog.id}: {err}", err.raw) from err
        return Score(dimension=dimension.name, score=answer.score, reasoning=answer.reasoning.strip(),
                     speaker=speaker, turn=turn), tokens

    async def ajudge(self, dialog: Dialog) -> Judgement:
        """Ask every unit of ``dialog`` (concurrently) and gather the answers into a `Judgement`."""
        shown = _Shown(dialog.turns)
        units, skipped = self.units(dialog)
        gate = asyncio.Semaphore(self.parallel)

        async def ask(unit: tuple[Dimension, str | None, int | None]) -> tuple[Score, int]:
            async with gate:
                return await self._ask(dialog, shown, *unit)

        answers = await asyncio.gather(*(ask(unit) for unit in units))
        judgement = Judgement(judge=self.name, rubric=self.rubric.name, dialog_id=dialog.id, skipped=skipped,
                              scores=[score for score, _ in answers], calls=len(units),
                              completion_tokens=sum(tokens for _, tokens in answers), truncated=shown.truncated)
        _review(judgement, self.rubric)
        return judgement

    async def aclose(self) -> None:
        """Close the judge model's clients."""
        await self.model.close()


@functools.cache
def answer_model(low: int, high: int) -> type[BaseModel]:
    """The answer on scale [low, high]: reasoning first (written before the score), the score a Literal.

    The Literal is an integer enum in the JSON schema. A pydantic class, not a schema dict: validating it
    is far cheaper than jsonschema (which checks the schema itself on every call).
    """
    return create_model(
        f"Answer_{low}_{high}".replace("-", "m"), __config__=ConfigDict(extra="forbid"),
        reasoning=(Annotated[str, StringConstraints(min_length=1, max_length=REASONING_CHARS)], ...),
        score=(Literal[tuple(range(low, high + 1))], ...))  # type: ignore[arg-type]  # a Literal built at run time


def score_schema(dimension: Dimension) -> dict[str, Any]:
    """The JSON schema the judge answers ``dimension`` in."""
    return answer_model(*dimension.scale).model_json_schema()


def _review(judgement: Judgement, rubric: Rubric) -> None:
    """Set ``user_sim_error`` from the rubric's review dimension(s), when they were asked."""
    thresholds: Mapping[str, int] = {d.name: d.sim_error_below for d in rubric.dimensions
                                     if d.sim_error_below is not None}
    reviewed = [s for s in judgement.scores if s.dimension in thresholds]
    if not reviewed:
        return
    failed = [s for s in reviewed if s.score < thresholds[s.dimension]]
    judgement.user_sim_error = bool(failed)
    judgement.user_sim_reason = (failed or reviewed)[0].reasoning
