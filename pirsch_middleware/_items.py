"""What the request path queues: items of three kinds, as plain tuples of raw values.

The middlewares build ``Item`` tuples inline (the request path must stay cheap); everything
else (tests, benchmarks, ``track_event(request=...)``) builds them with the constructors
below, which say what they make::

    page_view(environ, title="Pricing")
    event(scope, "Signup", meta={"plan": "pro"})
    session(environ)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ._extract import Captured, capture

__all__ = ["EVENT", "HIT", "KIND_NAMES", "SESSION", "Item", "event", "page_view", "session"]

HIT, EVENT, SESSION = 0, 1, 2
KINDS = (HIT, EVENT, SESSION)
KIND_NAMES = ("hit", "event", "session")

# (kind, time, is_asgi, captured, extra):
# - time: when it happened (epoch seconds; a hit's is its request's arrival);
# - captured: the request's raw values (``_extract.capture``);
# - extra: hit -> (title, tags) or None, or (title, tags, reason) for a hit that is a page
#   view only if the browser navigated to it (reason: one of ``_rules.IF_NAVIGATION``);
#   event -> (name, meta, duration, non_interactive); session -> None.
Item = tuple[int, float, bool, Captured, Any]


def _source(request: Mapping[str, Any]) -> tuple[bool, Captured]:
    is_asgi = request.get("type") == "http"
    return is_asgi, capture(is_asgi, request)


def page_view(request: Mapping[str, Any], *, at: float | None = None,
              title: str | None = None, tags: Mapping[str, str] | None = None,
              unless_navigation: str | None = None) -> Item:
    """A hit for ``request`` (a WSGI environ or an ASGI HTTP scope). ``unless_navigation``:
    a page view only if the browser navigated to it, and for this reason not otherwise."""
    is_asgi, captured = _source(request)
    extra: tuple[Any, ...] | None = \
        (title, dict(tags) if tags else None) if title or tags else None
    if unless_navigation is not None:
        extra = (title, dict(tags) if tags else None, unless_navigation)
    return (HIT, time.time() if at is None else at, is_asgi, captured, extra)


def event(request: Mapping[str, Any], name: str, *, meta: Mapping[str, Any] | None = None,
          duration: float | None = None, non_interactive: bool = False,
          at: float | None = None) -> Item:
    """A custom event for ``request``'s visitor (arguments as ``track_event`` takes them)."""
    is_asgi, captured = _source(request)
    extra = (name, dict(meta) if meta else None, duration, non_interactive)
    return (EVENT, time.time() if at is None else at, is_asgi, captured, extra)


def session(request: Mapping[str, Any], *, at: float | None = None) -> Item:
    """A session keep-alive for ``request``'s visitor."""
    is_asgi, captured = _source(request)
    return (SESSION, time.time() if at is None else at, is_asgi, captured, None)
