"""What `roleplay batch`'s options mean for its job and its runner: backend options, a budget."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    pass

__all__ = ["backend_options", "budget_arguments"]


def backend_options(cache: Path | None, request_timeout: float | None) -> dict[str, Any]:
    """The batch's backend options: its response cache and time limit."""
    options: dict[str, Any] = {"cache_dir": str(cache)} if cache else {}
    if request_timeout:
        options["request_timeout"] = request_timeout
    return options


def budget_arguments(budget: str | None, prices: Path | None) -> dict[str, Any]:
    """``budget=`` and ``prices=`` for a batch runner, from ``--budget`` and ``--prices``."""
    from roleplay.prices import load_prices
    from roleplay.runs.batch import RunBudget

    table = load_prices(prices) if prices is not None else None
    if budget is None:
        return {"prices": table}
    text = budget.strip().lower().replace(",", "").replace("_", "")
    try:
        if text.startswith("cost:"):
            if table is None:
                raise click.UsageError("--budget cost:AMOUNT needs --prices prices.yaml (per million tokens).")
            return {"budget": RunBudget(cost=float(text[5:]), prices=table), "prices": table}
        scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
        tokens = int(float(text[:-1] if scale > 1 else text) * scale)
        return {"budget": RunBudget(tokens=tokens), "prices": table}
    except ValueError as err:
        raise click.UsageError(f"--budget {budget!r} is not a budget: give tokens (200000, 200k, 2M) or a cost at "
                               "--prices (cost:2.5), above 0.") from err
