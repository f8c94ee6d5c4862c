"""The FastAPI example under uvicorn: two worker processes, and a request in flight at
SIGTERM. FastAPI speaks lifespan, so pending items go at lifespan shutdown."""

from __future__ import annotations

from pathlib import Path

from pirsch_middleware.devserver import DevServer

from .harness import (
    FASTAPI,
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
