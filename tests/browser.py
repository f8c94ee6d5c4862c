"""Headless Chromium for tests, driven over its DevTools protocol.

Chromium is started with ``--remote-debugging-pipe``: it reads commands on its fd 3 and writes
answers and events on its fd 4, each a JSON message ending in a NUL byte, so no websocket
client is needed. ``posix_spawn`` puts the two pipe ends at those numbers in the child only.

    with Browser.start(tmp_path) as browser:
        page = browser.open("http://127.0.0.1:8765/")
        assert page.wait_for("document.title", timeout=10) == "Pirsch dev receiver"
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from .integration.harness import wait_until

__all__ = ["Browser", "BrowserError", "Page", "find_chromium"]

# Headless as root (--no-sandbox), and quiet on a closed network: without the background
# networking flags its own connections are refused and logged.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe")
COMMAND_TIMEOUT = 20.0


class BrowserError(Exception):
    """Chromium answered a command with an error, did not answer, or is gone."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One Chromium process; ``open()`` gives a page (a tab) to load and inspect."""

    def __init__(self, pid: int, commands: int, answers: int, log: Path) -> None:
        self.pid, self._commands, self._answers, self.log = pid, commands, answers, log
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []  # every event seen, oldest first

    @classmethod
    def start(cls, workdir: Path, executable: str | None = None) -> Browser:
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError("no chromium on PATH")
        profile = workdir / "profile"  # a fresh, empty profile each time
        profile.mkdir()
        log = workdir / "chromium.log"
        to_child, commands = os.pipe()
        answers, from_child = os.pipe()
        argv = [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        try:
            pid = os.posix_spawn(executable, argv, dict(os.environ), setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, to_child, 3), (os.POSIX_SPAWN_DUP2, from_child, 4),
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2)])
        finally:
            os.close(to_child)
            os.close(from_child)
        return cls(pid, commands, answers, log)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the pipe (Chromium then exits); kill its process group if it lingers."""
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not wait_until(self._exited, timeout=10):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            wait_until(self._exited, timeout=10)

    def _exited(self) -> bool:
        try:
            return os.waitpid(self.pid, os.WNOHANG)[0] != 0
        except ChildProcessError:
            return True

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result; events read meanwhile go to ``events``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise BrowserError(f"chromium is gone ({exc}); see {self.log}") from exc
        deadline = time.monotonic() + COMMAND_TIMEOUT
        for answer in self._messages(deadline):
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self.events.append(answer)
        raise BrowserError(f"{method}: no answer within {COMMAND_TIMEOUT} s; see {self.log}")

    def _messages(self, deadline: float) -> Iterator[dict[str, Any]]:
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                yield json.loads(raw)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                return
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium closed its pipe; see {self.log}")
            self._buffer += chunk

    def open(self, url: str) -> Page:
        """A new tab showing ``url``, with script errors and console messages collected."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        self.call("Runtime.enable", session=session)
        self.call("Log.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
        if not page.wait_for(loaded, timeout=COMMAND_TIMEOUT):
            raise BrowserError(f"{url} did not load within {COMMAND_TIMEOUT} s")
        return page


class Page:
    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser, self.target, self.session = browser, target, session

    def close(self) -> None:
        """Close the tab (and its connections)."""
        self.browser.call("Target.closeTarget", {"targetId": self.target})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        result = self.browser.call("Runtime.evaluate",
                                   {"expression": expression, "returnByValue": True},
                                   session=self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Evaluate ``expression`` until it is truthy; its value, or None after ``timeout``."""
        found: list[Any] = []

        def holds() -> bool:
            value = self.evaluate(expression)
            found[:] = [value]
            return bool(value)

        return found[0] if wait_until(holds, timeout, interval=0.05) else None

    def problems(self) -> list[str]:
        """Script errors, failed loads, blocked content and console errors of this page."""
        self.evaluate("0")  # reads what Chromium sent before this answer
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"]))
            elif event["method"] == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(str(params["args"]))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found
