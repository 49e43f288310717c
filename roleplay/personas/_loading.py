"""Import a persona class or a rule's function named in YAML as ``package.module:Name``.

Only an import and attribute lookups happen (no ``eval``), and a class must subclass the expected base,
so a typo or a wrong object is a `ConfigError` that says what was found and how to fix it.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from roleplay.errors import ConfigError

__all__ = ["import_object", "load_class"]


def import_object(spec: str, what: str) -> Any:
    """The object ``package.module:Name`` (``Name`` may be dotted) names.

    Raises:
        ConfigError: the spec is malformed, the module cannot be imported, or it has no such name.
    """
    module_name, colon, attribute = spec.strip().partition(":")
    if not colon or not module_name or not attribute:
        raise ConfigError(f"{what} '{spec}' must be written 'package.module:Name', e.g. "
                          "'roleplay.personas.clinic:Patient'.")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise ConfigError(f"{what} '{spec}': no module named '{err.name}'. Install the package that has it, "
                              "or put its folder on PYTHONPATH.") from err
        raise ConfigError(f"{what} '{spec}': importing '{module_name}' failed: {err}.") from err
    except Exception as err:  # noqa: BLE001 - any failure inside a user's module is reported as a config problem
        raise ConfigError(f"{what} '{spec}': importing '{module_name}' failed: {type(err).__name__}: {err}.") from err
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigError(f"{what} '{spec}': module '{module_name}' has no '{attribute}'. Check the name "
                              "after the colon.")
        found = getattr(found, part)
    return found


def load_class(spec: str, base: type[BaseModel], what: str = "class") -> type[Any]:
    """The class ``package.module:Name``, checked to subclass ``base``."""
    found = import_object(spec, what)
    if not isinstance(found, type) or not issubclass(found, base):
        raise ConfigError(f"{what} '{spec}' is {found!r}, not a subclass of {base.__name__}; point it at a "
                          f"{base.__name__} subclass.")
    return found
