"""One request description, run through the WSGI and the ASGI middleware alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from pirsch_middleware import asgi, wsgi
from pirsch_middleware._context import current_request

BROWSER = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@dataclass
class Case:
    """A request as it reaches the server, and the response the app gives."""

    id: str
    path: bytes = b"/page"  # as on the wire: percent-encoded, root prefix included
    query: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    host: bytes | None = b"example.com"
    user_agent: bytes | None = BROWSER
    peer: str | None = "203.0.113.7"
    scheme: str = "http"
    root: str = ""  # SCRIPT_NAME / root_path
    method: str = "GET"
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"  # None: no Content-Type header
    raw_uri: bool = True  # does the WSGI server report the raw request URI?
    options: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] | None = field(default_factory=dict)  # None: no hit at all

    def all_headers(self) -> list[tuple[bytes, bytes]]:
        base = []
        if self.host is not None:
            base.append((b"host", self.host))
        if self.user_agent is not None:
            base.append((b"user-agent", self.user_agent))
        return base + self.headers

    def environ(self) -> dict[str, Any]:
        path = self.path
        root = self.root.encode("utf-8")
        if root and path.startswith(root):
            path = path[len(root):]
        env: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": root.decode("latin-1"),
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": self.query.decode("latin-1"),
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "443" if self.scheme == "https" else "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": self.scheme,
            "wsgi.version": (1, 0),
        }
        if self.raw_uri:
            env["RAW_URI"] = (self.path + (b"?" + self.query if self.query else b"")
                              ).decode("latin-1")
        if self.peer is not None:
            env["REMOTE_ADDR"] = self.peer
        for name, value in self.all_headers():
            key = "HTTP_" + name.decode().upper().replace("-", "_")
            text = value.decode("latin-1")
            env[key] = env[key] + "," + text if key in env else text  # as servers join
        return env

    def scope(self) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": self.scheme,
            "path": unquote_to_bytes(self.path).decode("utf-8", "replace"),
            "raw_path": self.path,
            "root_path": self.root,
            "query_string": self.query,
            "headers": self.all_headers(),
            "client": (self.peer, 50000) if self.peer is not None else None,
            "server": ("testserver", 443 if self.scheme == "https" else 80),
        }


Hook = Callable[[], None]


def wsgi_app(case: Case, during: Hook | None = None) -> wsgi.WSGIApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if during:
            during()
        headers = [("X-App", "yes")]
        if case.content_type is not None:
            headers.insert(0, ("Content-Type", case.content_type))
        start_response(f"{case.status} X", headers)
        return [b"<html>", b"body</html>"]

    return app


def asgi_app(case: Case, during: Hook | None = None) -> asgi.ASGIApp:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if during:
            during()
        headers = [(b"x-app", b"yes")]
        if case.content_type is not None:
            headers.insert(0, (b"content-type", case.content_type.encode()))
        await send({"type": "http.response.start", "status": case.status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": b"<html>", "more_body": True})
        await send({"type": "http.response.body", "body": b"body</html>"})

    return app


def run_wsgi(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return seen["status"], seen["headers"], body


def run_asgi(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def serve(kind: str, case: Case, middleware_options: dict[str, Any],
          during: Hook | None = None) -> None:
    """Run one request through the middleware of ``kind`` ("wsgi" or "asgi")."""
    if kind == "wsgi":
        run_wsgi(wsgi.PirschMiddleware(wsgi_app(case, during), **middleware_options),
                 case.environ())
    else:
        run_asgi(asgi.PirschMiddleware(asgi_app(case, during), **middleware_options),
                 case.scope())


def in_request() -> bool:
    return current_request() is not None
