"""Queued items -> the JSON Pirsch accepts.

Runs in the flusher thread. The request path only queues ``Item`` tuples of raw values;
this is where they are read (``_extract``), checked against the visitor rules (bots,
Do-Not-Track, prefetches, browser navigations: ``_rules``), scrubbed (``_scrub``), shown
to ``before_send`` (``_outgoing``), and where times, URLs and metadata are formatted and
encoded.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

from ._extract import (
    CLIENT_HINTS,
    ENVIRON_FIELDS,
    Captured,
    RequestData,
    header_value,
    peer_address,
    read_request,
)
from ._items import EVENT, HIT, KIND_NAMES, SESSION, Item
from ._logs import logger
from ._outgoing import BeforeSend, Outgoing
from ._proxies import TrustedProxies
from ._rules import BEFORE_SEND, VisitorRules
from ._scrub import DEFAULT_SCRUB_QUERY, QueryScrubber
from ._watch import Watcher

__all__ = ["Encoder"]

# The JSON key (as written after the previous field) -> the request header, sent as they
# are when present.
PASSED_HEADERS = tuple((f',"{field}":', field.replace("_", "-"))
                       for field in ("dnt", *CLIENT_HINTS))
_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string: Callable[[str], str] = json.encoder.encode_basestring
MAX_META = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


@lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def format_time(epoch: float) -> str:
    """RFC 3339 in UTC with microseconds; the seconds part is cached (they repeat)."""
    seconds = int(epoch)
    return f"{_second(seconds)}.{int((epoch - seconds) * 1e6):06d}Z"


def _scalar(value: object) -> str | int | float | bool | None:
    if value is None:
        return None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


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

    def read(self, is_asgi: bool, captured: Captured) -> RequestData:
        """What an item's request says: its URL, IP and headers."""
        if self.client_ip_header is None:
            return read_request(is_asgi, captured, self.proxies, self.forwarded_host)
        return self._read_with_client_ip(is_asgi, captured)

    def encode(self, item: Item) -> bytes | None:
        """The item's JSON, or None when it is filtered out."""
        kind, epoch, is_asgi, captured, extra = item
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
        # Written out by hand: json.dumps of a dict costs twice as much, per item.
        parts = ['{"ip":', _string(ip), ',"user_agent":', _string(user_agent)]
        if kind != SESSION:
            parts += (',"url":', _string(url))
            if language:
                parts += (',"accept_language":', _string(language))
            if referrer:
                parts += (',"referrer":', _string(referrer))
        for key, header in PASSED_HEADERS:
            value = get(header)
            if value:
                parts += (key, _string(value))
        if kind == HIT and extra:
            self._page(parts, extra[0], extra[1])
        elif kind == EVENT:
            self._event(parts, *extra)
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

    @staticmethod
    def _page(parts: list[str], title: str | None, tags: Mapping[str, object] | None) -> None:
        if title:
            parts += (',"title":', _string(str(title)[:512]))
        if tags:
            parts += (',"tags":{', ",".join([f"{_string(str(k))}:{_string(str(v))}"
                                             for k, v in tags.items() if v is not None]), "}")

    @staticmethod
    def _event(parts: list[str], name: str, meta: Mapping[str, object] | None,
               duration: float | None, non_interactive: bool) -> None:
        parts += (',"event_name":', _string(name))
        if duration is not None and math.isfinite(duration):
            parts += (',"event_duration":', str(max(0, int(duration))))
        if meta:
            clean = {str(k): _scalar(v) for k, v in list(meta.items())[:MAX_META]}
            parts += (',"event_meta":', _to_json({k: v for k, v in clean.items()
                                                   if v is not None}))
        if non_interactive:
            parts.append(',"non_interactive":true')
