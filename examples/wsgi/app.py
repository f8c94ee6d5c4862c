"""A plain WSGI app with Pirsch, configured only through PIRSCH_* environment variables.

Run it: ``PIRSCH_ACCESS_KEY=pa_... python examples/wsgi/app.py`` (port 8000), or under
any WSGI server: ``gunicorn examples.wsgi.app:app``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from pirsch_middleware import track_event
from pirsch_middleware.wsgi import PirschMiddleware

PAGE = """<!doctype html><html><head><title>{title}</title></head>
<body><h1>{title}</h1><p><a href="/">Home</a> <a href="/pricing">Pricing</a></p>
<form method="post" action="/signup"><button>Sign up</button></form></body></html>"""


def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    if path == "/api/stats":  # JSON: not a page view
        body = json.dumps({"ok": True}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/signup" and method == "POST":  # a form post: an event, no page view
        track_event("Signup", meta={"plan": "free", "source": "form"})
        start_response("303 See Other", [("Location", "/welcome")])
        return [b""]
    titles = {"/": "Home", "/pricing": "Pricing", "/welcome": "Welcome"}
    if path not in titles:
        start_response("404 Not Found", [("Content-Type", "text/html")])
        return [b"<h1>Not found</h1>"]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [PAGE.format(title=titles[path]).encode()]


app = PirschMiddleware(site)

if __name__ == "__main__":
    with make_server("127.0.0.1", 8000, app) as server:
        print("http://127.0.0.1:8000/")
        server.serve_forever()
