"""The delivery policy: encoded items of one kind -> Pirsch's batch endpoint, and what
became of them.

One seam: ``Delivery.send(kind, items)`` takes the encoded items of one kind, oldest first,
and answers an ``Outcome``: how many from the front are settled (accepted, or rejected as
invalid) and, when not all are, how long the rest must wait and whether waiting can help.
The tracker's thread owns the buffer and calls it; nothing here knows about threads, so
the policy is tested on its own, as a table, with ``httpx.MockTransport`` and over
loopback HTTP.

The batches go over one keep-alive connection of the standard library (``_wire``), a
fifth of httpx's CPU per POST; httpx sends them instead when a ``transport`` is given or
a proxy variable (``HTTPS_PROXY``...) applies to ``base_url``, decided once, at the first
send. Both answer alike: same statuses, same messages.

- Batches of at most ``batch_size`` items; a 413 halves them from then on.
- 400 and 422 split a batch to isolate the invalid items, which are counted as failed.
- Network errors, timeouts, 5xx, 429 and unknown answers: retry with exponential backoff
  and jitter (``retry_base`` doubling to ``retry_cap``), honouring ``Retry-After`` up to
  ten minutes.
- Refused credentials (401/403 after the token was renewed, or a token request refused)
  and a wrong ``base_url`` (404/405) cannot heal by waiting: they are permanent, retried
  only every ``retry_cap`` seconds (the key may be re-enabled), and say what to fix.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from ._auth import PirschAuth, redact_url
from ._config import TrackerOptions
from ._errors import APIError, parse_error_body
from ._items import KIND_NAMES
from ._logs import Throttle, logger
from ._version import VERSION
from ._wire import Answer, Wire, WireError, env_proxy

__all__ = ["BATCH_PATHS", "Delivery", "Outcome", "retry_after_seconds"]

USER_AGENT = f"pirsch-middleware/{VERSION} (python)"
BATCH_PATHS = ("/api/v1/hit/batch", "/api/v1/event/batch", "/api/v1/session/batch")
MAX_RETRY_AFTER = 600.0
REJECTED = frozenset({400, 413, 422})  # the items are the problem: split to find them
REFUSED = frozenset({401, 403})  # the credentials are
NOT_HERE = frozenset({404, 405})  # the base URL is


@dataclass(frozen=True)
class Outcome:
    """What ``Delivery.send`` did with the items it was given.

    The first ``sent + failed`` items are settled. When that is fewer than all,
    ``retry_in`` says how many seconds the rest waits, ``problem`` why, and ``permanent``
    whether the cause is one that waiting cannot heal (credentials, base URL).
    """

    sent: int = 0
    failed: int = 0
    retry_in: float = 0.0
    problem: str = ""
    permanent: bool = False

    @property
    def settled(self) -> int:
        return self.sent + self.failed


class Delivery:
    """Sends batches of encoded items over one HTTP connection (opened at the first send)::

        delivery = Delivery(options)
        outcome = delivery.send(HIT, [b'{"url":...}', ...])

    ``transport`` (an httpx transport: ``httpx.MockTransport(handler)`` in tests) sends
    through httpx instead, as does a proxy from the environment; ``sender`` then says
    which was chosen: ``"http.client"`` or ``"httpx"``.
    """

    def __init__(self, options: TrackerOptions, *,
                 transport: httpx.BaseTransport | None = None,
                 retry_base: float = 0.5, retry_cap: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.options = options
        self.limit = options.batch_size  # lowered for good when the API says 413
        self._transport = transport
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._random = rng or random.Random()
        self._attempt = 0  # consecutive failed attempts
        self._sender: _HttpxSender | _WireSender | None = None
        self._throttle = Throttle()

    def send(self, kind: int, items: Sequence[bytes]) -> Outcome:
        """Send ``items`` (of one kind, oldest first) in batches, in order, until all are
        settled or one attempt fails; never raises."""
        sent = failed = 0
        ranges = [(0, len(items))]
        while ranges:
            lo, hi = ranges.pop()
            if hi - lo > self.limit:  # cut to size; the limit may have fallen meanwhile
                ranges += [(start, min(start + self.limit, hi))
                           for start in reversed(range(lo, hi, self.limit))]
                continue
            status, problem, retry_after = self._post(kind, items[lo:hi])
            if status == 0:
                sent += hi - lo
                self._attempt = 0
            elif status in REJECTED and hi - lo > 1:
                mid = (lo + hi) // 2
                ranges += [(mid, hi), (lo, mid)]
                if status == 413 and hi - lo <= self.limit:
                    # Too large, not invalid: smaller batches from now on.
                    self.limit = max(1, (hi - lo) // 2)
                    self._throttle.log(logging.WARNING, "413", "Pirsch refused a batch of %d "
                                       "items as too large; sending at most %d per request",
                                       hi - lo, self.limit)
            elif status in REJECTED:
                failed += 1
                self._attempt = 0
                logger.warning("Pirsch rejected a %s: %s", KIND_NAMES[kind], problem)
                logger.debug("rejected %s: %s", KIND_NAMES[kind],
                             items[lo].decode("utf-8", "replace"))
            else:
                permanent = status in REFUSED or status in NOT_HERE
                return Outcome(sent, failed, self._backoff(retry_after, permanent), problem,
                               permanent)
        return Outcome(sent, failed)

    def _post(self, kind: int, items: Sequence[bytes]) -> tuple[int, str, str | None]:
        """(0, "", None) when accepted, else (status, the problem, Retry-After); status
        -1 for a network error or a failing token request that may heal."""
        sender = self._sender or self._connect()
        try:
            status, content, retry_after = sender.post(BATCH_PATHS[kind],
                                                       b"[" + b",".join(items) + b"]")
        except APIError as exc:  # the token request failed
            code = exc.status_code
            if code in NOT_HERE:
                return code, (f"{exc}. Check PIRSCH_BASE_URL (base_url, now "
                              f"{redact_url(self.options.base_url)})"), None
            if 400 <= code < 500 and code not in (408, 429):
                return 401, (f"{exc}. Check PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET "
                             "(client_id, client_secret)"), None
            return -1, str(exc), None
        except (httpx.HTTPError, WireError) as exc:
            name = exc.kind if isinstance(exc, WireError) else type(exc).__name__
            return -1, (f"cannot reach {redact_url(self.options.base_url)} "
                        f"({name}: {exc}); check PIRSCH_BASE_URL (base_url) "
                        "and that this server can reach it"), None
        if 200 <= status < 300:
            return 0, "", None
        validation, errors = parse_error_body(content)
        problem = str(APIError(status, validation, errors))
        if status in REFUSED:
            problem += (". Check PIRSCH_ACCESS_KEY (access_key)"
                        if self.options.credentials.is_access_key else
                        ". Check PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET (client_id, "
                        "client_secret)")
        elif status in NOT_HERE:
            problem += (f" for {BATCH_PATHS[kind]}. Check PIRSCH_BASE_URL (base_url, now "
                        f"{redact_url(self.options.base_url)})")
        return status, problem, retry_after

    def _backoff(self, retry_after: str | None, permanent: bool) -> float:
        if permanent:
            return self._retry_cap
        self._attempt += 1
        backoff = min(self._retry_cap, self._retry_base * 2.0 ** min(self._attempt - 1, 30))
        delay = backoff * self._random.uniform(0.5, 1.0)
        server_delay = retry_after_seconds(retry_after)
        if server_delay is not None:
            delay = max(delay, min(server_delay, MAX_RETRY_AFTER))
        return delay

    def _connect(self) -> _HttpxSender | _WireSender:
        """Choose how to send, once: httpx for a transport or a proxy, else the wire."""
        options = self.options
        proxy = None if self._transport is not None else env_proxy(options.base_url)
        if self._transport is None and proxy is None:
            self._sender = _WireSender(options)
            return self._sender
        if proxy is not None:
            logger.info("Pirsch: sending to %s through the proxy %s (from the environment)",
                        redact_url(options.base_url), redact_url(proxy))
        _import_httpcore()
        self._sender = _HttpxSender(httpx.Client(
            base_url=options.base_url,
            auth=PirschAuth(options.credentials, options.base_url),
            timeout=options.timeout,
            transport=self._transport,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        ))
        return self._sender

    @property
    def sender(self) -> str | None:
        """How batches are sent, once the first was: ``"http.client"`` or ``"httpx"``."""
        return None if self._sender is None else self._sender.name

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()

    def abandon(self) -> None:
        """In a forked child: the parent's connections must be neither used nor closed
        (closing would shut the parent's sockets), so keep them referenced forever."""
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.abandon()


class _HttpxSender:
    """Through httpx: a custom transport, or a proxy."""

    name = "httpx"

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def post(self, path: str, body: bytes) -> Answer:
        response = self._client.post(path, content=body)
        return Answer(response.status_code, response.content,
                      response.headers.get("retry-after"))

    def close(self) -> None:
        self._client.close()

    def abandon(self) -> None:
        _abandoned.append(self._client)


class _WireSender:
    """Over the standard library's keep-alive connection: an access key as it is, an
    oAuth token renewed once on a 401, as the httpx auth flow does."""

    name = "http.client"

    def __init__(self, options: TrackerOptions) -> None:
        self._wire = Wire(options.base_url, timeout=options.timeout, user_agent=USER_AGENT)
        self._timeout = options.timeout
        credentials = options.credentials
        self._authorization = f"Bearer {credentials.access_key}"
        self._auth: PirschAuth | None = None
        if not credentials.is_access_key:
            _import_httpcore()  # token requests go through httpx
            self._auth = PirschAuth(credentials, options.base_url)

    def post(self, path: str, body: bytes) -> Answer:
        auth = self._auth
        if auth is None:
            return self._wire.post(path, body, self._authorization)
        answer = self._wire.post(path, body, f"Bearer {auth.token(timeout=self._timeout)}")
        if answer.status == 401:
            auth.invalidate()
            answer = self._wire.post(path, body,
                                     f"Bearer {auth.token(timeout=self._timeout)}")
        return answer

    def close(self) -> None:
        self._wire.close()

    def abandon(self) -> None:
        self._wire.abandon()


_abandoned: list[httpx.Client] = []  # forked children's copies of the parent's


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, float(parsedate_to_datetime(value).timestamp()) - time.time())
    except (TypeError, ValueError):
        return None


def _import_httpcore() -> None:
    """httpx imports httpcore, which imports trio if it is installed; under gevent's
    monkey-patching trio fails with AttributeError (no select.epoll) and no client could
    ever be built. Then import httpcore without trio, which it treats as optional."""
    if "httpcore" in sys.modules:
        return
    try:
        import httpcore
    except AttributeError:
        for name in [m for m in sys.modules if m.split(".")[0] in ("httpcore", "trio")]:
            del sys.modules[name]
        sys.modules["trio"] = None  # type: ignore[assignment]
        logger.info("Pirsch: trio does not import under gevent; httpcore runs without it")
        import httpcore  # noqa: F401
