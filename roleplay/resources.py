"""Data shipped inside the package: persona files, scenarios, the intent taxonomy and the STAR policy graphs.

They are package resources (``roleplay/_data``), found through `importlib.resources`, so a bundled scenario
runs from any working directory after ``pip install roleplay-sim``. In a checkout ``roleplay/_data/agents``
and ``roleplay/_data/scenarios`` are symlinks to the top-level ``agents/`` and ``scenarios/`` folders, which
stay where contributors edit them; the wheel build copies their files in.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import yaml

from roleplay.errors import ConfigError

SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class BundledScenario:
    """One shipped scenario, by the name ``roleplay run NAME`` takes."""

    name: str
    description: str
    path: Path


def data_dir() -> Path:
    """The folder of shipped data (``agents/`` and ``scenarios/``) inside the installed package."""
    root = files("roleplay") / "_data"
    if not isinstance(root, Path) or not root.is_dir():
        raise ConfigError(f"roleplay's bundled data is missing at {root}; reinstall with 'pip install roleplay-sim' "
                          "(from a checkout: 'pip install -e .').")
    return root


def scenarios_dir() -> Path:
    """Shipped scenario files, with the DOT graphs they name."""
    return data_dir() / "scenarios"


def intents_taxonomy() -> Path:
    """The shipped topic/intent taxonomy for ``roleplay intent-chat``."""
    return scenarios_dir() / "intents.yaml"


def star_graphs_dir() -> Path:
    """The 24 STAR task policy graphs (``<task>.dot``), reconstructed from the STAR dataset."""
    return scenarios_dir() / "star"


def bundled_scenarios() -> list[BundledScenario]:
    """Every shipped scenario (a YAML mapping with ``agents``), sorted by name."""
    found = []
    for path in sorted(scenarios_dir().iterdir()):
        if path.suffix not in SCENARIO_SUFFIXES:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "agents" in data:
            found.append(BundledScenario(path.stem, str(data.get("description", "")), path))
    return found


def find_scenario(spec: str | Path) -> Path:
    """The scenario file ``spec`` means: an existing path, else a bundled name such as ``doctor_patient``.

    A bare name (no folder part) that is not a file in the working directory names a bundled scenario; with
    neither, ``spec`` comes back unchanged so the reader reports the missing file.
    """
    path = Path(spec)
    if path.is_file() or path.name != str(spec):
        return path
    stem = path.stem if path.suffix in SCENARIO_SUFFIXES else path.name
    for suffix in SCENARIO_SUFFIXES:
        bundled = scenarios_dir() / f"{stem}{suffix}"
        if bundled.is_file():
            return bundled
    return path


def find_graph(spec: str | Path) -> Path:
    """The DOT file ``spec`` means: an existing path, else a bundled graph's name.

    A name is a bundled scenario's policy (``doctor_intake``) or a STAR task's (``bank_balance``). As for
    `find_scenario`, only a bare name that is not a file here is looked up; else ``spec`` comes back.
    """
    path = Path(spec)
    if path.exists() or path.name != str(spec):
        return path
    stem = path.stem if path.suffix == ".dot" else path.name
    for folder in (scenarios_dir(), star_graphs_dir()):
        if (folder / f"{stem}.dot").is_file():
            return folder / f"{stem}.dot"
    return path


__all__ = ["BundledScenario", "bundled_scenarios", "data_dir", "find_graph", "find_scenario", "intents_taxonomy",
           "scenarios_dir", "star_graphs_dir"]
