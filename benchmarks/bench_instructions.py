"""Instructions per call, counted by valgrind's callgrind: figures that do not drift with
the load of a shared machine. Run with ``python benchmarks/bench_instructions.py``.

Time on a 2-vCPU VM drifts by a third within seconds; the number of instructions a call
executes does not. Each variant runs in a process of its own under callgrind twice, with
``SHORT`` and ``LONG`` calls; the difference, over ``LONG - SHORT``, is what one call costs
(start-up and imports cancel out). The baseline is the one bench_core uses: json.dumps of
one finished hit, counted the same way. Instructions are not time (C code such as
json.dumps runs more of them per cycle than the interpreter does), but a change that
removes instructions removes time.

Needs valgrind (``apt-get install valgrind``); says so and exits where it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

# This checkout's package, not one installed from another (an editable install elsewhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_core import (
    BATCH,
    ONE_HIT,
    Floor,
    NoopASGI,
    NoopWSGI,
    asgi_app,
    call_asgi,
    call_wsgi,
    environ,
    fresh_environ,
    fresh_scope,
    parked_tracker,
    receive,
    scope,
    send,
    start_response,
    wsgi_app,
)
from bench_peers import LABELS
from bench_peers import SERVERS as PEER_SERVERS
from bench_servers import Receiver, load, server

from pirsch_middleware._items import page_view
from pirsch_middleware.asgi import PirschMiddleware as ASGIMiddleware
from pirsch_middleware.wsgi import PirschMiddleware as WSGIMiddleware

# The difference of 5,000 calls (start-up noise is a few million instructions), in
# whole batches of bench_core's BATCH.
SHORT, LONG = BATCH, 21 * BATCH
STREAM = LONG  # requests prepared for the stream variants: each served once


def _dumps(n: int) -> None:
    dumps = json.dumps
    for _ in range(n):
        dumps(ONE_HIT)


def _wsgi(path: str, method: str, tracked: bool) -> Callable[[int], None]:
    env = environ(path, method)
    tracker = parked_tracker()
    app: Any = WSGIMiddleware(wsgi_app, tracker=tracker) if tracked else wsgi_app
    # The inbox cleared every BATCH calls, as bench_core does (and a flusher would).
    return partial(call_wsgi, app, env, drain=tracker._inbox.clear)


def _floor() -> Callable[[int], None]:
    floor = Floor(wsgi_app)
    return partial(call_wsgi, floor, environ("/pricing", "GET"), drain=floor.inbox.clear)


def _asgi(path: str, method: str, tracked: bool) -> Callable[[int], None]:
    sc = scope(path, method)
    tracker = parked_tracker()
    app: Any = ASGIMiddleware(asgi_app, tracker=tracker) if tracked else asgi_app
    return partial(call_asgi, app, sc, drain=tracker._inbox.clear)


def _encode(is_asgi: bool) -> Callable[[int], None]:
    tracker = parked_tracker()
    item = page_view(scope("/pricing") if is_asgi else environ("/pricing"))
    encode = tracker._encoder.encoder()  # what the flusher calls per item
    encode(item)  # warm: what repeats is kept

    def run(n: int) -> None:
        for _ in range(n):
            encode(item)

    return run


def _stream(is_asgi: bool) -> Callable[[int], None]:
    """Served and encoded: bench_core's stream of visitors (400 pages, 5 browsers, a new
    visitor every three requests, each made afresh), through the middleware and the
    flusher's reading and encoding, without the network."""
    tracker = parked_tracker()
    requests = [(fresh_scope if is_asgi else fresh_environ)(i) for i in range(STREAM)]

    def run(n: int) -> None:
        if is_asgi:
            app: Any = ASGIMiddleware(asgi_app, tracker=tracker)

            async def loop() -> None:
                for i in range(n):
                    sc = requests[i % STREAM]
                    sc["client"] = (f"198.18.{i // 3 // 250 % 250}.{i // 3 % 250 + 1}", 50000)
                    await app(sc, receive, send)

            asyncio.run(loop())
        else:
            app = WSGIMiddleware(wsgi_app, tracker=tracker)
            for i in range(n):
                env = requests[i % STREAM]
                env["REMOTE_ADDR"] = f"198.18.{i // 3 // 250 % 250}.{i // 3 % 250 + 1}"
                app(env, start_response)
        tracker._drain()

    return run


# name -> (what to run, the variant whose count is subtracted: the bare app)
VARIANTS: dict[str, tuple[Callable[[], Callable[[int], None]], str | None]] = {
    "json.dumps of one hit": (lambda: _dumps, None),
    "WSGI bare app": (lambda: _wsgi("/pricing", "GET", False), None),
    "WSGI tracked page view": (lambda: _wsgi("/pricing", "GET", True), "WSGI bare app"),
    "WSGI the floor (bench_core.Floor)": (_floor, "WSGI bare app"),
    "WSGI untracked (POST)": (lambda: _wsgi("/signup", "POST", True), "WSGI bare app"),
    "ASGI bare app": (lambda: _asgi("/pricing", "GET", False), None),
    "ASGI tracked page view": (lambda: _asgi("/pricing", "GET", True), "ASGI bare app"),
    "ASGI untracked (POST)": (lambda: _asgi("/signup", "POST", True), "ASGI bare app"),
    "WSGI no-op middleware (POST)": (
        lambda: partial(call_wsgi, NoopWSGI(wsgi_app), environ("/signup", "POST")),
        "WSGI bare app"),
    "ASGI no-op middleware (POST)": (
        lambda: partial(call_asgi, NoopASGI(asgi_app), scope("/signup", "POST")),
        "ASGI bare app"),
    "WSGI hit read and encoded": (lambda: _encode(False), None),
    "ASGI hit read and encoded": (lambda: _encode(True), None),
    "WSGI stream, served and encoded": (lambda: _stream(False), "WSGI bare app"),
    "ASGI stream, served and encoded": (lambda: _stream(True), "ASGI bare app"),
}


def count(name: str, calls: int) -> int:
    """Instructions callgrind counted for a process making ``calls`` calls of ``name``."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", name, str(calls)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"})  # the same dict layouts in every run
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode or found is None:
        raise SystemExit(f"callgrind failed for {name!r}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_call(name: str) -> float:
    return (count(name, LONG) - count(name, SHORT)) / (LONG - SHORT)


# -- under real servers ------------------------------------------------------------------
# bench_peers' hello-world page under gunicorn (Flask) and uvicorn (FastAPI), one worker
# each, run under cachegrind twice: WARM requests, then WARM + WINDOW. The difference is
# what WINDOW requests cost in the worker, all its threads (the flusher's too), from the
# 1,251st request of its life on: the one-off collection of the garbage collector's oldest
# generation after start-up falls in both runs, and cancels out. One client, requests in
# turn; batches go by count (250 hits), as under load, not by the clock.
WARM, WINDOW = 1_250, 1_000
SERVER_ROWS = (  # (label, BENCH_VARIANT, stage of stages_app or None)
    ("bare", "bare", None),
    ("noop", "noop", None),
    ("noop-send", "noop-send", None),
    ("pirsch-middleware: the request path (hits dropped when queued)", "pirsch", "request"),
    ("  + read and encoded (an in-process transport)", "pirsch", "encode"),
    ("  + delivered to the sink (everything)", "pirsch", "deliver"),
)


def server_count(framework: str, variant: str, stage: str | None, requests: int,
                 receiver: Receiver, cache_sim: bool) -> dict[str, int]:
    """What cachegrind counted in the worker of ``framework``'s server over a life of
    ``requests`` page views: instructions (``Ir``), and with ``cache_sim`` the misses of
    its simulated first-level caches (``I1mr``, ``D1mr``, ``D1mw``)."""
    spec = PEER_SERVERS[framework]
    env = {"BENCH_FRAMEWORK": framework, "BENCH_PAGE": "hello", "BENCH_VARIANT": variant,
           "BENCH_SINK": receiver.base_url, "PYTHONHASHSEED": "0",
           "PIRSCH_FLUSH_INTERVAL": "3600"}
    tracked = variant == "pirsch"
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as folder:
        prefix = ["valgrind", "--tool=cachegrind", f"--cache-sim={'yes' if cache_sim else 'no'}",
                  f"--cachegrind-out-file={folder}/out.%p"]
        before = receiver.hits()
        with server(spec, receiver if tracked else None, stage, extra_env=env, prefix=prefix,
                    start_timeout=600, stop_timeout=300) as target:
            served, _ = load(target.port, 1, 3600, requests, "/")
        if served != requests:
            raise SystemExit(f"{spec.label}, {variant}: {served} of {requests} requests "
                             "answered 200")
        if tracked and stage == "deliver" and receiver.hits() - before != requests:
            raise SystemExit(f"{spec.label}: {receiver.hits() - before} of {requests} hits "
                             "delivered")
        counts: dict[int, dict[str, int]] = {}
        for out in Path(folder).glob("out.*"):
            text = out.read_text()
            events = re.search(r"^events: (.+)$", text, re.MULTILINE)
            summary = re.search(r"^summary: (.+)$", text, re.MULTILINE)
            if events is None or summary is None:
                raise SystemExit(f"cachegrind wrote no summary to {out}")
            counts[int(out.suffix[1:])] = dict(zip(events.group(1).split(),
                                                   map(int, summary.group(1).split()),
                                                   strict=True))
    # gunicorn's worker is the master's child; uvicorn serves in its only process
    workers = [count for pid, count in counts.items() if pid != target.group] or \
        list(counts.values())
    if len(workers) != 1:
        raise SystemExit(f"{spec.label}: {len(counts)} processes counted, expected a worker")
    return workers[0]


def servers(only: str, cache_sim: bool) -> None:
    print(f"instructions per request under real servers (cachegrind; requests {WARM + 1:,} "
          f"to {WARM + WINDOW:,}\nof a worker's life), Python {sys.version.split()[0]}")
    receiver = Receiver()
    try:
        for framework, spec in PEER_SERVERS.items():
            if only not in framework:
                continue
            print(f"\nHello world, {spec.label:49} {'instructions':>12} {'added':>8} "
                  f"{'of bare':>8}" + (f" {'L1 misses':>10} {'added':>7}" if cache_sim else ""))
            counted: dict[str, float] = {}
            misses: dict[str, float] = {}
            for label, variant, stage in SERVER_ROWS:
                short, long = (server_count(framework, variant, stage, requests, receiver,
                                            cache_sim) for requests in (WARM, WARM + WINDOW))
                counted[label] = (long["Ir"] - short["Ir"]) / WINDOW
                is_bare = label == "bare"  # the baseline: nothing added to show
                added = counted[label] - counted["bare"]
                line = f"{LABELS.get((framework, label), label):62} {counted[label]:12,.0f} "
                line += " " * 17 if is_bare else f"{added:+8,.0f} {added / counted['bare']:8.1%}"
                if cache_sim:
                    misses[label] = sum(long[event] - short[event]
                                        for event in ("I1mr", "D1mr", "D1mw")) / WINDOW
                    more = misses[label] - misses["bare"]
                    line += f" {misses[label]:10,.0f} " + ("" if is_bare else f"{more:+7,.0f}")
                print(line.rstrip(), flush=True)
            for noop in ("noop", "noop-send"):
                over = counted[SERVER_ROWS[-1][0]] - counted[noop]
                print(f"pirsch-middleware over {LABELS[framework, noop]}: {over:+,.0f} "
                      f"instructions per request, {over / counted['bare']:.1%} of bare's")
    finally:
        receiver.close()
    print("\nadded and of bare: over bare, and as a share of bare's instructions per request. "
          "The worker's\ninstructions in user space, all threads; the kernel's work (sockets) "
          "is not counted." + ("\nL1 misses: of the simulated first-level instruction and data "
                               "caches, reads and writes." if cache_sim else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="TEXT", default="",
                        help="only the variants whose name contains TEXT (and their bases)")
    parser.add_argument("--servers", action="store_true",
                        help="instead: bench_peers' hello-world page under gunicorn and "
                        "uvicorn (--only flask|fastapi; about 15 minutes)")
    parser.add_argument("--cache-sim", action="store_true",
                        help="with --servers: and the misses of simulated L1 caches "
                        "(three times as long)")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, calls = args.child
        VARIANTS[name][0]()(int(calls))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing measured")
        return 0
    if args.servers:
        servers(args.only, args.cache_sim)
        return 0
    wanted = [name for name in VARIANTS if args.only in name]
    bases = {base for name in wanted if (base := VARIANTS[name][1]) is not None}
    counted = {name: per_call(name) for name in VARIANTS
               if name in wanted or name in bases or name.startswith("json.dumps")}
    dumps = counted["json.dumps of one hit"]
    print(f"instructions per call (callgrind; {LONG} - {SHORT} calls), Python "
          f"{sys.version.split()[0]}\n")
    print(f"{'':36} {'instructions':>12} {'added':>8} {'added/dumps':>12}")
    for name in wanted:
        base = VARIANTS[name][1]
        added = counted[name] - counted[base] if base else counted[name]
        print(f"{name:36} {counted[name]:12,.0f} {added:8,.0f} {added / dumps:12.2f}")
    print("\nadded: over the bare app where there is one; json.dumps of one hit is the "
          "baseline of\nissue 13's targets (the tracked request path at most 1.0 of it).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
