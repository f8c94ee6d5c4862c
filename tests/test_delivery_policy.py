"""The delivery policy on its own: what ``Delivery.send`` does with each kind of answer.

One table, no flusher thread, run twice: through httpx with ``httpx.MockTransport``
answering as the API would (the path of custom transports and proxies), and through the
standard library's connection over loopback HTTP, a scripted server answering the same
(the default path), under a base URL with a path prefix.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from pirsch_middleware._config import TrackerOptions
from pirsch_middleware._delivery import USER_AGENT, Delivery, Outcome
from pirsch_middleware._items import EVENT, HIT

from .integration.harness import free_port
from .wire_server import ScriptedServer

Answer = Callable[[httpx.Request, list[Any]], httpx.Response]
KEY = {"access_key": "pa_test"}
OAUTH = {"client_id": "c" * 32, "client_secret": "s" * 64}


def ok(request: httpx.Request, items: list[Any]) -> httpx.Response:
    return httpx.Response(200)


def status(code: int, **headers: str) -> Answer:
    return lambda request, items: httpx.Response(code, headers=headers,
                                                 json={"error": [f"answered {code}"]})


def reject_bad(code: int) -> Answer:
    """The API refuses any batch holding an item whose "n" is "bad"."""
    def answer(request: httpx.Request, items: list[Any]) -> httpx.Response:
        if any(item["n"] == "bad" for item in items):
            return httpx.Response(code, json={"validation": {"n": "is bad"}})
        return httpx.Response(200)
    return answer


def at_most(limit: int) -> Answer:
    def answer(request: httpx.Request, items: list[Any]) -> httpx.Response:
        return httpx.Response(413 if len(items) > limit else 200)
    return answer


def fails_from(n: str, code: int) -> Answer:
    """Answers ``code`` to a batch holding the item ``n`` (stateless: the table runs twice)."""
    def answer(request: httpx.Request, items: list[Any]) -> httpx.Response:
        return httpx.Response(code if any(item["n"] == n for item in items) else 200)
    return answer


def unreachable(request: httpx.Request, items: list[Any]) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def token_answer(code: int) -> Answer:
    """For oAuth: the token endpoint answers ``code``; writes would be accepted."""
    def answer(request: httpx.Request, items: list[Any]) -> httpx.Response:
        if request.url.path.endswith("/token"):
            if code == 200:
                return httpx.Response(200, json={"access_token": "t",
                                                 "expires_at": "2999-01-01T00:00:00Z"})
            return httpx.Response(code, json={"error": ["invalid client ID or secret"]})
        return httpx.Response(200)
    return answer


def retry_in_a_minute(request: httpx.Request, items: list[Any]) -> httpx.Response:
    """503 with Retry-After as an HTTP date a minute from now."""
    when = datetime.now(timezone.utc) + timedelta(seconds=60)
    return httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)})


@dataclass
class Row:
    id: str
    answer: Answer
    outcome: Outcome  # problem: a substring; retry_in: a lower bound
    items: list[str] = field(default_factory=lambda: [str(n) for n in range(5)])
    batches: list[int] | None = None  # items per request, token requests left out
    options: dict[str, Any] = field(default_factory=lambda: dict(KEY))
    retry_at_most: float | None = None


ROWS = [
    Row("accepted", ok, Outcome(sent=5), batches=[5]),
    Row("cut to batch_size", ok, Outcome(sent=5), batches=[2, 2, 1],
        options={**KEY, "batch_size": 2}),
    Row("400 isolates the invalid item", reject_bad(400), Outcome(sent=4, failed=1),
        items=["0", "1", "bad", "3", "4"], batches=[5, 2, 3, 1, 2]),
    Row("422 too", reject_bad(422), Outcome(sent=3, failed=2),
        items=["bad", "1", "2", "3", "bad"], batches=[5, 2, 1, 1, 3, 1, 2, 1, 1]),
    Row("a lone invalid item", reject_bad(400), Outcome(failed=1), items=["bad"],
        batches=[1]),
    Row("413 halves the batches", at_most(2), Outcome(sent=5), batches=[5, 2, 2, 1]),
    Row("503: retry soon", status(503), Outcome(retry_in=0.25, problem="503"),
        batches=[5], retry_at_most=0.5),
    Row("500 after the first batch: what went is settled", fails_from("2", 500),
        Outcome(sent=2, retry_in=0.25, problem="500"), batches=[2, 2],
        options={**KEY, "batch_size": 2}, retry_at_most=0.5),
    Row("429 with Retry-After seconds", status(429, **{"Retry-After": "7"}),
        Outcome(retry_in=7, problem="429"), retry_at_most=7),
    Row("Retry-After as an HTTP date", retry_in_a_minute,
        Outcome(retry_in=55, problem="503"), retry_at_most=61),
    Row("Retry-After capped at ten minutes", status(429, **{"Retry-After": "86400"}),
        Outcome(retry_in=600, problem="429"), retry_at_most=600),
    Row("network error", unreachable, Outcome(retry_in=0.25, problem="ConnectError"),
        retry_at_most=0.5),
    Row("unknown answer: retry", status(418), Outcome(retry_in=0.25, problem="418"),
        retry_at_most=0.5),
    Row("401 for an access key is permanent", status(401),
        Outcome(retry_in=30, problem="PIRSCH_ACCESS_KEY", permanent=True), retry_at_most=30),
    Row("403 too", status(403),
        Outcome(retry_in=30, problem="PIRSCH_ACCESS_KEY", permanent=True), retry_at_most=30),
    Row("401 for an oAuth token", status(401),
        Outcome(retry_in=30, problem="PIRSCH_CLIENT_SECRET", permanent=True),
        options=OAUTH, retry_at_most=30),
    Row("404: the base URL is wrong", status(404),
        Outcome(retry_in=30, problem="PIRSCH_BASE_URL", permanent=True), retry_at_most=30),
    Row("token request refused", token_answer(401),
        Outcome(retry_in=30, problem="PIRSCH_CLIENT_ID", permanent=True), options=OAUTH,
        retry_at_most=30),
    Row("token endpoint down: retry", token_answer(503),
        Outcome(retry_in=0.25, problem="503"), options=OAUTH, retry_at_most=0.5),
    Row("token issued, then accepted", token_answer(200), Outcome(sent=5), options=OAUTH,
        batches=[5]),
]


PREFIX = "/pirsch"  # the http.client run's base URL has a path prefix
Make = Callable[[dict[str, Any], Answer, list[int]], tuple[Delivery, list[httpx.Request]]]
PROXY_VARIABLES = [f"{scheme}_{case}" for scheme in ("http", "https", "all", "no")
                   for case in ("proxy", "PROXY")]


@pytest.fixture(params=["httpx", "http.client"])
def make(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """Builds a Delivery whose requests ``answer`` answers, recorded with the number of
    items of each batch; ``delivery.sender`` is the sender under test."""
    for name in PROXY_VARIABLES:  # a proxy in the environment would choose httpx
        monkeypatch.delenv(name, raising=False)
    sender: str = request.param
    made: list[Delivery] = []
    servers: list[ScriptedServer] = []

    def build(row_options: dict[str, Any], answer: Answer,
              batches: list[int]) -> tuple[Delivery, list[httpx.Request]]:
        requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            items = json.loads(request.content) if request.content else []
            if not request.url.path.endswith("/token"):
                batches.append(len(items))
            return answer(request, items)

        transport = None
        if sender == "httpx":
            base_url = "https://api.test"
            transport = httpx.MockTransport(handler)
        elif answer is unreachable:
            base_url = f"http://127.0.0.1:{free_port()}{PREFIX}"  # nothing listens there
        else:
            servers.append(ScriptedServer(handler).start())
            base_url = servers[-1].base_url + PREFIX
        options = TrackerOptions.build({"base_url": base_url, **row_options}, {})
        delivery = Delivery(options, transport=transport, retry_base=0.5, retry_cap=30.0,
                            rng=random.Random(7))
        made.append(delivery)
        return delivery, requests

    yield build
    for delivery in made:
        assert delivery.sender == sender
        delivery.close()
    for server in servers:
        server.stop()


def batch_path(delivery: Delivery, kind: str) -> str:
    prefix = PREFIX if delivery.sender == "http.client" else ""
    return f"{prefix}/api/v1/{kind}/batch"


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_send(row: Row, make: Make) -> None:
    batches: list[int] = []
    delivery, requests = make(row.options, row.answer, batches)
    items = [json.dumps({"n": n}).encode() for n in row.items]
    outcome = delivery.send(HIT, items)
    assert (outcome.sent, outcome.failed, outcome.permanent) == (
        row.outcome.sent, row.outcome.failed, row.outcome.permanent)
    assert row.outcome.problem in outcome.problem
    if row.retry_at_most is None:
        assert outcome.retry_in == 0
    else:
        assert row.outcome.retry_in <= outcome.retry_in <= row.retry_at_most
    if row.batches is not None:
        assert batches == row.batches
    writes = [r for r in requests if not r.url.path.endswith("/token")]
    assert {r.url.path for r in writes} <= {batch_path(delivery, "hit")}


@pytest.mark.parametrize(("answer", "problem"), [
    (status(401), "Pirsch API answered 401: answered 401. Check PIRSCH_ACCESS_KEY "
                  "(access_key)"),
    (status(404), "Pirsch API answered 404: answered 404 for /api/v1/hit/batch. Check "
                  "PIRSCH_BASE_URL (base_url, now "),
    (status(429, **{"Retry-After": "7"}), "Pirsch API answered 429: answered 429"),
    (lambda request, items: httpx.Response(502, text="<html>Bad gateway</html>"),
     "Pirsch API answered 502: <html>Bad gateway</html>"),
])
def test_problems_read_the_same_on_either_sender(answer: Answer, problem: str,
                                                 make: Make) -> None:
    delivery, _ = make(KEY, answer, [])
    assert delivery.send(HIT, [b'{"n":"bad"}']).problem.startswith(problem)


def test_each_kind_goes_to_its_endpoint(make: Make) -> None:
    delivery, requests = make(KEY, ok, [])
    delivery.send(EVENT, [b'{"n":1}'])
    assert [r.url.path for r in requests] == [batch_path(delivery, "event")]
    headers = requests[0].headers
    assert (headers["authorization"], headers["user-agent"], headers["content-type"]) == (
        "Bearer pa_test", USER_AGENT, "application/json")
    assert requests[0].content == b'[{"n":1}]'


def test_oauth_token_is_fetched_once_and_sent(make: Make) -> None:
    delivery, requests = make(OAUTH, token_answer(200), [])
    delivery.send(HIT, [b"{}"])
    delivery.send(EVENT, [b"{}"])
    assert [r.url.path.rsplit("/", 2)[-2:] for r in requests] == [
        ["v1", "token"], ["hit", "batch"], ["event", "batch"]]
    assert json.loads(requests[0].content) == {"client_id": "c" * 32, "client_secret": "s" * 64}
    assert {r.headers["authorization"] for r in requests[1:]} == {"Bearer t"}


def test_backoff_doubles_to_the_cap_and_success_resets_it(make: Make) -> None:
    failing = [True]

    def answer(request: httpx.Request, items: list[Any]) -> httpx.Response:
        return httpx.Response(503 if failing[0] else 200)

    delivery, _ = make(KEY, answer, [])
    waits = [delivery.send(HIT, [b"{}"]).retry_in for _ in range(8)]
    for attempt, wait in enumerate(waits):
        full = min(30.0, 0.5 * 2 ** attempt)
        assert full / 2 <= wait <= full  # jitter: half to all of it
    failing[0] = False
    assert delivery.send(HIT, [b"{}"]) == Outcome(sent=1)
    failing[0] = True
    assert delivery.send(HIT, [b"{}"]).retry_in <= 0.5  # back to the first step


def test_permanent_failures_do_not_grow_the_backoff(make: Make) -> None:
    delivery, _ = make(KEY, status(401), [])
    assert {delivery.send(HIT, [b"{}"]).retry_in for _ in range(3)} == {30.0}
