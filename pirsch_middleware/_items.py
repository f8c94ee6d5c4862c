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

from ._extract import Captured, capture, is_scope

__all__ = ["EVENT", "HIT", "KIND_NAMES", "SESSION", "Item", "event", "make", "page_view",
           "session", "unpack"]

HIT, EVENT, SESSION = 0, 1, 2
KINDS = (HIT, EVENT, SESSION)
KIND_NAMES = ("hit", "event", "session")

# (kind, time, captured) or (kind, time, captured, extra), as short as it can be: a queued
# hit's memory is mostly its tuples, and Python sizes them in steps of 16 bytes.
# - time: when it happened (epoch seconds; a hit's is its request's arrival);
# - captured: the request's raw values (``_extract.capture``; ``is_scope`` tells an ASGI
#   scope's from a WSGI environ's);
# - extra, left out when None: hit -> (title, tags), or (title, tags, reason) for a hit
#   that is a page view only if the browser navigated to it (reason: one of
#   ``_rules.IF_NAVIGATION``); event -> (name, meta, duration, non_interactive).
Item = tuple[Any, ...]


def make(kind: int, at: float, captured: Captured, extra: Any = None) -> Item:
    """An item, without its extra when there is none."""
    return (kind, at, captured) if extra is None else (kind, at, captured, extra)


def unpack(item: Item) -> tuple[int, float, bool, Captured, Any]:
    """(kind, time, is_asgi, captured, extra) of an item."""
    captured = item[2]
    return (item[0], item[1], is_scope(captured), captured,
            item[3] if len(item) > 3 else None)


def _source(request: Mapping[str, Any]) -> Captured:
    return capture(request.get("type") == "http", request)


def page_view(request: Mapping[str, Any], *, at: float | None = None,
              title: str | None = None, tags: Mapping[str, str] | None = None,
              unless_navigation: str | None = None) -> Item:
    """A hit for ``request`` (a WSGI environ or an ASGI HTTP scope). ``unless_navigation``:
    a page view only if the browser navigated to it, and for this reason not otherwise."""
    extra: tuple[Any, ...] | None = \
        (title, dict(tags) if tags else None) if title or tags else None
    if unless_navigation is not None:
        extra = (title, dict(tags) if tags else None, unless_navigation)
    return make(HIT, time.time() if at is None else at, _source(request), extra)


def event(request: Mapping[str, Any], name: str, *, meta: Mapping[str, Any] | None = None,
          duration: float | None = None, non_interactive: bool = False,
          at: float | None = None) -> Item:
    """A custom event for ``request``'s visitor (arguments as ``track_event`` takes them)."""
    extra = (name, dict(meta) if meta else None, duration, non_interactive)
    return make(EVENT, time.time() if at is None else at, _source(request), extra)


def session(request: Mapping[str, Any], *, at: float | None = None) -> Item:
    """A session keep-alive for ``request``'s visitor."""
    return make(SESSION, time.time() if at is None else at, _source(request))
