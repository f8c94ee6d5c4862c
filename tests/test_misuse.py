"""Mistakes users make, and what they see: one table, a row per mistake.

Each row does what a user would (configure a middleware wrongly, install it twice, pass
bad arguments from a view) and says what must follow: an exception at start-up naming
what to fix, a warning naming the call or the closest valid name, and in every case no
failed request and no page view counted twice.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from pirsch_middleware import Tracker, dont_track, set_tags, set_title, track_event
from pirsch_middleware.asgi import PirschMiddleware as ASGIMiddleware
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.flask import Pirsch
from pirsch_middleware.wsgi import PirschMiddleware as WSGIMiddleware

from . import django_settings  # noqa: F401  # configures Django before it is used
from .conftest import TrackerFactory
from .requests_table import BROWSER, Case, asgi_app, run_asgi, run_wsgi, wsgi_app

UA = BROWSER.decode()
Act = Callable[["Ctx"], Any]


@dataclass
class Ctx:
    """What a row's act gets: a tracker sending to the receiver, and its options."""

    tracker: Tracker
    receiver: DevServer
    make_tracker: TrackerFactory

    @property
    def options(self) -> dict[str, Any]:
        return {"base_url": self.receiver.base_url, "access_key": self.receiver.access_key}


@dataclass
class Mistake:
    id: str
    act: Act
    raises: tuple[type[Exception], str] | None = None  # the exception and its message
    logs: list[str] = field(default_factory=list)  # warnings/errors that must be logged
    hits: list[dict[str, Any]] | None = None  # the hits sent: each a subset of the fields
    events: list[dict[str, Any]] | None = None
    secret: str = ""  # must not appear in the message, the logs or the result's repr


# --- acts ----------------------------------------------------------------------------------

def wsgi_request(app: Any, case: Case | None = None) -> None:
    status = run_wsgi(app, (case or Case("page")).environ())[0]
    assert status.startswith("200")


def asgi_request(app: Any, case: Case | None = None,
                 scope: dict[str, Any] | None = None) -> None:
    sent = run_asgi(app, scope or (case or Case("page")).scope())
    assert sent[0]["status"] == 200


POST = Case("signup", method="POST")  # no page view: a passing request


def sign_up() -> None:
    track_event("Signup")


def view_calls(during: Callable[[], None], *, asgi: bool = False,
               case: Case | None = None) -> Act:
    """A page view whose view makes ``during``'s calls."""
    def act(ctx: Ctx) -> None:
        case_ = case or Case("page")
        if asgi:
            asgi_request(ASGIMiddleware(asgi_app(case_, during), tracker=ctx.tracker), case_)
        else:
            wsgi_request(WSGIMiddleware(wsgi_app(case_, during), tracker=ctx.tracker), case_)
    return act


def starlette_app(**options: Any) -> Starlette:
    async def home(request: Any) -> HTMLResponse:
        return HTMLResponse("<h1>home</h1>")

    return Starlette(routes=[Route("/", home)],
                     middleware=[Middleware(ASGIMiddleware, **options)])


def lazily_built_bad_option_fails_startup(ctx: Ctx) -> None:
    app = starlette_app(exclude=["admin"], **ctx.options)
    with pytest.raises(ValueError, match="exclude: 'admin'"), TestClient(app):
        pass  # the lifespan startup fails: the server would stop here


def lazily_built_bad_option_without_lifespan(ctx: Ctx) -> None:
    app = starlette_app(exclude=["admin"], **ctx.options)
    client = TestClient(app, headers={"user-agent": UA})  # no `with`: no lifespan
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200  # untracked, and no 500


def flask_app() -> Flask:
    app = Flask("misuse")

    @app.get("/")
    def home() -> str:
        return "<h1>home</h1>"

    return app


def flask_visit(app: Flask) -> None:
    response = app.test_client().get("/", headers={"user-agent": UA},
                                     environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 200


def flask_twice(ctx: Ctx) -> None:
    app = flask_app()
    Pirsch(app, tracker=ctx.tracker)
    Pirsch(app, tracker=ctx.tracker)
    flask_visit(app)


def flask_config_typo(ctx: Ctx) -> None:
    app = flask_app()
    app.config.update(PIRSCH_TRACKER=ctx.tracker, PIRSCH_EXCLUDES=["/admin/"])
    Pirsch(app)
    flask_visit(app)


def django_visit(ctx: Ctx, middleware: list[str], url: str = "/page/") -> None:
    with override_settings(PIRSCH={"TRACKER": ctx.tracker}, MIDDLEWARE=middleware,
                           ROOT_URLCONF=__name__):
        response = DjangoClient(HTTP_USER_AGENT=UA, REMOTE_ADDR="203.0.113.7").get(url)
        assert response.status_code == 200


def django_wsgi_wrapped(ctx: Ctx) -> None:
    from django.core.handlers.wsgi import WSGIHandler

    with override_settings(PIRSCH={"TRACKER": ctx.tracker}, ROOT_URLCONF=__name__,
                           MIDDLEWARE=["pirsch_middleware.django.PirschMiddleware"]):
        app = WSGIMiddleware(WSGIHandler(), tracker=ctx.tracker)
        environ = Case("page", path=b"/page/").environ()
        environ.update({"wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()})
        assert run_wsgi(app, environ)[0].startswith("200")


TWICE = ["pirsch_middleware.django.PirschMiddleware"] * 2


# --- Django views --------------------------------------------------------------------------

def django_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>page</h1>")


@dont_track
class HiddenView(View):  # type: ignore[misc]
    def get(self, request: HttpRequest) -> HttpResponse:
        track_event("Seen anyway")
        return HttpResponse("<h1>hidden</h1>")


@method_decorator(dont_track, name="dispatch")
class MethodHiddenView(View):  # type: ignore[misc]
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("<h1>hidden</h1>")


urlpatterns = [path("page/", django_page), path("hidden/", HiddenView.as_view()),
               path("method-hidden/", MethodHiddenView.as_view())]

LONE = "\ud800"  # a lone surrogate: not encodable as UTF-8
NOT_A_URL_KEY = "pa_0123456789abcdef"
ONE_HIT = [{"url": "http://example.com/page"}]


# --- the table -----------------------------------------------------------------------------

MISTAKES = [
    # configuration: at start-up, a message that says what to fix
    Mistake("a misspelled WSGI middleware option",
            lambda ctx: WSGIMiddleware(wsgi_app(Case("x")), flush_intervall=1),  # type: ignore[call-arg]
            raises=(TypeError, "'flush_intervall' (did you mean 'flush_interval'?). "
                               "The options are listed in the Options table")),
    Mistake("a misspelled ASGI middleware option",
            lambda ctx: ASGIMiddleware(asgi_app(Case("x")), exlude=["/a/"]),  # type: ignore[call-arg]
            raises=(TypeError, "pirsch_middleware.asgi.PirschMiddleware got unknown "
                               "option(s): 'exlude' (did you mean 'exclude'?)")),
    Mistake("a misspelled Flask extension option",
            lambda ctx: Pirsch(flask_app(), batchsize=10),
            raises=(TypeError, "Pirsch got unknown option(s): 'batchsize' (did you mean "
                               "'batch_size'?)")),
    Mistake("a misspelled key in Django's PIRSCH settings",
            lambda ctx: django_visit_settings({"FLUSH_INTERVALL": 1}),
            raises=(Exception, "settings.PIRSCH got unknown option(s): 'flush_intervall' "
                               "(did you mean 'flush_interval'?)")),
    Mistake("a misspelled PIRSCH_* key in Flask's app.config", flask_config_typo,
            logs=["app.config['PIRSCH_EXCLUDES'] is not a Pirsch option (did you mean "
                  "'PIRSCH_EXCLUDE'?)"], hits=[{"url": "http://localhost/"}]),
    Mistake("a misspelled PIRSCH_* environment variable",
            lambda ctx: Tracker(environ={"PIRSCH_ACESS_KEY": "pa_x"}),
            logs=["PIRSCH_ACESS_KEY is not one Pirsch reads (did you mean "
                  "'PIRSCH_ACCESS_KEY'?)"]),
    Mistake("the WSGI middleware around an ASGI app",
            lambda ctx: WSGIMiddleware(starlette_app()),  # type: ignore[arg-type]
            raises=(TypeError, "is an ASGI app: use pirsch_middleware.asgi.PirschMiddleware")),
    Mistake("the ASGI middleware around a WSGI app",
            lambda ctx: ASGIMiddleware(flask_app()),  # type: ignore[arg-type]
            raises=(TypeError, "is an WSGI app: use pirsch_middleware.wsgi.PirschMiddleware")),
    Mistake("a fractional batch_size",
            lambda ctx: Tracker(access_key="pa_x", batch_size=2.5, environ={}),  # type: ignore[arg-type]
            raises=(ValueError, "batch_size must be a whole number, got 2.5")),
    Mistake("a fractional PIRSCH_MAX_QUEUE",
            lambda ctx: Tracker(environ={"PIRSCH_ACCESS_KEY": "pa_x",
                                         "PIRSCH_MAX_QUEUE": "100.5"}),
            raises=(ValueError, "max_queue must be a whole number, got '100.5'")),
    Mistake("a password in base_url",
            lambda ctx: Tracker(access_key="pa_x", base_url="https://me:hunter2@api.test",
                                environ={}),
            secret="hunter2"),
    Mistake("an access key pasted into base_url",
            lambda ctx: Tracker(access_key="pa_x", base_url=NOT_A_URL_KEY, environ={}),
            raises=(ValueError, "base_url must be an absolute http(s) URL"),
            secret=NOT_A_URL_KEY),
    Mistake("a regex with commas in PIRSCH_EXCLUDE",
            lambda ctx: excluded_by({"PIRSCH_EXCLUDE": "/admin/, re:^/(a|b){1,2}/"},
                                    ["/admin/x", "/ab/", "/a/"], ["/abc", "/c/"])),
    Mistake("a path without its leading slash in PIRSCH_EXCLUDE",
            lambda ctx: excluded_by({"PIRSCH_EXCLUDE": "admin, re:^/x/"}, [], []),
            raises=(ValueError, "'admin' is neither a path prefix starting with '/'")),
    Mistake("a bad option with add_middleware, under lifespan",
            lazily_built_bad_option_fails_startup, logs=["Pirsch is misconfigured: exclude"]),
    Mistake("a bad option with add_middleware, without lifespan",
            lazily_built_bad_option_without_lifespan,
            logs=["Pirsch is misconfigured: exclude: 'admin'",
                  "requests pass through untracked"], hits=[]),
    # installed twice: one page view is one hit
    Mistake("the WSGI middleware applied twice",
            lambda ctx: wsgi_request(WSGIMiddleware(WSGIMiddleware(
                wsgi_app(Case("page")), tracker=ctx.tracker), tracker=ctx.tracker)),
            logs=["is installed inside another Pirsch middleware"], hits=ONE_HIT),
    Mistake("the ASGI middleware applied twice",
            lambda ctx: asgi_request(ASGIMiddleware(ASGIMiddleware(
                asgi_app(Case("page")), tracker=ctx.tracker), tracker=ctx.tracker)),
            logs=["is installed inside another Pirsch middleware"], hits=ONE_HIT),
    Mistake("the WSGI middleware applied twice, a POST that tracks an event",
            lambda ctx: wsgi_request(WSGIMiddleware(WSGIMiddleware(
                wsgi_app(POST, sign_up), tracker=ctx.tracker), tracker=ctx.tracker), POST),
            logs=["is installed inside another Pirsch middleware"], hits=[],
            events=[{"event_name": "Signup"}]),
    Mistake("the ASGI middleware applied twice, a POST that tracks an event",
            lambda ctx: asgi_request(ASGIMiddleware(ASGIMiddleware(
                asgi_app(POST, sign_up), tracker=ctx.tracker), tracker=ctx.tracker), POST),
            logs=["is installed inside another Pirsch middleware"], hits=[],
            events=[{"event_name": "Signup"}]),
    Mistake("Pirsch(app) called twice", flask_twice,
            logs=["init_app() was called again"], hits=[{"url": "http://localhost/"}]),
    Mistake("the Django middleware listed twice", lambda ctx: django_visit(ctx, TWICE),
            logs=["pirsch_middleware.django.PirschMiddleware is installed inside another"],
            hits=[{"url": "http://testserver/page/"}]),
    Mistake("Django's middleware and a WSGI wrapper around the same app",
            django_wsgi_wrapped, logs=["is installed inside another Pirsch middleware"],
            hits=[{"url": "http://example.com/page/"}]),
    # bad arguments from views: logged, dropped, never raised
    Mistake("set_tags with a string", view_calls(lambda: set_tags("x")),  # type: ignore[arg-type]
            logs=["set_tags: tags must be a dict of strings, got str"],
            hits=[{"url": "http://example.com/page", "tags": None}]),
    Mistake("set_tags with an object value",
            view_calls(lambda: set_tags(plan="pro", when=object())),
            logs=["set_tags: the value of tag 'when' must be a string or a number"],
            hits=[{"tags": {"plan": "pro"}}]),
    Mistake("set_title with a number", view_calls(lambda: set_title(42)),  # type: ignore[arg-type]
            logs=["set_title: the title must be a string, got int"],
            hits=[{"title": None}]),
    Mistake("an infinite event duration",
            view_calls(lambda: track_event("Played", duration=float("inf"))),
            logs=["duration must be a number of seconds >= 0, got inf"],
            events=[{"event_name": "Played", "event_duration": None}]),
    Mistake("a lone surrogate in a title", view_calls(lambda: set_title(f"Caf{LONE}")),
            hits=[{"title": "Caf\ufffd"}]),
    Mistake("a lone surrogate in an event name",
            view_calls(lambda: track_event(f"Sign{LONE}up", meta={"k": LONE})),
            events=[{"event_name": "Sign\ufffdup", "event_meta": {"k": "\ufffd"}}]),
    Mistake("a lone surrogate in an ASGI path without raw_path",
            lambda ctx: asgi_request(ASGIMiddleware(asgi_app(Case("p")), tracker=ctx.tracker),
                                     scope=surrogate_scope()),
            hits=[{"url": "http://example.com/caf%EF%BF%BD"}]),
    Mistake("@dont_track on a Django class-based view",
            lambda ctx: django_visit(ctx, TWICE[:1], "/hidden/"),
            hits=[], events=[{"event_name": "Seen anyway"}]),
    Mistake("method_decorator(dont_track) on a Django view's dispatch",
            lambda ctx: django_visit(ctx, TWICE[:1], "/method-hidden/"), hits=[]),
]


def django_visit_settings(settings: dict[str, Any]) -> None:
    from pirsch_middleware.django import PirschMiddleware as DjangoMiddleware

    with override_settings(PIRSCH=settings):
        DjangoMiddleware(django_page)


def excluded_by(environ: dict[str, str], excluded: list[str], tracked: list[str]) -> None:
    from pirsch_middleware._rules import Rules

    rules = Rules(environ=environ)
    assert [p for p in excluded if rules.is_candidate("GET", p)] == []
    assert [p for p in tracked if not rules.is_candidate("GET", p)] == []


def surrogate_scope() -> dict[str, Any]:
    scope = Case("p").scope()
    scope["path"] = f"/caf{LONE}"
    del scope["raw_path"]
    return scope


@pytest.fixture
def ctx(make_tracker: TrackerFactory, receiver: DevServer) -> Ctx:
    return Ctx(make_tracker(), receiver, make_tracker)


def _subset(item: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(item.get(name) == value for name, value in wanted.items())


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_mistake(mistake: Mistake, ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pirsch_middleware")
    result: Any = None
    if mistake.raises is not None:
        kind, message = mistake.raises
        with pytest.raises(kind, match=re.escape(message)) as raised:
            mistake.act(ctx)
        if mistake.secret:
            assert mistake.secret not in str(raised.value)
    else:
        result = mistake.act(ctx)
    for text in mistake.logs:
        assert text in caplog.text
        assert caplog.text.count(text) == 1, f"logged more than once: {text}"
    if mistake.secret:
        assert mistake.secret not in caplog.text
        assert mistake.secret not in repr(result)
        if isinstance(result, Tracker):
            assert mistake.secret not in repr(result.options)
    assert ctx.tracker.flush(5)
    if mistake.hits is not None:
        assert len(ctx.receiver.hits) == len(mistake.hits), ctx.receiver.hits
        for hit, wanted in zip(ctx.receiver.hits, mistake.hits, strict=True):
            assert _subset(hit, wanted), (hit, wanted)
    if mistake.events is not None:
        assert len(ctx.receiver.events) == len(mistake.events), ctx.receiver.events
        for event, wanted in zip(ctx.receiver.events, mistake.events, strict=True):
            assert _subset(event, wanted), (event, wanted)


def test_a_misconfigured_starlette_app_never_fails_a_request_under_asyncio() -> None:
    """The lazily built middleware's error stays an error of start-up, not of requests."""
    app = starlette_app(trusted_proxies="10.0.0.0/8;192.168.0.0/16")

    async def call() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        await app(Case("x", path=b"/").scope(), receive, send)
        return sent

    assert asyncio.run(call())[0]["status"] == 200
