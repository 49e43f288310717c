"""Reading YAML input files (scenarios, taxonomies) with errors that name the file and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from roleplay.errors import PersonaError, ScenarioError


def read_yaml(path: str | Path, what: str, missing_hint: str,
              error: type[PersonaError | ScenarioError] = ScenarioError) -> Any:
    """The parsed YAML of ``path``; ``error`` if it is missing (with ``missing_hint``) or not YAML."""
    source = Path(path)
    if not source.is_file():
        raise error(f"{what} file not found. {missing_hint}", source)
    try:
        return yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise error(f"not valid YAML: {err}", source) from err


def problems(err: ValidationError) -> str:
    """Pydantic's errors as ``field: message; ...`` (unknown fields named as such)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: "
                     f"{'unknown field' if e['type'] == 'extra_forbidden' else e['msg']}" for e in err.errors())
