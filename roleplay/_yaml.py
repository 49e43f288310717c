"""Reading YAML input files (scenarios, taxonomies) with errors that name the file and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from roleplay._checked import describe_problems as problems  # the one formatter of pydantic's errors
from roleplay.errors import PersonaError, ScenarioError

__all__ = ["problems", "read_yaml"]


def read_yaml(path: str | Path, what: str, missing_hint: str | Callable[[], str],
              error: type[PersonaError | ScenarioError] = ScenarioError) -> Any:
    """The parsed YAML of ``path``; ``error`` if it is missing (with ``missing_hint``) or not YAML.

    A hint that costs work to write (listing the bundled scenarios reads every one) can be a function,
    called only when the file is missing.
    """
    source = Path(path)
    if source.is_dir():
        raise error(f"is a folder, but a {what} file is needed. Give the path of a YAML file.", source)
    if not source.is_file():
        raise error(f"{what} file not found. {missing_hint() if callable(missing_hint) else missing_hint}", source)
    try:
        return yaml.safe_load(source.read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark is fine
    except UnicodeDecodeError as err:
        raise error(f"not a UTF-8 text file (byte {err.start} cannot be decoded); a {what} file must be YAML "
                    "text saved as UTF-8.", source) from err
    except OSError as err:
        raise error(f"cannot read the {what} file: {err.strerror or err}. Check its permissions.", source) from err
    except yaml.YAMLError as err:
        raise error(f"not valid YAML{_where(err)}: {_problem(err)}. Fix the YAML syntax there.", source) from err


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problem(err: yaml.YAMLError) -> str:
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    return ", ".join(str(p) for p in parts if p) or str(err)
