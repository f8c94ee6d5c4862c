"""The constructor the WSGI and ASGI middlewares share: every option spelled out, so type
checkers and IDEs see them (Starlette's ``add_middleware`` checks them against it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import httpx

from ._proxies import TrustedProxies
from ._registry import resolve_tracker
from ._rules import DEFAULT_CONTENT_TYPES, PageView, Rules
from ._shutdown import install_signal_flush
from ._tracker import Tracker

__all__ = ["MiddlewareBase"]

AppT = TypeVar("AppT")


class MiddlewareBase(Generic[AppT]):
    """Options: see the README. ``tracker`` shares a ``Tracker``; the tracker options
    (credentials to ``filter_bots``) then must not be given."""

    def __init__(
        self,
        app: AppT,
        *,
        tracker: Tracker | None = None,
        access_key: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        trusted_proxies: str | Iterable[str] | TrustedProxies | None = None,
        flush_interval: float | None = None,
        batch_size: int | None = None,
        max_queue: int | None = None,
        timeout: float | None = None,
        shutdown_timeout: float | None = None,
        respect_dnt: bool | None = None,
        filter_bots: bool | None = None,
        transport: httpx.BaseTransport | None = None,
        forwarded_host: bool | None = None,
        exclude: Iterable[str | re.Pattern[str]] | str | None = None,
        default_excludes: bool | None = None,
        track_methods: Iterable[str] | None = None,
        track_content_types: Iterable[str] | None = DEFAULT_CONTENT_TYPES,
        should_track: Callable[[PageView], bool] | None = None,
    ) -> None:
        tracker_options: dict[str, Any] = {
            name: value for name, value in (
                ("access_key", access_key), ("client_id", client_id),
                ("client_secret", client_secret), ("base_url", base_url),
                ("trusted_proxies", trusted_proxies), ("flush_interval", flush_interval),
                ("batch_size", batch_size), ("max_queue", max_queue), ("timeout", timeout),
                ("shutdown_timeout", shutdown_timeout), ("respect_dnt", respect_dnt),
                ("filter_bots", filter_bots), ("transport", transport),
                ("forwarded_host", forwarded_host),
            ) if value is not None
        }
        self.app = app
        self.rules = Rules(exclude=exclude, default_excludes=default_excludes,
                           track_methods=track_methods,
                           track_content_types=track_content_types, should_track=should_track)
        self.tracker = resolve_tracker(tracker, tracker_options)
        install_signal_flush()
