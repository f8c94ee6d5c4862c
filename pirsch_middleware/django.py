"""Pirsch for Django, under WSGI and ASGI::

    MIDDLEWARE = [
        "pirsch_middleware.django.PirschMiddleware",
        ...
    ]
    PIRSCH = {"EXCLUDE": ["/admin/"]}  # optional; credentials from PIRSCH_* variables

``PIRSCH`` takes the core option names, upper- or lower-case; what it leaves out comes
from the environment. Client IP and URL follow the core's trusted-proxy rules, not
Django's ``META`` values. Misconfiguration raises ``ImproperlyConfigured``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio.to_thread

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.http import HttpRequest, HttpResponseBase
except ImportError as exc:  # pragma: no cover - exercised without Django installed
    raise ImportError(
        "pirsch_middleware.django needs Django: pip install 'pirsch-middleware[django]'"
    ) from exc

from ._config import RULE_OPTIONS, TRACKER_OPTIONS, check_option_names
from ._context import request_carrier
from ._lifecycle import Lifecycle, Visit
from ._middleware import build
from ._shutdown import install_signal_flush

__all__ = ["PirschMiddleware"]

GetResponse = Callable[[HttpRequest], Any]
NAME = "pirsch_middleware.django.PirschMiddleware"
OPTIONS = TRACKER_OPTIONS | RULE_OPTIONS | {"tracker"}


def _configure() -> Lifecycle:
    raw = getattr(settings, "PIRSCH", None) or {}
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured("settings.PIRSCH must be a dict of Pirsch options, e.g. "
                                   "{'ACCESS_KEY': 'pa_...', 'EXCLUDE': ['/admin/']}")
    try:
        # Named as written there (upper- or lower-case), with the closest option if unknown.
        check_option_names([str(key).lower() for key in raw], OPTIONS, "settings.PIRSCH")
        rules, tracker = build({str(key).lower(): value for key, value in raw.items()},
                               "settings.PIRSCH")
    except TypeError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    except ValueError as exc:
        raise ImproperlyConfigured(f"settings.PIRSCH: {exc}") from None
    return Lifecycle(tracker, rules, NAME)


class PirschMiddleware:
    """Django middleware, sync and async capable (no thread hop for async views)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.lifecycle = _configure()
        self.tracker = self.lifecycle.tracker
        install_signal_flush()

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        visit = self._begin(request)
        if visit is None:
            return self.get_response(request)
        token = visit.enter()
        try:
            response = self.get_response(request)
        except BaseException:
            visit.finish()
            raise
        finally:
            visit.leave(token)
        self._respond(visit, response)
        if self.lifecycle.must_flush():  # in flight at SIGTERM: the server waits for it
            self.lifecycle.flush()
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        visit = self._begin(request)
        get_response: Callable[[HttpRequest], Awaitable[Any]] = self.get_response
        if visit is None:
            return await get_response(request)
        token = visit.enter()
        try:
            response = await get_response(request)
        except BaseException:
            visit.finish()
            raise
        finally:
            visit.leave(token)
        self._respond(visit, response)
        if self.lifecycle.must_flush():
            await anyio.to_thread.run_sync(self.lifecycle.flush)
        return response

    def _begin(self, request: HttpRequest) -> Visit | None:
        if not self.lifecycle.tracker.enabled:
            return None
        found = request_carrier(request, self.lifecycle.tracker.capture)
        if found is None:  # not an HttpRequest from Django's WSGI or ASGI handler
            return None
        is_asgi, source, captured = found
        return self.lifecycle.begin(source, is_asgi, request.method or "", request.path_info,
                                    captured)

    @staticmethod
    def _respond(visit: Visit, response: HttpResponseBase) -> None:
        # Django's response is whole here (a streaming one is a page view by its status
        # and content type, like any other): decide and settle at once.
        visit.respond(response.status_code, response.get("Content-Type", "") or "")
        visit.finish()
