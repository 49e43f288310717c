"""STAR (Mosig et al., 2020) read from a local copy: dialogues, scenarios, personas and task policy graphs."""

from roleplay.datasets.star._loader import STAR, StarDataset, StarDataWarning

__all__ = ["STAR", "StarDataWarning", "StarDataset"]
