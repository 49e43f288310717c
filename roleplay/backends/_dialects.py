"""How each backend family takes a schema and a seed: the create arguments `Model.call_options` turns into.

One table, so a new backend picks its dialect here instead of writing its own: OpenAI and vLLM take a
``json_schema`` response format, llama.cpp a ``json_object`` with a schema, Ollama a ``format``, and
roleplay's own clients (scripted, human) read the schema from `SCHEMA_KEY`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_KEY", "json_object_schema_args", "json_schema_args", "plain_seed_args"]

SCHEMA_KEY = "json_schema"
"""The create argument that carries the schema to roleplay's own clients (scripted, human)."""


def plain_seed_args(seed: int) -> dict[str, Any]:
    """Most backends take a per-call seed as a ``seed`` create argument (OpenAI, llama.cpp, scripted)."""
    return {"seed": seed}


def json_object_schema_args(schema: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's dialect for schema-constrained output (in-process and its server alike)."""
    return {"response_format": {"type": "json_object", "schema": schema}}


def json_schema_args(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's and vLLM's dialect for schema-constrained output."""
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}}

