"""The wire: batch POSTs over one persistent HTTP/1.1 connection, with the standard library.

httpx spends about 1,600 Python calls (0.5-1 ms of CPU) on a POST that a socket and
``http.client``'s response parser do in 0.1 ms; at 250 items a batch that was 2-4 µs of
a delivered hit's 12. ``Wire`` is all the flusher needs and no more: one keep-alive
connection to ``base_url`` (http or https, with a path prefix or not), TCP_NODELAY, the
request head and body in one write, the answer read in full so the connection stays
usable. httpx stays where it earns its keep: custom transports, proxies (``env_proxy``
says when one applies), oAuth token requests (``PirschAuth``), the statistics clients.

TLS verifies as httpx 0.28 does by default (``tls_context``): certifi's CA bundle, or
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set. Failures are raised as ``WireError``
named like the httpx exception the same failure raised before (``ConnectError``,
``ReadTimeout``...), so what the tracker logs has not changed.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import select
import socket
import ssl
import urllib.request
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["Answer", "Wire", "WireError", "env_proxy", "tls_context"]

DEFAULT_PORTS = {"http": 80, "https": 443}
# What a reused keep-alive connection that the server closed meanwhile looks like, as
# long as no byte of the answer came: the request can go again on a fresh connection.
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
         ConnectionAbortedError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


class Answer(NamedTuple):
    status: int
    content: bytes
    retry_after: str | None


class WireError(Exception):
    """A request that got no answer; ``kind`` is the name httpx gives the same failure
    (``ConnectError``, ``ConnectTimeout``, ``WriteError``, ``ReadTimeout``,
    ``RemoteProtocolError``...), ``str()`` the cause."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Stale(Exception):
    """A reused connection turned out to be closed before anything was answered."""


class Wire:
    """POSTs to ``base_url`` over one keep-alive connection, opened when first needed and
    again whenever the server closed it::

        wire = Wire("https://api.pirsch.io", timeout=5.0, user_agent="app/1.0")
        answer = wire.post("/api/v1/hit/batch", b"[...]", "Bearer pa_...")
        wire.close()

    ``timeout`` bounds the connect and each read and write, as httpx's ``timeout`` does.
    Not thread-safe: one flusher thread owns it.
    """

    def __init__(self, base_url: str, *, timeout: float, user_agent: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        port = parts.port
        self._port = port or DEFAULT_PORTS[parts.scheme]
        host = f"[{self._host}]" if ":" in self._host else self._host
        if port and port != DEFAULT_PORTS[parts.scheme]:
            host += f":{port}"
        self._prefix = parts.path.rstrip("/")
        self._head = f"HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n" \
                     "Content-Type: application/json\r\nAuthorization: "
        self._timeout = timeout
        self._context: ssl.SSLContext | None = None
        self._sock: socket.socket | None = None

    def post(self, path: str, body: bytes, authorization: str) -> Answer:
        """POST ``body`` (JSON) to ``path`` under the base URL; raises ``WireError``.

        A reused connection found closed (readable while idle), or failing as a closed one
        does before any byte of the answer, is replaced and the request sent once more:
        servers close idle keep-alive connections whenever they like.
        """
        data = (f"POST {self._prefix}{path} {self._head}{authorization}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        sock = self._sock
        if sock is not None and _readable(sock):  # closed by the server (or out of step)
            self.close()
            sock = None
        if sock is not None:
            try:
                return self._exchange(sock, data, reused=True)
            except _Stale:
                pass
        return self._exchange(self._connect(), data, reused=False)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def abandon(self) -> None:
        """In a forked child: drop the parent's connection without using or closing it
        (kept referenced forever, so that not even garbage collection closes it)."""
        if self._sock is not None:
            _abandoned.append(self._sock)
            self._sock = None

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self._host, self._port), self._timeout)
        except TimeoutError as exc:
            raise WireError("ConnectTimeout", str(exc) or "timed out") from None
        except OSError as exc:
            raise WireError("ConnectError", str(exc)) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls:
            try:
                context = self._context or self._load_context()
                sock = context.wrap_socket(sock, server_hostname=self._host)
            except WireError:
                sock.close()
                raise
            except TimeoutError as exc:
                sock.close()
                raise WireError("ConnectTimeout", str(exc) or "timed out") from None
            except OSError as exc:  # ssl.SSLError too: a certificate that does not verify
                sock.close()
                raise WireError("ConnectError", str(exc)) from None
        self._sock = sock
        return sock

    def _load_context(self) -> ssl.SSLContext:
        try:
            self._context = tls_context()
        except (OSError, ValueError) as exc:
            raise WireError("ConnectError", f"cannot load the CA certificates named by "
                            f"SSL_CERT_FILE / SSL_CERT_DIR: {exc}") from None
        return self._context

    def _exchange(self, sock: socket.socket, data: bytes, *, reused: bool) -> Answer:
        side, answered = "Write", False  # the httpx name's first half; a status line came
        try:
            sock.sendall(data)
            side = "Read"
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()
            answered = True
            content = response.read()
        except STALE as exc:
            self.close()
            if reused and not answered:
                raise _Stale from None
            if isinstance(exc, http.client.RemoteDisconnected):
                raise WireError("RemoteProtocolError",
                                "Server disconnected without sending a response.") from None
            raise WireError(side + "Error", str(exc)) from None
        except TimeoutError as exc:
            self.close()
            raise WireError(side + "Timeout", str(exc) or "timed out") from None
        except http.client.HTTPException as exc:  # a malformed or cut-off answer
            self.close()
            raise WireError("RemoteProtocolError", repr(exc)) from None
        except OSError as exc:
            self.close()
            raise WireError(side + "Error", str(exc)) from None
        status = response.status
        if response.will_close or status >= 500:
            # A 5xx may come from one bad backend behind a balancer: try a fresh connection.
            self.close()
        return Answer(status, content, response.getheader("retry-after"))


_abandoned: list[socket.socket] = []


def _readable(sock: socket.socket) -> bool:
    """An idle keep-alive connection with something to read was closed by the server
    (or sent what nothing asked for): either way it cannot carry the next request."""
    try:
        poll = getattr(select, "poll", None)  # not on Windows; select() cannot see fd >= 1024
        if poll is not None:
            poller = poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def tls_context() -> ssl.SSLContext:
    """Verification as httpx 0.28 sets it up by default (``httpx.create_ssl_context()``):
    the CA bundle named by ``SSL_CERT_FILE``, else the directory named by
    ``SSL_CERT_DIR``, else certifi's; hostname checked."""
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if cafile:
        context = ssl.create_default_context(cafile=cafile)
    elif capath:
        context = ssl.create_default_context(capath=capath)
    else:
        import certifi  # httpx's dependency: imported only for https

        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


def env_proxy(url: str) -> str | None:
    """The proxy httpx would send ``url`` through, or None: ``HTTP_PROXY``, ``HTTPS_PROXY``
    or ``ALL_PROXY`` (as ``urllib.request.getproxies()`` reads them, which on macOS and
    Windows falls back to the system's settings) unless ``NO_PROXY`` exempts the host,
    with httpx's reading of ``NO_PROXY`` (``httpx._utils.get_environment_proxies``):
    ``*``; ``host`` (the host and its subdomains); ``.host`` (its subdomains only); an IP
    address or ``localhost`` (that host); ``scheme://host[:port]``; a ``:port`` suffix."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"  # as httpx reads a bare host:port
    host = (parts.hostname or "").lower()
    try:
        port = _port(parts.scheme, parts.port)
        for entry in proxies.get("no", "").split(","):
            entry = entry.strip()
            if entry == "*":
                return None
            if entry and _exempts(_pattern(entry), parts.scheme, host, port):
                return None
    except ValueError:  # an entry httpx could not read either: leave it all to httpx
        return proxy
    return proxy


def _pattern(entry: str) -> str:
    """A ``NO_PROXY`` entry as the URL pattern httpx makes of it."""
    if "://" in entry:
        return entry
    address = entry.split("/")[0]
    if _is_ip(address, ipaddress.IPv4Address) or entry.lower() == "localhost":
        return f"all://{entry}"
    if _is_ip(address, ipaddress.IPv6Address):
        return f"all://[{entry}]"
    return f"all://*{entry}"


def _exempts(pattern: str, scheme: str, host: str, port: int | None) -> bool:
    """httpx's ``URLPattern(pattern).matches(url)``."""
    parts = urlsplit(pattern)
    if parts.scheme != "all" and parts.scheme != scheme:
        return False
    wanted = parts.hostname or ""
    if wanted.startswith("*."):
        if not host.endswith(wanted[1:]) or len(host) <= len(wanted) - 1:
            return False
    elif wanted.startswith("*"):
        if host != wanted[1:] and not host.endswith("." + wanted[1:]):
            return False
    elif wanted and host != wanted:
        return False
    wanted_port = _port(parts.scheme, parts.port)
    return wanted_port is None or wanted_port == port


def _port(scheme: str, port: int | None) -> int | None:
    """As httpx's ``URL.port``: None for the scheme's default port."""
    return None if port == DEFAULT_PORTS.get(scheme) else port


def _is_ip(text: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True
