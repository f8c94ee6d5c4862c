"""Real servers (gunicorn, uvicorn) as subprocesses on a free loopback port, sending to the
in-process receiver; and the clients that visit them.

Every wait is on a condition with a deadline. A server runs in its own process group, so
``kill()`` ends its workers too, whatever happened to the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx

from pirsch_middleware.devserver import DevServer

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

# The examples, under their servers.
DJANGO_WSGI = "examples.django.project.wsgi"
DJANGO_ASGI = "examples.django.project.asgi:application"
FLASK = "examples.flask.app:app"
FASTAPI = "examples.fastapi.app:app"


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        pause.wait(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(receiver: DevServer | None, **pirsch: str) -> dict[str, str]:
    """This process's environment without PIRSCH_* settings, pointed at ``receiver``
    (None: no credentials, so the middleware passes requests through); ``pirsch``
    adds ``PIRSCH_<NAME>`` variables (``flush_interval="60"``)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PIRSCH_") and key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONUNBUFFERED"] = "1"
    if receiver is not None:
        env["PIRSCH_BASE_URL"] = receiver.base_url
        env["PIRSCH_ACCESS_KEY"] = receiver.access_key
    env.update({f"PIRSCH_{name.upper()}": value for name, value in pirsch.items()})
    return env


def gunicorn_argv(app: str, port: int, *, worker_class: str = "sync", workers: int = 1,
                  threads: int = 1, preload: bool = False,
                  access_log: Path | None = None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
            "--worker-class", worker_class, "--workers", str(workers),
            "--threads", str(threads), "--graceful-timeout", "15", "--log-level", "info"]
    if preload:
        argv.append("--preload")
    if access_log is not None:
        # %(p)s: the worker's pid, so a test can tell which worker served a request
        argv += ["--access-logfile", str(access_log), "--access-logformat", "%(p)s %(U)s"]
    return argv


def uvicorn_argv(app: str, port: int, *, workers: int = 1, lifespan: str = "auto",
                 ) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "info", "--lifespan", lifespan]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return argv


class ServerProcess:
    """One server (master and workers) in its own process group; output to ``log_path``."""

    def __init__(self, argv: list[str], env: Mapping[str, str], port: int,
                 log_path: Path) -> None:
        self.argv, self.env, self.port, self.log_path = argv, dict(env), port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until the port accepts connections; fails at once if the server exits."""
        assert self.process is not None, "not started"

        def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        if not wait_until(answers, timeout, interval=0.05):
            raise AssertionError(f"server not listening after {timeout} s:\n{self.log()}")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        if not wait_until(lambda: self.log().count(text) >= count, timeout):
            raise AssertionError(f"{text!r} x{count} not in the server log after {timeout} s:"
                                 f"\n{self.log()}")

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM to the server's main process; its exit code (bounded wait)."""
        assert self.process is not None, "not started"
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running {timeout} s after SIGTERM:\n"
                                 f"{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL to whatever is left of the process group (workers included)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


@contextlib.contextmanager
def running(argv: list[str], env: Mapping[str, str], port: int,
            log_path: Path) -> Iterator[ServerProcess]:
    """A started server, ready for requests; killed (with its group) on the way out."""
    server = ServerProcess(argv, env, port, log_path)
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.kill()


def client(base_url: str, *, peer: str = "127.0.0.1", timeout: float = 15.0) -> httpx.Client:
    """An HTTP client connecting from ``peer`` (any 127.x address on Linux)."""
    return httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False,
                        transport=httpx.HTTPTransport(local_address=peer))


def terminate_during_request(server: ServerProcess, path: str, headers: Mapping[str, str],
                             started: str) -> int:
    """GET ``path`` from another thread; once ``started`` shows in the server log (the
    view is running), SIGTERM the server and wait for it to exit. The response status."""
    statuses: list[int] = []

    def visit() -> None:
        with client(server.url) as http:
            statuses.append(http.get(path, headers=dict(headers)).status_code)

    visitor = threading.Thread(target=visit)
    visitor.start()
    try:
        server.wait_for_log(started)
        server.terminate()
    finally:
        visitor.join(STOP_TIMEOUT)
    assert len(statuses) == 1, "the request in flight got no response"
    return statuses[0]


class Load:
    """A load generator: ``workers`` threads sending tracked page views (``/?n=<i>``, each
    URL once) to ``base_url`` until ``stop()``. ``answered``: the URLs answered 200, each
    a page view the receiver must get."""

    def __init__(self, base_url: str, user_agent: str, *, workers: int = 4) -> None:
        self.answered: list[str] = []
        self.errors: list[str] = []
        self._base = base_url
        self._headers = {"user-agent": user_agent}
        self._numbers = iter(range(10**9))  # next() on it is atomic under the GIL
        self._halt = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(workers)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        with client(self._base) as http:
            while not self._halt.is_set():
                path = f"/?n={next(self._numbers)}"
                try:
                    response = http.get(path, headers=self._headers)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{path}: {exc!r}")
                    continue
                if response.status_code == 200:
                    self.answered.append(self._base + path)

    def run_for(self, seconds: float) -> None:
        """Let the load run ``seconds`` longer (a paced wait: the load is the point)."""
        self._halt.wait(seconds)

    def stop(self) -> None:
        """Stop after the requests in flight are answered."""
        self._halt.set()
        for thread in self._threads:
            thread.join(STOP_TIMEOUT)
