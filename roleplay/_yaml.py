"""Reading YAML input files (scenarios, taxonomies) with errors that name the file and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from roleplay._atomic import as_path
from roleplay._checked import describe_problems as problems  # the one formatter of pydantic's errors
from roleplay.errors import PersonaError, ScenarioError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "load_text", "problems", "read_yaml"]


def read_yaml(path: str | Path, what: str, missing_hint: str | Callable[[], str],
              error: type[PersonaError | ScenarioError] = ScenarioError) -> Any:
    """The parsed YAML of ``path``; ``error`` if it is missing (with ``missing_hint``) or not YAML.

    A hint that costs work to write (listing the bundled scenarios reads every one) can be a function,
    called only when the file is missing.
    """
    source = as_path(path, f"A {what} file")
    if source.is_dir():
        raise error(f"is a folder, but a {what} file is needed. Give the path of a YAML file.", source)
    if not source.is_file():
        raise error(f"{what} file not found. {missing_hint() if callable(missing_hint) else missing_hint}", source)
    try:
        return load_text(source.read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark is fine
    except UnicodeDecodeError as err:
        raise error(f"not a UTF-8 text file (byte {err.start} cannot be decoded); a {what} file must be YAML "
                    "text saved as UTF-8.", source) from err
    except OSError as err:
        raise error(f"cannot read the {what} file: {err.strerror or err}. Check its permissions.", source) from err
    except _TooBig as err:
        raise error(f"{err}.", source) from err
    except yaml.YAMLError as err:
        raise error(f"not valid YAML{_where(err)}: {_problem(err)}. Fix the YAML syntax there.", source) from err
    except RecursionError as err:
        raise error(f"nested deeper than Python can read (more than {MAX_DEPTH} levels); no {what} needs that. "
                    "Flatten it.", source) from err


MAX_DEPTH = 100
"""Deepest nesting of lists and mappings read (no input of roleplay's needs more than a handful)."""
MAX_VALUES = 100_000
"""Most values a document may hold once its aliases are expanded (a ``*alias`` repeats what its anchor holds)."""


class _TooBig(yaml.YAMLError):
    """A document nested deeper than `MAX_DEPTH` or larger than `MAX_VALUES` once expanded."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (YAML says keys are unique)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice in this mapping (first at line "
                        f"{seen[key].start_mark.line + 1}); keep one", key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_text(text: str) -> Any:
    """YAML text as Python data: safe types only, unique keys, at most `MAX_DEPTH` deep and `MAX_VALUES` values.

    The size is counted on the composed document, before anything is built, so an alias bomb (1 KB that
    expands to billions of values) is refused at once.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_size(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels (line {node.start_mark.line + 1}); "
                                 "no input of roleplay needs that. Flatten it")
        if id(node) not in sizes:
            children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else \
                node.value if isinstance(node, yaml.SequenceNode) else []
            sizes[id(node)] = 1 + sum(size(child, depth + 1) for child in children)
        if sizes[id(node)] > MAX_VALUES:
            raise _TooBig(f"holds more than {MAX_VALUES} values once its aliases (*name) are expanded: an "
                                 "alias repeated inside repeated aliases. Write the values out, or reuse less")
        return sizes[id(node)]

    size(root, 0)


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problem(err: yaml.YAMLError) -> str:
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    return ", ".join(str(p) for p in parts if p) or str(err)
