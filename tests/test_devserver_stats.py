"""Statistics from the receiver, end to end: a real app sends page views and an event
through the middleware, and ``Client`` and the ``pirsch`` command read them back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from pirsch_middleware import Client, set_title, track_event
from pirsch_middleware.cli import main as pirsch
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.statistics import Filter
from pirsch_middleware.wsgi import PirschMiddleware

from .conftest import TrackerFactory

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
# Three visitors: who they are, and the requests each makes, in order.
VISITS: list[tuple[str, str, dict[str, str], list[str]]] = [
    ("203.0.113.7", FIREFOX, {"accept-language": "de-DE,de;q=0.9",
                              "referer": "https://news.ycombinator.com/item?id=1"},
     ["/", "/pricing", "/signup"]),
    ("198.51.100.2", SAFARI, {"accept-language": "en-US"}, ["/pricing?utm_source=newsletter"]),
    ("192.0.2.9", CHROME, {}, ["/"]),
]


def shop(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    set_title(environ["PATH_INFO"].strip("/").title() or "Home")
    if environ["PATH_INFO"] == "/signup":
        track_event("Signup", meta={"plan": "pro"})
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<p>shop</p>"]


@pytest.fixture
def visited(receiver: DevServer, make_tracker: TrackerFactory) -> DevServer:
    """The receiver, after the visits went through a real app and were delivered."""
    tracker = make_tracker()
    app = PirschMiddleware(shop, tracker=tracker)
    for ip, agent, headers, paths in VISITS:
        transport = httpx.WSGITransport(app=app, remote_addr=ip)
        with httpx.Client(transport=transport, base_url="http://shop.test",
                          headers={"user-agent": agent, **headers}) as browser:
            for path in paths:
                assert browser.get(path).status_code == 200
                browser.headers["referer"] = "http://shop.test" + path  # as browsers do
    assert tracker.flush(5)
    assert [r.kind for r in receiver.received].count("hit") == 5
    return receiver


@pytest.fixture
def client(visited: DevServer) -> Iterator[Client]:
    with Client(visited.client_id, visited.client_secret, base_url=visited.base_url) as c:
        yield c


def today() -> Any:
    return datetime.now(timezone.utc).date()  # the receiver counts days in UTC by default


@pytest.fixture
def period(client: Client) -> Filter:
    domain = client.domains()[0]
    return Filter(domain.id, from_date=today() - timedelta(days=2), to_date=today())


def test_the_domain_is_the_host_the_app_was_visited_on(client: Client) -> None:
    domains = client.domains()
    assert [(d.hostname, d.timezone) for d in domains] == [("shop.test", "UTC")]
    assert domains[0].def_time is not None


def test_totals_count_visitors_views_sessions_and_bounces(client: Client,
                                                          period: Filter) -> None:
    total = client.total(period)
    assert (total.visitors, total.views, total.sessions, total.bounces) == (3, 5, 3, 2)
    assert total.bounce_rate == pytest.approx(2 / 3, abs=1e-4)


def test_visitors_per_day_has_a_row_for_every_day(client: Client, period: Filter) -> None:
    rows = client.visitors(period.replace(scale="day"))
    assert [row.day for row in rows] == [today() - timedelta(days=n) for n in (2, 1, 0)]
    assert [(row.visitors, row.views) for row in rows] == [(0, 0), (0, 0), (3, 5)]


def test_pages_entry_and_exit_pages(client: Client, period: Filter) -> None:
    pages = {p.path: (p.visitors, p.views, p.title, p.hostname) for p in client.pages(period)}
    assert pages == {"/": (2, 2, "Home", "shop.test"), "/pricing": (2, 2, "Pricing", "shop.test"),
                     "/signup": (1, 1, "Signup", "shop.test")}
    entries = [(p.path, p.entries, p.sessions) for p in client.entry_pages(period)]
    assert entries == [("/", 2, 2), ("/pricing", 1, 2)]
    exits = {(p.path, p.exits) for p in client.exit_pages(period)}
    assert exits == {("/", 1), ("/pricing", 1), ("/signup", 1)}


def test_referrers_come_from_the_first_page_of_each_session(client: Client,
                                                            period: Filter) -> None:
    found = {(r.referrer, r.referrer_name, r.visitors) for r in client.referrers(period)}
    assert found == {("https://news.ycombinator.com/item", "news.ycombinator.com", 1),
                     ("", "newsletter", 1), ("", "", 1)}


def test_events_with_their_conversion_rate_and_metadata_keys(client: Client,
                                                             period: Filter) -> None:
    [signup] = client.events(period)
    assert (signup.name, signup.count, signup.visitors) == ("Signup", 1, 1)
    assert signup.cr == pytest.approx(1 / 3, abs=1e-4)
    assert signup.meta_keys == ["plan"]


def test_browsers_systems_and_languages_from_the_requests(client: Client,
                                                          period: Filter) -> None:
    assert {(b.browser, b.visitors) for b in client.browsers(period)} == {
        ("Firefox", 1), ("Safari", 1), ("Chrome", 1)}
    assert {(o.os, o.visitors) for o in client.os(period)} == {
        ("Linux", 1), ("iOS", 1), ("Windows", 1)}
    assert {(lang.language, lang.visitors) for lang in client.languages(period)} == {
        ("de", 1), ("en", 1), ("", 1)}


def test_active_visitors_are_those_of_the_last_minutes(client: Client, period: Filter) -> None:
    active = client.active_visitors(Filter(period.domain_id, start=600))
    assert active.visitors == 3
    assert [(s.path, s.visitors) for s in active.stats][:2] == [("/", 2), ("/pricing", 2)]


def test_async_client_reads_the_same(visited: DevServer, period: Filter) -> None:
    import asyncio

    from pirsch_middleware import AsyncClient

    async def read() -> int:
        async with AsyncClient(visited.client_id, visited.client_secret,
                               base_url=visited.base_url) as client:
            return (await client.total(period)).visitors

    assert asyncio.run(read()) == 3


# -- the pirsch command ----------------------------------------------------------------------

@pytest.fixture
def cli_env(visited: DevServer, monkeypatch: pytest.MonkeyPatch) -> DevServer:
    for name in ("PIRSCH_ACCESS_KEY", "PIRSCH_TIMEOUT", "PIRSCH_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIRSCH_BASE_URL", visited.base_url)
    monkeypatch.setenv("PIRSCH_CLIENT_ID", visited.client_id)
    monkeypatch.setenv("PIRSCH_CLIENT_SECRET", visited.client_secret)
    return visited


def test_pirsch_stats_pages_as_json(cli_env: DevServer,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert pirsch(["stats", "pages", "--json", "--from", str(today()), "--to",
                   str(today())]) == 0
    pages = json.loads(capsys.readouterr().out)
    assert [(p["path"], p["visitors"], p["views"]) for p in pages] == [
        ("/", 2, 2), ("/pricing", 2, 2), ("/signup", 1, 1)]


def test_pirsch_stats_visitors_per_day_as_a_table_and_chart(
        cli_env: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    day = str(today())
    assert pirsch(["stats", "visitors", "--scale", "day", "--from", day, "--to", day]) == 0
    out = capsys.readouterr().out
    assert "visitors · shop.test" in out
    [row] = [line for line in out.splitlines() if line.strip().startswith(day)
             and "│" not in line]
    assert row.split()[:3] == [day, "3", "5"]
    assert "visitors per day" in out


def test_pirsch_domains_lists_the_host(cli_env: DevServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert pirsch(["domains"]) == 0
    assert "shop.test" in capsys.readouterr().out
