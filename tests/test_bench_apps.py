"""The apps ``benchmarks/bench_peers.py`` serves: every way of serving answers the page,
and this library's tracks it. (The peers' SDKs come with the bench extra only; their
variants are exercised by running the benchmark.)"""

from __future__ import annotations

import importlib
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


def test_noop_send_sees_the_page_view_a_tracker_would_send() -> None:
    seen: list[dict[str, str | None]] = []
    app = peer_apps.TrackingWSGI(peer_apps.flask_app("bare").wsgi_app, seen.append)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "a=1",
               "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "HTTP_HOST": "example.com", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_USER_AGENT": "UA", "wsgi.input": None, "wsgi.errors": None}
    list(app(environ, lambda *args: None))
    assert seen == [{"url": "http://example.com/?a=1", "ip": "203.0.113.9",
                     "user_agent": "UA", "language": None, "referrer": None}]


def test_every_variant_bench_instructions_counts_runs(monkeypatch: pytest.MonkeyPatch,
                                                      ) -> None:
    """What callgrind counts runs: one batch of calls of each, without valgrind (one
    raising fails the test)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = importlib.import_module("benchmarks.bench_instructions")
    for make, _ in bench.VARIANTS.values():
        make()(bench.SHORT)
