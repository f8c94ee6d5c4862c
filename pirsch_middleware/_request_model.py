"""The base of the management API's request models: fields checked against their type
hints at construction (``ValueError``/``TypeError`` naming the field), and ``to_wire`` for
what the API reads. The models themselves are in ``_requests``."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from ._filter import Values

__all__ = ["RequestModel"]


@dataclass(frozen=True, kw_only=True)
class RequestModel:
    """Base of every request model: validated at construction, ``to_wire`` for the API."""

    # Python field name -> the API's name, where they differ for every endpoint.
    _wire: ClassVar[Mapping[str, str]] = {}
    # str fields that must not be empty besides the IDs (``id``, ``*_id``), which never may.
    _not_empty: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name, hint in _field_hints(type(self)).items():
            value = _checked(name, hint, getattr(self, name))
            if isinstance(value, str) and not value.strip() and (
                    name == "id" or name.endswith("_id") or name in self._not_empty):
                raise ValueError(f"{name} must not be empty")
            object.__setattr__(self, name, value)  # frozen: normalise once, here
        self._check()

    def _check(self) -> None:
        """Checks across fields or of ranges; the types are checked already."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def required_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]

    def to_wire(self, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The request as the API reads it (names, dates, lists); ``rename`` overrides
        names for one endpoint. ``None`` fields are left out."""
        names = {**self._wire, **(rename or {})}
        return {names.get(f.name, f.name): _jsonable(getattr(self, f.name))
                for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


_HINTS: dict[type[RequestModel], dict[str, Any]] = {}


def _field_hints(cls: type[RequestModel]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = typing.get_type_hints(cls)
        hints = _HINTS[cls] = {f.name: resolved[f.name] for f in dataclasses.fields(cls)}
    return hints


_VALUES = frozenset(typing.get_args(Values))


def _checked(name: str, hint: Any, value: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if type(None) in args and value is None:
            return None
        args = tuple(a for a in args if a is not type(None))
        if frozenset(args) == _VALUES:  # one value or a list: sent as a list
            values = (value,) if isinstance(value, str) else value
            if (not isinstance(values, Sequence)
                    or not all(isinstance(v, str) and v for v in values)):
                raise TypeError(f"{name} must be a str or a list of non-empty str, "
                                f"not {value!r}")
            return tuple(values)
        hint = args[0]
        args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, args))}; "
                             f"got {value!r}")
        return value
    if hint is date:
        if isinstance(value, datetime):
            return value.date()
        if not isinstance(value, date):
            raise TypeError(f"{name} must be a datetime.date, not {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise TypeError(f"{name} must be int, not {value!r}")
    if not isinstance(value, hint):
        raise TypeError(f"{name} must be {hint.__name__}, not {value!r}")
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
