"""Runtimes that have broken other analytics clients: gevent's monkey-patching, and
processes that starve threads (uWSGI before 2.0.26 without --enable-threads; the real
servers are in ``integration/test_uwsgi_servers.py``)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Iterator

import pytest

from pirsch_middleware import Tracker, _tracker
from pirsch_middleware._items import page_view
from pirsch_middleware._tracker import STALL_GRACE, WAKE_GRACE
from pirsch_middleware.devserver import DevServer

from .conftest import TrackerFactory

ENVIRON = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "example.com",
           "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux) Firefox/120.0",
           "REMOTE_ADDR": "203.0.113.1"}

GEVENT_SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    from pirsch_middleware import Tracker
    from pirsch_middleware._items import page_view
    from pirsch_middleware.devserver import DevServer

    with DevServer() as receiver:
        tracker = Tracker(base_url=receiver.base_url, access_key=receiver.access_key,
                          environ={})
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/g", "HTTP_HOST": "example.com",
                   "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux) Firefox/120.0",
                   "REMOTE_ADDR": "203.0.113.1"}
        for _ in range(5):
            tracker.put(page_view(environ))
        print(tracker.flush(10), len(receiver.hits))
""")


def test_flusher_delivers_under_gevent_monkey_patching() -> None:
    pytest.importorskip("gevent")
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split() == ["True", "5"], done.stderr[-2000:]


class SkewedClock:
    """The tracker module's ``time``: real time plus whatever the test ``advance``s."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SkewedClock:
    skewed = SkewedClock()
    monkeypatch.setattr(_tracker, "time", skewed)
    return skewed


@pytest.fixture
def starved(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Trackers whose flusher thread starts but never gets to run its loop, as in a
    process that gives threads no time (uWSGI before 2.0.26 without --enable-threads)."""
    released = threading.Event()
    monkeypatch.setattr(Tracker, "_run", lambda self: released.wait())
    yield
    released.set()


def starvation_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if "flusher thread" in r.getMessage() and r.levelno == logging.WARNING]


@pytest.mark.usefixtures("starved")
@pytest.mark.parametrize(("after", "warned"), [(2 + STALL_GRACE - 0.5, False),
                                               (2 + STALL_GRACE + 0.5, True)])
def test_a_flusher_that_never_ran_is_reported_by_a_later_page_view(
        after: float, warned: bool, clock: SkewedClock,
        caplog: pytest.LogCaptureFixture) -> None:
    """Past its first timer (flush_interval 2 s) and a grace period, the next item queued
    says so: nothing has been sent, and how to fix it under uWSGI."""
    tracker = Tracker(access_key="pa_x", base_url="http://127.0.0.1:9", environ={},
                      flush_interval=2)
    tracker.put(page_view(ENVIRON))
    clock.advance(after)
    tracker.put(page_view(ENVIRON))
    warnings = starvation_warnings(caplog)
    assert len(warnings) == (1 if warned else 0), warnings
    if warned:
        assert "has not run" in warnings[0]
        assert "2 item(s) waiting" in warnings[0]
        assert "--enable-threads" in warnings[0]
    tracker.close(0)


@pytest.mark.usefixtures("starved")
@pytest.mark.parametrize(("timeout", "warned"), [(0.0, False), (WAKE_GRACE + 0.2, True)])
def test_a_close_that_waited_in_vain_on_a_flusher_that_never_ran_says_why(
        timeout: float, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    tracker = Tracker(access_key="pa_x", base_url="http://127.0.0.1:9", environ={},
                      flush_interval=60)
    tracker.put(page_view(ENVIRON))
    assert tracker.close(timeout) is False  # nothing could be sent
    warnings = starvation_warnings(caplog)
    assert len(warnings) == (1 if warned else 0), warnings


class LateAlarm(threading.Event):
    """The flusher's first timed wait returns ``late`` seconds after it was due (by the
    tracker's clock), as for a thread that gets no time until a request comes."""

    def __init__(self, clock: SkewedClock, late: float) -> None:
        super().__init__()
        self.clock, self.late = clock, late
        self.answered = False

    def wait(self, timeout: float | None = None) -> bool:
        if self.answered or timeout is None:
            return super().wait(timeout)
        self.answered = True
        self.clock.advance(timeout + self.late)
        return False


@pytest.mark.parametrize(("late", "warned"), [(STALL_GRACE - 1, False),
                                              (STALL_GRACE + 2, True)])
def test_a_flusher_that_wakes_late_says_so(late: float, warned: bool, clock: SkewedClock,
                                           make_tracker: TrackerFactory,
                                           caplog: pytest.LogCaptureFixture) -> None:
    tracker = make_tracker(flush_interval=0.5)
    tracker._wake = LateAlarm(clock, late)
    tracker.put(page_view(ENVIRON))
    assert tracker.flush(10)
    warnings = starvation_warnings(caplog)
    assert len(warnings) == (1 if warned else 0), warnings
    if warned:
        assert f"woke {late:.0f} s late" in warnings[0]


@pytest.mark.parametrize("delivered_by", ["timer", "flush"])
def test_a_flusher_that_runs_is_never_reported(delivered_by: str, receiver: DevServer,
                                               make_tracker: TrackerFactory,
                                               monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Under uWSGI 2.0.31 as issue 14 saw it (no --enable-threads, and threads running):
    the check that read ``uwsgi.opt`` warned there that nothing would be sent."""
    uwsgi = types.ModuleType("uwsgi")
    uwsgi.opt = {"master": True, "processes": b"1"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uwsgi", uwsgi)
    tracker = make_tracker(flush_interval=0.05 if delivered_by == "timer" else 60)
    for _ in range(3):
        tracker.put(page_view(ENVIRON))
    if delivered_by == "timer":
        assert receiver.wait_for_items(3, timeout=10)
    else:
        assert tracker.flush(10)
    assert tracker.close(10)
    assert starvation_warnings(caplog) == []


BLOCKED_IMPORT = textwrap.dedent("""
    import sys
    for name in {blocked!r}:
        sys.modules[name] = None  # as if not installed
    try:
        import pirsch_middleware.{module}
    except ImportError as exc:
        print(exc)
""")


@pytest.mark.parametrize(("module", "blocked", "extra"), [
    ("django", ["django", "django.conf"], "pirsch-middleware[django]"),
    ("flask", ["flask"], "pirsch-middleware[flask]"),
])
def test_adapter_without_its_framework_names_the_extra(module: str, blocked: list[str],
                                                       extra: str) -> None:
    script = BLOCKED_IMPORT.format(blocked=blocked, module=module)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert extra in done.stdout, done.stderr[-2000:]


def test_core_imports_no_framework() -> None:
    script = ("import sys, pirsch_middleware, pirsch_middleware.wsgi, pirsch_middleware.asgi\n"
              "print(sorted(m for m in ('django', 'flask', 'starlette', 'fastapi')"
              " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
