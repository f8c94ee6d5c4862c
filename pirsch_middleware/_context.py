"""Per-request state on the request path, and the public ``track_event`` / ``keep_alive``.

A middleware sets a ``RequestState`` in a context variable for the duration of the
request, so ``track_event`` finds it from views, threads started with
``contextvars.copy_context`` and asyncio tasks alike. Events tracked before the response
starts are held until the page view is decided, so the hit is queued before them.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from ._extract import PATH_INFO_AT, SCRIPT_NAME_AT, Captured, capture
from ._items import EVENT, HIT, SESSION, Item
from ._registry import get_tracker, tracking_off
from ._tracker import Tracker

__all__ = [
    "RequestState", "current_request", "dont_track", "keep_alive", "set_tags", "set_title",
    "skip_tracking", "track_event",
]

logger = logging.getLogger("pirsch_middleware")

_current: ContextVar[RequestState | None] = ContextVar("pirsch_request", default=None)


class RequestState:
    """What one request has told us so far. Lives only while the request is served."""

    __slots__ = ("captured", "decided", "is_asgi", "pending", "skip", "source", "tags",
                 "time", "title", "tracker")

    def __init__(self, tracker: Tracker, source: Mapping[str, Any], is_asgi: bool,
                 arrived: float, captured: Captured | None, candidate: bool) -> None:
        self.tracker = tracker
        self.source = source  # the live environ / scope
        self.captured = captured  # its raw values taken on arrival, or None until needed
        self.is_asgi = is_asgi
        self.time = arrived
        # Only a request that may become a page view holds its events back for the hit.
        self.decided = not candidate
        self.pending: list[Item] | None = None
        self.title: str | None = None
        self.tags: dict[str, str] | None = None
        self.skip = False

    def snapshot(self) -> Captured:
        captured = self.captured
        if captured is None:
            captured = self.captured = capture(self.is_asgi, self.source)
        return captured

    def add(self, kind: int, extra: object) -> None:
        item = (kind, time.time(), self.is_asgi, self.snapshot(), extra)
        if self.decided:
            self.tracker.put(item)
        elif self.pending is None:
            self.pending = [item]
        else:
            self.pending.append(item)

    def decide(self, page_view: bool) -> None:
        """Queue the hit (if this response is a page view), then what was held for it."""
        if self.decided:
            return
        self.decided = True
        put = self.tracker.put
        if page_view and not self.skip:
            extra = (self.title, self.tags) if self.title or self.tags else None
            put((HIT, self.time, self.is_asgi, self.snapshot(), extra))
        if self.pending:
            for item in self.pending:
                put(item)
            self.pending = None


def current_request() -> RequestState | None:
    """The request being served by one of our middlewares in this context, if any."""
    return _current.get()


def request_carrier(request: object) -> tuple[bool, Mapping[str, Any], Captured] | None:
    """(is_asgi, live source, raw values for the core) of an environ, a scope or a
    framework request object (Django, Flask/Werkzeug, Starlette), or None."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping) and scope.get("type") == "http":
        return True, scope, capture(True, scope)
    environ = getattr(request, "environ", None)
    if isinstance(environ, Mapping):
        captured = capture(False, environ)
        if hasattr(request, "path_info") and hasattr(request, "META"):
            captured = _undo_django_paths(captured)
        return False, environ, captured
    if isinstance(request, Mapping):
        if request.get("type") == "http":
            return True, request, capture(True, request)
        if "REQUEST_METHOD" in request or "wsgi.version" in request:
            return False, request, capture(False, request)
    return None


def _undo_django_paths(captured: Captured) -> Captured:
    """Django overwrites PATH_INFO/SCRIPT_NAME with decoded text; the core reads WSGI's
    Latin-1 form (PEP 3333): turn the text back into its bytes."""
    path, script = captured[PATH_INFO_AT], captured[SCRIPT_NAME_AT]
    if (not isinstance(path, str) or path.isascii()) \
            and (not isinstance(script, str) or script.isascii()):
        return captured  # nearly always: ASCII reads the same either way
    values = list(captured)
    for at in (PATH_INFO_AT, SCRIPT_NAME_AT):
        value = values[at]
        if isinstance(value, str):
            values[at] = value.encode("utf-8", "surrogateescape").decode("latin-1")
    return tuple(values)


def _queue(kind: int, extra: object, request: object | None, caller: str) -> None:
    state = _current.get()
    if request is not None and (state is None or not _is_same(state, request)):
        found = request_carrier(request)
        if found is None:
            logger.warning("%s: request=%r is not a WSGI environ, an ASGI scope or a "
                           "request object; nothing tracked", caller, type(request).__name__)
            return
        tracker = get_tracker()
        if tracker.enabled:
            tracker.put((kind, time.time(), found[0], found[2], extra))
        return
    if state is None:
        if not tracking_off():  # when it is off, the tracker said so once, at start-up
            logger.warning("%s called outside a request handled by a Pirsch middleware "
                           "and without request=...; nothing tracked", caller)
        return
    state.add(kind, extra)


def _is_same(state: RequestState, request: object) -> bool:
    return request is state.source or getattr(request, "environ", None) is state.source \
        or getattr(request, "scope", None) is state.source


def track_event(name: str, meta: Mapping[str, Any] | None = None,
                duration: float | None = None, *, request: object | None = None,
                non_interactive: bool = False) -> None:
    """Track a custom event for the current visitor. Never raises.

    Inside a request served by a Pirsch middleware (views, threads, asyncio tasks)::

        track_event("Signup", meta={"plan": "pro"}, duration=12)

    Elsewhere pass the request: a WSGI environ, an ASGI scope, or a Django, Flask or
    Starlette request object (``request=request``).
    """
    try:
        if not isinstance(name, str) or not name.strip():
            logger.warning("track_event: the event name must be a non-empty string, got %r",
                           name)
            return
        if meta is not None and not isinstance(meta, Mapping):
            logger.warning("track_event(%r): meta must be a dict of scalars, got %s; "
                           "sending the event without it", name, type(meta).__name__)
            meta = None
        if duration is not None and (isinstance(duration, bool)
                                     or not isinstance(duration, (int, float))
                                     or not duration >= 0):
            logger.warning("track_event(%r): duration must be a number of seconds >= 0, "
                           "got %r; sending the event without it", name, duration)
            duration = None
        extra = (name.strip(), dict(meta) if meta else None, duration, bool(non_interactive))
        _queue(EVENT, extra, request, "track_event")
    except Exception:
        logger.exception("track_event failed")


def keep_alive(*, request: object | None = None) -> None:
    """Keep the current visitor's session alive (``/session/batch``). Never raises."""
    try:
        _queue(SESSION, None, request, "keep_alive")
    except Exception:
        logger.exception("keep_alive failed")


def _state_for(caller: str) -> RequestState | None:
    state = _current.get()
    if state is None and not tracking_off():
        logger.warning("%s called outside a request handled by a Pirsch middleware; ignored",
                       caller)
    return state


def set_title(title: str) -> None:
    """Set the page title sent with the current request's page view::

        set_title(f"Product: {product.name}")
    """
    state = _state_for("set_title")
    if state is not None:
        state.title = str(title) if title else None


def set_tags(tags: Mapping[str, object] | None = None, /, **more: object) -> None:
    """Add tags (string -> string) to the current request's page view::

        set_tags(author="jane", category="news")
    """
    state = _state_for("set_tags")
    if state is not None:
        merged = dict(state.tags or {})
        merged.update({str(k): str(v) for k, v in {**(tags or {}), **more}.items()
                       if v is not None})
        state.tags = merged or None


def skip_tracking() -> None:
    """Do not send a page view for the current request (its events are still sent)."""
    state = _state_for("skip_tracking")
    if state is not None:
        state.skip = True


F = TypeVar("F", bound=Callable[..., Any])


def dont_track(view: F) -> F:
    """Decorator: the view's responses are never page views. Sync and async views::

        @dont_track
        def preview(request): ...
    """
    if inspect.iscoroutinefunction(view):
        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            skip_tracking()
            return await view(*args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        skip_tracking()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
