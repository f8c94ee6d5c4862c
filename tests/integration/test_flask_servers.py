"""The Flask example under gunicorn: one worker, and ``--preload`` with two workers, where
the app (and its tracker) is built in the master before the workers are forked."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pirsch_middleware.devserver import DevServer

from .harness import FLASK, free_port, gunicorn_argv, running, server_env
from .scenario import (
    DOWNLOAD,
    FIREFOX,
    SAFARI,
    Visit,
    assert_received,
    expect,
    send,
    standard_visits,
)


def test_flask_under_gunicorn(receiver: DevServer, tmp_path: Path) -> None:
    port = free_port()
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1")
    visits = standard_visits()
    with running(gunicorn_argv(FLASK, port), env, port, tmp_path / "server.log") as server:
        send(server.url, visits)
        assert receiver.received == []  # still queued: the timer is a minute away
        assert server.terminate() == 0
        delivered = receiver.received
    assert_received(delivered, visits, server.url)


def _slow_visit(index: int) -> Visit:
    path = f"/slow?seconds=0.3&n={index}"
    return Visit("GET", path, {"user-agent": SAFARI, "x-forwarded-for": f"198.51.100.{index}"},
                 hit=expect("{base}" + path, ip=f"198.51.100.{index}", user_agent=SAFARI))


def _worker_pids(access_log: Path) -> set[str]:
    """The pids of the workers that served /slow (gunicorn's %(p)s is "<pid>")."""
    return set(re.findall(r"^<(\d+)> /slow", access_log.read_text(), re.MULTILINE))


def test_flask_under_gunicorn_preload_two_workers(receiver: DevServer,
                                                  tmp_path: Path) -> None:
    """Each worker starts its own flusher after the fork (delivery by the timer, before
    any shutdown), every request arrives exactly once across the workers, and nothing is
    resent when they exit. Peers on loopback are trusted proxies by default."""
    port = free_port()
    access_log = tmp_path / "access.log"
    argv = gunicorn_argv(FLASK, port, workers=2, preload=True, access_log=access_log)
    env = server_env(receiver, flush_interval="0.2")
    visits = [
        Visit("GET", "/", {"user-agent": FIREFOX, "x-forwarded-for": "203.0.113.7"},
              hit=expect("{base}/", ip="203.0.113.7")),
        Visit("GET", "/download", {"user-agent": FIREFOX},
              hit=expect("{base}/download"),
              events=[expect("{base}/download", event_name="Download", event_meta=DOWNLOAD)]),
    ]
    with running(argv, env, port, tmp_path / "server.log") as server:
        server.wait_for_log("Booting worker with pid", count=2)
        send(server.url, visits)
        # Slow requests two at a time, so that each sync worker takes one, until the
        # access log shows both workers serving (bounded: a worker boots in milliseconds).
        for round_ in range(5):
            batch = [_slow_visit(round_ * 2 + i) for i in range(2)]
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda visit: send(server.url, [visit]), batch))
            visits.extend(batch)
            if len(_worker_pids(access_log)) == 2:
                break
        assert len(_worker_pids(access_log)) == 2, access_log.read_text()
        expected = sum(len(visit.expected(server.url)) for visit in visits)
        assert receiver.wait_for(lambda r: len(r.received) >= expected, timeout=10), \
            receiver.received  # delivered by each worker's own flusher thread
        assert server.terminate() == 0
        delivered = receiver.received
    assert_received(delivered, visits, server.url, one_process=False)
