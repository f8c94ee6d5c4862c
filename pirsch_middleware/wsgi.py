"""Pirsch for any WSGI application::

    from pirsch_middleware.wsgi import PirschMiddleware
    app = PirschMiddleware(app)                     # credentials from PIRSCH_* variables
    app = PirschMiddleware(app, access_key="pa_...", exclude=["/admin/"])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from ._context import RequestState, _current
from ._extract import capture
from ._middleware import MiddlewareBase
from ._rules import Rules

__all__ = ["PirschMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class PirschMiddleware(MiddlewareBase[WSGIApp]):
    """WSGI middleware: each page view becomes a Pirsch hit, queued off the request path.

    ``tracker`` shares one ``Tracker`` between apps; other keyword arguments are the
    options documented in the README (credentials, ``trusted_proxies``, ``exclude``...).
    The response is never changed, and streaming responses are passed through as they are.
    """

    def __call__(self, environ: dict[str, Any], start_response: StartResponse,
                 ) -> Iterable[bytes]:
        tracker = self.tracker
        if not tracker.enabled:
            return self.app(environ, start_response)
        rules = self.rules
        method = environ.get("REQUEST_METHOD") or ""
        path = environ.get("PATH_INFO") or ""
        if not rules.is_candidate(method, path):
            # Cannot be a page view: only make track_event() work, touch nothing else.
            token = _current.set(RequestState(tracker, environ, False, 0.0, None,
                                                  False))
            try:
                return self.app(environ, start_response)
            finally:
                _current.reset(token)
        state = RequestState(tracker, environ, False, time.time(), capture(False, environ),
                             True)

        def observe(status: str, headers: list[tuple[str, str]],
                    exc_info: ExcInfo | None = None) -> Any:
            if not state.decided:
                state.decide(_is_page(rules, status, headers, method, path, environ))
            return start_response(status, headers, exc_info)

        token = _current.set(state)
        try:
            result = self.app(environ, observe)
        except BaseException:
            state.decide(False)  # no page view, but the events it tracked still count
            raise
        finally:
            _current.reset(token)
        if state.decided:
            return result
        # start_response is still to come, from inside the iterable (a generator app):
        # keep the request current while it runs, and settle when it is closed.
        return _Deferred(result, state)


def _is_page(rules: Rules, status: str, headers: list[tuple[str, str]], method: str,
             path: str, environ: dict[str, Any]) -> bool:
    try:
        code = int(status[:3])
    except ValueError:
        return False
    content_type = ""
    for name, value in headers:
        if len(name) == 12 and name.lower() == "content-type":
            content_type = value
            break
    return rules.is_page_view(code, content_type, method, path, environ)


class _Deferred:
    """Wraps a response iterable whose start_response has not been called yet."""

    def __init__(self, result: Iterable[bytes], state: RequestState) -> None:
        self._result = result
        self._state = state

    def __iter__(self) -> Iterator[bytes]:
        token = _current.set(self._state)
        try:
            yield from self._result
        finally:
            try:
                _current.reset(token)
            except ValueError:  # the server iterated from another context: nothing to undo
                pass

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._state.decide(False)
