"""The shared auth flow and error parsing, driven by sync and async httpx clients, and
``PirschAuth.token()`` (what the tracker's own connection asks) against loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from pirsch_middleware import APIError
from pirsch_middleware._auth import Credentials, PirschAuth, parse_rfc3339
from pirsch_middleware._errors import parse_error_body

from .wire_server import ScriptedServer

BASE = "https://pirsch.test"
OAUTH = Credentials(client_id="i" * 32, client_secret="s" * 64)


class FakeAPI:
    """Issues tokens expiring at ``expires``; answers 401 to tokens it has revoked."""

    def __init__(self, expires: str = "2030-01-01T00:00:00.123456789Z") -> None:
        self.expires = expires
        self.issued = 0
        self.revoked: set[str] = set()
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/token":
            body = json.loads(request.content)
            if body != {"client_id": "i" * 32, "client_secret": "s" * 64}:
                return httpx.Response(401, json={"error": ["bad client"]})
            self.issued += 1
            return httpx.Response(200, json={"access_token": f"t{self.issued}",
                                             "expires_at": self.expires})
        token = request.headers["authorization"].removeprefix("Bearer ")
        self.seen.append(token)
        if token in self.revoked:
            return httpx.Response(401, json={"error": ["token expired"]})
        return httpx.Response(200)


def test_access_key_is_sent_as_is() -> None:
    api = FakeAPI()
    auth = PirschAuth(Credentials(access_key="pa_k"), BASE)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(api)) as client:
        client.get(BASE + "/api/v1/x")
    assert api.seen == ["pa_k"]
    assert api.issued == 0


def test_token_fetched_once_then_reused() -> None:
    api = FakeAPI()
    with httpx.Client(auth=PirschAuth(OAUTH, BASE), transport=httpx.MockTransport(api)) as c:
        c.get(BASE + "/a")
        c.get(BASE + "/b")
    assert api.seen == ["t1", "t1"]
    assert api.issued == 1


def test_token_refreshed_before_it_expires() -> None:
    now = [datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp() - 3600]
    api = FakeAPI()
    auth = PirschAuth(OAUTH, BASE, clock=lambda: now[0])
    with httpx.Client(auth=auth, transport=httpx.MockTransport(api)) as client:
        client.get(BASE + "/a")
        now[0] += 3600 - 30  # within the refresh margin
        client.get(BASE + "/b")
    assert api.seen == ["t1", "t2"]


def test_401_renews_the_token_once_and_resends() -> None:
    api = FakeAPI()

    async def run() -> int:
        async with httpx.AsyncClient(auth=PirschAuth(OAUTH, BASE),
                                     transport=httpx.MockTransport(api)) as client:
            await client.get(BASE + "/a")
            api.revoked.add("t1")
            return (await client.get(BASE + "/b")).status_code

    assert asyncio.run(run()) == 200
    assert api.seen == ["t1", "t1", "t2"]


def test_bad_credentials_raise_api_error_without_the_secret() -> None:
    bad = Credentials(client_id="i" * 32, client_secret="x" * 64)
    with httpx.Client(auth=PirschAuth(bad, BASE), transport=httpx.MockTransport(FakeAPI())) \
            as client, pytest.raises(APIError) as caught:
        client.get(BASE + "/a")
    assert caught.value.status_code == 401
    assert caught.value.errors == ["bad client"]
    assert "check client_id and client_secret" in str(caught.value)
    assert "x" * 64 not in str(caught.value)
    assert "x" * 64 not in repr(bad)


@pytest.mark.parametrize(("body", "validation", "errors"), [
    (b'{"validation": {"url": "required"}, "error": ["invalid"]}', {"url": "required"},
     ["invalid"]),
    (b'{"error": "one"}', {}, ["one"]),
    (b"", {}, []),
    (b"<html>Bad gateway</html>", {}, ["<html>Bad gateway</html>"]),
    (b"[1, 2]", {}, ["[1, 2]"]),
])
def test_error_body_parsing(body: bytes, validation: dict[str, str], errors: list[str]) -> None:
    assert parse_error_body(body) == (validation, errors)
    error = APIError.from_response(400, body)
    assert (error.status_code, error.validation, error.errors) == (400, validation, errors)


@pytest.mark.parametrize(("text", "expected"), [
    ("2020-12-12T00:11:39.903607271Z", datetime(2020, 12, 12, 0, 11, 39, 903607,
                                                tzinfo=timezone.utc)),
    ("2020-12-12T00:11:39Z", datetime(2020, 12, 12, 0, 11, 39, tzinfo=timezone.utc)),
    ("2020-12-12T02:11:39+02:00", datetime(2020, 12, 12, 0, 11, 39, tzinfo=timezone.utc)),
])
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


def test_token_request_gets_the_clients_timeout() -> None:
    """httpx only gives the requests it builds a timeout; an unbounded token request
    would hang the flusher thread on an unresponsive API."""
    seen: dict[str, object] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.extensions.get("timeout")
        return FakeAPI()(request)

    with httpx.Client(auth=PirschAuth(OAUTH, BASE), timeout=1.5,
                      transport=httpx.MockTransport(answer)) as client:
        client.post(BASE + "/api/v1/hit/batch", content=b"[]")
    assert seen["/api/v1/token"] == httpx.Timeout(1.5).as_dict()


@pytest.fixture
def api() -> Iterator[tuple[FakeAPI, str]]:
    """FakeAPI on loopback: ``PirschAuth.token()`` sends with a client of its own."""
    fake = FakeAPI()
    server = ScriptedServer(fake).start()
    yield fake, server.base_url
    server.stop()


def test_token_is_fetched_once_then_reused(api: tuple[FakeAPI, str]) -> None:
    fake, base_url = api
    auth = PirschAuth(OAUTH, base_url)
    assert [auth.token(timeout=5), auth.token(timeout=5)] == ["t1", "t1"]
    assert (fake.issued, auth.token_requests) == (1, 1)


def test_token_is_renewed_after_invalidate_and_before_it_expires(
        api: tuple[FakeAPI, str]) -> None:
    _, base_url = api
    now = [datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp() - 3600]
    auth = PirschAuth(OAUTH, base_url, clock=lambda: now[0])
    assert auth.token(timeout=5) == "t1"
    auth.invalidate()  # after a 401
    assert auth.token(timeout=5) == "t2"
    now[0] += 3600 - 30  # within the refresh margin
    assert auth.token(timeout=5) == "t3"


def test_token_refused_raises_api_error(api: tuple[FakeAPI, str]) -> None:
    _, base_url = api
    bad = Credentials(client_id="i" * 32, client_secret="x" * 64)
    with pytest.raises(APIError) as caught:
        PirschAuth(bad, base_url).token(timeout=5)
    assert caught.value.status_code == 401
    assert "check client_id and client_secret" in str(caught.value)


@pytest.mark.parametrize("token", ["", "a b", "a\r\nX-Injected: 1", "tökén"])
def test_token_that_cannot_be_a_header_is_refused(token: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": token,
                                         "expires_at": "2030-01-01T00:00:00Z"})

    server = ScriptedServer(answer).start()
    try:
        with pytest.raises(APIError, match="token response is not"):
            PirschAuth(OAUTH, server.base_url).token(timeout=5)
    finally:
        server.stop()


def test_token_request_is_bounded_by_the_timeout() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        server.released.wait(10)
        return httpx.Response(503)

    server = ScriptedServer(answer).start()
    started = time.monotonic()
    try:
        with pytest.raises(httpx.ReadTimeout):
            PirschAuth(OAUTH, server.base_url).token(timeout=0.3)
        assert time.monotonic() - started < 3
    finally:
        server.stop()


def test_access_key_is_its_own_token() -> None:
    auth = PirschAuth(Credentials(access_key="pa_k"), "http://127.0.0.1:9")  # never asked
    assert auth.token(timeout=1) == "pa_k"
    assert auth.token_requests == 0


def test_an_access_key_that_cannot_be_a_header_fails_at_construction() -> None:
    """It goes into the Authorization header as it is; a non-ASCII one used to fail only
    in the flusher, with each batch."""
    with pytest.raises(ValueError, match="access_key must be ASCII"):
        Credentials.resolve(access_key="pa_schlüssel")
