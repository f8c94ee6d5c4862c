"""Pirsch for any WSGI application (Flask, Django, Pyramid, Bottle, Falcon...)::

    from pirsch_middleware.wsgi import PirschMiddleware
    app = PirschMiddleware(app)                     # credentials from PIRSCH_* variables
    app = PirschMiddleware(app, access_key="pa_...", exclude=["/admin/"])

For an ASGI application (Starlette, FastAPI, Django's ASGI handler), use
``pirsch_middleware.asgi.PirschMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from ._lifecycle import ARRIVED, Held, current, finish, leave, respond
from ._middleware import MiddlewareBase

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

    kind = "WSGI"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse,
                 ) -> Iterable[bytes]:
        held = self.lifecycle.start(environ, False, environ.get("REQUEST_METHOD") or "",
                                    environ.get("PATH_INFO") or "")
        if held is None:
            return self.app(environ, start_response)
        token = current.set(held)  # Visit.enter, for a held request
        if not held[ARRIVED]:  # no page view: only track_event() & co. may need it
            try:
                return self.app(environ, start_response)
            finally:
                try:  # _lifecycle.leave, inline
                    current.reset(token)
                except ValueError:
                    pass

        def observe(status: str, headers: list[tuple[str, str]],
                    exc_info: ExcInfo | None = None) -> Any:
            if held[ARRIVED]:  # the response starts: its status and content type
                try:
                    try:
                        code = _codes[status]
                    except KeyError:  # a status line not seen yet
                        code = _status_code(status)
                    content_type = ""
                    for name, value in headers:
                        if len(name) == 12 and name.lower() == "content-type":
                            content_type = value
                            break
                    respond(held, code, content_type)
                except Exception:  # what no app should send (a header value not a string):
                    finish(held)  # no page view; the server says what it thinks of it
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, observe)
        except BaseException:
            finish(held)  # no page view, but the events it tracked still count
            raise
        finally:
            try:  # _lifecycle.leave, inline
                current.reset(token)
            except ValueError:
                pass
        if not held[ARRIVED]:  # decided
            return result
        # start_response is still to come, from inside the iterable (a generator app):
        # keep the request current while it runs, and settle when it is closed.
        return _Deferred(result, held)


# Status lines seen, and their codes: an app sends few ("200 OK", "404 Not Found"...), and
# slicing and parsing one costs more than the rest of reading the response's start.
_codes: dict[str, int] = {}
MAX_CODES = 64


def _status_code(status: str) -> int:
    """The code of a WSGI status line ("200 OK" -> 200); 0 when it has none."""
    try:
        code = int(status[:3])
    except (TypeError, ValueError):
        return 0
    if status.__class__ is str and len(_codes) < MAX_CODES:
        _codes[status] = code
    return code


class _Deferred:
    """Wraps a response iterable whose start_response has not been called yet."""

    def __init__(self, result: Iterable[bytes], held: Held) -> None:
        self._result = result
        self._held = held

    def __iter__(self) -> Iterator[bytes]:
        token = current.set(self._held)
        try:
            yield from self._result
        finally:
            leave(token)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            finish(self._held)
