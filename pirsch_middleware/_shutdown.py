"""Flushing when the server stops and ``atexit`` will not run.

uvicorn answers SIGTERM with a graceful shutdown, then restores the default handler and
raises SIGTERM again: the process dies without running ``atexit`` handlers. Apps with a
lifespan protocol are flushed at lifespan shutdown (see ``asgi``); for the others (Django
under ASGI, ``--lifespan off``) the middlewares install a SIGTERM handler when the app is
loaded. If a server's handler is already there (uvicorn workers load the app after
installing theirs), ours runs it first so the server begins its shutdown, flushes what is
queued, and marks the process as stopping, so requests still in flight flush again as
they finish, which the server waits for. If none is there yet (a single uvicorn process
loads the app first), uvicorn keeps ours as the one to restore and calls it after its
graceful shutdown: it flushes, then ends the process as SIGTERM would have. Each flush
is bounded by ``shutdown_timeout``; it blocks the main thread only at shutdown.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from ._tracker import _trackers

__all__ = ["flush_all", "install_signal_flush", "stopping"]

logger = logging.getLogger("pirsch_middleware")

stopping = threading.Event()


def flush_all(timeout: float | None = None) -> bool:
    """Flush every running tracker; each bounded by ``timeout`` or its shutdown_timeout."""
    ok = True
    for tracker in list(_trackers):
        if tracker.enabled and not tracker._closed:
            limit = tracker.options.shutdown_timeout if timeout is None else timeout
            started = time.monotonic()
            if not tracker.flush(limit):
                ok = False
                logger.warning("Pirsch: flush at shutdown timed out after %.1f s",
                               time.monotonic() - started)
    return ok


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
            flush_all()
            return result
        # No handler yet: uvicorn loads the app first, then saves this as the handler to
        # restore, and calls it again once its graceful shutdown is done. Flush, then end
        # the process as the default action would have.
        flush_all()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
        return None

    on_sigterm._pirsch_flush = True  # type: ignore[attr-defined]
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        pass
