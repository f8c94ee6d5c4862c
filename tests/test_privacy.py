"""Shaping what leaves the server: before_send on every kind of item, query scrubbing of
events, client_ip_header beyond the middlewares, and how the options are checked. The
rules for page views are rows of tests/test_request_table.py."""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pirsch_middleware import (
    DEFAULT_SCRUB_QUERY,
    Outgoing,
    Tracker,
    set_tracker,
    skip_tracking,
    track_event,
)
from pirsch_middleware._items import HIT, event, page_view, session, unpack
from pirsch_middleware._rules import NOT_MODIFIED, REASONS, UNTYPED
from pirsch_middleware._scrub import QueryScrubber
from pirsch_middleware.devserver import DevServer

from .conftest import TrackerFactory
from .requests_table import Case, serve

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
NAVIGATE = [(b"sec-fetch-dest", b"document"), (b"sec-fetch-mode", b"navigate")]
FETCH = [(b"sec-fetch-dest", b"empty"), (b"sec-fetch-mode", b"cors")]


def environ(path: str = "/page", query: str = "", peer: str = "203.0.113.7",
            **headers: str) -> dict[str, Any]:
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
           "HTTP_HOST": "example.com", "HTTP_USER_AGENT": UA, "REMOTE_ADDR": peer,
           "wsgi.url_scheme": "http"}
    env.update(headers)  # environ keys: HTTP_REFERER=...
    return env


# --- before_send ---------------------------------------------------------------------------

def test_before_send_sees_each_kind_with_its_fields(make_tracker: TrackerFactory,
                                                    receiver: DevServer) -> None:
    seen: list[Outgoing] = []

    def keep(item: Outgoing) -> Outgoing:
        seen.append(item)
        return item

    tracker = make_tracker(before_send=keep)
    request = environ(query="a=1", HTTP_REFERER="https://ref.example/",
                      HTTP_ACCEPT_LANGUAGE="de")
    tracker.put(page_view(request, at=1_700_000_000.5, title="Home", tags={"k": "v"}))
    tracker.put(event(request, "Signup", meta={"plan": "pro"}, duration=3,
                      at=1_700_000_001))
    tracker.put(session(request, at=1_700_000_002))
    assert tracker.flush(5)
    hit, signup, keep_alive = seen
    assert (hit.kind, hit.url, hit.ip, hit.user_agent, hit.referrer, hit.accept_language,
            hit.title, hit.tags) == ("hit", "http://example.com/page?a=1", "203.0.113.7", UA,
                                     "https://ref.example/", "de", "Home", {"k": "v"})
    assert hit.time == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc)
    assert hit.headers["accept-language"] == "de"
    assert (signup.kind, signup.event_name, signup.event_meta, signup.event_duration,
            signup.non_interactive) == ("event", "Signup", {"plan": "pro"}, 3, False)
    assert keep_alive.kind == "session"
    assert [len(receiver.hits), len(receiver.events), len(receiver.sessions)] == [1, 1, 1]
    assert receiver.hits[0]["time"] == "2023-11-14T22:13:20.500000Z"


def test_before_send_edits_events_and_sessions(make_tracker: TrackerFactory,
                                               receiver: DevServer) -> None:
    def edit(item: Outgoing) -> Outgoing:
        item.ip = "203.0.113.0"  # anonymised
        if item.kind == "event":
            item.event_name = item.event_name.upper()
            item.event_meta = {**item.event_meta, "edited": True}
            item.event_duration = 9
            item.time = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        return item

    tracker = make_tracker(before_send=edit)
    tracker.put(event(environ(), "signup", meta={"plan": "pro"}))
    tracker.put(session(environ()))
    assert tracker.flush(5)
    [sent] = receiver.events
    assert (sent["ip"], sent["event_name"], sent["event_meta"], sent["event_duration"],
            sent["time"]) == ("203.0.113.0", "SIGNUP", {"plan": "pro", "edited": True}, 9,
                              "2024-01-02T03:04:05.000000Z")
    assert receiver.sessions[0]["ip"] == "203.0.113.0"


def test_before_send_runs_in_the_flusher_not_on_the_request_path(
        make_tracker: TrackerFactory, receiver: DevServer) -> None:
    threads: list[str] = []

    def record(item: Outgoing) -> Outgoing:
        threads.append(threading.current_thread().name)
        return item

    tracker = make_tracker(before_send=record)
    serve("wsgi", Case("page"), {"tracker": tracker})
    assert threads == []  # the request is answered, and nothing was asked yet
    assert tracker.flush(5)
    assert threads == ["pirsch-flusher"]


def test_before_send_drops_count_as_filtered_and_stats_add_up(
        make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker(before_send=lambda item: None if item.kind == "event" else item)
    for n in range(3):
        tracker.put(page_view(environ(f"/{n}")))
        tracker.put(event(environ(f"/{n}"), "Click"))
    assert tracker.flush(5)
    stats = tracker.stats()
    assert (stats.queued, stats.sent, stats.filtered) == (6, 3, 3)
    assert stats.queued == stats.sent + stats.failed + stats.filtered + stats.dropped \
        + stats.waiting
    assert receiver.events == []


def _raises(item: Outgoing) -> Outgoing:
    raise RuntimeError("oops")


@pytest.mark.parametrize(("before_send", "logged"), [
    (_raises, "oops"),
    (lambda item: "yes", "not str"),
    (lambda item: Outgoing(**{**_fields(item), "ip": "not an address"}), "ip must be"),
    (lambda item: Outgoing(**{**_fields(item), "url": "/relative"}), "url must be"),
    (lambda item: Outgoing(**{**_fields(item), "title": 42}), "title must be"),
    (lambda item: Outgoing(**{**_fields(item), "time": 0}), "time must be"),
], ids=["raises", "returns a string", "bad ip", "relative url", "title not text",
        "time not a datetime"])
def test_a_failing_before_send_logs_once_a_minute_and_items_go_unchanged(
        before_send: Any, logged: str, make_tracker: TrackerFactory, receiver: DevServer,
        caplog: pytest.LogCaptureFixture) -> None:
    tracker = make_tracker(before_send=before_send)
    for n in range(3):
        tracker.put(page_view(environ(f"/{n}", query="token=abc"), title="T"))
    with caplog.at_level(logging.ERROR, logger="pirsch_middleware"):
        assert tracker.flush(5)
    assert [hit["url"] for hit in receiver.hits] == [
        f"http://example.com/{n}?token=REDACTED" for n in range(3)]  # scrubbed still
    assert [hit["title"] for hit in receiver.hits] == ["T", "T", "T"]
    errors = [r.getMessage() for r in caplog.records if "before_send" in r.getMessage()]
    assert len(errors) == 1, errors
    assert logged in errors[0]
    assert "sent unchanged" in errors[0]


def _fields(item: Outgoing) -> dict[str, Any]:
    return {name: getattr(item, name) for name in Outgoing.__dataclass_fields__}


# --- browser navigations and the stats --------------------------------------------------

@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_hit_that_is_no_navigation_is_filtered_and_its_events_still_go(
        kind: str, make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker()
    serve(kind, Case("htmx", headers=FETCH), {"tracker": tracker},
          during=lambda: track_event("Loaded"))
    serve(kind, Case("revalidated by fetch()", status=304, headers=FETCH),
          {"tracker": tracker}, during=lambda: track_event("Revalidated"))
    assert tracker.flush(5)
    assert receiver.hits == []
    assert [e["event_name"] for e in receiver.events] == ["Loaded", "Revalidated"]
    stats = tracker.stats()
    assert (stats.queued, stats.sent, stats.filtered) == (4, 2, 2)


def test_skip_tracking_holds_for_a_304(make_tracker: TrackerFactory,
                                       receiver: DevServer) -> None:
    tracker = make_tracker()
    serve("wsgi", Case("skipped 304", status=304, headers=NAVIGATE), {"tracker": tracker},
          during=skip_tracking)
    assert tracker.flush(5)
    assert receiver.hits == []
    assert tracker.stats().queued == 0  # decided on the request path: nothing queued


def test_the_navigation_reasons_are_named() -> None:
    assert {NOT_MODIFIED, UNTYPED, "not a navigation", "before_send"} <= set(REASONS)


@pytest.mark.parametrize(("unless", "headers", "sent"), [
    (None, {}, True),
    (None, {"HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_MODE": "navigate"}, True),
    (None, {"HTTP_SEC_FETCH_DEST": "empty", "HTTP_SEC_FETCH_MODE": "cors"}, False),
    (NOT_MODIFIED, {}, False),
    (NOT_MODIFIED, {"HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_MODE": "navigate"},
     True),
    (UNTYPED, {"HTTP_SEC_FETCH_DEST": "DOCUMENT", "HTTP_SEC_FETCH_MODE": "Navigate"}, True),
])
def test_queued_hits_are_kept_by_what_the_browser_says(
        unless: str | None, headers: dict[str, str], sent: bool,
        make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker()
    request = {**environ(), **headers}
    tracker.put(page_view(request, unless_navigation=unless))
    assert tracker.flush(5)
    assert len(receiver.hits) == int(sent)


def test_a_hit_that_is_a_page_only_as_a_navigation_keeps_its_title(
        make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker()
    request = {**environ(), "HTTP_SEC_FETCH_DEST": "document",
               "HTTP_SEC_FETCH_MODE": "navigate"}
    tracker.put(page_view(request, title="Cached", tags={"a": "b"},
                          unless_navigation=NOT_MODIFIED))
    assert tracker.flush(5)
    assert (receiver.hits[0]["title"], receiver.hits[0]["tags"]) == ("Cached", {"a": "b"})


# --- query scrubbing -----------------------------------------------------------------------

def test_event_urls_and_referrers_are_scrubbed(make_tracker: TrackerFactory,
                                               receiver: DevServer) -> None:
    tracker = make_tracker()
    tracker.put(event(environ("/reset", query="token=abc&step=2",
                              HTTP_REFERER="https://mail.example/?code=xyz"), "Reset"))
    assert tracker.flush(5)
    sent = receiver.events[0]
    assert sent["url"] == "http://example.com/reset?token=REDACTED&step=2"
    assert sent["referrer"] == "https://mail.example/?code=REDACTED"


@pytest.mark.parametrize(("url", "scrubbed"), [
    ("https://example.com/", "https://example.com/"),
    ("https://example.com/?", "https://example.com/?"),
    ("https://example.com/?token", "https://example.com/?token"),
    ("https://example.com/?token=a=b&x", "https://example.com/?token=REDACTED&x"),
    ("https://example.com/?a=1&&token=2", "https://example.com/?a=1&&token=REDACTED"),
    ("https://example.com/?to+ken=1&TOKEN=2", "https://example.com/?to+ken=1&TOKEN=REDACTED"),
    ("https://example.com/?token=1#frag", "https://example.com/?token=REDACTED#frag"),
    ("https://example.com/?tokens=1&my_token=2", "https://example.com/?tokens=1&my_token=2"),
    ("newsletter", "newsletter"),
])
def test_scrubbing_replaces_only_the_values_of_the_named_parameters(url: str,
                                                                   scrubbed: str) -> None:
    assert QueryScrubber(DEFAULT_SCRUB_QUERY)(url) == scrubbed


# --- client_ip_header beyond the middlewares ------------------------------------------------

def test_client_ip_header_for_track_event_with_a_request(make_tracker: TrackerFactory,
                                                         receiver: DevServer) -> None:
    tracker = make_tracker(client_ip_header="CF-Connecting-IP")
    set_tracker(tracker)
    track_event("Job done", request=environ(peer="127.0.0.1",
                                            HTTP_CF_CONNECTING_IP="198.51.100.40"))
    track_event("Forged", request=environ(HTTP_CF_CONNECTING_IP="6.6.6.6"))
    assert tracker.flush(5)
    assert [e["ip"] for e in receiver.events] == ["198.51.100.40", "203.0.113.7"]


# --- options -------------------------------------------------------------------------------

def test_options_from_the_environment() -> None:
    tracker = Tracker(environ={"PIRSCH_CLIENT_IP_HEADER": "True-Client-IP",
                               "PIRSCH_SCRUB_QUERY": "otp, Magic_Link",
                               "PIRSCH_TRACK_FRAMES": "yes"})
    options = tracker.options
    assert (options.client_ip_header, options.scrub_query, options.track_frames) == (
        "true-client-ip", frozenset({"otp", "magic_link"}), True)
    assert Tracker(environ={"PIRSCH_SCRUB_QUERY": "off"}).options.scrub_query == frozenset()


def test_defaults() -> None:
    options = Tracker(environ={}).options
    assert options.scrub_query == frozenset(DEFAULT_SCRUB_QUERY)
    assert (options.client_ip_header, options.before_send, options.track_frames) == (
        None, None, False)
    assert "scrub_query=" in repr(options)


@pytest.mark.parametrize(("options", "message"), [
    ({"client_ip_header": "CF Connecting IP"}, "client_ip_header must be the name of a header"),
    ({"client_ip_header": "CF_Connecting_IP"}, "with dashes"),
    ({"client_ip_header": 1}, "client_ip_header must be the name of a header"),
    ({"client_ip_header": "X-Forwarded-For"}, "read already"),
    ({"scrub_query": ["utm_source"]}, "'utm_source' is a parameter Pirsch reads"),
    ({"scrub_query": "token, ref"}, "'ref' is a parameter Pirsch reads"),
    ({"scrub_query": [1]}, "scrub_query must be a list of query parameter names"),
    ({"scrub_query": 5}, "scrub_query must be a list of query parameter names"),
    ({"before_send": "drop"}, "before_send must be a callable"),
    ({"track_frames": "sometimes"}, "track_frames must be true or false"),
])
def test_bad_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Tracker(environ={}, **options)


def test_a_plain_page_view_is_queued_without_an_extra_slot() -> None:
    """A queued hit's memory is mostly its tuples, sized in steps of 16 bytes: a plain
    page view is (kind, time, captured), and which request it was tells itself apart."""
    assert unpack(page_view(environ(), at=1.0))[:3] == (HIT, 1.0, False)
    assert len(page_view(environ())) == 3
    assert unpack(page_view({"type": "http", "headers": []}))[2] is True


def test_hit_extra_of_a_page_only_as_a_navigation() -> None:
    item = page_view(environ(), unless_navigation=UNTYPED)
    assert item[0] == HIT
    assert item[3] == (None, None, UNTYPED)


def test_the_readme_before_send_example_does_what_it_says() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## What a hit carries\n", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    given: dict[str, Any] = {}
    namespace: dict[str, Any] = {"app": object(),
                                 "PirschMiddleware": lambda app, **options: given.update(options)}
    exec(compile(code, "README.md", "exec"), namespace)
    before_send = given["before_send"]

    def item(url: str, ip: str = "203.0.113.7") -> Outgoing:
        return Outgoing(kind="hit", url=url, ip=ip, user_agent=UA,
                        time=datetime.now(timezone.utc))

    assert before_send(item("https://example.com/", "198.51.100.10")) is None
    assert before_send(item("https://example.com/users/123/posts?page=2&sort=new")).url == \
        "https://example.com/users/:id/posts?sort=new"
    assert before_send(item("https://example.com/list?page=3")).url == \
        "https://example.com/list"
