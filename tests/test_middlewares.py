"""What the middlewares do to the app around them: nothing visible, streaming intact,
lifespan answered and flushed, non-HTTP scopes untouched; and real servers end to end."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import uvicorn

from pirsch_middleware import Tracker, _registry, set_tags, set_title, track_event, wsgi
from pirsch_middleware.asgi import PirschMiddleware as ASGIMiddleware
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.wsgi import PirschMiddleware as WSGIMiddleware

from .conftest import TrackerFactory
from .requests_table import BROWSER, Case, asgi_app, run_asgi, run_wsgi, wsgi_app


def test_wsgi_response_is_unchanged(make_tracker: TrackerFactory) -> None:
    case = Case("page")
    bare = run_wsgi(wsgi_app(case), case.environ())
    wrapped = run_wsgi(WSGIMiddleware(wsgi_app(case), tracker=make_tracker()), case.environ())
    assert wrapped == bare


def test_asgi_response_is_unchanged(make_tracker: TrackerFactory) -> None:
    case = Case("page")
    bare = run_asgi(asgi_app(case), case.scope())
    wrapped = run_asgi(ASGIMiddleware(asgi_app(case), tracker=make_tracker()), case.scope())
    assert wrapped == bare


def test_wsgi_status_lines_each_give_their_code(make_tracker: TrackerFactory) -> None:
    """Codes are read from status lines seen before or not, of any wording, and the
    status lines kept to read them faster stay few."""
    tracker = make_tracker()
    statuses = [f"200 Fine {n}" for n in range(wsgi.MAX_CODES + 10)]
    statuses += ["404 Not Found", "200 OK", "404 Not Found", "OK", "2", "", "200 OK"]
    for status in statuses:
        def app(environ: dict[str, Any], start_response: Any, status: str = status,
                ) -> list[bytes]:
            start_response(status, [("Content-Type", "text/html")])
            return [b"<p></p>"]

        assert run_wsgi(WSGIMiddleware(app, tracker=tracker), Case("page").environ())[0] \
            == status
    assert len(wsgi._codes) <= wsgi.MAX_CODES
    assert tracker.flush(5)
    assert tracker.stats().sent == wsgi.MAX_CODES + 10 + 2  # the 200s


# What an app may hand to start_response or send that a lenient server (gunicorn writes
# str(value) for any header value) passes on: the middleware must not be what fails.
ODD_RESPONSE_STARTS = [
    ("200 OK", ("Content-Type", b"text/html")), ("200 OK", ("Content-Type", None)),
    ("200 OK", ("Content-Type", 5)), ("200 OK", ("Content-Type", ["text/html"])),
    ("200 OK", (None, "text/html")), ("200 OK", (b"Content-Type", "text/html")),
    (b"200 OK", ("Content-Type", "text/html")), (["200"], ("Content-Type", "text/html")),
    (None, ("Content-Type", "text/html")), (200, ("Content-Type", "text/html")),
]


@pytest.mark.parametrize(("status", "header"), ODD_RESPONSE_STARTS)
def test_an_odd_response_start_never_fails_the_request(
        make_tracker: TrackerFactory, status: Any, header: Any) -> None:
    """Whatever the app starts its response with, the middleware passes it on as it is
    and does not raise; what it cannot read is no page view."""
    tracker = make_tracker()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        track_event("Viewed")
        start_response(status, [header])
        return [b"<p>"]

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        track_event("Viewed")
        await send({"type": "http.response.start", "status": status,
                    "headers": [tuple(h.encode() if isinstance(h, str) else h
                                      for h in header)]})
        await send({"type": "http.response.body", "body": b"<p>"})

    assert run_wsgi(WSGIMiddleware(app, tracker=tracker), Case("x").environ())[0] == status
    assert run_asgi(ASGIMiddleware(asgi, tracker=tracker), Case("x").scope())[0][
        "status"] == status
    assert tracker.flush(5)
    assert tracker.stats().failed == 0
    assert tracker.stats().sent >= 2  # the events, at least


# (status, content type, a page view?) in turn through one middleware: what Rules found of
# a content type is kept (Rules.page_types, which _lifecycle.respond reads first).
RESPONSES = [(200, "text/html", True), (200, "text/html", True), (404, "text/html", False),
             (200, "application/json", False), (201, "text/html", True),
             (500, "text/html", False), (200, "application/json", False),
             (200, "text/html", True)]


# One request in turn through one middleware: (method, path, status, content type).
Served = tuple[str, str, int, str]


def serve_in_turn(kind: str, tracker: Tracker, requests: list[Served],
                  **options: Any) -> None:
    """Serve ``requests`` in turn through one middleware of ``kind``."""
    at = iter(requests)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        _, _, status, content_type = next(at)
        start_response(f"{status} X", [("Content-Type", content_type)])
        return [b"<p>"]

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        _, _, status, content_type = next(at)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode())]})
        await send({"type": "http.response.body", "body": b"<p>"})

    wsgi_middleware = WSGIMiddleware(app, tracker=tracker, **options)
    asgi_middleware = ASGIMiddleware(asgi, tracker=tracker, **options)
    for method, path, _, _ in requests:
        if kind == "wsgi":
            environ = Case("page").environ()
            environ.update(REQUEST_METHOD=method, PATH_INFO=path)
            run_wsgi(wsgi_middleware, environ)
        else:
            scope = Case("page").scope()
            scope.update(method=method, path=path)
            run_asgi(asgi_middleware, scope)


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_content_type_decides_every_response_as_it_did_the_first(
        kind: str, make_tracker: TrackerFactory) -> None:
    tracker = make_tracker()
    serve_in_turn(kind, tracker, [("GET", "/page", status, content_type)
                                  for status, content_type, _ in RESPONSES])
    assert tracker.flush(5)
    assert tracker.stats().sent == sum(page for _, _, page in RESPONSES)


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_should_track_is_asked_of_every_response_of_a_content_type(
        kind: str, make_tracker: TrackerFactory) -> None:
    """A content type known to be a page view's does not skip should_track."""
    asked: list[int] = []

    def should_track(view: Any) -> bool:
        asked.append(view.status)
        return len(asked) != 2  # no to the second

    tracker = make_tracker()
    serve_in_turn(kind, tracker, [("GET", "/page", 200, "text/html")] * 3,
                  should_track=should_track)
    assert tracker.flush(5)
    assert asked == [200, 200, 200]
    assert tracker.stats().sent == 2


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_path_decides_every_request_as_it_did_the_first(
        kind: str, make_tracker: TrackerFactory) -> None:
    """Rules keep their answer for a path (Rules.candidates, which Lifecycle.start reads
    first): the method still counts, and an excluded path stays excluded."""
    requests = [("GET", "/a", True), ("POST", "/a", False), ("GET", "/a", True),
                ("GET", "/admin/", False), ("GET", "/admin/", False), ("HEAD", "/a", False),
                ("GET", "/a", True)]
    tracker = make_tracker()
    serve_in_turn(kind, tracker, [(method, path, 200, "text/html")
                                  for method, path, _ in requests], exclude=["/admin/"])
    assert tracker.flush(5)
    assert tracker.stats().sent == sum(page for _, _, page in requests)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug mode"])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", b"/pricing"), (b"GET", "/pricing"), (["GET"], "/pricing"), ("GET", ["/"]),
])
def test_a_method_or_path_of_no_string_never_fails_the_request(
        make_tracker: TrackerFactory, method: Any, path: Any, debug: bool) -> None:
    """A server should give both as strings (PEP 3333); one that does not still gets its
    response, untracked, from the middleware (in debug mode too, which says why)."""
    tracker = make_tracker(debug=debug)
    environ = Case("pricing").environ()
    environ.update(REQUEST_METHOD=method, PATH_INFO=path)
    scope = Case("pricing").scope()
    scope.update(method=method, path=path)
    assert run_wsgi(WSGIMiddleware(wsgi_app(Case("pricing")), tracker=tracker),
                    environ)[0] == "200 X"
    assert run_asgi(ASGIMiddleware(asgi_app(Case("pricing")), tracker=tracker),
                    scope)[0]["status"] == 200
    assert tracker.flush(5)
    assert tracker.stats().queued == 0


def test_wsgi_generator_app_starting_late(make_tracker: TrackerFactory,
                                          receiver: DevServer) -> None:
    """start_response called from inside the iterable (streaming): still one hit, and
    events tracked while streaming follow it."""
    tracker = make_tracker()

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        yield b"<p>"
        track_event("Streamed")
        yield b"</p>"

    status, _, body = run_wsgi(WSGIMiddleware(app, tracker=tracker), Case("x").environ())
    assert (status, body) == ("200 OK", b"<p></p>")
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received] == ["hit", "event"]


def test_wsgi_app_raising_still_sends_its_events(make_tracker: TrackerFactory,
                                                 receiver: DevServer) -> None:
    tracker = make_tracker()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        track_event("Before crash")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_wsgi(WSGIMiddleware(app, tracker=tracker), Case("x").environ())
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received] == ["event"]


def test_a_view_run_in_another_context_still_shapes_its_page_view(
        make_tracker: TrackerFactory, receiver: DevServer) -> None:
    """Starlette runs a sync endpoint in a thread, in a copy of the request's context: its
    title and events still reach the page view that the middleware queues in the first
    context (the request is one object, whichever context asks for it first)."""
    tracker = make_tracker()

    def view() -> None:
        set_title("Pricing")
        track_event("Viewed")

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(
            None, contextvars.copy_context().run, view)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<p>"})

    def wsgi_view(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        contextvars.copy_context().run(view)
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<p>"]

    run_asgi(ASGIMiddleware(asgi, tracker=tracker), Case("x").scope())
    run_wsgi(WSGIMiddleware(wsgi_view, tracker=tracker), Case("x").environ())
    assert tracker.flush(5)
    assert [(r.kind, r.item.get("title") or r.item.get("event_name"))
            for r in receiver.received] == [("hit", "Pricing")] * 2 + [("event", "Viewed")] * 2


def test_views_of_an_app_with_tracking_off_stay_quiet(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture,
                                                       ) -> None:
    """Without credentials the middleware passes requests through; the views' own
    set_title/set_tags/track_event calls then must not log a warning on every request
    (the tracker said once, at start-up, that tracking is off)."""
    monkeypatch.setattr(_registry, "_made", [False, False])  # as in a fresh process

    def view(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        set_title("Pricing")
        set_tags(section="pricing")
        track_event("Viewed")
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<p>"]

    with caplog.at_level("WARNING", logger="pirsch_middleware"):
        app = WSGIMiddleware(view, tracker=Tracker(environ={}))
        assert "tracking is off" in caplog.text
        caplog.clear()
        for _ in range(3):
            assert run_wsgi(app, Case("x").environ())[0] == "200 OK"
    assert caplog.text == ""
    # Once a tracker with tracking on exists, such calls outside a request are mistakes.
    Tracker(access_key="pa_x", base_url="http://127.0.0.1:9", environ={}).close(0)
    set_title("Pricing")
    assert "outside a request" in caplog.text


def test_asgi_streaming_is_passed_through(make_tracker: TrackerFactory) -> None:
    chunks = [b"a", b"b", b"c"]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html")]})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    sent = run_asgi(ASGIMiddleware(app, tracker=make_tracker()), Case("x").scope())
    assert [m.get("body") for m in sent[1:]] == [*chunks, b""]


def test_asgi_websocket_scope_passes_through(make_tracker: TrackerFactory) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "websocket", "path": "/ws"}
    asyncio.run(ASGIMiddleware(app, tracker=make_tracker())(scope, receive, send))
    assert seen == [(scope, receive, send)]


async def _lifespan(app: Any) -> list[str]:
    """Drive the lifespan protocol like a server: startup, then shutdown."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[str] = []
    await inbox.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    return sent


@pytest.mark.parametrize("speaks_lifespan", [True, False])
def test_lifespan_shutdown_flushes(speaks_lifespan: bool, make_tracker: TrackerFactory,
                                   receiver: DevServer) -> None:
    tracker = make_tracker(flush_interval=60)
    case = Case("page")
    inner = asgi_app(case)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await inner(scope, receive, send)
        elif not speaks_lifespan:  # like Django's ASGI handler
            raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")
        else:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    middleware = ASGIMiddleware(app, tracker=tracker)
    run_asgi(middleware, case.scope())
    assert receiver.hits == []  # still buffered: flush_interval is a minute
    assert asyncio.run(_lifespan(middleware)) == ["lifespan.startup.complete",
                                                  "lifespan.shutdown.complete"]
    assert len(receiver.hits) == 1


# -- real servers -------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def wsgiref_server(app: Any) -> Iterator[str]:
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert _wait(lambda: server.started)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _wait(condition: Any, timeout: float = 10.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        event.wait(0.01)
    return False


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_real_server_over_loopback(kind: str, make_tracker: TrackerFactory,
                                   receiver: DevServer) -> None:
    """A real server, real requests: from 127.0.0.2 (not a trusted proxy, so its
    X-Forwarded-For is ignored) and from 127.0.0.1 (a trusted proxy)."""
    tracker = make_tracker(trusted_proxies="127.0.0.1")
    case = Case("page")
    if kind == "wsgi":
        server = wsgiref_server(WSGIMiddleware(wsgi_app(case), tracker=tracker))
    else:
        server = uvicorn_server(ASGIMiddleware(asgi_app(case), tracker=tracker))
    headers = {"user-agent": BROWSER.decode(), "x-forwarded-for": "198.51.100.20",
               "referer": "https://ref.example/"}
    with server as url:
        untrusted = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=untrusted) as client:
            assert client.get(url + "/caf%C3%A9?x=1", headers=headers).text == \
                "<html>body</html>"
        with httpx.Client() as client:
            client.get(url + "/b", headers=headers)
            client.post(url + "/c", headers=headers)
        assert tracker.flush(5)
    port = url.rsplit(":", 1)[1]
    assert [(h["url"], h["ip"], h["referrer"]) for h in receiver.hits] == [
        (f"http://127.0.0.1:{port}/caf%C3%A9?x=1", "127.0.0.2", "https://ref.example/"),
        (f"http://127.0.0.1:{port}/b", "198.51.100.20", "https://ref.example/"),
    ]
