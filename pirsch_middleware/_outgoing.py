"""``before_send``: the user's last word on each hit, event and session keep-alive.

In the flusher, after the rules and query scrubbing, each item is shown to
``before_send`` as an ``Outgoing``, a plain object the function may edit, and sent as it
comes back; None drops it (counted as filtered). A function that raises, or returns
something else, costs nothing but a log line a minute: the item is sent unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal

from ._logs import Throttle, logger
from ._proxies import clean_ip

__all__ = ["BeforeSend", "Outgoing", "Shaped", "check_before_send"]

Kind = Literal["hit", "event", "session"]
KINDS: tuple[Kind, Kind, Kind] = ("hit", "event", "session")  # by _items' HIT, EVENT, SESSION


@dataclass(slots=True)
class Outgoing:
    """A page view (``kind`` "hit"), event or session keep-alive about to be sent to
    Pirsch, as ``before_send`` sees it. Change what you like and return it, or return
    None to not send it::

        def before_send(item: Outgoing) -> Outgoing | None:
            if item.ip in OFFICE_IPS:
                return None
            item.url = USER_PAGE.sub("/users/:id", item.url)
            return item

    ``kind`` and ``headers`` (the request headers the middleware read, lower-case
    names) are for deciding; changing them changes nothing. A session keep-alive sends
    no URL, referrer or language, and only an event its ``event_*`` fields.
    """

    kind: Kind
    url: str
    ip: str
    user_agent: str
    time: datetime  # when it happened, UTC
    referrer: str = ""
    accept_language: str = ""
    title: str | None = None  # hits
    tags: dict[str, str] = field(default_factory=dict)  # hits
    event_name: str = ""
    event_meta: dict[str, Any] = field(default_factory=dict)
    event_duration: float | None = None  # seconds
    non_interactive: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


# What the encoder sends after before_send: ip, user_agent, url, accept_language,
# referrer, time (epoch seconds) and the item's extra (as in ``_items``).
Shaped = tuple[str, str, str, str, str, float, Any]


class BeforeSend:
    """Runs the user's ``before_send`` on an item's values (``__call__``): the values to
    send, or None to drop the item."""

    def __init__(self, hook: Callable[[Outgoing], Outgoing | None]) -> None:
        self.hook = hook
        self._throttle = Throttle()

    def __call__(self, kind_number: int, epoch: float, ip: str, user_agent: str, url: str,
                 accept_language: str, referrer: str, headers: Mapping[str, str],
                 extra: Any) -> Shaped | None:
        kind = KINDS[kind_number]
        item = Outgoing(kind=kind, url=url, ip=ip, user_agent=user_agent,
                        time=datetime.fromtimestamp(epoch, timezone.utc), referrer=referrer,
                        accept_language=accept_language, headers=MappingProxyType(headers))
        if kind == "hit" and extra:
            item.title = extra[0]
            item.tags = dict(extra[1] or {})
        elif kind == "event":
            name, meta, duration, non_interactive = extra
            item.event_name, item.event_meta = name, dict(meta or {})
            item.event_duration, item.non_interactive = duration, non_interactive
        try:
            result = self.hook(item)
            if result is None:
                return None
            return _shaped(result, kind)
        except Exception as exc:
            if self._throttle.ready("before_send"):
                logger.error("Pirsch: before_send failed (%s); the %s is sent unchanged. "
                             "(Logged at most once a minute.)", exc, kind,
                             exc_info=not isinstance(exc, _Refused))
            return ip, user_agent, url, accept_language, referrer, epoch, extra


class _Refused(Exception):
    """What before_send returned cannot be sent."""


def _text(item: Outgoing, name: str) -> str:
    value = getattr(item, name)
    if not isinstance(value, str):
        raise _Refused(f"{name} must be a string, got {type(value).__name__}")
    return value


def _shaped(item: object, kind: Kind) -> Shaped:
    if not isinstance(item, Outgoing):
        raise _Refused(f"it must return the item it was given (changed or not) or None, "
                       f"not {type(item).__name__}")
    url = _text(item, "url")
    if not url.startswith(("http://", "https://")):
        raise _Refused(f"url must be an absolute http(s) URL, got {url[:100]!r}")
    ip = clean_ip(_text(item, "ip"))
    if ip is None:
        raise _Refused(f"ip must be an IP address, got {item.ip[:100]!r}")
    if not isinstance(item.time, datetime):
        raise _Refused(f"time must be a datetime, got {type(item.time).__name__}")
    moment = item.time if item.time.tzinfo else item.time.replace(tzinfo=timezone.utc)
    extra: Any = None
    if kind == "hit":
        if item.title is not None and not isinstance(item.title, str):
            raise _Refused(f"title must be a string or None, got {type(item.title).__name__}")
        if not isinstance(item.tags, Mapping):
            raise _Refused(f"tags must be a dict, got {type(item.tags).__name__}")
        if item.title or item.tags:
            extra = (item.title, dict(item.tags) or None)
    elif kind == "event":
        name = _text(item, "event_name").strip()
        if not name:
            raise _Refused("event_name must not be empty")
        if not isinstance(item.event_meta, Mapping):
            raise _Refused(f"event_meta must be a dict, got {type(item.event_meta).__name__}")
        duration = item.event_duration
        if duration is not None and (isinstance(duration, bool)
                                     or not isinstance(duration, (int, float))
                                     or not 0 <= duration < math.inf):
            raise _Refused(f"event_duration must be a number of seconds >= 0 or None, got "
                           f"{duration!r}")
        extra = (name, dict(item.event_meta) or None, duration, bool(item.non_interactive))
    return (ip, _text(item, "user_agent"), url, _text(item, "accept_language"),
            _text(item, "referrer"), moment.timestamp(), extra)


def check_before_send(value: object) -> Callable[[Outgoing], Outgoing | None] | None:
    """``before_send`` as given: None, or a callable (else a ValueError)."""
    if value is not None and not callable(value):
        raise ValueError("before_send must be a callable taking the item about to be sent "
                         "(pirsch_middleware.Outgoing) and returning it, changed or not, or "
                         f"None to drop it; got {type(value).__name__}")
    return value

