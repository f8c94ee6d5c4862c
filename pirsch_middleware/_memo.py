"""The flusher's short way to an item's JSON: the runs of a request's raw values that
repeat from request to request are read, checked and encoded once, and kept as JSON
fragments (``_fragments``):

- what the browser says of itself (user agent, language, client hints, Do-Not-Track,
  prefetch and ``Sec-Fetch-*`` headers): the same for all of a visitor's requests, and a
  site sees few browsers; with it, whether the visitor rules exclude them;
- who sent the request (the peer and the forwarding headers): the visitor's IP, and the
  scheme and host a trusted proxy said;
- where it went (the Host header, the scheme, path and query): the URL, scrubbed;
- the Referer header, scrubbed.

Each is a function of its raw values and of the encoder's options only, so what is kept
is what the long way (``read_request``, ``VisitorRules``) gives, and the JSON is the same
to the byte (tests/test_memo.py checks it over a table of odd requests). Anything out of
the ordinary goes the long way (``Memo.long_way``, the encoder's), e.g. an ASGI request
that repeats a header read, an unhashable value, or an ``X-Forwarded-Host`` that only
the server's own proxy handling could vouch for. An ASGI request's headers are found by
their names' layout, kept once per layout (the same browser sends the same names).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any, TypeVar

from ._extract import (
    BROWSER_HEADERS,
    BROWSER_RUN,
    FORWARDING_HEADERS,
    HOST_AT,
    REFERER_AT,
    SCOPE_SIZE,
    SCOPE_URL_RUN,
    SENDER_RUN,
    URL_RUN,
    WANTED,
    RequestData,
    header_run,
    scope_headers,
    url_of,
)
from ._fragments import browser_json, event_json, page_json, string, whole_second
from ._items import HIT, KIND_NAMES, SESSION, Item
from ._logs import logger
from ._proxies import TrustedProxies, dotted_quad
from ._rules import NO_IP, NO_USER_AGENT, NOT_NAVIGATION, VisitorRules
from ._scrub import QueryScrubber

__all__ = ["Memo"]

T = TypeVar("T")
# Entries per cache; a full one starts afresh. With what each entry holds (its JSON and
# the request's raw values of its key), full caches weigh about 1 MB; entries made of long
# values are not kept (tests/test_memo.py holds them under 1.5 MB).
LIMIT = 512
LAYOUTS = 256  # ASGI header name layouts: a few per kind of client
LONG = 512  # characters: a URL, referrer or browser JSON longer than this is not kept
_name = itemgetter(0)  # of a (name, value) header pair
_NOTHING_FORWARDED = (None,) * len(FORWARDING_HEADERS)  # an environ's, most of the time

# What is kept:
# browser: (why its requests are not sent or None, navigated (True/False/None), JSON);
Browser = tuple[str | None, bool | None, str]
# sender: (the visitor's IP as JSON or None, proto and host a trusted proxy said, whether
# an X-Forwarded-Host came along);
Sender = tuple[str | None, str, str, bool]
# layout (ASGI): getters of the browser's and the forwarding headers' (name, value) pairs
# from the list of headers, and where Host and Referer are in it (None: absent).
Layout = tuple[Callable[[Any], tuple[Any, ...]], Callable[[Any], tuple[Any, ...]],
               int | None, int | None]
# page: (URL as read, its JSON once scrubbed, the JSON of the referrer its query names or
# "").
Page = tuple[str, str, str]


class Memo:
    """The caches of one ``Encoder`` (whose options they depend on)::

        memo = Memo(TrustedProxies(), VisitorRules(), None, forwarded_host=False,
                    long_way=encoder.encode_afresh)
        memo.encode(page_view(environ))
        # b'{"ip":...}', or None when not sent (a bot...), or what long_way answers

    The flusher calls ``encode`` once per item, so it takes the item as it was queued,
    and says itself why one is not sent (``not_sent``) or hands it to ``long_way``.
    """

    def __init__(self, proxies: TrustedProxies, visitors: VisitorRules,
                 scrub: QueryScrubber | None, forwarded_host: bool,
                 long_way: Callable[[Item], bytes | None]) -> None:
        self.proxies = proxies
        self.long_way = long_way  # the encoder's: the request read afresh
        self.visitors = visitors
        self.scrub = scrub
        self.forwarded_host = forwarded_host
        # One of each for WSGI (str values) and ASGI (bytes values), by is_asgi.
        self._browsers: tuple[dict[Any, Browser], ...] = ({}, {})
        self._senders: tuple[dict[Any, Sender], ...] = ({}, {})
        self._pages: tuple[dict[Any, Page], ...] = ({}, {})
        self._referrers: tuple[dict[Any, str], ...] = ({}, {})
        self._layouts: dict[tuple[Any, ...], Layout] = {}  # ASGI: by the header names
        self._second, self._second_text = -1, ""  # the last whole second, as text

    def encode(self, item: Item) -> bytes | None:
        """A hit's or event's JSON, or None when it is not sent; what the short way cannot
        read goes the long way (``long_way``)."""
        kind, epoch, captured = item[0], item[1], item[2]
        is_asgi = len(captured) == SCOPE_SIZE
        if kind == SESSION:
            return self.long_way(item)
        if is_asgi:
            raw = captured[0]
            try:  # the header names, and where those read are among them
                layout = self._layouts.get(tuple(map(_name, raw))) or self._layout(raw)
                if layout is _LONG_WAY:
                    return self.long_way(item)
                browser_at, sender_at, host_at, referer_at = layout
                client = captured[1]  # (host, port): the port is the connection's
                browser_key: Any = browser_at(raw)
                sender_key: Any = (client[0] if client else None, sender_at(raw))
            except (TypeError, LookupError):
                return self.long_way(item)
            host = None if host_at is None else raw[host_at][1]
            referer = None if referer_at is None else raw[referer_at][1]
            fields = captured[SCOPE_URL_RUN]
        else:
            browser_key = captured[BROWSER_RUN]
            sender_key = captured[SENDER_RUN]
            host, fields, referer = captured[HOST_AT], captured[URL_RUN], captured[REFERER_AT]
        try:
            browser = self._browsers[is_asgi].get(browser_key) \
                or self._browser(is_asgi, browser_key)
            sender = self._senders[is_asgi].get(sender_key) \
                or self._sender(is_asgi, sender_key)
            ip, proto, said_host, forwarded_host = sender
            override = None
            if self.forwarded_host:
                if said_host:
                    override = said_host
                elif forwarded_host:
                    # read_request decides from the peer and X-Forwarded-For
                    return self.long_way(item)
            page_key = (proto, override, host, fields)
            page = self._pages[is_asgi].get(page_key) \
                or self._page(is_asgi, page_key)
            referrer = (self._referrers[is_asgi].get(referer)
                        or self._referrer(is_asgi, referer)) if referer else ""
        except TypeError:  # an unhashable value in the request: the long way
            return self.long_way(item)
        reason, navigated, browser_json_ = browser
        if reason != NO_USER_AGENT and ip is None:
            reason = NO_IP
        extra = item[3] if len(item) > 3 else None
        if reason is None and kind == HIT and navigated is not True:  # page_reason, inline
            if navigated is False:
                reason = NOT_NAVIGATION
            elif extra and len(extra) > 2:  # the browser did not say, and the hit is a
                reason = extra[2]  # page view only as a navigation (a 304...)
        if reason is not None:
            self.not_sent(kind, page[0], reason)
            return None
        if not extra:
            tail = ""
        elif kind == HIT:
            tail = page_json(extra[0], extra[1])
        else:
            tail = event_json(*extra)
        seconds = int(epoch)  # format_time, with the last second's text at hand
        if seconds != self._second:
            self._second, self._second_text = seconds, whole_second(seconds)
        # zfill(6) gives what the format spec 06d gives, in a third of the time
        text = (f'{{"ip":{ip}{page[1]}{referrer or page[2]}{browser_json_}{tail}'
                f',"time":"{self._second_text}.{str(int((epoch - seconds) * 1e6)).zfill(6)}Z"}}')
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate in a title, tag or event
            return self.long_way(item)

    def not_sent(self, kind: int, url: str, reason: str) -> None:
        """An item the short way found not to send, and why (nothing is watching)."""
        logger.debug("not sending %s for %s: %s", KIND_NAMES[kind], url, reason)

    def _browser(self, is_asgi: bool, key: tuple[Any, ...]) -> Browser:
        headers = scope_headers(_pairs(key)) if is_asgi \
            else header_run(False, BROWSER_HEADERS, key)
        get = headers.get
        entry = (self.visitors.header_reason(headers), self.visitors.navigated(headers),
                 browser_json(get("user-agent", ""), get("accept-language", ""), get))
        if len(entry[2]) > LONG:
            return entry
        return _keep(self._browsers[is_asgi], key, entry)

    def _sender(self, is_asgi: bool, key: tuple[Any, ...]) -> Sender:
        if is_asgi:
            peer = None if key[0] is None else str(key[0])
            forwarded = key[1]
            nothing_forwarded = not forwarded
        else:
            peer = key[0] or None
            forwarded = key[1:]
            nothing_forwarded = forwarded == _NOTHING_FORWARDED
        if nothing_forwarded and peer.__class__ is str and dotted_quad(peer):
            # Nearly every new visitor: the peer as it is, which is what resolve() and
            # clean_ip() answer, without their calls and caches.
            return _keep(self._senders[is_asgi], key, (f'"{peer}"', "", "", False))
        if nothing_forwarded:
            headers = {}
        elif is_asgi:
            headers = scope_headers(_pairs(forwarded))
        else:
            headers = header_run(False, FORWARDING_HEADERS, forwarded)
        get = headers.get
        said = self.proxies.resolve(peer, get("x-forwarded-for"), get("forwarded"),
                                    get("x-forwarded-proto"), get("x-forwarded-host"))
        entry = (None if said.ip is None else string(said.ip), said.proto, said.host,
                 "x-forwarded-host" in headers)
        return _keep(self._senders[is_asgi], key, entry)

    def _page(self, is_asgi: bool, key: tuple[Any, ...]) -> Page:
        proto, override, host, fields = key
        if override is None:
            override = header_run(is_asgi, ("host",), (host,)).get("host", "")
        url = sent = url_of(is_asgi, fields, override, proto)
        referrer = RequestData(url, None, {}).referrer  # one the query names
        scrub = self.scrub
        if scrub is not None:
            sent, referrer = scrub(url), scrub(referrer)
        entry = (url, ',"url":' + string(sent),
                 ',"referrer":' + string(referrer) if referrer else "")
        if len(url) > LONG:
            return entry
        return _keep(self._pages[is_asgi], key, entry)

    def _referrer(self, is_asgi: bool, raw: Any) -> str:
        referrer = header_run(is_asgi, ("referer",), (raw,)).get("referer", "")
        if referrer and self.scrub is not None:
            referrer = self.scrub(referrer)
        entry = ',"referrer":' + string(referrer) if referrer else ""
        if entry and len(entry) <= LONG:  # "": the page's own (from its query)
            _keep(self._referrers[is_asgi], raw, entry)
        return entry


    def _layout(self, raw: Any) -> Layout:
        """Where the headers read are in an ASGI request's list of them, as getters of
        their (name, value) pairs; ``_LONG_WAY`` when one of them comes twice."""
        names = tuple(map(_name, raw))
        at: dict[str, list[int]] = {}
        for index, name in enumerate(names):
            text = bytes(name).lower().decode("latin-1")  # as the long way reads names
            if text in WANTED:
                if text in at:
                    return _keep(self._layouts, names, _LONG_WAY, LAYOUTS)
                at[text] = [index]
        layout = (_getter([i for name in BROWSER_HEADERS for i in at.get(name, ())]),
                  _getter([i for name in FORWARDING_HEADERS for i in at.get(name, ())]),
                  at["host"][0] if "host" in at else None,
                  at["referer"][0] if "referer" in at else None)
        return _keep(self._layouts, names, layout, LAYOUTS)


def _getter(positions: list[int]) -> Callable[[Any], tuple[Any, ...]]:
    """The pairs at ``positions`` of a header list, as a tuple (a key of the caches)."""
    if not positions:
        return _nothing
    if len(positions) == 1:
        return itemgetter(positions[0], positions[0])  # a tuple, as for several
    return itemgetter(*positions)


def _pairs(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The header pairs of a key made by ``_getter``, each once."""
    return tuple(dict.fromkeys(key))


def _nothing(raw: Any) -> tuple[Any, ...]:
    return ()


_LONG_WAY: Layout = (_nothing, _nothing, None, None)  # a layout the long way must read


def _keep(cache: dict[Any, T], key: Any, entry: T, limit: int = LIMIT) -> T:
    if len(cache) >= limit:
        cache.clear()
    cache[key] = entry
    return entry
