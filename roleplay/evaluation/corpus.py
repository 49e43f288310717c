"""Corpus-level comparison: does a set of dialogues look like a reference set *as a distribution*?

One-to-one similarity (a generated dialogue against the real one of the same id,
`roleplay.evaluation.adherence.compare_with_real`) rewards the modal path; a synthetic corpus is judged
here as a whole against a reference corpus (held-out human dialogues):

- `action_paths`: each dialogue's policy-agent action sequence (turns with an ``action``; queries,
  which are events, are left out);
- `action_bigrams` and `jsd`: Jensen-Shannon divergence (base 2, in [0, 1]) between the two corpora's
  action-bigram distributions, with start/end markers so openings and closings count (`bigram_jsd`);
- `distinct_share`: the share of distinct items (paths), 1.0 when no two dialogues took the same path;
- `wasserstein_1d`: earth mover's distance between two samples of numbers (path lengths);
- `two_sample_baseline` and `split_halves`: the same metric between two disjoint samples of the
  *reference* of given sizes, the scale a score is read against (JSD between finite samples is never 0:
  two human samples of 80 dialogues differ too). `against_reference` scores a corpus and that baseline
  at the same sample sizes in one go.

Pure functions of plain data, no model, no files: the bench (``bench/star_realism.py``) and the
``roleplay compare`` command use the same ones.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

from roleplay.dialog import Dialog

__all__ = ["END", "START", "action_bigrams", "action_paths", "against_reference", "bigram_jsd", "distinct_share",
           "jsd", "split_halves", "two_sample_baseline", "wasserstein_1d"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
START, END = "<start>", "<end>"
"""Markers `action_bigrams` puts before the first and after the last action of a path."""


def jsd(p: Mapping[K, float], q: Mapping[K, float]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two distributions given as weights or counts.

    Each mapping is normalised to sum 1 first, so a `Counter` of raw counts works. 0 for identical
    distributions, 1 for disjoint supports.

    Raises:
        ValueError: a weight is negative, or a distribution has no positive weight.
    """
    def normalised(weights: Mapping[K, float], name: str) -> dict[K, float]:
        if any(w < 0 for w in weights.values()):
            raise ValueError(f"jsd: distribution {name} has a negative weight; pass counts or probabilities.")
        total = math.fsum(weights.values())
        if total <= 0:
            raise ValueError(f"jsd: distribution {name} is empty (no positive weight); nothing to compare.")
        return {k: w / total for k, w in weights.items() if w > 0}

    a, b = normalised(p, "p"), normalised(q, "q")
    divergence = 0.0
    for key in a.keys() | b.keys():
        pa, pb = a.get(key, 0.0), b.get(key, 0.0)
        mid = (pa + pb) / 2
        divergence += (pa * math.log2(pa / mid) if pa else 0.0) + (pb * math.log2(pb / mid) if pb else 0.0)
    return min(1.0, max(0.0, divergence / 2))


def action_paths(dialogs: Iterable[Dialog]) -> list[tuple[str, ...]]:
    """Each dialogue's action sequence: the ``action`` of its turns that have one, in order.

    In roleplay only the policy agent's turns carry an action (a STAR wizard's labelled replies, a
    simulated system's chosen node); queries are events, not turns, so they are left out, as are a
    wizard's unlabelled ("custom") replies.
    """
    return [tuple(turn.action for turn in dialog.turns if turn.action) for dialog in dialogs]


def action_bigrams(paths: Iterable[Sequence[str]]) -> Counter[tuple[str, str]]:
    """Counts of consecutive action pairs over all paths, each path framed by `START` and `END`.

    An empty path counts as one ``(START, END)`` pair, so a dialogue without actions still weighs in.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for path in paths:
        framed = [START, *path, END]
        counts.update(zip(framed, framed[1:], strict=False))
    return counts


def bigram_jsd(paths_a: Iterable[Sequence[str]], paths_b: Iterable[Sequence[str]]) -> float:
    """`jsd` between the `action_bigrams` of two sets of paths."""
    return jsd(action_bigrams(paths_a), action_bigrams(paths_b))


def distinct_share(items: Iterable[Hashable]) -> float:
    """Distinct items / items (1.0: all different). Raises ValueError when there are none."""
    items = list(items)
    if not items:
        raise ValueError("distinct_share: no items; the share of distinct items of nothing is undefined.")
    return len(set(items)) / len(items)


def split_halves(items: Sequence[T], seed: int) -> tuple[list[T], list[T]]:
    """Two disjoint random halves of ``items`` (the first gets the smaller half when the count is odd)."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


def _disjoint_samples(reference: Sequence[T], size_a: int, size_b: int, rng: random.Random) -> tuple[list[T], list[T]]:
    if size_a < 1 or size_b < 1:
        raise ValueError(f"sample sizes must be at least 1 (got {size_a} and {size_b}).")
    if size_a + size_b > len(reference):
        raise ValueError(f"two disjoint samples of {size_a} and {size_b} need {size_a + size_b} reference items; "
                         f"there are {len(reference)}. Use smaller samples (e.g. halves: split_halves).")
    drawn = rng.sample(list(reference), size_a + size_b)
    return drawn[:size_a], drawn[size_a:]


def two_sample_baseline(reference: Sequence[T], size_a: int, size_b: int,
                        metric: Callable[[list[T], list[T]], float], seed: int = 0, repeats: int = 20) -> float:
    """Mean ``metric`` between two disjoint random samples of ``reference`` of ``size_a`` and ``size_b`` items.

    What the metric says when both sides come from the reference itself, at those sample sizes: the
    value a corpus indistinguishable from the reference would reach.

    Raises:
        ValueError: the sizes are below 1, together exceed the reference, or ``repeats`` is below 1.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1 (got {repeats}).")
    rng = random.Random(seed)
    return math.fsum(metric(*_disjoint_samples(reference, size_a, size_b, rng)) for _ in range(repeats)) / repeats


def against_reference(corpus: Sequence[T], reference: Sequence[T], metric: Callable[[list[T], list[T]], float],
                      seed: int = 0, repeats: int = 20, key: Callable[[T], Hashable] | None = None
                      ) -> tuple[float, float]:
    """(score, baseline) of ``corpus`` against ``reference`` at matched sample sizes.

    Each repeat splits the reference into random halves A and B (`split_halves`) and draws |B| items of
    the corpus (all of it when smaller); the score is ``metric(corpus sample, A)``, the baseline
    ``metric(B, A)``: both sides of each comparison have the same sizes, so sample-size bias cancels.
    Both are means over the repeats. With ``key`` (an item's stratum, such as its task), the corpus sample
    has as many items of each stratum as B (as many as the corpus has, when fewer), so a corpus whose
    strata are mixed otherwise (more dialogues of a rare task) is compared on the reference's mix.

    Raises:
        ValueError: the reference has fewer than 2 items, the corpus none, or ``repeats`` is below 1.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1 (got {repeats}).")
    if len(reference) < 2 or not corpus:
        raise ValueError(f"against_reference needs a corpus (got {len(corpus)} items) and a reference of at least "
                         f"2 items to split in halves (got {len(reference)}).")
    rng = random.Random(seed)
    scores, baselines = [], []
    for _ in range(repeats):
        half_a, half_b = split_halves(reference, rng.randrange(2**32))
        sample = _matched(corpus, half_b, key, rng) if key else rng.sample(list(corpus), min(len(half_b), len(corpus)))
        scores.append(metric(sample, half_a))
        baselines.append(metric(half_b, half_a))
    return math.fsum(scores) / repeats, math.fsum(baselines) / repeats


def _matched(corpus: Sequence[T], like: Sequence[T], key: Callable[[T], Hashable], rng: random.Random) -> list[T]:
    """A random sample of ``corpus`` with as many items per ``key`` as ``like`` has (at most all of them)."""
    wanted = Counter(key(item) for item in like)
    strata: dict[Hashable, list[T]] = {}
    for item in corpus:
        strata.setdefault(key(item), []).append(item)
    return [item for stratum, n in wanted.items() for item in rng.sample(strata.get(stratum, []),
                                                                         min(n, len(strata.get(stratum, []))))]


def wasserstein_1d(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Earth mover's distance between two samples of numbers: the area between their empirical CDFs.

    The same value as ``scipy.stats.wasserstein_distance(xs, ys)``, without the dependency. Raises
    ValueError when either sample is empty.
    """
    if not xs or not ys:
        raise ValueError("wasserstein_1d needs two non-empty samples.")
    a, b = sorted(xs), sorted(ys)
    points = sorted({*a, *b})
    distance, i, j = 0.0, 0, 0
    for left, right in zip(points, points[1:], strict=False):
        while i < len(a) and a[i] <= left:
            i += 1
        while j < len(b) and b[j] <= left:
            j += 1
        distance += abs(i / len(a) - j / len(b)) * (right - left)
    return distance
