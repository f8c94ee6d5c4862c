"""Flushing when the server stops and ``atexit`` will not run.

uvicorn answers SIGTERM with a graceful shutdown, then restores the default handler and
raises SIGTERM again: the process dies without running ``atexit`` handlers. Apps with a
lifespan protocol are flushed at lifespan shutdown (see ``asgi``); for the others (Django
under ASGI, ``--lifespan off``) the middlewares install a SIGTERM handler when the app is
loaded. If a server's handler is already there (uvicorn and gunicorn workers load the app
after installing theirs), ours runs it first so the server begins its shutdown, flushes
what is queued, and marks the process as stopping, so requests still in flight flush
again as they finish, which the server waits for. If none is there yet (a single uvicorn
process loads the app first), uvicorn keeps ours as the one to restore and calls it after
its graceful shutdown: it flushes, then ends the process as SIGTERM would have.

All of these flushes share the process's one shutdown budget (``_registry``). Under
gevent a signal handler runs in the hub, where blocking is forbidden (gevent raises
``BlockingSwitchOutError`` and gunicorn's worker dies with what it held): there the
flush runs in a greenlet of its own, and the worker's exit (``atexit``) waits for the rest.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from ._logs import logger
from ._registry import shutdown_flush, stopping

__all__ = ["install_signal_flush"]


def install_signal_flush() -> None:
    """Chain a flushing SIGTERM handler in front of the current one (main thread only;
    once per handler). Called by the middlewares when the app is built."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return
    if getattr(previous, "_pirsch_flush", False) or previous in (signal.SIG_IGN, None):
        return
    server_handler = previous if callable(previous) else None

    def on_sigterm(signum: int, frame: FrameType | None) -> Any:
        stopping.set()
        if server_handler is not None:
            result = server_handler(signum, frame)  # the server starts its shutdown
            _where_blocking_is_allowed(shutdown_flush)
            return result

        # No handler yet: uvicorn loads the app first, then saves this as the handler to
        # restore, and calls it again once its graceful shutdown is done. Flush, then end
        # the process as the default action would have.
        def flush_and_die() -> None:
            shutdown_flush(final=True)
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

        _where_blocking_is_allowed(flush_and_die)
        return None

    on_sigterm._pirsch_flush = True  # type: ignore[attr-defined]
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        pass


def _where_blocking_is_allowed(work: Callable[[], Any]) -> None:
    """Run ``work`` now, or, inside gevent's hub, in a new greenlet."""
    gevent = sys.modules.get("gevent")
    if gevent is not None:
        try:
            in_hub = gevent.getcurrent() is gevent.get_hub()
        except Exception:  # a gevent that cannot say: block, as without gevent
            in_hub = False
        if in_hub:
            logger.debug("SIGTERM in gevent's hub: flushing in a greenlet")
            gevent.spawn(work)
            return
    work()
