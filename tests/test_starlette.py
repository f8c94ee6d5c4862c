"""FastAPI/Starlette through TestClient: add_middleware, sync and async endpoints,
background tasks, lifespan flush."""

from __future__ import annotations

import pytest
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import HTMLResponse
from starlette.testclient import TestClient

from pirsch_middleware import Tracker, dont_track, set_tags, track_event
from pirsch_middleware.asgi import PirschMiddleware
from pirsch_middleware.devserver import DevServer

from .conftest import TrackerFactory

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PEER = ("203.0.113.9", 40000)


def make_app(tracker: Tracker) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PirschMiddleware, tracker=tracker)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        track_event("Async endpoint")
        return "<h1>home</h1>"

    @app.get("/sync", response_class=HTMLResponse)
    def sync_page() -> str:  # runs in a worker thread
        track_event("Sync endpoint", meta={"thread": True})
        set_tags(section="sync")
        return "<h1>sync</h1>"

    @app.get("/later", response_class=HTMLResponse)
    async def later(tasks: BackgroundTasks) -> str:
        tasks.add_task(track_event, "Background task")
        return "<h1>later</h1>"

    @app.get("/api")
    async def api() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/hidden", response_class=HTMLResponse)
    @dont_track
    async def hidden() -> str:
        return "<h1>hidden</h1>"

    return app


def test_endpoints_and_background_tasks(make_tracker: TrackerFactory,
                                        receiver: DevServer) -> None:
    tracker = make_tracker()
    with TestClient(make_app(tracker), client=PEER, headers={"user-agent": UA}) as client:
        for url in ("/", "/sync", "/later", "/api", "/hidden"):
            assert client.get(url).status_code == 200
        assert tracker.flush(5)
    assert [h["url"].rsplit("/", 1)[1] for h in receiver.hits] == ["", "sync", "later"]
    assert [(e["url"].rsplit("/", 1)[1], e["event_name"]) for e in receiver.events] == [
        ("", "Async endpoint"), ("sync", "Sync endpoint"), ("later", "Background task")]
    assert receiver.hits[1]["tags"] == {"section": "sync"}
    assert {h["ip"] for h in receiver.hits} == {"203.0.113.9"}


def test_lifespan_shutdown_flushes(make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker(flush_interval=60)
    with TestClient(make_app(tracker), client=PEER, headers={"user-agent": UA}) as client:
        client.get("/")
        assert receiver.received == []  # buffered: the timer is a minute away
    assert [r.kind for r in receiver.received] == ["hit", "event"]


@pytest.mark.parametrize("path", ["/api", "/hidden", "/missing"])
def test_not_page_views(path: str, make_tracker: TrackerFactory, receiver: DevServer) -> None:
    tracker = make_tracker()
    with TestClient(make_app(tracker), client=PEER, headers={"user-agent": UA}) as client:
        client.get(path)
    assert tracker.flush(5)
    assert receiver.hits == []
