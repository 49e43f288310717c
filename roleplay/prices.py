"""Prices per model, from a table the user writes: roleplay ships no provider's prices as fact.

A price file (``--prices prices.yaml``) maps a model string, or a glob pattern of them, to prices per
million tokens, in whatever currency the user works in::

    openai:gpt-4o-mini: {prompt: 0.15, completion: 0.60, cached_prompt: 0.075}
    "ollama:*": {prompt: 0, completion: 0}
    embedded: 0                       # one number: every kind of token costs that

The first exact match wins, then the first matching pattern in file order. A model with no price has
no cost: `cost` says which models it could not price rather than guessing. Token counts are
`roleplay.usage`'s.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roleplay._checked import describe_problems
from roleplay._yaml import read_yaml
from roleplay.errors import ConfigError
from roleplay.usage import Usage, UsageLine

__all__ = ["Price", "PriceTable", "cost_of", "load_prices"]

PER = 1_000_000
"""Prices are per this many tokens."""


class Price(BaseModel):
    """What a million tokens of each kind cost; cached prompt tokens cost ``prompt`` unless given."""

    model_config = ConfigDict(extra="forbid")

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)
    cached_prompt: float | None = Field(default=None, ge=0)

    def of(self, usage: Usage) -> float:
        """The cost of ``usage`` at this price."""
        cached = min(usage.cached_prompt_tokens, usage.prompt_tokens)
        cached_price = self.prompt if self.cached_prompt is None else self.cached_prompt
        return ((usage.prompt_tokens - cached) * self.prompt + cached * cached_price
                + usage.completion_tokens * self.completion) / PER


class PriceTable:
    """Model string (or glob pattern) -> `Price`."""

    def __init__(self, prices: Mapping[str, Price], source: str = "prices"):
        self.prices = dict(prices)
        self.source = source

    def price(self, model: str) -> Price | None:
        """The price of ``model``: an exact entry, else the first pattern that matches, else None."""
        if model in self.prices:
            return self.prices[model]
        return next((price for pattern, price in self.prices.items() if fnmatch.fnmatchcase(model, pattern)), None)

    def cost(self, usage: Usage, model: str) -> float | None:
        """What ``usage`` of ``model`` cost, or None without a price for it."""
        price = self.price(model)
        return None if price is None else price.of(usage)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "prices") -> PriceTable:
        """A table from ``{model: {prompt, completion[, cached_prompt]} or one number}``."""
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"{source}: a price table maps model strings to prices per million tokens, e.g. "
                              "'openai:gpt-4o-mini: {prompt: 0.15, completion: 0.6}'; got "
                              f"{type(data).__name__ if data else 'nothing'}.")
        prices = {}
        for model, value in data.items():
            entry = {"prompt": value, "completion": value} if isinstance(value, int | float) and \
                not isinstance(value, bool) else value
            try:
                prices[str(model)] = Price.model_validate(entry)
            except ValidationError as err:
                raise ConfigError(f"{source}: the price of {model!r} is invalid ({describe_problems(err)}). Give "
                                  "prompt: and completion: (and optionally cached_prompt:) as numbers >= 0 per "
                                  "million tokens, or one number.") from err
        return cls(prices, source)


def load_prices(path: str | Path) -> PriceTable:
    """The price table in YAML file ``path``."""
    data = read_yaml(path, "price table", "Write a YAML file of 'model: {prompt: X, completion: Y}' lines (per "
                     "million tokens) and pass its path to --prices.")
    return PriceTable.from_mapping(data, str(path))


def cost_of(lines: Iterable[UsageLine], prices: PriceTable) -> tuple[float, list[str]]:
    """The cost of ``lines`` at ``prices``, and the models it could not price (their tokens are not in the sum)."""
    total, unknown = 0.0, set()
    for line in lines:
        cost = prices.cost(line, line.model)
        if cost is None:
            if line.tokens:
                unknown.add(line.model or "(unknown model)")
        else:
            total += cost
    return total, sorted(unknown)
