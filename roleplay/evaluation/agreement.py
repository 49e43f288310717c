"""Agreement between judges: Krippendorff's alpha and Spearman's rho, in plain Python.

The core install has no numpy/scipy, and both statistics are a few lines over small tables (a few
judges, at most thousands of units), so they are written out here and tested against published and
hand-computed values.

Krippendorff's alpha (K. Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011) takes
reliability data as units x judges with gaps: ``alpha = 1 - D_o / D_e``, the disagreement observed
within units over the disagreement expected by chance from all pairable values, with the metric
``nominal`` (different or not), ``ordinal`` (by the ranks the values' frequencies span) or ``interval``
(squared difference). 1 is perfect agreement, 0 chance, below 0 systematic disagreement.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import combinations

__all__ = ["krippendorff_alpha", "spearman"]

Value = float | int | None


def _distance(metric: str, counts: Counter[float]) -> Callable[[float, float], float]:
    if metric == "nominal":
        return lambda a, b: float(a != b)
    if metric == "interval":
        return lambda a, b: (a - b) ** 2
    if metric == "ordinal":
        ordered = sorted(counts)
        cumulative, total = {}, 0.0
        for value in ordered:
            cumulative[value] = total
            total += counts[value]

        def ordinal(a: float, b: float) -> float:
            low, high = min(a, b), max(a, b)
            spanned = cumulative[high] + counts[high] - cumulative[low]  # n_low + ... + n_high
            return (spanned - (counts[low] + counts[high]) / 2) ** 2
        return ordinal
    raise ValueError(f"metric must be nominal, ordinal or interval, not {metric!r}")


def krippendorff_alpha(units: Sequence[Sequence[Value]], metric: str = "interval") -> float | None:
    """Alpha over ``units`` (each a list of the judges' values, None where a judge gave none).

    Returns None when it is undefined: fewer than two pairable values, or no variation at all.
    """
    pairable = [[float(v) for v in unit if v is not None] for unit in units]
    pairable = [unit for unit in pairable if len(unit) >= 2]
    counts: Counter[float] = Counter(v for unit in pairable for v in unit)
    n = sum(counts.values())
    if n < 2 or len(counts) < 2:
        return None
    delta = _distance(metric, counts)
    observed = sum(sum(delta(a, b) for a, b in combinations(unit, 2)) * 2 / (len(unit) - 1) for unit in pairable) / n
    expected = sum(counts[a] * counts[b] * delta(a, b) for a, b in combinations(counts, 2)) * 2 / (n * (n - 1))
    return 1 - observed / expected


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's r of the tie-averaged ranks); None if either side is constant."""
    if len(xs) != len(ys):
        raise ValueError(f"spearman needs paired values, got {len(xs)} and {len(ys)}")
    if len(xs) < 2:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else None
