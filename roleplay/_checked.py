"""`CheckedModel`: the base of roleplay's public pydantic types, so calling one wrongly is a `ConfigError`.

``Persona(name=123)`` or ``AgentSpec(persona="x")`` would otherwise raise pydantic's ``ValidationError``
(or a ``TypeError`` for positional arguments), which a caller catching roleplay's errors does not expect.
Only direct construction is translated: pydantic validating nested data (``model_validate``, a scenario
file) still raises ``ValidationError``, so the file readers keep turning it into errors that name the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from roleplay._field_hints import clean_location, model_at, unknown_field
from roleplay.errors import ConfigError

__all__ = ["CheckedModel", "checked", "checked_items", "describe_problems"]

T = TypeVar("T")


def describe_problems(err: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Pydantic's errors as ``field: message (got value); ...``, each with its fix.

    With the ``model`` validated, an unknown field lists the fields allowed there and the one meant
    (`roleplay._field_hints`), and a missing one says what it holds.
    """
    parts = []
    for error in _relevant(err.errors(), model):
        shown = clean_location(model, error["loc"]) if model else error["loc"]
        where = ".".join(str(part) for part in shown) or "(top level)"
        if error["type"] == "extra_forbidden":
            parts.append(unknown_field(model, error["loc"]) if model else f"{where}: unknown field; remove it")
            continue
        if error["type"] == "missing":
            section = ".".join(map(str, shown[:-1])) or "the top level"
            parts.append(f"{where}: Field required; add {error['loc'][-1]}: to {section}"
                         f"{_what_it_holds(model, error['loc'])}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        shown = repr(error.get("input"))
        got = "" if error["type"] in ("missing", "value_error") else \
            f" (got {shown if len(shown) <= 60 else shown[:60] + '…'})"
        parts.append(f"{where}: {message}{got}")
    return "; ".join(parts)


def _relevant(errors: list[Any], model: type[BaseModel] | None) -> list[Any]:
    """The errors worth showing: of a union, the member that got furthest.

    Not "should be a valid string" beside it, nor "unknown field Doctor" where another member read Doctor as a key.
    """
    if model is None:
        return errors
    places = [(clean_location(model, e["loc"]), e["type"]) for e in errors]
    deeper = [loc for loc, kind in places if kind in ("extra_forbidden", "missing")]
    return [error for error, (loc, kind) in zip(errors, places, strict=True)
            if not (kind.endswith("_type") and any(other[:len(loc)] == loc for other in deeper))
            and not (kind == "extra_forbidden" and any(len(o) > len(loc) and o[:len(loc)] == loc for o in deeper))]


def _what_it_holds(model: type[BaseModel] | None, location: tuple[int | str, ...]) -> str:
    """`` (its description)`` of the field at ``location``, when the model describes it."""
    holder = model_at(model, location[:-1]) if model else None
    info = holder.model_fields.get(str(location[-1])) if holder else None
    return f" ({info.description.rstrip('.')})" if info is not None and info.description else ""


class _Checked(type(BaseModel)):  # type: ignore[misc]  # pydantic's model metaclass, reached without a private import
    """Calling a model class (``Persona(...)``) goes through here: bad arguments become `ConfigError`.

    The translation sits on the call, not in ``__init__``: pydantic calls a custom ``__init__`` for nested
    data too, whose errors must stay ``ValidationError`` with their full location; the class call is
    direct construction only.
    """

    def __call__(cls, /, *args: Any, **data: Any) -> Any:
        data = cls._positional(args, data)
        try:
            return super().__call__(**data)
        except ValidationError as err:
            raise cls.config_error(f"Invalid {cls.__name__}: {describe_problems(err, cls).rstrip('.')}. Its fields: "
                                   f"{', '.join(cls.model_fields)}.") from err

    def _positional(cls, args: tuple[Any, ...], data: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of a call (`CheckedModel.positional` names the fields it takes by position)."""
        names: tuple[str, ...] = getattr(cls, "positional", ())
        if len(args) > len(names):
            if names:
                raise cls.config_error(f"{cls.__name__} takes at most {len(names)} positional arguments "
                                       f"({', '.join(names)}); give the others by keyword.")
            raise cls.config_error(f"{cls.__name__} takes keyword arguments only, e.g. "
                                   f"{cls.__name__}({next(iter(cls.model_fields), 'field')}=...).")
        given = {name: value for name, value in zip(names, args, strict=False) if value is not None}
        return {**given, **data}


# Type checkers see a plain BaseModel (pydantic's metaclass is private to them); at run time the base has _Checked.
if TYPE_CHECKING:
    _CheckedBase = BaseModel
else:
    _CheckedBase = _Checked("_CheckedBase", (BaseModel,), {"__module__": __name__})


class CheckedModel(_CheckedBase):
    """A pydantic model whose constructor raises `config_error` (a `ConfigError`) on bad arguments."""

    config_error: ClassVar[type[ConfigError]] = ConfigError
    positional: ClassVar[tuple[str, ...]] = ()
    """Fields a call may give by position, in order (``Turn("Ana", "Hello")``); None for one means unset."""


def _name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def _shown(value: object) -> str:
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:60] + '…'}"


def checked(value: object, kind: type[T], what: str, example: str) -> T:
    """``value`` if it is a ``kind``, else a ConfigError naming ``what`` wanted one and how to get it."""
    if not isinstance(value, kind):
        raise ConfigError(f"{what} must be a {_name(kind)}, got {_shown(value)}; {example}.")
    return value


def checked_items(value: object, kind: type[T] | tuple[type, ...], what: str, example: str) -> list[T]:
    """``value`` (a list or other iterable, not text or a mapping) as a list of ``kind``, else a ConfigError."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(f"{what} must be a list of {_name(kind)}, got {_shown(value)}; {example}.")
    items = list(value)
    for item in items:
        if not isinstance(item, kind):
            raise ConfigError(f"{what} must be a list of {_name(kind)}, but it holds {_shown(item)}; {example}.")
    return items
