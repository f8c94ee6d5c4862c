"""The tracker: an in-process buffer of hits, events and keep-alives, and the background
thread that hands them to the delivery policy (``_delivery``).

The request path calls ``Tracker.put`` only: a ``deque.append`` of a tuple of raw values,
no lock, no I/O, no formatting. The flusher thread drains that inbox, encodes each item
(``_payload``) into one queue per kind kept in time order, and sends what is pending as
full batches per kind: hits, then events, then keep-alives. A request's hit is queued
before its events, so it is never sent after them.

``max_queue`` bounds what is held (queued and not yet settled) at every instant: each
accepted item takes a token from a pool of that size and gives it back once it is sent,
rejected or filtered. ``bytearray.pop`` is atomic, so concurrent requests never overfill it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter

import httpx

from . import _registry
from ._auth import redact_url
from ._config import TrackerOptions
from ._delivery import Delivery, Outcome
from ._extract import Capture, Captured, RequestData, capturer
from ._items import KIND_NAMES, KINDS, Item
from ._logs import Throttle, logger
from ._outgoing import Outgoing
from ._payload import Encoder
from ._proxies import TrustedProxies
from ._registry import get_tracker, set_tracker
from ._version import VERSION
from ._watch import DebugLog, Watcher, show_info_lines

__all__ = ["VERSION", "Tracker", "TrackerStats", "get_tracker", "set_tracker"]

MARKER = -1  # a flush() waiting in the inbox: (MARKER, time, (), waiter)
# The flusher thread is starved when it wakes this much later than asked, or has not woken
# this long after its first timer was due (WAKE_GRACE: after a flush() woke it). uWSGI
# before 2.0.26 without --enable-threads does that: it lets threads run only while a
# request is being served (measured: the flusher ran only during requests and at exit).
STALL_GRACE = 5.0
WAKE_GRACE = 1.0
STARVED = ("This process starves its threads: uWSGI before 2.0.26 runs them only during "
           "requests unless started with --enable-threads.")
_by_time = itemgetter(1)
_kind = itemgetter(0)


@dataclass(frozen=True)
class TrackerStats:
    """A snapshot of a tracker's counters (see ``Tracker.stats``).

    ``queued == sent + failed + filtered + dropped + waiting`` at every instant; after
    ``close()``, ``waiting`` is 0.
    """

    queued: int  # handed to the tracker (page views, events, keep-alives)
    sent: int  # accepted by the API
    dropped: int  # discarded: the buffer was full, or the tracker closed with them unsent
    failed: int  # rejected by the API as invalid, or not encodable
    retried: int  # delivery attempts that failed and were scheduled again
    filtered: int  # not sent: bots, DNT, prefetches, no IP, no navigation, before_send
    waiting: int  # held: queued and not yet settled


class _Waiter:
    """A ``flush()`` call waiting for the items queued before it."""

    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = True

    def release(self, ok: bool) -> None:
        self.ok = self.ok and ok
        self.done.set()


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
        enabled: bool | None = None,
        debug: bool | None = None,
        client_ip_header: str | None = None,
        scrub_query: Iterable[str] | str | None = None,
        before_send: Callable[[Outgoing], Outgoing | None] | None = None,
        track_frames: bool | None = None,
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
            "forwarded_host": forwarded_host, "enabled": enabled, "debug": debug,
            "client_ip_header": client_ip_header, "scrub_query": scrub_query,
            "before_send": before_send, "track_frames": track_frames,
        }
        self.options = TrackerOptions.build(options, environ)
        self.enabled = self.options.enabled and self.options.credentials.configured
        if not self.options.enabled:
            logger.info("Pirsch tracking is off (enabled=False / PIRSCH_ENABLED): requests "
                        "pass through untracked")
        elif not self.enabled:
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
                                forwarded_host=self.options.forwarded_host,
                                client_ip_header=self.options.client_ip_header,
                                scrub_query=self.options.scrub_query,
                                before_send=self.options.before_send,
                                track_frames=self.options.track_frames)
        # What the request path keeps of a request for this tracker (client_ip_header's
        # value too).
        self.capture: Capture = capturer(self.options.client_ip_header)
        self._max_queue = self.options.max_queue
        self._batch_size = self.options.batch_size
        self.watcher: Watcher | None = None  # who sees what is not sent (see ``watch``)
        if self.options.debug:
            show_info_lines()
            self.watch(DebugLog())
        self._reset()
        _registry.register(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._running else "idle"
        return (f"<Tracker {state} {redact_url(self.options.base_url)} "
                f"{self.options.credentials!r}>")

    def _reset(self) -> None:
        """Fresh state: at construction, and in a child process after fork."""
        self._inbox: deque[Item] = deque()
        # A bytearray, not a deque: it is no container the garbage collector walks, which
        # for a large max_queue would cost every full collection O(max_queue).
        self._tokens = bytearray(self._max_queue)
        # Flusher-owned: per kind, (time, sequence, json) in time order.
        self._pending: tuple[list[tuple[float, int, bytes]], ...] = tuple([] for _ in KINDS)
        self._waiters: list[tuple[int, _Waiter]] = []  # (sequence, waiter)
        self._seq = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._woke = False  # the flusher thread has woken up once: it does run
        self._due = 0.0  # by when it must have woken (monotonic), once started
        self._closed = False
        self._stopping = False
        self._discarded = False  # close() gave up on the thread and counted what it held
        self._delivery = Delivery(self.options, transport=self._transport,
                                  retry_base=self._retry_base, retry_cap=self._retry_cap)
        self._retry_at = 0.0
        self._permanent = ""  # why delivery cannot succeed until something is fixed
        self._throttle = Throttle()
        self.sent = self.dropped = self.failed = self.retried = self.filtered = 0

    def watch(self, watcher: Watcher | None) -> None:
        """Report what is not sent (and, in debug mode, what is) to ``watcher``."""
        self.watcher = self._encoder.watcher = watcher

    def describe(self, is_asgi: bool, captured: Captured) -> RequestData:
        """What the flusher would read of a request (its URL, IP, headers): for watchers."""
        return self._encoder.read(is_asgi, captured)

    @property
    def running(self) -> bool:
        """The flusher thread was started (by the first item)."""
        return self._running

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the request path ---------------------------------------------------------------

    def put(self, item: Item) -> None:
        """Queue one item. O(1), no lock unless starting or full, never raises."""
        if self._closed:
            self._drop()
            return
        try:
            self._tokens.pop()
        except IndexError:
            self._drop()
            return
        inbox = self._inbox
        inbox.append(item)
        if not self._woke:
            self._before_first_wake()
        elif len(inbox) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _before_first_wake(self) -> None:
        """``put`` until the flusher has woken once: start it, or say that it never ran."""
        if not self._running:
            self._start()
            return
        queued = len(self._inbox)
        if queued >= self._batch_size:
            self._wake.set()
        # The clock costs more than the rest of put: ask it at the 1st, 2nd, 4th... item,
        # then at every 256th.
        if not queued & (queued - 1) or not queued & 0xFF:
            self._report_if_stalled()

    def _drop(self) -> None:
        with self._lock:
            self.dropped += 1
        if self._closed:
            self._throttle.log(logging.WARNING, "closed",
                               "Pirsch tracker is closed: dropping new items")
        else:
            self._throttle.log(logging.WARNING, "full", "Pirsch buffer is full (max_queue=%d):"
                               " dropping new items (%d dropped so far)", self._max_queue,
                               self.dropped)

    # -- lifecycle ----------------------------------------------------------------------

    def stats(self) -> TrackerStats:
        """Counters: ``queued == sent + failed + filtered + dropped + waiting``."""
        with self._lock:
            waiting = self._max_queue - len(self._tokens)
            counts = (self.sent, self.dropped, self.failed, self.retried, self.filtered)
        sent, dropped, failed, retried, filtered = counts
        return TrackerStats(queued=sent + failed + filtered + dropped + waiting, sent=sent,
                            dropped=dropped, failed=failed, retried=retried,
                            filtered=filtered, waiting=waiting)

    def log_summary(self, when: str) -> None:
        """One line saying what became of everything queued: at INFO when all of it was
        delivered or filtered, else at WARNING."""
        stats = self.stats()
        if not stats.queued:
            return
        lost = stats.dropped or stats.failed or stats.waiting
        logger.log(logging.WARNING if lost else logging.INFO,
                   "Pirsch %s: %d queued, %d sent, %d filtered, %d failed, %d dropped, "
                   "%d unsent", when, stats.queued, stats.sent, stats.filtered, stats.failed,
                   stats.dropped, stats.waiting)

    def _start(self) -> None:
        with self._lock:
            if self._running or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="pirsch-flusher",
                                            daemon=True)
            self._due = time.monotonic() + self.options.flush_interval + STALL_GRACE
            self._running = True
            self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued so far; wait at most ``timeout`` seconds.

        Returns True when all of it is settled (accepted, rejected as invalid or
        filtered), False on timeout (the API is slow or unreachable: the items stay
        queued) and at once after one attempt when delivery fails for a reason waiting
        cannot heal (refused credentials, a wrong base URL).
        """
        if len(self._tokens) == self._max_queue:
            return True
        if threading.current_thread() is self._thread:
            return False
        waiter = _Waiter()
        self._inbox.append((MARKER, time.time(), (), waiter))
        if self._permanent:
            self._retry_at = 0.0  # one attempt now: the credentials may have been fixed
        if not self._running:
            self._start()
        if not self._woke:
            self._due = min(self._due, time.monotonic() + WAKE_GRACE)
        self._wake.set()
        if waiter.done.wait(max(0.0, timeout)):
            return waiter.ok
        if not self._woke:
            self._report_if_stalled()
        return False

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
        with self._lock:
            self._discarded = True
            left = self._max_queue - len(self._tokens)
            self.dropped += left
            self._inbox.clear()
            for pending in self._pending:
                pending.clear()
            self._tokens.extend(bytes(left))
            waiters, self._waiters = self._waiters, []
        for _, waiter in waiters:
            waiter.release(False)
        if left:
            logger.warning("Pirsch tracker closed with %d unsent item(s)", left)
        self.log_summary("tracker closed")
        if thread is None or not thread.is_alive():
            self._delivery.close()
        return flushed and not left

    def _report_if_stalled(self) -> None:
        """From a request or a flush(): warn when the flusher thread was started, is
        overdue and has never woken. What runs is measured, not guessed from the server's
        options (uWSGI 2.0.26 and later run threads without ``--enable-threads``)."""
        if self._woke or not self._running or time.monotonic() < self._due:
            return
        self._throttle.log(logging.WARNING, "starved", "Pirsch's flusher thread has not run "
                           "since it was started: nothing has been sent (%d item(s) "
                           "waiting). %s", self._max_queue - len(self._tokens), STARVED)

    def _after_fork(self) -> None:
        self._delivery.abandon()
        self._reset()

    # -- the flusher thread -------------------------------------------------------------

    def _run(self) -> None:
        interval = self.options.flush_interval
        while True:
            wait = interval
            if self._retry_at:
                wait = min(interval, max(0.0, self._retry_at - time.monotonic()))
            asleep = time.monotonic()
            self._wake.wait(wait)
            self._wake.clear()
            self._woke = True
            late = time.monotonic() - asleep - wait
            if late > STALL_GRACE:
                self._throttle.log(logging.WARNING, "starved", "Pirsch's flusher thread woke "
                                   "%.0f s late: what is queued waits that long to be sent. "
                                   "%s", late, STARVED)
            try:
                self._drain()
                self._deliver()
            except Exception as exc:  # a bug here must not end delivery for the process
                if self._throttle.log(logging.WARNING, "flusher",
                                      "Pirsch flusher error: %r", exc):
                    logger.debug("flusher error", exc_info=True)
                self._retry_at = time.monotonic() + self._retry_cap
            if self._stopping:
                self._delivery.close()
                return

    def _drain(self) -> None:
        inbox = self._inbox
        count = len(inbox)
        if not count:
            return
        batch = list(map(deque.popleft, repeat(inbox, count)))  # popleft, count times
        # FIFO order is response order; Pirsch needs time order. Requests overlap, so a
        # stable sort restores time order and keeps each request's hit before its events.
        # A flush marker sorts after everything queued before it, whatever its time.
        if MARKER in map(_kind, batch):
            latest = 0.0
            for index, item in enumerate(batch):
                if item[1] > latest:
                    latest = item[1]
                if item[0] == MARKER:
                    batch[index] = (MARKER, latest, (), item[3])
        batch.sort(key=_by_time)
        fresh: tuple[list[tuple[float, int, bytes]], ...] = tuple([] for _ in KINDS)
        waiters: list[tuple[int, _Waiter]] = []
        encode, seq, failed, filtered = self._encoder.encoder(), self._seq, 0, 0
        for item in batch:
            seq += 1
            kind = item[0]
            if kind == MARKER:
                waiters.append((seq, item[3]))
                continue
            try:
                data = encode(item)
            except Exception:
                logger.exception("Pirsch: could not encode a %s; skipped", KIND_NAMES[kind])
                failed += 1
                continue
            if data is None:
                filtered += 1
            else:
                fresh[kind].append((item[1], seq, data))
        self._seq = seq
        with self._lock:
            if self._discarded:
                return
            for pending, entries in zip(self._pending, fresh, strict=True):
                if entries:
                    out_of_order = pending and entries[0] < pending[-1]
                    pending += entries
                    if out_of_order:  # a slow request from an earlier drain: merge
                        pending.sort()
            self.failed += failed
            self.filtered += filtered
            self._tokens.extend(bytes(failed + filtered))
            self._waiters += waiters
        self._release_waiters()

    def _deliver(self) -> None:
        for kind in KINDS:
            pending = self._pending[kind]
            while pending:
                if self._retry_at and time.monotonic() < self._retry_at:
                    return
                count = len(pending)
                outcome = self._delivery.send(kind, [entry[2] for entry in pending])
                with self._lock:
                    if self._discarded:
                        return
                    settled = outcome.settled
                    del pending[:settled]
                    self._tokens.extend(bytes(settled))
                    self.sent += outcome.sent
                    self.failed += outcome.failed
                if settled < count:
                    self._schedule_retry(outcome)
                    return
                self._retry_at, self._permanent = 0.0, ""
                self._release_waiters()
                if self.options.debug:
                    logger.info("Pirsch debug: %d %s(s) accepted by %s", outcome.sent,
                                KIND_NAMES[kind], redact_url(self.options.base_url))

    def _schedule_retry(self, outcome: Outcome) -> None:
        self.retried += 1
        self._retry_at = time.monotonic() + outcome.retry_in
        waiting = self._max_queue - len(self._tokens)
        if outcome.permanent:
            self._permanent = outcome.problem
            self._throttle.log(
                logging.ERROR, "permanent", "Pirsch cannot deliver: %s. %d item(s) kept (at "
                "most max_queue=%d); trying again every %.0f s", outcome.problem, waiting,
                self._max_queue, outcome.retry_in)
            with self._lock:
                waiters, self._waiters = self._waiters, []
            for _, waiter in waiters:
                waiter.release(False)  # waiting cannot help: do not hold up a shutdown
        else:
            self._permanent = ""
            self._throttle.log(logging.WARNING, "retry", "Pirsch delivery failed (%s); %d "
                               "item(s) waiting, retrying in %.1f s", outcome.problem,
                               waiting, outcome.retry_in)
        self._release_waiters()

    def _release_waiters(self) -> None:
        """Release the flush() calls whose items are all settled."""
        if not self._waiters:
            return
        with self._lock:
            oldest = min((entry[1] for pending in self._pending for entry in pending),
                         default=None)
            done = [w for w in self._waiters if oldest is None or w[0] < oldest]
            self._waiters = [w for w in self._waiters if not (oldest is None or w[0] < oldest)]
        for _, waiter in done:
            waiter.release(True)
