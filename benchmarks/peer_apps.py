"""The apps ``bench_peers`` serves: one page, one framework, one way of tracking it.

The server imports ``benchmarks.peer_apps:app``; the environment says what it is:

- ``BENCH_FRAMEWORK``: ``fastapi`` (an ASGI app, for uvicorn) or ``flask`` (WSGI, for
  gunicorn);
- ``BENCH_PAGE``: ``hello`` (a fixed HTML page) or ``db`` (a Jinja2 template over 30 rows
  of an SQLite query, the work of a small real page);
- ``BENCH_VARIANT``: ``bare``; ``noop`` (a middleware that only calls the app); ``noop-send``
  (one that also wraps ``send`` / ``start_response`` and looks at the response's status,
  the shape of every tracker below, building nothing);
  ``pirsch`` (this library's middleware, credentials from ``PIRSCH_*``); ``posthog`` and
  ``segment`` (the SDK's ``capture()`` / ``page()`` from a middleware of that shape, with
  what a page view carries: URL, address, user agent, language, referrer); and
  ``api-analytics`` (its own FastAPI middleware or Flask integration);
- ``BENCH_SINK``: the local receiver the peers send to (nothing leaves the machine).

The peers are installed by the ``bench`` extra (``pip install -e '.[bench]'``) and only
called here, as their documentation shows.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

import jinja2

FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "fastapi")
PAGE = os.environ.get("BENCH_PAGE", "hello")
VARIANT = os.environ.get("BENCH_VARIANT", "bare")
SINK = os.environ.get("BENCH_SINK", "http://127.0.0.1:9")
KEY = "bench_key"
VARIANTS = ("bare", "noop", "noop-send", "pirsch", "posthog", "segment", "api-analytics")
PEERS = {"posthog": "posthog", "segment": "segment.analytics", "api-analytics": "api_analytics"}

HELLO = """<!doctype html><html><head><title>Hello</title></head>
<body><h1>Hello, world</h1></body></html>"""
TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html><head><title>{{ title }}</title></head><body><h1>{{ title }}</h1>
<table><tr><th>#</th><th>Product</th><th>Category</th><th>Price</th><th>Stock</th></tr>
{% for row in rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td>
<td>{{ "%.2f"|format(row[3]) }}</td><td>{{ row[4] }}</td></tr>
{% endfor %}</table></body></html>""")
QUERY = "SELECT id, name, category, price, stock FROM products WHERE category = ? " \
        "ORDER BY price DESC LIMIT 30"


def _database() -> sqlite3.Connection:
    """1,000 products in an SQLite file of this process's own."""
    path = Path(tempfile.mkdtemp(prefix="bench-peers-")) / "shop.sqlite3"
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, "
               "price REAL, stock INTEGER)")
    db.execute("CREATE INDEX by_category ON products (category, price)")
    db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?)",
                   [(n, f"Product <{n}>", f"c{n % 10}", (n * 7919) % 10000 / 100, n % 50)
                    for n in range(1000)])
    db.commit()
    return db


DB = _database() if PAGE == "db" else None


def render() -> str:
    """The page's HTML."""
    if DB is None:
        return HELLO
    rows = DB.execute(QUERY, ("c3",)).fetchall()
    return TEMPLATE.render(title="Products", rows=rows)


# -- what a tracker sends for a page view ------------------------------------------------

PageView = dict[str, str | None]


def page_view_asgi(scope: MutableMapping[str, Any]) -> PageView:
    headers = {name.decode("latin-1"): value.decode("latin-1")
               for name, value in scope["headers"]}
    query = scope["query_string"].decode("latin-1")
    url = f"{scope['scheme']}://{headers.get('host', '')}{scope['path']}"
    return {"url": url + ("?" + query if query else ""),
            "ip": scope["client"][0] if scope.get("client") else None,
            "user_agent": headers.get("user-agent"),
            "language": headers.get("accept-language"), "referrer": headers.get("referer")}


def page_view_wsgi(environ: MutableMapping[str, Any]) -> PageView:
    query = environ.get("QUERY_STRING", "")
    url = f"{environ['wsgi.url_scheme']}://{environ.get('HTTP_HOST', '')}" \
          f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
    return {"url": url + ("?" + query if query else ""), "ip": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "language": environ.get("HTTP_ACCEPT_LANGUAGE"),
            "referrer": environ.get("HTTP_REFERER")}


def tracker(variant: str) -> Callable[[PageView], None]:
    """A function that hands one page view to the peer's SDK."""
    if variant == "posthog":
        from posthog import Posthog

        posthog = Posthog(KEY, host=SINK)

        def capture(view: PageView) -> None:
            posthog.capture("$pageview", distinct_id=view["ip"] or "anonymous", properties={
                "$current_url": view["url"], "$ip": view["ip"],
                "$raw_user_agent": view["user_agent"], "$referrer": view["referrer"],
                "accept_language": view["language"]})

        return capture
    if variant == "segment":
        from segment.analytics import Client

        segment = Client(KEY, host=SINK)

        def page(view: PageView) -> None:
            segment.page(anonymous_id=view["ip"] or "anonymous",
                         properties={"url": view["url"], "referrer": view["referrer"]},
                         context={"ip": view["ip"], "userAgent": view["user_agent"],
                                  "locale": view["language"]})

        return page
    raise ValueError(f"no tracker for {variant!r}")


# -- ASGI (FastAPI) --------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class NoopASGI:
    """Calls the app, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class TrackingASGI:
    """Wraps ``send`` and, when a page is answered 200, hands its page view to ``track``;
    without ``track``, looks at the status and builds nothing (``noop-send``)."""

    def __init__(self, app: ASGIApp, track: Callable[[PageView], None] | None = None,
                 ) -> None:
        self.app, self.track = app, track

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        track = self.track

        async def observe(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200 \
                    and track is not None:
                track(page_view_asgi(scope))
            await send(message)

        await self.app(scope, receive, observe)


def fastapi_app(variant: str) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(render())

    if variant == "noop":
        app.add_middleware(NoopASGI)
    elif variant == "noop-send":
        app.add_middleware(TrackingASGI)
    elif variant in ("posthog", "segment"):
        app.add_middleware(TrackingASGI, track=tracker(variant))
    elif variant == "pirsch":
        from pirsch_middleware.asgi import PirschMiddleware

        app.add_middleware(PirschMiddleware)
    elif variant == "api-analytics":
        from api_analytics.fastapi import Analytics, Config

        app.add_middleware(Analytics, api_key=KEY, config=Config(server_url=SINK))
    return app


# -- WSGI (Flask) ----------------------------------------------------------------------

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class NoopWSGI:
    """Calls the app, nothing else."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse,
                 ) -> Iterable[bytes]:
        return self.app(environ, start_response)


class TrackingWSGI:
    """Wraps ``start_response`` and, when a page is answered 200, hands its page view to
    ``track``; without ``track``, looks at the status and builds nothing (``noop-send``)."""

    def __init__(self, app: WSGIApp, track: Callable[[PageView], None] | None = None,
                 ) -> None:
        self.app, self.track = app, track

    def __call__(self, environ: dict[str, Any], start_response: StartResponse,
                 ) -> Iterable[bytes]:
        track = self.track

        def observe(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if status.startswith("200") and track is not None:
                track(page_view_wsgi(environ))
            return start_response(status, headers, *args)

        return self.app(environ, observe)


def flask_app(variant: str) -> Any:
    from flask import Flask

    app = Flask(__name__)

    @app.get("/")
    def page() -> str:
        return render()

    if variant == "noop":
        app.wsgi_app = NoopWSGI(app.wsgi_app)  # type: ignore[method-assign]
    elif variant == "noop-send":
        app.wsgi_app = TrackingWSGI(app.wsgi_app)  # type: ignore[method-assign]
    elif variant in ("posthog", "segment"):
        app.wsgi_app = TrackingWSGI(app.wsgi_app,  # type: ignore[method-assign]
                                    tracker(variant))
    elif variant == "pirsch":
        from pirsch_middleware.flask import Pirsch

        Pirsch(app)
    elif variant == "api-analytics":
        from api_analytics.flask import Config, add_middleware

        add_middleware(app, KEY, Config(server_url=SINK))
    return app


if VARIANT not in VARIANTS:
    raise SystemExit(f"BENCH_VARIANT must be one of {', '.join(VARIANTS)}, not {VARIANT!r}")
app: Any = fastapi_app(VARIANT) if FRAMEWORK == "fastapi" else flask_app(VARIANT)
