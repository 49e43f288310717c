"""Rules that fill one field of a sampled persona or context, and their compact YAML form.

In Python a rule is a rule object (``Range(18, 90)``), a callable ``fn(partial, rng)``, a list (pick
one) or any other value (fixed). In YAML (``parse_rule``) a mapping with one key naming the kind::

    age: {range: [18, 90]}                        # ints: inclusive int range; floats: uniform float range
    sex: {choice: [female, male], weights: [3, 2]}
    hobby: [chess, running, baking]               # a bare list: pick one, as {choice: [...]}
    languages: {value: [English, Spanish]}        # a list-typed field fixed to one list
    complaint: {file: complaints.txt}             # a random non-empty line; path relative to the YAML file
    occupation: {csv: occupations.csv, column: title}
    name: {call: my_package.names:pick}           # fn(partial persona dict, rng) -> value
    personality: {llm: a personality consistent with the rest}
    role: patient                                 # anything else is fixed ({value: ...} for a mapping)

A rule can depend on a field drawn before it (rules are drawn in the order they are written): ``by``
names that field and ``cases`` maps each of its values to the rule to use; ``default`` (optional)
serves the values without a case::

    gender: {choice: [woman, man], weights: [1, 1]}
    name:
      by: gender
      cases: {woman: [Ana, Chen, Fatima], man: [Bruno, Jamal, Yusuf]}
      default: [Alex, Sam]                        # optional

The generator checks that ``by`` names an earlier, drawn (not LLM) field and, when that field is a
choice or a fixed value, that each of its values has a case or there is a default.
Rules draw only from the ``random.Random`` they are handed, never from the global one, so one seed fixes
a whole persona. Files are read once, when the rule is built.
"""

from __future__ import annotations

import csv
import difflib
import inspect
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roleplay.errors import ConfigError
from roleplay.personas._loading import import_object

Partial = dict[str, Any]
"""The fields drawn so far, in rule order."""

__all__ = ["LLM", "By", "Call", "Choice", "Column", "Fixed", "Lines", "Partial", "Range", "Rule", "as_rule",
           "parse_rule"]


class Rule(ABC):
    """How one field gets its value."""

    @abstractmethod
    def draw(self, rng: random.Random, partial: Partial) -> Any:
        """A value for the field, drawn from ``rng`` (``partial`` holds the fields drawn before it)."""


@dataclass(frozen=True)
class Fixed(Rule):
    """Always the same value."""

    value: Any

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        return self.value


@dataclass(frozen=True)
class Choice(Rule):
    """One of ``options``, uniformly or by relative ``weights``."""

    options: Sequence[Any]
    weights: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.options, (str, bytes)) or not isinstance(self.options, Sequence) or not self.options:
            raise ConfigError(f"choice needs a non-empty list of options, got {self.options!r}.")
        if self.weights is None:
            return
        if len(self.weights) != len(self.options):
            raise ConfigError(f"choice has {len(self.options)} options but {len(self.weights)} weights; "
                              "give one weight per option (or none for a uniform pick).")
        if any(not _is_number(w) or w < 0 for w in self.weights) or not sum(self.weights):
            raise ConfigError(f"choice weights must be numbers >= 0 (finite), not all 0; got {list(self.weights)}.")

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        if self.weights is None:
            return rng.choice(self.options)
        return rng.choices(self.options, self.weights)[0]


@dataclass(frozen=True)
class Range(Rule):
    """A number between ``low`` and ``high`` inclusive: an int if both bounds are ints, else a float."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (_is_number(self.low) and _is_number(self.high)):
            raise ConfigError(f"range bounds must be numbers (finite), got [{self.low!r}, {self.high!r}]; write e.g. "
                              "{range: [18, 90]}.")
        if self.low > self.high:
            raise ConfigError(f"range [{self.low}, {self.high}] is empty: the low bound comes first.")

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        if isinstance(self.low, int) and isinstance(self.high, int):
            return rng.randint(self.low, self.high)
        return rng.uniform(self.low, self.high)


class _Pick(Rule):
    """A random one of ``options``, which a subclass reads from a file once."""

    options: list[str]

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        return rng.choice(self.options)


def _not_utf8(path: Path, err: UnicodeDecodeError) -> ConfigError:
    return ConfigError(f"file '{path}' is not UTF-8 text (byte {err.start} cannot be decoded); save it as UTF-8.")


class Lines(_Pick):
    """A random non-empty line of a text file (read once)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"file '{self.path}' not found; relative paths start at the YAML file that names it.")
        try:
            lines = [line.strip() for line in self.path.read_text(encoding="utf-8-sig").splitlines()]
        except UnicodeDecodeError as err:
            raise _not_utf8(self.path, err) from err
        self.options = [line for line in lines if line]
        if not self.options:
            raise ConfigError(f"file '{self.path}' has no non-empty line to pick from.")


class Column(_Pick):
    """A random non-empty value of one column of a CSV file with a header row (read once)."""

    def __init__(self, path: str | Path, column: str):
        self.path, self.column = Path(path), column
        if not column:
            raise ConfigError(f"a csv rule needs the column to pick from: {{csv: {self.path.name}, column: NAME}}.")
        if not self.path.is_file():
            raise ConfigError(f"CSV file '{self.path}' not found; relative paths start at the YAML file that names "
                              "it.")
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                if column not in (reader.fieldnames or []):
                    raise ConfigError(f"CSV file '{self.path}' has no column '{column}'; its columns are: "
                                      f"{', '.join(reader.fieldnames or []) or '(none: no header row)'}.")
                values = [(row[column] or "").strip() for row in reader]
        except UnicodeDecodeError as err:
            raise _not_utf8(self.path, err) from err
        self.options = [value for value in values if value]
        if not self.options:
            raise ConfigError(f"column '{column}' of '{self.path}' has no non-empty value to pick from.")


@dataclass(frozen=True)
class Call(Rule):
    """``fn(partial, rng)``: any Python logic, seeing the fields drawn before this one."""

    fn: Callable[[Partial, random.Random], Any]

    def __post_init__(self) -> None:
        try:
            inspect.signature(self.fn).bind({}, random.Random(0))
        except TypeError as err:  # the signature does not take (partial, rng)
            raise ConfigError(f"call {_name(self.fn)} must take two arguments, fn(partial, rng): the fields drawn "
                              f"so far and the random.Random to draw from ({err}).") from err
        except ValueError:  # a builtin without a signature: it is tried when drawn
            pass

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        try:
            return self.fn(dict(partial), rng)
        except Exception as err:  # noqa: BLE001 - user code: its failure is named, with the rule, not a traceback
            raise ConfigError(f"call {_name(self.fn)} failed: {type(err).__name__}: {err}. Fix that function.") \
                from err


def _name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


@dataclass(frozen=True)
class LLM(Rule):
    """Filled by the model, together with the persona's other LLM fields, in one schema-constrained call."""

    instruction: str = ""

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        raise ConfigError("LLM rules are filled by the generator's model, not drawn; use PersonaGenerator.")


@dataclass(frozen=True)
class By(Rule):
    """The rule of ``cases`` for the value that ``field`` (drawn earlier) took, else ``default``."""

    field: str
    cases: Mapping[Any, Rule]
    default: Rule | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ConfigError(f"by names the field this rule depends on, e.g. {{by: gender, cases: {{...}}}}; got "
                              f"{self.field!r}.")
        if not isinstance(self.cases, Mapping) or not self.cases:
            raise ConfigError(f"by: {self.field} needs cases, a mapping of {self.field} value -> rule, e.g. "
                              "{by: gender, cases: {woman: [Ana, Chen], man: [Bruno, Jamal]}}.")

    def uncovered(self, values: Sequence[Any]) -> list[Any]:
        """Those of ``values`` that have no case (none when there is a default)."""
        return [] if self.default is not None else [v for v in values if v not in self.cases]

    def draw(self, rng: random.Random, partial: Partial) -> Any:
        if self.field not in partial:
            raise ConfigError(f"by: {self.field}: that field has no value yet; give its rule before this one.")
        try:
            rule = self.cases.get(partial[self.field], self.default)
        except TypeError:  # an unhashable value (a list) matches no case
            rule = self.default
        if rule is None:
            raise ConfigError(f"by: {self.field} has no case for {partial[self.field]!r}; add it to cases (known: "
                              f"{', '.join(map(str, self.cases))}) or give a default.")
        return rule.draw(rng, partial)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not nan or inf, which no draw can use)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _range(spec: Mapping[str, Any], base: Path) -> Rule:
    bounds = spec["range"]
    if not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2:
        raise ConfigError(f"range needs two bounds, e.g. {{range: [18, 90]}}; got {bounds!r}.")
    return Range(bounds[0], bounds[1])


def _llm(spec: Mapping[str, Any], base: Path) -> Rule:
    instruction = spec["llm"]
    if instruction is True or instruction is None:
        return LLM()
    if not isinstance(instruction, str):
        raise ConfigError(f"llm takes an instruction string (or true), got {instruction!r}.")
    return LLM(instruction)


def _by(spec: Mapping[str, Any], base: Path) -> Rule:
    cases = spec.get("cases")
    if not isinstance(cases, Mapping):
        return By(spec["by"], {})  # names the missing cases
    default = parse_rule(spec["default"], base) if "default" in spec else None
    return By(spec["by"], {value: parse_rule(rule, base) for value, rule in cases.items()}, default)


_KINDS: dict[str, tuple[set[str], Callable[[Mapping[str, Any], Path], Rule]]] = {
    # kind: (other keys allowed, builder)
    "value": (set(), lambda spec, base: Fixed(spec["value"])),
    "choice": ({"weights"}, lambda spec, base: Choice(spec["choice"], spec.get("weights"))),
    "range": (set(), _range),
    "file": (set(), lambda spec, base: Lines(base / str(spec["file"]))),
    "csv": ({"column"}, lambda spec, base: Column(base / str(spec["csv"]), str(spec.get("column", "")))),
    "call": (set(), lambda spec, base: Call(import_object(str(spec["call"]), "call"))),
    "llm": (set(), _llm),
    "by": ({"cases", "default"}, _by),
}


def parse_rule(spec: Any, base: Path) -> Rule:
    """The rule a YAML value stands for; paths in it are relative to ``base``.

    Raises:
        ConfigError: an unknown rule kind, extra keys, or a bad range, choice, file, column or by.
    """
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ConfigError("a bare list is a pick-one rule and needs options; write {value: []} to fix the "
                              "field to an empty list.")
        return Choice(list(spec))
    if not isinstance(spec, Mapping):
        return Fixed(spec)
    kinds = [key for key in spec if key in _KINDS]
    if len(kinds) != 1:
        found = f"{', '.join(map(str, spec))}" if spec else "nothing"
        meant = [m for key in map(str, spec) for m in difflib.get_close_matches(key, list(_KINDS), n=1)]
        raise ConfigError(f"a rule is a mapping with exactly one kind key ({', '.join(_KINDS)}); found {found}"
                          f"{'; did you mean ' + meant[0] + '?' if meant and not kinds else ''}. "
                          "Write e.g. {range: [18, 90]}, or {value: {...}} for a fixed mapping.")
    allowed, build = _KINDS[kinds[0]]
    extra = set(map(str, spec)) - allowed - {kinds[0]}
    if extra:
        raise ConfigError(f"rule '{kinds[0]}' does not take {', '.join(sorted(extra))}"
                          f"{'; it takes ' + ', '.join(sorted(allowed)) if allowed else ''}.")
    return build(spec, base)


def as_rule(spec: Any, base: Path) -> Rule:
    """A rule from Python (a `Rule`, a callable, a list to pick from, a YAML-style mapping, or a fixed value)."""
    if isinstance(spec, Rule):
        return spec
    if callable(spec) and not isinstance(spec, type):
        return Call(spec)
    return parse_rule(spec, base)
