"""The statistics endpoints, written once, and everything a caller needs to read them.

``ENDPOINTS`` maps each client method's name to its :class:`Endpoint` (API path, response
model, list or single object). The mapping is the public view of the two classes below
(:class:`Statistics` and :class:`FilterOptions`), whose bodies are the table itself: every
entry is a descriptor that both :class:`~pirsch_middleware.Client` and
:class:`~pirsch_middleware.AsyncClient` inherit, so an endpoint is written exactly once and
type checkers still see ``client.visitors(f) -> list[VisitorStats]`` (sync) and
``await aclient.visitors(f)`` (async)::

    from pirsch_middleware.statistics import ENDPOINTS
    for name, endpoint in ENDPOINTS.items():
        print(name, endpoint.path, endpoint.model.__name__, endpoint.many)
"""

from __future__ import annotations

import functools
from collections.abc import Coroutine, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, overload

from ._filter import PARAM_NAMES, SCALES, Filter, Scale
from ._models import (
    ActiveVisitors,
    ActiveVisitorStats,
    BrowserStats,
    BrowserVersionStats,
    ChannelStats,
    CityStats,
    ConversionGoal,
    ConversionGoalStats,
    CountryStats,
    Domain,
    EntryStats,
    EventListStats,
    EventStats,
    ExitStats,
    Funnel,
    FunnelData,
    FunnelStep,
    FunnelStepStats,
    GrowthStats,
    HostnameStats,
    Keyword,
    LanguageStats,
    MetaStats,
    Model,
    OSStats,
    OSVersionStats,
    OverviewStats,
    PageConversionStats,
    PageStats,
    PlatformStats,
    ReferrerStats,
    RegionStats,
    ScreenClassStats,
    SessionEvent,
    SessionPageView,
    SessionStats,
    SessionStep,
    TagStats,
    TimeSeries,
    TimeSpentStats,
    TotalVisitorStats,
    UTMCampaignStats,
    UTMContentStats,
    UTMMediumStats,
    UTMSourceStats,
    UTMTermStats,
    VisitorHourStats,
    VisitorMinuteStats,
    VisitorStats,
    VisitorWeekdayHourStats,
)

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = [
    "ENDPOINTS", "PARAM_NAMES", "SCALES", "ActiveVisitorStats", "ActiveVisitors", "AsyncCall",
    "BrowserStats", "BrowserVersionStats", "Call", "ChannelStats", "CityStats", "ConversionGoal",
    "ConversionGoalStats", "CountryStats", "Domain", "Endpoint", "EntryStats", "EventListStats",
    "EventStats", "ExitStats", "Filter", "FilterOptions", "Funnel", "FunnelData", "FunnelStep",
    "FunnelStepStats", "GrowthStats", "HostnameStats", "Keyword", "LanguageStats", "MetaStats",
    "Model", "OSStats", "OSVersionStats", "OverviewStats", "PageConversionStats", "PageStats",
    "PlatformStats", "ReferrerStats", "RegionStats", "Scale", "ScreenClassStats", "SessionEvent",
    "SessionPageView", "SessionStats", "SessionStep", "Statistics", "TagStats", "TimeSeries",
    "TimeSpentStats", "TotalVisitorStats", "UTMCampaignStats", "UTMContentStats",
    "UTMMediumStats", "UTMSourceStats", "UTMTermStats", "VisitorHourStats",
    "VisitorMinuteStats", "VisitorStats", "VisitorWeekdayHourStats",
]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
M = TypeVar("M")
C = TypeVar("C", bound="_Caller")


class Call(Protocol[R_co]):
    """A statistics method of :class:`~pirsch_middleware.Client`: ``client.pages(f)``."""

    def __call__(self, filter: Filter) -> R_co: ...


class AsyncCall(Protocol[R_co]):
    """A statistics method of :class:`~pirsch_middleware.AsyncClient`: ``await c.pages(f)``."""

    def __call__(self, filter: Filter) -> Coroutine[Any, Any, R_co]: ...


class _Caller(Protocol):
    # Client._call answers the result, AsyncClient._call a coroutine of it.
    def _call(self, route: _Route[Any], filter: Filter | None) -> Any: ...


class _Route(Generic[R]):
    def __init__(self, path: str, model: type[Any], *, many: bool, summary: str) -> None:
        self.path = path
        self.model = model
        self.many = many
        self.summary = summary
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = getattr(owner, "_namespace", "") + name

    def __repr__(self) -> str:
        shape = f"list[{self.model.__name__}]" if self.many else self.model.__name__
        return f"<{type(self).__name__} {self.name}: GET {self.path} -> {shape}>"

    def parse(self, data: Any) -> R:
        """Turn the decoded JSON body into the response model (or a list of them)."""
        if not self.many:
            return cast(R, self._item(data))
        if data is None:  # Go encodes an empty result as null
            return cast(R, [])
        if not isinstance(data, list):
            raise TypeError(f"expected a JSON array, got {type(data).__name__}")
        return cast(R, [self._item(item) for item in data])

    def _item(self, data: Any) -> Any:
        if issubclass(self.model, Model):
            return self.model.from_dict(data)
        if not isinstance(data, self.model):
            raise TypeError(f"expected {self.model.__name__}, got {data!r:.100}")
        return data


class Endpoint(_Route[R]):
    """One statistics endpoint: ``path`` (below ``/api/v1``), response ``model``, and
    ``many`` (a JSON array of models, or one object). Read on a client it is that client's
    method::

        ENDPOINTS["visitors"]            # <Endpoint visitors: GET /statistics/visitor -> ...>
        client.visitors(f)               # list[VisitorStats]
        await async_client.visitors(f)   # the same, async
    """

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Endpoint[R]: ...
    @overload
    def __get__(self, obj: Client | FilterOptions[Client], owner: type[Any]) -> Call[R]: ...
    @overload
    def __get__(
        self, obj: AsyncClient | FilterOptions[AsyncClient], owner: type[Any]
    ) -> AsyncCall[R]: ...
    def __get__(self, obj: _Caller | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._call, self)


class _Unfiltered(_Route[R]):
    # The domain list takes no filter; otherwise it is an endpoint like the others.
    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Unfiltered[R]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> _Call0[R]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type[Any]) -> _AsyncCall0[R]: ...
    def __get__(self, obj: _Caller | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._call, self, None)


class _Call0(Protocol[R_co]):
    def __call__(self) -> R_co: ...


class _AsyncCall0(Protocol[R_co]):
    def __call__(self) -> Coroutine[Any, Any, R_co]: ...


def _many(path: str, model: type[M], summary: str) -> Endpoint[list[M]]:
    return Endpoint(path, model, many=True, summary=summary)


def _one(path: str, model: type[M], summary: str) -> Endpoint[M]:
    return Endpoint(path, model, many=False, summary=summary)


class FilterOptions(Generic[C]):
    """The values a filter field can take in a period, as ``client.options.<name>(f)``::

        client.options.pages(f)       # ["/", "/pricing", ...]
        client.options.countries(f)   # ["de", "jp", ...]
    """

    _namespace = "options."

    utm_sources = _many("/statistics/options/utm/source", str, "UTM sources")
    utm_mediums = _many("/statistics/options/utm/medium", str, "UTM mediums")
    utm_campaigns = _many("/statistics/options/utm/campaign", str, "UTM campaigns")
    utm_contents = _many("/statistics/options/utm/content", str, "UTM contents")
    utm_terms = _many("/statistics/options/utm/term", str, "UTM terms")
    referrer_names = _many("/statistics/options/referrer/name", str, "referrer names")
    pages = _many("/statistics/options/page", str, "page paths")
    referrers = _many("/statistics/options/referrer", str, "referrers")
    events = _many("/statistics/options/event", str, "event names")
    countries = _many("/statistics/options/country", str, "country codes")
    cities = _many("/statistics/options/city", str, "cities")
    languages = _many("/statistics/options/language", str, "language codes")

    def __init__(self, client: C) -> None:
        self._client = client

    def _call(self, route: _Route[Any], filter: Filter | None) -> Any:
        return self._client._call(route, filter)


class Statistics:
    """The statistics endpoints in the reference's order, then the ones in current use
    beyond it. Client and AsyncClient inherit this; see ``ENDPOINTS``."""

    domains: _Unfiltered[list[Domain]] = _Unfiltered(
        "/domain", Domain, many=True, summary="the domains (dashboards) these credentials read")

    session_duration = _many("/statistics/duration/session", TimeSpentStats,
                             "average session duration over time")
    time_on_page = _many("/statistics/duration/page", TimeSpentStats,
                         "average time on page over time")
    utm_sources = _many("/statistics/utm/source", UTMSourceStats, "visitors by UTM source")
    utm_mediums = _many("/statistics/utm/medium", UTMMediumStats, "visitors by UTM medium")
    utm_campaigns = _many("/statistics/utm/campaign", UTMCampaignStats,
                          "visitors by UTM campaign")
    utm_contents = _many("/statistics/utm/content", UTMContentStats, "visitors by UTM content")
    utm_terms = _many("/statistics/utm/term", UTMTermStats, "visitors by UTM term")
    total = _one("/statistics/total", TotalVisitorStats,
                 "total visitors, views, sessions and bounces")
    overview = _one("/statistics/overview", OverviewStats,
                    "visitors, views and members (cached up to 30 minutes)")
    visitors = _many("/statistics/visitor", VisitorStats, "visitors over time")
    pages = _many("/statistics/page", PageStats, "page statistics")
    entry_pages = _many("/statistics/page/entry", EntryStats, "entry pages")
    exit_pages = _many("/statistics/page/exit", ExitStats, "exit pages")
    event_pages = _many("/statistics/event/page", PageStats,
                        "pages on which an event was triggered (needs event)")
    conversion_goals = _many("/statistics/goals", ConversionGoalStats, "conversion goals")
    events = _many("/statistics/events", EventStats, "events and their metadata keys")
    event_metadata = _many("/statistics/event/meta", EventStats,
                           "one event broken down by a metadata key (needs event, "
                           "event_meta_key)")
    event_list = _many("/statistics/event/list", EventListStats,
                       "events grouped by name and metadata")
    growth = _one("/statistics/growth", GrowthStats, "growth against the previous period")
    active_visitors = _one("/statistics/active", ActiveVisitors,
                           "active visitors and pages (start: past seconds)")
    hours = _many("/statistics/hours", VisitorHourStats, "visitors by hour of the day")
    languages = _many("/statistics/language", LanguageStats, "visitors by language")
    referrers = _many("/statistics/referrer", ReferrerStats, "visitors by referrer")
    os = _many("/statistics/os", OSStats, "visitors by operating system")
    # The reference lists /statistics/os here too, a slip: the official SDKs and API use this.
    os_versions = _many("/statistics/os/version", OSVersionStats,
                        "visitors by operating system version")
    browsers = _many("/statistics/browser", BrowserStats, "visitors by browser")
    browser_versions = _many("/statistics/browser/version", BrowserVersionStats,
                             "visitors by browser version")
    countries = _many("/statistics/country", CountryStats, "visitors by country")
    cities = _many("/statistics/city", CityStats, "visitors by city")
    platforms = _one("/statistics/platform", PlatformStats, "desktop, mobile and unknown")
    screen_classes = _many("/statistics/screen", ScreenClassStats, "visitors by screen class")
    keywords = _many("/statistics/keywords", Keyword,
                     "search keywords (needs the Google Search Console integration)")

    regions = _many("/statistics/region", RegionStats, "visitors by region")
    tags = _many("/statistics/tags", TagStats, "tag keys")
    tag_details = _many("/statistics/tag/details", TagStats,
                        "one tag broken down by value (needs tag)")
    hostnames = _many("/statistics/hostname", HostnameStats, "visitors by hostname")
    channels = _many("/statistics/channel", ChannelStats, "visitors by channel")
    weekdays = _many("/statistics/weekdays", VisitorWeekdayHourStats,
                     "visitors by weekday (Monday is 0) and hour")
    minutes = _many("/statistics/minutes", VisitorMinuteStats,
                    "visitors by minute (from_time/to_time on one day)")
    funnel = _one("/statistics/funnel", FunnelData, "a funnel and its steps (needs funnel_id)")
    sessions = _many("/statistics/session/list", SessionStats, "sessions")
    session_details = _many("/statistics/session/details", SessionStep,
                            "one session's page views and events (needs visitor_id, "
                            "session_id)")


def _collect() -> Mapping[str, Endpoint[Any]]:
    table: dict[str, Endpoint[Any]] = {}
    for cls in (Statistics, FilterOptions):
        for value in vars(cls).values():
            if isinstance(value, Endpoint):
                table[value.name] = value
    return MappingProxyType(table)


ENDPOINTS: Mapping[str, Endpoint[Any]] = _collect()
"""Every statistics method by name (``"visitors"``, ``"options.pages"``, ...) -> Endpoint."""
