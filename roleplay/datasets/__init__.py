"""Datasets read from local copies: ``from roleplay.datasets import STAR`` (or a `StarDataset` of your own)."""

from roleplay.datasets.star import STAR, StarDataset

__all__ = ["STAR", "StarDataset"]
