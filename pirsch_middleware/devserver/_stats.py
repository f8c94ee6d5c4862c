"""Statistics computed from what the receiver received, in the API's response shapes.

It answers the endpoints ``Client`` and the ``pirsch`` command use most (the domain list,
total, visitors over time, pages, entry and exit pages, referrers, events, browsers,
operating systems, languages, active visitors) and a few that come for free from the same
data (versions, platforms, host names, UTM parameters, event lists, filter options). Any
other statistics endpoint is answered 501, naming the ones it has. ``_visits`` says how
visitors, sessions and bounces are counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ._query import DEFAULT_START, Query, QueryError, parse_query
from ._visits import UTM_FIELDS, Action, actions_of, domain_id, hostname_of, item_time

if TYPE_CHECKING:
    from ._server import Received

__all__ = ["ENDPOINTS", "UnknownDomain", "answer"]

Row = dict[str, Any]
K = TypeVar("K", bound=Hashable)


class UnknownDomain(LookupError):
    """The ``id`` names no domain the receiver has seen a page view or event for."""


@dataclass(frozen=True)
class Data:
    query: Query
    selected: list[Action]  # on the domain, in the period, selected by every filter
    base: list[Action]  # the same, but not narrowed by event and meta_* (what cr divides by)
    now: datetime

    @property
    def hits(self) -> list[Action]:
        return [a for a in self.selected if a.kind == "hit"]

    @property
    def events(self) -> list[Action]:
        return [a for a in self.selected if a.kind == "event"]


def _group(actions: Iterable[Action], key: Callable[[Action], K]) -> dict[K, list[Action]]:
    groups: dict[K, list[Action]] = defaultdict(list)
    for action in actions:
        groups[key(action)].append(action)
    return groups


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _visitors(actions: Iterable[Action]) -> int:
    return len({a.visitor for a in actions})


def _traffic(hits: Sequence[Action]) -> Row:
    sessions = {a.session for a in hits}
    bounces = len({a.session for a in hits if a.visit.bounced})
    return {"visitors": _visitors(hits), "views": len(hits), "sessions": len(sessions),
            "bounces": bounces, "bounce_rate": _share(bounces, len(sessions))}


def _average_time(data: Data, hits: Iterable[Action]) -> int:
    if not data.query.include_avg_time_on_page:
        return 0  # as the API: only when asked for
    spent = [a.time_on_page for a in hits if a.time_on_page is not None]
    return round(sum(spent) / len(spent)) if spent else 0


def _page(hits: list[Action]) -> Row:
    return {"hostname": hits[0].hostname, "path": hits[0].path, "title": hits[-1].title}


# -- endpoints -------------------------------------------------------------------------------

def total(data: Data) -> Row:
    return _traffic(data.hits)


def visitors(data: Data) -> list[Row]:
    query, scale = data.query, data.query.scale
    assert query.from_date is not None  # a period endpoint: from and to are required
    assert query.to_date is not None
    by_period = _group(data.hits, lambda a: _period_start(query.local_date(a), scale))
    rows, start = [], _period_start(query.from_date, scale)
    while start <= query.to_date:  # every period, with or without visitors
        stamp = f"{start.isoformat()}T00:00:00Z"
        rows.append({**dict.fromkeys(("day", "week", "month", "year")), scale: stamp,
                     **_traffic(by_period.get(start, []))})
        start = _next_period(start, scale)
    return rows


def _period_start(day: date, scale: str) -> date:
    if scale == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if scale == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1) if scale == "year" else day


def _next_period(start: date, scale: str) -> date:
    if scale in ("day", "week"):
        return start + timedelta(days=1 if scale == "day" else 7)
    if scale == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def pages(data: Data) -> list[Row]:
    hits = data.hits
    all_visitors = _visitors(hits)
    return [{**_page(group), **(traffic := _traffic(group)),
             "relative_visitors": _share(traffic["visitors"], all_visitors),
             "relative_views": _share(len(group), len(hits)),
             "average_time_spent_seconds": _average_time(data, group)}
            for group in _group(hits, lambda a: a.path).values()]


def entry_pages(data: Data) -> list[Row]:
    return _ends(data, "entry")


def exit_pages(data: Data) -> list[Row]:
    return _ends(data, "exit")


def _ends(data: Data, end: str) -> list[Row]:
    """Sessions that entered (or left) on each page: ``sessions`` counts those that viewed
    the page at all, the rate is a share of all sessions."""
    hits = data.hits
    all_sessions = len({a.session for a in hits})
    viewed = {path: {a.session for a in group}
              for path, group in _group(hits, lambda a: a.path).items()}
    rows = []
    for path, group in _group([a for a in hits if getattr(a, end)], lambda a: a.path).items():
        row = {**_page(group), "visitors": _visitors(group), "sessions": len(viewed[path]),
               "entries" if end == "entry" else "exits": len(group),
               f"{end}_rate": _share(len(group), all_sessions)}
        if end == "entry":
            row["average_time_spent_seconds"] = _average_time(data, group)
        rows.append(row)
    return rows


def referrers(data: Data) -> list[Row]:
    hits = data.hits
    all_visitors = _visitors(hits)
    rows = []
    by_referrer = _group(hits, lambda a: (a.visit.referrer, a.visit.referrer_name))
    for (referrer, name), group in by_referrer.items():
        traffic = _traffic(group)
        rows.append({"referrer": referrer, "referrer_name": name, "referrer_icon": "",
                     "visitors": traffic["visitors"], "sessions": traffic["sessions"],
                     "relative_visitors": _share(traffic["visitors"], all_visitors),
                     "bounces": traffic["bounces"], "bounce_rate": traffic["bounce_rate"]})
    return rows


def events(data: Data) -> list[Row]:
    all_visitors = _visitors(data.base)
    rows = []
    for name, group in _group(data.events, lambda a: a.event_name).items():
        seen = _visitors(group)
        rows.append({"name": name, "count": len(group), "visitors": seen, "views": len(group),
                     "cr": _share(seen, all_visitors),
                     "average_duration_seconds": round(sum(a.event_duration for a in group)
                                                       / len(group)),
                     "meta_keys": sorted({key for a in group for key in a.event_meta})})
    return rows


def event_list(data: Data) -> list[Row]:
    groups = _group(data.events, lambda a: (a.event_name, tuple(sorted(a.event_meta.items()))))
    return [{"name": name, "meta": dict(meta), "visitors": _visitors(group),
             "count": len(group)} for (name, meta), group in groups.items()]


def _breakdown(*columns: tuple[str, Callable[[Action], str]]) -> Callable[[Data], list[Row]]:
    """Visitors by one value (or a pair: browser and version) and their share of all."""
    def compute(data: Data) -> list[Row]:
        hits = data.hits
        all_visitors = _visitors(hits)
        groups = _group(hits, lambda a: tuple(value(a) for _, value in columns))
        return [{**{name: value for (name, _), value in zip(columns, key, strict=True)},
                 "visitors": (seen := _visitors(group)),
                 "relative_visitors": _share(seen, all_visitors)}
                for key, group in groups.items()]
    return compute


def hostnames(data: Data) -> list[Row]:
    hits = data.hits
    all_visitors = _visitors(hits)
    return [{"hostname": host, **(traffic := _traffic(group)),
             "relative_visitors": _share(traffic["visitors"], all_visitors),
             "relative_views": _share(len(group), len(hits))}
            for host, group in _group(hits, lambda a: a.hostname).items()]


def platforms(data: Data) -> Row:
    hits = data.hits
    all_visitors = _visitors(hits)
    row: Row = {}
    for platform in ("desktop", "mobile", "unknown"):
        seen = _visitors(a for a in hits if a.platform == platform)
        row[f"platform_{platform}"] = seen
        row[f"relative_platform_{platform}"] = _share(seen, all_visitors)
    return row


def active(data: Data) -> Row:
    since = data.now - timedelta(seconds=data.query.start or DEFAULT_START)
    recent = [a for a in data.selected if since <= a.time <= data.now]
    stats = [{**_page(group), "visitors": _visitors(group)}
             for group in _group([a for a in recent if a.kind == "hit"],
                                 lambda a: a.path).values()]
    stats.sort(key=lambda row: (-row["visitors"], row["path"]))
    return {"stats": stats, "countries": [], "visitors": _visitors(recent)}


def _options(value: Callable[[Action], str], kind: str = "hit") -> Callable[[Data], list[str]]:
    def compute(data: Data) -> list[str]:
        return sorted({value(a) for a in data.selected if a.kind == kind} - {""})
    return compute


def _utm(name: str) -> Callable[[Action], str]:
    return lambda a: a.visit.utm.get(name, "")


@dataclass(frozen=True)
class Endpoint:
    compute: Callable[[Data], Any]
    period: bool = True  # needs from and to
    primary: str = ""  # what search looks in, and sorts ties; "" for no list to arrange
    metric: str = "visitors"  # the default sort, largest first


# Path below /api/v1/statistics -> endpoint.
ENDPOINTS: dict[str, Endpoint] = {
    "/total": Endpoint(total),
    "/visitor": Endpoint(visitors),
    "/page": Endpoint(pages, primary="path"),
    "/page/entry": Endpoint(entry_pages, primary="path", metric="entries"),
    "/page/exit": Endpoint(exit_pages, primary="path", metric="exits"),
    "/referrer": Endpoint(referrers, primary="referrer_name"),
    "/events": Endpoint(events, primary="name"),
    "/event/list": Endpoint(event_list, primary="name", metric="count"),
    "/active": Endpoint(active, period=False),
    "/language": Endpoint(_breakdown(("language", lambda a: a.language)), primary="language"),
    "/browser": Endpoint(_breakdown(("browser", lambda a: a.browser)), primary="browser"),
    "/browser/version": Endpoint(_breakdown(("browser", lambda a: a.browser),
                                            ("browser_version", lambda a: a.browser_version)),
                                 primary="browser"),
    "/os": Endpoint(_breakdown(("os", lambda a: a.os)), primary="os"),
    "/os/version": Endpoint(_breakdown(("os", lambda a: a.os),
                                       ("os_version", lambda a: a.os_version)), primary="os"),
    "/platform": Endpoint(platforms),
    "/hostname": Endpoint(hostnames, primary="hostname"),
    **{f"/utm/{name[4:]}": Endpoint(_breakdown((name, _utm(name))), primary=name)
       for name in UTM_FIELDS},
    "/options/page": Endpoint(_options(lambda a: a.path)),
    "/options/event": Endpoint(_options(lambda a: a.event_name, "event")),
    "/options/language": Endpoint(_options(lambda a: a.language)),
    "/options/referrer": Endpoint(_options(lambda a: a.visit.referrer)),
    "/options/referrer/name": Endpoint(_options(lambda a: a.visit.referrer_name)),
    **{f"/options/utm/{name[4:]}": Endpoint(_options(_utm(name))) for name in UTM_FIELDS},
}


def answer(path: str, pairs: Sequence[tuple[str, str]], received: Sequence[Received],
           now: datetime) -> Any:
    """The JSON for ``GET /api/v1<path>?<pairs>``.

    Raises QueryError (400), UnknownDomain (404), NotImplementedError (501).
    """
    if path == "/domain":
        if pairs:
            raise QueryError({name: "unknown parameter" for name, _ in pairs})
        return domains(received)
    endpoint = ENDPOINTS.get(path.removeprefix("/statistics"))
    if not path.startswith("/statistics/") or endpoint is None:
        raise NotImplementedError(
            f"the dev receiver does not compute {path}; it answers /domain and "
            + ", ".join("/statistics" + name for name in ENDPOINTS))
    query = parse_query(pairs, period=endpoint.period)
    hosts = {domain_id(host): host for host in _hostnames(received)}
    if query.domain_id not in hosts:
        raise UnknownDomain(f"no domain {query.domain_id!r} (/api/v1/domain lists them: one "
                            "per host name the receiver got page views or events for)")
    actions = actions_of(received, hosts[query.domain_id])
    in_range: Callable[[Action], bool] = query.in_period
    if query.start is not None and endpoint.period:  # the past seconds instead of from/to
        since = now - timedelta(seconds=query.start)
        query = replace(query, from_date=since.astimezone(query.tz).date(),
                        to_date=now.astimezone(query.tz).date())
        in_range = lambda a: since <= a.time <= now  # noqa: E731
    base = [a for a in actions if (not endpoint.period or in_range(a))
            and query.selects(a, by_event=False)]
    result = endpoint.compute(Data(query, [a for a in base if query.selects(a)], base, now))
    return _arrange(result, query, endpoint) if endpoint.primary else result


def _arrange(rows: list[Row], query: Query, endpoint: Endpoint) -> list[Row]:
    """Search, sort and page a list as the API does (``search``, ``sort``, ``direction``,
    ``offset``, ``limit``)."""
    if query.search:
        rows = [r for r in rows if query.search.lower() in str(r[endpoint.primary]).lower()]
    key = query.sort or endpoint.metric
    sortable = [name for name, value in rows[0].items()
                if isinstance(value, (str, int, float))] if rows else [key]
    if key not in sortable:
        raise QueryError({"sort": f"must be one of {', '.join(sortable)}"})
    rows.sort(key=lambda row: str(row[endpoint.primary]))
    rows.sort(key=lambda row: row[key], reverse=(query.direction or "desc") == "desc")
    end = None if query.limit is None else query.offset + query.limit
    return rows[query.offset:end]


def _hostnames(received: Iterable[Received]) -> dict[str, datetime]:
    """Each host name that page views or events were received for, and the first one's time."""
    first: dict[str, datetime] = {}
    for entry in received:
        host = hostname_of(entry.item) if entry.kind != "session" else ""
        if host:
            when = item_time(entry)
            first[host] = min(when, first.get(host, when))
    return first


def domains(received: Iterable[Received]) -> list[Row]:
    """One domain (dashboard) per host name, as the API lists them."""
    rows = []
    for host, since in _hostnames(received).items():
        stamp = since.isoformat().replace("+00:00", "Z")
        rows.append({
            "id": domain_id(host), "def_time": stamp, "mod_time": stamp, "user_id": None,
            "hostname": host, "subdomain": host.replace(".", "-"), "identification_code": "",
            "public": False, "google_user_id": None, "google_user_email": None,
            "gsc_domain": None, "new_owner": None, "timezone": "UTC", "group_by_title": False,
            "active_visitors_seconds": 600, "disable_scripts": False,
            "statistics_start": stamp, "imported_statistics": False, "custom_domain": None,
            "display_name": host, "user_role": "Owner", "subscription_active": True})
    return rows
