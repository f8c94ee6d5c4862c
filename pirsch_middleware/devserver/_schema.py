"""What the write endpoints accept: one table of fields per kind, and the checks of a body.

Everything here is pure: a list of decoded items in, the validation errors out, keyed as the
API keys them (``"<index>.<field>"``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from .._auth import parse_rfc3339

__all__ = ["Kind", "content_type_problem", "parse_json", "validate"]

Kind = Literal["hit", "event", "session"]
Check = Callable[[Any], "str | None"]  # a field validator: the problem with a value, or None


def _is(test: Callable[[Any], bool], problem: str) -> Check:
    return lambda value: None if test(value) else problem


def _is_url(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() or not c.isprintable() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != -1
    except ValueError:  # a port that is not a number, a broken [IPv6] host
        return False


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")
        return True
    except ValueError:
        return False


# parse_rfc3339 is lenient (no zone, a space); RFC 3339 itself demands the 'T' and a zone.
_RFC3339_SHAPE = re.compile(r"\d{4}-\d\d-\d\d[Tt]\S+(?:[Zz]|[+-]\d\d:\d\d)")


def _is_time(value: Any) -> bool:
    try:
        return bool(isinstance(value, str) and _RFC3339_SHAPE.fullmatch(value)
                    and parse_rfc3339(value))
    except ValueError:  # 2024-13-45 and the like
        return False


_STRING = _is(lambda v: isinstance(v, str), "must be a string")
_NON_EMPTY = _is(lambda v: isinstance(v, str) and bool(v.strip()), "must be a non-empty string")
_BOOL = _is(lambda v: isinstance(v, bool), "must be true or false (not 0/1 or a string)")
_COUNT = _is(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
             "must be a non-negative integer")
_URL = _is(_is_url, "must be an absolute http(s) URL with a host and no whitespace")
_IP = _is(_is_ip, "must be an IPv4 or IPv6 address (no port, no brackets)")
_TIME = _is(_is_time, "must be an RFC 3339 time with a zone, such as 2024-01-02T15:04:05Z")
_TAGS = _is(lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            "must be an object of string values")
_META = _is(lambda v: isinstance(v, dict)  # bool is an int, so booleans pass too
            and all(isinstance(x, (str, int, float)) for x in v.values()),
            "must be a flat object of strings, numbers and booleans")

# The one table of what each kind accepts: field -> (validator, required). Anything else is
# an "unknown field", so a client's typo fails loudly instead of being dropped by the API.
_CLIENT_HINTS = ("sec_ch_ua", "sec_ch_ua_mobile", "sec_ch_ua_platform",
                 "sec_ch_ua_platform_version", "sec_ch_width", "sec_ch_viewport_width")
_SESSION_FIELDS: dict[str, tuple[Check, bool]] = {
    "ip": (_IP, True), "user_agent": (_NON_EMPTY, True), "time": (_TIME, False),
    "dnt": (_STRING, False), **{name: (_STRING, False) for name in _CLIENT_HINTS},
}
_HIT_FIELDS = {
    **_SESSION_FIELDS, "url": (_URL, True), "accept_language": (_STRING, False),
    "title": (_STRING, False), "referrer": (_STRING, False), "screen_width": (_COUNT, False),
    "screen_height": (_COUNT, False), "tags": (_TAGS, False), "disable_bot_filter": (_BOOL, False),
}
_EVENT_FIELDS = {
    **_HIT_FIELDS, "event_name": (_NON_EMPTY, True), "event_duration": (_COUNT, False),
    "event_meta": (_META, False), "non_interactive": (_BOOL, False),
}
_FIELDS: dict[Kind, dict[str, tuple[Check, bool]]] = {
    "hit": _HIT_FIELDS, "event": _EVENT_FIELDS, "session": _SESSION_FIELDS,
}


def validate(kind: Kind, items: list[Any], batch: bool,
             reject: Callable[[str, dict[str, Any]], bool] | None) -> dict[str, str]:
    """Validation errors keyed ``"<index>.<field>"`` (``"<index>"`` for the whole item)."""
    fields = _FIELDS[kind]
    errors: dict[str, str] = {}
    previous: tuple[int, datetime] | None = None
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[str(index)] = "must be a JSON object"
            continue
        found = {name: fields[name][0](value) if name in fields else "unknown field"
                 for name, value in item.items()}
        for name, (_, required) in fields.items():
            if name not in item and (required or (batch and name == "time")):
                found[name] = "required in batch items" if name == "time" else "required"
        problems = {name: problem for name, problem in found.items() if problem}
        if "time" in item and "time" not in problems:
            when = parse_rfc3339(item["time"])
            if previous is not None and when < previous[1]:
                problems["time"] = f"items must be in time order (earlier than item {previous[0]})"
            previous = (index, when)
        errors.update({f"{index}.{name}": problem for name, problem in problems.items()})
        if not problems and reject is not None and reject(kind, item):
            errors[str(index)] = "rejected by reject_item()"
    return errors


def parse_json(body: bytes) -> tuple[Any, str | None]:
    """The decoded body, or the reason it is not JSON as Go's decoder would read it."""
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key in object")
        return dict(pairs)

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=unique,
                          parse_constant=no_constant), None
    except ValueError as exc:
        return None, f"malformed JSON: {exc}"


def content_type_problem(headers: Mapping[str, str]) -> str | None:
    """Why a request body may not be read as JSON (its media type or encoding), or None."""
    media, _, params = headers.get("content-type", "").partition(";")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
    if media.strip().lower() != "application/json" or (
            charset and charset.group(1).lower() not in ("utf-8", "utf8")):
        return f"Content-Type must be application/json, not {headers.get('content-type')!r}"
    if headers.get("content-encoding", "identity").lower() != "identity":
        return f"Content-Encoding {headers['content-encoding']!r} is not supported"
    return None
