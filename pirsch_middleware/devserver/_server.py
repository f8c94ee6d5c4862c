"""``DevServer``: the recorded state, the lifecycle, and the answer to every request.

Which endpoint a request reaches is decided here (``_respond``); what a body may hold is
``_schema``'s business and the HTTP reading and writing ``_http``'s.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .._auth import ACCESS_KEY_PREFIX, API_PREFIX
from . import _live, _stats
from ._http import HTTPServer, Reply, Request, error_reply, json_reply
from ._query import QueryError
from ._schema import Kind, content_type_problem, parse_json, validate
from ._stats import UnknownDomain

__all__ = ["DevServer", "Received", "RecordedRequest"]

TOKEN_PATH = API_PREFIX + "/token"
_VIEW_PATHS = ("/devserver/received", API_PREFIX + "/devserver/received")
_DOMAIN_PATH = API_PREFIX + "/domain"
_STATISTICS_PREFIX = API_PREFIX + "/statistics/"
T = TypeVar("T")
_LOOKING_PATHS = (*_VIEW_PATHS, _live.PAGE_PATH, _live.SCRIPT_PATH, _live.STREAM_PATH)
WRITE_ENDPOINTS: dict[str, tuple[Kind, bool]] = {
    f"{API_PREFIX}/{kind}{suffix}": (kind, bool(suffix))
    for kind in ("hit", "event", "session")
    for suffix in ("", "/batch")
}


@dataclass
class _Failure:
    remaining: int
    reply: Reply
    path_prefix: str | None


@dataclass(frozen=True)
class Received:
    """One accepted item: its ``kind``, the ``item`` as sent, ``request_index`` into
    ``DevServer.requests`` (items of one batch share it), and ``received_at`` (epoch
    seconds), which stands for the item's ``time`` when it was sent without one."""

    kind: Kind
    item: dict[str, Any]
    request_index: int
    received_at: float = field(default_factory=time.time, compare=False, repr=False)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as answered: ``headers`` has lower-cased names, ``body_error`` is the error body
    sent (None on success), ``body`` the raw request body, ``query`` the raw query string."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    item_count: int
    body_error: dict[str, Any] | None
    body: bytes = field(default=b"", repr=False)
    query: str = ""


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
    Its statistics (``GET /api/v1/domain``, ``/api/v1/statistics/...``) are computed from the
    items recorded, for a token of its oAuth client (``client_id``, ``client_secret``);
    ``fail_next(path_prefix="/statistics")`` fails them too.
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
        # The live page numbers items within an epoch; a new one (clear()) starts it afresh.
        self._epoch = secrets.token_hex(4)
        self._requests: list[RecordedRequest] = []
        self._tokens: dict[str, int] = {}  # token -> expiry, epoch nanoseconds
        self._failures: list[_Failure] = []
        self._reject: Callable[[str, dict[str, Any]], bool] | None = None
        self._connections: set[socket.socket] = set()
        self._lifecycle = threading.Lock()  # start/stop/refuse/resume; never held by handlers
        self._httpd: HTTPServer | None = None
        self._wake = threading.Event()  # cuts a delay short when the server goes away

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> DevServer:
        """Bind and serve in a daemon thread (no-op when already serving)."""
        with self._lifecycle:
            if self._httpd is None:
                httpd = HTTPServer((self.host, self._port), self)
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
                self._cond.notify_all()  # wakes the live page's streams, which then end
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
            return sum(r.path == TOKEN_PATH and r.method == "POST" for r in self._requests)

    def clear(self) -> None:
        """Forget recorded requests and items (tokens, failures and settings stay)."""
        with self._cond:
            self._received.clear()
            self._requests.clear()
            self._epoch = secrets.token_hex(4)
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

        ``path_prefix`` may be ``"/event"`` or ``"/api/v1/event"``; with it, token and statistics
        requests can be made to fail too (``path_prefix="/token"``, ``"/statistics"``).
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
            error, _ = parse_json(body)
            kind = "application/json" if error is not None else "text/plain; charset=utf-8"
            reply = Reply(status, error if isinstance(error, dict) else None, body,
                           {"Content-Type": kind, **headers})
        elif status >= 400:
            reply = error_reply(status, f"injected failure: {status} {HTTPStatus(status).phrase}",
                           headers=headers)
        else:
            reply = Reply(status, headers=headers)
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
    def _connected(self, conn: socket.socket, open: bool) -> None:
        with self._cond:
            if open:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _respond(self, request: Request, httpd: HTTPServer) -> Reply | None:
        """The reply to one request (None: hang up without one), recorded unless it only
        looked at the server's own pages."""
        method, path = request.method, request.path
        items: list[Any] = []
        if request.problem is not None:
            reply = request.problem
        elif path in _LOOKING_PATHS:
            if method in ("GET", "HEAD"):  # not recorded: looking is not a request
                return self._look(path, request.headers, httpd)
            reply = error_reply(405, f"{method} is not allowed here", headers={"Allow": "GET"})
        elif path == _DOMAIN_PATH or path.startswith(_STATISTICS_PREFIX):
            if method in ("GET", "HEAD"):
                reply = self._guarded(lambda: self._answer_statistics(path, request))
            else:
                reply = error_reply(405, f"{method} is not allowed here",
                                    headers={"Allow": "GET"})
        elif path != TOKEN_PATH and path not in WRITE_ENDPOINTS:
            reply = error_reply(404, f"no endpoint {path}")
        elif method != "POST":
            reply = error_reply(405, f"{method} is not allowed here", headers={"Allow": "POST"})
        else:
            answer = self._guarded(
                lambda: self._answer_post(path, request.headers, request.body, httpd))
            if answer is None:
                return None
            reply, items = answer if isinstance(answer, tuple) else (answer, [])
        self._record(RecordedRequest(method, path, reply.status, request.headers, len(items),
                                     reply.error, request.body, request.query),
                     items if reply.accepted else [])
        return reply

    @staticmethod
    def _guarded(answer: Callable[[], T]) -> T | Reply:
        try:
            return answer()
        except Exception as exc:  # a bug here must reach the client, not die in a thread
            return error_reply(500, f"devserver error: {exc!r}")

    def _answer_statistics(self, path: str, request: Request) -> Reply:
        if failure := self._take_failure(path, write=False):
            return failure
        header = request.headers.get("authorization", "")
        if header.partition(" ")[2] == self.access_key:
            return error_reply(403, "an access key (pa_...) can only send data: read statistics "
                               "with an oAuth token (POST /api/v1/token with the client ID "
                               "and secret)")
        if problem := self._auth_problem(header):
            return error_reply(401, problem)
        with self._cond:
            received = list(self._received)
        try:
            data = _stats.answer(path.removeprefix(API_PREFIX),
                                 parse_qsl(request.query, keep_blank_values=True), received,
                                 datetime.now(timezone.utc))
        except QueryError as exc:
            return error_reply(400, validation=exc.validation)
        except UnknownDomain as exc:
            return error_reply(404, str(exc))
        except NotImplementedError as exc:
            return error_reply(501, str(exc))
        return json_reply(data)

    def _look(self, path: str, headers: Mapping[str, str], httpd: HTTPServer) -> Reply:
        if path == _live.PAGE_PATH:
            return _live.page()
        if path == _live.SCRIPT_PATH:
            return _live.script()
        if path == _live.STREAM_PATH:
            return _live.stream(self, httpd, headers)
        return json_reply(self._view())

    def _answer_post(self, path: str, headers: Mapping[str, str], body: bytes,
                     httpd: HTTPServer) -> tuple[Reply, list[Any]] | None:
        """The reply to a POST to a known endpoint and the items its body holds (None: hang up)."""
        data, malformed = parse_json(body)
        endpoint = WRITE_ENDPOINTS.get(path)
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
                     data: Any, malformed: str | None) -> Reply:
        if failure := self._take_failure(path, write=True):
            return failure
        if problem := self._auth_problem(headers.get("authorization", "")):
            return error_reply(401, problem)
        if problem := content_type_problem(headers):
            return error_reply(415, problem)
        if malformed:
            return error_reply(400, malformed)
        if not isinstance(data, list if batch else dict):
            shape = "a JSON array" if batch else "one JSON object"
            return error_reply(400, f"{path} takes {shape}")
        items: list[Any] = data if isinstance(data, list) else [data]
        if not items:
            return error_reply(400, "the batch is empty")
        if self.max_batch is not None and len(items) > self.max_batch:
            return error_reply(413, f"{len(items)} items is more than max_batch={self.max_batch}")
        with self._cond:
            reject = self._reject
        validation = validate(kind, items, batch, reject)
        return error_reply(400, validation=validation) if validation else Reply(200, accepted=True)

    def _take_failure(self, path: str, *, write: bool) -> Reply | None:
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

    def _issue_token(self, headers: Mapping[str, str], data: Any, malformed: str | None) -> Reply:
        if problem := content_type_problem(headers):
            return error_reply(415, problem)
        if malformed:
            return error_reply(400, malformed)
        fields = ("client_id", "client_secret")
        missing = {name: "required" for name in fields
                   if not isinstance(data, dict) or not isinstance(data.get(name), str)}
        if missing:
            return error_reply(400, validation=missing)
        if (data["client_id"], data["client_secret"]) != (self.client_id, self.client_secret):
            return error_reply(401, "invalid client ID or secret")
        token, expires = secrets.token_urlsafe(32), time.time_ns() + round(self.token_ttl * 1e9)
        with self._cond:
            self._tokens[token] = expires
        seconds, nanos = divmod(expires, 1_000_000_000)  # nanoseconds, as the reference sends
        stamp = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return json_reply({"access_token": token, "expires_at": f"{stamp}.{nanos:09d}Z"})

    def _record(self, request: RecordedRequest, accepted: list[dict[str, Any]]) -> None:
        with self._cond:
            index = len(self._requests)
            self._requests.append(request)
            if accepted:
                kind = WRITE_ENDPOINTS[request.path][0]
                self._received.extend(Received(kind, item, index) for item in accepted)
            self._cond.notify_all()

    def _wait_received(self, epoch: str, seen: int, httpd: HTTPServer,
                       timeout: float) -> tuple[str, list[Received]] | None:
        """For the live page's stream: the epoch and the items after the first ``seen`` of
        it, once there are any (or after ``timeout``); when ``epoch`` is not the current one,
        every item of the current one. None once ``httpd`` no longer serves."""
        with self._cond:
            self._cond.wait_for(lambda: self._httpd is not httpd or self._epoch != epoch
                                or len(self._received) > seen, timeout)
            if self._httpd is not httpd:
                return None
            return self._epoch, self._received[seen if self._epoch == epoch else 0:]

    def _view(self) -> dict[str, Any]:
        with self._cond:
            return {"hits": self.hits, "events": self.events, "sessions": self.sessions,
                    "received": [{"kind": r.kind, "item": r.item} for r in self._received],
                    "requests": len(self._requests)}


