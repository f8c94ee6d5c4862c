"""The apps ``benchmarks/bench_peers.py`` serves: every way of serving answers the page,
and this library's tracks it. (The peers' SDKs come with the bench extra only; their
variants are exercised by running the benchmark.)"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pirsch_middleware import set_tracker

from .conftest import TrackerFactory

peer_apps: Any = importlib.import_module("benchmarks.peer_apps")
OURS = ["bare", "noop", "noop-send", "pirsch"]
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 "
                         "Firefox/125.0", "accept-language": "en"}


@pytest.mark.parametrize("variant", OURS)
def test_fastapi_variant_answers_the_page(variant: str, make_tracker: TrackerFactory) -> None:
    tracker = make_tracker()
    set_tracker(tracker)
    with TestClient(peer_apps.fastapi_app(variant)) as client:
        response = client.get("/", headers=BROWSER)
    assert response.status_code == 200
    assert "Hello, world" in response.text
    assert tracker.stats().queued == (variant == "pirsch")


@pytest.mark.parametrize("variant", OURS)
def test_flask_variant_answers_the_page(variant: str, make_tracker: TrackerFactory) -> None:
    tracker = make_tracker()
    set_tracker(tracker)
    response = peer_apps.flask_app(variant).test_client().get("/", headers=BROWSER)
    assert response.status_code == 200
    assert "Hello, world" in response.text
    assert tracker.flush(5)
    assert tracker.stats().sent == (variant == "pirsch")


def test_db_page_renders_thirty_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_apps, "DB", peer_apps._database())
    page = peer_apps.render()
    assert page.count("<tr><td>") == 30
    assert "Product &lt;" in page  # autoescaped


def test_a_trackers_middleware_sees_the_page_view_it_hands_on() -> None:
    seen: list[dict[str, str | None]] = []
    app = peer_apps.TrackingWSGI(peer_apps.flask_app("bare").wsgi_app, seen.append)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "a=1",
               "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "HTTP_HOST": "example.com", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_USER_AGENT": "UA", "wsgi.input": None, "wsgi.errors": None}
    list(app(environ, lambda *args: None))
    assert seen == [{"url": "http://example.com/?a=1", "ip": "203.0.113.9",
                     "user_agent": "UA", "language": None, "referrer": None}]


def test_the_noop_of_a_trackers_shape_builds_no_page_view(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``noop-send`` is the yardstick of a tracker's cost: it must not do a tracker's work."""
    def built(request: Any) -> None:
        raise AssertionError("noop-send built a page view")

    monkeypatch.setattr(peer_apps, "page_view_wsgi", built)
    monkeypatch.setattr(peer_apps, "page_view_asgi", built)
    flask_client = peer_apps.flask_app("noop-send").test_client()
    assert flask_client.get("/", headers=BROWSER).status_code == 200
    with TestClient(peer_apps.fastapi_app("noop-send")) as client:
        assert client.get("/", headers=BROWSER).status_code == 200


def test_every_variant_bench_instructions_counts_runs(monkeypatch: pytest.MonkeyPatch,
                                                      ) -> None:
    """What callgrind counts runs: one batch of calls of each, without valgrind (one
    raising fails the test)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = importlib.import_module("benchmarks.bench_instructions")
    for make, _ in bench.VARIANTS.values():
        make()(bench.SHORT)


def test_the_encode_stage_sends_every_hit_without_a_connection(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``stages_app``'s ``encode`` stage: hits read, encoded and batched, then taken by a
    sender in the process; nothing goes to the base URL (port 9: nobody listens)."""
    (tmp_path / "stage_target.py").write_text(
        "from pirsch_middleware.wsgi import PirschMiddleware\n"
        "def site(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/html')])\n"
        "    return [b'<h1>Hi</h1>']\n"
        "app = PirschMiddleware(site)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, value in {"BENCH_STAGE": "encode", "BENCH_APP": "stage_target:app",
                        "PIRSCH_ACCESS_KEY": "pa_stages",
                        "PIRSCH_BASE_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    for module in ("benchmarks.stages_app", "stage_target"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    stages = importlib.import_module("benchmarks.stages_app")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_HOST": "example.com",
               "REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": BROWSER["user-agent"],
               "HTTP_ACCEPT": "text/html"}
    try:
        for _ in range(300):
            list(stages.app(dict(environ), lambda *args: None))
        assert stages.tracker.flush(5)
        assert stages.tracker.stats().sent == 300
        assert stages.tracker._delivery.sender == "accepting"
    finally:
        stages.tracker.close(timeout=2)


def test_bench_peers_skips_a_peer_whose_package_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                            ) -> None:
    """A peer not installed is skipped, as bench_peers says: a dotted module whose package
    is missing too (``segment.analytics`` without ``segment``) included."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = importlib.import_module("benchmarks.bench_peers")
    monkeypatch.setattr(bench, "PEERS", {"here": "json", "gone": "no_such_package",
                                         "gone too": "no_such_package.analytics"})
    assert bench.missing_peers() == ["gone", "gone too"]
