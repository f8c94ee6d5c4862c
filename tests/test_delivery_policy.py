"""The delivery policy on its own: what ``Delivery.send`` does with each kind of answer.

One table, no thread, no network: ``httpx.MockTransport`` answers as the API would.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from pirsch_middleware._config import TrackerOptions
from pirsch_middleware._delivery import Delivery, Outcome
from pirsch_middleware._items import EVENT, HIT

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


def nth_fails(n: int, code: int) -> Answer:
    calls = [0]

    def answer(request: httpx.Request, items: list[Any]) -> httpx.Response:
        calls[0] += 1
        return httpx.Response(code if calls[0] == n else 200)
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
    Row("500 after the first batch: what went is settled", nth_fails(2, 500),
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


def make(row_options: dict[str, Any], answer: Answer,
         batches: list[int]) -> tuple[Delivery, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        items = json.loads(request.content) if request.content else []
        if not request.url.path.endswith("/token"):
            batches.append(len(items))
        return answer(request, items)

    options = TrackerOptions.build({"base_url": "https://api.test", **row_options}, {})
    delivery = Delivery(options, transport=httpx.MockTransport(handler), retry_base=0.5,
                        retry_cap=30.0, rng=random.Random(7))
    return delivery, requests


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_send(row: Row) -> None:
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
    assert {r.url.path for r in writes} <= {"/api/v1/hit/batch"}


def test_each_kind_goes_to_its_endpoint() -> None:
    delivery, requests = make(KEY, ok, [])
    delivery.send(EVENT, [b'{"n":1}'])
    assert [r.url.path for r in requests] == ["/api/v1/event/batch"]
    assert requests[0].headers["authorization"] == "Bearer pa_test"
    assert requests[0].content == b'[{"n":1}]'


def test_backoff_doubles_to_the_cap_and_success_resets_it() -> None:
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


def test_permanent_failures_do_not_grow_the_backoff() -> None:
    delivery, _ = make(KEY, status(401), [])
    assert {delivery.send(HIT, [b"{}"]).retry_in for _ in range(3)} == {30.0}
