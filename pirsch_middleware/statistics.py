"""The statistics endpoints, written once, and everything a caller needs to read them.

``ENDPOINTS`` maps each client method's name to its :class:`Endpoint` (API path, response
model, list or single object). The mapping is the public view of :class:`Statistics` and
:class:`FilterOptions`, whose bodies are the table itself (in ``_statistics_table``): every
entry is a descriptor that both :class:`~pirsch_middleware.Client` and
:class:`~pirsch_middleware.AsyncClient` inherit, so an endpoint is written exactly once and
type checkers still see ``client.visitors(f) -> list[VisitorStats]`` (sync) and
``await aclient.visitors(f)`` (async). Managing an account (domains, goals, members ...) is
:mod:`pirsch_middleware.management`::

    from pirsch_middleware.statistics import ENDPOINTS
    for name, endpoint in ENDPOINTS.items():
        print(name, endpoint.path, endpoint.model.__name__, endpoint.many)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._endpoints import AsyncCall, Call, Endpoint
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
from ._statistics_table import STATISTICS_ENDPOINTS, FilterOptions, Statistics

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

ENDPOINTS: Mapping[str, Endpoint[Any]] = STATISTICS_ENDPOINTS
"""Every statistics method by name (``"visitors"``, ``"options.pages"``, ...) -> Endpoint."""
