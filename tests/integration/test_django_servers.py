"""The Django example under real servers: gunicorn (sync, gthread) and uvicorn (ASGI).

Django's ASGI handler refuses lifespan, so under uvicorn delivery at shutdown rests on the
SIGTERM handling of ``_shutdown``; a minute-long flush interval makes sure nothing is
delivered by the timer, so what arrives came from the shutdown flush.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pirsch_middleware.devserver import DevServer

from .harness import (
    DJANGO_ASGI,
    DJANGO_WSGI,
    client,
    free_port,
    gunicorn_argv,
    running,
    server_env,
    terminate_during_request,
    uvicorn_argv,
)
from .scenario import FIREFOX, assert_received, expect, project, send, standard_visits


@pytest.mark.parametrize(("worker_class", "threads"), [("sync", 1), ("gthread", 4)])
def test_django_under_gunicorn(worker_class: str, threads: int, receiver: DevServer,
                               tmp_path: Path) -> None:
    port = free_port()
    argv = gunicorn_argv(DJANGO_WSGI, port, worker_class=worker_class, threads=threads)
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1")
    visits = standard_visits()
    with running(argv, env, port, tmp_path / "server.log") as server:
        send(server.url, visits)
        assert receiver.received == []  # still queued: the timer is a minute away
        assert server.terminate() == 0
        delivered = receiver.received  # the server has exited: nothing more can arrive
    assert_received(delivered, visits, server.url)


def test_django_under_uvicorn_flushes_on_sigterm(receiver: DevServer,
                                                 tmp_path: Path) -> None:
    port = free_port()
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1")
    visits = standard_visits()
    with running(uvicorn_argv(DJANGO_ASGI, port), env, port,
                 tmp_path / "server.log") as server:
        send(server.url, visits)
        assert receiver.received == []
        server.terminate()  # uvicorn dies by SIGTERM, without running atexit
        delivered = receiver.received
    assert_received(delivered, visits, server.url)


def test_django_under_uvicorn_request_in_flight_at_sigterm(receiver: DevServer,
                                                           tmp_path: Path) -> None:
    """A request still running when SIGTERM arrives: uvicorn lets it finish, and its
    page view is delivered before the process exits."""
    port = free_port()
    env = server_env(receiver, flush_interval="60")
    with running(uvicorn_argv(DJANGO_ASGI, port), env, port,
                 tmp_path / "server.log") as server:
        with client(server.url) as http:
            assert http.get("/", headers={"user-agent": FIREFOX}).status_code == 200
        assert terminate_during_request(server, "/slow?seconds=2", {"user-agent": FIREFOX},
                                        started="slow page requested") == 200
        delivered = receiver.received
    assert [project(entry) for entry in delivered] == [
        ("hit", expect(f"{server.url}/")), ("hit", expect(f"{server.url}/slow?seconds=2"))]
