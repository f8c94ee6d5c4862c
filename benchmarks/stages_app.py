"""An example app with the tracker cut short after one stage, for ``bench_servers --stages``.

The server imports ``benchmarks.stages_app:app``; ``BENCH_APP`` names the example
(``module:attribute``) and ``BENCH_STAGE`` how far a hit goes:

- ``request``: the request path only; each hit is dropped when queued.
- ``queue``: queued, then drained by the flusher thread and dropped unread.
- ``encode``: read and encoded by the flusher, and dropped instead of sent.
- ``deliver``: everything, as in production.

The difference between two stages is what the later one costs under a real server.
Benchmark-only: the tracker is patched here, never in the package.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from pirsch_middleware._tracker import _SENT, MARKER, Tracker

STAGES = ("request", "queue", "encode", "deliver")
stage = os.environ.get("BENCH_STAGE", "deliver")
if stage not in STAGES:
    raise SystemExit(f"BENCH_STAGE must be one of {', '.join(STAGES)}, not {stage!r}")


def _drop(self: Tracker, item: Any) -> None:
    return None


def _drain_unread(self: Tracker) -> None:
    inbox = self._inbox
    while inbox:
        item = inbox.popleft()
        if item[0] == MARKER:  # a flush() waiting: nothing is left to send
            item[4].set()


def _post_nowhere(self: Tracker, kind: int, bodies: list[bytes]) -> tuple[int, None]:
    return _SENT, None


if stage == "request":
    Tracker.put = _drop  # type: ignore[method-assign]
elif stage == "queue":
    Tracker._drain = _drain_unread  # type: ignore[method-assign]
elif stage == "encode":
    Tracker._post = _post_nowhere  # type: ignore[method-assign]

_module, _, _attribute = os.environ.get("BENCH_APP", "examples.wsgi.app:app").partition(":")
app: Any = getattr(importlib.import_module(_module), _attribute or "app")
