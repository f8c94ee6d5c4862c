"""This library beside no-op middlewares and the trackers a user would pick instead.

    python benchmarks/bench_peers.py [--quick] [--rounds N] [--only fastapi|flask]
                                     [--page hello|db]

For FastAPI under uvicorn and Flask under gunicorn (sync), one worker each, and for two
pages (``hello``: a fixed HTML page; ``db``: a Jinja2 template over 30 rows of an SQLite
query), it serves the same app seven ways at once (see ``peer_apps``): bare, behind a
no-op middleware, behind a no-op middleware that wraps ``send`` / ``start_response`` (the
shape of every tracker here), with this library, and with PostHog's ``capture()``,
Segment's ``page()`` and api-analytics' own middleware. Every request is a page view
(``GET /`` with a browser's headers). The rounds alternate between the seven, so a slow
patch of a shared machine hits them alike; the harness is ``bench_servers``': the servers
pinned to one CPU, their CPU time read from /proc for all their threads (the trackers'
background threads included), and every tracker delivering to a local sink in another
process (none reaches the network).

Printed per page and server: the CPU each adds per request over bare and its throughput
as a share of bare, as medians of the rounds' own figures with their range; the hits the
sink got; and this library over the no-op of its shape. The peers come with the ``bench``
extra (``pip install -e '.[bench]'``); those missing are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

# This checkout's package, not one installed from another (an editable install elsewhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_servers import (
    Receiver,
    ServerSpec,
    Target,
    Variant,
    load,
    machine,
    pin_cpus,
    server,
    wait_until,
)
from peer_apps import PEERS, VARIANTS

SERVERS = {
    "fastapi": ServerSpec("FastAPI, uvicorn, 1 worker", "uvicorn", "benchmarks.peer_apps:app",
                          8),
    "flask": ServerSpec("Flask, gunicorn sync, 1 worker", "gunicorn",
                        "benchmarks.peer_apps:app", 4),
}
PAGES = {"hello": "hello world", "db": "a template over a 30-row SQLite query"}
LABELS = {
    ("fastapi", "noop"): "a no-op pure ASGI middleware",
    ("fastapi", "noop-send"): "a no-op ASGI middleware that wraps send",
    ("flask", "noop"): "a no-op WSGI middleware",
    ("flask", "noop-send"): "a no-op WSGI middleware that wraps start_response",
    ("fastapi", "api-analytics"): "api-analytics, its FastAPI middleware",
    ("flask", "api-analytics"): "api-analytics, its Flask integration",
}
PEER_LABELS = {"pirsch": "pirsch-middleware",
               "posthog": "posthog, capture() from that middleware",
               "segment": "segment-analytics-python, page() from it"}
# Where each peer's batches arrive at the sink (Pirsch's are counted apart).
SINK_PATHS = {"posthog": "/batch/", "segment": "/v1/batch", "api-analytics": "/api/log-request"}


@dataclass
class Result:
    variant: str
    runs: Variant = field(default_factory=Variant)
    delivered: int | None = None


def measure(framework: str, page: str, variants: list[str], receiver: Receiver, rounds: int,
            seconds: float, max_requests: int) -> list[Result]:
    spec = SERVERS[framework]
    results = {variant: Result(variant) for variant in variants}
    base = {"BENCH_FRAMEWORK": framework, "BENCH_PAGE": page, "BENCH_SINK": receiver.base_url}
    with contextlib.ExitStack() as stack:
        targets: dict[str, Target] = {}
        for variant in variants:
            targets[variant] = stack.enter_context(server(
                spec, receiver if variant == "pirsch" else None,
                extra_env={**base, "BENCH_VARIANT": variant}))
        hits, counts = receiver.hits(), receiver.counts()
        for variant, target in targets.items():  # warm up: imports, first connections
            count, _ = load(target.port, spec.connections, min(0.3, seconds), max_requests, "/")
            results[variant].runs.sent += count
        for turn in range(rounds):  # each round in another order: no one is always first
            order = variants[turn % len(variants):] + variants[:turn % len(variants)]
            for variant in order:
                results[variant].runs.run(targets[variant], spec.connections, seconds,
                                          max_requests, "/")
        if "pirsch" in results:  # delivered by the flusher while serving (every 2 s)
            sent = results["pirsch"].runs.sent
            wait_until(lambda: receiver.hits() - hits >= sent, 15)
            results["pirsch"].delivered = receiver.hits() - hits
    after = receiver.counts()  # the servers have stopped: the SDKs flushed at exit
    for variant, path in SINK_PATHS.items():
        if variant in results:
            results[variant].delivered = after.get(path, 0) - counts.get(path, 0)
    return [results[variant] for variant in variants]


def added(result: Result, bare: Result) -> list[float]:
    """CPU µs per request over bare, per round (each round runs both)."""
    return [(c.main + c.other) - (b.main + b.other)
            for c, b in zip(result.runs.cpu, bare.runs.cpu, strict=True)]


def ratios(result: Result, bare: Result) -> list[float]:
    return [r / b for r, b in zip(result.runs.rps, bare.runs.rps, strict=True)]


def spread(values: list[float], form: str) -> str:
    return (f"{statistics.median(values):{form}} "
            f"({min(values):{form}} to {max(values):{form}})")


def report(framework: str, page: str, results: list[Result]) -> None:
    bare = results[0]
    cpu = bare.runs.cpu_us()
    title = PAGES[page][0].upper() + PAGES[page][1:]
    print(f"\n{title}, {SERVERS[framework].label} "
          f"(bare: {statistics.median(bare.runs.rps):,.0f} requests/s, "
          f"{'-' if cpu is None else f'{cpu:.0f}'} µs CPU per request)")
    print(f"{'':49} {'CPU µs added (range)':>24} {'throughput (range)':>20}  "
          f"{'delivered':>15}")
    first = ("noop", "noop-send", "pirsch")  # then the peers, cheapest first
    rows = sorted(results[1:], key=lambda r: (first.index(r.variant) if r.variant in first
                                              else len(first),
                                              statistics.median(added(r, bare) or [0.0])))
    for result in rows:
        label = LABELS.get((framework, result.variant)) or PEER_LABELS[result.variant]
        more = added(result, bare)
        delivered = "-" if result.delivered is None else \
            f"{result.delivered:,}/{result.runs.sent:,}"
        print(f"{label:49} {spread(more, '+.1f') if more else '-':>24} "
              f"{spread(ratios(result, bare), '.2f'):>20}  {delivered:>15}", flush=True)
    by = {result.variant: result for result in results}
    if "pirsch" in by and "noop-send" in by:
        over = [p - n for p, n in zip(added(by["pirsch"], bare), added(by["noop-send"], bare),
                                      strict=True)]
        if over:
            print(f"pirsch-middleware over the no-op that wraps "
                  f"{'send' if framework == 'fastapi' else 'start_response'}: "
                  f"{spread(over, '+.1f')} µs per request (target: at most +12)")


def missing_peers() -> list[str]:
    """The peers not installed (``find_spec`` of ``segment.analytics`` raises, not
    answers None, where ``segment`` itself is missing)."""
    missing = []
    for variant, module in PEERS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(variant)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (CI smoke)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per page (5)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per variant and round")
    parser.add_argument("--only", choices=sorted(SERVERS), help="one framework")
    parser.add_argument("--page", choices=sorted(PAGES), help="one page")
    args = parser.parse_args(argv)
    rounds, seconds = (1, 1.0) if args.quick else (max(1, args.rounds), args.seconds)
    missing = missing_peers()
    variants = [v for v in VARIANTS if v not in missing]
    pinning = pin_cpus()
    print(f"$ python benchmarks/bench_peers.py {' '.join(sys.argv[1:] if argv is None else argv)}"
          f"\n{machine()}\n{pinning}; {rounds} round(s) of {seconds:g} s per variant, "
          "alternating; medians of the rounds")
    if missing:
        print(f"not installed, skipped: {', '.join(missing)} (pip install -e '.[bench]')")
    receiver = Receiver()
    try:
        for framework in [args.only] if args.only else list(SERVERS):
            for page in [args.page] if args.page else list(PAGES):
                results = measure(framework, page, variants, receiver, rounds, seconds,
                                  100_000)
                report(framework, page, results)
    finally:
        receiver.close()
    print("\nadded: the server's CPU per request (all its processes and threads) over bare, "
          "per round;\nthroughput: requests per second over bare's in the same round; "
          "delivered: items the\nlocal sink got / page views served, counted after the "
          "servers stopped (api-analytics\nsends once a minute and not at exit; PostHog and "
          "Segment drop what overflows their queues).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
