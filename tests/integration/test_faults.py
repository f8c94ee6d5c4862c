"""Faults while a load generator runs, under real servers: gunicorn's sync and gevent
workers (no ``--preload``) with the Flask example, and uvicorn with the FastAPI example.

Each scenario asserts exact counts (every page view answered 200 is delivered once, or
is counted as dropped or unsent by the tracker's last log line) and how long the server
took from SIGTERM to exit, and prints its figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pirsch_middleware.devserver import DevServer

from .harness import (
    FASTAPI,
    FLASK,
    Load,
    ServerProcess,
    client,
    free_port,
    gunicorn_argv,
    running,
    server_env,
    uvicorn_argv,
    wait_until,
)
from .scenario import FIREFOX

SERVERS: dict[str, Callable[[int], list[str]]] = {
    "gunicorn sync": lambda port: gunicorn_argv(FLASK, port),
    "gunicorn gevent": lambda port: gunicorn_argv(FLASK, port, worker_class="gevent"),
    "uvicorn": lambda port: uvicorn_argv(FASTAPI, port),
}
SHUTDOWN_TIMEOUT = 3.0
SERVER_WORK = 1.5  # what a server itself takes to stop once nothing is in flight
SUMMARY = re.compile(r"Pirsch (?:tracker closed|at shutdown): (\d+) queued, (\d+) sent, "
                     r"(\d+) filtered, (\d+) failed, (\d+) dropped, (\d+) unsent")


@dataclass
class Result:
    answered: list[str]  # page views answered 200
    delivered: list[str]  # hit URLs the receiver got
    seconds: float  # SIGTERM to exit
    log: str

    def summary(self) -> tuple[int, ...]:
        """(queued, sent, filtered, failed, dropped, unsent) from the last summary line."""
        found = SUMMARY.findall(self.log)
        assert found, f"no summary line in the server log:\n{self.log}"
        return tuple(int(n) for n in found[-1])

    def report(self, server: str, scenario: str) -> None:
        lost = len(self.answered) - len(self.delivered)
        print(f"\n[{server}] {scenario}: {len(self.answered)} page views, "
              f"{len(self.delivered)} delivered, {lost} not, shutdown {self.seconds:.2f} s")

    def delivered_once(self) -> None:
        assert len(self.delivered) == len(set(self.delivered)), "a hit arrived twice"
        assert set(self.delivered) <= set(self.answered), "a hit nobody asked for"


@contextmanager
def serving(server: str, receiver: DevServer, tmp_path: Path,
            **pirsch: str) -> Iterator[ServerProcess]:
    port = free_port()
    env = server_env(receiver, shutdown_timeout=str(SHUTDOWN_TIMEOUT), **pirsch)
    with running(SERVERS[server](port), env, port, tmp_path / "server.log") as process:
        # The port may be bound before a worker is ready: the load starts once one answers.
        with client(process.url) as http:
            assert http.get("/api/stats").status_code == 200  # JSON: no page view
        yield process


def stop(process: ServerProcess, receiver: DevServer, load: Load) -> Result:
    load.stop()
    started = time.monotonic()
    process.terminate()
    seconds = time.monotonic() - started
    return Result(list(load.answered), [hit["url"] for hit in receiver.hits], seconds,
                  process.log())


@pytest.mark.parametrize("server", SERVERS)
def test_api_down_then_up(server: str, receiver: DevServer, tmp_path: Path) -> None:
    with serving(server, receiver, tmp_path, flush_interval="0.2") as process, \
            Load(process.url, FIREFOX) as load:
        receiver.refuse()
        load.run_for(0.6)
        receiver.resume()
        load.run_for(0.4)
        load.stop()
        assert receiver.wait_for(lambda r: len(r.hits) >= len(load.answered), timeout=15)
        result = stop(process, receiver, load)
    result.report(server, "API down, then up")
    assert sorted(result.delivered) == sorted(result.answered)
    assert result.seconds < SERVER_WORK + 1


@pytest.mark.parametrize("server", SERVERS)
def test_api_hanging_at_shutdown(server: str, receiver: DevServer, tmp_path: Path) -> None:
    """Every flush on the way out shares one shutdown_timeout; what is left is counted."""
    with serving(server, receiver, tmp_path, flush_interval="60", timeout="30",
                 batch_size="5000") as process, Load(process.url, FIREFOX) as load:
        load.run_for(0.5)  # more than a default batch on a quiet machine: that would go
        receiver.delay = 60  # answers nothing in time
        result = stop(process, receiver, load)
    result.report(server, "API hanging at shutdown")
    assert result.answered
    assert result.delivered == []
    queued, sent, _, failed, dropped, unsent = result.summary()
    assert (queued, sent, failed, dropped + unsent) == (len(result.answered), 0, 0,
                                                        len(result.answered))
    assert SHUTDOWN_TIMEOUT - 0.5 < result.seconds < SHUTDOWN_TIMEOUT + SERVER_WORK


@pytest.mark.parametrize("server", SERVERS)
def test_rate_limited_with_retry_after(server: str, receiver: DevServer,
                                       tmp_path: Path) -> None:
    receiver.fail_next(3, status=429, retry_after=1)
    with serving(server, receiver, tmp_path, flush_interval="0.2") as process, \
            Load(process.url, FIREFOX) as load:
        load.run_for(0.8)
        load.stop()
        assert receiver.wait_for(lambda r: len(r.hits) >= len(load.answered), timeout=15)
        result = stop(process, receiver, load)
    result.report(server, "429 with Retry-After: 1")
    assert sorted(result.delivered) == sorted(result.answered)
    assert [r.status for r in receiver.requests][:3] == [429, 429, 429]


@pytest.mark.parametrize("server", SERVERS)
def test_wrong_access_key(server: str, receiver: DevServer, tmp_path: Path) -> None:
    """A refused key cannot heal by waiting: said at ERROR level, naming the setting, and
    no shutdown time is spent on it."""
    with serving(server, receiver, tmp_path, flush_interval="0.2",
                 access_key="pa_not_this_one") as process, \
            Load(process.url, FIREFOX) as load:
        load.run_for(0.5)
        load.stop()
        assert wait_until(lambda: "PIRSCH_ACCESS_KEY" in process.log(), 10), process.log()
        result = stop(process, receiver, load)
    result.report(server, "wrong access key")
    assert "Pirsch cannot deliver" in result.log
    assert result.delivered == []
    queued, sent, _, _, dropped, unsent = result.summary()
    assert (queued, sent, dropped + unsent) == (len(result.answered), 0,
                                                len(result.answered))
    assert result.seconds < SERVER_WORK + 0.5


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_during_a_backlog(server: str, receiver: DevServer, tmp_path: Path) -> None:
    with serving(server, receiver, tmp_path, flush_interval="60",
                 batch_size="5000") as process, Load(process.url, FIREFOX) as load:
        load.run_for(0.8)
        assert receiver.hits == []  # all of it waits: the timer is a minute away, and
        # a full batch (which would go at once) is more than this load sends
        result = stop(process, receiver, load)
    result.report(server, "SIGTERM during a backlog")
    assert sorted(result.delivered) == sorted(result.answered)
    result.delivered_once()
    assert result.seconds < SERVER_WORK + 1


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_with_requests_in_flight(server: str, receiver: DevServer,
                                         tmp_path: Path) -> None:
    """Requests still running at SIGTERM finish, and their page views are delivered (under
    gevent, the SIGTERM flush must not block the hub: that killed the worker)."""
    in_flight = 1 if server == "gunicorn sync" else 3  # one sync worker: one at a time
    paths = [f"/slow?seconds=1&n={n}" for n in range(in_flight)]
    statuses: list[int] = []

    def visit(path: str) -> None:
        with client(process.url) as http:
            statuses.append(http.get(path, headers={"user-agent": FIREFOX}).status_code)

    with serving(server, receiver, tmp_path, flush_interval="60") as process:
        queued = [f"/?queued={n}" for n in range(5)]  # waiting in the buffer at SIGTERM
        with client(process.url) as http:
            for path in queued:
                assert http.get(path, headers={"user-agent": FIREFOX}).status_code == 200
        visitors = [threading.Thread(target=visit, args=(path,)) for path in paths]
        for thread in visitors:
            thread.start()
        process.wait_for_log("slow page requested", count=in_flight)
        started = time.monotonic()
        code = process.terminate()
        seconds = time.monotonic() - started
        for thread in visitors:
            thread.join(10)
        log = process.log()
    print(f"\n[{server}] SIGTERM with {in_flight} request(s) in flight: exit {code}, "
          f"{len(receiver.hits)} delivered, shutdown {seconds:.2f} s")
    assert statuses == [200] * in_flight
    assert sorted(hit["url"] for hit in receiver.hits) == sorted(
        process.url + path for path in queued + paths)
    assert "BlockingSwitchOutError" not in log
    assert "exited with code 255" not in log
    if server.startswith("gunicorn"):
        assert code == 0  # uvicorn ends itself with SIGTERM, as its default handler would
