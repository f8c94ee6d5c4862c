"""The live page at the receiver's root: a static HTML page and script (``live.html``,
``live.js`` beside this file; no framework, nothing from elsewhere) fed by a stream of
server-sent events, one per accepted item, in the order they were accepted.

Events carry ids ``<epoch>.<count>``: a browser that reconnects sends the last one back
(``Last-Event-ID``) and gets only what it missed; after ``clear()`` or a restart the epoch
differs, and it is told to clear and gets everything again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from ._http import HTTPServer, Reply

if TYPE_CHECKING:
    from ._server import DevServer, Received

__all__ = ["PAGE_PATH", "SCRIPT_PATH", "STREAM_PATH", "page", "script", "stream"]

PAGE_PATH = "/"
SCRIPT_PATH = "/devserver/live.js"
STREAM_PATH = "/devserver/stream"

KEEPALIVE_SECONDS = 15.0  # a comment this often finds browsers that went away
RETRY_MS = 1000  # how soon a browser reconnects after the stream broke

# No inline script, nothing from another origin: what an app sent is shown as text only.
_POLICY = ("default-src 'none'; script-src 'self'; connect-src 'self'; "
           "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
           "frame-ancestors 'none'")


@cache
def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def _static(name: str, media_type: str) -> Reply:
    return Reply(200, body=_asset(name), headers={
        "Content-Type": media_type, "Cache-Control": "no-store",
        "Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff"})


def page() -> Reply:
    """``GET /``: the page."""
    return _static("live.html", "text/html; charset=utf-8")


def script() -> Reply:
    """``GET /devserver/live.js``: the page's script."""
    return _static("live.js", "text/javascript; charset=utf-8")


def stream(server: DevServer, httpd: HTTPServer, headers: Mapping[str, str]) -> Reply:
    """``GET /devserver/stream``: server-sent events until the browser or the server goes."""
    epoch, _, count = headers.get("last-event-id", "").partition(".")
    seen = int(count) if count.isdigit() else 0

    def run(write: Callable[[bytes], None]) -> None:
        nonlocal epoch, seen
        try:
            write(f"retry: {RETRY_MS}\n\n".encode())
            while True:
                news = server._wait_received(epoch, seen, httpd, KEEPALIVE_SECONDS)
                if news is None:
                    return
                current, entries = news
                if current != epoch:  # cleared, restarted, or a first visit: start afresh
                    epoch, seen = current, 0
                    write(_event("clear", f"{epoch}.0", {}))
                if not entries:
                    write(b": keep-alive\n\n")
                for entry in entries:
                    seen += 1
                    write(_event("item", f"{epoch}.{seen}", _entry(entry, seen)))
        except OSError:  # the browser went away
            return

    return Reply(200, headers={"Content-Type": "text/event-stream; charset=utf-8",
                               "Cache-Control": "no-store"}, stream=run)


def _entry(entry: Received, seq: int) -> dict[str, object]:
    at = datetime.fromtimestamp(entry.received_at, timezone.utc)
    return {"seq": seq, "kind": entry.kind, "item": entry.item,
            "received_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def _event(name: str, event_id: str, data: object) -> bytes:
    # json.dumps escapes line breaks, so one data line always holds the whole item.
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()
