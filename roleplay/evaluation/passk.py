"""pass^k over repeated trials: how reliably a set-up succeeds every time, not just once.

τ-bench's unbiased estimator: with ``n`` trials of a task of which ``c`` succeeded, the chance that
``k`` trials drawn without replacement all succeed is ``C(c, k) / C(n, k)``; pass^k is its mean over
tasks. pass^1 is the plain success rate; pass^k falls as k grows unless every task always succeeds.
A task with fewer than ``k`` trials has no pass^k estimate and is left out of that k (the count of
tasks used is reported beside each value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb
from typing import Any

__all__ = ["pass_hat_k", "pass_k_table"]


def pass_hat_k(outcomes: Mapping[Any, Sequence[bool]], k: int) -> float | None:
    """Mean over tasks (with at least ``k`` trials) of ``C(successes, k) / C(trials, k)``; None if no task has k."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    estimates = [comb(sum(map(bool, trials)), k) / comb(len(trials), k)
                 for trials in outcomes.values() if len(trials) >= k]
    return sum(estimates) / len(estimates) if estimates else None


def pass_k_table(outcomes: Mapping[Any, Sequence[bool]], max_k: int | None = None) -> list[dict[str, Any]]:
    """One row per k = 1..max_k (default: the most trials any task has): k, pass^k, tasks used."""
    most = max((len(trials) for trials in outcomes.values()), default=0)
    top = most if max_k is None else min(max_k, most)
    return [{"k": k, "pass_hat_k": None if (value := pass_hat_k(outcomes, k)) is None else round(value, 4),
             "tasks": sum(1 for trials in outcomes.values() if len(trials) >= k)} for k in range(1, top + 1)]
