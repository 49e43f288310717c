"""Datasets read from local copies: ``from roleplay.datasets import STAR``."""

from roleplay.datasets.star import STAR

__all__ = ["STAR"]
