"""The statistics endpoint table: one :class:`~._endpoints.Endpoint` per statistics
endpoint, in the class bodies both clients inherit (:class:`Statistics`) or hold
(:class:`FilterOptions`, as ``client.options``). The public view of it is
``pirsch_middleware.statistics.ENDPOINTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ._endpoints import C, Endpoint, Group, collect
from ._models import (
    ActiveVisitors,
    BrowserStats,
    BrowserVersionStats,
    ChannelStats,
    CityStats,
    ConversionGoalStats,
    CountryStats,
    EntryStats,
    EventListStats,
    EventStats,
    ExitStats,
    FunnelData,
    GrowthStats,
    HostnameStats,
    Keyword,
    LanguageStats,
    OSStats,
    OSVersionStats,
    OverviewStats,
    PageStats,
    PlatformStats,
    ReferrerStats,
    RegionStats,
    ScreenClassStats,
    SessionStats,
    SessionStep,
    TagStats,
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

__all__ = ["STATISTICS_ENDPOINTS", "FilterOptions", "Statistics"]

M = TypeVar("M")


def _many(path: str, model: type[M], summary: str) -> Endpoint[list[M]]:
    return Endpoint(path, model, many=True, summary=summary)


def _one(path: str, model: type[M], summary: str) -> Endpoint[M]:
    return Endpoint(path, model, many=False, summary=summary)


class FilterOptions(Group[C]):
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


class Statistics:
    """The statistics endpoints in the reference's order, then the ones in current use
    beyond it. Client and AsyncClient inherit this; see ``ENDPOINTS``."""

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


STATISTICS_ENDPOINTS: Mapping[str, Endpoint[Any]] = collect(Endpoint, (Statistics, FilterOptions))
"""Every statistics method by name (``"visitors"``, ``"options.pages"``, ...) -> Endpoint."""
