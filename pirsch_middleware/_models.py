"""Typed response models for the statistics API.

They are plain frozen dataclasses rather than pydantic models: the package's only dependency
stays httpx, importing it stays cheap (the tracker imports this package on every worker), and
the parsing needed is small: RFC 3339 times, nested objects and lists, a few aliases. Every
model keeps the fields the API adds later in ``extra`` instead of failing on them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from ._auth import parse_rfc3339

__all__ = [
    "ActiveVisitorStats", "ActiveVisitors", "BrowserStats", "BrowserVersionStats", "ChannelStats",
    "CityStats", "ConversionGoal", "ConversionGoalStats", "CountryStats", "Domain", "EntryStats",
    "EventListStats", "EventStats", "ExitStats", "Funnel", "FunnelData", "FunnelStep",
    "FunnelStepStats", "GrowthStats", "HostnameStats", "Keyword", "LanguageStats", "MetaStats",
    "Model", "OSStats", "OSVersionStats", "OverviewStats", "PageConversionStats", "PageStats",
    "PlatformStats", "ReferrerStats", "RegionStats", "ScreenClassStats", "SessionEvent",
    "SessionPageView", "SessionStats", "SessionStep", "TagStats", "TimeSeries", "TimeSpentStats",
    "TotalVisitorStats", "UTMCampaignStats", "UTMContentStats", "UTMMediumStats", "UTMSourceStats",
    "UTMTermStats", "VisitorHourStats", "VisitorMinuteStats", "VisitorStats",
    "VisitorWeekdayHourStats",
]

M = TypeVar("M", bound="Model")


@dataclass(frozen=True, kw_only=True)
class Model:
    """Base of every response model: ``from_dict`` parses, ``to_dict`` gives JSON back.

    Fields the model does not know are kept in ``extra``::

        stats = VisitorStats.from_dict({"day": "2024-05-01T00:00:00Z", "visitors": 42})
        stats.period, stats.visitors, stats.extra  # date(2024, 5, 1), 42, {}
    """

    # Old names the API (or the reference) used for a field: {"old name": "field name"}.
    _aliases: ClassVar[Mapping[str, str]] = {}

    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {data!r:.100}")
        hints = _field_hints(cls)
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            name = key if key in hints else cls._aliases.get(key, "")
            if name in hints and not (name != key and name in data):
                converted = _convert(hints[name], value)
                if converted is not _SKIP:
                    values[name] = converted
            else:
                extra[key] = value
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON-ready data (dates as ISO 8601), ``extra`` merged back in."""
        data = {f.name: _jsonable(getattr(self, f.name))
                for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **data}


_SKIP = object()


_HINTS: dict[type[Model], dict[str, Any]] = {}


def _field_hints(cls: type[Model]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:  # resolved once per model: get_type_hints evaluates the annotations
        resolved = typing.get_type_hints(cls)
        hints = {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.name != "extra"}
        _HINTS[cls] = hints
    return hints


def _convert(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    elif value is None:
        return _SKIP  # Go sends null for empty lists and unset values: keep the default
    if origin is list and isinstance(value, list):
        return [_convert(args[0], item) for item in value]
    if origin is dict and isinstance(value, Mapping):
        return dict(value)
    if isinstance(hint, type):
        if issubclass(hint, Model) and isinstance(value, Mapping):
            return hint.from_dict(value)
        if hint is datetime and isinstance(value, str):
            return parse_rfc3339(value)
        if hint is date and isinstance(value, str):
            # "2024-05-01T00:00:00+02:00" is the 1st in the dashboard's zone: keep its date.
            return parse_rfc3339(value).date() if "T" in value else date.fromisoformat(value)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # IDs: uint64 visitor IDs come as numbers in some responses
    return value  # anything else is kept as sent: tolerant, not coerced


def _jsonable(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


# --- time series ------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class TimeSeries(Model):
    """A row of a time series. ``scale`` decides which of day/week/month/year the API sets;
    ``period`` is whichever is set, so code does not have to know the scale::

        for row in client.visitors(f.replace(scale="week")):
            print(row.period, row.visitors)  # row.week is set, row.period is the same date
    """

    day: date | None = None
    week: date | None = None
    month: date | None = None
    year: date | None = None

    @property
    def period(self) -> date | None:
        """The start of the day, week, month or year this row counts."""
        return self.day or self.week or self.month or self.year

    @property
    def scale(self) -> str | None:
        """Which period field is set: ``"day"``, ``"week"``, ``"month"`` or ``"year"``."""
        for name in ("day", "week", "month", "year"):
            if getattr(self, name) is not None:
                return name
        return None


@dataclass(frozen=True, kw_only=True)
class TimeSpentStats(TimeSeries):
    """Average session duration or time on page for one period."""

    path: str = ""
    title: str = ""
    average_time_spent_seconds: int = 0


@dataclass(frozen=True, kw_only=True)
class _Traffic(Model):
    visitors: int = 0
    views: int = 0
    sessions: int = 0
    bounces: int = 0
    bounce_rate: float = 0.0
    cr: float = 0.0
    custom_metric_avg: float = 0.0
    custom_metric_total: float = 0.0


@dataclass(frozen=True, kw_only=True)
class VisitorStats(_Traffic, TimeSeries):
    """Visitors, views, sessions and bounces for one period (``period``)."""


# --- totals -----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class TotalVisitorStats(_Traffic):
    """Totals over the whole range: returning visitors are counted once, unlike a sum of
    the ``visitors`` time series."""


@dataclass(frozen=True, kw_only=True)
class OverviewStats(Model):
    visitors: int = 0
    views: int = 0
    visitors_growth: float = 0.0
    views_growth: float = 0.0
    member: int = 0
    visitors_time_series: list[VisitorStats] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class GrowthStats(Model):
    """Growth against the previous period of the same length (0.34 = +34 %)."""

    visitors_growth: float = 0.0
    views_growth: float = 0.0
    sessions_growth: float = 0.0
    bounces_growth: float = 0.0
    time_spent_growth: float = 0.0
    cr_growth: float = 0.0
    custom_metric_avg_growth: float = 0.0
    custom_metric_total_growth: float = 0.0


@dataclass(frozen=True, kw_only=True)
class VisitorHourStats(_Traffic):
    hour: int = 0


@dataclass(frozen=True, kw_only=True)
class VisitorMinuteStats(_Traffic):
    minute: int = 0


@dataclass(frozen=True, kw_only=True)
class VisitorWeekdayHourStats(Model):
    """Visitors by weekday (Monday is 0) and hour."""

    weekday: int = 0
    hour: int = 0
    visitors: int = 0
    views: int = 0
    sessions: int = 0
    bounces: int = 0


# --- pages and events -------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class PageStats(Model):
    hostname: str = ""
    path: str = ""
    title: str = ""
    visitors: int = 0
    views: int = 0
    sessions: int = 0
    bounces: int = 0
    relative_visitors: float = 0.0
    relative_views: float = 0.0
    bounce_rate: float = 0.0
    average_time_spent_seconds: int = 0


@dataclass(frozen=True, kw_only=True)
class EntryStats(Model):
    hostname: str = ""
    path: str = ""
    title: str = ""
    visitors: int = 0
    sessions: int = 0
    entries: int = 0
    entry_rate: float = 0.0
    average_time_spent_seconds: int = 0


@dataclass(frozen=True, kw_only=True)
class ExitStats(Model):
    hostname: str = ""
    path: str = ""
    title: str = ""
    visitors: int = 0
    sessions: int = 0
    exits: int = 0
    exit_rate: float = 0.0


@dataclass(frozen=True, kw_only=True)
class HostnameStats(Model):
    hostname: str = ""
    visitors: int = 0
    views: int = 0
    sessions: int = 0
    bounces: int = 0
    relative_visitors: float = 0.0
    relative_views: float = 0.0
    bounce_rate: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ConversionGoal(Model):
    id: str = ""
    def_time: datetime | None = None
    mod_time: datetime | None = None
    domain_id: str = ""
    name: str = ""
    path_pattern: str | None = None
    pattern: str | None = None
    event_name: str | None = None
    event_meta_key: str | None = None
    event_meta_value: str | None = None
    custom_metric_key: str | None = None
    custom_metric_type: str | None = None
    visitor_goal: int | None = None
    cr_goal: float | None = None
    custom_metric_total_goal: float | None = None
    custom_metric_avg_goal: float | None = None
    delete_reached: bool = False
    email_reached: bool = False


@dataclass(frozen=True, kw_only=True)
class PageConversionStats(Model):
    visitors: int = 0
    views: int = 0
    cr: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ConversionGoalStats(Model):
    page_goal: ConversionGoal | None = None
    stats: PageConversionStats | None = None


@dataclass(frozen=True, kw_only=True)
class EventStats(Model):
    """An event (``events``) or one metadata value of it (``event_metadata``)."""

    name: str = ""
    count: int = 0
    visitors: int = 0
    views: int = 0
    cr: float = 0.0
    average_duration_seconds: int = 0
    meta_keys: list[str] = field(default_factory=list)
    meta_value: str = ""


@dataclass(frozen=True, kw_only=True)
class EventListStats(Model):
    name: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    visitors: int = 0
    count: int = 0


@dataclass(frozen=True, kw_only=True)
class ActiveVisitorStats(Model):
    hostname: str = ""
    path: str = ""
    title: str = ""
    visitors: int = 0


# --- breakdowns: share of visitors by one dimension -------------------------------------------

@dataclass(frozen=True, kw_only=True)
class MetaStats(Model):
    visitors: int = 0
    relative_visitors: float = 0.0


@dataclass(frozen=True, kw_only=True)
class UTMSourceStats(MetaStats):
    utm_source: str = ""


@dataclass(frozen=True, kw_only=True)
class UTMMediumStats(MetaStats):
    utm_medium: str = ""


@dataclass(frozen=True, kw_only=True)
class UTMCampaignStats(MetaStats):
    utm_campaign: str = ""


@dataclass(frozen=True, kw_only=True)
class UTMContentStats(MetaStats):
    utm_content: str = ""


@dataclass(frozen=True, kw_only=True)
class UTMTermStats(MetaStats):
    utm_term: str = ""


@dataclass(frozen=True, kw_only=True)
class LanguageStats(MetaStats):
    language: str = ""


@dataclass(frozen=True, kw_only=True)
class CountryStats(MetaStats):
    """The reference's example names the field ``country``; the API sends ``country_code``."""

    _aliases: ClassVar[Mapping[str, str]] = {"country": "country_code"}
    country_code: str = ""


@dataclass(frozen=True, kw_only=True)
class ActiveVisitors(Model):
    stats: list[ActiveVisitorStats] = field(default_factory=list)
    countries: list[CountryStats] = field(default_factory=list)
    visitors: int = 0


@dataclass(frozen=True, kw_only=True)
class RegionStats(MetaStats):
    country_code: str = ""
    region: str = ""


@dataclass(frozen=True, kw_only=True)
class CityStats(MetaStats):
    country_code: str = ""
    region: str = ""
    city: str = ""


@dataclass(frozen=True, kw_only=True)
class OSStats(MetaStats):
    os: str = ""


@dataclass(frozen=True, kw_only=True)
class OSVersionStats(MetaStats):
    os: str = ""
    os_version: str = ""


@dataclass(frozen=True, kw_only=True)
class BrowserStats(MetaStats):
    browser: str = ""


@dataclass(frozen=True, kw_only=True)
class BrowserVersionStats(MetaStats):
    browser: str = ""
    browser_version: str = ""


@dataclass(frozen=True, kw_only=True)
class ScreenClassStats(MetaStats):
    screen_class: str = ""


@dataclass(frozen=True, kw_only=True)
class ReferrerStats(Model):
    referrer: str = ""
    referrer_name: str = ""
    referrer_icon: str = ""
    visitors: int = 0
    sessions: int = 0
    relative_visitors: float = 0.0
    bounces: int = 0
    bounce_rate: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ChannelStats(Model):
    channel: str = ""
    visitors: int = 0
    views: int = 0
    sessions: int = 0
    relative_visitors: float = 0.0
    relative_views: float = 0.0
    bounces: int = 0
    bounce_rate: float = 0.0


@dataclass(frozen=True, kw_only=True)
class PlatformStats(Model):
    platform_desktop: int = 0
    platform_mobile: int = 0
    platform_unknown: int = 0
    relative_platform_desktop: float = 0.0
    relative_platform_mobile: float = 0.0
    relative_platform_unknown: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TagStats(Model):
    """A tag key (``tags``) or one value of a tag (``tag_details``, where ``value`` is set)."""

    key: str = ""
    value: str = ""
    visitors: int = 0
    views: int = 0
    relative_visitors: float = 0.0
    relative_views: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Keyword(Model):
    keys: list[str] = field(default_factory=list)
    clicks: int = 0
    impressions: int = 0
    ctr: float = 0.0
    position: float = 0.0


# --- domains, funnels, sessions ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Domain(Model):
    """A domain (dashboard); ``id`` is what ``Filter(domain_id=...)`` needs."""

    id: str = ""
    def_time: datetime | None = None
    mod_time: datetime | None = None
    user_id: str | None = None
    organization_id: str | None = None
    hostname: str = ""
    subdomain: str = ""
    identification_code: str = ""
    public: bool = False
    google_user_id: str | None = None
    google_user_email: str | None = None
    gsc_domain: str | None = None
    new_owner: int | None = None
    timezone: str | None = None
    group_by_title: bool = False
    active_visitors_seconds: int | None = None
    disable_scripts: bool = False
    statistics_start: datetime | None = None
    imported_statistics: bool = False
    custom_domain: str | None = None
    display_name: str | None = None
    user_role: str = ""
    subscription_active: bool = False


@dataclass(frozen=True, kw_only=True)
class FunnelStep(Model):
    id: str = ""
    def_time: datetime | None = None
    mod_time: datetime | None = None
    funnel_id: str = ""
    name: str = ""
    step: int = 0
    filter: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Funnel(Model):
    id: str = ""
    def_time: datetime | None = None
    mod_time: datetime | None = None
    domain_id: str = ""
    name: str = ""
    steps: list[FunnelStep] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FunnelStepStats(Model):
    step: int = 0
    visitors: int = 0
    relative_visitors: float = 0.0
    previous_visitors: int = 0
    relative_previous_visitors: float = 0.0
    dropped: int = 0
    drop_off: float = 0.0


@dataclass(frozen=True, kw_only=True)
class FunnelData(Model):
    definition: Funnel | None = None
    data: list[FunnelStepStats] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class _Visit(Model):
    visitor_id: str = ""  # a uint64: a string in JSON, too big for JavaScript numbers
    session_id: int = 0
    time: datetime | None = None
    language: str = ""
    country_code: str = ""
    city: str = ""
    referrer: str = ""
    referrer_name: str = ""
    referrer_icon: str = ""
    os: str = ""
    os_version: str = ""
    browser: str = ""
    browser_version: str = ""
    desktop: bool = False
    mobile: bool = False
    screen_class: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    utm_term: str = ""


@dataclass(frozen=True, kw_only=True)
class SessionStats(_Visit):
    """One session of ``sessions()``; pass its ``visitor_id`` and ``session_id`` to
    ``session_details()`` for its page views and events."""

    start: datetime | None = None
    duration_seconds: int = 0
    entry_path: str = ""
    exit_path: str = ""
    page_views: int = 0
    is_bounce: bool = False
    entry_title: str = ""
    exit_title: str = ""
    extended: int = 0


@dataclass(frozen=True, kw_only=True)
class SessionPageView(_Visit):
    duration_seconds: int = 0
    path: str = ""
    title: str = ""
    tag_keys: list[str] = field(default_factory=list)
    tag_values: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SessionEvent(_Visit):
    name: str = ""
    meta_keys: list[str] = field(default_factory=list)
    meta_values: list[str] = field(default_factory=list)
    duration_seconds: int = 0
    path: str = ""
    title: str = ""


@dataclass(frozen=True, kw_only=True)
class SessionStep(Model):
    """One step of a session: a page view or an event (the other is ``None``)."""

    page_view: SessionPageView | None = None
    event: SessionEvent | None = None

    @property
    def step(self) -> SessionPageView | SessionEvent | None:
        """Whichever of ``page_view`` and ``event`` is set."""
        return self.page_view or self.event
