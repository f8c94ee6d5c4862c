"""Delivery to the loopback receiver: order, outages, auth, rejections, fork, bounds."""

from __future__ import annotations

import contextvars
import os
import threading
import time
from typing import Any

import pytest

from pirsch_middleware import keep_alive, set_tracker, track_event
from pirsch_middleware._extract import capture
from pirsch_middleware._payload import EVENT, HIT, SESSION, Item
from pirsch_middleware._tracker import Tracker
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.wsgi import PirschMiddleware

from .conftest import TrackerFactory
from .requests_table import Case, run_wsgi, serve, wsgi_app

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def item(kind: int, n: int, at: float | None = None) -> Item:
    """A queued item as the middlewares make them: a page /n from visitor 203.0.113.n."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/{n}", "QUERY_STRING": "",
               "HTTP_HOST": "example.com", "HTTP_USER_AGENT": UA,
               "REMOTE_ADDR": f"203.0.113.{n % 250 + 1}", "wsgi.url_scheme": "http"}
    extra: Any = None
    if kind == EVENT:
        extra = (f"event {n}", {"n": n}, None, False)
    return (kind, time.time() if at is None else at, False, capture(False, environ), extra)


def paths(items: list[dict[str, Any]]) -> list[str]:
    return [i["url"].rsplit("/", 1)[1] for i in items]


def test_order_kept_across_kinds(make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker(batch_size=3)
    kinds = [HIT, HIT, EVENT, HIT, SESSION, SESSION, EVENT, EVENT, HIT, HIT, HIT, HIT, HIT]
    for n, kind in enumerate(kinds):
        tracker.put(item(kind, n))
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received] == [
        ("hit", "event", "session")[k] for k in kinds]
    # consecutive runs of one kind go together, split at batch_size
    assert [r.item_count for r in receiver.requests] == [2, 1, 1, 2, 2, 3, 2]
    assert [r.path.rsplit("/", 2)[1] for r in receiver.requests] == [
        "hit", "event", "hit", "session", "event", "hit", "hit"]


def test_overlapping_requests_are_sent_in_time_order(make_tracker: TrackerFactory,
                                                     receiver: DevServer) -> None:
    """A slow request decided after a fast one still goes first: Pirsch needs time order."""
    tracker = make_tracker()
    now = time.time()
    tracker.put(item(HIT, 2, at=now))
    tracker.put(item(HIT, 1, at=now - 1))
    tracker.put(item(EVENT, 3, at=now + 1))
    assert tracker.flush(5)
    assert [r.item.get("url", "").rsplit("/", 1)[1] for r in receiver.received] == [
        "1", "2", "3"]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_hit_comes_before_the_events_of_its_request(kind: str, make_tracker: TrackerFactory,
                                                    receiver: DevServer) -> None:
    tracker = make_tracker()

    def view() -> None:
        track_event("Signup", meta={"plan": "pro", "seats": 3, "trial": True}, duration=7)
        keep_alive()

    serve(kind, Case("page"), {"tracker": tracker}, during=view)
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received] == ["hit", "event", "session"]
    event = receiver.events[0]
    assert event["event_name"] == "Signup"
    assert event["event_meta"] == {"plan": "pro", "seats": 3, "trial": True}
    assert event["event_duration"] == 7
    assert event["url"] == "http://example.com/page"
    assert receiver.sessions[0]["ip"] == "203.0.113.7"


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_request_that_is_no_page_view_still_sends_its_events(
        kind: str, make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker()
    serve(kind, Case("form", method="POST", path=b"/signup", status=303),
          {"tracker": tracker}, during=lambda: track_event("Signup"))
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received] == ["event"]
    assert receiver.events[0]["url"] == "http://example.com/signup"


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_events_of_bots_and_dnt_visitors_are_not_sent(kind: str, make_tracker: TrackerFactory,
                                                      receiver: DevServer) -> None:
    tracker = make_tracker()
    serve(kind, Case("dnt", headers=[(b"dnt", b"1")]), {"tracker": tracker},
          during=lambda: track_event("Signup"))
    assert tracker.flush(5)
    assert receiver.received == []
    assert tracker.stats().filtered == 2


def test_events_from_threads_started_in_a_request(make_tracker: TrackerFactory,
                                                  receiver: DevServer) -> None:
    tracker = make_tracker()

    def view() -> None:
        ctx = contextvars.copy_context()
        worker = threading.Thread(target=ctx.run, args=(track_event, "From thread"))
        worker.start()
        worker.join()

    serve("wsgi", Case("page"), {"tracker": tracker}, during=view)
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received] == ["hit", "event"]


def test_outage_then_recovery_loses_and_duplicates_nothing(make_tracker: TrackerFactory,
                                                           receiver: DevServer) -> None:
    tracker = make_tracker(batch_size=10)
    receiver.refuse()
    for n in range(25):
        tracker.put(item(HIT, n))
    assert not tracker.flush(0.3)  # bounded while the API is down
    receiver.resume()
    receiver.fail_next(2, status=503)
    receiver.fail_next(1, status=429, retry_after="0")
    for n in range(25, 30):
        tracker.put(item(HIT, n))
    assert tracker.flush(10)
    assert paths(receiver.hits) == [str(n) for n in range(30)]
    stats = tracker.stats()
    assert (stats.sent, stats.failed, stats.dropped) == (30, 0, 0)
    assert stats.retried >= 4


def test_retry_after_is_honoured(make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker()
    receiver.fail_next(1, status=429, retry_after="1")
    tracker.put(item(HIT, 1))
    started = time.monotonic()
    assert tracker.flush(5)
    assert time.monotonic() - started >= 0.9
    assert len(receiver.hits) == 1


def test_oauth_token_fetched_once_and_renewed_on_401(make_tracker: TrackerFactory,
                                                     receiver: DevServer) -> None:
    tracker = make_tracker(client_id=receiver.client_id, client_secret=receiver.client_secret)
    tracker.put(item(HIT, 1))
    assert tracker.flush(5)
    tracker.put(item(HIT, 2))
    assert tracker.flush(5)
    assert receiver.token_requests == 1
    receiver.expire_tokens()
    tracker.put(item(HIT, 3))
    assert tracker.flush(5)
    assert receiver.token_requests == 2
    assert paths(receiver.hits) == ["1", "2", "3"]
    assert tracker.stats().retried == 0  # the 401 was answered by a new token, not a retry


def test_wrong_credentials_keep_items_and_log(make_tracker: TrackerFactory,
                                              receiver: DevServer,
                                              caplog: pytest.LogCaptureFixture) -> None:
    tracker = make_tracker(client_id="x" * 32, client_secret="y" * 64)
    tracker.put(item(HIT, 1))
    assert not tracker.flush(0.5)
    assert "check client_id and client_secret" in caplog.text
    assert "y" * 64 not in caplog.text
    assert tracker.stats().waiting == 1


def test_rejected_batch_does_not_block_the_rest(make_tracker: TrackerFactory,
                                                receiver: DevServer,
                                                caplog: pytest.LogCaptureFixture) -> None:
    receiver.reject_item(lambda kind, data: data.get("url", "").endswith("/13"))
    tracker = make_tracker(batch_size=8)
    for n in range(20):
        tracker.put(item(HIT, n))
    tracker.put(item(EVENT, 20))
    assert tracker.flush(5)
    assert paths(receiver.hits) == [str(n) for n in range(20) if n != 13]
    assert len(receiver.events) == 1
    stats = tracker.stats()
    assert (stats.sent, stats.failed) == (20, 1)
    assert "Pirsch rejected a hit" in caplog.text


def test_slow_api_flush_is_bounded(make_tracker: TrackerFactory, receiver: DevServer) -> None:
    receiver.delay = 2.0
    tracker = make_tracker(timeout=5)
    tracker.put(item(HIT, 1))
    started = time.monotonic()
    assert not tracker.flush(0.3)
    assert time.monotonic() - started < 1.0
    receiver.delay = 0.0
    assert tracker.flush(5)


def test_close_is_bounded_and_counts_what_is_left(make_tracker: TrackerFactory,
                                                  receiver: DevServer) -> None:
    receiver.refuse()
    tracker = make_tracker()
    for n in range(3):
        tracker.put(item(HIT, n))
    started = time.monotonic()
    assert not tracker.close(timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert tracker.stats().dropped == 3
    tracker.put(item(HIT, 4))  # after close: dropped, not raised
    assert tracker.stats().dropped == 4


def test_full_buffer_drops_newest_and_counts(make_tracker: TrackerFactory,
                                             receiver: DevServer,
                                             caplog: pytest.LogCaptureFixture) -> None:
    receiver.refuse()
    tracker = make_tracker(max_queue=5, batch_size=5)
    for n in range(8):
        tracker.put(item(HIT, n))
    assert tracker.stats().dropped == 3
    assert caplog.text.count("buffer is full") == 1  # at most once a minute
    receiver.resume()
    assert tracker.flush(5)
    assert paths(receiver.hits) == ["0", "1", "2", "3", "4"]


def test_bad_event_input_never_raises(make_tracker: TrackerFactory, receiver: DevServer,
                                      caplog: pytest.LogCaptureFixture) -> None:
    tracker = make_tracker()

    def view() -> None:
        track_event("")
        track_event(None)  # type: ignore[arg-type]
        track_event("Meta", meta=["not", "a", "dict"])  # type: ignore[arg-type]
        track_event("Dur", duration=-3)
        track_event("Objects", meta={"when": object(), "none": None, "nan": float("nan")})

    serve("wsgi", Case("page"), {"tracker": tracker}, during=view)
    assert tracker.flush(5)
    assert [e["event_name"] for e in receiver.events] == ["Meta", "Dur", "Objects"]
    assert "event_meta" not in receiver.events[0]
    assert "event_duration" not in receiver.events[1]
    assert set(receiver.events[2]["event_meta"]) == {"when", "nan"}
    assert "must be a non-empty string" in caplog.text


def test_track_event_outside_a_request(make_tracker: TrackerFactory, receiver: DevServer,
                                       caplog: pytest.LogCaptureFixture) -> None:
    tracker = make_tracker()
    set_tracker(tracker)
    track_event("Lost")
    assert "outside a request" in caplog.text
    track_event("Job done", request=Case("x").environ())
    track_event("Job done", request=Case("x").scope())
    track_event("Nope", request=42)
    assert tracker.flush(5)
    assert [e["event_name"] for e in receiver.events] == ["Job done", "Job done"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_sends_its_own_items_not_its_parents(make_tracker: TrackerFactory,
                                                          receiver: DevServer) -> None:
    tracker = make_tracker(flush_interval=60)  # the parent's item waits in the buffer
    tracker.put(item(HIT, 1))
    pid = os.fork()
    if pid == 0:  # the child: a fresh buffer and thread
        code = 1
        try:
            tracker.put(item(HIT, 2))
            ok = tracker.flush(5) and tracker.stats().sent == 1
            code = 0 if ok else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert paths(receiver.hits) == ["2"]
    assert tracker.flush(5)
    assert paths(receiver.hits) == ["2", "1"]


def test_disabled_without_credentials(caplog: pytest.LogCaptureFixture) -> None:
    tracker = Tracker(environ={})
    assert not tracker.enabled
    assert "tracking is off" in caplog.text
    app = PirschMiddleware(wsgi_app(Case("x")), tracker=tracker)
    assert run_wsgi(app, Case("x").environ())[2] == b"<html>body</html>"
    assert tracker.stats().queued == 0


def test_payload_too_large_shrinks_batches(make_tracker: TrackerFactory,
                                           caplog: pytest.LogCaptureFixture) -> None:
    with DevServer(max_batch=10) as small:
        tracker = make_tracker(base_url=small.base_url, access_key=small.access_key,
                               batch_size=40)
        for n in range(40):
            tracker.put(item(HIT, n))
        assert tracker.flush(5)
        for n in range(40, 60):
            tracker.put(item(HIT, n))
        assert tracker.flush(5)
        assert paths(small.hits) == [str(n) for n in range(60)]
        assert (tracker.stats().sent, tracker.stats().failed) == (60, 0)
        refused = [r for r in small.requests if r.status == 413]
        assert [r.item_count for r in refused] == [40, 20]  # then 10 at a time
        assert "too large" in caplog.text
