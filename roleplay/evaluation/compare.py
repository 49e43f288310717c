"""How far a run's dialogues are from a reference corpus, each distance beside the reference's own spread.

Every metric is a distance between two sets of dialogues (0: the same distribution). It is reported
three ways (`compare`): ``full``, between the whole run and the whole reference; ``distance``, between
a sample of the run and one half of the reference, and ``baseline``, between the two halves of the
reference, both at the same sample sizes (`roleplay.evaluation.corpus.against_reference`; for STAR
dialogues the run sample has the reference half's mix of tasks), so a
distance reads against what two human samples of that size differ by ("0.40 against a baseline of
0.26"); and ``excess`` = distance - baseline, about 0 when the run is indistinguishable from the
reference. The corpus-level functions (JSD, action paths and bigrams, distinct share, 1-D Wasserstein)
are `roleplay.evaluation.corpus`'s; this module adds the comparison-only ones:

- action-bigram JSD, path-length Wasserstein and the gap in distinct-path share (when both sides have
  policy actions);
- dialogue-length (turns) and turn-length (words) Wasserstein;
- the gap in distinct-1 and distinct-2 (`roleplay.evaluation.text.distinct_n`);
- vocabulary JSD (word unigram distributions);
- the Fréchet distance between Gaussians fitted to turn embeddings (`roleplay.backends.embeddings.embed`;
  needs numpy). With the default embedded model (SmolLM2-135M, a chat model and no sentence encoder)
  it is a weak signal: point ``embed_model`` at a real embedding model for numbers you report.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from roleplay.datasets.star._format import scenario_tasks
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.evaluation.corpus import action_paths, against_reference, bigram_jsd, distinct_share, jsd, wasserstein_1d
from roleplay.evaluation.text import distinct_n
from roleplay.sentences import words

__all__ = ["Metric", "compare", "frechet_distance", "text_metrics"]

Dialogs = list[Dialog]


@dataclass(frozen=True)
class Metric:
    """A named distance between two sets of dialogues, and optionally a per-corpus value to show beside it."""

    name: str
    distance: Callable[[Dialogs, Dialogs], float]
    value: Callable[[Dialogs], float] | None = None
    needs_actions: bool = False


def _turn_words(dialogs: Dialogs) -> list[float]:
    return [float(len(words(t.text))) for d in dialogs for t in d.turns]


def _distinct(n: int) -> Callable[[Dialogs], float]:
    return lambda dialogs: distinct_n((t.text for d in dialogs for t in d.turns), n) or 0.0


def _vocabulary(dialogs: Dialogs) -> Counter[str]:
    return Counter(w for d in dialogs for t in d.turns for w in words(t.text))


def _gap(value: Callable[[Dialogs], float]) -> Callable[[Dialogs, Dialogs], float]:
    return lambda a, b: abs(value(a) - value(b))


def _paths_share(dialogs: Dialogs) -> float:
    return distinct_share(action_paths(dialogs))


def text_metrics() -> list[Metric]:
    """The metrics that need no model: actions (when present), lengths, distinct-n and vocabulary."""
    return [
        Metric("action_bigram_jsd", lambda a, b: bigram_jsd(action_paths(a), action_paths(b)), needs_actions=True),
        Metric("path_length_w1", lambda a, b: wasserstein_1d([len(p) for p in action_paths(a)],
                                                             [len(p) for p in action_paths(b)]),
               lambda d: sum(len(p) for p in action_paths(d)) / len(d), needs_actions=True),
        Metric("distinct_paths_gap", _gap(_paths_share), _paths_share, needs_actions=True),
        Metric("dialog_turns_w1", lambda a, b: wasserstein_1d([len(d.turns) for d in a], [len(d.turns) for d in b]),
               lambda d: sum(len(x.turns) for x in d) / len(d)),
        Metric("turn_words_w1", lambda a, b: wasserstein_1d(_turn_words(a), _turn_words(b)),
               lambda d: sum(_turn_words(d)) / max(len(_turn_words(d)), 1)),
        Metric("distinct_1_gap", _gap(_distinct(1)), _distinct(1)),
        Metric("distinct_2_gap", _gap(_distinct(2)), _distinct(2)),
        Metric("vocabulary_jsd", lambda a, b: jsd(_vocabulary(a), _vocabulary(b))),
    ]


def frechet_distance(xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]) -> float:
    """Fréchet distance between Gaussians fitted to two sets of vectors: |mu_x - mu_y|^2 + Tr(Sx + Sy - 2 (Sx Sy)^1/2).

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of
    ``Sx^1/2 Sy Sx^1/2`` (symmetric, with the eigenvalues of ``Sx Sy``; rounding below 0 is clipped), so two
    symmetric eigendecompositions do it and no scipy is needed.
    """
    import numpy as np

    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("the Fréchet distance needs at least 2 vectors on each side.")
    cx, cy = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    values, vectors = np.linalg.eigh(cx)
    root_x = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T  # symmetric square root of cx
    roots = np.sqrt(np.clip(np.linalg.eigvalsh(root_x @ cy @ root_x), 0, None)).sum()
    value = float(((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(cx) + np.trace(cy) - 2 * roots)
    return max(value, 0.0)


def _embedding_metric(run: Dialogs, reference: Dialogs, model: str, limit: int, seed: int,
                      base_url: str | None) -> tuple[Metric, str, Dialogs, Dialogs]:
    """The Fréchet metric over turn embeddings (each dialogue's turns embedded once).

    Returns the metric, a note on what was used, and the run's and the reference's dialogues that were
    embedded (whole dialogues, at most ``limit`` turns per side).
    """
    from roleplay.backends.embeddings import embed

    rng = random.Random(seed)
    vectors: dict[int, list[list[float]]] = {}
    sides: list[Dialogs] = []
    for side in (run, reference):
        chosen = list(side)
        rng.shuffle(chosen)
        sides.append([])
        total = 0
        for dialog in chosen:
            if total + len(dialog.turns) > limit and total:
                break
            total += len(dialog.turns)
            sides[-1].append(dialog)
    kept = list({id(d): d for d in sides[0] + sides[1]}.values())  # a dialogue on both sides is embedded once
    texts = [t.text for d in kept for t in d.turns]
    embedded = iter(embed(model, texts, base_url=base_url))
    for dialog in kept:
        vectors[id(dialog)] = [next(embedded) for _ in dialog.turns]

    def distance(a: Dialogs, b: Dialogs) -> float:
        return frechet_distance([v for d in a for v in vectors.get(id(d), [])],
                                [v for d in b for v in vectors.get(id(d), [])])

    dropped = len(run) + len(reference) - len(sides[0]) - len(sides[1])
    note = f"{model}, {len(texts)} turns embedded" + (f"; {dropped} dialogues beyond {limit} turns per side left out"
                                                       if dropped else "")
    return Metric("frechet_embedding", distance), note, sides[0], sides[1]


def _row(metric: Metric, run: Dialogs, reference: Dialogs, seed: int, repeats: int) -> dict[str, Any]:
    tasks = _tasks if any(_tasks(d) for d in run) else None  # STAR: sample the run on the reference's task mix
    score, baseline = against_reference(run, reference, metric.distance, seed=seed, repeats=repeats, key=tasks)
    row = {"metric": metric.name, "full": _r(metric.distance(run, reference)), "distance": _r(score),
           "baseline": _r(baseline), "excess": _r(score - baseline)}
    values = metric.value is not None
    row.update(run_value=_r(metric.value(run)) if values else None,  # type: ignore[misc]
               reference_value=_r(metric.value(reference)) if values else None)  # type: ignore[misc]
    return row


def _tasks(dialog: Dialog) -> tuple[str, ...]:
    """A STAR dialogue's tasks (its stratum: the run is sampled on the reference's mix of them)."""
    return tuple(sorted(scenario_tasks(dialog.scenario)))


def _key(dialog: Dialog) -> tuple[str, ...]:
    """What makes two dialogues the same one: their turns."""
    return tuple(f"{t.speaker}\0{t.text}" for t in dialog.turns)


def _r(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def compare(run: Sequence[Dialog], reference: Sequence[Dialog], *, embed_model: str | None = "embedded",
            seed: int = 0, repeats: int = 10, embed_limit: int = 3000, base_url: str | None = None
            ) -> dict[str, Any]:
    """Every metric of ``run`` against ``reference``: full, distance, baseline, excess (see the module docstring).

    Args:
        run: the dialogues to judge.
        reference: the corpus they are compared with (split in halves for the baseline).
        embed_model: the model whose turn embeddings the Fréchet distance uses (None: skip it).
        seed: seeds the halves, the samples and which dialogues are embedded.
        repeats: random halvings averaged per metric.
        embed_limit: most turns embedded per side (whole dialogues; the rest are left out of that metric).
        base_url: the server of an ollama: or openai: embedding model.

    Raises:
        ConfigError: the run is empty or the reference has fewer than 4 dialogues (two halves of 2).
    """
    run, reference = [d for d in run if d.turns], [d for d in reference if d.turns]
    if not run or len(reference) < 4:
        raise ConfigError(f"compare needs dialogues with turns on both sides and at least 4 in the reference (to "
                          f"split it in halves); got {len(run)} and {len(reference)}. Pass a larger reference.")
    actions = bool(any(action_paths(run))) and bool(any(action_paths(reference)))
    metrics = [m for m in text_metrics() if actions or not m.needs_actions]
    notes = [] if actions else ["No policy actions on one side: action-bigram JSD and the path metrics are left out."]
    shared = len({_key(d) for d in run} & {_key(d) for d in reference})
    if shared:
        notes.append(f"{shared} of the run's dialogues are also in the reference, so a run sample can share "
                     "dialogues with the half it is measured against: distance (and excess) read low; full is exact.")
    rows = [_row(metric, run, reference, seed, repeats) for metric in metrics]
    if embed_model:
        metric, note, run_kept, reference_kept = _embedding_metric(run, reference, embed_model, embed_limit, seed,
                                                                   base_url)
        rows.append(_row(metric, run_kept, reference_kept, seed, repeats))
        notes.append(f"frechet_embedding: {note}.")
    return {"run_dialogs": len(run), "reference_dialogs": len(reference), "repeats": repeats, "seed": seed,
            "rows": rows, "notes": notes}
