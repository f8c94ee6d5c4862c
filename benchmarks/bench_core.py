"""Benchmark of the tracking core. Prints figures; run with ``python benchmarks/bench_core.py``.

1. Request path: per-request time of a bare WSGI and ASGI app, and of the same app
   wrapped in the Pirsch middleware, for a tracked page view and an untracked request;
   of ``Floor``, the least a WSGI tracker can do for a page view; and of a no-op
   middleware, the yardstick of an untracked request.
   The flusher is parked (a long flush interval) so only the request path is timed; the
   inbox is cleared every 250 requests, as a serving tracker's flusher takes it at its
   default batch size (a queue grown to 50,000 items would slow the collector down).
   Each row's chunks of 10,000 requests alternate with json.dumps of one hit, round
   after round, and each round's added time is divided by the json.dumps next to it.
2. Enqueue: ``Tracker.put`` against a bare ``deque.append`` of the same tuple.
3. Flusher: reading and encoding one queued hit (WSGI and ASGI), against json.dumps of
   the finished payload dict alone.
4. Memory per queued hit: raw (as queued) and encoded (as held through an outage).
5. Delivery: hits/s from ``put`` to accepted by a local receiver in another process,
   against one synchronous POST per hit to the same receiver.
6. Process CPU per delivered hit: page views through the WSGI and ASGI middleware into a
   tracker that delivers to a local sink in another process, all of this process's
   threads (request path, queue, the flusher's reading, encoding and sending), over the
   same requests served by the bare app, against ``json.dumps`` of one finished hit dict
   timed in the same rounds. Each chunk gets requests made afresh, as a server makes
   them: values whose hashes nobody has computed yet.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

# This checkout's package, not one installed from another (an editable install elsewhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from bench_servers import SINK, machine

from pirsch_middleware import Tracker, TrustedProxies
from pirsch_middleware._extract import capture
from pirsch_middleware._items import Item, page_view
from pirsch_middleware._payload import Encoder
from pirsch_middleware.asgi import PirschMiddleware as ASGIMiddleware
from pirsch_middleware.wsgi import PirschMiddleware as WSGIMiddleware

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
     "Chrome/120.0.0.0 Safari/537.36"
HEADERS = {
    "HTTP_HOST": "example.com", "HTTP_USER_AGENT": UA,
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8",
    "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9", "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
    "HTTP_REFERER": "https://www.example.org/", "HTTP_CONNECTION": "keep-alive",
    "HTTP_SEC_CH_UA": '"Chromium";v="120"', "HTTP_SEC_CH_UA_MOBILE": "?0",
    "HTTP_SEC_CH_UA_PLATFORM": '"Windows"', "HTTP_COOKIE": "session=abc123",
}


def environ(path: str, method: str = "GET") -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "a=1",
        "SERVER_NAME": "example.com", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "50000", "RAW_URI": path + "?a=1",
        "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.input": None,
        "wsgi.errors": sys.stderr,
    }
    env.update(HEADERS)
    return env


def scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"a=1", "client": ("203.0.113.9", 50000), "server": ("example.com", 80),
        "headers": [(k[5:].lower().replace("_", "-").encode(), v.encode())
                    for k, v in HEADERS.items()],
    }


RESPONSE_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "13"),
                    ("Cache-Control", "no-cache")]
BODY = [b"<html></html>"]


def wsgi_app(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", RESPONSE_HEADERS)
    return BODY


ASGI_START = {"type": "http.response.start", "status": 200,
              "headers": [(k.lower().encode(), v.encode()) for k, v in RESPONSE_HEADERS]}
ASGI_BODY = {"type": "http.response.body", "body": BODY[0]}


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send(ASGI_START)
    await send(ASGI_BODY)


def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    return None


async def receive() -> dict[str, Any]:
    return {"type": "http.request"}


async def send(message: Any) -> None:
    return None


BATCH = 250  # the default batch_size: a serving tracker's flusher takes its inbox this often


def _nothing() -> None:
    return None


def call_wsgi(app: Any, env: dict[str, Any], count: int,
              drain: Callable[[], None] = _nothing) -> None:
    """``count`` calls, and ``drain`` after every ``BATCH`` (what a flusher would take)."""
    for _ in range(count // BATCH):
        for _ in range(BATCH):
            app(env, start_response)
        drain()


def call_asgi(app: Any, sc: dict[str, Any], count: int,
              drain: Callable[[], None] = _nothing) -> None:
    async def loop() -> None:
        for _ in range(count // BATCH):
            for _ in range(BATCH):
                await app(sc, receive, send)
            drain()

    asyncio.run(loop())


def per_call(fn: Callable[[int], None], n: int, rounds: int, reset: Callable[[], None]) -> float:
    """Best-of-rounds median time per call, in microseconds."""
    samples = []
    for _ in range(rounds):
        reset()
        gc.collect()
        started = time.perf_counter_ns()
        fn(n)
        samples.append((time.perf_counter_ns() - started) / n / 1000)
    samples.sort()
    return statistics.median(samples[: max(1, rounds // 2 + 1)])


def parked_tracker() -> Tracker:
    """A tracker whose flusher never runs: only the request path does. It passes for one
    whose flusher has woken once, as a serving tracker's has: otherwise every ``put``
    would also check that the thread runs, which only the first ones do in production
    (and under valgrind a sleeping thread costs instructions)."""
    tracker = Tracker(access_key="pa_bench", base_url="http://127.0.0.1:9", environ={},
                      flush_interval=3600, batch_size=10**7, max_queue=10**7)
    tracker._woke = True
    return tracker


class Fresh:
    """Between rounds, a fresh tracker for the middlewares, so what the last round queued
    is not carried along (closing the old one counts it as dropped)."""

    def __init__(self, *middlewares: Any) -> None:
        self.middlewares = list(middlewares)
        self.tracker = parked_tracker()

    def __call__(self) -> None:
        old, self.tracker = self.tracker, parked_tracker()
        for middleware in self.middlewares:
            middleware.tracker = self.tracker
        old.close(0)


class Floor:
    """The least a WSGI tracker can do for a page view: capture the same 31 environ
    values, make the request current in a context variable, wrap ``start_response`` to see
    a 2xx HTML response, and append the item. No excluded paths, no count-once check, no
    bound on the queue, no lifecycle shared with other integrations: a yardstick for
    what those cost, not something to ship."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.inbox: deque[Item] = deque()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 ) -> Iterable[bytes]:
        item = (0, time.time(), capture(False, environ))  # as the middleware captures
        token = FLOOR_CURRENT.set(item)
        inbox = self.inbox

        def observe(status: str, headers: list[tuple[str, str]], exc_info: Any = None,
                    ) -> Any:
            if status[:1] == "2":
                for name, value in headers:
                    if len(name) == 12 and name.lower() == "content-type":
                        if value.startswith("text/html"):
                            inbox.append(item)
                        break
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, observe)
        finally:
            FLOOR_CURRENT.reset(token)


FLOOR_CURRENT: ContextVar[Item | None] = ContextVar("floor", default=None)


def timed(fn: Callable[[int], None], n: int, reset: Callable[[], None]) -> float:
    """Time per call of one chunk of ``n`` calls, in microseconds."""
    reset()
    gc.collect()
    started = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - started) / n / 1000


# A request-path row: (label, bare µs, with Pirsch µs, added / json.dumps), each the
# median over the rounds of that round's chunks.
PathRow = tuple[str, float, float, float]


def bench_request_path(n: int, rounds: int) -> tuple[list[PathRow], float]:
    """Each row's chunks alternate with json.dumps, round after round: on a shared
    machine the speed drifts by half within seconds, so each round's added time is
    divided by the json.dumps timed next to it. Returns the rows and json.dumps' µs."""
    variants: list[tuple[str, Callable[[int], None], Callable[[int], None], Fresh]] = []
    for label, path, method in (("tracked page view", "/pricing", "GET"),
                                ("untracked (POST)", "/signup", "POST"),
                                ("untracked (static)", "/static/app.css", "GET")):
        env, sc = environ(path, method), scope(path, method)
        wrapped_wsgi = WSGIMiddleware(wsgi_app, tracker=parked_tracker())
        wrapped_asgi = ASGIMiddleware(asgi_app, tracker=parked_tracker())
        reset = Fresh(wrapped_wsgi, wrapped_asgi)

        def drain(reset: Fresh = reset) -> None:  # the flusher's part: not timed here
            reset.tracker._inbox.clear()

        bare_wsgi, bare_asgi = partial(call_wsgi, wsgi_app, env), partial(call_asgi, asgi_app, sc)
        variants.append((f"WSGI {label}", bare_wsgi,
                         partial(call_wsgi, wrapped_wsgi, env, drain=drain), reset))
        if label == "tracked page view":
            floor = Floor(wsgi_app)
            variants.append(("WSGI the floor (see Floor)", bare_wsgi,
                             partial(call_wsgi, floor, env, drain=floor.inbox.clear), reset))
        variants.append((f"ASGI {label}", bare_asgi,
                         partial(call_asgi, wrapped_asgi, sc, drain=drain), reset))
        if label == "untracked (POST)":  # the yardstick of an untracked request
            variants.append(("WSGI no-op middleware (POST)", bare_wsgi,
                             partial(call_wsgi, NoopWSGI(wsgi_app), env), reset))
            variants.append(("ASGI no-op middleware (POST)", bare_asgi,
                             partial(call_asgi, NoopASGI(asgi_app), sc), reset))
    samples: list[list[tuple[float, float, float]]] = [[] for _ in variants]
    for _ in range(rounds):
        for (_, bare, wrapped, reset), kept in zip(variants, samples, strict=True):
            dumps = timed(dumps_hit, n, _nothing)
            bare_us = timed(bare, n, reset)
            kept.append((dumps, bare_us, timed(wrapped, n, reset)))
    for *_, reset in variants:
        reset.tracker.close(0)
    rows = [(label, statistics.median(b for _, b, _ in kept),
             statistics.median(w for _, _, w in kept),
             statistics.median((w - b) / d for d, b, w in kept))
            for (label, *_), kept in zip(variants, samples, strict=True)]
    return rows, statistics.median(d for kept in samples for d, _, _ in kept)


class NoopWSGI:
    """A WSGI middleware that does nothing: what an untracked request is held against."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 ) -> Iterable[bytes]:
        return self.app(environ, start_response)


class NoopASGI:
    """An ASGI middleware that does nothing."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def bench_enqueue(n: int, rounds: int) -> tuple[float, float]:
    item = page_view(environ("/x"))
    fresh = Fresh()
    plain: deque[Item] = deque()

    def put_plain(count: int) -> None:
        append = plain.append
        for _ in range(count):
            append(item)

    def put_tracker(count: int) -> None:
        put = fresh.tracker.put
        for _ in range(count):
            put(item)

    def reset() -> None:
        plain.clear()
        fresh()

    result = (per_call(put_plain, n, rounds, reset), per_call(put_tracker, n, rounds, reset))
    fresh.tracker.close(0)
    return result


def bench_encode(n: int, rounds: int) -> list[tuple[str, float, float]]:
    """Per item: what the flusher calls per item (``Encoder.encoder()``: read URL/IP/
    headers, filter, JSON) of a queued WSGI and ASGI hit, and json.dumps of the payload
    it produces (the baseline: formatting alone)."""
    encoder = Encoder(TrustedProxies())
    rows = []
    for label, request in (("WSGI", environ("/pricing")), ("ASGI", scope("/pricing"))):
        item = page_view(request)
        encoded = encoder.encode(item)
        assert encoded is not None
        payload = json.loads(encoded)

        def encode(count: int, item: Item = item) -> None:
            encode_one = encoder.encoder()
            for _ in range(count):
                encode_one(item)

        def dumps(count: int, payload: dict[str, Any] = payload) -> None:
            for _ in range(count):
                json.dumps(payload).encode()

        rows.append((f"{label} hit", per_call(dumps, n, rounds, lambda: None),
                     per_call(encode, n, rounds, lambda: None)))
    return rows


class Keeper(Tracker):
    """Keeps what the middleware queues in a list of its own, to be weighed."""

    def __init__(self) -> None:
        super().__init__(access_key="pa_bench", base_url="http://127.0.0.1:9", environ={})
        self.kept: list[Item] = []

    def put(self, item: Item) -> None:
        self.kept.append(item)


def bench_memory(n: int) -> tuple[float, float]:
    """Bytes per queued hit: as the request path leaves it (the item and what it keeps of
    the request), and as the flusher holds it through an outage (time, sequence, JSON).
    What the request path and the flusher keep per path, browser and visitor (bounded
    caches, not per hit) is filled beforehand by the same requests, and not counted."""
    keeper = Keeper()
    app = WSGIMiddleware(wsgi_app, tracker=keeper)
    envs = [environ(f"/page/{i % 400}") for i in range(n)]  # each has its own environ
    encode = Encoder(TrustedProxies()).encode
    for env in envs[:400]:  # the caches: what repeats, kept once
        app(env, start_response)
    for item in keeper.kept:
        encode(item)
    keeper.kept.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for env in envs:
        app(env, start_response)
    raw = (tracemalloc.get_traced_memory()[0] - before) / n
    del envs
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    held = [(item[1], seq, encode(item)) for seq, item in enumerate(keeper.kept)]
    keeper.kept.clear()  # the captured values are released once encoded
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    encoded = raw + (after - before) / n
    del held
    keeper.close(0)
    return raw, encoded


def start_receiver() -> tuple[subprocess.Popen[str], str, str]:
    """The loopback receiver in its own process, so it does not share our GIL."""
    access_key = "pa_benchmark"
    process = subprocess.Popen(
        [sys.executable, "-m", "pirsch_middleware.devserver", "--port", "0",
         "--access-key", access_key], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base_url = process.stdout.readline().split()[-1]
    # it prints a line per item: keep reading so a full pipe never stalls it
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, base_url, access_key


def bench_delivery(n: int) -> tuple[float, float]:
    process, base_url, access_key = start_receiver()
    try:
        tracker = Tracker(access_key=access_key, base_url=base_url, environ={},
                          max_queue=n + 1, batch_size=100)
        items = [page_view(environ(f"/p/{i}")) for i in range(n)]
        started = time.perf_counter()
        for item in items:
            tracker.put(item)
        assert tracker.flush(120), tracker.stats()
        batched = n / (time.perf_counter() - started)
        assert tracker.stats().sent == n, tracker.stats()
        tracker.close(5)
        # the baseline: what an SDK without a buffer does, one POST per hit
        sync_n = min(n, 500)
        body = b'{"url":"http://example.com/","ip":"203.0.113.9","user_agent":"' + \
            UA.encode() + b'"}'
        with httpx.Client(headers={"Authorization": f"Bearer {access_key}",
                                   "Content-Type": "application/json"}) as client:
            started = time.perf_counter()
            for _ in range(sync_n):
                client.post(base_url + "/api/v1/hit", content=body).raise_for_status()
            one_by_one = sync_n / (time.perf_counter() - started)
        return batched, one_by_one
    finally:
        process.terminate()
        process.wait(10)


# The baseline of the in-process targets: json.dumps of one finished hit (issue 13).
ONE_HIT = {"url": "http://example.com/pricing?a=1", "ip": "203.0.113.9", "user_agent": UA,
           "accept_language": "en-US,en;q=0.9", "referrer": "https://www.example.org/",
           "time": "2024-05-06T07:08:09.123456Z"}
AGENTS = (UA,
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
          "Gecko) Version/17.4 Safari/605.1.15",
          "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
          "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Mobile Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
LANGUAGES = ("en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "en-GB,en;q=0.7")
SINK_KEY = "pa_benchmark_sink"
ADDRESSES = [f"198.{18 + k // 62500}.{k // 250 % 250}.{k % 250 + 1}" for k in range(100_000)]
CLIENTS = [(address, 50000) for address in ADDRESSES]


def visitor_environ(i: int) -> dict[str, Any]:
    """Request ``i`` of a varied stream: 400 pages, 5 user agents, 4 languages and a new
    visitor address every 3 requests (caches of repeated values see real hit rates)."""
    env = environ(f"/blog/post-{i % 400}")
    visitor = i // 3
    env.update(REMOTE_ADDR=f"198.51.{visitor // 250 % 250}.{visitor % 250 + 1}",
               HTTP_USER_AGENT=AGENTS[visitor % len(AGENTS)],
               HTTP_ACCEPT_LANGUAGE=LANGUAGES[visitor % len(LANGUAGES)])
    if i % 2:
        del env["HTTP_REFERER"]
    return env


def visitor_scope(i: int) -> dict[str, Any]:
    env = visitor_environ(i)
    sc = scope(env["PATH_INFO"])
    sc["client"] = (env["REMOTE_ADDR"], 50000)
    sc["headers"] = [(k[5:].lower().replace("_", "-").encode(), v.encode())
                     for k, v in env.items() if k.startswith("HTTP_")]
    return sc


def dumps_hit(count: int) -> None:
    dumps, hit = json.dumps, ONE_HIT
    for _ in range(count):
        dumps(hit)


def thread_cpu(thread: threading.Thread | None) -> float | None:
    """CPU seconds used so far by ``thread`` (of this process); None where there is no
    /proc."""
    if thread is None or thread.native_id is None:
        return None
    try:
        with open(f"/proc/self/task/{thread.native_id}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def fresh(value: Any) -> Any:
    """An equal copy of a str or bytes value, as a server parses it anew for each request
    (its hash not computed yet, its characters compared rather than its identity)."""
    if isinstance(value, str):
        return "".join(list(value)) if value else value
    if isinstance(value, bytes):
        return bytes(bytearray(value))
    return value


def fresh_environ(i: int) -> dict[str, Any]:
    """``visitor_environ(i)`` as a server makes it: the values and the HTTP_ keys (built
    from the header names) parsed anew, the other keys the server's literals."""
    return {fresh(key) if key.startswith("HTTP_") else key: fresh(value)
            for key, value in visitor_environ(i).items()}


def fresh_scope(i: int) -> dict[str, Any]:
    sc = visitor_scope(i)
    sc["headers"] = [(fresh(name), fresh(value)) for name, value in sc["headers"]]
    sc["path"], sc["raw_path"] = fresh(sc["path"]), fresh(sc["raw_path"])
    return sc


class Delivering:
    """Page views through a middleware into a tracker that delivers to the sink, or
    (``tracker`` None) through the bare app."""

    def __init__(self, is_asgi: bool, base_url: str | None, n: int) -> None:
        self.is_asgi = is_asgi
        self.tracker = None if base_url is None else Tracker(
            access_key=SINK_KEY, base_url=base_url, environ={}, max_queue=n + 1)
        if self.tracker is None:
            self.app: Any = asgi_app if is_asgi else wsgi_app
        elif is_asgi:
            self.app = ASGIMiddleware(asgi_app, tracker=self.tracker)
        else:
            self.app = WSGIMiddleware(wsgi_app, tracker=self.tracker)
        self.served = 0

    def serve(self, requests: list[dict[str, Any]]) -> None:
        """Page views of ``requests``; a new visitor address every 3, from a list longer
        than the address caches, as on a busy site."""
        app, first = self.app, self.served
        self.served += len(requests)
        if not self.is_asgi:
            for i, env in enumerate(requests, first):
                env["REMOTE_ADDR"] = ADDRESSES[i // 3 % len(ADDRESSES)]
                app(env, start_response)
            return

        async def loop() -> None:
            for i, sc in enumerate(requests, first):
                sc["client"] = CLIENTS[i // 3 % len(CLIENTS)]
                await app(sc, receive, send)

        asyncio.run(loop())

    def measure(self, n: int) -> float:
        """Process CPU µs per request to serve ``n`` page views, made afresh, and deliver
        their hits."""
        make = fresh_scope if self.is_asgi else fresh_environ
        requests = [make(self.served + i) for i in range(n)]
        tracker = self.tracker
        sent = 0 if tracker is None else tracker.stats().sent
        gc.collect()
        started = time.process_time()
        self.serve(requests)
        if tracker is not None:
            assert tracker.flush(120), tracker.stats()
        total = time.process_time() - started
        if tracker is not None:
            assert tracker.stats().sent - sent == n, tracker.stats()
        return total / n * 1e6


CHUNK = 2_000  # page views per measurement: 8 batches of the default 250
Row = tuple[str, list[float], list[float], list[float], list[float]]


def bench_process_cpu(n: int, rounds: int) -> list[Row]:
    """In threes, interleaved: ``CHUNK`` json.dumps of one hit, then ``CHUNK`` requests
    served by the bare app, then ``CHUNK`` page views served and delivered (WSGI, then
    ASGI). On a shared machine the CPU a thing costs drifts by half within seconds; short,
    alternating chunks see the same machine, and the lowest of many is what the code costs
    when nothing else intrudes. Rows: (label, json.dumps µs per chunk, bare µs per chunk,
    process µs per chunk, flusher µs per round)."""
    process = subprocess.Popen([sys.executable, "-c", SINK, SINK_KEY], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        variants = [("WSGI", Delivering(False, None, n), Delivering(False, base_url, n)),
                    ("ASGI", Delivering(True, None, n), Delivering(True, base_url, n))]
        for _, bare, variant in variants:  # warm up: the thread, the imports, the connection
            bare.measure(CHUNK)
            variant.measure(CHUNK)
        rows: list[Row] = [(label, [], [], [], []) for label, _, _ in variants]
        for _ in range(rounds):
            for (_, bare, variant), (_, dumps, bares, totals, flushers) in zip(
                    variants, rows, strict=True):
                assert variant.tracker is not None
                thread = variant.tracker._thread  # the flusher, started by the warm-up
                flusher = thread_cpu(thread)
                for _ in range(max(1, n // CHUNK)):
                    gc.collect()
                    started = time.process_time()
                    dumps_hit(CHUNK)
                    dumps.append((time.process_time() - started) / CHUNK * 1e6)
                    bares.append(bare.measure(CHUNK))
                    totals.append(variant.measure(CHUNK))
                after = thread_cpu(thread)
                if flusher is not None and after is not None:
                    flushers.append((after - flusher) / (max(1, n // CHUNK) * CHUNK) * 1e6)
        for _, _, variant in variants:
            assert variant.tracker is not None
            variant.tracker.close(5)
        return rows
    finally:
        process.terminate()
        process.wait(10)


def print_process_cpu(rows: list[Row]) -> None:
    print(f"\n{'process CPU per delivered hit':30} {'json.dumps':>10} {'bare app':>8} "
          f"{'all threads':>11} {'added':>6} {'ratio':>6} {'(quartiles)':>12}   "
          f"{'flusher share':>13}")
    for label, dumps, bares, totals, flushers in rows:
        ratios = sorted((total - bare) / baseline for baseline, bare, total
                        in zip(dumps, bares, totals, strict=True))
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        added = sorted(total - bare for bare, total in zip(bares, totals, strict=True))
        share = statistics.median(flushers) / statistics.median(added) if flushers else None
        print(f"{label + ' page view':30} {min(dumps):10.2f} {min(bares):8.2f} "
              f"{min(totals):11.2f} {added[0]:6.2f} {quartiles[1]:6.2f} "
              f"({quartiles[0]:.2f}-{quartiles[2]:.2f})   "
              f"{'-' if share is None else f'{share:.0%}':>13}")
    print(f"µs: the lowest of {len(rows[0][1])} alternating chunks of {CHUNK:,} requests, "
          "each made afresh;\nall threads: the request path, the queue, and the flusher "
          "(reading, encoding,\nsending to a local sink in another process); added: all "
          "threads less the bare app\nserving the same requests, chunk by chunk. Ratio: "
          "the median of each chunk's\nadded / json.dumps, and its quartiles. Flusher "
          "share: of the added CPU, from /proc.\nTargets: 3.5x, and 12 µs on a quiet "
          "machine.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (CI smoke)")
    parser.add_argument("--cpu-only", action="store_true",
                        help="only the process CPU per delivered hit (section 6)")
    args = parser.parse_args(argv)
    # Trackers are closed between rounds with what they queued unsent: expected here.
    logging.getLogger("pirsch_middleware").setLevel(logging.ERROR)
    n, rounds, hits = (2_000, 3, 2_000) if args.quick else (50_000, 7, 20_000)
    print(f"{machine()}\n{n} requests x {rounds} rounds")
    if args.cpu_only:
        print_process_cpu(bench_process_cpu(hits, rounds))
        return 0
    print()
    print(f"{'request path':32} {'bare µs':>9} {'with Pirsch':>12} {'added µs':>9} {'ratio':>6} "
          f"{'added/dumps':>11}")
    # shorter chunks, more rounds: whole batches of requests each
    rows, dumps = bench_request_path(max(BATCH, n // 5 // BATCH * BATCH), rounds * 3)
    for label, bare, wrapped, ratio in rows:
        print(f"{label:32} {bare:9.2f} {wrapped:12.2f} {wrapped - bare:9.2f} "
              f"{wrapped / bare:6.2f} {ratio:11.2f}")
    print(f"(json.dumps of one hit: {dumps:.2f} µs, timed next to each chunk; added/dumps: "
          "the median of\nthe rounds' ratios; target for a tracked page view: at most 1.0)")
    times = {label: wrapped for label, _, wrapped, _ in rows}
    over = [times[f"{kind} untracked (POST)"] - times[f"{kind} no-op middleware (POST)"]
            for kind in ("WSGI", "ASGI")]
    print(f"untracked (POST) over the no-op middleware: WSGI {over[0]:+.2f} µs, ASGI "
          f"{over[1]:+.2f} µs (target: within 1 µs)")
    plain, put = bench_enqueue(n, rounds)
    print(f"\nenqueue: Tracker.put {put:.3f} µs, deque.append {plain:.3f} µs "
          f"(ratio {put / plain:.2f})")
    print(f"\n{'flusher, per queued hit':32} {'json.dumps':>9} {'read+encode':>12} "
          f"{'ratio':>6}")
    for label, baseline, ours in bench_encode(n, rounds):
        print(f"{label:32} {baseline:9.2f} {ours:12.2f} {ours / baseline:6.2f}")
    raw, encoded = bench_memory(min(n, 10_000))
    print(f"\nmemory per queued hit: {raw:.0f} B as queued, {encoded:.0f} B once encoded")
    batched, one_by_one = bench_delivery(hits)
    print(f"delivery to a local receiver: {batched:,.0f} hits/s batched, "
          f"{one_by_one:,.0f} hits/s one POST per hit (ratio {batched / one_by_one:.1f})")
    print_process_cpu(bench_process_cpu(hits, rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
