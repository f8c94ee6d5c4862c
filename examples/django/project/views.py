"""Views of the example project: sync and async, tracked and not (see settings.py to run it)."""

from __future__ import annotations

import asyncio
import logging

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)

from pirsch_middleware import dont_track, set_tags, set_title, track_event

logger = logging.getLogger(__name__)

PAGE = """<!doctype html><html><head><title>{title}</title></head>
<body><h1>{title}</h1><p><a href="/">Home</a> <a href="/pricing">Pricing</a>
<a href="/download">Download</a></p>
<form method="post" action="/signup"><button>Sign up</button></form></body></html>"""


def page(title: str) -> HttpResponse:
    return HttpResponse(PAGE.format(title=title))  # text/html; charset=utf-8


def home(request: HttpRequest) -> HttpResponse:
    return page("Home")


def pricing(request: HttpRequest) -> HttpResponse:
    set_title("Pricing plans")  # the page view's title, instead of none
    set_tags(section="pricing")
    return page("Pricing")


def signup(request: HttpRequest) -> HttpResponse:
    """A sync view: a form post is no page view, but its event is sent."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    track_event("Signup", meta={"plan": "free", "source": "form"})
    response = HttpResponseRedirect("/welcome")
    response.status_code = 303
    return response


def welcome(request: HttpRequest) -> HttpResponse:
    return page("Welcome")


async def download(request: HttpRequest) -> HttpResponse:
    """An async view: the event is sent right after this request's page view."""
    track_event("Download", meta={"file": "guide.pdf", "size_kb": 512})
    return page("Download")


@dont_track
def preview(request: HttpRequest) -> HttpResponse:
    return page("Preview (not tracked)")


async def slow(request: HttpRequest) -> HttpResponse:
    """A page that takes ``?seconds=`` (at most 10) to answer: shows that a graceful
    shutdown waits for it, and that its page view still gets through."""
    try:
        seconds = min(max(float(request.GET.get("seconds", "1")), 0.0), 10.0)
    except ValueError:
        return HttpResponseBadRequest("seconds must be a number")
    logger.warning("slow page requested: answering in %.1f s", seconds)
    await asyncio.sleep(seconds)
    return page("Slow")


def stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "visitors": 42})  # JSON: not a page view
