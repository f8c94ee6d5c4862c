"""Django through its test clients: sync and async views, WSGI and ASGI requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import path

from pirsch_middleware import (
    Tracker,
    dont_track,
    keep_alive,
    set_tags,
    set_title,
    set_tracker,
    track_event,
)
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.django import PirschMiddleware

from . import django_settings  # noqa: F401  # configures Django before it is used
from .conftest import TrackerFactory

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
PEER = "203.0.113.5"


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>page</h1>")


def event(request: HttpRequest) -> HttpResponse:
    track_event("Sync view", meta={"n": 1})
    track_event("With request", request=request)
    keep_alive()
    return HttpResponse("<h1>event</h1>")


async def async_event(request: HttpRequest) -> HttpResponse:
    track_event("Async view", meta={"async": True})
    await asyncio.sleep(0)
    track_event("Async with request", request=request)
    return HttpResponse("<h1>async</h1>")


def titled(request: HttpRequest) -> HttpResponse:
    set_title("Product 42")
    set_tags(category="shoes")
    return HttpResponse("<h1>titled</h1>")


@dont_track
def hidden(request: HttpRequest) -> HttpResponse:
    track_event("Still sent")
    return HttpResponse("<h1>hidden</h1>")


def api(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def signup(request: HttpRequest) -> HttpResponse:
    track_event("Signup", meta={"plan": "pro"})
    return HttpResponse(status=302, headers={"Location": "/"})


urlpatterns = [
    path("page/", page), path("café/", page), path("event/", event),
    path("async-event/", async_event), path("titled/", titled), path("hidden/", hidden),
    path("api/", api), path("signup/", signup),
]


@pytest.fixture
def tracker(make_tracker: TrackerFactory) -> Iterator[Tracker]:
    tracker = make_tracker()
    with override_settings(PIRSCH={"TRACKER": tracker, "exclude": ["/excluded/"]}):
        yield tracker


def client(**extra: Any) -> Client:
    return Client(HTTP_USER_AGENT=UA, REMOTE_ADDR=PEER, **extra)


def test_page_view_under_wsgi(tracker: Tracker, receiver: DevServer) -> None:
    assert client().get("/page/?q=1", HTTP_REFERER="https://ref.example/").status_code == 200
    assert tracker.flush(5)
    [hit] = receiver.hits
    assert (hit["url"], hit["ip"], hit["user_agent"], hit["referrer"]) == (
        "http://testserver/page/?q=1", PEER, UA, "https://ref.example/")


def test_non_ascii_path_is_percent_encoded(tracker: Tracker, receiver: DevServer) -> None:
    client().get("/café/")
    assert tracker.flush(5)
    assert receiver.hits[0]["url"] == "http://testserver/caf%C3%A9/"


def test_forwarded_for_only_from_a_trusted_peer(tracker: Tracker, receiver: DevServer) -> None:
    client().get("/page/", HTTP_X_FORWARDED_FOR="6.6.6.6")
    Client(HTTP_USER_AGENT=UA, REMOTE_ADDR="127.0.0.1").get(
        "/page/", HTTP_X_FORWARDED_FOR="198.51.100.7", HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="shop.example")
    assert tracker.flush(5)
    assert [(h["ip"], h["url"]) for h in receiver.hits] == [
        (PEER, "http://testserver/page/"), ("198.51.100.7", "https://testserver/page/")]


def test_events_follow_their_page_view(tracker: Tracker, receiver: DevServer) -> None:
    client().get("/event/")
    assert tracker.flush(5)
    assert [(r.kind, r.item.get("event_name")) for r in receiver.received] == [
        ("hit", None), ("event", "Sync view"), ("event", "With request"), ("session", None)]


def test_async_view_under_asgi(tracker: Tracker, receiver: DevServer) -> None:
    async def run() -> int:
        # AsyncClient's peer is 127.0.0.1, a trusted proxy: the address comes from XFF
        response = await AsyncClient().get(
            "/async-event/", headers={"user-agent": UA, "x-forwarded-for": PEER})
        return int(response.status_code)

    assert asyncio.run(run()) == 200
    assert tracker.flush(5)
    assert [(r.kind, r.item.get("event_name")) for r in receiver.received] == [
        ("hit", None), ("event", "Async view"), ("event", "Async with request")]
    assert receiver.hits[0]["url"] == "http://testserver/async-event/"
    assert receiver.hits[0]["ip"] == PEER


def test_title_and_tags(tracker: Tracker, receiver: DevServer) -> None:
    client().get("/titled/")
    assert tracker.flush(5)
    assert (receiver.hits[0]["title"], receiver.hits[0]["tags"]) == (
        "Product 42", {"category": "shoes"})


@pytest.mark.parametrize(("method", "url", "events"), [
    ("get", "/api/", []),
    ("get", "/hidden/", ["Still sent"]),
    ("get", "/missing/", []),
    ("post", "/signup/", ["Signup"]),
])
def test_not_page_views(method: str, url: str, events: list[str], tracker: Tracker,
                        receiver: DevServer) -> None:
    getattr(client(), method)(url)
    assert tracker.flush(5)
    assert receiver.hits == []
    assert [e["event_name"] for e in receiver.events] == events


def test_bad_settings_raise_improperly_configured() -> None:
    with override_settings(PIRSCH={"FLUSH_INTERVAL": -1}), \
            pytest.raises(ImproperlyConfigured, match="flush_interval must be at least"):
        PirschMiddleware(page)
    with override_settings(PIRSCH={"NOPE": 1}), \
            pytest.raises(ImproperlyConfigured, match="unknown option"):
        PirschMiddleware(page)
    with override_settings(PIRSCH=["not", "a", "dict"]), \
            pytest.raises(ImproperlyConfigured, match="must be a dict"):
        PirschMiddleware(page)


def test_middleware_is_async_capable_without_a_thread_hop() -> None:
    async def get_response(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    with override_settings(PIRSCH={"TRACKER": Tracker(environ={})}):
        middleware = PirschMiddleware(get_response)
    assert asyncio.iscoroutinefunction(middleware)  # Django calls it directly, no sync_to_async


def test_track_event_with_a_request_outside_the_middleware(tracker: Tracker,
                                                           receiver: DevServer) -> None:
    set_tracker(tracker)
    request = RequestFactory().get("/café/", HTTP_USER_AGENT=UA, REMOTE_ADDR=PEER)
    track_event("From a job", request=request)
    assert tracker.flush(5)
    assert receiver.events[0]["url"] == "http://testserver/caf%C3%A9/"


def test_client_ip_header_under_wsgi_and_asgi(make_tracker: TrackerFactory,
                                              receiver: DevServer) -> None:
    """Django's request objects carry the header to the core like the middlewares do: for
    the page view, for its events, and for track_event(request=...) outside the middleware."""
    tracker = make_tracker(client_ip_header="CF-Connecting-IP")
    set_tracker(tracker)
    with override_settings(PIRSCH={"TRACKER": tracker}):
        Client(HTTP_USER_AGENT=UA, REMOTE_ADDR="127.0.0.1").get(
            "/event/", HTTP_CF_CONNECTING_IP="198.51.100.31")
        client().get("/page/", HTTP_CF_CONNECTING_IP="6.6.6.6")  # an untrusted peer's own

        async def run() -> None:
            await AsyncClient().get("/page/", headers={"user-agent": UA,
                                                       "cf-connecting-ip": "198.51.100.32"})

        asyncio.run(run())
    request = RequestFactory().get("/page/", HTTP_USER_AGENT=UA, REMOTE_ADDR="127.0.0.1",
                                   HTTP_CF_CONNECTING_IP="198.51.100.33")
    track_event("From a job", request=request)
    assert tracker.flush(5)
    assert [h["ip"] for h in receiver.hits] == ["198.51.100.31", PEER, "198.51.100.32"]
    assert [e["ip"] for e in receiver.events] == ["198.51.100.31", "198.51.100.31",
                                                  "198.51.100.33"]
    assert receiver.sessions[0]["ip"] == "198.51.100.31"
