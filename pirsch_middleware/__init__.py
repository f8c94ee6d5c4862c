"""Server-side Pirsch analytics for Python web apps.

Tracking: ``pirsch_middleware.wsgi.PirschMiddleware`` and ``pirsch_middleware.asgi.
PirschMiddleware`` (and the ``django`` and ``flask`` adapters) turn page views into hits;
``track_event`` and ``keep_alive`` work anywhere in a request they serve. Everything is
queued in-process and delivered by a background thread (see ``Tracker``).

Reading: ``Client`` and ``AsyncClient`` cover every statistics endpoint
(``pirsch_middleware.statistics``).
"""

from __future__ import annotations

from ._client import AsyncClient, Client
from ._context import dont_track, keep_alive, set_tags, set_title, skip_tracking, track_event
from ._errors import APIError, PirschError
from ._outgoing import Outgoing
from ._proxies import TrustedProxies
from ._registry import get_tracker, set_tracker
from ._rules import PageView
from ._scrub import DEFAULT_SCRUB_QUERY
from ._tracker import Tracker, TrackerStats
from ._version import VERSION

__version__ = VERSION

__all__ = [
    "DEFAULT_SCRUB_QUERY",
    "APIError",
    "AsyncClient",
    "Client",
    "Outgoing",
    "PageView",
    "PirschError",
    "Tracker",
    "TrackerStats",
    "TrustedProxies",
    "__version__",
    "dont_track",
    "get_tracker",
    "keep_alive",
    "set_tags",
    "set_title",
    "set_tracker",
    "skip_tracking",
    "track_event",
]
