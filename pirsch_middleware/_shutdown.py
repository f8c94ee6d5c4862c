"""Flushing when the server stops and ``atexit`` will not run.

uvicorn answers SIGTERM with a graceful shutdown, then restores the default handler and
raises SIGTERM again: the process dies without running ``atexit`` handlers. Apps with a
lifespan protocol are flushed at lifespan shutdown (see ``asgi``); for the others (Django
under ASGI, ``--lifespan off``) the middlewares chain a SIGTERM handler in front of the
server's when the app is loaded. On SIGTERM it lets the server begin its shutdown, flushes
what is queued (bounded by ``shutdown_timeout``), and marks the process as stopping, so
requests still in flight flush again as they finish, which the server waits for. The
flush in the handler blocks the main thread (the event loop, under uvicorn) for at most
``shutdown_timeout``; only at shutdown.
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
    # Only in front of a server's own handler: with none (SIG_DFL) the process is not
    # ours to keep alive, and atexit or lifespan cover the servers that exit normally.
    if not callable(previous) or getattr(previous, "_pirsch_flush", False):
        return
    server_handler = previous

    def on_sigterm(signum: int, frame: FrameType | None) -> Any:
        stopping.set()
        result = server_handler(signum, frame)  # the server starts its graceful shutdown
        flush_all()
        return result

    on_sigterm._pirsch_flush = True  # type: ignore[attr-defined]
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        pass
