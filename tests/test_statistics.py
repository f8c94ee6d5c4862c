"""The statistics clients: every endpoint through both, the filter, models, errors, auth."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any

import httpx
import pytest

from pirsch_middleware import APIError, PirschError
from pirsch_middleware._client import AsyncClient, Client
from pirsch_middleware.statistics import (
    ENDPOINTS,
    CountryStats,
    Domain,
    Endpoint,
    Filter,
    Model,
    SessionStep,
    TimeSpentStats,
    VisitorStats,
)

from .stats_server import CLIENT_ID, CLIENT_SECRET, DOMAIN_ID, DOMAINS, EXAMPLES, StatsServer

MAY: dict[str, Any] = {"from_date": date(2024, 5, 1), "to_date": date(2024, 5, 7)}


def week(**fields: Any) -> Filter:
    """A filter for the first week of May 2024 on the fake server's domain."""
    return Filter(DOMAIN_ID, **{**MAY, **fields})


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PIRSCH_CLIENT_ID", "PIRSCH_CLIENT_SECRET", "PIRSCH_ACCESS_KEY",
                 "PIRSCH_BASE_URL", "PIRSCH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def _server() -> Iterator[StatsServer]:
    with StatsServer() as server:
        yield server


@pytest.fixture
def server(_server: StatsServer) -> StatsServer:
    _server.reset()
    return _server


@pytest.fixture
def client(server: StatsServer) -> Iterator[Client]:
    with Client(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
        yield client


def method(client: Any, name: str) -> Any:
    return functools.reduce(getattr, name.split("."), client)


def expected(name: str) -> Any:
    endpoint = ENDPOINTS[name]
    return endpoint.parse(EXAMPLES[endpoint.path])


# --- the endpoint table -----------------------------------------------------------------------

def test_both_clients_expose_every_endpoint_of_the_table() -> None:
    sync, asynchronous = Client("id", "secret"), AsyncClient("id", "secret")
    for name, endpoint in ENDPOINTS.items():
        assert isinstance(endpoint, Endpoint)
        assert endpoint.name == name
        for client in (sync, asynchronous):
            bound = method(client, name)
            assert isinstance(bound, functools.partial), name
            assert bound.args == (endpoint,), name
    sync.close()
    asyncio.run(asynchronous.aclose())


def test_table_covers_the_reference_and_the_extra_endpoints() -> None:
    paths = {endpoint.path for endpoint in ENDPOINTS.values()}
    assert paths == set(EXAMPLES)  # every example path has a method, and no method is extra
    assert len(ENDPOINTS) == 32 + 10 + 12  # the reference's, api-notes.md's, options
    assert ENDPOINTS["os_versions"].path == "/statistics/os/version"


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_endpoint_through_the_sync_client(client: Client, server: StatsServer, name: str) -> None:
    f = week(scale="day", path=["/a", "/b"], limit=10)
    server.expect_query = f.to_params()

    result = method(client, name)(f)

    assert result == expected(name)
    assert server.statistics_requests[-1].path == ENDPOINTS[name].path
    assert str(server.statistics_requests[-1].authorization).startswith("Bearer token-")


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(ENDPOINTS))
async def test_endpoint_through_the_async_client(server: StatsServer, name: str) -> None:
    f = week(country=["jp", "!de"], meta={"plan": "pro"})
    server.expect_query = f.to_params()

    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
        result = await method(client, name)(f)

    assert result == expected(name)
    assert server.statistics_requests[-1].path == ENDPOINTS[name].path


def test_results_have_the_model_of_their_endpoint(client: Client) -> None:
    f = week()
    for name, endpoint in ENDPOINTS.items():
        result = method(client, name)(f)
        items = result if endpoint.many else [result]
        assert items, name
        assert all(isinstance(item, endpoint.model) for item in items), name


def test_domains_are_listed_by_both_clients(client: Client, server: StatsServer) -> None:
    domains = client.domains()
    assert [d.id for d in domains] == [DOMAIN_ID, "Zx9k2LmQ0p"]
    assert domains[0] == Domain.from_dict(DOMAINS[0])
    assert domains[0].def_time == datetime(2021, 5, 22, 10, 11, 12, 123456, tzinfo=timezone.utc)
    assert server.statistics_requests[-1].query == []

    async def read() -> list[Domain]:
        async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
            return await client.domains()

    assert asyncio.run(read()) == domains


# --- the filter -------------------------------------------------------------------------------

FILTER_ENCODING = [
    ({}, [("id", DOMAIN_ID)]),
    (MAY, [("id", DOMAIN_ID), ("from", "2024-05-01"), ("to", "2024-05-07")]),
    ({"from_date": datetime(2024, 5, 1, 23, 59)}, [("id", DOMAIN_ID), ("from", "2024-05-01")]),
    ({"path": "/home"}, [("id", DOMAIN_ID), ("path", "/home")]),
    ({"path": ["/a", "/b"]}, [("id", DOMAIN_ID), ("path", "/a"), ("path", "/b")]),
    ({"path": []}, [("id", DOMAIN_ID)]),
    ({"country": "!jp", "referrer_name": "~google"},
     [("id", DOMAIN_ID), ("country", "!jp"), ("referrer_name", "~google")]),
    ({"meta": {"plan": "pro", "size": "L"}},
     [("id", DOMAIN_ID), ("meta_plan", "pro"), ("meta_size", "L")]),
    ({"tags": {"author": "Alice"}, "tag": "author"},
     [("id", DOMAIN_ID), ("tag", "author"), ("tag_author", "Alice")]),
    ({"include_avg_time_on_page": True, "include_title": False},
     [("id", DOMAIN_ID), ("include_avg_time_on_page", "true"), ("include_title", "false")]),
    ({"limit": 100, "offset": 0}, [("id", DOMAIN_ID), ("offset", "0"), ("limit", "100")]),
    ({"start": 600, "tz": "Europe/Berlin"},
     [("id", DOMAIN_ID), ("tz", "Europe/Berlin"), ("start", "600")]),
    ({"scale": "week", "sort": "visitors", "direction": "desc", "search": "/blog"},
     [("id", DOMAIN_ID), ("scale", "week"), ("sort", "visitors"), ("direction", "desc"),
      ("search", "/blog")]),
    ({"utm_source": "news", "utm_medium": "email", "utm_campaign": "sale", "utm_content": "h",
      "utm_term": "t"},
     [("id", DOMAIN_ID), ("utm_source", "news"), ("utm_medium", "email"),
      ("utm_campaign", "sale"), ("utm_content", "h"), ("utm_term", "t")]),
    ({"visitor_id": "12345678901234567890", "session_id": 12345},
     [("id", DOMAIN_ID), ("visitor_id", "12345678901234567890"), ("session_id", "12345")]),
    ({"from_time": "09:30", "to_time": "17:00", "funnel_id": "f1"},
     [("id", DOMAIN_ID), ("from_time", "09:30"), ("to_time", "17:00"), ("funnel_id", "f1")]),
    ({"entry_path": "/", "exit_path": "/bye", "pattern": "^/blog/", "event": "Signup",
      "event_meta_key": "plan", "language": "en", "region": "Tokyo", "city": "Tokyo",
      "referrer": "https://x.test/", "os": "Linux", "browser": "Firefox", "platform": "desktop",
      "screen_class": "XL", "channel": "Direct", "hostname": "example.com",
      "custom_metric_key": "amount", "custom_metric_type": "float"},
     [("id", DOMAIN_ID), ("entry_path", "/"), ("exit_path", "/bye"), ("pattern", "^/blog/"),
      ("event", "Signup"), ("event_meta_key", "plan"), ("language", "en"),
      ("region", "Tokyo"), ("city", "Tokyo"), ("referrer", "https://x.test/"), ("os", "Linux"),
      ("browser", "Firefox"), ("platform", "desktop"), ("screen_class", "XL"),
      ("channel", "Direct"), ("hostname", "example.com"), ("custom_metric_key", "amount"),
      ("custom_metric_type", "float")]),
]


@pytest.mark.parametrize(("fields", "params"), FILTER_ENCODING)
def test_filter_encoding(fields: dict[str, Any], params: list[tuple[str, str]]) -> None:
    assert Filter(DOMAIN_ID, **fields).to_params() == params


def test_filter_encoding_reaches_the_server_as_a_query_string(
    client: Client, server: StatsServer
) -> None:
    client.pages(week(path=["/a b", "/ü"], meta={"k": "a&b"}))
    assert server.statistics_requests[-1].query == [
        ("id", DOMAIN_ID), ("from", "2024-05-01"), ("to", "2024-05-07"),
        ("path", "/a b"), ("path", "/ü"), ("meta_k", "a&b"),
    ]


FILTER_ERRORS = [
    ({"limit": 101}, ValueError, "limit must be between 1 and 100"),
    ({"limit": 0}, ValueError, "limit must be between 1 and 100"),
    ({"offset": -1}, ValueError, "offset"),
    ({"start": 3601}, ValueError, "start"),
    ({"scale": "hour"}, ValueError, "scale must be one of day, week, month, year"),
    ({"direction": "up"}, ValueError, "direction"),
    ({"custom_metric_type": "str"}, ValueError, "custom_metric_type"),
    ({"from_time": "9:30"}, ValueError, "HH:MM"),
    ({"from_date": date(2024, 5, 8), "to_date": date(2024, 5, 1)}, ValueError, "after"),
    ({"from_date": "2024-05-01"}, TypeError, "datetime.date"),
    ({"path": 5}, TypeError, "path must be a str or a list of str"),
    ({"path": ["/", 5]}, TypeError, "path"),
    ({"meta": {"k": 1}}, TypeError, "meta"),
    ({"meta": {"": "v"}}, TypeError, "meta"),
    ({"limit": "10"}, TypeError, "limit must be int"),
    ({"limit": True}, TypeError, "limit"),
    ({"include_title": "yes"}, TypeError, "include_title must be True or False"),
    ({"tz": 1}, TypeError, "tz must be a str"),
]


@pytest.mark.parametrize(("fields", "error", "message"), FILTER_ERRORS)
def test_filter_rejects_invalid_values_at_construction(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Filter(DOMAIN_ID, **fields)


def test_filter_needs_a_domain_id() -> None:
    with pytest.raises(ValueError, match="domain_id"):
        Filter("")


def test_filter_replace_validates_again_and_repr_shows_what_is_sent() -> None:
    f = Filter(DOMAIN_ID, limit=5)
    assert f.replace(scale="week").scale == "week"
    with pytest.raises(ValueError, match="limit"):
        f.replace(limit=500)
    assert repr(f) == f"Filter(domain_id={DOMAIN_ID!r}, limit=5)"


# --- response models --------------------------------------------------------------------------

@pytest.mark.parametrize("scale", ["day", "week", "month", "year"])
def test_period_is_the_time_field_the_scale_sets(scale: str) -> None:
    data: dict[str, Any] = {"day": None, "week": None, "month": None, "year": None,
                            "visitors": 3}
    data[scale] = "2024-04-29T00:00:00Z"
    row = VisitorStats.from_dict(data)
    assert row.period == date(2024, 4, 29)
    assert row.scale == scale
    assert getattr(row, scale) == row.period


def test_period_keeps_the_date_of_the_dashboard_time_zone() -> None:
    row = TimeSpentStats.from_dict({"day": "2024-05-01T00:00:00+02:00"})
    assert row.period == date(2024, 5, 1)


def test_models_keep_unknown_fields_and_ignore_nulls() -> None:
    row = VisitorStats.from_dict({"day": "2024-05-01T00:00:00Z", "visitors": None,
                                  "new_metric": 1.5})
    assert row.visitors == 0
    assert row.extra == {"new_metric": 1.5}
    assert row.to_dict()["new_metric"] == 1.5
    assert row.to_dict()["day"] == "2024-05-01"


def test_country_is_read_from_the_reference_name_and_the_api_name() -> None:
    assert CountryStats.from_dict({"country": "jp"}).country_code == "jp"
    assert CountryStats.from_dict({"country_code": "jp"}).country_code == "jp"
    both = CountryStats.from_dict({"country": "xx", "country_code": "jp"})
    assert (both.country_code, both.extra) == ("jp", {"country": "xx"})


def test_session_steps_parse_page_views_and_events() -> None:
    steps = [SessionStep.from_dict(item) for item in EXAMPLES["/statistics/session/details"]]
    assert steps[0].page_view is not None
    assert steps[0].event is None
    assert steps[0].page_view.visitor_id == "12345"  # sent as a number here, a string elsewhere
    assert steps[1].step is steps[1].event
    assert steps[1].event is not None
    assert steps[1].event.meta_keys == ["key"]


def test_an_empty_list_sent_as_null_is_an_empty_list(client: Client, server: StatsServer) -> None:
    server.responses["/statistics/page"] = None
    assert client.pages(week()) == []


def test_models_are_dataclasses_and_round_trip_through_to_dict() -> None:
    for name, endpoint in ENDPOINTS.items():
        if issubclass(endpoint.model, Model):
            for item in expected(name) if endpoint.many else [expected(name)]:
                assert endpoint.model.from_dict(json.loads(json.dumps(item.to_dict()))) == item


# --- errors -----------------------------------------------------------------------------------

def test_an_error_body_becomes_an_api_error(client: Client, server: StatsServer) -> None:
    server.fail_with(400, {"validation": {"from": "from must be before to"},
                           "error": ["the filter is invalid"]})
    with pytest.raises(APIError) as caught:
        client.visitors(week())
    assert caught.value.status_code == 400
    assert caught.value.validation == {"from": "from must be before to"}
    assert caught.value.errors == ["the filter is invalid"]
    assert "/api/v1/statistics/visitor" in str(caught.value)


def test_a_body_that_is_not_json_becomes_an_api_error(client: Client, server: StatsServer) -> None:
    server.fail_with(502, b"Bad Gateway")
    with pytest.raises(APIError) as caught:
        client.total(week())
    assert (caught.value.status_code, caught.value.errors) == (502, ["Bad Gateway"])


def test_an_unknown_domain_is_an_api_error(client: Client) -> None:
    with pytest.raises(APIError, match="domain not found") as caught:
        client.total(Filter("nope", **MAY))
    assert caught.value.status_code == 404


def mock_api(answer: Any) -> httpx.MockTransport:
    """A MockTransport that issues tokens and lets ``answer`` serve everything else."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/token":
            return httpx.Response(200, json={"access_token": "t",
                                             "expires_at": "2999-01-01T00:00:00Z"})
        response: httpx.Response = answer(request)
        return response

    return httpx.MockTransport(handle)


def test_an_unexpected_success_body_is_a_pirsch_error() -> None:
    transport = mock_api(lambda request: httpx.Response(200, text="<html>"))
    with Client("id", "secret", transport=transport) as client, \
            pytest.raises(PirschError, match="unexpected response"):
        client.platforms(Filter(DOMAIN_ID))


def test_an_unreachable_api_is_a_pirsch_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Client("id", "secret", transport=httpx.MockTransport(refuse)) as client, \
            pytest.raises(PirschError, match=r"could not reach https://api\.pirsch\.io"):
        client.total(Filter(DOMAIN_ID))


# --- credentials and tokens -------------------------------------------------------------------

def test_an_expired_token_is_renewed_once_and_the_request_sent_again(
    client: Client, server: StatsServer
) -> None:
    f = week()
    client.total(f)
    before = server.token_requests
    server.expire_tokens()

    assert client.total(f) == expected("total")
    assert server.token_requests == before + 1
    statuses = [r.authorization for r in server.statistics_requests if r.method == "GET"]
    assert statuses[-2] != statuses[-1]  # the refused token, then the new one


@pytest.mark.anyio
async def test_the_async_client_renews_an_expired_token(server: StatsServer) -> None:
    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
        await client.growth(week())
        before = server.token_requests
        server.expire_tokens()
        assert await client.growth(week()) == expected("growth")
    assert server.token_requests == before + 1


def test_wrong_client_credentials_are_an_api_error(server: StatsServer) -> None:
    with Client(CLIENT_ID, "wrong", base_url=server.base_url) as client, \
            pytest.raises(APIError, match="getting an access token failed") as caught:
        client.domains()
    assert caught.value.status_code == 401


def test_the_token_request_gets_the_timeout_too() -> None:
    seen: dict[str, Any] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.extensions.get("timeout")
        if request.url.path == "/api/v1/token":
            return httpx.Response(200, json={"access_token": "t",
                                             "expires_at": "2999-01-01T00:00:00Z"})
        return httpx.Response(200, json=DOMAINS)

    with Client("id", "secret", timeout=2.5, transport=httpx.MockTransport(answer)) as client:
        client.domains()
    assert seen["/api/v1/token"] == httpx.Timeout(2.5).as_dict()
    assert seen["/api/v1/domain"] == httpx.Timeout(2.5).as_dict()


@pytest.mark.parametrize("credentials", [
    {"client_secret": "pa_abcdef"},
    {"env": {"PIRSCH_ACCESS_KEY": "pa_abcdef"}},
])
def test_an_access_key_cannot_read_statistics(
    credentials: dict[str, Any], server: StatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in credentials.pop("env", {}).items():
        monkeypatch.setenv(name, value)
    client = Client(**credentials, base_url=server.base_url)  # building it is fine
    with pytest.raises(PirschError, match=r"access key \(pa_\.\.\.\) can only send"):
        client.visitors(week())
    with pytest.raises(PirschError, match="oAuth client"):
        client.domains()
    assert server.requests == []  # said before sending anything
    client.close()


@pytest.mark.anyio
async def test_an_access_key_cannot_read_statistics_async(server: StatsServer) -> None:
    async with AsyncClient(client_secret="pa_abcdef", base_url=server.base_url) as client:
        with pytest.raises(PirschError, match="access key"):
            await client.options.pages(Filter(DOMAIN_ID))


def test_missing_credentials_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET"):
        Client()
    with pytest.raises(ValueError, match="client_secret is missing"):
        AsyncClient("only-an-id")


def test_options_come_from_the_environment(
    server: StatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIRSCH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PIRSCH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PIRSCH_BASE_URL", server.base_url + "/api/v1/")
    monkeypatch.setenv("PIRSCH_TIMEOUT", "2.5")
    with Client() as client:
        assert (client.base_url, client.timeout) == (server.base_url, 2.5)
        assert client.domains()[0].hostname == "example.com"
    with Client("id", "secret", base_url="https://other.test", timeout=1) as client:
        assert (client.base_url, client.timeout) == ("https://other.test", 1.0)


@pytest.mark.parametrize(("timeout", "env"), [(0, None), (-1, None), (None, "soon"),
                                              (None, "0")])
def test_an_invalid_timeout_is_refused(
    timeout: float | None, env: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is not None:
        monkeypatch.setenv("PIRSCH_TIMEOUT", env)
    with pytest.raises(ValueError, match=r"(timeout|PIRSCH_TIMEOUT) must be a positive number"):
        Client("id", "secret", timeout=timeout)


def test_a_filter_of_the_wrong_type_is_refused(client: Client) -> None:
    with pytest.raises(TypeError, match=r"visitors\(\) takes a Filter"):
        client.visitors({"id": DOMAIN_ID})  # type: ignore[arg-type]


def test_the_repr_shows_no_secret() -> None:
    with Client("my-id", "my-very-secret") as client:
        assert "my-very-secret" not in repr(client)
        assert "my-id" in repr(client)


def test_the_clients_import_without_rich_or_any_web_framework() -> None:
    code = (
        "import sys\n"
        "blocked = ('rich', 'django', 'flask', 'starlette', 'fastapi')\n"
        "for name in blocked: sys.modules[name] = None  # import fails as if not installed\n"
        "from pirsch_middleware._client import AsyncClient, Client\n"
        "import pirsch_middleware.statistics, pirsch_middleware.cli\n"
        "loaded = {m.split('.')[0] for m, mod in sys.modules.items() if mod is not None}\n"
        "assert not loaded & set(blocked), loaded & set(blocked)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
