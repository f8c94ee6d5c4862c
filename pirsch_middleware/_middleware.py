"""The constructor the WSGI and ASGI middlewares share: every option spelled out, so type
checkers and IDEs see them (Starlette's ``add_middleware`` checks them against it).

The options are checked and built in ``__new__``, before ``__init__`` binds them: a
misspelled option gets a message naming the closest one instead of Python's own, and a
subclass may turn a bad option into something other than an exception (``asgi``: Starlette
builds middleware inside the first ASGI call, where raising would fail every request).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from ._config import split_options
from ._lifecycle import Lifecycle
from ._outgoing import Outgoing
from ._proxies import TrustedProxies
from ._registry import resolve_tracker
from ._rules import DEFAULT_CONTENT_TYPES, PageView, Rules
from ._shutdown import install_signal_flush
from ._tracker import Tracker

__all__ = ["MiddlewareBase", "app_kind", "build"]

AppT = TypeVar("AppT")


def build(options: Mapping[str, Any], where: str) -> tuple[Rules, Tracker]:
    """The rules and the tracker for a middleware's options (``tracker`` included)."""
    options = dict(options)
    tracker = options.pop("tracker", None)
    tracker_options, rule_options = split_options(options, where)
    rules = Rules(**rule_options)
    given = {name: value for name, value in tracker_options.items() if value is not None}
    return rules, resolve_tracker(tracker, given)


def app_kind(app: object) -> str | None:
    """"ASGI", "WSGI", or None when it cannot tell: an async ``__call__`` or three
    positional parameters (scope, receive, send) is ASGI; two (environ, start_response)
    is WSGI."""
    call = getattr(app, "__call__", None)  # noqa: B004 - the method itself is inspected
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        return "ASGI"
    try:
        parameters = inspect.signature(app).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    positional = [p for p in parameters if p.default is p.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return {2: "WSGI", 3: "ASGI"}.get(len(positional))


class MiddlewareBase(Generic[AppT]):
    """Options: see the README. ``tracker`` shares a ``Tracker``; the tracker options
    (credentials to ``filter_bots``) then must not be given."""

    kind: ClassVar[str] = ""  # the kind of app wrapped: "WSGI" or "ASGI"
    _built: tuple[Rules, Tracker]

    def __new__(cls, app: AppT, /, **options: Any) -> MiddlewareBase[AppT]:
        where = f"{cls.__module__}.{cls.__qualname__}"
        try:
            kind = app_kind(app)
            if kind is not None and kind != cls.kind:
                right = f"pirsch_middleware.{kind.lower()}.PirschMiddleware"
                raise TypeError(f"{where} wraps {cls.kind} apps, and {app!r} is an {kind} "
                                f"app: use {right}")
            built = build(options, where)
        except (TypeError, ValueError) as exc:
            instead = cls._misconfigured(app, exc)
            if instead is None:
                raise
            return instead  # type: ignore[no-any-return]  # not a cls: __init__ is skipped
        self = super().__new__(cls)
        self._built = built
        return self

    @classmethod
    def _misconfigured(cls, app: AppT, error: Exception) -> Any:
        """What to be instead of raising ``error`` (None: raise it)."""
        return None

    def __init__(  # the options themselves were checked and built in __new__
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
        enabled: bool | None = None,
        debug: bool | None = None,
        client_ip_header: str | None = None,
        scrub_query: Iterable[str] | str | None = None,
        before_send: Callable[[Outgoing], Outgoing | None] | None = None,
        track_frames: bool | None = None,
        exclude: Iterable[str | re.Pattern[str]] | str | None = None,
        default_excludes: bool | None = None,
        track_methods: Iterable[str] | None = None,
        track_content_types: Iterable[str] | None = DEFAULT_CONTENT_TYPES,
        should_track: Callable[[PageView], bool] | None = None,
    ) -> None:
        self.app = app
        self.rules, tracker = self._built
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        self.lifecycle = Lifecycle(tracker, self.rules, name)
        install_signal_flush()

    @property
    def tracker(self) -> Tracker:
        """The tracker this middleware queues to (``flush()``, ``stats()``)."""
        return self.lifecycle.tracker

    @tracker.setter
    def tracker(self, tracker: Tracker) -> None:
        self.lifecycle.tracker = tracker
