"""Sampling many different personas (or scenario contexts) from rules, reproducibly by seed.

A `FieldSampler` fills the fields of a pydantic class from one rule per field (`roleplay.personas._rules`):
first the drawn fields, in rule order, each seeing the ones before it; then every LLM field of the
object in *one* schema-constrained call whose JSON schema is cut from the class's own, so the model can
only answer with values of the right type. The whole object is then validated by the class: a drawn
field that fails is drawn again, an LLM answer that fails is asked for again with the error shown, and
after ``attempts`` tries the error names the field, the value and the fix.

``generate(seed)`` uses ``random.Random(seed)`` and, for LLM fields, a model seeded with ``seed``, so
the same seed and model give the same object; ``sample(n, seed)`` is ``generate(seed + i)`` for each i,
the same seeds a batch gives its dialogues. Rules also load from YAML (`from_yaml`)::

    class: roleplay.personas.clinic:Patient      # optional; the generator's class by default
    rules: {age: {range: [18, 90]}, complaint: {file: complaints.txt}, personality: {llm: ...}}
"""

from __future__ import annotations

import difflib
import json
import random
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from tqdm.auto import tqdm

from roleplay._aio import run_sync
from roleplay._yaml import read_yaml
from roleplay.backends import Model, get_backend
from roleplay.backends.options import SEED_LIMIT
from roleplay.errors import ConfigError, PersonaError
from roleplay.personas._loading import load_class
from roleplay.personas._model import BasePersona, Persona
from roleplay.personas._rules import LLM, By, Choice, Fixed, Rule, as_rule
from roleplay.prompts import render
from roleplay.structured import chars_for, complete_structured

M = TypeVar("M", bound=BaseModel)

__all__ = ["FieldSampler", "PersonaGenerator", "class_of", "read_rules"]

_MAX_TEXT = 200  # characters an LLM-filled string may have unless the class says otherwise
_MAX_ITEMS = 4  # items an LLM-filled list of strings may have unless the class says otherwise
_JSON_TOKENS = 8  # the braces around the LLM's answer
_FIELD_TOKENS = 8  # a field's key, quotes and separators


def read_rules(path: str | Path) -> tuple[str | None, dict[str, Any]]:
    """The ``class`` spec (None if absent) and the ``rules`` of a rules file."""
    data = read_yaml(path, "rules", "Check the path (relative paths start at the file that names it).",
                     error=PersonaError)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict) or set(data) - {"class", "rules"}:
        unknown = sorted(map(str, set(data) - {"class", "rules"})) if isinstance(data, dict) else []
        hint = "".join(f" Unknown field {name}" + "".join(f": did you mean {m}?" for m in difflib.get_close_matches(
            name, ["class", "rules"], n=1)) + "." for name in unknown)
        raise PersonaError("a rules file is a mapping with 'rules: {field: rule, ...}' and optionally "
                           f"'class: package.module:Name'.{hint}", path)
    spec = data.get("class")
    if spec is not None and not isinstance(spec, str):
        raise PersonaError(f"'class' must be a string 'package.module:Name', got {spec!r}.", path)
    return spec, data["rules"]


def class_of(spec: str | None, base_class: type[BaseModel], default: type[Any],
             source: str | Path | None = None) -> type[Any]:
    """The class ``spec`` names (checked to subclass ``base_class``), or ``default`` without one."""
    if spec is None:
        return default
    try:
        return load_class(spec, base_class)
    except ConfigError as err:
        raise PersonaError(str(err), source) from err


def _bounded_text(prop: dict[str, Any], chars: int = _MAX_TEXT) -> dict[str, Any]:
    """A string schema kept non-empty and at most ``chars`` long (so the JSON closes within the budget)."""
    if prop.get("type") != "string":
        return prop
    return {"minLength": 1, **prop, "maxLength": max(1, min(chars, int(prop.get("maxLength", chars))))}


def _field_chars(max_tokens: int, fields: int) -> int:
    """The characters each of ``fields`` LLM-filled strings may have for their JSON to fit ``max_tokens``."""
    return min(_MAX_TEXT, chars_for((max_tokens - _JSON_TOKENS) // max(1, fields) - _FIELD_TOKENS))


class FieldSampler(Generic[M]):
    """Fills the fields of ``target`` (a pydantic class) from rules; see the module docstring."""

    def __init__(self, target: type[M], rules: Mapping[str, Any], model: str | Model | None = None, *,
                 base: str | Path | None = None, source: str | Path | None = None, attempts: int = 3,
                 temperature: float | None = 0.8, max_tokens: int | None = None, **backend_options: Any):
        """Compile ``rules`` for ``target``.

        Args:
            target: the class to fill.
            rules: field -> rule (a `Rule`, a callable ``fn(partial, rng)``, a YAML-style mapping, or a fixed value).
            model: the model for LLM rules (a model string or a `Model`); required if there is one.
            base: folder that relative file paths in ``rules`` start at (default: the working folder).
            source: the file the rules came from, named in errors.
            attempts: tries per object before a field that keeps failing validation is an error.
            temperature: sampling temperature of the LLM call.
            max_tokens: token budget of the LLM call (default: 64 + 96 per LLM field).
            **backend_options: more options for `get_backend` (``cache_dir``...).
        """
        if not isinstance(rules, Mapping):
            raise ConfigError(f"rules must be a mapping of field -> rule, e.g. {{'age': {{'range': [18, 90]}}}}; got "
                              f"{rules!r}.")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"attempts must be an int of at least 1, got {attempts!r}.")
        self.target = target
        self.source = source
        self.rules = self._compile(rules, Path(base) if base is not None else Path.cwd())
        self.instructions = {name: rule.instruction for name, rule in self.rules.items() if isinstance(rule, LLM)}
        self.llm_fields = list(self.instructions)
        if self.llm_fields and model is None:
            raise self._error(f"fields {', '.join(self.llm_fields)} are filled by the LLM but no model was given; "
                              "pass model='embedded' (or any model string).")
        self.model = model
        self.attempts = attempts
        self.backend_options = {"temperature": temperature, "max_tokens": max_tokens or 64 + 96 * len(
            self.llm_fields), **backend_options}
        self.schema = self._llm_schema()

    def _error(self, message: str) -> PersonaError:
        return PersonaError(f"{self.target.__name__} rules: {message}", self.source)

    def _compile(self, rules: Mapping[str, Any], base: Path) -> dict[str, Rule]:
        fields = self.target.model_fields
        compiled = {}
        for name, spec in rules.items():
            if name not in fields:
                close = difflib.get_close_matches(str(name), fields, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise self._error(f"unknown field '{name}'.{hint} {self.target.__name__} has: {', '.join(fields)}.")
            try:
                compiled[name] = as_rule(spec, base)
            except ConfigError as err:
                raise self._error(f"field '{name}': {err}") from err
        missing = [name for name, info in fields.items() if info.is_required() and name not in compiled]
        if missing:
            raise self._error(f"{', '.join(missing)} required but without a rule; give each a rule (a fixed value "
                              "at least).")
        for name, rule in compiled.items():
            if isinstance(rule, By):
                self._check_depends(name, rule, compiled)
        return compiled

    def _check_depends(self, name: str, rule: By, compiled: Mapping[str, Rule]) -> None:
        """``rule`` depends on a drawn field given before ``name``, and has a case for each of its values."""
        earlier = list(compiled)[:list(compiled).index(name)]
        source = compiled.get(rule.field)
        if rule.field not in earlier or isinstance(source, LLM):
            where = "is filled by the LLM, after every drawn field" if isinstance(source, LLM) else \
                "has no rule before it" + ("" if rule.field not in compiled else " (rules are drawn in order)")
            raise self._error(f"field '{name}' depends on '{rule.field}' (by: {rule.field}), which {where}. Give "
                              f"'{rule.field}' a drawn rule above '{name}'.")
        values = source.options if isinstance(source, Choice) else [source.value] if isinstance(source, Fixed) else []
        missing = rule.uncovered(values)
        if missing:
            raise self._error(f"field '{name}' (by: {rule.field}) has no case for {rule.field} "
                              f"{', '.join(map(repr, missing))}; add them to cases or give a default.")

    def _llm_schema(self) -> dict[str, Any]:
        """The class's JSON schema cut down to the LLM fields, strings non-empty and bounded by the token budget."""
        full = self.target.model_json_schema()
        chars = _field_chars(int(self.backend_options["max_tokens"]), len(self.llm_fields))
        properties = {}
        for name in self.llm_fields:
            prop = {k: v for k, v in full["properties"][name].items() if k != "default"}
            if prop.get("type") == "array" and prop.get("items", {}).get("type") == "string":
                items = min(int(prop.get("maxItems", _MAX_ITEMS)), _MAX_ITEMS)
                prop = {"minItems": 1, **prop, "maxItems": items,
                        "items": _bounded_text(prop["items"], chars // items)}
            properties[name] = _bounded_text(prop, chars)
        schema = {"type": "object", "properties": properties, "required": list(self.llm_fields),
                  "additionalProperties": False}
        return {**schema, "$defs": full["$defs"]} if "$defs" in full else schema

    def _invalid(self, values: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
        """The object if ``values`` validate, else field -> problem (missing LLM fields are not problems)."""
        try:
            return self.target.model_validate(values), {}
        except ValidationError as err:
            bad = {}
            for error in err.errors():
                name = str(error["loc"][0]) if error["loc"] else "(object)"
                if not (error["type"] == "missing" and name in self.llm_fields):
                    bad[name] = error["msg"]
            return None, bad

    def _drawn(self, seed: int) -> tuple[dict[str, Any], M | None]:
        """The drawn (non-LLM) fields for ``seed``, redrawing failing ones, and the object if they make one."""
        rng = random.Random(seed)
        values: dict[str, Any] = {}
        for name, rule in self.rules.items():
            if not isinstance(rule, LLM):
                values[name] = rule.draw(rng, values)
        for attempt in range(1, self.attempts + 1):
            made, bad = self._invalid(values)
            if not bad:
                return values, made
            if "(object)" in bad:
                raise self._error(f"the drawn values {values} fail the class's own check: {bad['(object)']}.")
            if attempt < self.attempts:
                for name in bad:
                    values[name] = self.rules[name].draw(rng, values)
        shown = "; ".join(f"field '{k}' = {values.get(k)!r}: {v}" for k, v in bad.items())
        raise self._error(f"drawn values keep failing validation after {self.attempts} attempts ({shown}). Make "
                          "the rule give values of the field's type.")

    async def agenerate(self, seed: int = 0) -> M:
        """One object for ``seed``: drawn fields, then the LLM fields in one structured call."""
        values, made = self._drawn(seed)
        if not self.llm_fields and made is not None:
            return made
        return await self._fill(values, seed)

    def generate(self, seed: int = 0) -> M:
        """Sync `agenerate` (no event loop is started when there is no LLM field)."""
        made = None if self.llm_fields else self._drawn(seed)[1]
        return made if made is not None else run_sync(self.agenerate(seed))

    async def asample(self, n: int, seed: int = 0, *, progress: bool = False) -> list[M]:
        """``n`` objects, object i generated with ``seed + i`` (``progress``: a tqdm bar, one step per object)."""
        return [await self.agenerate(one) for one in self._progress(_seeds(n, seed), progress)]

    def sample(self, n: int, seed: int = 0, *, progress: bool = False) -> list[M]:
        """Sync `asample`."""
        if not self.llm_fields:
            return list(self.isample(n, seed, progress=progress))
        return run_sync(self.asample(n, seed, progress=progress))

    def isample(self, n: int, seed: int = 0, *, progress: bool = False) -> Iterator[M]:
        """`sample`, one object at a time: the first is ready at once, and nothing is held (``n`` may be huge)."""
        for one in self._progress(_seeds(n, seed), progress):
            yield self.generate(one)

    def _progress(self, seeds: range, shown: bool) -> Iterable[int]:
        """``seeds``, behind a tqdm bar when ``shown`` (an LLM-filled object takes seconds; the bar says how many)."""
        return tqdm(seeds, desc=f"{self.target.__name__} objects", unit="object", disable=not shown)

    def _prompt(self, values: dict[str, Any], problem: str) -> str:
        known = "\n".join(f"- {k}: {v}" for k, v in values.items() if v not in (None, "", [], {})) or "- (none)"
        wanted = "\n".join(f"- {name}: {text or 'fitting the rest'}" for name, text in self.instructions.items())
        return render("persona_fill", kind=self.target.__name__, known=known, wanted=wanted,
                      keys=", ".join(self.llm_fields), problem=problem)

    async def _fill(self, values: dict[str, Any], seed: int) -> M:
        model = get_backend(self.model, seed=seed, **self.backend_options)  # type: ignore[arg-type]
        problem, shown = "", ""
        try:
            for _ in range(self.attempts):
                output, _, _ = await complete_structured(model, render("persona_fill_system"),
                                                         self._prompt(values, problem), self.schema)
                filled, bad = self._invalid({**values, **output})
                if filled is not None:
                    return filled
                shown = "; ".join(f"'{k}': {v}" for k, v in bad.items())
                problem = f"\nYour previous answer {json.dumps(output)} was invalid ({shown}); fix it."
        finally:
            if not isinstance(self.model, Model):
                await model.close()
        raise self._error(f"the model's values kept failing validation after {self.attempts} attempts ({shown}). "
                          "Loosen the field's constraints, or try a larger model.")


def _seeds(n: int, seed: int) -> range:
    """The seeds of ``n`` objects from ``seed`` (all checked now: the last must be a seed a model takes)."""
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {value!r}.")
    if seed + n > SEED_LIMIT:
        raise ConfigError(f"The seeds would run from {seed} to {seed + n - 1}, past the largest seed {SEED_LIMIT - 1} "
                          "(2**32 - 1): object i uses seed + i. Ask for fewer, or a lower seed.")
    return range(seed, seed + n)


class PersonaGenerator(FieldSampler[M]):
    """Samples personas of ``persona_class`` (a `BasePersona` subclass) from rules; see the module docstring.

    Example:
        >>> gen = PersonaGenerator(Persona, {"role": "patient", "circumstances": {"choice": ["a cough", "a rash"]}})
        >>> gen.sample(2, seed=1)
    """

    def __init__(self, persona_class: type[M], rules: Mapping[str, Any], model: str | Model | None = None,
                 **options: Any):
        """See `FieldSampler`; ``persona_class`` must subclass `BasePersona`."""
        if not (isinstance(persona_class, type) and issubclass(persona_class, BasePersona)):
            raise ConfigError(f"PersonaGenerator needs a BasePersona subclass, got {persona_class!r}.")
        super().__init__(persona_class, rules, model, **options)

    @classmethod
    def from_yaml(cls, path: str | Path, model: str | Model | None = None, **options: Any) -> PersonaGenerator[Any]:
        """A generator from a rules file (see the module docstring); its class defaults to `Persona`."""
        spec, rules = read_rules(path)
        return cls(class_of(spec, BasePersona, Persona, path), rules, model, base=Path(path).parent, source=path,
                   **options)
