"""One request lifecycle for every integration: begin, respond, finish.

An integration (WSGI, ASGI, Django) only translates its framework's request and response
into these calls; what is tracked, when, and in which order is decided here once::

    visit = lifecycle.begin(source, is_asgi, method, path)   # None: pass through
    token = visit.enter()              # track_event() & co. find the request from here on
    ...                                # the app runs
    visit.respond(status, content_type)  # the response starts: a page view or not
    visit.finish()                     # done, streamed out, or failed: settle the rest
    visit.leave(token)

The WSGI and ASGI middlewares call ``start`` instead of ``begin``, and ``respond`` and
``finish`` on what it gives: a ``Held`` request, a list of the Visit's arguments. Making
a Visit costs a tenth of a page view's request path (a list, an eighth of that), and most
requests never need theirs: it is made only when a view asks for it (``current_visit``,
which ``track_event`` & co. use)::

    held = lifecycle.start(source, is_asgi, method, path)   # None: pass through
    token = current.set(held)
    ...                                # the app runs
    respond(held, status, content_type)
    finish(held)
    current.reset(token)

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

__all__ = ["ARRIVED", "Held", "Lifecycle", "Visit", "current", "current_visit", "finish",
           "leave", "respond"]

# A request as the WSGI and ASGI middlewares hold it (``Lifecycle.start``): its Visit's
# arguments, then its Visit once a view asked for it (None until then). A list, shared by
# every context the request runs in, so that a Visit made in one (a view run in a thread)
# is the one the middleware settles in another.
Held = list[Any]
LIFECYCLE, SOURCE, IS_ASGI, METHOD, PATH, ARRIVED, CAPTURED, VISIT = range(8)
# held[ARRIVED]: its arrival time while it may become a page view; 0.0 once that is
# decided (``respond``, ``finish``), or when it never could be.

# The request being served in this context; integrations set it directly (Visit.enter).
current: ContextVar[Visit | Held | None] = ContextVar("pirsch_request", default=None)


def current_visit() -> Visit | None:
    """The request being served by one of our middlewares in this context, if any."""
    held = current.get()
    if not isinstance(held, list):
        return held
    visit: Visit | None = held[VISIT]  # made the first time it is asked for
    if visit is None:
        visit = held[VISIT] = Visit(*held[:VISIT])
    return visit


def leave(token: Token[Visit | Held | None]) -> None:
    """Undo ``current.set`` (the middlewares inline it on their request path)."""
    try:
        current.reset(token)
    except ValueError:  # left from another context (a server iterating elsewhere)
        pass


def respond(held: Held, status: int, content_type: str) -> None:
    """``Visit.respond`` for a held request: the response starts, decide (once) whether it
    is a page view."""
    arrived = held[ARRIVED]
    if not arrived:
        return
    held[ARRIVED] = 0.0
    visit = held[VISIT]
    if visit is not None:  # a view asked for it: it may hold a title, tags or events
        visit.respond(status, content_type)
        return
    lifecycle: Lifecycle = held[LIFECYCLE]
    rules = lifecycle.rules
    # Rules.response_reason's most frequent answer, inline: a success of a content type
    # it has found to make one a page view (Rules.page_types: empty with should_track).
    if 200 <= status < 300 and content_type.__class__ is str \
            and content_type in rules.page_types:
        reason = None
    else:
        reason = rules.response_reason(status, content_type, held[METHOD], held[PATH],
                                       held[SOURCE])
    if reason is None:  # Lifecycle.settle's plain page view, inline: the most frequent
        lifecycle.tracker.put((HIT, arrived, held[CAPTURED]))
    else:
        lifecycle.settle(reason, arrived, held[IS_ASGI], held[CAPTURED], None, None)


def finish(held: Held) -> None:
    """``Visit.finish`` for a held request."""
    if held[ARRIVED]:
        held[ARRIVED] = 0.0
        visit = held[VISIT]
        if visit is not None:
            visit.finish()
        else:
            lifecycle: Lifecycle = held[LIFECYCLE]
            lifecycle.settle(NO_RESPONSE, 0.0, held[IS_ASGI], held[CAPTURED], None, None)


class Visit:
    """What one request has told us so far. Lives only while the request is served."""

    __slots__ = ("captured", "decided", "is_asgi", "lifecycle", "method", "path", "pending",
                 "skip", "source", "tags", "time", "title", "tracker")

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
        self.pending: list[Item] | None = None
        self.title: str | None = None
        self.tags: dict[str, str] | None = None
        self.skip = False

    def enter(self) -> Token[Visit | Held | None]:
        """Make this the current request (for ``track_event``, ``set_title``...)."""
        return current.set(self)

    def leave(self, token: Token[Visit | Held | None]) -> None:
        leave(token)

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
        """Queue the hit (``Lifecycle.settle``), then what was held for it."""
        if self.decided:
            return
        self.decided = True
        if self.skip and (reason is None or reason in IF_NAVIGATION):
            reason = DONT_TRACK
        self.lifecycle.settle(reason, self.time, self.is_asgi,
                              self.captured or self.snapshot(), self.title, self.tags)
        if self.pending:
            put = self.tracker.put
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
        held = self.start(source, is_asgi, method, path, captured)
        return None if held is None else Visit(*held[:VISIT])

    def start(self, source: Mapping[str, Any], is_asgi: bool, method: str, path: str,
              captured: Captured | None = None) -> Held | None:
        """``begin``, but the request is held (``Held``): its Visit is made only when a
        view asks for it (``current_visit``)."""
        if not self.tracker.enabled:
            return None
        outer = current.get()
        if outer is not None:
            lifecycle = outer[LIFECYCLE] if isinstance(outer, list) else outer.lifecycle
            self._throttle.log(logging.WARNING, "nested", "Pirsch: %s is installed inside "
                               "another Pirsch middleware (%s); the outer one tracks each "
                               "request, this one passes them through. Remove one of them.",
                               self.name, lifecycle.name)
            return None
        rules = self.rules
        try:  # Rules.is_candidate, inline for a path it has answered for before
            candidate = method in rules.methods and rules.candidates[path]
        except (KeyError, TypeError):  # a path new to it, or no string
            candidate = rules.is_candidate(method, path)
        if candidate:
            return [self, source, is_asgi, method, path, time.time(),
                    captured or self.tracker.capture(is_asgi, source), None]
        # Cannot be a page view: only make track_event() work, touch nothing else.
        if self.tracker.watcher is not None:
            self.not_sent(is_asgi, captured or self.tracker.capture(is_asgi, source),
                          self.rules.candidate_reason(method, path) or "")
        return [self, source, is_asgi, method, path, 0.0, captured, None]

    def settle(self, reason: str | None, arrived: float, is_asgi: bool, captured: Captured,
               title: str | None, tags: dict[str, str] | None) -> None:
        """A request's response is decided: queue its hit (``reason`` None: a page view;
        one of ``IF_NAVIGATION``: a page view if the browser navigated to it, which the
        flusher decides), or tell the watcher why there is none."""
        if reason is None:  # _items.make, inline: a plain page view's item has no extra
            self.tracker.put((HIT, arrived, captured, (title, tags)) if title or tags
                             else (HIT, arrived, captured))
        elif reason in IF_NAVIGATION:
            self.tracker.put((HIT, arrived, captured, (title, tags, reason)))
        elif self.tracker.watcher is not None:
            self.not_sent(is_asgi, captured, reason)

    def not_sent(self, is_asgi: bool, captured: Captured, reason: str) -> None:
        """Tell the tracker's watcher (debug mode, a test's recorder) of a request that is
        no page view, and why."""
        watcher = self.tracker.watcher
        if watcher is not None:
            watcher.not_sent("hit", self.tracker.describe(is_asgi, captured).url, reason)

    def must_flush(self) -> bool:
        """A request finishing after SIGTERM, with no lifespan flush to come: the server
        waits for it, so flush now (``flush``)."""
        return stopping.up and not flushed_by_lifespan(self.tracker)

    def flush(self) -> None:
        shutdown_flush(self.tracker)
