"""Who sees what is not sent, and why: debug mode's log, or a test's recorder.

A tracker's ``watcher`` is None while nobody watches, so the paths that would report to it
cost one attribute check, and only where something is not sent.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ._logs import logger

__all__ = ["DebugLog", "Watcher", "show_info_lines"]


class Watcher(Protocol):
    def not_sent(self, kind: str, url: str, reason: str) -> None:
        """A hit (or event, keep-alive) for ``url`` that is not sent, and why."""

    def sending(self, kind: str, item: dict[str, Any]) -> None:
        """An item about to be sent (JSON as a dict); debug mode only."""


class DebugLog:
    """``debug=True`` / ``PIRSCH_DEBUG=1``: one readable INFO line per item."""

    def not_sent(self, kind: str, url: str, reason: str) -> None:
        logger.info("Pirsch debug: no %s for %s: %s", kind, url or "?", reason)

    def sending(self, kind: str, item: dict[str, Any]) -> None:
        what = item.get("event_name") or item.get("title")
        logger.info("Pirsch debug: %s %s from %s%s", kind, item.get("url", ""),
                    item.get("ip", "?"), f" ({what})" if what else "")


def show_info_lines() -> None:
    """Debug mode's lines are INFO: make them visible even where the app configured no
    logging (gunicorn and uvicorn leave the root logger without handlers)."""
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
