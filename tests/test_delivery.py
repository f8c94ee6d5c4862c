"""Delivery to the loopback receiver: order, batching, outages, auth, rejections, fork,
bounds."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from typing import Any

import pytest

from pirsch_middleware import keep_alive, set_tracker, track_event
from pirsch_middleware._items import EVENT, HIT, SESSION, Item, event, page_view, session
from pirsch_middleware._registry import shutdown_flush
from pirsch_middleware._tracker import Tracker
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.wsgi import PirschMiddleware

from .conftest import TrackerFactory
from .requests_table import Case, run_wsgi, serve, wsgi_app

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def visit(n: int) -> dict[str, Any]:
    """A WSGI environ: page /n from visitor 203.0.113.n."""
    return {"REQUEST_METHOD": "GET", "PATH_INFO": f"/{n}", "QUERY_STRING": "",
            "HTTP_HOST": "example.com", "HTTP_USER_AGENT": UA,
            "REMOTE_ADDR": f"203.0.113.{n % 250 + 1}", "wsgi.url_scheme": "http"}


def item(kind: int, n: int, at: float | None = None) -> Item:
    """A queued item of ``kind`` for visit(n)."""
    if kind == EVENT:
        return event(visit(n), f"event {n}", meta={"n": n}, at=at)
    if kind == SESSION:
        return session(visit(n), at=at)
    return page_view(visit(n), at=at)


def paths(items: list[dict[str, Any]]) -> list[str]:
    return [i["url"].rsplit("/", 1)[1] for i in items]


def test_each_kind_goes_in_full_batches(make_tracker: TrackerFactory,
                                        receiver: DevServer) -> None:
    """Hit, event, hit, event... in the buffer: one POST of hits, then one of events, not
    one POST per item (each kind in time order, each hit before its own events)."""
    tracker = make_tracker()
    for n in range(40):
        tracker.put(item(HIT if n % 2 == 0 else EVENT, n))
    tracker.put(item(SESSION, 40))
    assert tracker.flush(5)
    assert [(r.path.rsplit("/", 2)[1], r.item_count) for r in receiver.requests] == [
        ("hit", 20), ("event", 20), ("session", 1)]
    assert paths(receiver.hits) == [str(n) for n in range(0, 40, 2)]
    assert paths(receiver.events) == [str(n) for n in range(1, 40, 2)]


def test_batches_are_cut_at_batch_size_per_kind(make_tracker: TrackerFactory,
                                                receiver: DevServer) -> None:
    tracker = make_tracker(batch_size=3)
    kinds = [HIT, HIT, EVENT, HIT, SESSION, SESSION, EVENT, EVENT, HIT, HIT, HIT, HIT, HIT]
    for n, kind in enumerate(kinds):
        tracker.put(item(kind, n))
    assert tracker.flush(5)
    assert [(r.path.rsplit("/", 2)[1], r.item_count) for r in receiver.requests] == [
        ("hit", 3), ("hit", 3), ("hit", 2), ("event", 3), ("session", 2)]


def test_burst_of_page_views_with_events_fills_the_batches(make_tracker: TrackerFactory,
                                                           receiver: DevServer) -> None:
    """1,000 page views that each track an event, to an API answering in 50 ms: at least
    100 items per POST on average, at the default batch size."""
    receiver.delay = 0.05
    tracker = make_tracker()
    app = PirschMiddleware(wsgi_app(Case("x"), during=lambda: track_event("Viewed")),
                           tracker=tracker)
    for n in range(1000):
        run_wsgi(app, visit(n))
    assert tracker.flush(30)
    assert (len(receiver.hits), len(receiver.events)) == (1000, 1000)
    per_post = 2000 / len(receiver.requests)
    print(f"{len(receiver.requests)} POSTs, {per_post:.0f} items per POST")
    assert per_post >= 100


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


@pytest.mark.parametrize("credentials", ["access key", "oauth"])
def test_refused_credentials_are_an_error_kept_and_retried(
        credentials: str, make_tracker: TrackerFactory, receiver: DevServer,
        caplog: pytest.LogCaptureFixture) -> None:
    """Waiting cannot heal refused credentials: an ERROR naming the setting to fix, once;
    the items are kept and retried at the capped interval; flush() does not wait."""
    if credentials == "oauth":
        tracker = make_tracker(client_id="x" * 32, client_secret="y" * 64, retry_cap=60)
        setting = "PIRSCH_CLIENT_SECRET"
    else:
        tracker = make_tracker(access_key="pa_revoked", retry_cap=60)
        setting = "PIRSCH_ACCESS_KEY"
    tracker.put(item(HIT, 1))
    started = time.monotonic()
    assert not tracker.flush(5)
    assert not tracker.flush(5)  # tried once more: still refused
    assert time.monotonic() - started < 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert setting in errors[0].getMessage()
    assert "y" * 64 not in caplog.text
    assert "pa_revoked" not in caplog.text
    assert tracker.stats().waiting == 1
    assert not shutdown_flush(tracker)  # at shutdown too: no deadline spent on it
    assert time.monotonic() - started < 3


def test_a_key_enabled_again_delivers_what_was_kept(make_tracker: TrackerFactory,
                                                   receiver: DevServer) -> None:
    tracker = make_tracker()
    receiver.fail_next(2, status=401)  # the key is refused twice, then accepted
    tracker.put(item(HIT, 1))
    assert not tracker.flush(5)
    tracker.put(item(HIT, 2))
    assert receiver.wait_for(lambda r: len(r.hits) == 2, timeout=5)  # retried at the cap
    assert paths(receiver.hits) == ["1", "2"]
    assert tracker.flush(5)


def test_max_queue_holds_at_every_instant(make_tracker: TrackerFactory,
                                          receiver: DevServer) -> None:
    """With the API down and the flusher draining meanwhile, what is held never exceeds
    max_queue, and every item refused is counted once."""
    receiver.refuse()
    tracker = make_tracker(max_queue=500, batch_size=50)
    offered, seen = 0, []
    pace = threading.Event()
    for burst in range(40):  # bursts of 60 that each wake the flusher, as traffic would
        for n in range(60):
            tracker.put(item(HIT, burst * 60 + n))
            offered += 1
        seen.append(tracker.stats().waiting)
        pace.wait(0.002)
    assert not tracker.flush(0.3)
    stats = tracker.stats()
    assert max([*seen, stats.waiting]) <= 500
    assert stats.waiting == 500
    assert stats.dropped == offered - 500
    assert stats.queued == offered


def test_stats_add_up(make_tracker: TrackerFactory, receiver: DevServer) -> None:
    """A waiting flush() is no item; after close() nothing is waiting and every item queued
    is sent, failed, filtered or dropped."""
    receiver.refuse()
    tracker = make_tracker()
    for n in range(5):
        tracker.put(item(HIT, n))
    assert not tracker.flush(0.2)
    assert tracker.stats().waiting == 5
    assert not tracker.close(timeout=0.2)
    stats = tracker.stats()
    assert (stats.queued, stats.waiting, stats.dropped, stats.sent) == (5, 0, 5, 0)
    assert stats.queued == stats.sent + stats.failed + stats.filtered + stats.dropped


def test_each_batch_is_in_time_order_after_an_outage(make_tracker: TrackerFactory,
                                                     receiver: DevServer) -> None:
    """Items drained at different times during an outage share a POST afterwards: a slow
    request decided after faster ones still takes its place by time."""
    receiver.refuse()
    tracker = make_tracker()
    now = time.time()
    for n in (10, 20, 30):
        tracker.put(item(HIT, n, at=now + n))
    assert not tracker.flush(0.2)  # drained, waiting for the API
    for n in (15, 40):
        tracker.put(item(HIT, n, at=now + n))
    assert not tracker.flush(0.2)
    receiver.resume()
    assert tracker.flush(5)
    assert [r.item_count for r in receiver.requests if r.status == 200] == [5]
    assert paths(receiver.hits) == ["10", "15", "20", "30", "40"]


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


def test_flush_waits_for_what_came_before_it_whatever_its_time(make_tracker: TrackerFactory,
                                                                 receiver: DevServer) -> None:
    """An item queued before flush() is waited for even when it is stamped later than the
    flush (the wall clock stepped back between them)."""
    receiver.delay = 0.3  # the batch is still on its way when a wrong flush would return
    tracker = make_tracker(timeout=5)
    tracker.put(item(HIT, 1, at=time.time() + 3600))
    assert tracker.flush(5)
    assert tracker.stats().sent == 1


def test_close_is_bounded_and_counts_what_is_left(make_tracker: TrackerFactory,
                                                  receiver: DevServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    receiver.refuse()
    tracker = make_tracker()
    for n in range(3):
        tracker.put(item(HIT, n))
    started = time.monotonic()
    assert not tracker.close(timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert (tracker.stats().dropped, tracker.stats().waiting) == (3, 0)
    assert "3 queued, 0 sent, 0 filtered, 0 failed, 3 dropped" in caplog.text
    tracker.put(item(HIT, 4))  # after close: dropped, not raised
    assert tracker.stats().dropped == 4


def test_shutdown_flushes_share_one_budget(make_tracker: TrackerFactory,
                                           receiver: DevServer) -> None:
    """A server flushes more than once as it stops (SIGTERM, lifespan, atexit): with the
    API hanging, all of them together wait shutdown_timeout, not each."""
    receiver.delay = 10
    tracker = make_tracker(shutdown_timeout=0.5)
    tracker.put(item(HIT, 1))
    started = time.monotonic()
    assert not shutdown_flush(tracker)
    assert not shutdown_flush(final=True)
    assert not tracker.close(0.5 - (time.monotonic() - started))
    assert time.monotonic() - started < 0.9


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
