"""Queued items -> the JSON Pirsch accepts.

Runs in the flusher thread. The request path only queues ``Item`` tuples of raw values;
this is where they are read (``_extract``), checked against the visitor rules (bots,
Do-Not-Track, prefetches: ``_rules``), and where times, URLs and metadata are formatted
and encoded.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from functools import lru_cache

from ._extract import CLIENT_HINTS, read_request
from ._items import EVENT, HIT, KIND_NAMES, SESSION, Item
from ._logs import logger
from ._proxies import TrustedProxies
from ._rules import VisitorRules
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
                 filter_bots: bool = True, forwarded_host: bool = False) -> None:
        self.proxies = proxies
        self.forwarded_host = forwarded_host
        self.visitors = VisitorRules(respect_dnt=respect_dnt, filter_bots=filter_bots)
        self.watcher: Watcher | None = None  # debug mode, a test's recorder

    def encode(self, item: Item) -> bytes | None:
        """The item's JSON, or None when it is filtered out."""
        kind, epoch, is_asgi, captured, extra = item
        data = read_request(is_asgi, captured, self.proxies, self.forwarded_host)
        reason = self.visitors.excluded(data)
        if reason is not None:
            if self.watcher is not None:
                self.watcher.not_sent(KIND_NAMES[kind], data.url, reason)
            else:
                logger.debug("not sending %s for %s: %s", KIND_NAMES[kind], data.url, reason)
            return None
        # Written out by hand: json.dumps of a dict costs twice as much, per item.
        get = data.headers.get
        parts = ['{"ip":', _string(data.ip or ""), ',"user_agent":',
                 _string(get("user-agent", ""))]
        if kind != SESSION:
            parts += (',"url":', _string(data.url))
            language = get("accept-language")
            if language:
                parts += (',"accept_language":', _string(language))
            referrer = data.referrer
            if referrer:
                parts += (',"referrer":', _string(referrer))
        for key, header in PASSED_HEADERS:
            value = get(header)
            if value:
                parts += (key, _string(value))
        if kind == HIT and extra:
            self._page(parts, *extra)
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
