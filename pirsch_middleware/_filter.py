"""The statistics filter: every query parameter Pirsch reads, validated once, encoded once."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

__all__ = ["PARAM_NAMES", "SCALES", "Filter", "Scale", "Values"]

Scale = Literal["day", "week", "month", "year"]
SCALES: tuple[Scale, ...] = ("day", "week", "month", "year")

# A filter that may repeat: one value or several (sent as ``path=/a&path=/b``).
Values = str | Sequence[str]

_MAX_LIMIT = 100  # the API caps it silently; we say so instead
_MAX_START = 3600  # the reference: "the maximum is one hour"
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")

# Python names that are not the query parameter's; a mapping field's name is a key prefix.
PARAM_NAMES = {"domain_id": "id", "from_date": "from", "to_date": "to", "meta": "meta_",
               "tags": "tag_"}


@dataclass(frozen=True, repr=False)
class Filter:
    """Which statistics to read: the domain, the period and any narrowing filters.

    Only ``domain_id`` is required here (``from_date``/``to_date`` are required by most
    endpoints, but not by active visitors, which uses ``start``). Unset fields are not sent.
    A list value repeats the parameter; values take Pirsch's prefixes: ``!`` (not),
    ``~`` (contains), ``^`` (not contains). ``meta`` is sent as ``meta_<key>=value`` and
    ``tags`` as ``tag_<key>=value``::

        from datetime import date
        f = Filter("A5kgYzK14m", from_date=date(2024, 5, 1), to_date=date(2024, 5, 31),
                   scale="week", path=["/", "/pricing"], country="!jp", limit=10)
        weekly = f.replace(scale="month")

    Invalid values raise ``ValueError`` (or ``TypeError``) here, not a 400 later.
    """

    domain_id: str
    from_date: date | None = None
    to_date: date | None = None
    from_time: str | None = None
    to_time: str | None = None
    tz: str | None = None
    start: int | None = None
    scale: Scale | None = None
    path: Values | None = None
    entry_path: Values | None = None
    exit_path: Values | None = None
    pattern: Values | None = None
    event: Values | None = None
    event_meta_key: Values | None = None
    meta: Mapping[str, str] | None = None
    language: Values | None = None
    country: Values | None = None
    region: Values | None = None
    city: Values | None = None
    referrer: Values | None = None
    referrer_name: Values | None = None
    os: Values | None = None
    browser: Values | None = None
    platform: str | None = None
    screen_class: Values | None = None
    utm_source: Values | None = None
    utm_medium: Values | None = None
    utm_campaign: Values | None = None
    utm_content: Values | None = None
    utm_term: Values | None = None
    channel: Values | None = None
    hostname: Values | None = None
    tag: Values | None = None
    tags: Mapping[str, str] | None = None
    visitor_id: str | int | None = None
    session_id: str | int | None = None
    funnel_id: str | None = None
    custom_metric_key: str | None = None
    custom_metric_type: Literal["integer", "float"] | None = None
    include_avg_time_on_page: bool | None = None
    include_title: bool | None = None
    offset: int | None = None
    limit: int | None = None
    sort: str | None = None
    direction: Literal["asc", "desc"] | None = None
    search: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.domain_id, str) or not self.domain_id.strip():
            raise ValueError("domain_id must be a domain ID such as 'A5kgYzK14m' "
                             "(Client.domains() lists them)")
        for name in ("from_date", "to_date"):
            self._set(name, _as_date(name, getattr(self, name)))
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError(f"from_date {self.from_date} is after to_date {self.to_date}")
        # spec.type is the annotation as written (postponed evaluation), so it names the kind.
        for spec in dataclasses.fields(self):
            value, kind = getattr(self, spec.name), spec.type
            if value is None or spec.name in ("domain_id", "from_date", "to_date"):
                continue
            if kind == "Values | None":
                self._set(spec.name, _as_values(spec.name, value))
            elif kind == "Mapping[str, str] | None":
                self._set(spec.name, _as_pairs(spec.name, value))
            elif kind == "bool | None":
                if not isinstance(value, bool):
                    raise TypeError(f"{spec.name} must be True or False, not {value!r}")
            elif kind in ("int | None", "str | int | None"):
                allowed = (int, str) if "str" in kind else (int,)
                if isinstance(value, bool) or not isinstance(value, allowed):
                    names = " or ".join(t.__name__ for t in allowed)
                    raise TypeError(f"{spec.name} must be {names}, not {value!r}")
            elif not isinstance(value, str):
                raise TypeError(f"{spec.name} must be a str, not {value!r}")
        self._check_ranges()

    def _check_ranges(self) -> None:
        if self.limit is not None and not 1 <= self.limit <= _MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {_MAX_LIMIT} (the API's cap), "
                             f"got {self.limit}; page with offset for more")
        if self.offset is not None and self.offset < 0:
            raise ValueError(f"offset must be 0 or more, got {self.offset}")
        if self.start is not None and not 1 <= self.start <= _MAX_START:
            raise ValueError(f"start must be between 1 and {_MAX_START} seconds, "
                             f"got {self.start}")
        _check_choice("scale", self.scale, SCALES)
        _check_choice("direction", self.direction, ("asc", "desc"))
        _check_choice("custom_metric_type", self.custom_metric_type, ("integer", "float"))
        for name in ("from_time", "to_time"):
            value = getattr(self, name)
            if value is not None and not _HH_MM.fullmatch(value):
                raise ValueError(f"{name} must be HH:MM (24 h), got {value!r}")

    def __repr__(self) -> str:
        # Forty-odd fields, nearly all None: show the ones that are sent.
        set_fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                               for f in dataclasses.fields(self)
                               if getattr(self, f.name) is not None)
        return f"Filter({set_fields})"

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # frozen: normalise once, in __post_init__

    def replace(self, **changes: Any) -> Filter:
        """A copy with some fields changed (and validated again)::

            f.replace(scale="month", limit=None)
        """
        return dataclasses.replace(self, **changes)

    def to_params(self) -> list[tuple[str, str]]:
        """The query string as ``(name, value)`` pairs, in field order; unset fields omitted.

        >>> Filter("x", from_date=date(2024, 5, 1), path=["/a", "/b"]).to_params()
        [('id', 'x'), ('from', '2024-05-01'), ('path', '/a'), ('path', '/b')]
        """
        params: list[tuple[str, str]] = []
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            name = PARAM_NAMES.get(spec.name, spec.name)
            if isinstance(value, Mapping):
                params.extend((name + key, _text(v)) for key, v in value.items())
            elif isinstance(value, tuple):
                params.extend((name, _text(v)) for v in value)
            else:
                params.append((name, _text(value)))
        return params


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _as_date(name: str, value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()  # the API reads whole days; the time of day means nothing here
    if isinstance(value, date):
        return value
    hint = " (use datetime.date.fromisoformat)" if isinstance(value, str) else ""
    raise TypeError(f"{name} must be a datetime.date, not {value!r}{hint}")


def _as_values(name: str, value: object) -> tuple[str, ...] | None:
    values = (value,) if isinstance(value, str) else value
    if not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a str or a list of str, not {value!r}")
    return tuple(values) or None  # an empty list filters nothing: do not send it


def _as_pairs(name: str, value: object) -> Mapping[str, str] | None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of str to str, not {value!r}")
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise TypeError(f"{name} must map non-empty str keys to str values, "
                            f"got {key!r}: {item!r}")
    return dict(value) or None


def _check_choice(name: str, value: str | None, choices: Sequence[str]) -> None:
    if value is not None and value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
