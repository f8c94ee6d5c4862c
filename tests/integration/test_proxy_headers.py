"""X-Forwarded-Host (with PIRSCH_FORWARDED_HOST) and -Proto from a trusted proxy give the
page's public URL, under gunicorn and under uvicorn alike (uvicorn applies proxy headers
itself by default); a request-target without a leading slash never changes the host."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pirsch_middleware.devserver import DevServer

from .harness import FASTAPI, FLASK, free_port, gunicorn_argv, running, server_env, uvicorn_argv
from .scenario import FIREFOX, SAFARI, Visit, assert_received, expect, send

CATCHALL_ASGI = "tests.integration.catchall:asgi_app"


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
    env = server_env(receiver, flush_interval="60", trusted_proxies="127.0.0.1,10.0.0.0/8",
                     forwarded_host="true")
    visit = behind_proxy(forwarded_for)
    with running(argv, env, port, tmp_path / "server.log") as server:
        send(server.url, [visit])
        server.terminate()
        delivered = receiver.received
    assert_received(delivered, [visit], server.url)


def raw_get(port: int, target: str) -> bytes:
    """The status line of ``GET <target>`` sent as is (HTTP clients would fix the target)."""
    request = (f"GET {target} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: {FIREFOX}\r\n"
               "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.partition(b"\r\n")[0]


def test_uvicorn_request_target_without_slash_keeps_the_host(receiver: DevServer,
                                                              tmp_path: Path) -> None:
    """h11 accepts these targets and uvicorn hands them to the app as the path."""
    targets = {"@evil.com/a": "http://example.com/@evil.com/a",
               ".evil.com/b": "http://example.com/.evil.com/b",
               "abc": "http://example.com/abc",
               "http://evil.com/d": "http://example.com/d"}
    port = free_port()
    env = server_env(receiver, flush_interval="60")
    with running(uvicorn_argv(CATCHALL_ASGI, port), env, port,
                 tmp_path / "server.log") as server:
        for target in targets:
            assert raw_get(port, target) == b"HTTP/1.1 200 OK", target
        server.terminate()
    assert sorted(hit["url"] for hit in receiver.hits) == sorted(targets.values())
