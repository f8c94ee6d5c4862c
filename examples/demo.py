"""The demo: a local Pirsch-compatible receiver, an example app in front of it under its
real server, a few visits, a clean shutdown, what reached the receiver, and the statistics
the ``pirsch`` command reads back from it. No Pirsch account needed.

    python examples/demo.py                    # every example, each under its server
    python examples/demo.py --example flask    # one of them: wsgi, flask, django, fastapi

The example runs as its own process (gunicorn or uvicorn), configured only through
PIRSCH_* environment variables, as in production, and is stopped with SIGTERM as a
deploy would; what it had queued is delivered before it exits. With only the base
install (no gunicorn/uvicorn), the WSGI example runs in this process under wsgiref, and
``pirsch`` prints plain tables (rich ones with the ``cli`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx

from pirsch_middleware import get_tracker
from pirsch_middleware.devserver import DevServer, Received

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# ``python examples/demo.py`` puts examples/ first on sys.path, where examples/flask and
# examples/django would pass for the real packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 " \
         "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
Visit = tuple[str, str, dict[str, str], str]
VISITS: list[Visit] = [
    ("GET", "/", {"user-agent": FIREFOX, "referer": "https://news.ycombinator.com/"},
     "a page view, with its referrer"),
    ("GET", "/pricing?utm_source=newsletter", {"user-agent": SAFARI, "accept-language": "de-DE"},
     "a page view, referrer from utm_source"),
    ("POST", "/signup", {"user-agent": FIREFOX}, "a form post: no page view, one event"),
    ("GET", "/welcome", {"user-agent": FIREFOX, "x-forwarded-for": "198.51.100.23"},
     "a page view through a proxy on 127.0.0.1 (trusted: the IP comes from the header)"),
    ("GET", "/api/stats", {"user-agent": FIREFOX}, "JSON: not tracked"),
    ("GET", "/static/site.css", {"user-agent": FIREFOX}, "a static file: not tracked"),
    ("GET", "/missing", {"user-agent": FIREFOX}, "a 404: not tracked"),
    ("GET", "/", {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, "a bot: not tracked"),
    ("GET", "/", {"user-agent": FIREFOX, "dnt": "1"}, "Do Not Track: not tracked"),
]
FRAMEWORK_VISITS: list[Visit] = [
    ("GET", "/download", {"user-agent": FIREFOX}, "a page view and its event, in that order"),
    ("GET", "/preview", {"user-agent": FIREFOX}, "a @dont_track view: not tracked"),
]
REPORT_VISIT: Visit = ("GET", "/report", {"user-agent": FIREFOX},
                       "a page view; its event comes from a background task")


@dataclass(frozen=True)
class Example:
    name: str
    framework: str | None  # the package it needs, besides its server
    server: str  # gunicorn or uvicorn
    target: str  # what the server is told to run
    visits: list[Visit]
    hits: int  # what the receiver must get
    events: int

    def command(self, port: int) -> list[str]:
        if self.server == "uvicorn":
            return [sys.executable, "-m", "uvicorn", self.target, "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning"]
        return [sys.executable, "-m", "gunicorn", self.target, "--bind", f"127.0.0.1:{port}",
                "--log-level", "warning"]


EXAMPLES = {
    "wsgi": Example("wsgi", None, "gunicorn", "examples.wsgi.app:app", VISITS, 3, 1),
    "flask": Example("flask", "flask", "gunicorn", "examples.flask.app:app",
                     VISITS + FRAMEWORK_VISITS, 4, 2),
    "django": Example("django", "django", "gunicorn", "examples.django.project.wsgi",
                      VISITS + FRAMEWORK_VISITS, 4, 2),
    "fastapi": Example("fastapi", "fastapi", "uvicorn", "examples.fastapi.app:app",
                       [*VISITS, *FRAMEWORK_VISITS, REPORT_VISIT], 5, 3),
}


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install counts as none
        return False


def send_visits(site: str, visits: list[Visit]) -> None:
    with httpx.Client(base_url=site, timeout=15) as client:
        for method, path, headers, what in visits:
            status = client.request(method, path, headers=headers).status_code
            print(f"  {method:4} {path:34} {status}  {what}")


def show(receiver: DevServer, received: list[Received]) -> None:
    print(f"\nreceived by {receiver.base_url}:")
    for entry in received:
        item = entry.item
        name = f" {item['event_name']!r} {item.get('event_meta', '')}" \
            if entry.kind == "event" else ""
        print(f"  {entry.kind:5} {item['url']:45} ip={item['ip']:15} "
              f"referrer={item.get('referrer', '-')}{name}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        pause.wait(0.05)
    return False


def run_under_server(example: Example, receiver: DevServer) -> bool:
    """Start the example under its server, visit it, SIGTERM it, check what arrived."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIRSCH_")}
    env.update({"PIRSCH_BASE_URL": receiver.base_url, "PIRSCH_ACCESS_KEY": receiver.access_key,
                "PYTHONUNBUFFERED": "1"})
    env.pop("DJANGO_SETTINGS_MODULE", None)
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    command = example.command(port)
    before = len(receiver.received)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            print(f"example   {site}  ({example.server} {example.target})\n")
            if not wait_listening(process, port, timeout=20):
                log.seek(0)
                print(f"the server did not start:\n{log.read().decode(errors='replace')}")
                return False
            send_visits(site, example.visits)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                print("the server did not stop within 20 s of SIGTERM")
                return False
            # The server has exited: all that reached the receiver was sent before that.
            received = receiver.received[before:]
            print(f"\nSIGTERM: {example.server} stopped in {time.monotonic() - started:.1f} s, "
                  f"having delivered what it had queued")
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
    show(receiver, received)
    hits = sum(entry.kind == "hit" for entry in received)
    events = sum(entry.kind == "event" for entry in received)
    print(f"\n{hits} page views and {events} events; expected {example.hits} and "
          f"{example.events}")
    return (hits, events) == (example.hits, example.events)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def load_wsgi_example() -> Any:
    spec = importlib.util.spec_from_file_location("example_wsgi", HERE / "wsgi" / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HERE / 'wsgi' / 'app.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def run_in_process(receiver: DevServer) -> bool:
    """The WSGI example in this process, under wsgiref (needs only the base install)."""
    os.environ.update({"PIRSCH_BASE_URL": receiver.base_url,
                       "PIRSCH_ACCESS_KEY": receiver.access_key})
    app = load_wsgi_example()
    before = len(receiver.received)
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_port}"
    print(f"example   {site}  (examples/wsgi/app.py under wsgiref, in this process)\n")
    send_visits(site, VISITS)
    tracker = get_tracker()
    delivered = tracker.flush(timeout=10)
    server.shutdown()
    received = receiver.received[before:]
    show(receiver, received)
    stats = tracker.stats()
    print(f"\ntracker: {stats.sent} sent, {stats.filtered} filtered (bots, DNT), "
          f"{stats.failed} failed, {stats.dropped} dropped")
    kinds = [entry.kind for entry in received]
    return delivered and (kinds.count("hit"), kinds.count("event")) == (3, 1)


def show_statistics(receiver: DevServer) -> bool:
    """Read the receiver's statistics with the ``pirsch`` command, as from Pirsch itself."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIRSCH_")}
    env.update({"PIRSCH_BASE_URL": receiver.base_url, "PIRSCH_CLIENT_ID": receiver.client_id,
                "PIRSCH_CLIENT_SECRET": receiver.client_secret})
    today = datetime.now(timezone.utc).date()  # the receiver counts days in UTC
    week = ["--from", str(today - timedelta(days=6)), "--to", str(today)]
    print(f"\nthe receiver's statistics, read with the pirsch command (an oAuth client: "
          f"PIRSCH_CLIENT_ID/SECRET, PIRSCH_BASE_URL={receiver.base_url})")
    ok = True
    for args in (["stats", "pages", *week], ["stats", "visitors", "--scale", "day", *week]):
        print(f"\n$ pirsch {' '.join(args)}", flush=True)  # before the command's own output
        command = [sys.executable, "-m", "pirsch_middleware.cli", *args]
        ok = subprocess.run(command, cwd=ROOT, env=env, timeout=60).returncode == 0 and ok
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pirsch demo against a local receiver.")
    parser.add_argument("--example", choices=[*EXAMPLES, "all"], default="all",
                        help="which example to run under its server (default: all that "
                             "are installed)")
    args = parser.parse_args(argv)
    chosen = list(EXAMPLES.values()) if args.example == "all" else [EXAMPLES[args.example]]
    runnable: list[Example] = []
    skipped: dict[str, list[str]] = {}
    for example in chosen:
        missing = [package for package in (example.server, example.framework)
                   if package and not importable(package)]
        if missing:
            skipped[example.name] = missing
        else:
            runnable.append(example)
    if runnable:
        for name, missing in skipped.items():
            print(f"note: skipping the {name} example: it needs {' and '.join(missing)} "
                  f"(pip install -e '.[test]')")
    elif skipped:
        packages = sorted({package for missing in skipped.values() for package in missing})
        print(f"note: {', '.join(packages)} not installed (pip install -e '.[test]' adds "
              f"them): the WSGI example runs in this process under wsgiref instead")
    ok = True
    with DevServer() as receiver:
        print(f"receiver  {receiver.base_url}  (a local stand-in for api.pirsch.io)")
        if not runnable:
            print()
            ok = run_in_process(receiver)
        for example in runnable:
            print(f"\n--- {example.name} " + "-" * (76 - len(example.name)))
            ok = run_under_server(example, receiver) and ok
        print("\n--- statistics " + "-" * 65)
        ok = show_statistics(receiver) and ok
    print("\ndemo OK" if ok else "\ndemo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
