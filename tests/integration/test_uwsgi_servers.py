"""The Flask example under real uWSGI 2.0: whether the flusher thread runs (and the warning
appears only where it does not), and which signals stop uWSGI with the queue flushed.

What uWSGI 2.0 does with each signal (``core/master.c``; each case is tested below):
SIGINT stops it; SIGQUIT stops it, or reloads it under ``--die-on-term``; SIGTERM reloads
it, or stops it under ``--die-on-term``. Each stop ends the workers at once (``exit``
from a signal handler): an idle worker runs ``atexit``, where the tracker is flushed,
but a worker still serving a request is cut off, and uWSGI skips Python's exit hooks
for a busy worker. ``--hook-master-start "unix_signal:15 gracefully_kill_them_all"``
makes SIGTERM graceful: requests in flight finish, then the workers exit and flush.

``uwsgi`` is the one installed beside this Python (``pip install uwsgi``, which compiles
it), else on PATH; ``TEST_UWSGI=/path/to/uwsgi`` picks another build (one before 2.0.26
shows the starved flusher).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pirsch_middleware._tracker import STALL_GRACE
from pirsch_middleware.devserver import DevServer

from .harness import (
    FLASK,
    STOP_TIMEOUT,
    ServerProcess,
    client,
    free_port,
    running,
    server_env,
    terminate_during_request,
    wait_until,
)
from .scenario import FIREFOX, Visit, assert_received, expect, send, standard_visits

SHUTDOWN_TIMEOUT = 5.0  # the tracker's default
REAP = 2.0  # uWSGI's master looks at its dying workers once a second
THREADS_ON = "python threads support enabled"
THREADS_OFF = "Python threads support is disabled"
WARNED = ("Pirsch's flusher thread", "uWSGI runs without threads")  # now, and before
WOKE_LATE = "Pirsch's flusher thread woke"
SLOW = "slow page requested"  # the example's /slow logs it as it starts
GRACEFUL_SIGTERM = ["--hook-master-start", "unix_signal:15 gracefully_kill_them_all"]


def _find_uwsgi() -> str | None:
    chosen = os.environ.get("TEST_UWSGI")
    if chosen:
        return chosen
    beside = Path(sys.executable).with_name("uwsgi")
    return str(beside) if beside.is_file() else shutil.which("uwsgi")


UWSGI = _find_uwsgi()
pytestmark = pytest.mark.skipif(
    UWSGI is None, reason="uWSGI is not installed: pip install uwsgi (it compiles; it needs "
                          "gcc and Python's headers), or TEST_UWSGI=/path/to/uwsgi")


def uwsgi_argv(port: int, *options: str) -> list[str]:
    assert UWSGI is not None
    # uWSGI's HTTP socket closes every connection after its response: say so, so that
    # clients do not reuse it.
    return [UWSGI, "--http-socket", f"127.0.0.1:{port}", "--master", "--processes", "1",
            "--module", FLASK, "--need-app", "--add-header", "Connection: close", *options]


@contextlib.contextmanager
def serving(receiver: DevServer, log: Path, *options: str,
            flush_interval: float = 60) -> Iterator[ServerProcess]:
    """The Flask example under uWSGI with ``options``, its worker spawned; killed (with
    its group) on the way out. The default timer, a minute away, leaves everything
    queued until the server stops."""
    port = free_port()
    env = server_env(receiver, flush_interval=str(flush_interval),
                     trusted_proxies="127.0.0.1")
    with running(uwsgi_argv(port, *options), env, port, log) as server:
        server.wait_for_log("spawned uWSGI worker 1")
        yield server


def stop(server: ServerProcess, signum: signal.Signals) -> tuple[int, float]:
    """Send ``signum`` to uWSGI's master; its exit code, and seconds until it exited."""
    assert server.process is not None
    started = time.monotonic()
    server.process.send_signal(signum)
    try:
        code = server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"uWSGI still running {STOP_TIMEOUT} s after {signum.name}:\n"
                             f"{server.log()}") from None
    return code, time.monotonic() - started


def uwsgi_visits() -> list[Visit]:
    """The standard visits, but the untrusted peer's forges no X-Forwarded-Proto: uWSGI
    itself sets ``wsgi.url_scheme`` from that header, whoever sends it
    (``core/protocol.c``), so the scheme such a visitor asks for is uWSGI's to refuse."""
    return [dataclasses.replace(visit, headers={name: value for name, value in
                                                visit.headers.items()
                                                if name != "x-forwarded-proto"})
            if visit.peer != "127.0.0.1" else visit for visit in standard_visits()]


def _pause_until_warned(uwsgi: ServerProcess) -> list[Visit]:
    """Pauses longer than STALL_GRACE, each followed by one visit (the flusher may be
    halfway through a send, not on its timer, through the first), until the flusher
    says it woke late. The visits sent."""
    sent: list[Visit] = []
    for index in range(3):
        # nothing runs the flusher through the pause: waiting is pausing
        if wait_until(lambda: WOKE_LATE in uwsgi.log(), STALL_GRACE + 1):
            break
        path = f"/welcome?after_pause={index}"
        sent.append(Visit("GET", path, {"user-agent": FIREFOX}, hit=expect("{base}" + path)))
        send(uwsgi.url, sent[-1:])
    uwsgi.wait_for_log(WOKE_LATE, timeout=1)
    return sent


def flusher_warnings(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(text in line for text in WARNED)]


@pytest.mark.parametrize("options", [[], ["--enable-threads"]],
                         ids=["default", "enable-threads"])
def test_flusher_under_uwsgi_delivers_and_warns_only_when_it_cannot_run(
        options: list[str], receiver: DevServer, tmp_path: Path) -> None:
    """uWSGI says whether Python threads run. Where they do (2.0.26 and later always),
    the flusher delivers on its timer and nothing is logged. Where they do not (before
    2.0.26, ``TEST_UWSGI``), they run only while a request is served: a flusher waiting
    on its timer through a pause wakes at the next request, late, and says so. Either
    way, stopping delivers the rest."""
    with serving(receiver, tmp_path / "uwsgi.log", *options, flush_interval=0.2) as uwsgi:
        threads_on = THREADS_ON in uwsgi.log()
        assert threads_on != (THREADS_OFF in uwsgi.log()), uwsgi.log()
        visits = uwsgi_visits()
        send(uwsgi.url, visits)
        if threads_on:
            expected = sum(len(visit.expected(uwsgi.url)) for visit in visits)
            assert receiver.wait_for_items(expected, timeout=10), uwsgi.log()
        else:
            visits += _pause_until_warned(uwsgi)
        code, _ = stop(uwsgi, signal.SIGINT)
    warnings = flusher_warnings(uwsgi.log())
    assert len(warnings) == (0 if threads_on else 1), uwsgi.log()
    if warnings:
        assert "--enable-threads" in warnings[0]
    assert code == 0, uwsgi.log()
    assert_received(receiver.received, visits, uwsgi.url)


@pytest.mark.parametrize(("options", "signum"), [
    ([], signal.SIGINT),
    ([], signal.SIGQUIT),
    (["--die-on-term"], signal.SIGTERM),
], ids=["SIGINT", "SIGQUIT", "SIGTERM-die-on-term"])
def test_uwsgi_stops_with_the_queue_flushed(options: list[str], signum: signal.Signals,
                                            receiver: DevServer, tmp_path: Path) -> None:
    visits = uwsgi_visits()
    with serving(receiver, tmp_path / "uwsgi.log", *options) as uwsgi:
        send(uwsgi.url, visits)
        assert receiver.received == []  # still queued: the timer is a minute away
        code, seconds = stop(uwsgi, signum)
    assert code == 0, uwsgi.log()
    assert seconds < SHUTDOWN_TIMEOUT + REAP, uwsgi.log()
    assert_received(receiver.received, visits, uwsgi.url)


def test_graceful_sigterm_lets_a_request_in_flight_finish_and_flushes(
        receiver: DevServer, tmp_path: Path) -> None:
    visits = uwsgi_visits()
    path = "/slow?seconds=1"
    with serving(receiver, tmp_path / "uwsgi.log", *GRACEFUL_SIGTERM) as uwsgi:
        send(uwsgi.url, visits)
        status = terminate_during_request(uwsgi, path, {"user-agent": FIREFOX},
                                          started=SLOW)
    assert status == 200
    assert uwsgi.process is not None
    assert uwsgi.process.returncode == 0, uwsgi.log()
    slow = Visit("GET", path, {"user-agent": FIREFOX}, hit=expect("{base}" + path))
    assert_received(receiver.received, [*visits, slow], uwsgi.url)


def test_an_abrupt_stop_cuts_a_request_in_flight_and_loses_the_workers_queue(
        receiver: DevServer, tmp_path: Path) -> None:
    """Why the README recommends the graceful SIGTERM: uWSGI skips ``atexit`` in a busy
    worker, so what it queued is lost with the request it was serving."""
    answers: list[object] = []

    def visit(url: str) -> None:
        with client(url) as http:
            try:
                answers.append(http.get("/slow?seconds=2").status_code)
            except httpx.HTTPError as exc:
                answers.append(exc)

    with serving(receiver, tmp_path / "uwsgi.log", "--die-on-term") as uwsgi:
        send(uwsgi.url, uwsgi_visits())
        visitor = threading.Thread(target=visit, args=(uwsgi.url,))
        visitor.start()
        uwsgi.wait_for_log(SLOW)
        code, _ = stop(uwsgi, signal.SIGTERM)
        visitor.join(STOP_TIMEOUT)
    assert code == 0, uwsgi.log()
    assert len(answers) == 1
    assert isinstance(answers[0], httpx.HTTPError), answers  # no answer: cut off
    assert receiver.received == []


@pytest.mark.parametrize(("options", "signum"), [
    ([], signal.SIGTERM),
    (["--die-on-term"], signal.SIGQUIT),
], ids=["SIGTERM", "SIGQUIT-die-on-term"])
def test_these_signals_reload_uwsgi_and_the_old_worker_flushes(
        options: list[str], signum: signal.Signals, receiver: DevServer,
        tmp_path: Path) -> None:
    """Not a stop: a deploy that sends a plain SIGTERM waits for an exit that never
    comes (and then kills whatever the new worker has queued)."""
    visits = uwsgi_visits()
    with serving(receiver, tmp_path / "uwsgi.log", *options) as uwsgi:
        send(uwsgi.url, visits)
        assert uwsgi.process is not None
        uwsgi.process.send_signal(signum)
        uwsgi.wait_for_log("(RE)spawned uWSGI master process")
        uwsgi.wait_for_log("spawned uWSGI worker 1", count=2)
        assert uwsgi.process.poll() is None  # a reload, not a stop
        assert_received(receiver.received, visits, uwsgi.url)
        send(uwsgi.url, visits[:1])  # and the new worker serves
