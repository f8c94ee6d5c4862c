"""What views call: ``track_event``, ``keep_alive``, ``set_title``, ``set_tags``,
``skip_tracking`` and ``@dont_track``.

They find the request from the context variable the middleware set for it (``_lifecycle``),
so they work in views, threads started with ``contextvars.copy_context`` and asyncio tasks
alike. None of them ever raises into the view: bad arguments are logged, with a warning
that names the call, and dropped.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._extract import PATH_INFO_AT, SCRIPT_NAME_AT, Capture, Captured, capture
from ._items import EVENT, SESSION, make
from ._lifecycle import Visit, current_visit
from ._registry import get_tracker, tracking_off

__all__ = [
    "current_request", "dont_track", "keep_alive", "request_carrier", "set_tags", "set_title",
    "skip_tracking", "track_event",
]

logger = logging.getLogger("pirsch_middleware")

current_request = current_visit


def request_carrier(request: object, capture: Capture = capture,
                    ) -> tuple[bool, Mapping[str, Any], Captured] | None:
    """(is_asgi, live source, raw values for the core, kept by ``capture``: the
    tracker's) of an environ, a scope or a framework request object (Django,
    Flask/Werkzeug, Starlette), or None."""
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
    visit = current_visit()
    if request is not None and (visit is None or not _is_same(visit, request)):
        tracker = get_tracker()
        found = request_carrier(request, tracker.capture)
        if found is None:
            logger.warning("%s: request=%r is not a WSGI environ, an ASGI scope or a "
                           "request object; nothing tracked", caller, type(request).__name__)
            return
        if tracker.enabled:
            tracker.put(make(kind, time.time(), found[2], extra))
        return
    if visit is None:
        if not tracking_off():  # when it is off, the tracker said so once, at start-up
            logger.warning("%s called outside a request handled by a Pirsch middleware "
                           "and without request=...; nothing tracked", caller)
        return
    visit.add(kind, extra)


def _is_same(visit: Visit, request: object) -> bool:
    return request is visit.source or getattr(request, "environ", None) is visit.source \
        or getattr(request, "scope", None) is visit.source


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
                                     or not 0 <= duration < math.inf):
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


def _visit_for(caller: str) -> Visit | None:
    visit = current_visit()
    if visit is None and not tracking_off():
        logger.warning("%s called outside a request handled by a Pirsch middleware; ignored",
                       caller)
    return visit


def set_title(title: str | None) -> None:
    """Set the page title sent with the current request's page view (None: no title)::

        set_title(f"Product: {product.name}")
    """
    if title is not None and not isinstance(title, str):
        logger.warning("set_title: the title must be a string, got %s; ignored",
                       type(title).__name__)
        return
    visit = _visit_for("set_title")
    if visit is not None:
        visit.title = title or None


_TAG_VALUES = (str, int, float)  # bool is an int


def set_tags(tags: Mapping[str, object] | None = None, /, **more: object) -> None:
    """Add tags (string -> string) to the current request's page view::

        set_tags(author="jane", category="news")
        set_tags({"plan": "pro"})

    Values are strings or numbers (sent as text); a tag set to None is left out.
    """
    if tags is not None and not isinstance(tags, Mapping):
        logger.warning("set_tags: tags must be a dict of strings, got %s; ignored",
                       type(tags).__name__)
        tags = None
    merged: dict[str, str] = {}
    for key, value in [*(tags or {}).items(), *more.items()]:
        if value is None:
            continue
        if not isinstance(value, _TAG_VALUES):
            logger.warning("set_tags: the value of tag %r must be a string or a number, got "
                           "%s; that tag is left out", key, type(value).__name__)
            continue
        merged[str(key)] = str(value)
    visit = _visit_for("set_tags")
    if visit is not None and merged:
        visit.tags = {**(visit.tags or {}), **merged}


def skip_tracking() -> None:
    """Do not send a page view for the current request (its events are still sent)."""
    visit = _visit_for("skip_tracking")
    if visit is not None:
        visit.skip = True


F = TypeVar("F", bound=Callable[..., Any])
# Where each kind of class-based view handles a request: Flask's View, then Django's View
# and Starlette's HTTPEndpoint, then anything callable.
_VIEW_METHODS = ("dispatch_request", "dispatch", "__call__")


def dont_track(view: F) -> F:
    """Decorator: the view's responses are never page views (their events still count).

    Works on view functions, sync or async, and on class-based views (Django's ``View``,
    Flask's ``View``/``MethodView``, Starlette's ``HTTPEndpoint``)::

        @dont_track
        def preview(request): ...

        @dont_track
        class PreviewView(TemplateView): ...

    Django's ``method_decorator(dont_track, name="dispatch")`` works as well.
    """
    if inspect.isclass(view):
        for name in _VIEW_METHODS:
            method = view.__dict__.get(name) or getattr(view, name, None)
            if callable(method) and not (name == "__call__" and method is type.__call__):
                setattr(view, name, _skipping(method))
                return view
        raise TypeError(f"dont_track: {view.__name__} has no dispatch(), dispatch_request() "
                        "or __call__() to decorate")
    if not callable(view):
        raise TypeError(f"dont_track decorates a view (a function or a class-based view), "
                        f"not {type(view).__name__}")
    return _skipping(view)


def _skipping(view: F) -> F:
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
