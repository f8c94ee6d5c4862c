"""The tracker: an in-process FIFO of hits, events and keep-alives, and the background
thread that delivers it to Pirsch in order.

The request path calls ``Tracker.put`` only: a ``deque.append`` of a tuple of raw values,
no lock, no I/O, no formatting. The flusher thread drains that inbox, encodes each item
(``_payload``) and sends consecutive runs of one kind to that kind's batch endpoint.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import httpx

from ._auth import PirschAuth
from ._config import TrackerOptions
from ._errors import APIError, parse_error_body
from ._payload import BATCH_PATHS, KIND_NAMES, Encoder, Item
from ._proxies import TrustedProxies

__all__ = ["Tracker", "TrackerStats", "get_tracker", "resolve_tracker", "set_tracker"]

logger = logging.getLogger("pirsch_middleware")

VERSION = "0.1.0"
MARKER = -1  # a flush request travelling through the FIFO: (MARKER, time, event, None, None)
WARN_EVERY = 60.0  # seconds between repeated warnings of one kind
MAX_RETRY_AFTER = 600.0
REJECTED_STATUSES = frozenset({400, 413, 422})
_SENT, _REJECTED, _RETRY = 0, 1, 2

_trackers: weakref.WeakSet[Tracker] = weakref.WeakSet()
_made = [False, False]  # [a tracker with tracking off was made, one with tracking on]
_default: Tracker | None = None
_by_options: dict[Any, Tracker] = {}
_default_lock = threading.Lock()


@dataclass(frozen=True)
class TrackerStats:
    """A snapshot of a tracker's counters (see ``Tracker.stats``)."""

    queued: int  # accepted into the buffer
    sent: int  # accepted by the API
    dropped: int  # discarded because the buffer was full or the tracker closed
    failed: int  # rejected by the API as invalid, or not encodable
    retried: int  # send attempts repeated after a network error, 5xx, 429 or 401
    filtered: int  # not sent: bots, Do-Not-Track, prefetches, no usable IP
    waiting: int  # queued and not yet settled


class Tracker:
    """Owns the buffer and the flusher thread. One per process is usually enough::

        tracker = Tracker(access_key="pa_...")       # or PIRSCH_* environment variables
        app = PirschMiddleware(app, tracker=tracker)
        ...
        tracker.flush(timeout=5)                     # True once everything queued is settled
        tracker.close()                              # flush (bounded) and stop

    Without credentials it is disabled: it logs one warning and the middlewares pass
    requests through untouched. ``transport`` takes an ``httpx`` transport (tests).
    """

    def __init__(
        self,
        *,
        access_key: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        trusted_proxies: str | Iterable[str] | TrustedProxies | None = None,
        flush_interval: float | None = None,
        batch_size: int | None = None,
        max_queue: int | None = None,
        timeout: float | None = None,
        shutdown_timeout: float | None = None,
        respect_dnt: bool | None = None,
        filter_bots: bool | None = None,
        transport: httpx.BaseTransport | None = None,
        forwarded_host: bool | None = None,
        environ: Mapping[str, str] | None = None,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
    ) -> None:
        options = {
            "access_key": access_key, "client_id": client_id, "client_secret": client_secret,
            "base_url": base_url, "trusted_proxies": trusted_proxies,
            "flush_interval": flush_interval, "batch_size": batch_size,
            "max_queue": max_queue, "timeout": timeout, "shutdown_timeout": shutdown_timeout,
            "respect_dnt": respect_dnt, "filter_bots": filter_bots,
            "forwarded_host": forwarded_host,
        }
        self.options = TrackerOptions.build(options, environ)
        self.enabled = self.options.credentials.configured
        _made[self.enabled] = True
        if not self.enabled:
            logger.warning(
                "Pirsch tracking is off: no credentials. Set PIRSCH_ACCESS_KEY (or "
                "PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET), or pass access_key=..."
            )
        self._transport = transport
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._encoder = Encoder(self.options.trusted_proxies,
                                respect_dnt=self.options.respect_dnt,
                                filter_bots=self.options.filter_bots,
                                forwarded_host=self.options.forwarded_host)
        self._max_queue = self.options.max_queue
        self._batch_size = self.options.batch_size
        self._send_limit = self._batch_size  # lowered when the API says 413
        self._reset()
        _trackers.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._running else "idle"
        return f"<Tracker {state} {self.options.base_url} {self.options.credentials!r}>"

    def _reset(self) -> None:
        """Fresh state: at construction, and in a child process after fork."""
        self._inbox: deque[Item] = deque()
        self._pending: deque[tuple[int, Any]] = deque()  # flusher-owned
        self._pending_count = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._closed = False
        self._stopping = False
        self._client: httpx.Client | None = None
        self._auth: PirschAuth | None = None
        self._random = random.Random()
        self._retry_at = 0.0
        self._attempt = 0
        self._last_warning: dict[str, float] = {}
        self._drained = 0
        self.sent = self.dropped = self.failed = self.retried = self.filtered = 0

    # -- the request path ---------------------------------------------------------------

    def put(self, item: Item) -> None:
        """Queue one item. O(1), no lock unless starting or full, never raises."""
        inbox = self._inbox
        if len(inbox) + self._pending_count >= self._max_queue or self._closed:
            self._drop()
            return
        inbox.append(item)
        if not self._running:
            self._start()
        elif len(inbox) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _drop(self) -> None:
        with self._lock:
            self.dropped += 1
        if self._closed:
            self._warn("closed", "Pirsch tracker is closed: dropping new items")
        else:
            self._warn("full", "Pirsch buffer is full (max_queue=%d): dropping new items "
                       "(%d dropped so far)", self._max_queue, self.dropped)

    def _warn(self, key: str, message: str, *args: object) -> bool:
        """Log a warning, at most once a minute for each ``key``. True if it was logged."""
        now = time.monotonic()
        if now - self._last_warning.get(key, -WARN_EVERY) < WARN_EVERY:
            return False
        self._last_warning[key] = now
        logger.warning(message, *args)
        return True

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return self._drained + sum(1 for item in list(self._inbox) if item[0] != MARKER)

    def stats(self) -> TrackerStats:
        """Counters; ``queued == sent + failed + filtered + waiting`` once drained."""
        return TrackerStats(queued=self.queued, sent=self.sent, dropped=self.dropped,
                            failed=self.failed, retried=self.retried, filtered=self.filtered,
                            waiting=self._pending_count + len(self._inbox))

    def _start(self) -> None:
        with self._lock:
            if self._running or self._closed:
                return
            _warn_if_threads_disabled()
            self._thread = threading.Thread(target=self._run, name="pirsch-flusher",
                                            daemon=True)
            self._running = True
            self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued so far; wait at most ``timeout`` seconds.

        Returns True when all of it is settled (accepted, or rejected as invalid), False
        on timeout (e.g. while the API is unreachable: the items stay queued).
        """
        if not self._inbox and not self._pending_count:
            return True
        if threading.current_thread() is self._thread:
            return False
        done = threading.Event()
        self._inbox.append((MARKER, time.time(), False, (), done))
        if not self._running:
            self._start()
        self._wake.set()
        return done.wait(max(0.0, timeout))

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded by ``timeout``, default ``shutdown_timeout``) and stop the thread.

        Items still unsent afterwards are counted as dropped and logged. Idempotent.
        """
        if self._closed:
            return True
        limit = self.options.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        flushed = self.flush(limit)
        self._closed = True
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self._pending_count + sum(1 for i in list(self._inbox) if i[0] != MARKER)
        if left:
            self.dropped += left
            logger.warning("Pirsch tracker closed with %d unsent item(s)", left)
        if thread is None or not thread.is_alive():
            self._close_client()
        return flushed and not left

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _after_fork(self) -> None:
        # The parent's connections must not be closed (or used) by the child: keep them
        # referenced forever instead of letting the garbage collector close them.
        if self._client is not None:
            _abandoned.append(self._client)
        self._reset()

    # -- the flusher thread -------------------------------------------------------------

    def _run(self) -> None:
        interval = self.options.flush_interval
        while True:
            wait = interval
            if self._retry_at:
                wait = min(interval, max(0.0, self._retry_at - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            try:
                self._drain()
                self._deliver()
            except Exception as exc:  # a bug here must not end delivery for the process
                if self._warn("flusher", "Pirsch flusher error: %r", exc):
                    logger.debug("flusher error", exc_info=True)
                self._schedule_retry(None)
            if self._stopping:
                self._close_client()
                return

    def _drain(self) -> None:
        inbox, batch = self._inbox, []
        popleft = inbox.popleft
        while inbox:
            batch.append(popleft())
        if not batch:
            return
        # FIFO order is response order; Pirsch needs time order. Requests overlap, so a
        # stable sort restores time order and keeps each request's hit before its events.
        # A flush marker sorts after everything queued before it, whatever its time.
        latest = 0.0
        for index, item in enumerate(batch):
            latest = max(latest, item[1])
            if item[0] == MARKER:
                batch[index] = (MARKER, latest, False, (), item[4])
        batch.sort(key=itemgetter(1))
        pending, encode = self._pending, self._encoder.encode
        for item in batch:
            if item[0] == MARKER:
                pending.append((MARKER, item[4]))
                continue
            self._drained += 1
            try:
                data = encode(item)
            except Exception:
                logger.exception("Pirsch: could not encode a %s; skipped", KIND_NAMES[item[0]])
                self.failed += 1
                continue
            if data is None:
                self.filtered += 1
            else:
                pending.append((item[0], data))
                self._pending_count += 1

    def _deliver(self) -> None:
        pending = self._pending
        while pending:
            if self._retry_at and time.monotonic() < self._retry_at:
                return
            kind, first = pending[0]
            if kind == MARKER:
                pending.popleft()
                first.set()
                continue
            run: list[bytes] = []
            for entry_kind, data in pending:
                if entry_kind != kind or len(run) == self._send_limit:
                    break
                run.append(data)
            settled = self._send_run(kind, run)
            for _ in range(settled):
                pending.popleft()
            self._pending_count -= settled
            if settled < len(run):
                return

    def _send_run(self, kind: int, bodies: list[bytes]) -> int:
        """Send one run, splitting rejected batches to isolate the invalid items.

        Returns how many items from the start of the run are settled; fewer than all
        means a retry is scheduled and the rest stays at the head of the queue.
        """
        ranges = [(0, len(bodies))]
        while ranges:
            lo, hi = ranges.pop()
            if hi - lo > self._send_limit:  # the limit fell since this range was cut
                ranges += [(start, min(start + self._send_limit, hi)) for start in
                           reversed(range(lo, hi, self._send_limit))]
                continue
            outcome, error = self._post(kind, bodies[lo:hi])
            if outcome == _SENT:
                self.sent += hi - lo
            elif outcome == _REJECTED and hi - lo > 1:
                mid = (lo + hi) // 2
                ranges += [(mid, hi), (lo, mid)]
                if error is not None and error.status_code == 413 \
                        and hi - lo <= self._send_limit:
                    # Too large, not invalid: send smaller batches from now on.
                    self._send_limit = max(1, (hi - lo) // 2)
                    self._warn("413", "Pirsch refused a batch of %d items as too large; "
                               "sending at most %d per request", hi - lo, self._send_limit)
            elif outcome == _REJECTED:
                self.failed += 1
                logger.warning("Pirsch rejected a %s: %s", KIND_NAMES[kind], error)
                logger.debug("rejected %s: %s", KIND_NAMES[kind], bodies[lo].decode())
            else:
                return lo
        return len(bodies)

    def _post(self, kind: int, bodies: list[bytes]) -> tuple[int, APIError | None]:
        client = self._client or self._make_client()
        content = b"[" + b",".join(bodies) + b"]"
        try:
            response = client.post(BATCH_PATHS[kind], content=content)
        except APIError as exc:  # the token request failed
            self._schedule_retry(None, str(exc))
            return _RETRY, exc
        except httpx.HTTPError as exc:
            self._schedule_retry(None, f"{type(exc).__name__}: {exc}")
            return _RETRY, None
        status = response.status_code
        if 200 <= status < 300:
            self._attempt = 0
            self._retry_at = 0.0
            return _SENT, None
        validation, errors = parse_error_body(response.content)
        error = APIError(status, validation, errors)
        if status in REJECTED_STATUSES:
            return _REJECTED, error
        self._schedule_retry(response.headers.get("retry-after"), str(error))
        return _RETRY, error

    def _schedule_retry(self, retry_after: str | None, reason: str = "") -> None:
        self._attempt += 1
        self.retried += 1
        backoff = min(self._retry_cap, self._retry_base * 2 ** min(self._attempt - 1, 30))
        delay = backoff * self._random.uniform(0.5, 1.0)
        server_delay = _retry_after_seconds(retry_after)
        if server_delay is not None:
            delay = max(delay, min(server_delay, MAX_RETRY_AFTER))
        self._retry_at = time.monotonic() + delay
        self._warn("retry", "Pirsch delivery failed (%s); %d item(s) waiting, retrying in "
                   "%.1f s", reason or "unexpected error", self._pending_count, delay)

    def _make_client(self) -> httpx.Client:
        _import_httpcore()
        self._auth = PirschAuth(self.options.credentials, self.options.base_url)
        self._client = httpx.Client(
            base_url=self.options.base_url,
            auth=self._auth,
            timeout=self.options.timeout,
            transport=self._transport,
            headers={"User-Agent": f"pirsch-middleware/{VERSION} (python)",
                     "Content-Type": "application/json"},
        )
        return self._client


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


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _warn_if_threads_disabled() -> None:
    try:
        import uwsgi
    except ImportError:
        return
    opt = getattr(uwsgi, "opt", {})
    if not opt.get("enable-threads") and not opt.get("threads"):
        logger.warning("uWSGI runs without threads: Pirsch's flusher thread will never run "
                       "and nothing will be sent. Start uWSGI with --enable-threads.")


_abandoned: list[httpx.Client] = []


def _after_fork_in_child() -> None:
    for tracker in list(_trackers):
        tracker._after_fork()


def _close_at_exit() -> None:
    for tracker in list(_trackers):
        if tracker._running and not tracker._closed:
            tracker.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)


def tracking_off() -> bool:
    """True when trackers were made in this process and all of them have tracking off:
    then ``track_event``, ``set_title``... outside a tracked request are expected (the
    middleware passes requests through untouched) and not worth a warning each."""
    return _made[False] and not _made[True]


def get_tracker() -> Tracker:
    """The process's default tracker: the first one built, else one from ``PIRSCH_*``."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Tracker()
    return _default


def set_tracker(tracker: Tracker | None) -> None:
    """Make ``tracker`` the default used outside middlewares (``None`` resets it)."""
    global _default
    _default = tracker


def resolve_tracker(tracker: Tracker | None, options: Mapping[str, Any]) -> Tracker:
    """The tracker a middleware uses: the one given, a new one built from its options
    (which becomes the default if there is none yet), or the default one."""
    global _default
    if tracker is not None:
        if options:
            raise TypeError("pass either tracker=... or tracker options "
                            f"({', '.join(sorted(options))}), not both")
        return tracker
    if not options:
        return get_tracker()
    # Frameworks build middlewares more than once (Django's test Client, app factories):
    # the same options share one tracker and its thread.
    try:
        key: Any = tuple(sorted(options.items()))
        hash(key)
    except TypeError:
        key = None
    with _default_lock:
        built = _by_options.get(key) if key is not None else None
        if built is None or built._closed:
            built = Tracker(**options)
            if key is not None:
                _by_options[key] = built
        if _default is None:
            _default = built
    return built
