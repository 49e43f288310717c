"""Branches: the same dialogue up to turn N, then continued with another seed, persona or setting.

A branch is ``generator.agenerate(prefix=parent.fork(N), seed=...)``: its first N turns are a deep copy of
the parent's (text and metadata), every agent remembers them as said, and no model is called for them.
`abranch` makes the branches of one or more parents with a scenario's generator and writes them into a
run folder (``dialogs/<parent>-b<k>.json``, indexed with ``parent_id`` and ``branched_at``), where
``roleplay report`` groups each dialogue with its branches.

A variant is a mapping of changes: ``seed`` (an int), and any scenario field or ``<agent>.<persona field>``,
written as in a scenario's ``variants:`` (`roleplay.scenario.Scenario.with_values`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from roleplay._yaml import read_yaml
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.runs.folder import RunFolder, checked_id, safe_filename

if TYPE_CHECKING:
    from roleplay.scenario import Scenario

__all__ = ["abranch", "parse_variants", "scenario_of_run"]


def parse_variants(values: Sequence[str], parent_seed: int | None) -> list[dict[str, Any]]:
    """Variants from ``--variants`` values: ``N`` (N new seeds) or ``key=value,key=value`` (one variant each).

    Values are read as YAML scalars (``temperature=0.9`` is a number, ``Patient.mood=angry`` a string).
    """
    import yaml

    variants: list[dict[str, Any]] = []
    for value in values:
        text = value.strip()
        if text.isdigit():
            base = parent_seed or 0
            variants += [{"seed": base + len(variants) + k + 1} for k in range(int(text))]
            continue
        variant: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, eq, raw = part.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"--variants {value!r}: write a number of new seeds (3) or changes as key=value "
                                  "pairs (seed=7,Patient.mood=angry).")
            variant[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        if "seed" in variant and (isinstance(variant["seed"], bool) or not isinstance(variant["seed"], int)):
            raise ConfigError(f"--variants {value!r}: seed must be a whole number, got {variant['seed']!r}.")
        variants.append(variant)
    if not variants:
        raise ConfigError("No variants: pass --variants 3 (three new seeds) or --variants seed=7,Patient.mood=angry.")
    return variants


def _variants_for(parent: Dialog, variants: Sequence[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    given = [v for v in variants if not isinstance(v, str)]
    return [dict(v) for v in given] + (parse_variants([v for v in variants if isinstance(v, str)], parent.seed)
                                       if len(given) < len(variants) else [])


def scenario_of_run(source: Path) -> Path:
    """The scenario file a run folder was made from (its ``batch.json``), or a `ConfigError` saying to pass one."""
    params = source / "batch.json"
    if params.is_file():
        data = read_yaml(params, "batch.json", "")  # JSON is YAML
        if isinstance(data, dict) and data.get("scenario") and Path(data["scenario"]).is_file():
            return Path(data["scenario"])
    raise ConfigError(f"Cannot tell which scenario {source} was made from; pass --scenario FILE.yaml.")


def _branch_id(parent: Dialog, fallback: str, k: int) -> int | str:
    base = safe_filename(str(parent.id)) if parent.id is not None else safe_filename(fallback)
    return checked_id(f"{base}-b{k}")


async def _one(scenario: Scenario, parent: Dialog, at_turn: int, variant: Mapping[str, Any], branch_id: int | str,
               model: str | None, max_turns: int | None, options: Mapping[str, Any]) -> Dialog:
    prefix = parent.fork(at_turn)  # checks at_turn against the parent
    changes = {k: v for k, v in variant.items() if k != "seed"}
    seed = int(variant.get("seed", parent.seed if parent.seed is not None else 0))
    cast, _ = await scenario.acast(parent.seed or 0, scenario.samplers(model))
    settled = cast.with_values({**(parent.metadata.get("variant") or {}), **changes})
    generator = settled.generator(model=model, max_turns=max_turns, **options)
    dialog = await generator.agenerate(seed=seed, id=branch_id, prefix=prefix)
    dialog.metadata["branch"] = dict(variant)
    return dialog


async def abranch(scenario: Scenario, parents: Sequence[tuple[str, Dialog]], at_turn: int,
                  variants: Sequence[str | Mapping[str, Any]], out: str | Path, *, model: str | None = None,
                  max_turns: int | None = None, progress: bool = True, **options: Any) -> list[Dialog]:
    """Branch each parent at ``at_turn`` once per variant into run folder ``out``; returns the branches.

    ``parents`` are (name, dialogue) pairs, the name used when a dialogue has no id. ``variants`` are
    mappings of changes, or ``--variants`` strings (`parse_variants`: a number means that many seeds after
    each parent's own). ``options`` go to the models (``cache_dir``...).
    """
    made = []
    with RunFolder(out) as folder:
        done = folder.finished()
        work = [(name, parent, k, variant) for name, parent in parents
                for k, variant in enumerate(_variants_for(parent, variants), 1)]
        for name, parent, k, variant in tqdm(work, desc="branches", unit="dialog", disable=not progress):
            branch_id = _branch_id(parent, name, k)
            if branch_id in done:
                continue
            dialog = await _one(scenario, parent, at_turn, variant, branch_id, model, max_turns, options)
            folder.save(branch_id, dialog)
            made.append(dialog)
    return made
