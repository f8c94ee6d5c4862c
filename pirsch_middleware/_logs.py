"""The package's logger, and messages that repeat at most once a minute.

A misconfigured or unreachable API would otherwise log once per request or per retry;
one line a minute per kind of trouble says the same without flooding the server's log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["EVERY", "Throttle", "logger"]

logger = logging.getLogger("pirsch_middleware")

EVERY = 60.0  # seconds between repeated messages of one kind


class Throttle:
    """Logs each kind of message (``key``) at most once every ``every`` seconds::

        throttle = Throttle()
        throttle.log(logging.WARNING, "full", "buffer is full (%d dropped)", dropped)
    """

    def __init__(self, every: float = EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: dict[str, float] = {}

    def ready(self, key: str) -> bool:
        """True (and counted as logged) when ``key`` was not logged in the last minute."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        self._last[key] = now
        return True

    def log(self, level: int, key: str, message: str, *args: object) -> bool:
        """Log ``message % args`` at ``level`` unless ``key`` was logged recently."""
        if not self.ready(key):
            return False
        logger.log(level, message, *args)
        return True
