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


def cdn_visits() -> list[Visit]:
    """Cloudflare (173.245.48.0/20, trusted) in front of a proxy on this host (trusted)."""
    return [
        # through Cloudflare, then a proxy that overwrote X-Forwarded-For with the edge
        Visit("GET", "/welcome", {"user-agent": SAFARI, "x-forwarded-for": "173.245.48.5",
                                  "cf-connecting-ip": "198.51.100.40"},
              hit=expect("{base}/welcome", ip="198.51.100.40", user_agent=SAFARI)),
        # a visitor past Cloudflare, through the proxy that appended its address
        Visit("GET", "/welcome", {"user-agent": SAFARI, "x-forwarded-for": "203.0.113.60",
                                  "cf-connecting-ip": "6.6.6.6"},
              hit=expect("{base}/welcome", ip="203.0.113.60", user_agent=SAFARI)),
        # straight to the app from an untrusted address
        Visit("GET", "/welcome", {"user-agent": SAFARI, "cf-connecting-ip": "6.6.6.6"},
              peer="127.0.0.2", hit=expect("{base}/welcome", ip="127.0.0.2",
                                           user_agent=SAFARI)),
    ]


@pytest.mark.parametrize("server_kind", ["flask-gunicorn", "fastapi-uvicorn"])
def test_client_ip_header_only_through_trusted_proxies(server_kind: str, receiver: DevServer,
                                                        tmp_path: Path) -> None:
    """PIRSCH_CLIENT_IP_HEADER under real servers; uvicorn resolves X-Forwarded-For from
    127.0.0.1 itself, and the edge it finds is a trusted proxy."""
    port = free_port()
    argv = gunicorn_argv(FLASK, port) if server_kind == "flask-gunicorn" \
        else uvicorn_argv(FASTAPI, port)
    env = server_env(receiver, flush_interval="60", client_ip_header="CF-Connecting-IP",
                     trusted_proxies="127.0.0.1, 173.245.48.0/20")
    visits = cdn_visits()
    with running(argv, env, port, tmp_path / "server.log") as server:
        send(server.url, visits)
        server.terminate()
        delivered = receiver.received
    assert_received(delivered, visits, server.url)


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
