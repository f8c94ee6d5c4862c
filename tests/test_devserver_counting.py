"""How the receiver counts: visitors, sessions, bounces, time on page, periods, filters,
sorting, and what it refuses. Items with set times go in over HTTP; ``Client`` reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from pirsch_middleware import Client
from pirsch_middleware._errors import APIError
from pirsch_middleware.devserver import DevServer
from pirsch_middleware.devserver._agents import parse_agent
from pirsch_middleware.statistics import Filter

DAY = date(2024, 5, 6)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.6367.60 Safari/537.36")
IP = "203.0.113.7"


def at(clock: str, day: date = DAY) -> str:
    return f"{day.isoformat()}T{clock}Z"


def hit(path: str, clock: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return "hit", {"url": f"https://site.test{path}", "ip": IP, "user_agent": FIREFOX,
                   "time": at(clock), **fields}


def event(name: str, path: str, clock: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return "event", {**hit(path, clock)[1], "event_name": name, **fields}


def keep_alive(clock: str) -> tuple[str, dict[str, Any]]:
    return "session", {"ip": IP, "user_agent": FIREFOX, "time": at(clock)}


@pytest.fixture
def site(receiver: DevServer) -> Iterator[tuple[DevServer, Client]]:
    with Client(receiver.client_id, receiver.client_secret,
                base_url=receiver.base_url) as client:
        yield receiver, client


def send(server: DevServer, *items: tuple[str, dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {server.access_key}"}) as c:
        for kind, item in items:
            assert c.post(f"/api/v1/{kind}", json=item).status_code == 200


def period(client: Client, **filters: Any) -> Filter:
    [domain] = client.domains()
    return Filter(domain.id, from_date=DAY, to_date=DAY, **filters)


# -- visitors and sessions -------------------------------------------------------------------

@pytest.mark.parametrize(("items", "sessions"), [
    ([hit("/a", "10:00:00"), hit("/b", "10:29:59")], 1),
    ([hit("/a", "10:00:00"), hit("/b", "10:30:01")], 2),
    ([hit("/a", "10:00:00"), event("x", "/a", "10:20:00"), hit("/b", "10:45:00")], 1),
    ([hit("/a", "10:00:00"), keep_alive("10:25:00"), hit("/b", "10:50:00")], 1),
])
def test_a_session_ends_after_30_minutes_without_activity(
        site: tuple[DevServer, Client], items: list[tuple[str, dict[str, Any]]],
        sessions: int) -> None:
    server, client = site
    send(server, *items)
    assert client.total(period(client)).sessions == sessions


def test_a_visitor_is_one_ip_and_user_agent_per_day(site: tuple[DevServer, Client]) -> None:
    server, client = site
    kind, first = hit("/", "10:00:00")
    send(server, (kind, first), (kind, {**first, "user_agent": CHROME}),
         (kind, {**first, "ip": "198.51.100.2"}), (kind, first),
         (kind, {**first, "time": at("10:00:00", date(2024, 5, 7))}))
    f = period(client).replace(to_date=date(2024, 5, 7))
    assert client.total(f).visitors == 4
    assert [day.visitors for day in client.visitors(f)] == [3, 1]


@pytest.mark.parametrize(("items", "bounces"), [
    ([hit("/a", "10:00:00")], 1),
    ([hit("/a", "10:00:00"), hit("/b", "10:01:00")], 0),
    ([hit("/a", "10:00:00"), event("play", "/a", "10:01:00")], 0),
    ([hit("/a", "10:00:00"), event("scroll", "/a", "10:01:00", non_interactive=True)], 1),
])
def test_a_session_bounces_with_one_page_view_and_no_interactive_event(
        site: tuple[DevServer, Client], items: list[tuple[str, dict[str, Any]]],
        bounces: int) -> None:
    server, client = site
    send(server, *items)
    assert client.total(period(client)).bounces == bounces


def test_time_on_page_is_the_time_to_the_next_page_view_when_asked_for(
        site: tuple[DevServer, Client]) -> None:
    server, client = site
    send(server, hit("/a", "10:00:00"), hit("/b", "10:01:30"), hit("/a", "10:02:00"),
         hit("/c", "10:02:20"))
    timed = {p.path: p.average_time_spent_seconds
             for p in client.pages(period(client, include_avg_time_on_page=True))}
    assert timed == {"/a": 55, "/b": 30, "/c": 0}
    assert {p.average_time_spent_seconds for p in client.pages(period(client))} == {0}


def test_entry_and_exit_rates_are_shares_of_all_sessions(site: tuple[DevServer, Client]) -> None:
    server, client = site
    send(server, hit("/a", "10:00:00"), hit("/b", "10:01:00"), hit("/b", "12:00:00"))
    entries = [(p.path, p.entries, p.entry_rate) for p in client.entry_pages(period(client))]
    assert entries == [("/a", 1, 0.5), ("/b", 1, 0.5)]
    assert [(p.path, p.exits, p.exit_rate) for p in client.exit_pages(period(client))] == [
        ("/b", 2, 1.0)]


@pytest.mark.parametrize(("fields", "referrer", "name"), [
    ({"referrer": "https://www.example.org/post?q=1#top"}, "https://www.example.org/post",
     "example.org"),
    ({"referrer": "https://site.test/other"}, "", ""),  # internal navigation
    ({"referrer": "android-app://com.slack"}, "", "android-app://com.slack"),
    ({"referrer": "Newsletter"}, "", "Newsletter"),
    ({"url": "https://site.test/?ref=producthunt"}, "", "producthunt"),
    ({"url": "https://site.test/?utm_source=mail&ref=https://blog.test/"}, "https://blog.test/",
     "blog.test"),
    ({}, "", ""),
])
def test_the_referrer_is_the_field_or_a_ref_parameter_but_not_the_site_itself(
        site: tuple[DevServer, Client], fields: dict[str, str], referrer: str,
        name: str) -> None:
    server, client = site
    kind, item = hit("/", "10:00:00")
    send(server, (kind, {**item, **fields}))
    [row] = client.referrers(period(client))
    assert (row.referrer, row.referrer_name) == (referrer, name)


# -- periods ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("scale", "start", "periods", "visitors"), [
    ("day", date(2024, 5, 5), [date(2024, 5, 5), date(2024, 5, 6), date(2024, 5, 7)],
     [0, 1, 0]),
    ("week", date(2024, 5, 1), [date(2024, 4, 29), date(2024, 5, 6)], [0, 1]),
    ("month", date(2024, 4, 30), [date(2024, 4, 1), date(2024, 5, 1)], [0, 1]),
    ("year", date(2023, 12, 31), [date(2023, 1, 1), date(2024, 1, 1)], [0, 1]),
])
def test_visitors_over_time_have_a_row_per_period_of_the_scale(
        site: tuple[DevServer, Client], scale: str, start: date, periods: list[date],
        visitors: list[int]) -> None:
    server, client = site
    send(server, hit("/", "10:00:00"))
    f = period(client, scale=scale).replace(from_date=start, to_date=date(2024, 5, 7))
    rows = client.visitors(f)
    assert [(row.scale, row.period, row.visitors) for row in rows] == [
        (scale, p, v) for p, v in zip(periods, visitors, strict=True)]


def test_days_are_counted_in_the_time_zone_asked_for(site: tuple[DevServer, Client]) -> None:
    server, client = site
    send(server, hit("/", "23:30:00"))  # 01:30 on the 7th in Berlin
    f = period(client).replace(to_date=date(2024, 5, 7))
    assert [d.visitors for d in client.visitors(f)] == [1, 0]
    assert [d.visitors for d in client.visitors(f.replace(tz="Europe/Berlin"))] == [0, 1]


def test_start_counts_the_past_seconds_instead_of_a_period(
        site: tuple[DevServer, Client]) -> None:
    server, client = site
    now = datetime.now(timezone.utc)

    def ago(minutes: int) -> str:
        return (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    kind, item = hit("/", "10:00:00")
    send(server, (kind, {**item, "time": ago(30)}),
         (kind, {**item, "url": "https://site.test/recent", "time": ago(2)}))
    [domain] = client.domains()
    past_ten_minutes = Filter(domain.id, start=600)
    assert [p.path for p in client.pages(past_ten_minutes)] == ["/recent"]
    assert client.total(past_ten_minutes).views == 1
    assert [a.path for a in client.active_visitors(past_ten_minutes).stats] == ["/recent"]


# -- filters, sorting, paging ----------------------------------------------------------------

@pytest.fixture
def mixed(site: tuple[DevServer, Client]) -> Client:
    """Two sessions: Firefox on /blog/a then /pricing with a Signup event; Chrome on /."""
    server, client = site
    chrome = {"user_agent": CHROME, "ip": "198.51.100.2", "tags": {"author": "Alice"}}
    send(server, hit("/blog/a", "10:00:00", referrer="https://news.test/"),
         hit("/pricing", "10:01:00"), event("Signup", "/pricing", "10:02:00",
                                            event_meta={"plan": "pro"}),
         hit("/", "11:00:00", **chrome))
    return client


@pytest.mark.parametrize(("filters", "paths"), [
    ({}, ["/", "/blog/a", "/pricing"]),
    ({"path": "/pricing"}, ["/pricing"]),
    ({"path": ["/pricing", "/"]}, ["/", "/pricing"]),
    ({"path": "!/pricing"}, ["/", "/blog/a"]),
    ({"path": "~BLOG"}, ["/blog/a"]),
    ({"path": "^blog"}, ["/", "/pricing"]),
    ({"pattern": r"^/(blog|pricing)"}, ["/blog/a", "/pricing"]),
    ({"browser": "Chrome"}, ["/"]),
    ({"os": "!Linux"}, ["/"]),
    ({"platform": "desktop"}, ["/", "/blog/a", "/pricing"]),
    ({"entry_path": "/blog/a"}, ["/blog/a", "/pricing"]),
    ({"exit_path": "/"}, ["/"]),
    ({"referrer_name": "news.test"}, ["/blog/a", "/pricing"]),
    ({"event": "Signup"}, ["/blog/a", "/pricing"]),
    ({"event": "Signup", "meta": {"plan": "free"}}, []),
    ({"meta": {"plan": "pro"}}, ["/blog/a", "/pricing"]),
    ({"tags": {"author": "Alice"}}, ["/"]),
    ({"hostname": "other.test"}, []),
])
def test_filters_select_page_views(mixed: Client, filters: dict[str, Any],
                                   paths: list[str]) -> None:
    assert sorted(p.path for p in mixed.pages(period(mixed, **filters))) == paths


@pytest.mark.parametrize(("filters", "names"), [
    ({"event": "Signup"}, ["Signup"]), ({"event": "!Signup"}, []),
    ({"path": "/pricing"}, ["Signup"]), ({"path": "/blog/a"}, []),
])
def test_filters_select_events_by_their_own_values(mixed: Client, filters: dict[str, Any],
                                                   names: list[str]) -> None:
    assert [e.name for e in mixed.events(period(mixed, **filters))] == names


@pytest.mark.parametrize(("options", "paths"), [
    ({}, ["/", "/blog/a", "/pricing"]),  # most visitors first, then by path
    ({"sort": "path", "direction": "desc"}, ["/pricing", "/blog/a", "/"]),
    ({"sort": "path", "direction": "asc"}, ["/", "/blog/a", "/pricing"]),
    ({"search": "PRI"}, ["/pricing"]),
    ({"limit": 2}, ["/", "/blog/a"]),
    ({"limit": 2, "offset": 2}, ["/pricing"]),
])
def test_lists_are_searched_sorted_and_paged(mixed: Client, options: dict[str, Any],
                                            paths: list[str]) -> None:
    assert [p.path for p in mixed.pages(period(mixed, **options))] == paths


def test_breakdowns_by_version_platform_and_host(mixed: Client) -> None:
    f = period(mixed)
    assert {(b.browser, b.browser_version) for b in mixed.browser_versions(f)} == {
        ("Firefox", "120.0"), ("Chrome", "124.0")}
    assert {(o.os, o.os_version) for o in mixed.os_versions(f)} == {("Linux", ""),
                                                                     ("Windows", "10")}
    platforms = mixed.platforms(f)
    assert (platforms.platform_desktop, platforms.relative_platform_desktop) == (2, 1.0)
    assert [(h.hostname, h.views) for h in mixed.hostnames(f)] == [("site.test", 3)]
    assert [(e.name, e.meta, e.count) for e in mixed.event_list(f)] == [
        ("Signup", {"plan": "pro"}, 1)]
    assert mixed.options.pages(f) == ["/", "/blog/a", "/pricing"]
    assert mixed.options.events(f) == ["Signup"]
    assert mixed.options.referrer_names(f) == ["news.test"]


# -- what it refuses -------------------------------------------------------------------------

def api_error(call: Any) -> APIError:
    with pytest.raises(APIError) as error:
        call()
    return error.value


@pytest.mark.parametrize(("filters", "field", "message"), [
    ({"country": "jp"}, "country", "geolocation"),
    ({"screen_class": "XL"}, "screen_class", "cannot filter by screen_class"),
    ({"from_time": "10:00", "to_time": "11:00"}, "from_time", "cannot filter"),
])
def test_a_filter_it_cannot_apply_is_refused_not_ignored(
        mixed: Client, filters: dict[str, Any], field: str, message: str) -> None:
    error = api_error(lambda: mixed.pages(period(mixed, **filters)))
    assert error.status_code == 400
    assert message in error.validation[field]


@pytest.mark.parametrize(("query", "field"), [
    ("", "id"), ("id=<id>", "from"), ("id=<id>&from=2024-05-06", "to"),
    ("id=<id>&from=2024-05-07&to=2024-05-06", "to"),
    ("id=<id>&from=6.5.2024&to=2024-05-06", "from"),
    ("id=<id>&from=2024-05-06&to=2024-05-06&scale=hour", "scale"),
    ("id=<id>&from=2024-05-06&to=2024-05-06&tz=Mars/Olympus", "tz"),
    ("id=<id>&from=2024-05-06&to=2024-05-06&limit=0", "limit"),
    ("id=<id>&from=2024-05-06&to=2024-05-06&sort=nope", "sort"),
    ("id=<id>&from=2024-05-06&to=2024-05-06&colour=red", "colour"),
])
def test_a_malformed_query_is_answered_400_naming_the_parameter(
        site: tuple[DevServer, Client], mixed: Client, query: str, field: str) -> None:
    server, _ = site
    query = query.replace("<id>", mixed.domains()[0].id)
    response = httpx.get(f"{server.base_url}/api/v1/statistics/page?{query}",
                         headers=token_headers(server))
    assert response.status_code == 400
    assert field in response.json()["validation"]


def token_headers(server: DevServer) -> dict[str, str]:
    response = httpx.post(f"{server.base_url}/api/v1/token",
                          json={"client_id": server.client_id,
                                "client_secret": server.client_secret})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_sorting_by_a_field_that_is_no_single_value_is_refused(mixed: Client) -> None:
    error = api_error(lambda: mixed.event_list(period(mixed, sort="meta")))
    assert error.status_code == 400
    assert "name" in error.validation["sort"]


def test_an_endpoint_it_does_not_compute_is_answered_501_naming_those_it_does(
        mixed: Client) -> None:
    error = api_error(lambda: mixed.countries(period(mixed)))
    assert error.status_code == 501
    assert "/statistics/page" in str(error)


def test_an_unknown_domain_is_answered_404(mixed: Client) -> None:
    error = api_error(lambda: mixed.pages(Filter("nope", from_date=DAY, to_date=DAY)))
    assert error.status_code == 404


def test_without_page_views_there_is_no_domain(site: tuple[DevServer, Client]) -> None:
    server, client = site
    send(server, keep_alive("10:00:00"))
    assert client.domains() == []


@pytest.mark.parametrize(("authorization", "status"), [
    (None, 401), ("Bearer nope", 401), ("Bearer <access key>", 403),
])
def test_statistics_need_an_oauth_token(site: tuple[DevServer, Client],
                                        authorization: str | None, status: int) -> None:
    server, _ = site
    headers = {} if authorization is None else {
        "Authorization": authorization.replace("<access key>", server.access_key)}
    response = httpx.get(f"{server.base_url}/api/v1/domain", headers=headers)
    assert response.status_code == status
    assert response.json()["error"]


def test_an_expired_token_is_renewed_by_the_client(site: tuple[DevServer, Client]) -> None:
    server, client = site
    send(server, hit("/", "10:00:00"))
    assert len(client.domains()) == 1
    server.expire_tokens()
    assert len(client.domains()) == 1
    assert server.token_requests == 2


def test_statistics_take_only_get(site: tuple[DevServer, Client]) -> None:
    server, _ = site
    response = httpx.post(f"{server.base_url}/api/v1/statistics/page", json={})
    assert (response.status_code, response.headers["allow"]) == (405, "GET")


def test_statistics_requests_are_recorded_with_their_query_and_can_be_failed(
        site: tuple[DevServer, Client]) -> None:
    server, client = site
    send(server, hit("/", "10:00:00"))
    f = period(client, path="/")
    server.clear()
    server.fail_next(1, 503, path_prefix="/statistics")
    assert api_error(lambda: client.pages(f)).status_code == 503
    assert api_error(lambda: client.pages(f)).status_code == 404  # cleared with its page views
    statuses = [(r.method, r.path, r.status) for r in server.requests]
    assert statuses[-2:] == [("GET", "/api/v1/statistics/page", 503),
                             ("GET", "/api/v1/statistics/page", 404)]
    assert "path=%2F" in server.requests[-1].query


# -- user agents -----------------------------------------------------------------------------

@pytest.mark.parametrize(("agent", "expected"), [
    (FIREFOX, ("Firefox", "120.0", "Linux", "", "desktop")),
    (CHROME, ("Chrome", "124.0", "Windows", "10", "desktop")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51", ("Edge", "124.0", "Windows", "10",
                                                          "desktop")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15", ("Safari", "17.4", "macOS", "10.15.7", "desktop")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.1 Mobile/15E148 Safari/604.1", ("Safari", "17.1", "iOS", "17.1",
                                                        "mobile")),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", ("Chrome", "124.0", "Android", "14", "mobile")),
    ("Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
     ("Firefox", "125.0", "Android", "14", "mobile")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", ("Chrome", "124.0", "iOS",
                                                               "17.4", "mobile")),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0", ("Opera", "109.0", "ChromeOS", "",
                                                      "desktop")),
    ("curl/8.5.0", ("", "", "", "", "unknown")),
])
def test_user_agents_are_read_for_browser_system_and_platform(
        agent: str, expected: tuple[str, ...]) -> None:
    parsed = parse_agent(agent)
    assert (parsed.browser, parsed.browser_version, parsed.os, parsed.os_version,
            parsed.platform) == expected


@pytest.mark.parametrize(("hint", "platform"), [("?1", "mobile"), ("?0", "desktop")])
def test_the_mobile_client_hint_decides_the_platform(hint: str, platform: str) -> None:
    assert parse_agent("curl/8.5.0", hint).platform == platform
