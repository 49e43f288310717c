"""JSON Schema of the files a user writes (scenario, persona), generated from the pydantic models that read them.

`roleplay schema NAME` prints one; the package also ships them as ``roleplay/_data/schemas/NAME.json``, so an
editor's YAML support can check a scenario as it is typed (``# yaml-language-server: $schema=...``). A test
keeps the shipped files equal to what the models generate (regenerate them with `write_schemas`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from roleplay.errors import ConfigError
from roleplay.personas import Persona
from roleplay.resources import data_dir
from roleplay.scenario import Scenario

__all__ = ["SCHEMAS", "json_schema", "schema_text", "shipped_schema", "write_schemas"]

SCHEMAS: dict[str, type[BaseModel]] = {"scenario": Scenario, "persona": Persona}
"""The file formats with a schema, by the name `roleplay schema` takes."""


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of file format ``name`` (fields only a program sets, such as a scenario's path, left out)."""
    model = SCHEMAS.get(name)
    if model is None:
        raise ConfigError(f"No schema named {name!r}; known: {', '.join(SCHEMAS)}.")
    schema = model.model_json_schema(mode="validation")
    for field, info in model.model_fields.items():
        if info.exclude:
            schema["properties"].pop(info.alias or field, None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text(name: str) -> str:
    """``json_schema(name)`` as the text the shipped file holds."""
    return json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n"


def shipped_schema(name: str) -> Path:
    """Where the package ships the schema of ``name``."""
    return data_dir() / "schemas" / f"{name}.json"


def write_schemas() -> list[Path]:
    """Regenerate every shipped schema file from the models (run after changing a model's fields)."""
    written = []
    for name in SCHEMAS:
        path = shipped_schema(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(schema_text(name), encoding="utf-8")
        written.append(path)
    return written
