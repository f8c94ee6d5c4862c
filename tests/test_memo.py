"""The flusher's short way to an item's JSON (``_memo``: what repeats is read once and
kept) gives the bytes the long way (the request read afresh) gives, for every request in
the request table and a few only the short way could get wrong, cold and warm."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from pirsch_middleware import Tracker
from pirsch_middleware._config import split_options
from pirsch_middleware._items import Item, event, page_view
from pirsch_middleware._memo import LIMIT, Memo
from pirsch_middleware._payload import Encoder
from pirsch_middleware._rules import NOT_MODIFIED

from .requests_table import BROWSER, Case
from .test_request_table import CASES, FETCH, NAVIGATE, PROXY

ODD = [
    Case("upper-case header names",
         headers=[(b"Accept-Language", b"de"), (b"X-Forwarded-For", b"198.51.100.1")],
         peer=PROXY),
    Case("a repeated header (ASGI: the long way)",
         headers=[(b"accept-language", b"de"), (b"accept-language", b"fr")]),
    Case("repeated cookies beside the headers read", headers=[(b"cookie", b"a=1"),
                                                             (b"cookie", b"b=2")]),
    Case("client hints and Do-Not-Track 0", headers=[
        (b"sec-ch-ua", b'"Chromium";v="120"'), (b"sec-ch-ua-mobile", b"?0"),
        (b"sec-ch-ua-platform", b'"Linux"'), (b"dnt", b"0"), (b"sec-ch-width", b"1280")]),
    Case("a language in Latin-1", headers=[(b"accept-language", b"fr-\xe9")]),
    Case("a language in UTF-8", headers=[(b"accept-language", "fr-é".encode())]),
    Case("a referrer with a secret", headers=[(b"referer", b"https://a.example/?token=x")]),
    Case("a blank referrer: the query's", query=b"ref=news",
         headers=[(b"referer", b"  ")]),
    Case("a referrer over 2 KB: the query's", query=b"utm_source=mail",
         headers=[(b"referer", b"https://a.example/" + b"x" * 3000)]),
    Case("a user agent over 2 KB", user_agent=b"Mozilla/5.0 " + b"x" * 3000),
    Case("a bot", user_agent=b"Googlebot/2.1 (+http://www.google.com/bot.html)"),
    Case("Global Privacy Control", headers=[(b"sec-gpc", b"1")]),
    Case("a prefetch", headers=[(b"sec-purpose", b"prefetch")]),
    Case("a navigation", headers=NAVIGATE),
    Case("a fetch()", headers=FETCH),
    Case("frames tracked", headers=[(b"sec-fetch-dest", b"iframe"),
                                    (b"sec-fetch-mode", b"navigate")],
         options={"track_frames": True}),
    Case("no peer address", peer=None),
    Case("an IPv6 peer", peer="2001:db8::1"),
    Case("an IPv4-mapped peer", peer="::ffff:198.51.100.7"),
    Case("X-Forwarded-Host from a trusted proxy, forwarded_host on", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.1"),
                  (b"x-forwarded-host", b"shop.example")],
         options={"forwarded_host": True}),
    Case("Forwarded host from a trusted proxy, forwarded_host on", peer=PROXY,
         headers=[(b"forwarded", b"for=198.51.100.1;host=shop.example;proto=https")],
         options={"forwarded_host": True}),
    Case("X-Forwarded-Host after the server resolved the proxy, forwarded_host on",
         peer="198.51.100.1", headers=[(b"x-forwarded-for", b"198.51.100.1"),
                                       (b"x-forwarded-host", b"shop.example")],
         options={"forwarded_host": True}),
    Case("X-Forwarded-Host from a visitor, forwarded_host on",
         headers=[(b"x-forwarded-host", b"evil.example")], options={"forwarded_host": True}),
    Case("nothing scrubbed", query=b"token=abc", options={"scrub_query": []}),
    Case("Do-Not-Track ignored", headers=[(b"dnt", b"1")], options={"respect_dnt": False}),
    Case("bots kept", user_agent=b"curl/8.0", options={"filter_bots": False}),
]
SHORT_WAY = [case for case in CASES + ODD
             if not {"before_send", "client_ip_header"} & set(case.options)]


class Reasons:
    """A watcher: why the long way did not send an item."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def not_sent(self, kind: str, url: str, reason: str) -> None:
        self.seen.append((reason, url))

    def sending(self, kind: str, item: dict[str, Any]) -> None:
        pass


def items(case: Case, kind: str) -> list[Item]:
    request = case.environ() if kind == "wsgi" else case.scope()
    return [page_view(request, at=1714979289.123456),
            page_view(request, at=1714979289.5, title="Prices \u00e9t\u00e9",
                      tags={"plan": "pro", "none": None}),  # type: ignore[dict-item]
            page_view(request, unless_navigation=NOT_MODIFIED),
            event(request, "Signup", meta={"plan": "pro", "n": 3, "ok": True, "x": None},
                  duration=1.5, non_interactive=True)]


def encoder_for(case: Case) -> Encoder:
    tracker_options, _ = split_options(case.options)
    encoder: Encoder = Tracker(access_key="pa_test", environ={}, **tracker_options)._encoder
    assert encoder.memo is not None
    return encoder


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("case", SHORT_WAY, ids=[c.id for c in SHORT_WAY])
def test_the_short_way_gives_the_long_ways_json(case: Case, kind: str) -> None:
    encoder = encoder_for(case)
    for item in items(case, kind):
        cold, warm = encoder.encode(item), encoder.encode(item)
        assert cold == warm == encoder.encode_afresh(item)


class ShortWay:
    """What a memo did with each item: sent it, said why not, or went the long way."""

    def __init__(self, memo: Memo) -> None:
        self.memo = memo
        self.answers: list[tuple[str, Any]] = []
        memo.long_way = lambda item: self.answers.append(("long way", item))
        memo.not_sent = self.not_sent  # type: ignore[method-assign]

    def not_sent(self, kind: int, url: str, reason: str) -> None:
        self.answers.append(("not sent", (reason, url)))

    def encode(self, item: Item) -> tuple[str, Any]:
        data = self.memo.encode(item)
        if data is not None:
            self.answers.append(("sent", data))
        (answer,) = self.answers
        self.answers.clear()
        return answer


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("case", SHORT_WAY, ids=[c.id for c in SHORT_WAY])
def test_the_short_way_gives_the_long_ways_reason(case: Case, kind: str) -> None:
    encoder = encoder_for(case)
    assert encoder.memo is not None
    short_way = ShortWay(encoder.memo)
    for item in items(case, kind):
        answer, why = short_way.encode(item)
        if answer != "not sent":
            continue
        encoder.watcher = reasons = Reasons()
        assert encoder.encode_afresh(item) is None
        assert reasons.seen == [why]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_ordinary_requests_take_the_short_way(kind: str) -> None:
    case = Case("ordinary", query=b"a=1", headers=[
        (b"accept-language", b"en"), (b"referer", b"https://a.example/"), *NAVIGATE,
        (b"cookie", b"session=1"), (b"accept", b"text/html")])
    encoder = encoder_for(case)
    assert encoder.memo is not None
    short_way = ShortWay(encoder.memo)
    for item in items(case, kind):
        assert short_way.encode(item)[0] == "sent"


def test_a_full_cache_starts_afresh() -> None:
    encoder = encoder_for(Case("pages"))
    memo = encoder.memo
    assert memo is not None
    for n in range(LIMIT + 10):
        item = page_view(Case("page", path=f"/p/{n}".encode()).environ())
        assert encoder.encode(item) == encoder.encode_afresh(item)
    assert 0 < len(memo._pages[False]) <= LIMIT


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_one_encoder_for_many_requests_keeps_them_apart(kind: str) -> None:
    """What is kept for one request is never another's: the cases without options,
    through one encoder, twice over (the second time from its caches)."""
    plain = [case for case in SHORT_WAY if not case.options]
    encoder = encoder_for(Case("shared"))
    for _ in range(2):
        for case in plain:
            for item in items(case, kind):
                assert encoder.encode(item) == encoder.encode_afresh(item), case.id


@pytest.mark.parametrize("first", [0, 1])
def test_header_names_that_join_alike_are_told_apart(first: int) -> None:
    """Two lists of as many ASGI header names that would join alike with NULs (names
    holding NULs) are each read as the long way reads them, whichever came first: a
    layout kept for one is never the other's (a key of the names joined was tried, and
    needs the NUL check this holds it to)."""
    lists = [[(b"user-agent\0x", b"Mozilla/5.0 (X11; Linux x86_64) One/1.0"),
              (b"host", b"one.example")],
             [(b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Two/2.0"),
              (b"x\0host", b"two.example")]]
    encoder = encoder_for(Case("names"))
    for headers in lists[first:] + lists[:first]:
        scope = Case("names").scope()
        scope["headers"] = headers
        for item in (page_view(scope), event(scope, "Signup")):
            assert encoder.encode(item) == encoder.encode_afresh(item), headers


def weight(memo: Memo) -> int:
    """Bytes held by a memo's caches: their dicts, keys, entries and what those hold."""
    seen: set[int] = set()

    def deep(value: object) -> int:
        if id(value) in seen:
            return 0
        seen.add(id(value))
        size = sys.getsizeof(value)
        if isinstance(value, dict):
            size += sum(deep(k) + deep(v) for k, v in value.items())
        elif isinstance(value, (tuple, list)):
            size += sum(deep(item) for item in value)
        return size

    return sum(deep(cache) for cache in (memo._browsers, memo._senders, memo._pages,
                                         memo._referrers, memo._layouts))


@pytest.mark.parametrize("long", [False, True], ids=["usual values", "long values"])
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_full_caches_stay_small(kind: str, long: bool) -> None:
    """Every request new in every way (browser, visitor, page, referrer), twice as many
    as a cache keeps: what the caches hold stays under 1.5 MB."""
    encoder = encoder_for(Case("many"))
    memo = encoder.memo
    assert memo is not None
    pad = 900 if long else 0
    for n in range(2 * LIMIT):
        case = Case("one", path=f"/blog/{n}-{'x' * pad}".encode(),
                    user_agent=BROWSER + f" n/{n}{'y' * pad}".encode(),
                    peer=f"198.51.{n // 250}.{n % 250 + 1}",
                    headers=[(b"referer", f"https://r{n}.example/{'z' * pad}".encode()),
                             (b"accept-language", b"en-US,en;q=0.9")])
        encoder.encode(items(case, kind)[0])
    assert 0 < weight(memo) < 1_500_000
