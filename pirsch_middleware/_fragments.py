"""The JSON of a queued item, written out by hand in fragments (``json.dumps`` of a dict
costs twice as much per item), and in one order of keys whichever way it was read
(``_payload`` reads a request afresh, ``_memo`` from its caches)::

    {"ip":..,"url":..,"referrer":..,"user_agent":..,"accept_language":..,"dnt":..,
     "sec_ch_ua":..,(title, tags | event fields),"time":..}

A keep-alive (session) has no url, referrer or accept_language.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from functools import lru_cache

from ._extract import CLIENT_HINTS

__all__ = ["browser_json", "event_json", "format_time", "page_json", "string",
           "whole_second"]

# The JSON key (as written after the previous field) -> the request header, sent as they
# are when present.
PASSED_HEADERS = tuple((f',"{field}":', field.replace("_", "-"))
                       for field in ("dnt", *CLIENT_HINTS))
_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
string: Callable[[str], str] = json.encoder.encode_basestring  # "..." with escapes
MAX_META = 100
MAX_TITLE = 512


@lru_cache(maxsize=64)
def whole_second(seconds: int) -> str:
    """``format_time`` up to the whole second (``2024-05-06T07:08:09``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def format_time(epoch: float) -> str:
    """RFC 3339 in UTC with microseconds; the seconds part is cached (they repeat)."""
    seconds = int(epoch)
    return f"{whole_second(seconds)}.{int((epoch - seconds) * 1e6):06d}Z"


def browser_json(user_agent: str, language: str, get: Callable[[str], str | None]) -> str:
    """``,"user_agent":..`` and what else the browser says of itself: its language
    (``""``: not sent), and the headers passed on as they are, read with ``get``."""
    parts = [',"user_agent":', string(user_agent)]
    if language:
        parts += (',"accept_language":', string(language))
    for key, header in PASSED_HEADERS:
        value = get(header)
        if value:
            parts += (key, string(value))
    return "".join(parts)


def page_json(title: str | None, tags: Mapping[str, object] | None) -> str:
    """A page view's title and tags, as set from the view."""
    parts: list[str] = []
    if title:
        parts += (',"title":', string(str(title)[:MAX_TITLE]))
    if tags:
        parts += (',"tags":{', ",".join([f"{string(str(k))}:{string(str(v))}"
                                         for k, v in tags.items() if v is not None]), "}")
    return "".join(parts)


def event_json(name: str, meta: Mapping[str, object] | None, duration: float | None,
               non_interactive: bool) -> str:
    """A custom event's fields, as ``track_event`` took them."""
    parts = [',"event_name":', string(name)]
    if duration is not None and math.isfinite(duration):
        parts += (',"event_duration":', str(max(0, int(duration))))
    if meta:
        clean = {str(k): _scalar(v) for k, v in list(meta.items())[:MAX_META]}
        parts += (',"event_meta":', _to_json({k: v for k, v in clean.items()
                                               if v is not None}))
    if non_interactive:
        parts.append(',"non_interactive":true')
    return "".join(parts)


def _scalar(value: object) -> str | int | float | bool | None:
    if value is None:
        return None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)
