"""Throughput of each example under its real server, bare and with Pirsch, side by side.

    python benchmarks/bench_servers.py [--quick] [--only TEXT] [--rounds N] [--stages]
                                       [--strict-receiver]

For each example two servers run at once on loopback, one worker each: one without
credentials (the middleware then passes every request through untouched: the bare figure)
and one tracking every request into a local receiver in another process: by default one
that parses each batch and counts its hits (``--strict-receiver``: the package's DevServer,
which checks every field, at a CPU cost that slows the load generator beside it). A Python load
generator (raw sockets, keep-alive where the server offers it, a few connections) drives
each in turn for a fixed time, in alternating rounds; the figures are medians over the
rounds, and the ratio is the median of each round's tracked / bare ratio. On Linux the
servers get a CPU of their own (``--no-pin`` to skip), so the load generator and the
receiver, which a production server would not host, do not take the server's CPU time.

Every request is a page view (``GET /pricing`` with a browser user agent), so "with
Pirsch" includes queueing each hit, encoding it in the flusher thread and delivering it,
all in the server's process. The server's CPU time is read from /proc per thread, so the
cost shows split between the request path and the flusher. After the rounds, the receiver
must have got one hit per request sent to the tracked server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER_CPUS: set[int] | None = None  # where the servers run, when pinned (see pin_cpus)
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
     "Chrome/120.0.0.0 Safari/537.36"
PATH = "/pricing"
ACCESS_KEY = "pa_benchmark_servers"
# The receiver, in its own process so it does not share the server's or our CPU time
# slices; it answers each line on stdin with the number of hits it has accepted.
RECEIVER = """
import sys
from pirsch_middleware.devserver import DevServer
with DevServer(access_key=sys.argv[1]) as server:
    print(server.base_url, flush=True)
    for _ in sys.stdin:
        print(len(server.hits), flush=True)
"""
# The default: a receiver that only checks the key, parses each batch and counts its items.
# The DevServer checks every field of every hit, and that work, on the CPU the load
# generator uses, slows the load generator: the tracked server is then under-loaded, and
# spends more CPU per request waking up for each one. Pirsch runs on other machines.
# It answers 200 to the other SDKs of bench_peers too (PostHog, Segment, api-analytics),
# counting the items of each batch by path: a line on stdin gets the Pirsch hits, "*"
# gets every path's count as JSON.
SINK = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count, paths, lock = 0, {}, threading.Lock()
class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait between
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        if path.startswith("/api/v1/"):
            items = None
            if self.headers.get("Authorization") == "Bearer " + sys.argv[1] \\
                    and path.endswith("/batch"):
                items = json.loads(body)
            if isinstance(items, list):
                with lock:
                    count += len(items)
            status = 200 if isinstance(items, list) else 400
        else:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {}
            found = [v for v in payload.values() if isinstance(v, list)] \\
                if isinstance(payload, dict) else []
            with lock:
                paths[path] = paths.get(path, 0) + sum(map(len, found))
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # an SDK that drops its connection as its process exits: nothing to report
server = Server(("127.0.0.1", 0), Sink)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"http://127.0.0.1:{server.server_port}", flush=True)
for line in sys.stdin:
    with lock:
        print(json.dumps(paths) if line.strip() == "*" else count, flush=True)
"""


@dataclass(frozen=True)
class ServerSpec:
    label: str
    server: str  # gunicorn or uvicorn
    target: str
    connections: int

    def command(self, port: int) -> list[str]:
        if self.server == "uvicorn":
            return [sys.executable, "-m", "uvicorn", self.target, "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning", "--no-access-log"]
        return [sys.executable, "-m", "gunicorn", self.target, "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--log-level", "warning"]


SERVERS = [
    ServerSpec("wsgi / gunicorn sync", "gunicorn", "examples.wsgi.app:app", 4),
    ServerSpec("flask / gunicorn sync", "gunicorn", "examples.flask.app:app", 4),
    ServerSpec("django / gunicorn sync", "gunicorn", "examples.django.project.wsgi", 4),
    ServerSpec("django / uvicorn", "uvicorn", "examples.django.project.asgi:application", 8),
    ServerSpec("fastapi / uvicorn", "uvicorn", "examples.fastapi.app:app", 8),
]


def machine() -> str:
    """The CPU, the system and Python: the first line of each benchmark's output."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info
                      if line.startswith("model name")), "")
    load_average = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") \
        else ""
    return (f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
            f"{load_average}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            return False
        pause.wait(0.05)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Receiver:
    """The loopback receiver in a subprocess."""

    def __init__(self, strict: bool = False) -> None:
        program = RECEIVER if strict else SINK
        self.process = subprocess.Popen([sys.executable, "-c", program, ACCESS_KEY],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()

    def hits(self) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def counts(self) -> dict[str, int]:
        """Items received per path, from the other SDKs (the sink only)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("*\n")
        self.process.stdin.flush()
        counts: dict[str, int] = json.loads(self.process.stdout.readline())
        return counts

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        self.process.terminate()
        self.process.wait(10)


def pin_cpus() -> str:
    """Give the servers one CPU of their own, and this process (the load generator) and
    the receiver the others, so that what is measured is the server's cost, not how the
    three share a small machine. Linux only; a note of what was done."""
    global SERVER_CPUS
    if not hasattr(os, "sched_getaffinity"):
        return "not pinned (no CPU affinity here)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "not pinned (one CPU)"
    SERVER_CPUS = {cpus[-1]}
    os.sched_setaffinity(0, set(cpus[:-1]))
    return f"server on CPU {cpus[-1]}, load generator and receiver on CPU " \
           f"{','.join(map(str, cpus[:-1]))}"


def _pin_server() -> None:  # in the server's process, before exec
    if SERVER_CPUS is not None:
        os.sched_setaffinity(0, SERVER_CPUS)


@dataclass(frozen=True)
class Target:
    port: int
    group: int  # the server's process group: master and workers


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Cpu:
    """CPU time (user + system) in seconds, split between each process's main thread (the
    request path: gunicorn's sync worker, uvicorn's event loop) and its other threads (the
    flusher; thread pools such as the one Django's ASGI handler runs sync views in)."""

    main: float = 0.0
    other: float = 0.0

    def __sub__(self, before: Cpu) -> Cpu:
        return Cpu(self.main - before.main, self.other - before.other)


def cpu_seconds(group: int) -> Cpu | None:
    """CPU time used so far by the processes of ``group`` (master and workers); None where
    there is no /proc."""
    main = other = 0
    found = False
    try:
        pids = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            if int(_stat(Path(f"/proc/{pid}/stat"))[2]) != group:  # state, ppid, pgrp...
                continue
            for task in os.scandir(f"/proc/{pid}/task"):
                fields = _stat(Path(task.path) / "stat")
                ticks = int(fields[11]) + int(fields[12])  # utime, stime
                if task.name == pid:
                    main += ticks
                else:
                    other += ticks
            found = True
        except OSError:
            continue
    return Cpu(main / CLOCK_TICKS, other / CLOCK_TICKS) if found else None


def _stat(path: Path) -> list[bytes]:
    """The fields of a /proc stat file after "pid (comm)"."""
    return path.read_bytes().rsplit(b")", 1)[1].split()


@contextlib.contextmanager
def server(spec: ServerSpec, receiver: Receiver | None, stage: str | None = None,
           extra_env: Mapping[str, str] | None = None, prefix: Sequence[str] = (),
           start_timeout: float = 30, stop_timeout: float = 20) -> Iterator[Target]:
    """The example under its server on a free port; tracked into ``receiver`` if given,
    else without credentials (passed through). With ``stage``, hits go only that far
    (see ``stages_app``); ``extra_env`` is added to its environment, and ``prefix`` put
    before its command (valgrind, for ``bench_instructions --servers``)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PIRSCH_") and key != "DJANGO_SETTINGS_MODULE"}
    env.update(extra_env or {})
    if stage is not None:
        target = spec.target if ":" in spec.target else spec.target + ":application"
        env.update(BENCH_APP=target, BENCH_STAGE=stage)
        spec = replace(spec, target="benchmarks.stages_app:app")
    if receiver is not None:
        env.update(PIRSCH_BASE_URL=receiver.base_url, PIRSCH_ACCESS_KEY=ACCESS_KEY)
    port = free_port()
    process = subprocess.Popen([*prefix, *spec.command(port)], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               start_new_session=True, preexec_fn=_pin_server)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{spec.label}: server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False

    try:
        if not wait_until(listening, start_timeout):
            raise RuntimeError(f"{spec.label}: server not listening after {start_timeout:g} s")
        yield Target(port, process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(stop_timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)


class _Connection:
    """One client connection: sends the request, reads one response at a time."""

    def __init__(self, port: int, request: bytes) -> None:
        self.port, self.request = port, request
        self.sock: socket.socket | None = None

    def get(self) -> int:
        """One request; its status. Reconnects when the server closed the connection."""
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.sock
        sock.sendall(self.request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the response headers")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the end of the body")
            body += chunk
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def load(port: int, connections: int, seconds: float, max_requests: int,
         path: str = PATH) -> tuple[int, float]:
    """Requests answered 200 and requests per second, over ``connections`` threads."""
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {UA}\r\n"
               f"Accept: text/html\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n").encode()
    done = [0] * connections
    failed = [0] * connections
    budget = max(1, max_requests // connections)
    started = time.perf_counter()
    deadline = started + seconds

    def run(index: int) -> None:
        connection = _Connection(port, request)
        try:
            while done[index] < budget and time.perf_counter() < deadline:
                try:
                    status = connection.get()
                except OSError:
                    connection.close()
                    failed[index] += 1
                    continue
                if status == 200:
                    done[index] += 1
                else:
                    failed[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if sum(failed):
        print(f"  ({sum(failed)} failed requests)", file=sys.stderr)
    return sum(done), sum(done) / elapsed


@dataclass
class Variant:
    rps: list[float] = field(default_factory=list)  # one per round
    cpu: list[Cpu] = field(default_factory=list)  # CPU time per request, one per round
    sent: int = 0  # requests answered, warm-up included

    def run(self, target: Target, connections: int, seconds: float,
            max_requests: int, path: str = PATH) -> None:
        cpu_before = cpu_seconds(target.group)
        count, rps = load(target.port, connections, seconds, max_requests, path)
        cpu_after = cpu_seconds(target.group)
        self.sent += count
        self.rps.append(rps)
        if cpu_before is not None and cpu_after is not None and count:
            used = cpu_after - cpu_before
            self.cpu.append(Cpu(used.main / count * 1e6, used.other / count * 1e6))

    def cpu_us(self, part: str = "") -> float | None:
        """Median CPU µs per request: all of it, or only ``main`` or ``other`` threads."""
        if not self.cpu:
            return None
        return statistics.median(
            getattr(c, part) if part else c.main + c.other for c in self.cpu)


@dataclass
class Row:
    label: str
    bare: Variant
    tracked: Variant
    delivered: int  # hits the receiver got from the tracked server

    @property
    def ratio(self) -> float:
        """Median over the rounds of tracked / bare requests per second. Each round runs
        the two back to back, so a slow patch of the machine hits both alike."""
        return statistics.median(t / b for t, b in zip(self.tracked.rps, self.bare.rps,
                                                        strict=True))

    def added(self, part: str) -> float | None:
        tracked, bare = self.tracked.cpu_us(part), self.bare.cpu_us(part)
        return None if tracked is None or bare is None else tracked - bare


def measure(spec: ServerSpec, receiver: Receiver, rounds: int, seconds: float,
            max_requests: int) -> Row:
    before = receiver.hits()
    bare, tracked = Variant(), Variant()
    with server(spec, None) as bare_server, server(spec, receiver) as tracked_server:
        for target in (bare_server, tracked_server):  # warm up: imports, first connections
            count, _ = load(target.port, spec.connections, min(0.3, seconds), max_requests)
            if target is tracked_server:
                tracked.sent += count
        for _ in range(rounds):  # alternating, so both see the same machine
            bare.run(bare_server, spec.connections, seconds, max_requests)
            tracked.run(tracked_server, spec.connections, seconds, max_requests)
        # Delivered by the flusher while the server runs (every 2 s), not only at exit.
        wait_until(lambda: receiver.hits() - before >= tracked.sent, 15)
        delivered = receiver.hits() - before
    return Row(spec.label, bare, tracked, delivered)


STAGES = ("request", "encode", "deliver")
STAGE_NOTES = {"request": "request path only: hits dropped when queued",
               "encode": "+ queued, read, encoded, handed to an in-process transport",
               "deliver": "+ delivered: everything"}


def measure_stages(spec: ServerSpec, receiver: Receiver, rounds: int, seconds: float,
                   max_requests: int) -> None:
    """Bare and the stages of one example side by side, in alternating rounds."""
    variants = {name: Variant() for name in ("bare", *STAGES)}
    with contextlib.ExitStack() as stack:
        targets = {"bare": stack.enter_context(server(spec, None))}
        for stage in STAGES:
            targets[stage] = stack.enter_context(server(spec, receiver, stage))
        for target in targets.values():
            load(target.port, spec.connections, min(0.3, seconds), max_requests)
        for _ in range(rounds):
            for name, target in targets.items():
                variants[name].run(target, spec.connections, seconds, max_requests)
    bare = variants["bare"]
    print(f"\n{spec.label}, CPU µs per request (medians of {rounds} rounds)")
    print(f"{'stage':9} {'rps':>7} {'CPU':>5} {'added':>6} {'request':>7} {'flusher':>7}")
    for name, variant in variants.items():
        row = Row(spec.label, bare, variant, 0)
        added = [_us(row.added(part), "+") for part in ("", "main", "other")] \
            if name != "bare" else ["", "", ""]
        print(f"{name:9} {statistics.median(variant.rps):7,.0f} {_us(variant.cpu_us()):>5} "
              f"{added[0]:>6} {added[1]:>7} {added[2]:>7}  {STAGE_NOTES.get(name, '')}",
              flush=True)


def _us(value: float | None, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign},.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (CI smoke)")
    parser.add_argument("--only", metavar="TEXT", default="",
                        help="only the servers whose label contains TEXT (e.g. flask)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per server (7)")
    parser.add_argument("--stages", action="store_true",
                        help="instead: where a hit's cost goes, stage by stage")
    parser.add_argument("--strict-receiver", action="store_true",
                        help="deliver to the checking DevServer instead of a counting sink")
    parser.add_argument("--no-pin", action="store_true",
                        help="let the OS schedule servers, load generator and receiver")
    args = parser.parse_args(argv)
    servers = [spec for spec in SERVERS if args.only in spec.label]
    pinning = "not pinned (--no-pin)" if args.no_pin else pin_cpus()
    rounds, seconds, max_requests = (1, 1.0, 20_000) if args.quick \
        else (max(1, args.rounds), 2.0, 100_000)
    if args.stages:
        print(f"{machine()}\n{pinning}")
        receiver = Receiver(args.strict_receiver)
        try:
            for spec in servers:
                measure_stages(spec, receiver, rounds, seconds, max_requests)
        finally:
            receiver.close()
        print("\nadded: CPU time per request over bare, split into the request threads and "
              "the flusher thread.\nEach stage includes the ones above it.")
        return 0
    print(f"{machine()}\n{pinning}\n"
          f"{rounds} round(s) of {seconds:.0f} s per server and variant, GET {PATH} "
          f"(a tracked page view); medians\n")
    print(f"{'':24} {'requests/s':^26}   {'CPU µs per request':^32}")
    print(f"{'server':24} {'bare':>8} {'with Pirsch':>11} {'ratio':>5}   {'bare':>5} "
          f"{'with':>5} {'added':>6} {'request':>7} {'flusher':>7}  delivered")
    receiver = Receiver(args.strict_receiver)
    ok = True
    try:
        for spec in servers:
            row = measure(spec, receiver, rounds, seconds, max_requests)
            bare, tracked = row.bare, row.tracked
            ok = ok and row.delivered == tracked.sent
            print(f"{row.label:24} {statistics.median(bare.rps):8,.0f} "
                  f"{statistics.median(tracked.rps):11,.0f} {row.ratio:5.2f}   "
                  f"{_us(bare.cpu_us()):>5} {_us(tracked.cpu_us()):>5} "
                  f"{_us(row.added(''), '+'):>6} {_us(row.added('main'), '+'):>7} "
                  f"{_us(row.added('other'), '+'):>7}  "
                  f"{row.delivered:,}/{tracked.sent:,} hits", flush=True)
    finally:
        receiver.close()
    print("\nratio: with Pirsch / bare (median of the rounds' ratios), target >= 0.95. CPU: "
          "the server's CPU\ntime per request, all processes and threads; added: with "
          "Pirsch - bare, split into the\nrequest threads (the middleware's request path) and "
          "the other threads (the flusher: reading,\nencoding, delivering). Every request "
          "to the tracked server must arrive at the receiver as one hit.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
