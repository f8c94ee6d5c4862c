"""Flask through its test client: the extension, config, blueprints, hooks."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask, Response, jsonify

from pirsch_middleware import Tracker, dont_track, set_title, track_event
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.flask import Pirsch

from .conftest import TrackerFactory

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Safari/605.1.15"
ENV = {"REMOTE_ADDR": "203.0.113.8", "HTTP_USER_AGENT": UA}


def make_app() -> Flask:
    app = Flask(__name__)
    shop = Blueprint("shop", __name__, url_prefix="/shop")

    @app.get("/")
    def home() -> str:
        return "<h1>home</h1>"

    @app.get("/api")
    def api() -> Response:
        return jsonify(ok=True)

    @app.get("/private")
    @dont_track
    def private() -> str:
        return "<h1>private</h1>"

    @shop.get("/buy")
    def buy() -> str:
        set_title("Buy")
        track_event("Purchase", meta={"amount": 9.5})
        return "<h1>bought</h1>"

    app.register_blueprint(shop)
    return app


def test_extension_tracks_pages_and_blueprint_events(make_tracker: TrackerFactory,
                                                     receiver: DevServer) -> None:
    tracker = make_tracker()
    app = make_app()
    Pirsch(app, tracker=tracker)
    client = app.test_client()
    for url in ("/", "/api", "/private", "/shop/buy?ref=ad"):
        client.get(url, environ_base=ENV)
    assert tracker.flush(5)
    assert [(r.kind, r.item["url"]) for r in receiver.received] == [
        ("hit", "http://localhost/"), ("hit", "http://localhost/shop/buy?ref=ad"),
        ("event", "http://localhost/shop/buy?ref=ad")]
    assert receiver.hits[1]["title"] == "Buy"
    assert receiver.hits[1]["referrer"] == "ad"
    assert receiver.events[0]["event_meta"] == {"amount": 9.5}
    assert app.extensions["pirsch"].tracker is tracker


def test_init_app_reads_app_config(receiver: DevServer) -> None:
    app = make_app()
    app.config.update(PIRSCH_BASE_URL=receiver.base_url, PIRSCH_ACCESS_KEY=receiver.access_key,
                      PIRSCH_EXCLUDE=["/shop/"])
    pirsch = Pirsch()
    pirsch.init_app(app)
    tracker = pirsch.tracker
    assert isinstance(tracker, Tracker)
    try:
        app.test_client().get("/shop/buy", environ_base=ENV)
        app.test_client().get("/", environ_base=ENV)
        assert tracker.flush(5)
        assert sorted(r.kind for r in receiver.received) == ["event", "hit"]
    finally:
        tracker.close(2)


def test_bad_config_fails_at_init() -> None:
    app = make_app()
    app.config["PIRSCH_TRUSTED_PROXIES"] = "10.0.0.0/99"
    with pytest.raises(ValueError, match="trusted_proxies"):
        Pirsch(app, access_key="pa_x")
