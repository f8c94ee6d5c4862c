"""The kit for users' own tests and debugging: the off switch, ``record()`` and the
``pirsch`` fixture with each framework's own test client, and debug mode."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from flask import Flask

from pirsch_middleware import Tracker, _registry, dont_track, set_title, track_event
from pirsch_middleware.asgi import PirschMiddleware as ASGIMiddleware
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.flask import Pirsch
from pirsch_middleware.testing import Filtered, Recorder, record
from pirsch_middleware.wsgi import PirschMiddleware as WSGIMiddleware

from . import django_settings  # noqa: F401  # configures Django before it is used
from .conftest import TrackerFactory
from .requests_table import Case, asgi_app, run_asgi, run_wsgi, wsgi_app

NO_CREDENTIALS: dict[str, str] = {}  # as in a CI job: no PIRSCH_* variables at all
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


# --- apps as users write them, configured only through the (empty) environment --------------

def flask_app() -> Flask:
    app = Flask("kit")
    app.config["PIRSCH_EXCLUDE"] = ["/admin/"]

    @app.get("/")
    def home() -> str:
        set_title("Home")
        return "<h1>home</h1>"

    @app.post("/signup")
    def signup() -> tuple[str, int]:
        track_event("Signup", meta={"plan": "pro"})
        return "", 303

    @app.get("/admin/")
    def admin() -> str:
        return "<h1>admin</h1>"

    Pirsch(app)
    return app


def fastapi_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ASGIMiddleware)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return "<h1>home</h1>"

    @app.get("/api")
    async def api() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/preview", response_class=HTMLResponse)
    @dont_track
    async def preview() -> str:
        track_event("Previewed")
        return "<h1>preview</h1>"

    return app


def django_home(request: HttpRequest) -> HttpResponse:
    track_event("Visited", meta={"from": "django"})
    return HttpResponse("<h1>home</h1>")


def django_missing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>gone</h1>", status=404)


urlpatterns = [path("", django_home), path("missing/", django_missing)]


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PIRSCH_ACCESS_KEY", "PIRSCH_CLIENT_ID", "PIRSCH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


# --- the off switch --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["false", "0", "no", "off"])
def test_off_switch_turns_tracking_off_even_with_credentials(
        value: str, receiver: DevServer, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_made", [False, False])  # as in a fresh process
    caplog.set_level(logging.INFO, logger="pirsch_middleware")
    tracker = Tracker(environ={"PIRSCH_ACCESS_KEY": receiver.access_key,
                               "PIRSCH_BASE_URL": receiver.base_url, "PIRSCH_ENABLED": value})
    app = WSGIMiddleware(wsgi_app(Case("page"), lambda: track_event("Quiet")),
                         tracker=tracker)
    assert run_wsgi(app, Case("page").environ())[2] == b"<html>body</html>"
    assert not tracker.enabled
    assert tracker.flush(1)
    assert receiver.received == []
    assert [r.getMessage() for r in caplog.records] == [
        "Pirsch tracking is off (enabled=False / PIRSCH_ENABLED): requests pass through "
        "untracked"]


def test_off_switch_as_an_option(receiver: DevServer) -> None:
    tracker = Tracker(access_key=receiver.access_key, base_url=receiver.base_url,
                      enabled=False, environ={})
    assert not tracker.enabled


# --- record() with every integration ---------------------------------------------------------

def test_record_with_flasks_test_client(no_credentials: None) -> None:
    app = flask_app()
    with record() as pirsch:
        client = app.test_client()
        client.get("/")
        client.post("/signup")
        client.get("/admin/")
    assert [(h["url"], h.get("title")) for h in pirsch.hits] == [("http://localhost/", "Home")]
    assert [(e["url"], e["event_name"], e["event_meta"]) for e in pirsch.events] == [
        ("http://localhost/signup", "Signup", {"plan": "pro"})]
    assert pirsch.filtered == [Filtered("hit", "http://localhost/signup", "method"),
                               Filtered("hit", "http://localhost/admin/", "excluded path")]
    assert pirsch.hits[0]["ip"] == "127.0.0.1"
    assert "user_agent" in pirsch.hits[0]


def test_record_with_fastapis_test_client(no_credentials: None) -> None:
    with record() as pirsch, TestClient(fastapi_app()) as client:
        client.get("/")
        client.get("/api")
        client.get("/preview")
        client.get("/", headers={"user-agent": GOOGLEBOT})
    assert [h["url"] for h in pirsch.hits] == ["http://testserver/"]
    assert [e["event_name"] for e in pirsch.events] == ["Previewed"]
    assert pirsch.filtered == [
        Filtered("hit", "http://testserver/api", "content type"),
        Filtered("hit", "http://testserver/preview", "dont_track"),
        Filtered("hit", "http://testserver/", "bot")]


def test_record_with_djangos_test_client(no_credentials: None) -> None:
    with override_settings(ROOT_URLCONF=__name__, PIRSCH={}), record() as pirsch:
        client = DjangoClient()
        client.get("/?ref=news")
        client.get("/missing/")
    assert [(h["url"], h.get("referrer")) for h in pirsch.hits] == [
        ("http://testserver/?ref=news", "news")]
    assert [e["event_meta"] for e in pirsch.events] == [{"from": "django"}]
    assert pirsch.filtered == [Filtered("hit", "http://testserver/missing/", "status")]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_record_with_the_plain_middlewares(kind: str, make_tracker: TrackerFactory) -> None:
    """Even a tracker that sends to a real API records instead, while record() lasts."""
    tracker = make_tracker()
    case = Case("page", user_agent=None, headers=[(b"dnt", b"1")])
    with record() as pirsch:
        if kind == "wsgi":
            run_wsgi(WSGIMiddleware(wsgi_app(case), tracker=tracker), case.environ())
        else:
            run_asgi(ASGIMiddleware(asgi_app(case), tracker=tracker), case.scope())
    assert pirsch.hits == []
    assert pirsch.filtered == [Filtered("hit", "http://example.com/page", "Do-Not-Track")]
    assert tracker.stats().queued == 0  # nothing reached the real buffer


def test_record_keeps_bots_when_asked(no_credentials: None) -> None:
    app = flask_app()
    with record(filter_bots=False) as pirsch:
        app.test_client().get("/", headers={"user-agent": GOOGLEBOT})
    assert [h["user_agent"] for h in pirsch.hits] == [GOOGLEBOT]


def test_record_sees_trackers_built_while_recording_and_lets_go_after(
        no_credentials: None) -> None:
    with record() as pirsch:
        app = flask_app()  # built inside: attached as it is built
        app.test_client().get("/")
        pirsch.clear()
        assert pirsch.hits == []
        app.test_client().get("/")
        assert len(pirsch.hits) == 1
    tracker = app.extensions["pirsch"].tracker
    assert not tracker.enabled  # no credentials: off again once the recording ends
    app.test_client().get("/")
    assert len(pirsch.hits) == 1


def test_record_does_not_nest() -> None:
    with record(), pytest.raises(RuntimeError, match="already recording"), record():
        pass


# --- the pytest fixture ----------------------------------------------------------------------

def test_the_pirsch_fixture(pirsch: Recorder, no_credentials: None) -> None:
    flask_app().test_client().get("/")
    assert pirsch.hits[0]["url"] == "http://localhost/"


def test_the_fixture_comes_with_the_installed_package(tmp_path: Path) -> None:
    """A suite of the user's own: no conftest, no -p option, only the installed package."""
    (tmp_path / "test_users_app.py").write_text(textwrap.dedent("""
        from flask import Flask
        from pirsch_middleware.flask import Pirsch

        app = Flask("users_app")
        app.get("/")(lambda: "<h1>hi</h1>")
        Pirsch(app)

        def test_home(pirsch):
            app.test_client().get("/")
            assert pirsch.hits[0]["url"] == "http://localhost/"
    """))
    env = {key: value for key, value in __import__("os").environ.items()
           if not key.startswith("PIRSCH_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert "1 passed" in done.stdout, done.stdout + done.stderr


# --- debug mode ------------------------------------------------------------------------------

def test_debug_mode_says_what_is_sent_and_what_is_not(
        make_tracker: TrackerFactory, receiver: DevServer,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pirsch_middleware")
    tracker = make_tracker(debug=True)
    page = Case("page")
    def view() -> None:
        set_title("Pricing")
        track_event("Clicked")

    app = WSGIMiddleware(wsgi_app(page, view), tracker=tracker)
    run_wsgi(app, page.environ())
    bot = Case("bot", user_agent=GOOGLEBOT.encode())
    run_wsgi(WSGIMiddleware(wsgi_app(bot), tracker=tracker), bot.environ())
    post = Case("post", method="POST")
    run_wsgi(WSGIMiddleware(wsgi_app(post), tracker=tracker), post.environ())
    assert tracker.flush(5)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == [
        "Pirsch debug: no hit for http://example.com/page: method",
        "Pirsch debug: hit http://example.com/page from 203.0.113.7 (Pricing)",
        "Pirsch debug: event http://example.com/page from 203.0.113.7 (Clicked)",
        "Pirsch debug: no hit for http://example.com/page: bot",
        "Pirsch debug: 1 hit(s) accepted by " + receiver.base_url,
        "Pirsch debug: 1 event(s) accepted by " + receiver.base_url,
    ]


def test_debug_mode_names_the_setting_when_the_api_is_unreachable(
        make_tracker: TrackerFactory, receiver: DevServer,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver.refuse()
    tracker = make_tracker(debug=True)
    run_wsgi(WSGIMiddleware(wsgi_app(Case("page")), tracker=tracker), Case("page").environ())
    assert not tracker.flush(0.3)
    assert f"cannot reach {receiver.base_url}" in caplog.text
    assert "check PIRSCH_BASE_URL" in caplog.text
