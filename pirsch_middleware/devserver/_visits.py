"""From received items to what statistics count: visitors, sessions and their actions.

The rules follow how Pirsch reads the same data, simplified where the receiver lacks its
inputs (no geolocation, no list of referrer names):

- a visitor is one IP and user agent on one (UTC) day;
- a visitor's session ends after 30 minutes without a page view, event or keep-alive;
- a session's referrer and UTM parameters are those of its first action; a referrer on the
  page's own host is internal navigation, not a referrer; without a ``referrer`` field the
  URL's ``ref``, ``referer``, ``referrer``, then ``source`` or ``utm_source`` stand in;
- a session bounces when it has at most one page view and no interactive event;
- time on a page is the time until the session's next page view;
- the domain is the page URL's host name.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from .._auth import parse_rfc3339
from ._agents import parse_agent

if TYPE_CHECKING:
    from ._server import Received

__all__ = ["Action", "Visit", "actions_of", "domain_id", "hostname_of", "item_time"]

SESSION_GAP = timedelta(minutes=30)
_REFERRER_PARAMS = ("ref", "referer", "referrer", "source", "utm_source")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True)
class Visit:
    """What the actions of one session share."""

    referrer: str = ""
    referrer_name: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    entry_path: str = ""
    exit_path: str = ""
    bounced: bool = False
    events: tuple[tuple[str, dict[str, str]], ...] = ()  # (name, meta) of each event


@dataclass(frozen=True)
class Action:
    """One page view or event, with every value the statistics group or filter by."""

    kind: Literal["hit", "event"]
    time: datetime  # aware, UTC
    visitor: str
    session: int
    hostname: str
    path: str
    title: str
    language: str
    browser: str
    browser_version: str
    os: str
    os_version: str
    platform: str
    tags: dict[str, str]
    event_name: str = ""
    event_meta: dict[str, str] = field(default_factory=dict)
    event_duration: int = 0
    interactive: bool = True
    visit: Visit = Visit()  # filled in once the session is complete
    entry: bool = False  # the session's first page view
    exit: bool = False  # its last
    time_on_page: int | None = None  # seconds until the next page view, if there was one


def item_time(entry: Received) -> datetime:
    """When an item happened: its ``time``, or when it arrived if it was sent without one."""
    text = entry.item.get("time")
    if isinstance(text, str):
        return parse_rfc3339(text).astimezone(timezone.utc)
    return datetime.fromtimestamp(entry.received_at, timezone.utc)


def hostname_of(item: dict[str, Any]) -> str:
    return (urlsplit(str(item.get("url", ""))).hostname or "").lower()


def domain_id(hostname: str) -> str:
    """A stable ID for the domain of a host name, shaped like Pirsch's (10 characters)."""
    return hashlib.sha256(hostname.encode()).hexdigest()[:10]


def actions_of(received: Iterable[Received], hostname: str) -> list[Action]:
    """The page views and events on ``hostname``, in time order, each knowing its session."""
    activity: dict[tuple[str, str, str], list[tuple[datetime, int, Received]]] = \
        defaultdict(list)
    for order, entry in enumerate(received):
        if entry.kind != "session" and hostname_of(entry.item) != hostname:
            continue
        when = item_time(entry)
        visitor = (str(entry.item["ip"]), str(entry.item["user_agent"]), when.date().isoformat())
        activity[visitor].append((when, order, entry))
    actions: list[Action] = []
    number = 0
    for visitor, timeline in activity.items():
        timeline.sort(key=lambda step: step[:2])
        visitor_id = _visitor_id(visitor)
        session: list[tuple[datetime, Received]] = []
        last: datetime | None = None
        for when, _, entry in timeline:
            if last is not None and when - last > SESSION_GAP:
                number += 1
                actions += _session(session, visitor_id, number)
                session = []
            session.append((when, entry))
            last = when
        number += 1
        actions += _session(session, visitor_id, number)
    actions.sort(key=lambda action: action.time)
    return actions


def _visitor_id(visitor: tuple[str, str, str]) -> str:
    # A uint64, as Pirsch's visitor IDs are (sent as a string).
    digest = hashlib.sha256("\n".join(visitor).encode()).digest()
    return str(int.from_bytes(digest[:8], "big"))


def _session(steps: list[tuple[datetime, Received]], visitor: str, number: int) -> list[Action]:
    actions = [_action(entry, when, visitor, number) for when, entry in steps
               if entry.kind != "session"]
    if not actions:  # keep-alives only: no visit to count
        return []
    views = [action for action in actions if action.kind == "hit"]
    pages = views or actions
    first = next(entry for _, entry in steps if entry.kind != "session").item
    referrer, referrer_name = _referrer(first, actions[0].hostname)
    query = parse_qs(urlsplit(str(first["url"])).query)
    visit = Visit(
        referrer, referrer_name, {name: query[name][0] for name in UTM_FIELDS if query.get(name)},
        pages[0].path, pages[-1].path,
        bounced=len(views) <= 1 and not any(a.interactive for a in actions if a.kind == "event"),
        events=tuple((a.event_name, a.event_meta) for a in actions if a.kind == "event"))
    following = {id(view): later.time for view, later in itertools.pairwise(views)}
    return [replace(action, visit=visit, entry=bool(views) and action is views[0],
                    exit=bool(views) and action is views[-1],
                    time_on_page=round((following[id(action)] - action.time).total_seconds())
                    if id(action) in following else None)
            for action in actions]


def _action(entry: Received, when: datetime, visitor: str, session: int) -> Action:
    item = entry.item
    url = urlsplit(str(item["url"]))
    agent = parse_agent(str(item["user_agent"]), str(item.get("sec_ch_ua_mobile", "")))
    language = str(item.get("accept_language", "")).split(",")[0].split(";")[0]
    language = language.strip().split("-")[0].lower()
    meta = item.get("event_meta") or {}
    return Action(
        kind="event" if entry.kind == "event" else "hit", time=when, visitor=visitor,
        session=session, hostname=(url.hostname or "").lower(), path=url.path or "/",
        title=str(item.get("title", "")), language=language if language.isalpha() else "",
        browser=agent.browser, browser_version=agent.browser_version, os=agent.os,
        os_version=agent.os_version, platform=agent.platform, tags=dict(item.get("tags") or {}),
        event_name=str(item.get("event_name", "")),
        event_meta={key: _text(value) for key, value in meta.items()},
        event_duration=int(item.get("event_duration", 0)),
        interactive=not item.get("non_interactive", False))


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _referrer(item: dict[str, Any], page_host: str) -> tuple[str, str]:
    """(referrer, referrer name): a URL and its host, or only a name such as "newsletter"."""
    value = str(item.get("referrer", "")).strip()
    if not value:
        query = parse_qs(urlsplit(str(item["url"])).query)
        value = next((query[name][0].strip() for name in _REFERRER_PARAMS if query.get(name)),
                     "")
    if not value:
        return "", ""
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", value
    if parts.scheme not in ("http", "https") or not host:
        return "", value
    if host.removeprefix("www.") == page_host.removeprefix("www."):
        return "", ""  # internal navigation
    return f"{parts.scheme}://{parts.netloc}{parts.path}", host.removeprefix("www.")
