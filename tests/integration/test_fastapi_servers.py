"""The FastAPI example under uvicorn: two worker processes, and a request in flight at
SIGTERM. FastAPI speaks lifespan, so pending items go at lifespan shutdown."""

from __future__ import annotations

from pathlib import Path

from pirsch_middleware.devserver import DevServer

from .harness import (
    FASTAPI,
    START_TIMEOUT,
    ServerProcess,
    client,
    free_port,
    running,
    server_env,
    terminate_during_request,
    uvicorn_argv,
)
from .scenario import (
    FIREFOX,
    Visit,
    assert_received,
    expect,
    report_visit,
    send,
    standard_visits,
)


def test_fastapi_under_uvicorn_two_workers(receiver: DevServer, tmp_path: Path) -> None:
    port = free_port()
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1")
    visits = [*standard_visits(), report_visit()]
    with running(uvicorn_argv(FASTAPI, port, workers=2), env, port,
                 tmp_path / "server.log") as server:
        server.wait_for_log("Application startup complete.", count=2)
        send(server.url, visits)
        assert receiver.received == []  # still queued: the timer is a minute away
        server.terminate()
        delivered = receiver.received
    assert server.log().count("Finished server process") == 2, server.log()
    assert_received(delivered, visits, server.url, one_process=False)


def test_fastapi_under_uvicorn_lifespan_off_flushes_on_sigterm(receiver: DevServer,
                                                               tmp_path: Path) -> None:
    """No lifespan events: delivery at shutdown rests on the SIGTERM handling."""
    port = free_port()
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1")
    visits = [*standard_visits(), report_visit()]
    with running(uvicorn_argv(FASTAPI, port, lifespan="off"), env, port,
                 tmp_path / "server.log") as server:
        send(server.url, visits)
        assert receiver.received == []
        server.terminate()
        delivered = receiver.received
    assert_received(delivered, visits, server.url)


def test_fastapi_under_uvicorn_request_in_flight_at_sigterm(receiver: DevServer,
                                                            tmp_path: Path) -> None:
    port = free_port()
    env = server_env(receiver, flush_interval="60")
    with running(uvicorn_argv(FASTAPI, port), env, port, tmp_path / "server.log") as server:
        send(server.url, [report_visit()])
        assert terminate_during_request(server, "/slow?seconds=2", {"user-agent": FIREFOX},
                                        started="slow page requested") == 200
        delivered = receiver.received
    slow = Visit("GET", "/slow?seconds=2", {"user-agent": FIREFOX},
                 hit=expect("{base}/slow?seconds=2"))
    assert_received(delivered, [report_visit(), slow], server.url)


BAD_PROXIES = "10.0.0.0/8;192.168.0.0/16"  # ';' where ',' was meant


def test_a_bad_option_stops_uvicorn_at_start_up(receiver: DevServer, tmp_path: Path) -> None:
    """Starlette builds middleware in the first ASGI call; the bad option must still stop
    the server at start-up with its message, not fail every request."""
    port = free_port()
    env = server_env(receiver, trusted_proxies=BAD_PROXIES)
    server = ServerProcess(uvicorn_argv(FASTAPI, port), env, port, tmp_path / "server.log")
    server.start()
    try:
        assert server.process is not None
        code = server.process.wait(START_TIMEOUT)
    finally:
        server.kill()
    log = server.log()
    assert code != 0, log
    assert "Application startup failed" in log, log
    assert f"trusted_proxies: '{BAD_PROXIES}' is not an IP address" in log, log


def test_a_bad_option_without_lifespan_fails_no_request(receiver: DevServer,
                                                        tmp_path: Path) -> None:
    port = free_port()
    env = server_env(receiver, trusted_proxies=BAD_PROXIES)
    with running(uvicorn_argv(FASTAPI, port, lifespan="off"), env, port,
                 tmp_path / "server.log") as server, client(server.url) as http:
        for _ in range(3):
            assert http.get("/", headers={"user-agent": FIREFOX}).status_code == 200
        server.terminate()
    log = server.log()
    assert log.count("Pirsch is misconfigured") == 1, log
    assert "requests pass through untracked" in log
    assert receiver.received == []
