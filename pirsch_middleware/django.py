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

import functools
import time
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

from ._config import split_options
from ._context import RequestState, _current, request_carrier
from ._registry import flushed_by_lifespan, resolve_tracker, shutdown_flush, stopping
from ._rules import Rules
from ._shutdown import install_signal_flush
from ._tracker import Tracker

__all__ = ["PirschMiddleware"]

GetResponse = Callable[[HttpRequest], Any]


def _configure() -> tuple[Tracker, Rules]:
    raw = getattr(settings, "PIRSCH", None) or {}
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured("settings.PIRSCH must be a dict of Pirsch options, e.g. "
                                   "{'ACCESS_KEY': 'pa_...', 'EXCLUDE': ['/admin/']}")
    options = {str(key).lower(): value for key, value in raw.items()}
    tracker = options.pop("tracker", None)
    try:
        tracker_options, rule_options = split_options(options)
        return resolve_tracker(tracker, tracker_options), Rules(**rule_options)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"settings.PIRSCH: {exc}") from None


class PirschMiddleware:
    """Django middleware, sync and async capable (no thread hop for async views)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.tracker, self.rules = _configure()
        install_signal_flush()

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        state = self._begin(request)
        if state is None:
            return self.get_response(request)
        token = _current.set(state)
        try:
            response = self.get_response(request)
        except BaseException:
            state.decide(False)
            raise
        finally:
            _current.reset(token)
        self._finish(state, request, response)
        if stopping.is_set() and not flushed_by_lifespan(self.tracker):
            shutdown_flush(self.tracker)  # in flight at SIGTERM: the server waits for it
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        state = self._begin(request)
        get_response: Callable[[HttpRequest], Awaitable[Any]] = self.get_response
        if state is None:
            return await get_response(request)
        token = _current.set(state)
        try:
            response = await get_response(request)
        except BaseException:
            state.decide(False)
            raise
        finally:
            _current.reset(token)
        self._finish(state, request, response)
        if stopping.is_set() and not flushed_by_lifespan(self.tracker):
            await anyio.to_thread.run_sync(functools.partial(shutdown_flush, self.tracker))
        return response

    def _begin(self, request: HttpRequest) -> RequestState | None:
        if not self.tracker.enabled:
            return None
        candidate = self.rules.is_candidate(request.method or "", request.path_info)
        found = request_carrier(request)
        if found is None:  # not an HttpRequest from Django's WSGI or ASGI handler
            return None
        is_asgi, source, carrier = found
        return RequestState(self.tracker, source, is_asgi, time.time() if candidate else 0.0,
                            carrier, candidate)

    def _finish(self, state: RequestState, request: HttpRequest,
                response: HttpResponseBase) -> None:
        if state.decided:
            return
        page = self.rules.is_page_view(response.status_code,
                                       response.get("Content-Type", "") or "",
                                       request.method or "", request.path_info, request)
        state.decide(page)
