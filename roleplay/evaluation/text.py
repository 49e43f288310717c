"""Text quality of dialogues, with no policy graph: does the conversation read like a conversation?

Per dialogue (`text_metrics`) and per folder and scenario variant (`summarize_text`, `text_report`):

- ``near_copy_rate``: turns that repeat an earlier turn or sentence, or say little that is new
  (`roleplay.guards.Guards.is_copy` with the default thresholds, whatever the run's guards were set to:
  recomputed from the text, never read from the guards' own records) / turns;
- ``role_confusion_rate``: turns spoken as another party (`roleplay.guards.role_confusion`, using the
  dialogue's saved personas) / turns;
- ``cut_off_rate``: empty turns and turns without a finished last sentence / turns;
- ``resamples_per_turn``: extra attempts the guards made, and ``salvaged_rate``: turns the guards kept
  only the good sentences of (both from ``metadata["guard"]``);
- ``distinct_1``/``distinct_2``: distinct word n-grams / all n-grams of the dialogue, on word tokens
  (`roleplay.sentences.words`, so "headache." and "headache" are one word);
- ``topic_start_rate``: speakers who used a topic word in their first turns / speakers, and
  ``on_topic_rate``: turns that use one / turns (`roleplay.evaluation.topic`: is it the scenario's conversation?);
- turn length in words, seconds per turn, and how the dialogues stopped.

These are the measures the guards act on, so a run with guards on shows what the guards could not fix.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from roleplay._checked import checked, checked_items
from roleplay.dialog import Dialog
from roleplay.evaluation.groups import arm_label, by_setup, variant_label
from roleplay.evaluation.topic import mentions, topic_start, topic_terms
from roleplay.sentences import is_complete, ngrams, words
from roleplay.text import Guards, copy_score, identity_terms, new_pair_share, role_confusion

__all__ = ["TextMetrics", "distinct_n", "summarize_text", "text_metrics", "text_report"]


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    """Distinct-n: distinct word n-grams / all word n-grams over ``texts`` (n-grams never cross a text).

    1.0 = no n-gram repeats anywhere in the set; low values mean repetitive, templated text.
    """
    grams = [gram for text in texts for gram in ngrams(text, n)]
    return round(len(set(grams)) / len(grams), 4) if grams else None


class TextMetrics(BaseModel):
    """Text quality of one dialogue."""

    id: str | int | None
    variant: str
    arm: str = "-"
    turns: int
    near_copies: int
    role_confusions: int
    cut_offs: int
    resamples: int
    salvaged: int
    distinct_1: float | None
    distinct_2: float | None
    topic_start: dict[str, bool]
    on_topic_turns: int
    words_per_turn: float | None
    words_min: int | None
    words_max: int | None
    seconds_per_turn: float | None
    stop_reason: str | None
    problems: list[dict[str, Any]]


def _turn_problems(dialog: Dialog, guards: Guards) -> list[dict[str, Any]]:
    names = {speaker: identity_terms(speaker, dialog.personas.get(speaker)) for speaker in
             {*dialog.speakers, *dialog.personas}}
    found = []
    for index, turn in enumerate(dialog.turns):
        others = [term for speaker, terms in names.items() if speaker != turn.speaker for term in terms]
        earlier = [t.text for t in dialog.turns[:index]]
        similarity, copied = copy_score(turn.text, earlier, guards.min_words)
        checks = {
            "near_copy": copied if guards.is_copy(turn.text, similarity, new_pair_share(turn.text, earlier)) else None,
            "role_confusion": role_confusion(turn.text, names.get(turn.speaker or "", []), others),
            "cut_off": None if is_complete(turn.text) else turn.text[-40:],
        }
        found += [{"turn": index, "problem": k, "detail": v} for k, v in checks.items() if v is not None]
    return found


def text_metrics(dialog: Dialog, guards: Guards | None = None) -> TextMetrics:
    """Measure one dialogue (``guards`` sets the near-copy threshold; default: the guards' defaults)."""
    problems = _turn_problems(dialog, guards or Guards())
    kinds = Counter(p["problem"] for p in problems)
    texts = [t.text for t in dialog.turns]
    lengths = [len(words(t)) for t in texts]
    terms = topic_terms(dialog)
    seconds = [t.metadata["seconds"] for t in dialog.turns if "seconds" in t.metadata]
    return TextMetrics(
        id=dialog.id, variant=variant_label(dialog), arm=arm_label(dialog), turns=len(texts),
        near_copies=kinds["near_copy"], role_confusions=kinds["role_confusion"], cut_offs=kinds["cut_off"],
        resamples=sum(t.metadata.get("guard", {}).get("resamples", 0) for t in dialog.turns),
        salvaged=sum("salvaged" in t.metadata.get("guard", {}) for t in dialog.turns),
        distinct_1=distinct_n(texts, 1), distinct_2=distinct_n(texts, 2),
        topic_start=topic_start(dialog, terms), on_topic_turns=sum(mentions(t, terms) for t in texts),
        words_per_turn=_mean(lengths), words_min=min(lengths, default=None), words_max=max(lengths, default=None),
        seconds_per_turn=_mean(seconds),
        stop_reason=dialog.stop_reason.value if dialog.stop_reason else None, problems=problems,
    )


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _row(setup: tuple[str, str], group: Sequence[TextMetrics]) -> dict[str, Any]:
    turns = sum(m.turns for m in group)
    def rate(total: int) -> float | None:
        return round(total / turns, 4) if turns else None
    distinct_2 = [m.distinct_2 for m in group if m.distinct_2 is not None]
    stops = Counter(m.stop_reason or "none" for m in group)
    return {
        "variant": setup[0], "arm": setup[1], "dialogs": len(group), "turns": turns,
        "near_copy_rate": rate(sum(m.near_copies for m in group)),
        "role_confusion_rate": rate(sum(m.role_confusions for m in group)),
        "cut_off_rate": rate(sum(m.cut_offs for m in group)),
        "resamples_per_turn": rate(sum(m.resamples for m in group)),
        "salvaged_rate": rate(sum(m.salvaged for m in group)),
        "distinct_1": _mean(m.distinct_1 for m in group), "distinct_2": _mean(distinct_2),
        "distinct_2_min": min(distinct_2, default=None),
        "topic_start_rate": _share([started for m in group for started in m.topic_start.values()]),
        "on_topic_rate": rate(sum(m.on_topic_turns for m in group)),
        "words_per_turn": _mean(m.words_per_turn for m in group),
        "words_min": min((m.words_min for m in group if m.words_min is not None), default=None),
        "words_max": max((m.words_max for m in group if m.words_max is not None), default=None),
        "seconds_per_turn": _mean(m.seconds_per_turn for m in group),
        "stop_reasons": " ".join(f"{reason}:{count}" for reason, count in sorted(stops.items())),
    }


def summarize_text(metrics: Sequence[TextMetrics]) -> list[dict[str, Any]]:
    """One row per set-up (variant and policy arm) when there are several, and an ``ALL`` row of every dialogue."""
    groups = by_setup(metrics, lambda m: (m.variant, m.arm))
    rows = [_row(setup, group) for setup, group in groups.items()] if len(groups) > 1 else []
    return [*rows, _row(("ALL", "ALL"), list(metrics))]


def text_report(dialogs: Sequence[Dialog], guards: Guards | None = None) -> dict[str, Any]:
    """The text-quality report of ``dialogs``: ``{"summary": rows, "dialogs": [per-dialogue metrics]}``."""
    dialogs = checked_items(dialogs, Dialog, "text_report's dialogs", "load them with load_dialogs(folder)")
    if guards is not None:
        checked(guards, Guards, "text_report's guards", "pass Guards(...) or leave it out")
    metrics = [text_metrics(d, guards) for d in dialogs]
    return {"summary": summarize_text(metrics), "dialogs": [m.model_dump() for m in metrics]}
