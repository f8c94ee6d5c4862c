"""Pirsch for any ASGI application (Starlette, FastAPI, Django's ASGI handler...)::

    from pirsch_middleware.asgi import PirschMiddleware
    app.add_middleware(PirschMiddleware)            # Starlette / FastAPI
    app = PirschMiddleware(app, access_key="pa_...")  # any ASGI app
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from ._context import RequestState, _current
from ._extract import capture
from ._middleware import MiddlewareBase
from ._registry import budget, flushed_by_lifespan, shutdown_flush, stopping
from ._rules import Rules

__all__ = ["PirschMiddleware"]

logger = logging.getLogger("pirsch_middleware")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PirschMiddleware(MiddlewareBase[ASGIApp]):
    """Pure ASGI middleware: each page view becomes a Pirsch hit, queued off the request
    path. Non-HTTP scopes pass straight through; on lifespan shutdown the queue is
    flushed (bounded by ``shutdown_timeout``), and for apps that do not speak the
    lifespan protocol themselves (Django) the middleware answers it on their behalf.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        tracker = self.tracker
        if not tracker.enabled:
            await self.app(scope, receive, send)
            return
        rules = self.rules
        method = scope.get("method") or ""
        path = scope.get("path") or ""
        if not rules.is_candidate(method, path):
            # Cannot be a page view: only make track_event() work, touch nothing else.
            token = _current.set(RequestState(tracker, scope, True, 0.0, None,
                                                  False))
            try:
                await self.app(scope, receive, send)
            finally:
                _current.reset(token)
            return
        state = RequestState(tracker, scope, True, time.time(), capture(True, scope), True)

        async def observe(message: Message) -> None:
            if not state.decided and message["type"] == "http.response.start":
                state.decide(_is_page(rules, message, method, path, scope))
            await send(message)

        token = _current.set(state)
        try:
            await self.app(scope, receive, observe)
        finally:
            state.decide(False)  # no-op once decided; a failed request's events still go
            _current.reset(token)
        if stopping.is_set() and not flushed_by_lifespan(tracker):
            await self._flush(final=False)  # in flight at SIGTERM, and no lifespan follows

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        answered = False
        last_received = ""

        async def watch_receive() -> Message:
            nonlocal last_received
            message = await receive()
            last_received = message["type"]
            return message

        async def watch_send(message: Message) -> None:
            nonlocal answered
            if message["type"].startswith("lifespan.startup."):
                answered = True
                self._started(message["type"] == "lifespan.startup.complete")
            elif message["type"] == "lifespan.shutdown.complete":
                await self._flush()
            await send(message)

        try:
            await self.app(scope, watch_receive, watch_send)
        except Exception:
            if answered:
                raise
            logger.debug("the app does not handle lifespan; Pirsch answers it instead")
        if answered:
            return
        # The app does not speak lifespan (Django raises for it): speak it for the app so
        # the server still tells us when it shuts down.
        if last_received != "lifespan.startup":
            await receive()
        self._started(True)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await self._flush()
        await send({"type": "lifespan.shutdown.complete"})

    def _started(self, ok: bool) -> None:
        """A new run of the app: the last shutdown is over, and this one will flush at
        lifespan shutdown."""
        budget.reset()
        flushed_by_lifespan(self.tracker, started=ok and self.tracker.enabled)

    async def _flush(self, *, final: bool = True) -> None:
        """Flush in a worker thread (anyio: asyncio and trio alike), so the server's
        other tasks run while it waits; bounded by the process's shutdown budget."""
        flush = functools.partial(shutdown_flush, self.tracker, final=final)
        await anyio.to_thread.run_sync(flush)
        if final:
            flushed_by_lifespan(self.tracker, started=False)


def _is_page(rules: Rules, message: Message, method: str, path: str, scope: Scope) -> bool:
    content_type = b""
    for name, value in message.get("headers") or ():
        if len(name) == 12 and name.lower() == b"content-type":
            content_type = value
            break
    return rules.is_page_view(int(message.get("status", 200)),
                              content_type.decode("latin-1"), method, path, scope)
