"""Run: ``PIRSCH_ACCESS_KEY=pa_... gunicorn examples.flask.app:app`` (from the repository root).

A Flask app with Pirsch, configured only through ``PIRSCH_*`` environment variables
(``PIRSCH_ACCESS_KEY`` or ``PIRSCH_CLIENT_ID``/``PIRSCH_CLIENT_SECRET``, ``PIRSCH_BASE_URL``,
``PIRSCH_TRUSTED_PROXIES``...). Without credentials it runs untracked.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from pirsch_middleware import dont_track, set_tags, set_title, track_event
from pirsch_middleware.flask import Pirsch

logger = logging.getLogger(__name__)

PAGE = """<!doctype html><html><head><title>{title}</title></head>
<body><h1>{title}</h1><p><a href="/">Home</a> <a href="/pricing">Pricing</a>
<a href="/download">Download</a></p>
<form method="post" action="/signup"><button>Sign up</button></form></body></html>"""

app = Flask(__name__)
Pirsch(app)


def page(title: str) -> str:
    return PAGE.format(title=title)


@app.get("/")
def home() -> str:
    return page("Home")


@app.get("/pricing")
def pricing() -> str:
    set_title("Pricing plans")  # the page view's title, instead of none
    set_tags(section="pricing")
    return page("Pricing")


@app.post("/signup")
def signup() -> BaseResponse:
    # A form post is no page view, but its event is sent.
    track_event("Signup", meta={"plan": "free", "source": "form"})
    return redirect("/welcome", code=303)


@app.get("/welcome")
def welcome() -> str:
    return page("Welcome")


@app.get("/download")
def download() -> str:
    # Sent right after this request's page view.
    track_event("Download", meta={"file": "guide.pdf", "size_kb": 512})
    return page("Download")


@app.get("/preview")
@dont_track
def preview() -> str:
    return page("Preview (not tracked)")


@app.get("/slow")
def slow() -> tuple[str, int] | str:
    """A page that takes ``?seconds=`` (at most 10) to answer: shows that a graceful
    shutdown waits for it, and that its page view still gets through."""
    try:
        seconds = min(max(float(request.args.get("seconds", "1")), 0.0), 10.0)
    except ValueError:
        return "seconds must be a number", 400
    logger.warning("slow page requested: answering in %.1f s", seconds)
    time.sleep(seconds)
    return page("Slow")


@app.get("/api/stats")
def stats() -> Response:
    return jsonify(ok=True, visitors=42)  # JSON: not a page view
