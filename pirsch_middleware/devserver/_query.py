"""The statistics query string, read as Pirsch reads it, and which actions it selects.

Filter values take Pirsch's prefixes: ``!`` (not), ``~`` (contains), ``^`` (not contains);
a repeated parameter matches any of its plain values and none of its negated ones. A
parameter Pirsch knows but the receiver cannot answer (``country``: it has no geolocation)
is refused with a validation error naming it, never ignored: a test must not pass on a
filter that did nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._filter import PARAM_NAMES, Filter
from ._visits import UTM_FIELDS, Action

__all__ = ["Matcher", "Query", "QueryError", "parse_query"]

MAX_LIMIT = 100  # Pirsch caps larger limits silently
MAX_START = 3600
DEFAULT_START = 600  # active visitors: the past 10 minutes

# Filter parameter -> the value of an action it compares with.
_FILTERS: dict[str, Callable[[Action], str]] = {
    "path": lambda a: a.path, "entry_path": lambda a: a.visit.entry_path,
    "exit_path": lambda a: a.visit.exit_path, "language": lambda a: a.language,
    "referrer": lambda a: a.visit.referrer, "referrer_name": lambda a: a.visit.referrer_name,
    "os": lambda a: a.os, "browser": lambda a: a.browser, "platform": lambda a: a.platform,
    "hostname": lambda a: a.hostname,
    **{name: (lambda a, name=name: a.visit.utm.get(name, "")) for name in UTM_FIELDS},  # type: ignore[misc]
}
_OTHER = {"id", "from", "to", "tz", "start", "scale", "pattern", "event", "limit", "offset",
          "sort", "direction", "search", "include_avg_time_on_page", "include_title"}
_PREFIXES = ("meta_", "tag_")
_KNOWN = {PARAM_NAMES.get(spec.name, spec.name) for spec in dataclasses.fields(Filter)}
_WHY_NOT = {"country": "it has no geolocation", "region": "it has no geolocation",
            "city": "it has no geolocation"}


class QueryError(ValueError):
    """A query the receiver refuses; ``validation`` maps each parameter to its problem."""

    def __init__(self, validation: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in validation.items()))
        self.validation = validation


@dataclass(frozen=True)
class Matcher:
    """One filter parameter's values, with their prefixes read."""

    values: tuple[str, ...]

    def matches(self, candidates: Collection[str]) -> bool:
        """Whether some candidate matches a plain value (if there is any) and no candidate
        matches a negated one."""
        plain = [v for v in self.values if v[:1] not in ("!", "^")]
        negated = [v for v in self.values if v[:1] in ("!", "^")]
        return (not plain or any(_test(v, c) for v in plain for c in candidates)) and \
            all(not _test(v[1:] if v[0] == "!" else "~" + v[1:], c)
                for v in negated for c in candidates)


def _test(value: str, candidate: str) -> bool:
    if value.startswith("~"):
        return value[1:].lower() in candidate.lower()
    return value == candidate


@dataclass(frozen=True)
class Query:
    domain_id: str
    from_date: date | None = None
    to_date: date | None = None
    tz: tzinfo = timezone.utc
    start: int | None = None  # the past seconds, instead of from and to
    scale: str = "day"
    filters: tuple[tuple[Callable[[Action], str], Matcher], ...] = ()
    pattern: re.Pattern[str] | None = None
    event: Matcher | None = None
    meta: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    include_avg_time_on_page: bool = False
    sort: str | None = None
    direction: str | None = None
    search: str | None = None
    limit: int | None = None
    offset: int = 0

    def local_date(self, action: Action) -> date:
        return action.time.astimezone(self.tz).date()

    def in_period(self, action: Action) -> bool:
        day = self.local_date(action)
        return (self.from_date is None or self.from_date <= day) and \
            (self.to_date is None or day <= self.to_date)

    def selects(self, action: Action, *, by_event: bool = True) -> bool:
        """Whether the filters (not the period) select ``action``. A page view is selected
        by ``event`` and ``meta_*`` when its session has such an event, an event when it is
        one; ``by_event=False`` leaves those two out."""
        if self.pattern is not None and not self.pattern.search(action.path):
            return False
        if not all(matcher.matches((value(action),)) for value, matcher in self.filters):
            return False
        if any(action.tags.get(key, "") != value for key, value in self.tags):
            return False
        if not by_event or (self.event is None and not self.meta):
            return True
        events = (((action.event_name, action.event_meta),) if action.kind == "event"
                  else action.visit.events)
        return any((self.event is None or self.event.matches((name,)))
                   and all(meta.get(key) == value for key, value in self.meta)
                   for name, meta in events)


def parse_query(pairs: Sequence[tuple[str, str]], *, period: bool) -> Query:
    """Read a statistics query; ``period``: whether ``from`` and ``to`` are required
    (``start`` stands in for them).

    Raises QueryError naming each parameter that is missing, malformed or unsupported.
    """
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    problems: dict[str, str] = {}
    for name in values:
        if any(name.startswith(p) and len(name) > len(p) for p in _PREFIXES):
            continue
        if name not in _FILTERS and name not in _OTHER:
            reason = _WHY_NOT.get(name, "not computed from what it received")
            problems[name] = (f"the dev receiver cannot filter by {name} ({reason})"
                              if name in _KNOWN else "unknown parameter")

    def one(name: str) -> str | None:
        return values[name][0] if name in values else None

    def read(name: str, convert: Callable[[str], object], problem: str) -> object:
        text = one(name)
        if text is None:
            return None
        try:
            return convert(text)
        except (ValueError, ZoneInfoNotFoundError):
            problems[name] = problem
            return None

    fields: dict[str, object] = {}
    domain = one("id")
    if not domain:
        problems["id"] = "required (the domain ID; /api/v1/domain lists them)"
    for name, key in (("from", "from_date"), ("to", "to_date")):
        fields[key] = read(name, date.fromisoformat, "must be a date, YYYY-MM-DD")
        if period and name not in values and "start" not in values:
            problems[name] = "required (or start, the past seconds)"
    if fields["from_date"] and fields["to_date"] and \
            fields["from_date"] > fields["to_date"]:  # type: ignore[operator]
        problems["to"] = "must not be before from"
    fields["tz"] = read("tz", _zone, "must be a time zone, such as Europe/Berlin")
    fields["start"] = read("start", lambda t: _bounded(t, 1, MAX_START),
                           f"must be a number of seconds from 1 to {MAX_START}")
    fields["scale"] = read("scale", lambda t: _choice(t, ("day", "week", "month", "year")),
                           "must be day, week, month or year")
    fields["limit"] = read("limit", lambda t: min(_bounded(t, 1, None), MAX_LIMIT),
                           "must be a positive number")
    fields["offset"] = read("offset", lambda t: _bounded(t, 0, None),
                            "must be a number, 0 or more")
    fields["direction"] = read("direction", lambda t: _choice(t, ("asc", "desc")),
                               "must be asc or desc")
    fields["include_avg_time_on_page"] = read(
        "include_avg_time_on_page", lambda t: _choice(t, ("true", "false")) == "true",
        "must be true or false")
    fields["pattern"] = read("pattern", re.compile, "must be a regular expression")
    fields["sort"], fields["search"] = one("sort"), one("search")
    if "event" in values:
        fields["event"] = Matcher(tuple(values["event"]))
    fields["filters"] = tuple((_FILTERS[name], Matcher(tuple(values[name])))
                              for name in _FILTERS if name in values)
    fields["meta"] = tuple((name[5:], v[0]) for name, v in values.items()
                           if name.startswith("meta_"))
    fields["tags"] = tuple((name[4:], v[0]) for name, v in values.items()
                           if name.startswith("tag_"))
    if problems:
        raise QueryError(problems)
    return Query(str(domain), **{k: v for k, v in fields.items()  # type: ignore[arg-type]
                                 if v is not None})


def _zone(name: str) -> tzinfo:
    return timezone.utc if name.upper() == "UTC" else ZoneInfo(name)


def _bounded(text: str, low: int, high: int | None) -> int:
    number = int(text)
    if number < low or (high is not None and number > high):
        raise ValueError(text)
    return number


def _choice(text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise ValueError(text)
    return text
