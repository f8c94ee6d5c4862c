"""Runtimes that have broken other analytics clients: gevent's monkey-patching and uWSGI
without threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import pytest

from pirsch_middleware import Tracker
from pirsch_middleware._items import page_view

GEVENT_SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    from pirsch_middleware import Tracker
    from pirsch_middleware._items import page_view
    from pirsch_middleware.devserver import DevServer

    with DevServer() as receiver:
        tracker = Tracker(base_url=receiver.base_url, access_key=receiver.access_key,
                          environ={})
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/g", "HTTP_HOST": "example.com",
                   "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux) Firefox/120.0",
                   "REMOTE_ADDR": "203.0.113.1"}
        for _ in range(5):
            tracker.put(page_view(environ))
        print(tracker.flush(10), len(receiver.hits))
""")


def test_flusher_delivers_under_gevent_monkey_patching() -> None:
    pytest.importorskip("gevent")
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split() == ["True", "5"], done.stderr[-2000:]


@pytest.mark.parametrize(("opt", "warned"), [({}, True), ({"enable-threads": True}, False),
                                             ({"threads": 4}, False)])
def test_uwsgi_without_threads_is_reported(opt: dict[str, object], warned: bool,
                                           monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    fake = types.ModuleType("uwsgi")
    fake.opt = opt  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uwsgi", fake)
    tracker = Tracker(access_key="pa_x", base_url="http://127.0.0.1:9", environ={},
                      flush_interval=60)
    tracker.put(page_view({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}))
    assert ("--enable-threads" in caplog.text) is warned
    tracker.close(0)


BLOCKED_IMPORT = textwrap.dedent("""
    import sys
    for name in {blocked!r}:
        sys.modules[name] = None  # as if not installed
    try:
        import pirsch_middleware.{module}
    except ImportError as exc:
        print(exc)
""")


@pytest.mark.parametrize(("module", "blocked", "extra"), [
    ("django", ["django", "django.conf"], "pirsch-middleware[django]"),
    ("flask", ["flask"], "pirsch-middleware[flask]"),
])
def test_adapter_without_its_framework_names_the_extra(module: str, blocked: list[str],
                                                       extra: str) -> None:
    script = BLOCKED_IMPORT.format(blocked=blocked, module=module)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert extra in done.stdout, done.stderr[-2000:]


def test_core_imports_no_framework() -> None:
    script = ("import sys, pirsch_middleware, pirsch_middleware.wsgi, pirsch_middleware.asgi\n"
              "print(sorted(m for m in ('django', 'flask', 'starlette', 'fastapi')"
              " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
