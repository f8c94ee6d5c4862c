"""Run: ``PIRSCH_ACCESS_KEY=pa_... uvicorn examples.fastapi.app:app`` (from the repository root).

A FastAPI app with Pirsch, configured only through ``PIRSCH_*`` environment variables
(``PIRSCH_ACCESS_KEY`` or ``PIRSCH_CLIENT_ID``/``PIRSCH_CLIENT_SECRET``, ``PIRSCH_BASE_URL``,
``PIRSCH_TRUSTED_PROXIES``...). Without credentials it runs untracked. Pending items are
sent when uvicorn shuts down (lifespan).
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import BackgroundTasks, FastAPI, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from pirsch_middleware import dont_track, set_tags, set_title, track_event
from pirsch_middleware.asgi import PirschMiddleware

logger = logging.getLogger(__name__)

PAGE = """<!doctype html><html><head><title>{title}</title></head>
<body><h1>{title}</h1><p><a href="/">Home</a> <a href="/pricing">Pricing</a>
<a href="/download">Download</a> <a href="/report">Report</a></p>
<form method="post" action="/signup"><button>Sign up</button></form></body></html>"""

app = FastAPI(title="Pirsch example", docs_url=None, redoc_url=None)
app.add_middleware(PirschMiddleware)


def page(title: str) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title))


@app.get("/")
async def home() -> HTMLResponse:
    return page("Home")


@app.get("/pricing")
async def pricing() -> HTMLResponse:
    set_title("Pricing plans")  # the page view's title, instead of none
    set_tags(section="pricing")
    return page("Pricing")


@app.post("/signup")
def signup() -> RedirectResponse:
    # A sync endpoint (run in a worker thread): no page view for a POST, but the event.
    track_event("Signup", meta={"plan": "free", "source": "form"})
    return RedirectResponse("/welcome", status_code=303)


@app.get("/welcome")
async def welcome() -> HTMLResponse:
    return page("Welcome")


@app.get("/download")
async def download() -> HTMLResponse:
    # Sent right after this request's page view.
    track_event("Download", meta={"file": "guide.pdf", "size_kb": 512})
    return page("Download")


def build_report(rows: int) -> None:
    """Runs after the response is sent, still inside the request's context."""
    track_event("Report generated", meta={"rows": rows})


@app.get("/report")
async def report(background_tasks: BackgroundTasks) -> HTMLResponse:
    background_tasks.add_task(build_report, 3)
    return page("Report")


@app.get("/preview")
@dont_track
async def preview() -> HTMLResponse:
    return page("Preview (not tracked)")


@app.get("/slow")
async def slow(seconds: float = Query(1.0, ge=0, le=10)) -> HTMLResponse:
    """A page that takes ``?seconds=`` to answer: shows that a graceful shutdown waits
    for it, and that its page view still gets through."""
    logger.warning("slow page requested: answering in %.1f s", seconds)
    await asyncio.sleep(seconds)
    return page("Slow")


@app.get("/api/stats")
async def stats() -> dict[str, object]:
    return {"ok": True, "visitors": 42}  # JSON: not a page view
