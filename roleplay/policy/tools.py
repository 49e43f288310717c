"""The tool a ``query`` node calls: an API described in STAR's format, backed by a generated database.

STAR ships each API's description (``apis/apis/<task>.json``: inputs with types and categories,
outputs, required fields, db name) and each database's *field specs* (``apis/dbs/<db>.json``), not
its rows. `QueryTool` generates the rows from the specs with a seeded ``random.Random`` (every
category of a ``Name`` field appears, ``id`` counts from 1; bounds and ``Enabled`` conditions STAR
writes as Python lambdas are not evaluated), so a run is reproducible, then answers
a call by filtering the rows on the arguments that are db fields. Arguments that are not db fields
(a customer name, a request type) are parameters of the call. A booking API (one with a
``RequestType`` input: check, then book) matches on the item's identity only (``Name``, ``id``) and
the slot is free with probability ``availability`` (seeded per arguments): the rows do not hold a
calendar, and a happy-path scenario wants 1.0, as STAR's happy dialogues had. An API with no db (``"db": "null"``)
answers with a plausible result built from its output fields. A call missing a required argument
finds nothing and says which one. A ``lenient`` tool (a happy-path scenario, where the real knowledge
base had what the user asked for) answers a search nothing matches with the rows closest to it
(matching the most arguments) instead of nothing: the generated rows are random, the user's wishes are not.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from roleplay.errors import ConfigError

__all__ = ["BRIEF_ITEMS", "BRIEF_LIST", "BRIEF_TEXT", "DEFAULT_ROWS", "MAX_ITEMS", "MAX_TEXT_ARGUMENT", "QueryResult",
           "QueryTool", "generate_rows"]

DEFAULT_ROWS = 40
MAX_ITEMS = 5
MAX_TEXT_ARGUMENT = 80
"""Longest text argument: a small model fills a free-text slot until its token limit, and an API without a db
echoes the arguments in every output field, so one long argument overflowed the context (STAR trip_directions)."""


BRIEF_ITEMS, BRIEF_LIST, BRIEF_TEXT = 2, 3, 120
"""What the agent is told of a result (`QueryResult.brief`): so many items, list entries per field, characters per
text. A STAR trip row holds three lists of ten directions each: five rows in full were 9,000 characters, and two
calls remembered that way overflowed the embedded model's 4,096-token context (STAR 91)."""


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= BRIEF_TEXT else value[:BRIEF_TEXT - 3] + "..."
    if isinstance(value, list):
        return [_short(v) for v in value[:BRIEF_LIST]] + (["..."] if len(value) > BRIEF_LIST else [])
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    return value


class QueryResult(BaseModel):
    """What a query returned."""

    api: str
    arguments: dict[str, Any]
    items: list[dict[str, Any]] = Field(default_factory=list, description="Matching rows, projected on the outputs.")
    total: int = Field(0, description="How many rows matched.")
    found: bool = Field(False, description="True when the call succeeded with at least one row.")
    error: str | None = Field(None, description="Why the call failed (a missing required argument).")

    def brief(self) -> str:
        """The result as the agent hears it: the first items, long lists and texts cut short, as JSON.

        Enough to word an answer; the whole result stays in the dialogue's ``query`` event.
        """
        items = [_short(item) for item in self.items[:BRIEF_ITEMS]]
        if not items:
            return json.dumps({"found": False, "error": self.error or "nothing found"})
        return json.dumps({"items": items, "total": self.total})


def _bound(value: Any, default: int) -> int:
    """An Integer field's Min/Max; STAR writes some as Python lambdas over other fields, never evaluated here."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _value(spec: Mapping[str, Any], rng: random.Random, index: int) -> Any:
    kind, categories = spec.get("Type"), spec.get("Categories") or []
    if spec.get("Name") == "id":
        return index + 1
    if kind == "Integer":
        low = _bound(spec.get("Min"), 1)
        return rng.randint(low, max(low, _bound(spec.get("Max"), low + 24)))
    if kind == "Boolean":
        return rng.random() < 0.5
    if kind in ("CategoricalMultiple", "CategoricalList") and categories:
        return rng.sample(categories, min(len(categories), rng.randint(1, 3)))
    if categories:
        return categories[index % len(categories)] if spec.get("Name") == "Name" else rng.choice(categories)
    return None


def generate_rows(db_specs: Sequence[Mapping[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` reproducible rows from a STAR db's field specs."""
    rng = random.Random(seed)
    return [{spec["Name"]: _value(spec, rng, i) for spec in db_specs} for i in range(n)]


def _matches(row_value: Any, wanted: Any) -> bool:
    if isinstance(row_value, list):
        return any(_matches(v, wanted) for v in row_value)
    if isinstance(row_value, bool) or isinstance(wanted, bool):
        return str(row_value).lower() == str(wanted).lower()
    return str(row_value).strip().lower() == str(wanted).strip().lower()


def _closest(rows: list[dict[str, Any]], filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows matching the most of ``filters``."""
    scores = [sum(_matches(row.get(k), v) for k, v in filters.items()) for row in rows]
    best = max(scores, default=0)
    return [row for row, score in zip(rows, scores, strict=True) if score == best]


class QueryTool:
    """Calls one STAR-format API against rows generated from its db specs."""

    def __init__(self, api: Mapping[str, Any], db_specs: Sequence[Mapping[str, Any]] | None = None,
                 rows: int = DEFAULT_ROWS, seed: int = 0, availability: float = 1.0, lenient: bool = False):
        if not isinstance(api, Mapping) or "input" not in api or "output" not in api:
            raise ConfigError("An API description needs 'input' and 'output' lists (STAR's apis/apis/<task>.json).")
        self.api = dict(api)
        self.name = str(api.get("function") or api.get("db") or "api")
        self.inputs = {spec["Name"]: spec for spec in api["input"]}
        self.outputs = list(api["output"])
        self.required = list(api.get("required", []))
        self.rows = generate_rows(db_specs, rows, seed) if db_specs else None
        self._seed = seed
        self.availability = availability
        self.lenient = lenient
        self.booking = "RequestType" in self.inputs

    def arguments_schema(self) -> dict[str, Any]:
        """JSON schema of the call's arguments, for schema-constrained decoding of a tool call."""
        properties: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if spec.get("Type") in ("Categorical", "RequestType") and spec.get("Categories"):
                properties[name] = {"type": "string", "enum": list(spec["Categories"])}
            elif spec.get("Type") == "Integer":
                properties[name] = {"type": "integer"}
            elif spec.get("Type") == "Boolean":
                properties[name] = {"type": "boolean"}
            else:  # a required text may not be empty: the call would fail as if the argument were missing
                properties[name] = {"type": "string", "maxLength": MAX_TEXT_ARGUMENT,
                                    **({"minLength": 1} if name in self.required else {})}
        return {"type": "object", "properties": properties, "required": [r for r in self.required if r in properties]}

    def __call__(self, arguments: Mapping[str, Any]) -> QueryResult:
        """Run the query: filter rows on db-field arguments, project on outputs."""
        arguments = {k: v for k, v in dict(arguments).items() if v not in (None, "")}
        missing = [r for r in self.required if r not in arguments]
        if missing:
            return QueryResult(api=self.name, arguments=arguments, error=f"missing required {', '.join(missing)}")
        if self.rows is None:
            return QueryResult(api=self.name, arguments=arguments, items=[self._invented(arguments)], total=1,
                               found=True)
        fields = set(self.rows[0]) if self.rows else set()
        if self.booking:
            fields &= {"Name", "id"}
        filters = {k: v for k, v in arguments.items() if k in fields}
        matching = [row for row in self.rows if all(_matches(row.get(k), v) for k, v in filters.items())]
        if not matching and self.lenient:
            matching = _closest(self.rows, filters)
        if self.booking and random.Random(f"{self._seed}:{sorted(arguments.items())}").random() >= self.availability:
            matching = []
        items = [self._project(row, arguments, found=True) for row in matching[:MAX_ITEMS]]
        return QueryResult(api=self.name, arguments=arguments, items=items, total=len(matching), found=bool(matching))

    def _project(self, row: Mapping[str, Any], arguments: Mapping[str, Any], found: bool) -> dict[str, Any]:
        rng = random.Random(f"{self._seed}:{sorted(arguments.items())}")
        result = {}
        for spec in self.outputs:
            name = spec["Name"]
            if name in row:
                result[name] = row[name]
            elif spec.get("Categories"):
                result[name] = spec["Categories"][0 if found else -1]
            elif spec.get("Type") == "Integer":
                result[name] = rng.randint(1, 60)
            else:
                readable = spec.get("ReadableName", name)
                about = ", ".join(f"{k}={v}" for k, v in arguments.items() if k != "RequestType")
                result[name] = f"{readable} ({about})"
        return result

    def _invented(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return self._project({}, arguments, found=True) or {k: v for k, v in arguments.items()}
