"""A scenario's ``variants:`` grid, computed on demand: combination ``i`` without listing the others.

A grid of 20 values on each of 3 keys has 8,000 combinations and one of 10 values on 9 keys a billion;
a batch needs only combination ``i % size`` for dialogue ``i``, so nothing here enumerates the grid.
Combinations come in ``itertools.product`` order over the sorted keys (the last key changes fastest).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

__all__ = ["VariantGrid"]


class VariantGrid(Sequence[dict[str, Any]]):
    """Every combination of the variant values (``[{}]`` without variants), each built when asked for."""

    def __init__(self, variants: Mapping[str, Sequence[Any]]):
        self.keys = sorted(variants)
        self.values = [list(variants[key]) for key in self.keys]

    @property
    def size(self) -> int:
        """How many combinations; unlike ``len()`` it may exceed ``sys.maxsize``."""
        return math.prod(len(values) for values in self.values)

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        size = self.size
        if not -size <= index < size:
            raise IndexError(f"variant {index} is outside the grid of {size}")
        rest, combination = index % size, {}
        for key, values in zip(reversed(self.keys), reversed(self.values), strict=True):
            rest, digit = divmod(rest, len(values))
            combination[key] = values[digit]
        return {key: combination[key] for key in self.keys}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(self.size))

    def singles(self) -> Iterator[dict[str, Any]]:
        """Each value on its own (``{key: value}``): checking them costs the sum of the sizes, not the product."""
        return ({key: value} for key, values in zip(self.keys, self.values, strict=True) for value in values)
