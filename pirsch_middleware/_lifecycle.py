"""One request lifecycle for every integration: begin, respond, finish.

An integration (WSGI, ASGI, Django) only translates its framework's request and response
into these calls; what is tracked, when, and in which order is decided here once::

    visit = lifecycle.begin(source, is_asgi, method, path)   # None: pass through
    token = visit.enter()              # track_event() & co. find the request from here on
    ...                                # the app runs
    visit.respond(status, content_type)  # the response starts: a page view or not
    visit.finish()                     # done, streamed out, or failed: settle the rest
    visit.leave(token)

The WSGI and ASGI middlewares call ``start`` instead of ``begin``: a request that cannot
be a page view then costs no Visit, only a tuple of its arguments, until a view asks for
it (``current_visit``, which ``track_event`` & co. use).

A request inside a request already tracked (the middleware installed twice: Django's
``MIDDLEWARE`` listing it twice, ``Pirsch(app)`` called twice, a WSGI wrapper around
Django's middleware...) gets ``None`` from ``begin``: the outermost tracks, the others pass
through, and a warning says so once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any

from ._extract import Captured
from ._items import HIT, Item, make
from ._logs import Throttle
from ._registry import flushed_by_lifespan, shutdown_flush, stopping
from ._rules import DONT_TRACK, IF_NAVIGATION, NO_RESPONSE, Rules
from ._tracker import Tracker

__all__ = ["Lifecycle", "Passing", "Visit", "current", "current_visit"]

# The request being served in this context; integrations set it directly (Visit.enter).
# A request that cannot be a page view may be held as its Visit's arguments instead
# (``Lifecycle.start``): most never need the Visit, which is made when first asked for.
Passing = tuple[Any, ...]
current: ContextVar[Visit | Passing | None] = ContextVar("pirsch_request", default=None)


def current_visit() -> Visit | None:
    """The request being served by one of our middlewares in this context, if any."""
    visit = current.get()
    if isinstance(visit, tuple):  # passing: its Visit, from now on in this context
        visit = Visit(*visit)
        current.set(visit)
    return visit


class Visit:
    """What one request has told us so far. Lives only while the request is served."""

    __slots__ = ("captured", "decided", "is_asgi", "lifecycle", "method", "path", "pending",
                 "reason", "skip", "source", "tags", "time", "title", "tracker")

    def __init__(self, lifecycle: Lifecycle, source: Mapping[str, Any], is_asgi: bool,
                 method: str, path: str, arrived: float, captured: Captured | None) -> None:
        self.lifecycle = lifecycle
        self.tracker = lifecycle.tracker
        self.source = source  # the live environ / scope
        self.captured = captured  # its raw values taken on arrival, or None until needed
        self.is_asgi = is_asgi
        self.method = method
        self.path = path
        self.time = arrived
        # Only a request that may become a page view holds its events back for the hit.
        self.decided = not arrived
        self.reason: str | None = None  # why it is no page view, once decided
        self.pending: list[Item] | None = None
        self.title: str | None = None
        self.tags: dict[str, str] | None = None
        self.skip = False

    def enter(self) -> Token[Visit | Passing | None]:
        """Make this the current request (for ``track_event``, ``set_title``...)."""
        return current.set(self)

    def leave(self, token: Token[Visit | Passing | None]) -> None:
        try:
            current.reset(token)
        except ValueError:  # left from another context (a server iterating elsewhere)
            pass

    def snapshot(self) -> Captured:
        captured = self.captured
        if captured is None:
            captured = self.captured = self.tracker.capture(self.is_asgi, self.source)
        return captured

    def add(self, kind: int, extra: object) -> None:
        item = make(kind, time.time(), self.snapshot(), extra)
        if self.decided:
            self.tracker.put(item)
        elif self.pending is None:
            self.pending = [item]
        else:
            self.pending.append(item)

    def respond(self, status: int, content_type: str) -> None:
        """The response starts: decide (once) whether it is a page view."""
        if not self.decided:
            lifecycle = self.lifecycle
            self.settle(lifecycle.rules.response_reason(status, content_type, self.method,
                                                        self.path, self.source))

    def finish(self) -> None:
        """The response is done, or failed, or never started: what is still undecided is
        no page view, but the events it tracked are still sent."""
        if not self.decided:
            self.settle(NO_RESPONSE)

    def settle(self, reason: str | None) -> None:
        """Queue the hit (``reason`` None: a page view; one of ``IF_NAVIGATION``: a page
        view if the browser navigated to it, which the flusher decides), then what was
        held for it."""
        if self.decided:
            return
        self.decided = True
        if self.skip and (reason is None or reason in IF_NAVIGATION):
            reason = DONT_TRACK
        put = self.tracker.put
        if reason is None or reason in IF_NAVIGATION:
            self.reason = None  # queued as a hit (IF_NAVIGATION: the flusher may filter it)
            captured = self.captured or self.snapshot()
            # _items.make, inline: a plain page view's item has no extra slot.
            if reason is not None:
                put((HIT, self.time, captured, (self.title, self.tags, reason)))
            elif self.title or self.tags:
                put((HIT, self.time, captured, (self.title, self.tags)))
            else:
                put((HIT, self.time, captured))
        else:
            self.reason = reason
            if self.tracker.watcher is not None:
                self.lifecycle.not_sent(self.is_asgi, self.snapshot(), reason)
        if self.pending:
            for item in self.pending:
                put(item)
            self.pending = None


class Lifecycle:
    """The request lifecycle of one middleware instance (its tracker and rules)."""

    __slots__ = ("_throttle", "name", "rules", "tracker")

    def __init__(self, tracker: Tracker, rules: Rules, name: str) -> None:
        self.tracker = tracker
        self.rules = rules
        self.name = name  # how the user installed it, for the warning when nested
        self._throttle = Throttle(every=float("inf"))  # once

    def begin(self, source: Mapping[str, Any], is_asgi: bool, method: str, path: str,
              captured: Captured | None = None) -> Visit | None:
        """The request arrives: its ``Visit``, or None to pass it through untouched
        (tracking off, or another Pirsch middleware already tracks this request)."""
        visit = self.start(source, is_asgi, method, path, captured)
        return Visit(*visit) if isinstance(visit, tuple) else visit

    def start(self, source: Mapping[str, Any], is_asgi: bool, method: str, path: str,
              captured: Captured | None = None) -> Visit | Passing | None:
        """``begin``, but a request that cannot be a page view gets its Visit's arguments
        (``Passing``), to be made into it only when a view asks (``current_visit``)."""
        if not self.tracker.enabled:
            return None
        outer = current.get()
        if outer is not None:
            lifecycle = outer[0] if isinstance(outer, tuple) else outer.lifecycle
            self._throttle.log(logging.WARNING, "nested", "Pirsch: %s is installed inside "
                               "another Pirsch middleware (%s); the outer one tracks each "
                               "request, this one passes them through. Remove one of them.",
                               self.name, lifecycle.name)
            return None
        if self.rules.is_candidate(method, path):
            return Visit(self, source, is_asgi, method, path, time.time(),
                         captured or self.tracker.capture(is_asgi, source))
        # Cannot be a page view: only make track_event() work, touch nothing else.
        if self.tracker.watcher is not None:
            self.not_sent(is_asgi, captured or self.tracker.capture(is_asgi, source),
                          self.rules.candidate_reason(method, path) or "")
        return (self, source, is_asgi, method, path, 0.0, captured)  # Visit's arguments

    def not_sent(self, is_asgi: bool, captured: Captured, reason: str) -> None:
        """Tell the tracker's watcher (debug mode, a test's recorder) of a request that is
        no page view, and why."""
        watcher = self.tracker.watcher
        if watcher is not None:
            watcher.not_sent("hit", self.tracker.describe(is_asgi, captured).url, reason)

    def must_flush(self) -> bool:
        """A request finishing after SIGTERM, with no lifespan flush to come: the server
        waits for it, so flush now (``flush``)."""
        return stopping.is_set() and not flushed_by_lifespan(self.tracker)

    def flush(self) -> None:
        shutdown_flush(self.tracker)
