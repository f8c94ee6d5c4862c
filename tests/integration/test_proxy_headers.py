"""X-Forwarded-Host and -Proto from a trusted proxy give the page's public URL, under
gunicorn and under uvicorn alike (uvicorn applies proxy headers itself by default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pirsch_middleware.devserver import DevServer

from .harness import FASTAPI, FLASK, free_port, gunicorn_argv, running, server_env, uvicorn_argv
from .scenario import SAFARI, Visit, assert_received, expect, send


def behind_proxy(forwarded_for: str) -> Visit:
    return Visit("GET", "/welcome?from=proxy",
                 {"user-agent": SAFARI, "x-forwarded-for": forwarded_for,
                  "x-forwarded-proto": "https", "x-forwarded-host": "www.example.com"},
                 hit=expect("https://www.example.com/welcome?from=proxy", ip="198.51.100.23",
                            user_agent=SAFARI))


@pytest.mark.parametrize("server_kind", ["flask-gunicorn", "fastapi-uvicorn"])
@pytest.mark.parametrize("forwarded_for", [
    "198.51.100.23",  # one proxy, on this host (nginx in front of the app server)
    "198.51.100.23, 10.0.0.5",  # a load balancer in 10/8, then the local proxy
])
def test_public_url_from_trusted_proxy_headers(server_kind: str, forwarded_for: str,
                                               receiver: DevServer, tmp_path: Path) -> None:
    port = free_port()
    argv = gunicorn_argv(FLASK, port) if server_kind == "flask-gunicorn" \
        else uvicorn_argv(FASTAPI, port)
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1,10.0.0.0/8")
    visit = behind_proxy(forwarded_for)
    with running(argv, env, port, tmp_path / "server.log") as server:
        send(server.url, [visit])
        server.terminate()
        delivered = receiver.received
    assert_received(delivered, [visit], server.url)
