"""A scripted loopback HTTP/1.1 server: each request is answered by a function, as
``httpx.MockTransport`` answers, but over a real keep-alive socket.

``ScriptedServer(answer).start()`` listens on 127.0.0.1 (a free port; TLS with ``tls``)
in threads, hands ``answer`` each request as an ``httpx.Request`` (absolute-form targets,
as a proxy gets them, keep their host) and writes back the ``httpx.Response`` it returns.
``answer`` may raise ``Drop`` to close the connection without a word, or block (a hanging
server) until ``stop()`` sets ``released``. ``requests`` and ``connections`` record what
arrived, ``open_connections`` what is still open; ``close_idle()`` closes every open
connection, as a server does with idle keep-alives.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Answer = Callable[[httpx.Request], httpx.Response]


class Drop(Exception):
    """Raised by an answer: close the connection without answering."""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A refused handshake or a dropped connection is what the tests script."""


class ScriptedServer:
    def __init__(self, answer: Answer, *, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self.connections = 0
        self.released = threading.Event()  # set by stop(): hanging answers return
        self._tls = tls
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def start(self) -> ScriptedServer:
        # A short poll interval: stop() waits for it, in every test's teardown.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self.close_idle()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def close_idle(self) -> None:
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                # Head and body go in two writes: without this, Nagle holds the body
                # until the client's delayed ACK (40 ms).
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if server._tls is not None:
                    try:
                        self.request = server._tls.wrap_socket(self.request, server_side=True)
                    except (OSError, ssl.SSLError):  # the client refused our certificate
                        self.request.close()
                        raise
                with server._lock:
                    server.connections += 1
                    server._open.add(self.request)
                super().setup()

            def finish(self) -> None:
                with server._lock:
                    server._open.discard(self.request)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                target = self.path
                url = target if "://" in target else f"http://{self.headers['Host']}{target}"
                request = httpx.Request(self.command, url, headers=list(self.headers.items()),
                                        content=body)
                server.requests.append(request)
                try:
                    response = server.answer(request)
                except Drop:
                    self.close_connection = True
                    self.request.shutdown(socket.SHUT_RDWR)
                    return
                content = response.content
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
