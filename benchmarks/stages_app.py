"""An example app whose hits go only part of the way, for ``bench_servers --stages``.

The server imports ``benchmarks.stages_app:app``; ``BENCH_APP`` names the example
(``module:attribute``) and ``BENCH_STAGE`` how far a hit goes:

- ``request``: the request path only; each hit is dropped when queued.
- ``encode``: queued, read and encoded by the flusher, joined into batches, and handed
  to a sender in this process that accepts every batch (no network, no HTTP client).
- ``deliver``: everything, as in production.

The difference between two stages is what the later one costs under a real server. The
tracker is built here and made the process's default before the example is imported (the
examples take the default tracker). The ``encode`` stage sets the tracker's sender, a
private part, so that it counts no HTTP client's work: a transport (the public option)
would go through httpx's.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from pirsch_middleware import Tracker, set_tracker
from pirsch_middleware._items import Item
from pirsch_middleware._wire import Answer

STAGES = ("request", "encode", "deliver")
stage = os.environ.get("BENCH_STAGE", "deliver")
if stage not in STAGES:
    raise SystemExit(f"BENCH_STAGE must be one of {', '.join(STAGES)}, not {stage!r}")


class DroppingTracker(Tracker):
    """Takes items and keeps none: what the request path costs without the rest."""

    def put(self, item: Item) -> None:
        return None


class AcceptingSender:
    """Takes each batch's body as the sink would, without a connection."""

    name = "accepting"

    def post(self, path: str, body: bytes) -> Answer:
        return Answer(200, b"{}", None)

    def close(self) -> None:
        return None

    def abandon(self) -> None:
        return None


if stage == "request":
    set_tracker(DroppingTracker())
elif stage == "encode":
    tracker = Tracker()
    tracker._delivery._sender = AcceptingSender()  # type: ignore[assignment]
    set_tracker(tracker)

_module, _, _attribute = os.environ.get("BENCH_APP", "examples.wsgi.app:app").partition(":")
app: Any = getattr(importlib.import_module(_module), _attribute or "app")
