"""An example app whose hits go only part of the way, for ``bench_servers --stages``.

The server imports ``benchmarks.stages_app:app``; ``BENCH_APP`` names the example
(``module:attribute``) and ``BENCH_STAGE`` how far a hit goes:

- ``request``: the request path only; each hit is dropped when queued.
- ``encode``: queued, read and encoded by the flusher, and handed to an in-process
  transport that accepts every batch (no network).
- ``deliver``: everything, as in production.

The difference between two stages is what the later one costs under a real server. The
tracker is built here, with public options only, and made the process's default before
the example is imported (the examples take the default tracker).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import httpx

from pirsch_middleware import Tracker, set_tracker
from pirsch_middleware._items import Item

STAGES = ("request", "encode", "deliver")
stage = os.environ.get("BENCH_STAGE", "deliver")
if stage not in STAGES:
    raise SystemExit(f"BENCH_STAGE must be one of {', '.join(STAGES)}, not {stage!r}")


class DroppingTracker(Tracker):
    """Takes items and keeps none: what the request path costs without the rest."""

    def put(self, item: Item) -> None:
        return None


def accept(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


if stage == "request":
    set_tracker(DroppingTracker())
elif stage == "encode":
    set_tracker(Tracker(transport=httpx.MockTransport(accept)))

_module, _, _attribute = os.environ.get("BENCH_APP", "examples.wsgi.app:app").partition(":")
app: Any = getattr(importlib.import_module(_module), _attribute or "app")
