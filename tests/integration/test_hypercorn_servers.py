"""The FastAPI example under hypercorn, with its asyncio and its trio worker: the
middleware runs on either event loop, and the lifespan shutdown flush (in a worker
thread, through anyio) delivers what waits at SIGTERM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pirsch_middleware.devserver import DevServer

from .harness import FASTAPI, free_port, running, server_env
from .scenario import assert_received, report_visit, send, standard_visits

pytest.importorskip("hypercorn")


@pytest.mark.parametrize("worker_class", ["asyncio", "trio"])
def test_fastapi_under_hypercorn(worker_class: str, receiver: DevServer,
                                 tmp_path: Path) -> None:
    if worker_class == "trio":
        pytest.importorskip("trio")
    port = free_port()
    argv = [sys.executable, "-m", "hypercorn", FASTAPI, "--bind", f"127.0.0.1:{port}",
            "--worker-class", worker_class, "--error-logfile", "-"]
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1")
    visits = [*standard_visits(), report_visit()]
    with running(argv, env, port, tmp_path / "server.log") as server:
        send(server.url, visits)
        assert receiver.received == []  # still queued: the timer is a minute away
        assert server.terminate() == 0
        delivered = receiver.received
    log = server.log()
    assert "Lifespan" not in log, log
    assert "Traceback" not in log, log
    assert_received(delivered, visits, server.url)
