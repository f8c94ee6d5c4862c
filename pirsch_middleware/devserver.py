"""A local, strict stand-in for Pirsch's write API, for tests, demos and users' own test suites.

It speaks the endpoints a tracker writes to (``/api/v1/token``, ``/hit``, ``/event``, ``/session``
and their ``/batch`` forms) over real HTTP on loopback, and rejects what the real API would get
wrong silently: unknown fields, missing ``time`` in batches, items out of time order, bools sent
as 0/1. Failures, slowness, token expiry and outages can be injected::

    from pirsch_middleware.devserver import DevServer

    with DevServer() as server:  # 127.0.0.1 on a free port
        post_some_hits(base_url=server.base_url, access_key=server.access_key)
        assert server.wait_for_items(2)
        assert server.hits[0]["url"] == "https://example.com/"
        server.fail_next(status=503, retry_after=1)  # the next write request fails

From a shell: ``python -m pirsch_middleware.devserver --port 8765`` prints each item it accepts.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import re
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from ._auth import ACCESS_KEY_PREFIX, API_PREFIX, parse_rfc3339

__all__ = ["DevServer", "Received", "RecordedRequest", "main"]

Kind = Literal["hit", "event", "session"]
Check = Callable[[Any], "str | None"]  # a field validator: the problem with a value, or None

_TOKEN_PATH = API_PREFIX + "/token"
_VIEW_PATHS = ("/devserver/received", API_PREFIX + "/devserver/received")
_ENDPOINTS: dict[str, tuple[Kind, bool]] = {
    f"{API_PREFIX}/{kind}{suffix}": (kind, bool(suffix))
    for kind in ("hit", "event", "session")
    for suffix in ("", "/batch")
}


def _is(test: Callable[[Any], bool], problem: str) -> Check:
    return lambda value: None if test(value) else problem


def _is_url(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() or not c.isprintable() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != -1
    except ValueError:  # a port that is not a number, a broken [IPv6] host
        return False


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")
        return True
    except ValueError:
        return False


# parse_rfc3339 is lenient (no zone, a space); RFC 3339 itself demands the 'T' and a zone.
_RFC3339_SHAPE = re.compile(r"\d{4}-\d\d-\d\d[Tt]\S+(?:[Zz]|[+-]\d\d:\d\d)")


def _is_time(value: Any) -> bool:
    try:
        return bool(isinstance(value, str) and _RFC3339_SHAPE.fullmatch(value)
                    and parse_rfc3339(value))
    except ValueError:  # 2024-13-45 and the like
        return False


_STRING = _is(lambda v: isinstance(v, str), "must be a string")
_NON_EMPTY = _is(lambda v: isinstance(v, str) and bool(v.strip()), "must be a non-empty string")
_BOOL = _is(lambda v: isinstance(v, bool), "must be true or false (not 0/1 or a string)")
_COUNT = _is(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
             "must be a non-negative integer")
_URL = _is(_is_url, "must be an absolute http(s) URL with a host and no whitespace")
_IP = _is(_is_ip, "must be an IPv4 or IPv6 address (no port, no brackets)")
_TIME = _is(_is_time, "must be an RFC 3339 time with a zone, such as 2024-01-02T15:04:05Z")
_TAGS = _is(lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            "must be an object of string values")
_META = _is(lambda v: isinstance(v, dict)  # bool is an int, so booleans pass too
            and all(isinstance(x, (str, int, float)) for x in v.values()),
            "must be a flat object of strings, numbers and booleans")

# The one table of what each kind accepts: field -> (validator, required). Anything else is
# an "unknown field", so a client's typo fails loudly instead of being dropped by the API.
_CLIENT_HINTS = ("sec_ch_ua", "sec_ch_ua_mobile", "sec_ch_ua_platform",
                 "sec_ch_ua_platform_version", "sec_ch_width", "sec_ch_viewport_width")
_SESSION_FIELDS: dict[str, tuple[Check, bool]] = {
    "ip": (_IP, True), "user_agent": (_NON_EMPTY, True), "time": (_TIME, False),
    "dnt": (_STRING, False), **{name: (_STRING, False) for name in _CLIENT_HINTS},
}
_HIT_FIELDS = {
    **_SESSION_FIELDS, "url": (_URL, True), "accept_language": (_STRING, False),
    "title": (_STRING, False), "referrer": (_STRING, False), "screen_width": (_COUNT, False),
    "screen_height": (_COUNT, False), "tags": (_TAGS, False), "disable_bot_filter": (_BOOL, False),
}
_EVENT_FIELDS = {
    **_HIT_FIELDS, "event_name": (_NON_EMPTY, True), "event_duration": (_COUNT, False),
    "event_meta": (_META, False), "non_interactive": (_BOOL, False),
}
_FIELDS: dict[Kind, dict[str, tuple[Check, bool]]] = {
    "hit": _HIT_FIELDS, "event": _EVENT_FIELDS, "session": _SESSION_FIELDS,
}


def _validate(kind: Kind, items: list[Any], batch: bool,
              reject: Callable[[str, dict[str, Any]], bool] | None) -> dict[str, str]:
    """Validation errors keyed ``"<index>.<field>"`` (``"<index>"`` for the whole item)."""
    fields = _FIELDS[kind]
    errors: dict[str, str] = {}
    previous: tuple[int, datetime] | None = None
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[str(index)] = "must be a JSON object"
            continue
        found = {name: fields[name][0](value) if name in fields else "unknown field"
                 for name, value in item.items()}
        for name, (_, required) in fields.items():
            if name not in item and (required or (batch and name == "time")):
                found[name] = "required in batch items" if name == "time" else "required"
        problems = {name: problem for name, problem in found.items() if problem}
        if "time" in item and "time" not in problems:
            when = parse_rfc3339(item["time"])
            if previous is not None and when < previous[1]:
                problems["time"] = f"items must be in time order (earlier than item {previous[0]})"
            previous = (index, when)
        errors.update({f"{index}.{name}": problem for name, problem in problems.items()})
        if not problems and reject is not None and reject(kind, item):
            errors[str(index)] = "rejected by reject_item()"
    return errors


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    """The decoded body, or the reason it is not JSON as Go's decoder would read it."""
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key in object")
        return dict(pairs)

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=unique,
                          parse_constant=no_constant), None
    except ValueError as exc:
        return None, f"malformed JSON: {exc}"


def _content_type_problem(headers: Mapping[str, str]) -> str | None:
    media, _, params = headers.get("content-type", "").partition(";")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
    if media.strip().lower() != "application/json" or (
            charset and charset.group(1).lower() not in ("utf-8", "utf8")):
        return f"Content-Type must be application/json, not {headers.get('content-type')!r}"
    if headers.get("content-encoding", "identity").lower() != "identity":
        return f"Content-Encoding {headers['content-encoding']!r} is not supported"
    return None


@dataclass
class _Reply:
    status: int
    error: dict[str, Any] | None = None  # the documented error body, when one is sent
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    accepted: bool = False  # only then are the request's items recorded


def _error(status: int, *errors: str, validation: dict[str, str] | None = None,
           headers: Mapping[str, str] | None = None) -> _Reply:
    error: dict[str, Any] = {"validation": validation or {}, "error": list(errors)}
    return _Reply(status, error, json.dumps(error).encode(),
                  {"Content-Type": "application/json", **(headers or {})})


def _json(data: Any) -> _Reply:
    return _Reply(200, None, json.dumps(data).encode(), {"Content-Type": "application/json"})


@dataclass
class _Failure:
    remaining: int
    reply: _Reply
    path_prefix: str | None


@dataclass(frozen=True)
class Received:
    """One accepted item: its ``kind``, the ``item`` as sent, and ``request_index`` into
    ``DevServer.requests`` (items of one batch share it)."""

    kind: Kind
    item: dict[str, Any]
    request_index: int


@dataclass(frozen=True)
class RecordedRequest:
    """One request as answered: ``headers`` has lower-cased names, ``body_error`` is the error body
    sent (None on success), ``body`` the raw request body."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    item_count: int
    body_error: dict[str, Any] | None
    body: bytes = field(default=b"", repr=False)


class DevServer:
    """A Pirsch write API on loopback that records what it accepts; thread-safe.

    ::

        server = DevServer(max_batch=50).start()
        server.fail_next(2, 503, retry_after=0.1, path_prefix="/event")
        ...  # run the tracker against server.base_url with server.access_key
        assert server.wait_for(lambda s: len(s.events) == 3)
        server.stop()

    Items are recorded only when their request is answered 200, and after ``delay``: a client
    that gives up on a slow answer may still see its items recorded, as with the real API.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token_ttl: float = 3600.0,
                 max_batch: int | None = None, max_body: int = 10_000_000,
                 client_id: str | None = None, client_secret: str | None = None,
                 access_key: str | None = None) -> None:
        if not host or not 0 <= port <= 65535:
            raise ValueError(f"need a host and a port in 0..65535, not {host!r}:{port!r}")
        if not token_ttl > 0 or max_body < 1 or (max_batch is not None and max_batch < 1):
            raise ValueError("token_ttl must be > 0, max_body and max_batch >= 1")
        if access_key is not None and (not access_key.startswith(ACCESS_KEY_PREFIX)
                                       or access_key == ACCESS_KEY_PREFIX):
            raise ValueError(f"access_key must start with {ACCESS_KEY_PREFIX!r}")
        if "" in (client_id, client_secret):
            raise ValueError("client_id and client_secret must not be empty")
        self.host, self.token_ttl = host, token_ttl
        self.max_batch, self.max_body = max_batch, max_body
        self.client_id = client_id or secrets.token_hex(16)
        self.client_secret = client_secret or secrets.token_hex(32)
        self.access_key = access_key or ACCESS_KEY_PREFIX + secrets.token_hex(24)
        self.delay = 0.0
        self._port = port
        self._cond = threading.Condition(threading.RLock())  # guards everything below
        self._received: list[Received] = []
        self._requests: list[RecordedRequest] = []
        self._tokens: dict[str, int] = {}  # token -> expiry, epoch nanoseconds
        self._failures: list[_Failure] = []
        self._reject: Callable[[str, dict[str, Any]], bool] | None = None
        self._connections: set[socket.socket] = set()
        self._lifecycle = threading.Lock()  # start/stop/refuse/resume; never held by handlers
        self._httpd: _HTTPServer | None = None
        self._wake = threading.Event()  # cuts a delay short when the server goes away

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> DevServer:
        """Bind and serve in a daemon thread (no-op when already serving)."""
        with self._lifecycle:
            if self._httpd is None:
                httpd = _HTTPServer((self.host, self._port), self)
                self._port = httpd.server_address[1]
                self._wake.clear()
                # stop() waits up to one poll interval; test suites stop many servers.
                threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                 name=f"pirsch-devserver:{self._port}", daemon=True).start()
                self._httpd = httpd
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and drop open connections."""
        with self._lifecycle:
            httpd, self._httpd = self._httpd, None
            if httpd is None:
                return
            httpd.shutdown()
            httpd.server_close()
            self._wake.set()
            with self._cond:
                connections = list(self._connections)
            # Kept-alive connections would otherwise go on being served through an "outage".
            for conn in connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def refuse(self) -> None:
        """Simulate an outage: connections are refused until ``resume()``."""
        self.stop()

    def resume(self) -> None:
        """Listen again on the same port after ``refuse()``."""
        if self._port == 0:
            raise RuntimeError("resume() needs a server that was started")
        self.start()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    # -- what was recorded -----------------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def _items(self, kind: Kind) -> list[dict[str, Any]]:
        with self._cond:
            return [entry.item for entry in self._received if entry.kind == kind]

    @property
    def hits(self) -> list[dict[str, Any]]:
        return self._items("hit")

    @property
    def events(self) -> list[dict[str, Any]]:
        return self._items("event")

    @property
    def sessions(self) -> list[dict[str, Any]]:
        return self._items("session")

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def token_requests(self) -> int:
        with self._cond:
            return sum(r.path == _TOKEN_PATH and r.method == "POST" for r in self._requests)

    def clear(self) -> None:
        """Forget recorded requests and items (tokens, failures and settings stay)."""
        with self._cond:
            self._received.clear()
            self._requests.clear()
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[DevServer], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(server)`` holds, re-checked after each request is recorded.

        The predicate runs under the server's lock: it should only look at the server.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def wait_for_items(self, n: int, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda server: len(server._received) >= n, timeout)

    # -- misbehaving on purpose ------------------------------------------------------------
    def fail_next(self, count: int = 1, status: int = 503, *,
                  retry_after: float | str | None = None, body: bytes | None = None,
                  path_prefix: str | None = None) -> None:
        """Answer the next ``count`` write requests with ``status`` and record none of their items.

        ``path_prefix`` may be ``"/event"`` or ``"/api/v1/event"``; with it, token requests can be
        made to fail too (``path_prefix="/token"``).
        """
        if count < 1 or not 200 <= status <= 599:
            raise ValueError("fail_next needs count >= 1 and 200 <= status <= 599")
        if path_prefix is not None and not path_prefix.startswith("/api/"):
            path_prefix = API_PREFIX + path_prefix
        headers = {}
        if isinstance(retry_after, str):
            headers["Retry-After"] = retry_after
        elif retry_after is not None:  # "120", or "0.5" so tests need not wait whole seconds
            seconds = float(retry_after)
            headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else repr(seconds)
        if body is not None:
            error, _ = _parse_json(body)
            kind = "application/json" if error is not None else "text/plain; charset=utf-8"
            reply = _Reply(status, error if isinstance(error, dict) else None, body,
                           {"Content-Type": kind, **headers})
        elif status >= 400:
            reply = _error(status, f"injected failure: {status} {HTTPStatus(status).phrase}",
                           headers=headers)
        else:
            reply = _Reply(status, headers=headers)
        with self._cond:
            self._failures.append(_Failure(count, reply, path_prefix))

    def expire_tokens(self) -> None:
        """Every token issued so far is answered 401 from now on."""
        with self._cond:
            self._tokens = dict.fromkeys(self._tokens, 0)

    def reject_item(self, predicate: Callable[[str, dict[str, Any]], bool] | None) -> None:
        """Treat items for which ``predicate(kind, item)`` holds as invalid (None: accept all)."""
        with self._cond:
            self._reject = predicate

    # -- answering (called from handler threads) -------------------------------------------
    def _answer(self, path: str, headers: Mapping[str, str], body: bytes,
                httpd: _HTTPServer) -> tuple[_Reply, list[Any]] | None:
        """The reply to a POST to a known endpoint and the items its body holds (None: hang up)."""
        data, malformed = _parse_json(body)
        endpoint = _ENDPOINTS.get(path)
        if endpoint is None:
            return self._take_failure(path, write=False) or self._issue_token(
                headers, data, malformed), []
        items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        if self.delay > 0:
            self._wake.wait(self.delay)
            if self._httpd is not httpd:  # refused or stopped meanwhile: no answer, like a crash
                return None
        return self._check_write(path, *endpoint, headers, data, malformed), items

    def _check_write(self, path: str, kind: Kind, batch: bool, headers: Mapping[str, str],
                     data: Any, malformed: str | None) -> _Reply:
        if failure := self._take_failure(path, write=True):
            return failure
        if problem := self._auth_problem(headers.get("authorization", "")):
            return _error(401, problem)
        if problem := _content_type_problem(headers):
            return _error(415, problem)
        if malformed:
            return _error(400, malformed)
        if not isinstance(data, list if batch else dict):
            return _error(400, f"{path} takes {'a JSON array' if batch else 'one JSON object'}")
        items: list[Any] = data if isinstance(data, list) else [data]
        if not items:
            return _error(400, "the batch is empty")
        if self.max_batch is not None and len(items) > self.max_batch:
            return _error(413, f"{len(items)} items is more than max_batch={self.max_batch}")
        with self._cond:
            reject = self._reject
        validation = _validate(kind, items, batch, reject)
        return _error(400, validation=validation) if validation else _Reply(200, accepted=True)

    def _take_failure(self, path: str, *, write: bool) -> _Reply | None:
        with self._cond:
            for rule in self._failures:
                if path.startswith(rule.path_prefix) if rule.path_prefix else write:
                    rule.remaining -= 1
                    if not rule.remaining:
                        self._failures.remove(rule)
                    return rule.reply
        return None

    def _auth_problem(self, header: str) -> str | None:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return "Authorization header must be 'Bearer <access token or key>'"
        if credential == self.access_key:
            return None
        with self._cond:
            expires = self._tokens.get(credential)
        if expires is None:
            return "invalid access token or key"
        return None if time.time_ns() < expires else "access token expired, get a new one"

    def _issue_token(self, headers: Mapping[str, str], data: Any, malformed: str | None) -> _Reply:
        if problem := _content_type_problem(headers):
            return _error(415, problem)
        if malformed:
            return _error(400, malformed)
        fields = ("client_id", "client_secret")
        missing = {name: "required" for name in fields
                   if not isinstance(data, dict) or not isinstance(data.get(name), str)}
        if missing:
            return _error(400, validation=missing)
        if (data["client_id"], data["client_secret"]) != (self.client_id, self.client_secret):
            return _error(401, "invalid client ID or secret")
        token, expires = secrets.token_urlsafe(32), time.time_ns() + round(self.token_ttl * 1e9)
        with self._cond:
            self._tokens[token] = expires
        seconds, nanos = divmod(expires, 1_000_000_000)  # nanoseconds, as the reference sends
        stamp = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return _json({"access_token": token, "expires_at": f"{stamp}.{nanos:09d}Z"})

    def _record(self, request: RecordedRequest, accepted: list[dict[str, Any]]) -> None:
        with self._cond:
            index = len(self._requests)
            self._requests.append(request)
            if accepted:
                kind = _ENDPOINTS[request.path][0]
                self._received.extend(Received(kind, item, index) for item in accepted)
            self._cond.notify_all()

    def _view(self) -> dict[str, Any]:
        with self._cond:
            return {"hits": self.hits, "events": self.events, "sessions": self.sessions,
                    "received": [{"kind": r.kind, "item": r.item} for r in self._received],
                    "requests": len(self._requests)}


class _HTTPServer(ThreadingHTTPServer):  # daemon handler threads
    allow_reuse_address = True  # resume() binds the same port while old connections linger

    def __init__(self, address: tuple[str, int], devserver: DevServer) -> None:
        self.devserver = devserver
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
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.devserver._cond:
            self.server.devserver._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.devserver._cond:
            self.server.devserver._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: test output and the CLI's item lines stay readable

    def _dispatch(self) -> None:
        dev, path = self.server.devserver, urlsplit(self.path).path
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        # Read every body, even one about to get a 404: left unread, it would be taken for the
        # next request on this kept-alive connection.
        read = self._read_body(headers, dev.max_body)
        body = read if isinstance(read, bytes) else b""
        items: list[Any] = []
        if isinstance(read, _Reply):
            reply = read
        elif path in _VIEW_PATHS:
            if self.command in ("GET", "HEAD"):
                self._send(_json(dev._view()))  # not recorded: looking is not a request
                return
            reply = _error(405, f"{self.command} is not allowed here", headers={"Allow": "GET"})
        elif path != _TOKEN_PATH and path not in _ENDPOINTS:
            reply = _error(404, f"no endpoint {path}")
        elif self.command != "POST":
            reply = _error(405, f"{self.command} is not allowed here", headers={"Allow": "POST"})
        else:
            try:
                answer = dev._answer(path, headers, body, self.server)
            except Exception as exc:  # a bug here must reach the client, not die in a thread
                answer = _error(500, f"devserver error: {exc!r}"), []
            if answer is None:
                self.close_connection = True
                return
            reply, items = answer
        dev._record(RecordedRequest(self.command, path, reply.status, headers, len(items),
                                    reply.error, body), items if reply.accepted else [])
        self._send(reply)

    def _read_body(self, headers: Mapping[str, str], max_body: int) -> bytes | _Reply:
        if "transfer-encoding" in headers:
            self.close_connection = True
            return _error(411, "send a Content-Length, not Transfer-Encoding")
        text = headers.get("content-length", "0")
        if not (text.isascii() and text.isdigit()):
            self.close_connection = True
            return _error(400, f"bad Content-Length {text!r}")
        length = int(text)
        if length <= max_body:
            return self.rfile.read(length)
        # Read it away: hanging up on unread data resets the connection and loses the 413.
        while length > 0 and (chunk := self.rfile.read(min(length, 65536))):
            length -= len(chunk)
        return _error(413, f"body of {int(text)} bytes is larger than max_body={max_body}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


def _describe(entry: Received) -> str:
    item = entry.item
    when = item.get("time") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = f"{item['event_name']!r} on" if entry.kind == "event" else ""
    agent = str(item.get("user_agent", ""))
    agent = agent if len(agent) <= 50 else agent[:47] + "..."
    parts = (f"{entry.kind:<7}", when, name, item.get("url", ""), item.get("ip", ""), agent)
    return "  ".join(str(part) for part in parts if part)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m pirsch_middleware.devserver``: serve in the foreground, print each item."""
    parser = argparse.ArgumentParser(prog="python -m pirsch_middleware.devserver",
                                     description="A local Pirsch write API printing what it gets.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--access-key", help="the pa_... key to accept (default: random)")
    parser.add_argument("--client-id", help="oAuth client id to accept (default: random)")
    parser.add_argument("--client-secret", help="oAuth client secret to accept")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime, seconds")
    parser.add_argument("--max-batch", type=int, help="answer 413 to larger batches")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host that is not a loopback address")
    args = parser.parse_args(argv)
    if (args.client_id is None) != (args.client_secret is None):
        parser.error("--client-id and --client-secret go together")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not args.allow_remote:
        parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to use it")
    try:
        server = DevServer(args.host, args.port, token_ttl=args.token_ttl,
                           max_batch=args.max_batch, client_id=args.client_id,
                           client_secret=args.client_secret, access_key=args.access_key).start()
    except (ValueError, OSError) as exc:
        print(f"devserver: {exc}", file=sys.stderr)
        return 1
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if isinstance(sys.stdout, io.TextIOWrapper):  # an odd URL must not crash the printing loop
        sys.stdout.reconfigure(errors="replace", line_buffering=True)
    printed = 0
    try:
        print(f"Pirsch dev server on {server.base_url}")  # tests read this line first
        print(f"  received:      {server.base_url}/devserver/received\n"
              f"  access key:    {server.access_key}\n  client id:     {server.client_id}\n"
              f"  client secret: {server.client_secret}\nCtrl-C to stop.", flush=True)
        while True:
            if server.wait_for_items(printed + 1, timeout=0.5):
                for entry in server.received[printed:]:
                    print(_describe(entry), flush=True)
                    printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
