"""Test what your app would send to Pirsch: no network, no thread, no credentials::

    from pirsch_middleware.testing import record

    def test_signup(client):
        with record() as pirsch:
            client.post("/signup")
        assert pirsch.events[0]["event_name"] == "Signup"

While ``record()`` lasts, every tracker of the process (those of the Django, Flask and
FastAPI integrations and of the WSGI and ASGI middlewares, however they were configured,
even without credentials or with tracking off) encodes what it is given at once and keeps
it in the recorder instead of sending it. A request without a user agent counts as a
browser's (and one from Starlette's test client, whose peer is no address, as one from
127.0.0.1), so the frameworks' test clients work as they come; a bot's user agent is still
filtered (``record(filter_bots=False)`` keeps bots too).

With pytest, installing the package is enough: the ``pirsch`` fixture is a recorder, empty
at the start of each test::

    def test_home(client, pirsch):
        client.get("/")
        assert pirsch.hits[0]["url"] == "http://testserver/"
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._items import Item
from ._logs import logger
from ._payload import Encoder
from ._registry import start_recording, stop_recording
from ._rules import REASONS
from ._tracker import Tracker
from ._watch import Watcher

__all__ = ["REASONS", "Filtered", "Recorder", "record"]


@dataclass(frozen=True)
class Filtered:
    """Something that was not sent: its kind ("hit", "event", "session"), its URL, and
    why (one of ``REASONS``: "method", "excluded path", "status", "content type",
    "should_track", "dont_track", "no response", "no user agent", "no valid client IP",
    "Do-Not-Track", "bot", "prefetch")."""

    kind: str
    url: str
    reason: str


@dataclass(eq=False)
class _Saved:
    enabled: bool
    watcher: Watcher | None
    encoder: Encoder


@dataclass
class Recorder:
    """What would have been sent, as the JSON items Pirsch gets (dicts), in order; and what
    was not, with why (``filtered``)."""

    filter_bots: bool = True
    hits: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    filtered: list[Filtered] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._saved: weakref.WeakKeyDictionary[Tracker, _Saved] = weakref.WeakKeyDictionary()

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.hits.clear()
        self.events.clear()
        self.sessions.clear()
        self.filtered.clear()

    # -- what the trackers report (a Watcher) -------------------------------------------

    def not_sent(self, kind: str, url: str, reason: str) -> None:
        self.filtered.append(Filtered(kind, url, reason))

    def sending(self, kind: str, item: dict[str, Any]) -> None:
        if not item.get("ip"):  # Starlette's test client has no address: "testclient"
            item["ip"] = "127.0.0.1"
        {"hit": self.hits, "event": self.events, "session": self.sessions}[kind].append(item)

    # -- taking trackers over (a _registry.Recording) ------------------------------------

    def attach(self, tracker: Tracker) -> None:
        options = tracker.options
        encoder = Encoder(options.trusted_proxies, respect_dnt=options.respect_dnt,
                          filter_bots=self.filter_bots, forwarded_host=options.forwarded_host,
                          client_ip_header=options.client_ip_header,
                          scrub_query=options.scrub_query, before_send=options.before_send,
                          track_frames=options.track_frames)
        encoder.visitors.test_clients = True
        encoder.watcher = self
        self._saved[tracker] = _Saved(tracker.enabled, tracker.watcher, encoder)
        tracker.enabled = True
        tracker.watcher = self

        def put(item: Item) -> None:  # synchronous: encoded and recorded on the spot
            try:
                encoder.encode(item)
            except Exception:
                logger.exception("Pirsch recorder: could not encode an item")

        tracker.put = put  # type: ignore[method-assign]  # this instance, while recording

    def detach(self, tracker: Tracker) -> None:
        saved = self._saved.pop(tracker, None)
        if saved is None:
            return
        tracker.enabled = saved.enabled
        tracker.watcher = saved.watcher
        del tracker.put  # the class's own put again


@contextmanager
def record(*, filter_bots: bool = True) -> Iterator[Recorder]:
    """Record, instead of sending, what every tracker of the process is given while the
    block runs (see the module's docstring)."""
    recorder = Recorder(filter_bots=filter_bots)
    start_recording(recorder)
    try:
        yield recorder
    finally:
        stop_recording(recorder)
