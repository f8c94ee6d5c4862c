"""Queued items -> the JSON Pirsch accepts.

Runs in the flusher thread. The request path only queues ``Item`` tuples of raw values;
this is where they are read (``_extract``), checked against the visitor rules (bots,
Do-Not-Track, prefetches, browser navigations: ``_rules``), scrubbed (``_scrub``), shown
to ``before_send`` (``_outgoing``), and where times, URLs and metadata are formatted and
encoded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from ._extract import (
    ENVIRON_FIELDS,
    Captured,
    RequestData,
    header_value,
    peer_address,
    read_request,
)
from ._fragments import browser_json, event_json, format_time, page_json, string
from ._items import EVENT, HIT, KIND_NAMES, SESSION, Item, unpack
from ._logs import logger
from ._memo import Memo
from ._outgoing import BeforeSend, Outgoing
from ._proxies import TrustedProxies
from ._rules import BEFORE_SEND, VisitorRules
from ._scrub import DEFAULT_SCRUB_QUERY, QueryScrubber
from ._watch import Watcher

__all__ = ["Encoder"]

_SURROGATE = re.compile("[\ud800-\udfff]")


class Encoder:
    """Turns queued items into JSON; what ``visitors`` (the rules) exclude is not sent."""

    def __init__(self, proxies: TrustedProxies, *, respect_dnt: bool = True,
                 filter_bots: bool = True, forwarded_host: bool = False,
                 client_ip_header: str | None = None,
                 scrub_query: Iterable[str] = DEFAULT_SCRUB_QUERY,
                 before_send: Callable[[Outgoing], Outgoing | None] | None = None,
                 track_frames: bool = False) -> None:
        self.proxies = proxies
        self.forwarded_host = forwarded_host
        self.visitors = VisitorRules(respect_dnt=respect_dnt, filter_bots=filter_bots,
                                     track_frames=track_frames)
        self.client_ip_header = client_ip_header
        names = frozenset(scrub_query)
        self.scrub = QueryScrubber(names) if names else None
        self.before_send = BeforeSend(before_send) if before_send is not None else None
        self.watcher: Watcher | None = None  # debug mode, a test's recorder
        # The short way, for what nothing needs to see read afresh.
        self.memo: Memo | None = None
        if before_send is None and client_ip_header is None:
            self.memo = Memo(proxies, self.visitors, self.scrub, forwarded_host,
                             self.encode_afresh)

    def read(self, is_asgi: bool, captured: Captured) -> RequestData:
        """What an item's request says: its URL, IP and headers."""
        if self.client_ip_header is None:
            return read_request(is_asgi, captured, self.proxies, self.forwarded_host)
        return self._read_with_client_ip(is_asgi, captured)

    def encode(self, item: Item) -> bytes | None:
        """The item's JSON, or None when it is filtered out."""
        return self.encoder()(item)

    def encoder(self) -> Callable[[Item], bytes | None]:
        """What ``encode`` calls, for the flusher to take once per batch: the short way
        (``Memo.encode``) where nothing needs to see the request read afresh."""
        if self.memo is not None and self.watcher is None and not self.visitors.test_clients:
            return self.memo.encode
        return self.encode_afresh

    def encode_afresh(self, item: Item) -> bytes | None:
        """``encode`` the long way: the request read afresh (``read``), and every hook
        and watcher told."""
        kind, epoch, is_asgi, captured, extra = unpack(item)
        data = self.read(is_asgi, captured)
        reason = self.visitors.excluded(data)
        if reason is None and kind == HIT:
            unless = extra[2] if extra and len(extra) > 2 else None  # _items: a 304...
            reason = self.visitors.page_reason(data.headers, unless)
        if reason is not None:
            if self.watcher is not None:
                self.watcher.not_sent(KIND_NAMES[kind], data.url, reason)
            else:
                logger.debug("not sending %s for %s: %s", KIND_NAMES[kind], data.url, reason)
            return None
        get = data.headers.get
        ip, user_agent, url = data.ip or "", get("user-agent", ""), data.url
        language = get("accept-language", "")
        referrer = data.referrer if kind != SESSION else ""
        scrub = self.scrub
        if scrub is not None:
            url, referrer = scrub(url), scrub(referrer)
        if self.before_send is not None:
            shaped = self.before_send(kind, epoch, ip, user_agent, url, language,
                                      referrer, data.headers, extra)
            if shaped is None:
                if self.watcher is not None:
                    self.watcher.not_sent(KIND_NAMES[kind], url, BEFORE_SEND)
                else:
                    logger.debug("not sending %s for %s: %s", KIND_NAMES[kind], url,
                                 BEFORE_SEND)
                return None
            ip, user_agent, url, language, referrer, epoch, extra = shaped
        parts = ['{"ip":', string(ip)]
        if kind != SESSION:
            parts += (',"url":', string(url))
            if referrer:
                parts += (',"referrer":', string(referrer))
        parts.append(browser_json(user_agent, language if kind != SESSION else "", get))
        if kind == HIT and extra:
            parts.append(page_json(extra[0], extra[1]))
        elif kind == EVENT:
            parts.append(event_json(*extra))
        parts += (',"time":"', format_time(epoch), '"}')
        text = "".join(parts)
        try:
            encoded = text.encode()
        except UnicodeEncodeError:  # a lone surrogate in a title, tag or event: repair it
            encoded = _SURROGATE.sub("\ufffd", text).encode()
        if self.watcher is not None:
            self.watcher.sending(KIND_NAMES[kind], json.loads(encoded))
        return encoded

    def _read_with_client_ip(self, is_asgi: bool, captured: Captured) -> RequestData:
        """``read_request``, and ``client_ip_header``'s address as the visitor's where it
        is believed (``TrustedProxies.header_ip``). A WSGI request keeps the header's
        value after the fields ``read_request`` reads (``_extract.capturer``)."""
        value = header_value(is_asgi, captured, self.client_ip_header or "")
        if not is_asgi:
            captured = captured[:len(ENVIRON_FIELDS)]
        data = read_request(is_asgi, captured, self.proxies, self.forwarded_host)
        if value:
            get = data.headers.get
            ip = self.proxies.header_ip(value, peer_address(is_asgi, captured),
                                        get("x-forwarded-for"), get("forwarded"),
                                        get("x-forwarded-proto"), get("x-forwarded-host"))
            if ip is not None:
                data.ip = ip
        return data
