"""The dev server is a strict Pirsch write API: what it accepts, what it refuses, and how it
misbehaves on request. Everything goes over real HTTP to 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pirsch_middleware._auth import Credentials, PirschAuth, parse_rfc3339
from pirsch_middleware._errors import APIError
from pirsch_middleware.devserver import DevServer, Received, main

REPO = Path(__file__).resolve().parent.parent
TIME = "2024-05-06T07:08:09Z"
UA = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"
HIT: dict[str, Any] = {"url": "https://example.com/path?q=1", "ip": "203.0.113.7",
                       "user_agent": UA, "time": TIME}
EVENT: dict[str, Any] = {**HIT, "event_name": "signup"}
SESSION: dict[str, Any] = {"ip": "203.0.113.7", "user_agent": UA, "time": TIME}
BASE = {"hit": HIT, "event": EVENT, "session": SESSION}
HINTS = {"sec_ch_ua": '"Chromium";v="124"', "sec_ch_ua_mobile": "?0",
         "sec_ch_ua_platform": '"Linux"', "sec_ch_ua_platform_version": '"6.1"',
         "sec_ch_width": "1920", "sec_ch_viewport_width": "1280"}
FULL_HIT: dict[str, Any] = {
    **HIT, **HINTS, "url": "http://localhost:8080/a?b=c#d", "ip": "2001:db8::1", "dnt": "1",
    "accept_language": "de-DE", "title": "Home", "referrer": "https://ref.example/",
    "screen_width": 1920, "screen_height": 0, "tags": {"plan": "pro"}, "disable_bot_filter": True,
}
FULL_EVENT: dict[str, Any] = {
    **FULL_HIT, "event_name": "signup", "event_duration": 0,
    "event_meta": {"s": "x", "i": 1, "f": 1.5, "b": False}, "non_interactive": True,
}
FULL_SESSION: dict[str, Any] = {**SESSION, **HINTS, "dnt": "0",
                                "time": "2024-05-06T09:08:09.123456789+02:00"}
MISSING = object()


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer() as srv:
        yield srv


@pytest.fixture
def client(server: DevServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0,
                      headers={"Authorization": f"Bearer {server.access_key}"}) as c:
        yield c


def error_of(response: httpx.Response) -> APIError:
    """The error as this package's clients read it, so the body must have the documented shape."""
    return APIError.from_response(response.status_code, response.content)


def fetch_token(server: DevServer) -> str:
    response = httpx.post(f"{server.base_url}/api/v1/token",
                          json={"client_id": server.client_id,
                                "client_secret": server.client_secret})
    assert response.status_code == 200
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- credentials -----------------------------------------------------------------------------

def test_each_instance_has_random_credentials_shaped_like_pirsch_ones() -> None:
    first, second = DevServer(), DevServer()
    assert (len(first.client_id), len(first.client_secret)) == (32, 64)
    assert first.access_key.startswith("pa_")
    assert first.client_secret != second.client_secret
    assert first.access_key != second.access_key


def test_credentials_can_be_fixed() -> None:
    with DevServer(client_id="i" * 32, client_secret="s" * 64, access_key="pa_fixed") as server:
        assert (server.client_id, server.client_secret) == ("i" * 32, "s" * 64)
        token = fetch_token(server)
        for key in (token, "pa_fixed"):
            assert httpx.post(f"{server.base_url}/api/v1/hit", json=HIT,
                              headers=bearer(key)).status_code == 200


def test_token_carries_a_nanosecond_utc_expiry_token_ttl_ahead() -> None:
    with DevServer(token_ttl=120) as server:
        response = httpx.post(f"{server.base_url}/api/v1/token",
                              json={"client_id": server.client_id,
                                    "client_secret": server.client_secret})
    assert response.status_code == 200
    expires_at = response.json()["expires_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", expires_at)
    assert abs(parse_rfc3339(expires_at).timestamp() - (time.time() + 120)) < 30
    assert response.json()["access_token"]


@pytest.mark.parametrize(("payload", "status"), [
    ({"client_id": "<id>", "client_secret": "wrong"}, 401),
    ({"client_id": "wrong", "client_secret": "<secret>"}, 401),
    ({"client_id": "<id>"}, 400),
    ({"client_id": "<id>", "client_secret": 5}, 400),
    (["<id>", "<secret>"], 400),
])
def test_token_requests_with_wrong_credentials_fail(
        server: DevServer, payload: Any, status: int) -> None:
    text = json.dumps(payload).replace("<id>", server.client_id)
    text = text.replace("<secret>", server.client_secret)
    response = httpx.post(f"{server.base_url}/api/v1/token", content=text,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = error_of(response)
    assert error.errors or error.validation
    assert server.token_requests == 1


@pytest.mark.parametrize(("content", "content_type", "status"), [
    (b"{", "application/json", 400),
    (b"", "application/json", 400),
    (b'{"client_id": "x", "client_secret": "y"}', "text/plain", 415),
])
def test_token_requests_that_are_not_json_fail(
        server: DevServer, content: bytes, content_type: str, status: int) -> None:
    response = httpx.post(f"{server.base_url}/api/v1/token", content=content,
                          headers={"Content-Type": content_type})
    assert response.status_code == status
    assert error_of(response).errors


def test_expire_tokens_makes_issued_tokens_fail_until_a_new_one_is_fetched(
        server: DevServer, client: httpx.Client) -> None:
    token = fetch_token(server)
    assert client.post("/api/v1/hit", json=HIT, headers=bearer(token)).status_code == 200
    server.expire_tokens()
    response = client.post("/api/v1/hit", json=HIT, headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in error_of(response).errors[0]
    assert client.post("/api/v1/hit", json=HIT, headers=bearer(fetch_token(server))).status_code \
        == 200
    assert client.post("/api/v1/hit", json=HIT).status_code == 200  # the access key lives on
    assert len(server.hits) == 3


def test_a_token_stops_working_after_token_ttl() -> None:
    with DevServer(token_ttl=1e-6) as server:
        response = httpx.post(f"{server.base_url}/api/v1/hit", json=HIT,
                              headers=bearer(fetch_token(server)))
    assert response.status_code == 401
    assert "expired" in error_of(response).errors[0]


def test_the_package_auth_flow_fetches_and_renews_tokens(server: DevServer) -> None:
    auth = PirschAuth(Credentials(client_id=server.client_id,
                                  client_secret=server.client_secret), server.base_url)
    with httpx.Client(base_url=server.base_url, auth=auth) as c:
        assert c.post("/api/v1/hit", json=HIT).status_code == 200
        server.expire_tokens()
        assert c.post("/api/v1/hit", json=HIT).status_code == 200
    assert server.token_requests == 2
    assert [r.status for r in server.requests] == [200, 200, 401, 200, 200]
    assert [entry.request_index for entry in server.received] == [1, 4]


@pytest.mark.parametrize("authorization", [
    None, "", "Basic YTpi", "Bearer", "Bearer pa_wrong", "Bearer not-a-token", "Token pa_x",
    "pa_whatever",
])
def test_writes_without_valid_credentials_are_answered_401(
        server: DevServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.post(f"{server.base_url}/api/v1/hit", json=HIT, headers=headers)
    assert response.status_code == 401
    error = error_of(response)
    assert error.errors
    assert error.validation == {}
    assert server.received == []


def test_the_bearer_scheme_is_case_insensitive(server: DevServer) -> None:
    response = httpx.post(f"{server.base_url}/api/v1/hit", json=HIT,
                          headers={"Authorization": f"bearer {server.access_key}"})
    assert response.status_code == 200


# -- what is accepted ------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize(("kind", "item"), [
    ("hit", HIT), ("hit", FULL_HIT), ("event", EVENT), ("event", FULL_EVENT),
    ("session", SESSION), ("session", FULL_SESSION),
])
def test_valid_items_are_accepted_and_recorded(
        server: DevServer, client: httpx.Client, kind: str, item: dict[str, Any],
        batch: bool) -> None:
    path = f"/api/v1/{kind}" + ("/batch" if batch else "")
    response = client.post(path, json=[item] if batch else item)
    assert response.status_code == 200
    assert response.content == b""
    assert server.received == [Received(kind, item, 0)]  # type: ignore[arg-type]
    assert getattr(server, kind + "s") == [item]


@pytest.mark.parametrize("kind", ["hit", "event", "session"])
def test_time_is_optional_for_one_item_but_required_in_batches(
        server: DevServer, client: httpx.Client, kind: str) -> None:
    item = {k: v for k, v in BASE[kind].items() if k != "time"}
    assert client.post(f"/api/v1/{kind}", json=item).status_code == 200
    response = client.post(f"/api/v1/{kind}/batch", json=[item])
    assert response.status_code == 400
    assert error_of(response).validation == {"0.time": "required in batch items"}


@pytest.mark.parametrize("times", [
    ["2024-05-06T07:00:00Z", "2024-05-06T07:00:00Z"],
    ["2024-05-06T07:00:00Z", "2024-05-06T09:00:00.5+02:00", "2024-05-06T07:00:01Z"],
])
def test_batches_in_time_order_are_accepted(
        server: DevServer, client: httpx.Client, times: list[str]) -> None:
    response = client.post("/api/v1/hit/batch", json=[{**HIT, "time": t} for t in times])
    assert response.status_code == 200
    assert len(server.hits) == len(times)


@pytest.mark.parametrize(("times", "key"), [
    (["2024-05-06T07:00:01Z", "2024-05-06T07:00:00Z"], "1.time"),
    (["2024-05-06T07:30:00Z", "2024-05-06T09:00:00+02:00"], "1.time"),  # 07:00 UTC
    (["2024-05-06T07:00:00Z", "2024-05-06T07:00:00Z", "2024-05-06T06:59:59.999999Z"], "2.time"),
])
def test_batches_out_of_time_order_are_refused(
        server: DevServer, client: httpx.Client, times: list[str], key: str) -> None:
    response = client.post("/api/v1/event/batch", json=[{**EVENT, "time": t} for t in times])
    assert response.status_code == 400
    validation = error_of(response).validation
    assert list(validation) == [key]
    assert "time order" in validation[key]
    assert server.received == []


# -- validation: one valid item, one mutation, one expected key ------------------------------

INVALID = [
    ("hit", "url", MISSING), ("hit", "url", None), ("hit", "url", 42), ("hit", "url", ""),
    ("hit", "url", "/relative/path"), ("hit", "url", "example.com/x"),
    ("hit", "url", "ftp://example.com/"), ("hit", "url", "https:///no-host"),
    ("hit", "url", "https://example.com/a b"), ("hit", "url", "https://example.com/\n"),
    ("hit", "url", "https://example.com:port/"),
    ("hit", "ip", MISSING), ("hit", "ip", ""), ("hit", "ip", "203.0.113.7:8080"),
    ("hit", "ip", "[2001:db8::1]"), ("hit", "ip", "999.1.1.1"), ("hit", "ip", "example.com"),
    ("hit", "ip", 3405803783),
    ("hit", "user_agent", MISSING), ("hit", "user_agent", ""), ("hit", "user_agent", None),
    ("hit", "title", 5), ("hit", "dnt", 1), ("hit", "referrer", None),
    ("hit", "accept_language", ["de"]), ("hit", "sec_ch_width", 1920),
    ("hit", "screen_width", -1), ("hit", "screen_width", 1920.0),
    ("hit", "screen_height", "1080"), ("hit", "screen_height", True),
    ("hit", "tags", {"plan": 1}), ("hit", "tags", ["plan"]), ("hit", "tags", None),
    ("hit", "disable_bot_filter", 1), ("hit", "disable_bot_filter", "true"),
    ("hit", "time", MISSING), ("hit", "time", "2024-05-06 07:08:09"),
    ("hit", "time", "2024-05-06T07:08:09"), ("hit", "time", "2024-13-06T07:08:09Z"),
    ("hit", "time", "06.05.2024"), ("hit", "time", 1714979289),
    ("hit", "user_agnet", UA), ("hit", "event_name", "signup"), ("hit", "_comment", "x"),
    ("event", "event_name", MISSING), ("event", "event_name", ""), ("event", "event_name", 7),
    ("event", "event_duration", -5), ("event", "event_duration", 1.5),
    ("event", "event_duration", "42"), ("event", "event_duration", False),
    ("event", "event_meta", {"a": None}), ("event", "event_meta", {"a": {"b": "c"}}),
    ("event", "event_meta", {"a": [1]}), ("event", "event_meta", "k=v"),
    ("event", "non_interactive", 0), ("event", "url", MISSING), ("event", "ip", "localhost"),
    ("event", "eventname", "typo"),
    ("session", "ip", MISSING), ("session", "user_agent", MISSING),
    ("session", "url", "https://example.com/"), ("session", "title", "x"),
    ("session", "sec_ch_ua", 3), ("session", "time", "yesterday"),
]


@pytest.mark.parametrize(("kind", "name", "value"), INVALID)
def test_an_invalid_field_fails_the_batch_naming_index_and_field(
        server: DevServer, client: httpx.Client, kind: str, name: str, value: object) -> None:
    item = dict(BASE[kind])
    if value is MISSING:
        del item[name]
    else:
        item[name] = value
    response = client.post(f"/api/v1/{kind}/batch", json=[item])
    assert response.status_code == 400
    assert list(error_of(response).validation) == [f"0.{name}"]
    assert server.received == []


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("hit", "user_agnet", "unknown field"), ("hit", "event_name", "unknown field"),
    ("session", "url", "unknown field"), ("event", "screenwidth", "unknown field"),
    ("hit", "url", "required"), ("event", "event_name", "required"),
    ("session", "user_agent", "required"), ("hit", "time", "required in batch items"),
])
def test_unknown_and_missing_fields_say_so(
        client: httpx.Client, kind: str, name: str, message: str) -> None:
    item = dict(BASE[kind])
    if name in item:
        del item[name]
    else:
        item[name] = "x"
    response = client.post(f"/api/v1/{kind}/batch", json=[item])
    assert error_of(response).validation == {f"0.{name}": message}


def test_validation_keys_name_each_bad_item_and_field(
        server: DevServer, client: httpx.Client) -> None:
    items = [HIT, "not an object", HIT, {**HIT, "url": "nope", "title": 3}]
    response = client.post("/api/v1/hit/batch", json=items)
    assert response.status_code == 400
    assert set(error_of(response).validation) == {"1", "3.url", "3.title"}
    assert response.json()["error"] == []
    assert server.received == []


def test_a_single_item_is_validated_like_a_batch_of_one(client: httpx.Client) -> None:
    response = client.post("/api/v1/event", json={**EVENT, "event_meta": {"a": None}})
    assert response.status_code == 400
    assert list(error_of(response).validation) == ["0.event_meta"]


def test_reject_item_fails_the_whole_batch_naming_the_index(
        server: DevServer, client: httpx.Client) -> None:
    server.reject_item(lambda kind, item: kind == "hit" and item.get("title") == "bad")
    response = client.post("/api/v1/hit/batch", json=[HIT, {**HIT, "title": "bad"}])
    assert response.status_code == 400
    assert list(error_of(response).validation) == ["1"]
    assert server.received == []
    assert client.post("/api/v1/event", json={**EVENT, "title": "bad"}).status_code == 200
    server.reject_item(None)
    assert client.post("/api/v1/hit/batch", json=[{**HIT, "title": "bad"}]).status_code == 200
    assert len(server.received) == 2


def test_a_reject_item_predicate_that_raises_is_answered_500(
        server: DevServer, client: httpx.Client) -> None:
    server.reject_item(lambda kind, item: 1 / 0 > 0)
    response = client.post("/api/v1/hit", json=HIT)
    assert response.status_code == 500
    assert "ZeroDivisionError" in error_of(response).errors[0]


# -- transport rules -------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(("path", "content", "headers", "status"), [
    ("/api/v1/hit", b"{", JSON, 400),
    ("/api/v1/hit", b"", JSON, 400),
    ("/api/v1/hit", b"\xff\xfe{}", JSON, 400),
    ("/api/v1/hit", json.dumps(HIT).replace('"ip"', '"url": "x", "ip"').encode(), JSON, 400),
    ("/api/v1/event", json.dumps(EVENT)[:-1].encode() + b', "event_meta": {"n": NaN}}', JSON,
     400),
    ("/api/v1/hit", json.dumps([HIT]).encode(), JSON, 400),
    ("/api/v1/hit/batch", json.dumps(HIT).encode(), JSON, 400),
    ("/api/v1/hit/batch", b"[]", JSON, 400),
    ("/api/v1/hit", json.dumps(HIT).encode(), {}, 415),
    ("/api/v1/hit", json.dumps(HIT).encode(), {"Content-Type": "text/plain"}, 415),
    ("/api/v1/hit", json.dumps(HIT).encode(),
     {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("/api/v1/hit", json.dumps(HIT).encode(),
     {"Content-Type": "application/json; charset=latin-1"}, 415),
    ("/api/v1/hit", json.dumps(HIT).encode(), {**JSON, "Content-Encoding": "gzip"}, 415),
    ("/api/v1/hit", json.dumps(HIT).encode(),
     {"Content-Type": "application/json; charset=utf-8"}, 200),
    ("/api/v1/hit", json.dumps(HIT).encode(), {"Content-Type": "Application/JSON"}, 200),
])
def test_bodies_must_be_json_of_the_right_shape(
        server: DevServer, client: httpx.Client, path: str, content: bytes,
        headers: dict[str, str], status: int) -> None:
    response = client.post(path, content=content, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert error_of(response).errors
        assert server.received == []


def test_a_body_over_max_body_is_answered_413_and_the_connection_survives() -> None:
    with DevServer(max_body=400) as server, httpx.Client(
            base_url=server.base_url, headers=bearer(server.access_key)) as c:
        response = c.post("/api/v1/hit/batch", json=[HIT] * 5)
        assert response.status_code == 413
        assert error_of(response).errors
        assert c.post("/api/v1/hit", json=HIT).status_code == 200
        assert [r.status for r in server.requests] == [413, 200]


def test_a_malformed_content_length_is_answered_400(server: DevServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"POST /api/v1/hit HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")


def test_a_batch_longer_than_max_batch_is_answered_413() -> None:
    with DevServer(max_batch=2) as server, httpx.Client(
            base_url=server.base_url, headers=bearer(server.access_key)) as c:
        assert c.post("/api/v1/hit/batch", json=[HIT] * 3).status_code == 413
        assert c.post("/api/v1/hit/batch", json=[HIT] * 2).status_code == 200
        assert len(server.hits) == 2


def test_a_chunked_body_is_answered_411(client: httpx.Client) -> None:
    response = client.post("/api/v1/hit", content=iter([json.dumps(HIT).encode()]),
                           headers=JSON)
    assert response.status_code == 411


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/api/v1/nope", 404), ("POST", "/api/v1/hit/", 404), ("POST", "/hit", 404),
    ("GET", "/index.html", 404), ("POST", "/api/v2/hit", 404), ("POST", "/", 405),
    ("GET", "/api/v1/hit", 405), ("PUT", "/api/v1/event/batch", 405),
    ("DELETE", "/api/v1/token", 405), ("POST", "/devserver/received", 405),
])
def test_unknown_paths_are_404_and_other_methods_405(
        server: DevServer, client: httpx.Client, method: str, path: str, status: int) -> None:
    response = client.request(method, path, json=HIT)
    assert response.status_code == status
    assert error_of(response).errors
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET")
    assert client.post("/api/v1/hit", json=HIT).status_code == 200  # the body did not linger


def test_head_is_answered_without_a_body_and_the_connection_stays_usable(
        client: httpx.Client) -> None:
    response = client.head("/api/v1/hit")
    assert response.status_code == 405
    assert response.content == b""
    assert client.post("/api/v1/hit", json=HIT).status_code == 200


def test_connections_are_kept_alive_across_answers(client: httpx.Client) -> None:
    responses = [client.post("/api/v1/hit", json=HIT), client.post("/api/v1/nope"),
                 client.post("/api/v1/hit", json={}), client.post("/api/v1/hit", json=HIT)]
    peers = {r.extensions["network_stream"].get_extra_info("client_addr") for r in responses}
    assert len(peers) == 1


def test_answers_with_a_body_are_not_held_back_on_a_kept_alive_connection(
        client: httpx.Client) -> None:
    """Headers and body are two writes: under Nagle's algorithm the body waited for the
    client's delayed ACK, about 40 ms per answer (20 answers: 0.8 s)."""
    client.post("/api/v1/hit", json={})  # connected
    start = time.monotonic()
    for _ in range(20):
        assert client.post("/api/v1/hit", json={}).status_code == 400
    assert time.monotonic() - start < 0.4


def test_the_server_writes_nothing_to_stderr(
        server: DevServer, client: httpx.Client, capfd: pytest.CaptureFixture[str]) -> None:
    client.post("/api/v1/hit", json=HIT)
    client.post("/api/v1/nope")
    client.post("/api/v1/hit", json={})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        raw.recv(1000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"POST /api/v1/hit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    server.stop()
    assert capfd.readouterr().err == ""


# -- recorded state and waiting --------------------------------------------------------------

def test_requests_are_recorded_with_lower_cased_headers_and_their_outcome(
        server: DevServer, client: httpx.Client) -> None:
    client.post("/api/v1/hit/batch", json=[HIT, HIT], headers={"X-Custom": "1"})
    client.post("/api/v1/hit", json={**HIT, "ip": "nope"})
    ok, bad = server.requests
    assert (ok.method, ok.path, ok.status, ok.item_count, ok.body_error) == (
        "POST", "/api/v1/hit/batch", 200, 2, None)
    assert ok.headers["authorization"] == f"Bearer {server.access_key}"
    assert ok.headers["x-custom"] == "1"
    assert json.loads(ok.body) == [HIT, HIT]
    assert (bad.status, bad.item_count) == (400, 1)
    assert bad.body_error is not None
    assert list(bad.body_error["validation"]) == ["0.ip"]
    assert [e.request_index for e in server.received] == [0, 0]


def test_clear_forgets_requests_and_items_but_not_tokens(
        server: DevServer, client: httpx.Client) -> None:
    token = fetch_token(server)
    client.post("/api/v1/hit", json=HIT)
    server.clear()
    assert (server.received, server.requests, server.token_requests) == ([], [], 0)
    assert client.post("/api/v1/session", json=SESSION, headers=bearer(token)).status_code == 200
    assert server.received == [Received("session", SESSION, 0)]


@pytest.mark.parametrize("path", ["/devserver/received", "/api/v1/devserver/received"])
def test_the_received_view_lists_accepted_items_without_auth(
        server: DevServer, client: httpx.Client, path: str) -> None:
    client.post("/api/v1/hit", json=HIT)
    client.post("/api/v1/event/batch", json=[EVENT, EVENT])
    client.post("/api/v1/session", json=SESSION)
    client.post("/api/v1/hit", json={**HIT, "url": "bad"})
    view = httpx.get(server.base_url + path).json()
    assert view == {
        "hits": [HIT], "events": [EVENT, EVENT], "sessions": [SESSION],
        "received": [{"kind": "hit", "item": HIT}, {"kind": "event", "item": EVENT},
                     {"kind": "event", "item": EVENT}, {"kind": "session", "item": SESSION}],
        "requests": 4,
    }
    assert len(server.requests) == 4  # looking does not count as a request


def test_wait_for_items_returns_when_items_arrive_from_another_thread(server: DevServer) -> None:
    def send() -> None:
        with httpx.Client(base_url=server.base_url, headers=bearer(server.access_key)) as c:
            for _ in range(3):
                c.post("/api/v1/hit", json=HIT)

    thread = threading.Thread(target=send)
    thread.start()
    assert server.wait_for_items(3, timeout=10)
    assert server.wait_for(lambda s: len(s.requests) == 3, timeout=10)
    thread.join(10)


def test_wait_for_gives_up_after_the_timeout(server: DevServer) -> None:
    start = time.monotonic()
    assert not server.wait_for(lambda s: len(s.events) > 0, timeout=0.1)
    assert not server.wait_for_items(1, timeout=0.05)
    assert time.monotonic() - start >= 0.15


# -- failures on purpose ---------------------------------------------------------------------

@pytest.mark.parametrize(("retry_after", "header"), [
    (None, None), (2, "2"), (120.0, "120"), (0.25, "0.25"),
    ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
])
def test_fail_next_answers_count_requests_with_status_and_retry_after(
        server: DevServer, client: httpx.Client, retry_after: float | str | None,
        header: str | None) -> None:
    server.fail_next(2, 503, retry_after=retry_after)
    responses = [client.post("/api/v1/hit/batch", json=[HIT, HIT]) for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].headers.get("retry-after") == header
    assert "503" in error_of(responses[0]).errors[0]
    assert [r.item_count for r in server.requests] == [2, 2, 2]
    assert [e.request_index for e in server.received] == [2, 2]


@pytest.mark.parametrize("prefix", ["/event", "/api/v1/event", "/api/v1/event/batch"])
def test_fail_next_with_a_path_prefix_fails_only_matching_requests(
        server: DevServer, client: httpx.Client, prefix: str) -> None:
    server.fail_next(1, 429, path_prefix=prefix)
    assert client.post("/api/v1/hit", json=HIT).status_code == 200
    assert client.post("/api/v1/event/batch", json=[EVENT]).status_code == 429
    assert client.post("/api/v1/event/batch", json=[EVENT]).status_code == 200
    assert (len(server.hits), len(server.events)) == (1, 1)


def test_fail_next_comes_before_auth_and_validation(server: DevServer) -> None:
    server.fail_next(1, 500)
    response = httpx.post(f"{server.base_url}/api/v1/hit", content=b"junk")
    assert response.status_code == 500


def test_fail_next_spares_token_requests_unless_a_prefix_selects_them(
        server: DevServer, client: httpx.Client) -> None:
    server.fail_next(1, 500)
    fetch_token(server)
    assert client.post("/api/v1/hit", json=HIT).status_code == 500
    server.fail_next(1, 502, path_prefix="/token")
    response = client.post("/api/v1/token", json={"client_id": server.client_id,
                                                  "client_secret": server.client_secret})
    assert response.status_code == 502


def test_fail_next_can_send_any_body_and_a_200_that_drops_items(
        server: DevServer, client: httpx.Client) -> None:
    server.fail_next(1, 502, body=b"<html>Bad Gateway</html>")
    server.fail_next(1, 200)
    response = client.post("/api/v1/hit", json=HIT)
    assert (response.status_code, response.content) == (502, b"<html>Bad Gateway</html>")
    assert response.headers["content-type"].startswith("text/plain")
    assert client.post("/api/v1/hit", json=HIT).status_code == 200
    assert server.received == []


@pytest.mark.parametrize(("count", "status"), [(0, 503), (1, 99), (1, 600), (1, 101)])
def test_fail_next_rejects_impossible_failures(server: DevServer, count: int, status: int) -> None:
    with pytest.raises(ValueError, match="fail_next"):
        server.fail_next(count, status)


def test_delay_slows_each_write_answer(server: DevServer, client: httpx.Client) -> None:
    server.delay = 0.2
    start = time.monotonic()
    assert client.post("/api/v1/hit", json=HIT).status_code == 200
    assert time.monotonic() - start >= 0.2


def test_a_request_the_client_gave_up_on_is_still_recorded(server: DevServer) -> None:
    server.delay = 0.3
    with httpx.Client(timeout=httpx.Timeout(5.0, read=0.05)) as impatient, \
            pytest.raises(httpx.ReadTimeout):
        impatient.post(f"{server.base_url}/api/v1/hit", json=HIT,
                       headers=bearer(server.access_key))
    assert server.wait_for_items(1)


def test_refuse_closes_the_port_and_resume_listens_on_the_same_one(
        server: DevServer, client: httpx.Client) -> None:
    assert client.post("/api/v1/hit", json=HIT).status_code == 200  # a kept-alive connection
    port = server.port
    server.refuse()
    with pytest.raises(httpx.ConnectError):
        client.post("/api/v1/hit", json=HIT)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    server.resume()
    assert server.port == port
    assert server.base_url == f"http://127.0.0.1:{port}"
    assert client.post("/api/v1/hit", json=HIT).status_code == 200
    assert len(server.hits) == 2


def test_resume_needs_a_server_that_was_started() -> None:
    with pytest.raises(RuntimeError):
        DevServer().resume()


def test_stop_closes_the_socket_and_is_idempotent() -> None:
    with DevServer() as server:
        port = server.port
        assert port != 0
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_ipv6_loopback_is_served_with_a_bracketed_base_url() -> None:
    try:
        server = DevServer(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        assert server.base_url == f"http://[::1]:{server.port}"
        response = httpx.post(f"{server.base_url}/api/v1/hit", json=HIT,
                              headers=bearer(server.access_key))
        assert response.status_code == 200


@pytest.mark.parametrize("options", [
    {"port": -1}, {"port": 65536}, {"host": ""}, {"token_ttl": 0}, {"max_batch": 0},
    {"max_body": 0}, {"access_key": "key"}, {"access_key": "pa_"}, {"client_id": ""},
    {"client_secret": ""},
])
def test_bad_options_are_refused_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (each option has its own message)
        DevServer(**options)


# -- command line ----------------------------------------------------------------------------

def test_cli_prints_its_address_then_one_line_per_accepted_item() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pirsch_middleware.devserver", "--port", "0",
         "--access-key", "pa_cli_key"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=30)
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        banner = first
        while not banner.endswith("Ctrl-C to stop.\n"):
            banner += lines.get(timeout=5)
        assert f"live page:     {match.group(0)}/\n" in banner
        assert f"PIRSCH_BASE_URL={match.group(0)} PIRSCH_CLIENT_ID=" in banner
        assert "pirsch stats pages" in banner
        assert "pa_cli_key" in banner
        item = {**HIT, "user_agent": "X" * 80}
        response = httpx.post(match.group(0) + "/api/v1/hit", json=item,
                              headers=bearer("pa_cli_key"))
        assert response.status_code == 200
        printed = lines.get(timeout=10)
        assert printed.split()[0] == "hit"
        for part in (TIME, HIT["url"], HIT["ip"], "X" * 47 + "..."):
            assert part in printed
        assert "X" * 48 not in printed
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
        assert proc.stderr is not None
        errors = proc.stderr.read()
        proc.stderr.close()
    if os.name == "posix":
        assert code == 0, errors
    assert errors == ""


@pytest.mark.parametrize(("argv", "message"), [
    (["--host", "0.0.0.0"], "--allow-remote"),
    (["--host", "192.0.2.1"], "--allow-remote"),
    (["--client-id", "abc"], "go together"),
])
def test_cli_refuses_remote_hosts_and_half_credentials(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--access-key", "not-a-key"], ["--port", "<busy>"]])
def test_cli_reports_a_server_that_cannot_start(
        server: DevServer, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(server.port) if arg == "<busy>" else arg for arg in argv]
    assert main(argv) == 1
    assert "devserver:" in capsys.readouterr().err
