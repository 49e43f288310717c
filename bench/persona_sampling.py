"""Persona sampling speed and diversity, on the shipped clinic patient rules.

1. Rule-only fields (the rules file without its LLM field): time to sample 500 patients (goal: under 1 s,
   file reading included), the distinct-combination rate, and whether the same seed gives the same cast.
2. LLM-filled fields on a real model (default: embedded): ``--llm-n`` patients whose personality the
   model writes in one schema-constrained call each; time per persona and how many validate.

    python bench/persona_sampling.py [--n 500] [--llm-n 10] [--model embedded]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from roleplay.personas import PersonaGenerator
from roleplay.personas._sampling import read_rules
from roleplay.personas.clinic import Patient

RULES = Path(__file__).resolve().parent.parent / "scenarios" / "clinic" / "patient_rules.yaml"


def rule_only(n: int) -> None:
    """Part 1: sample ``n`` patients from the rule-only fields, timed from reading the files."""
    _, rules = read_rules(RULES)
    drawn = {field: rule for field, rule in rules.items() if not (isinstance(rule, dict) and "llm" in rule)}
    started = time.perf_counter()
    generator = PersonaGenerator(Patient, drawn, base=RULES.parent)
    cast = generator.sample(n, seed=0)
    seconds = time.perf_counter() - started
    combos = {tuple(getattr(p, field) for field in drawn) for p in cast}
    again = generator.sample(n, seed=0) == cast
    print(f"rule-only: {n} personas ({len(drawn)} drawn fields) in {seconds:.3f} s "
          f"({1e6 * seconds / n:.0f} us each, goal < 1 s); "
          f"distinct combinations {len(combos)}/{n} = {len(combos) / n:.1%}; same seed, same cast: {again}")
    for field in drawn:
        print(f"  {field:12} {len({getattr(p, field) for p in cast}):4} distinct values")


def llm_filled(n: int, model: str) -> None:
    """Part 2: ``n`` patients with the personality written by ``model``."""
    started = time.perf_counter()
    generator = PersonaGenerator.from_yaml(RULES, model=model)
    cast = generator.sample(1, seed=0)  # loads the model once, so the timing below is per persona
    warm = time.perf_counter()
    cast += generator.sample(n - 1, seed=1)
    seconds = time.perf_counter() - warm
    valid = sum(Patient.model_validate(p.model_dump()) == p and bool(p.personality.strip()) for p in cast)
    print(f"LLM-filled ({model}): {n} personas, {valid}/{n} validate with a non-empty personality; first one "
          f"(model load included) {warm - started:.2f} s, then {seconds / max(n - 1, 1):.2f} s per persona; "
          f"{len({p.personality for p in cast})} distinct personalities")
    for person in cast[:3]:
        print("  " + json.dumps({k: person.model_dump()[k] for k in ("name", "age", "occupation", "personality")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--llm-n", type=int, default=10, help="0 skips the LLM part.")
    parser.add_argument("--model", default="embedded")
    args = parser.parse_args()
    rule_only(args.n)
    if args.llm_n:
        llm_filled(args.llm_n, args.model)


if __name__ == "__main__":
    main()
