"""The receiver's live page: served by the receiver itself, fed by server-sent events, and
seen in a real headless Chromium (from the OS packages; ``.ci/run`` installs it)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pirsch_middleware import track_event
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.wsgi import PirschMiddleware

from .browser import Browser, BrowserError, Page, find_chromium
from .conftest import TrackerFactory
from .requests_table import BROWSER

HIT: dict[str, Any] = {"url": "https://example.com/a", "ip": "203.0.113.7",
                       "user_agent": "Mozilla/5.0 Test", "time": "2024-05-06T07:08:09Z"}


def post(server: DevServer, kind: str, item: dict[str, Any]) -> None:
    response = httpx.post(f"{server.base_url}/api/v1/{kind}", json=item,
                          headers={"Authorization": f"Bearer {server.access_key}"})
    assert response.status_code == 200, response.text


class EventStream:
    """The live page's event stream as a browser reads it: (event, id, data) triples."""

    def __init__(self, server: DevServer, last_event_id: str | None = None) -> None:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self._client = httpx.Client(timeout=5.0)
        self._response = self._client.send(
            self._client.build_request("GET", f"{server.base_url}/devserver/stream",
                                       headers=headers), stream=True)
        self.headers = self._response.headers
        self._lines = self._response.iter_lines()

    def next(self) -> tuple[str, str, Any]:
        """The next event; keep-alive comments and the retry line are skipped."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if not line:
                if "event" in fields:
                    return fields["event"], fields["id"], json.loads(fields["data"])
                fields.clear()
                continue
            name, _, value = line.partition(": ")
            if name:  # a line starting with ":" is a comment
                fields[name] = value
        raise EOFError("the stream ended")

    def close(self) -> None:
        self._response.close()
        self._client.close()


@pytest.fixture
def streams(receiver: DevServer) -> Iterator[list[EventStream]]:
    opened: list[EventStream] = []
    yield opened
    for stream in opened:
        stream.close()


# -- what the receiver serves ----------------------------------------------------------------

def test_the_root_url_serves_the_page_and_its_script_from_the_receiver(
        receiver: DevServer) -> None:
    page = httpx.get(receiver.base_url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == ["/devserver/live.js"]
    script = httpx.get(receiver.base_url + scripts[0])
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text


def test_the_page_loads_nothing_from_elsewhere(receiver: DevServer) -> None:
    page = httpx.get(receiver.base_url + "/")
    script = httpx.get(receiver.base_url + "/devserver/live.js")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert re.findall(r"(?:src|href)=\"[a-z]+://", page.text) == []
    assert re.findall(r"https?://", script.text) == []


def test_looking_at_the_page_records_no_request(receiver: DevServer,
                                                 streams: list[EventStream]) -> None:
    httpx.get(receiver.base_url + "/")
    httpx.get(receiver.base_url + "/devserver/live.js")
    streams.append(EventStream(receiver))
    assert streams[0].next()[0] == "clear"
    assert receiver.requests == []


@pytest.mark.parametrize("path", ["/", "/devserver/live.js", "/devserver/stream"])
def test_the_page_paths_take_only_get(receiver: DevServer, path: str) -> None:
    response = httpx.post(receiver.base_url + path, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


# -- the event stream ------------------------------------------------------------------------

def test_the_stream_replays_what_was_received_then_follows_live(
        receiver: DevServer, streams: list[EventStream]) -> None:
    post(receiver, "hit", HIT)
    streams.append(stream := EventStream(receiver))
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.next()[0] == "clear"  # a first visit starts from nothing
    name, first_id, data = stream.next()
    assert (name, data["seq"], data["kind"], data["item"]) == ("item", 1, "hit", HIT)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["received_at"])
    post(receiver, "event", {**HIT, "event_name": "signup"})
    name, second_id, data = stream.next()
    assert (name, data["seq"], data["kind"]) == ("item", 2, "event")
    assert second_id != first_id


def test_a_reconnecting_browser_gets_only_what_it_missed(
        receiver: DevServer, streams: list[EventStream]) -> None:
    post(receiver, "hit", HIT)
    streams.append(first := EventStream(receiver))
    first.next()
    _, last_id, _ = first.next()
    first.close()
    post(receiver, "hit", {**HIT, "url": "https://example.com/missed"})
    streams.append(again := EventStream(receiver, last_event_id=last_id))
    name, _, data = again.next()
    assert (name, data["seq"], data["item"]["url"]) == ("item", 2, "https://example.com/missed")


@pytest.mark.parametrize("last_event_id", ["0000.5", "nonsense", "."])
def test_a_browser_from_another_epoch_is_told_to_clear_and_gets_everything(
        receiver: DevServer, streams: list[EventStream], last_event_id: str) -> None:
    post(receiver, "hit", HIT)
    streams.append(stream := EventStream(receiver, last_event_id=last_event_id))
    assert stream.next()[0] == "clear"
    assert stream.next()[2]["seq"] == 1


def test_clear_tells_open_pages_to_start_over(receiver: DevServer,
                                              streams: list[EventStream]) -> None:
    post(receiver, "hit", HIT)
    streams.append(stream := EventStream(receiver))
    stream.next()
    stream.next()
    receiver.clear()
    assert stream.next()[0] == "clear"
    post(receiver, "session", {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 Test"})
    name, _, data = stream.next()
    assert (name, data["seq"], data["kind"]) == ("item", 1, "session")


def test_stopping_the_receiver_ends_open_streams(receiver: DevServer,
                                                 streams: list[EventStream]) -> None:
    streams.append(stream := EventStream(receiver))
    stream.next()
    receiver.stop()
    with pytest.raises((EOFError, httpx.TransportError)):
        stream.next()


# -- in a real browser -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if find_chromium() is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install -y "
                    "chromium)")
    try:
        started = Browser.start(tmp_path_factory.mktemp("chromium"))
        started.call("Browser.getVersion")
    except (BrowserError, OSError) as exc:
        pytest.skip(f"chromium would not start here: {exc}")
    with started:
        yield started


LivePage = Callable[[], Page]


@pytest.fixture
def live_page(browser: Browser, receiver: DevServer) -> Iterator[LivePage]:
    """Opens the receiver's live page in a new tab, once it is connected; closed after."""
    opened: list[Page] = []

    def open_page() -> Page:
        page = browser.open(receiver.base_url + "/")
        opened.append(page)
        assert page.wait_for("document.getElementById('status').dataset.state === 'live'")
        return page

    yield open_page
    for page in opened:
        page.close()


def items_text(page: Page) -> str:
    return str(page.evaluate("document.getElementById('items').innerText"))


def counts(page: Page, table: str) -> list[list[str]]:
    rows = page.evaluate(f"[...document.querySelectorAll('#{table} tbody tr')]"
                         ".map(row => [...row.cells].map(cell => cell.textContent))")
    return list(rows)


def test_a_hit_sent_through_a_real_app_appears_and_a_second_one_follows_without_reload(
        live_page: LivePage, make_tracker: TrackerFactory) -> None:
    tracker = make_tracker()

    def view(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/signup":
            track_event("Signup", meta={"plan": "pro"})
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<p>hello</p>"]

    app = PirschMiddleware(view, tracker=tracker)
    site = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://shop.test",
                        headers={"User-Agent": BROWSER.decode()})
    page = live_page()
    assert page.evaluate("document.getElementById('empty').hidden") is False
    page.evaluate("window.sameDocument = true")

    site.get("/pricing")
    assert tracker.flush(5)
    assert page.wait_for("document.querySelectorAll('#items li').length === 1")
    assert "http://shop.test/pricing" in items_text(page)
    assert page.wait_for("document.getElementById('count-hit').textContent === '1'")

    site.get("/signup")
    assert tracker.flush(5)
    assert page.wait_for("document.querySelectorAll('#items li').length === 3")
    assert page.evaluate("window.sameDocument") is True  # no reload: it came live
    kinds = page.evaluate("[...document.querySelectorAll('#items li')].map(li => li.className)")
    assert kinds == ["item kind-event", "item kind-hit", "item kind-hit"]  # newest first
    assert page.wait_for("document.getElementById('count-event').textContent === '1'")
    assert counts(page, "paths") == [["/pricing", "1"], ["/signup", "1"]]
    assert counts(page, "event-names") == [["Signup", "1"]]
    assert page.evaluate("document.getElementById('empty').hidden") is True
    assert page.problems() == []


def test_every_field_is_shown_as_text(live_page: LivePage, receiver: DevServer) -> None:
    event = {**HIT, "event_name": "Download", "event_meta": {"file": "a.pdf", "size": 3},
             "event_duration": 42, "title": '<img src="x" onerror="window.injected = 1">',
             "referrer": "https://ref.example/", "tags": {"author": "Alice"},
             "accept_language": "de-DE", "screen_width": 1920, "non_interactive": True}
    post(receiver, "event", event)
    page = live_page()
    assert page.wait_for("document.querySelectorAll('#items li').length === 1")
    shown = dict(zip(page.evaluate("[...document.querySelectorAll('#items dt')]"
                                   ".map(node => node.textContent)"),
                     page.evaluate("[...document.querySelectorAll('#items dd')]"
                                   ".map(node => node.textContent)"), strict=True))
    assert shown == {**{name: str(value) for name, value in event.items()},
                     "event_meta": "file=a.pdf, size=3", "tags": "author=Alice",
                     "non_interactive": "true"}
    assert page.evaluate("document.querySelectorAll('#items img').length") == 0
    assert page.evaluate("window.injected") is None
    assert page.problems() == []


def test_the_page_starts_over_when_the_receiver_is_cleared(live_page: LivePage,
                                                           receiver: DevServer) -> None:
    post(receiver, "hit", HIT)
    page = live_page()
    assert page.wait_for("document.querySelectorAll('#items li').length === 1")
    receiver.clear()
    assert page.wait_for("document.querySelectorAll('#items li').length === 0")
    assert page.wait_for("document.getElementById('count-hit').textContent === '0'")
    assert counts(page, "paths") == []
