"""The visits the integration tests send to every example, and what the receiver must get.

Each ``Visit`` says what it expects: its page view (``hit``) and its events, as the fields
the receiver must have got. Untracked visits (JSON, ``@dont_track``, a 404, a bot, Do Not
Track, a script's user agent) expect nothing. Expected URLs may hold ``{base}``
(``http://127.0.0.1:PORT``) and ``{host}`` (``127.0.0.1:PORT``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pirsch_middleware.devserver import Received

from .harness import client

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SEARCH = "https://duckduckgo.com/"

# The fields compared; one missing from an item compares as None.
FIELDS = ("url", "ip", "user_agent", "referrer", "accept_language", "title", "tags",
          "event_name", "event_meta")
Item = tuple[str, dict[str, Any]]  # (kind, the FIELDS of one item)


def expect(url: str, *, ip: str = "127.0.0.1", user_agent: str = FIREFOX,
           **fields: Any) -> dict[str, Any]:
    """An expected item: FIELDS not given must be absent."""
    unknown = set(fields) - set(FIELDS)
    assert not unknown, f"not compared: {unknown}"
    values: dict[str, Any] = dict.fromkeys(FIELDS)
    values.update(url=url, ip=ip, user_agent=user_agent, **fields)
    return values


@dataclass(frozen=True)
class Visit:
    method: str
    path: str
    headers: Mapping[str, str]
    status: int = 200
    peer: str = "127.0.0.1"  # the address the client connects from
    hit: dict[str, Any] | None = None
    events: Sequence[dict[str, Any]] = field(default_factory=tuple)

    def expected(self, base: str) -> list[Item]:
        """This visit's items, in the order the receiver must get them."""
        host = base.split("://", 1)[1]
        items = ([("hit", self.hit)] if self.hit else []) + [("event", e) for e in self.events]
        return [(kind, {**values, "url": values["url"].format(base=base, host=host)})
                for kind, values in items]


SIGNUP: dict[str, Any] = {"plan": "free", "source": "form"}
DOWNLOAD: dict[str, Any] = {"file": "guide.pdf", "size_kb": 512}
PRICING: dict[str, Any] = {"title": "Pricing plans", "tags": {"section": "pricing"}}


def standard_visits() -> list[Visit]:
    """For servers run with PIRSCH_TRUSTED_PROXIES=127.0.0.1: 127.0.0.2 is an untrusted
    peer whose proxy headers must be ignored."""
    return [
        Visit("GET", "/", {"user-agent": FIREFOX, "referer": SEARCH,
                           "accept-language": "de-DE,de;q=0.9"},
              hit=expect("{base}/", referrer=SEARCH, accept_language="de-DE,de;q=0.9")),
        # through a trusted proxy: the visitor's IP and scheme from its headers
        Visit("GET", "/pricing?utm_source=newsletter",
              {"user-agent": SAFARI, "x-forwarded-for": "198.51.100.23",
               "x-forwarded-proto": "https"},
              hit=expect("https://{host}/pricing?utm_source=newsletter", ip="198.51.100.23",
                         user_agent=SAFARI, referrer="newsletter", **PRICING)),
        # an untrusted peer sending proxy headers: they are ignored
        Visit("GET", "/pricing?via=direct",
              {"user-agent": FIREFOX, "x-forwarded-for": "203.0.113.50",
               "x-forwarded-proto": "https"}, peer="127.0.0.2",
              hit=expect("{base}/pricing?via=direct", ip="127.0.0.2", **PRICING)),
        # a form post: no page view, one event
        Visit("POST", "/signup", {"user-agent": FIREFOX, "referer": SEARCH}, status=303,
              events=[expect("{base}/signup", referrer=SEARCH, event_name="Signup",
                             event_meta=SIGNUP)]),
        # a page view and its event, in that order
        Visit("GET", "/download", {"user-agent": FIREFOX},
              hit=expect("{base}/download"),
              events=[expect("{base}/download", event_name="Download", event_meta=DOWNLOAD)]),
        Visit("GET", "/welcome", {"user-agent": SAFARI, "x-forwarded-for": "198.51.100.23"},
              hit=expect("{base}/welcome", ip="198.51.100.23", user_agent=SAFARI)),
        # not tracked
        Visit("GET", "/api/stats", {"user-agent": FIREFOX}),
        Visit("GET", "/preview", {"user-agent": FIREFOX}),
        Visit("GET", "/missing", {"user-agent": FIREFOX}, status=404),
        Visit("GET", "/static/site.css", {"user-agent": FIREFOX}, status=404),
        Visit("GET", "/", {"user-agent": GOOGLEBOT}),
        Visit("GET", "/", {"user-agent": FIREFOX, "dnt": "1"}),
        Visit("GET", "/", {}),  # httpx's own user agent: a script
    ]


def report_visit() -> Visit:
    """FastAPI's /report: its event comes from a background task after the response."""
    return Visit("GET", "/report", {"user-agent": FIREFOX}, hit=expect("{base}/report"),
                 events=[expect("{base}/report", event_name="Report generated",
                                event_meta={"rows": 3})])


def send(base: str, visits: Iterable[Visit]) -> None:
    """One visit after the other (each answered before the next is sent)."""
    clients: dict[str, Any] = {}
    try:
        for visit in visits:
            if visit.peer not in clients:
                clients[visit.peer] = client(base, peer=visit.peer)
            response = clients[visit.peer].request(visit.method, visit.path,
                                                   headers=dict(visit.headers))
            assert response.status_code == visit.status, (visit, response.text[:300])
    finally:
        for each in clients.values():
            each.close()


def project(entry: Received) -> Item:
    return entry.kind, {name: entry.item.get(name) for name in FIELDS}


def assert_received(received: Sequence[Received], visits: Sequence[Visit], base: str, *,
                    one_process: bool = True) -> None:
    """Every tracked item exactly once, nothing else; each request's hit before its events.
    With one process sending, each kind is in visit order too (kinds go in batches of
    their own, so hits and events need not interleave)."""
    got = [project(entry) for entry in received]
    for entry in received:
        assert entry.item.get("time"), entry  # batches must carry the request's time
    want = [item for visit in visits for item in visit.expected(base)]
    assert sorted(got, key=repr) == sorted(want, key=repr)
    if one_process:
        for kind in ("hit", "event", "session"):
            assert [i for i in got if i[0] == kind] == [i for i in want if i[0] == kind]
    for visit in visits:
        positions = [got.index(item) for item in visit.expected(base)]
        assert positions == sorted(positions), (visit, positions)
