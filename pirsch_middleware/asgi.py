"""Pirsch for any ASGI application (Starlette, FastAPI, Django's ASGI handler...)::

    from pirsch_middleware.asgi import PirschMiddleware
    app.add_middleware(PirschMiddleware)            # Starlette / FastAPI
    app = PirschMiddleware(app, access_key="pa_...")  # any ASGI app

For a WSGI application, use ``pirsch_middleware.wsgi.PirschMiddleware``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from ._lifecycle import ARRIVED, current, finish, respond
from ._middleware import MiddlewareBase
from ._registry import budget, flushed_by_lifespan, shutdown_flush, stopping

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

    A bad option raises at construction; where Starlette builds the middleware lazily
    (inside the first ASGI call, usually the lifespan startup), it fails the lifespan
    startup with its message instead, so the server stops at start-up.
    """

    kind = "ASGI"

    @classmethod
    def _misconfigured(cls, app: ASGIApp, error: Exception) -> Any:
        return _Misconfigured(app, error) if _in_event_loop() else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        lifecycle = self.lifecycle
        held = lifecycle.start(scope, True, scope.get("method") or "", scope.get("path") or "")
        if held is None:
            await self.app(scope, receive, send)
            return
        token = current.set(held)  # Visit.enter, for a held request
        if not held[ARRIVED]:  # no page view: only track_event() & co. may need it
            try:
                await self.app(scope, receive, send)
            finally:
                try:  # _lifecycle.leave, inline
                    current.reset(token)
                except ValueError:
                    pass
            return

        # Not a coroutine function: it hands back send's awaitable, which the app awaits
        # (ASGI's send is an awaitable callable), and saves a coroutine per message.
        def observe(message: Message) -> Awaitable[None]:
            if held[ARRIVED] and message.get("type") == "http.response.start":
                # The response starts: its status and content type.
                try:
                    status = message.get("status", 200)
                    if status.__class__ is not int:
                        try:
                            status = int(status)
                        except (TypeError, ValueError):
                            status = 0
                    content_type = ""
                    for name, value in message.get("headers") or ():
                        if len(name) == 12 and name.lower() == b"content-type":
                            content_type = bytes(value).decode("latin-1")
                            break
                    respond(held, status, content_type)
                except Exception:  # what no app should send (a header not of bytes):
                    finish(held)  # no page view; the server says what it thinks of it
            return send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            if held[ARRIVED]:
                finish(held)  # a failed request's events still go
            try:  # _lifecycle.leave, inline
                current.reset(token)
            except ValueError:
                pass
        if stopping.up and lifecycle.must_flush():  # in flight at SIGTERM, and
            await anyio.to_thread.run_sync(lifecycle.flush)  # no lifespan flush follows

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

    async def _flush(self) -> None:
        """Flush in a worker thread (anyio: asyncio and trio alike), so the server's
        other tasks run while it waits; bounded by the process's shutdown budget."""
        await anyio.to_thread.run_sync(functools.partial(shutdown_flush, self.tracker,
                                                         final=True))
        flushed_by_lifespan(self.tracker, started=False)


def _in_event_loop() -> bool:
    """Inside a running event loop (asyncio or trio): Starlette building its middleware
    stack in the first ASGI call, not an app wrapped at import."""
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
            return True
        except RuntimeError:
            pass
    return False


class _Misconfigured:
    """What a lazily built middleware with a bad option becomes: the lifespan startup
    fails with the error's message (and the error is raised after it, as Starlette's own
    startup failures are), so the server stops; without lifespan, requests pass through
    untouched and the error is logged at ERROR, once. A request never fails."""

    def __init__(self, app: ASGIApp, error: Exception) -> None:
        self.app = app
        self.error = error
        self.message = f"Pirsch is misconfigured: {error}"
        self.logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                logger.error("%s", self.message)
                await send({"type": "lifespan.startup.failed", "message": self.message})
                raise self.error
        elif not self.logged:
            self.logged = True
            logger.error("%s; requests pass through untracked", self.message)
        await self.app(scope, receive, send)
