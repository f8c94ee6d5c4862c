"""The HTTP shell: a threading server on loopback and a handler that reads a request, asks the
dev server for the reply, and writes it (or streams it, for the live page's event stream).

The handler knows nothing of endpoints; ``DevServer._respond`` decides everything.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = ["HTTPServer", "Reply", "Request", "error_reply", "json_reply"]


@dataclass
class Reply:
    status: int
    error: dict[str, Any] | None = None  # the documented error body, when one is sent
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    accepted: bool = False  # only then are the request's items recorded
    # Set for an endpoint that streams: called with a write function once the headers are
    # sent; it returns when the client or the server goes away.
    stream: Callable[[Callable[[bytes], None]], None] | None = None


def error_reply(status: int, *errors: str, validation: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
    """An answer with the API's documented error body: ``{"validation": {}, "error": []}``."""
    error: dict[str, Any] = {"validation": dict(validation or {}), "error": list(errors)}
    return Reply(status, error, json.dumps(error).encode(),
                 {"Content-Type": "application/json", **(headers or {})})


def json_reply(data: Any) -> Reply:
    return Reply(200, None, json.dumps(data).encode(), {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Request:
    """A request as read: ``headers`` with lower-cased names (repeats joined by ", "),
    ``problem`` the answer already decided when the body could not be read."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    problem: Reply | None = None


class _Application(Protocol):  # what the handler needs of DevServer
    max_body: int

    def _connected(self, conn: socket.socket, open: bool) -> None: ...

    def _respond(self, request: Request, httpd: HTTPServer) -> Reply | None: ...


class HTTPServer(ThreadingHTTPServer):  # daemon handler threads
    allow_reuse_address = True  # resume() binds the same port while old connections linger

    def __init__(self, address: tuple[str, int], app: _Application) -> None:
        self.app = app
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which can stall on a DNS lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.socket.getsockname()[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections as with the real API
    server_version, sys_version = "pirsch-devserver", ""
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm the body then waits
        # for the client's delayed ACK, 40 ms per answer on a kept-alive connection.
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app._connected(self.connection, True)

    def finish(self) -> None:
        self.server.app._connected(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: test output and the CLI's item lines stay readable

    def _dispatch(self) -> None:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        # Read every body, even one about to get a 404: left unread, it would be taken for the
        # next request on this kept-alive connection.
        read = self._read_body(headers, self.server.app.max_body)
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parts.query, headers,
                          read if isinstance(read, bytes) else b"",
                          read if isinstance(read, Reply) else None)
        reply = self.server.app._respond(request, self.server)
        if reply is None:  # no answer at all, like a server that crashed mid-request
            self.close_connection = True
            return
        self._send(reply)

    def _read_body(self, headers: Mapping[str, str], max_body: int) -> bytes | Reply:
        if "transfer-encoding" in headers:
            self.close_connection = True
            return error_reply(411, "send a Content-Length, not Transfer-Encoding")
        text = headers.get("content-length", "0")
        if not (text.isascii() and text.isdigit()):
            self.close_connection = True
            return error_reply(400, f"bad Content-Length {text!r}")
        length = int(text)
        if length <= max_body:
            return self.rfile.read(length)
        # Read it away: hanging up on unread data resets the connection and loses the 413.
        while length > 0 and (chunk := self.rfile.read(min(length, 65536))):
            length -= len(chunk)
        return error_reply(413, f"body of {int(text)} bytes is larger than max_body={max_body}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.stream is not None:
            # A stream has no length: its end is the end of the connection.
            self.close_connection = True
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                reply.stream(self._write)
            return
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
