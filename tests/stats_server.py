"""A loopback fake of Pirsch's statistics and management API, answering with the
reference's examples.

``StatsServer().start()`` listens on 127.0.0.1 (a free port) in a thread. It issues oAuth
tokens, refuses any request without a current one (401, as Pirsch does, so clients must
refresh), checks the path and the query string, records every request (with its JSON
body), and answers each statistics path with the example response of ``pirsch-api-v1.md``
(for the endpoints beyond it, the example of Pirsch's current documentation). Management
requests are answered from ``answers`` by method and path (the reference's examples; a test
sets the one it expects), 405 for a known path with another method, 404 otherwise.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .management_examples import EXAMPLES as MANAGEMENT_EXAMPLES
from .management_examples import ROUTES

CLIENT_ID = "c" * 32
CLIENT_SECRET = "s" * 64
DOMAIN_ID = "A5kgYzK14m"
API = "/api/v1"

_TIME = {"day": "2021-05-12T00:00:00Z", "week": None, "month": None, "year": None}
_VISITOR_DAY = {"visitors": 42, "views": 56, "sessions": 48, "bounces": 23,
                "bounce_rate": 0.4791}
_PAGE = {"path": "/home", "title": "Home", "visitors": 42, "views": 56, "sessions": 48,
         "bounces": 23, "relative_visitors": 0.342, "relative_views": 0.298,
         "bounce_rate": 0.765, "average_time_spent_seconds": 42}
_CLIENT_FIELDS = {"language": "en", "country_code": "us", "city": "San Francisco",
                  "referrer": "https://google.com", "referrer_name": "Google",
                  "referrer_icon": "", "os": "Windows", "os_version": "11.0",
                  "browser": "Firefox", "browser_version": "124.0", "desktop": True,
                  "mobile": False, "screen_class": "XXL", "utm_source": "", "utm_medium": "",
                  "utm_campaign": "", "utm_content": "", "utm_term": ""}


def _share(key: str, value: str) -> list[dict[str, Any]]:
    return [{"visitors": 42, "relative_visitors": 0.24, key: value}]


DOMAINS: list[dict[str, Any]] = [
    {"id": DOMAIN_ID, "def_time": "2021-05-22T10:11:12.123456Z",
     "mod_time": "2021-05-22T10:11:12.123456Z", "user_id": "pzy1bjD1lv",
     "hostname": "example.com", "subdomain": "example", "identification_code": "oSdiAe...",
     "public": False, "google_user_id": None, "google_user_email": None, "gsc_domain": None,
     "new_owner": None, "timezone": "Europe/Berlin", "group_by_title": False,
     "active_visitors_seconds": 600, "user_role": ""},
    {"id": "Zx9k2LmQ0p", "def_time": "2022-01-02T03:04:05Z", "mod_time": "2022-01-02T03:04:05Z",
     "hostname": "blog.example.org", "subdomain": "blog", "identification_code": "x",
     "public": True, "timezone": "UTC", "user_role": "Owner"},
]

# API path (below /api/v1) -> example response. The reference's come first, in its order.
EXAMPLES: dict[str, Any] = {
    "/statistics/duration/session": [{**_TIME, "average_time_spent_seconds": 42}],
    "/statistics/duration/page": [{**_TIME, "path": "/home", "average_time_spent_seconds": 42}],
    "/statistics/utm/source": [{"visitors": 42, "relative_visitors": 0.342,
                                "utm_source": "source"}],
    "/statistics/utm/medium": [{"visitors": 42, "relative_visitors": 0.342,
                                "utm_medium": "medium"}],
    "/statistics/utm/campaign": [{"visitors": 42, "relative_visitors": 0.342,
                                  "utm_campaign": "campaign"}],
    "/statistics/utm/content": [{"visitors": 42, "relative_visitors": 0.342,
                                 "utm_content": "content"}],
    "/statistics/utm/term": [{"visitors": 42, "relative_visitors": 0.342, "utm_term": "term"}],
    "/statistics/total": dict(_VISITOR_DAY),
    "/statistics/overview": {"visitors": 42, "views": 56, "visitors_growth": 0.42,
                             "views_growth": 0.57, "member": 7},
    "/statistics/visitor": [
        {**_TIME, **_VISITOR_DAY},
        {**_TIME, "day": "2021-05-13T00:00:00Z", "visitors": 21, "views": 30, "sessions": 25,
         "bounces": 10, "bounce_rate": 0.4},
        {**_TIME, "day": "2021-05-14T00:00:00Z", "visitors": 0, "views": 0, "sessions": 0,
         "bounces": 0, "bounce_rate": 0},
    ],
    "/statistics/page": [dict(_PAGE)],
    "/statistics/page/entry": [{"path": "/home", "title": "Home", "visitors": 42,
                                "sessions": 67, "entries": 56, "entry_rate": 0.298,
                                "average_time_spent_seconds": 42}],
    "/statistics/page/exit": [{"path": "/bye", "title": "Bye", "visitors": 42, "sessions": 67,
                               "exits": 56, "exit_rate": 0.298}],
    "/statistics/event/page": [dict(_PAGE)],
    "/statistics/goals": [{
        "page_goal": {"id": "A5kgYzK14m", "def_time": "2021-05-22T10:11:12.123456Z",
                      "mod_time": "2021-05-22T10:11:12.123456Z", "domain_id": "M03loiem34",
                      "name": "My Conversion Goal", "path_pattern": "/path/**",
                      "pattern": "(?i)^\\/path/[^\\/]+$", "visitor_goal": 5432,
                      "cr_goal": 42.11, "delete_reached": True, "email_reached": True},
        "stats": {"visitors": 432, "views": 563, "cr": 0.065},
    }],
    "/statistics/events": [{"name": "event name", "visitors": 432, "views": 563, "cr": 0.065,
                            "average_duration_seconds": 42, "meta_keys": ["meta", "keys"]}],
    "/statistics/event/meta": [{"name": "event name", "visitors": 432, "views": 563,
                                "cr": 0.065, "average_duration_seconds": 42,
                                "meta_value": "value"}],
    "/statistics/event/list": [
        {"name": "Read article", "meta": {"title": "How We Develop and Operate Pirsch"},
         "visitors": 123, "count": 237},
        {"name": "Read article",
         "meta": {"title": "How to Track the Reading Time of Blog Articles and Registrations"},
         "visitors": 98, "count": 105},
    ],
    "/statistics/growth": {"visitors_growth": 0.34, "views_growth": -0.05,
                           "sessions_growth": 0.32, "bounces_growth": 0.65,
                           "time_spent_growth": 0.45},
    "/statistics/active": {"stats": [{"path": "/home", "visitors": 42}], "visitors": 298},
    "/statistics/hours": [
        {"hour": 0, "visitors": 42, "views": 56, "sessions": 48, "bounces": 23,
         "bounce_rate": 0.4791},
        {"hour": 1, "visitors": 29, "views": 52, "sessions": 21, "bounces": 19,
         "bounce_rate": 0.3219},
    ],
    "/statistics/language": _share("language", "en"),
    "/statistics/referrer": [{"referrer": "Referrer", "referrer_name": "Name",
                              "referrer_icon": "Icon", "visitors": 42, "sessions": 123,
                              "relative_visitors": 0.256, "bounces": 21, "bounce_rate": 0.5}],
    "/statistics/os": _share("os", "Windows"),
    "/statistics/os/version": [{"visitors": 42, "relative_visitors": 0.24, "os": "Windows",
                                "os_version": "10.0"}],
    "/statistics/browser": _share("browser", "Firefox"),
    "/statistics/browser/version": [{"visitors": 42, "relative_visitors": 0.24,
                                     "browser": "Firefox", "browser_version": "89.0"}],
    "/statistics/country": _share("country", "jp"),
    "/statistics/city": _share("city", "London"),
    "/statistics/platform": {"platform_desktop": 457, "platform_mobile": 204,
                             "platform_unknown": 98, "relative_platform_desktop": 0.56,
                             "relative_platform_mobile": 0.34,
                             "relative_platform_unknown": 0.17},
    "/statistics/screen": _share("screen_class", "XXL"),
    "/statistics/keywords": [{"keys": ["key", "word"], "clicks": 456, "impressions": 920,
                              "ctr": 0.49, "position": 4}],
    # Beyond the reference (api-notes.md), with the examples of Pirsch's current docs.
    "/statistics/region": [{"visitors": 42, "relative_visitors": 0.24, "country_code": "jp",
                            "region": "Tokyo"}],
    "/statistics/tags": [{"key": "author", "visitors": 42, "views": 57,
                          "relative_visitors": 0.24, "relative_views": 0.35}],
    "/statistics/tag/details": [{"key": "author", "value": "Alice", "visitors": 42,
                                 "views": 57, "relative_visitors": 0.24,
                                 "relative_views": 0.35}],
    "/statistics/hostname": [{"hostname": "example.com", "visitors": 42, "views": 56,
                              "sessions": 48, "bounces": 23, "relative_visitors": 0.342,
                              "relative_views": 0.298, "bounce_rate": 0.765}],
    "/statistics/channel": [{"channel": "Organic Search", "visitors": 42, "views": 56,
                             "sessions": 48, "relative_visitors": 0.342,
                             "relative_views": 0.298, "bounces": 23, "bounce_rate": 0.765}],
    "/statistics/weekdays": [
        {"weekday": 0, "hour": 0, "visitors": 42, "views": 56, "sessions": 48, "bounces": 23},
        {"weekday": 0, "hour": 1, "visitors": 22, "views": 31, "sessions": 24, "bounces": 5},
    ],
    "/statistics/minutes": [
        {"minute": 0, "visitors": 42, "views": 56, "sessions": 48, "bounces": 23,
         "bounce_rate": 0.4791, "cr": 0.25, "custom_metric_avg": 42.1,
         "custom_metric_total": 598},
        {"minute": 1, "visitors": 29, "views": 52, "sessions": 21, "bounces": 19,
         "bounce_rate": 0.3219, "cr": 0.25, "custom_metric_avg": 42.1,
         "custom_metric_total": 598},
    ],
    "/statistics/funnel": {
        "definition": {"id": "f1", "def_time": "2024-04-01T08:00:00Z",
                       "mod_time": "2024-04-01T08:00:00Z", "domain_id": DOMAIN_ID,
                       "name": "Sign-up",
                       "steps": [{"id": "s1", "funnel_id": "f1", "name": "Pricing", "step": 1,
                                  "filter": {"path": ["/pricing"]}}]},
        "data": [
            {"step": 1, "visitors": 123, "relative_visitors": 1, "previous_visitors": 0,
             "relative_previous_visitors": 0, "dropped": 0, "drop_off": 0},
            {"step": 2, "visitors": 50, "relative_visitors": 0.43, "previous_visitors": 123,
             "relative_previous_visitors": 1, "dropped": 73, "drop_off": 0.57},
        ],
    },
    "/statistics/session/list": [{
        "visitor_id": "12345678901234567890", "session_id": 12345,
        "time": "2024-04-10T15:16:56Z", "start": "2024-04-10T15:03:31Z",
        "duration_seconds": 42, "entry_path": "/", "exit_path": "/pricing", "page_views": 4,
        "is_bounce": False, "entry_title": "Home", "exit_title": "Pricing", **_CLIENT_FIELDS,
        "extended": 0,
    }],
    "/statistics/session/details": [
        {"page_view": {"visitor_id": 12345, "session_id": 12345, "time": "2024-04-10T15:16:56Z",
                       "duration_seconds": 0, "path": "/", "title": "Home", **_CLIENT_FIELDS,
                       "tag_keys": ["author", "abtest"], "tag_values": ["John", "a"]},
         "event": None},
        {"page_view": None,
         "event": {"visitor_id": 12345, "session_id": 12345, "time": "2024-04-10T15:16:56Z",
                   "name": "event", "meta_keys": ["key"], "meta_values": ["value"],
                   "duration_seconds": 42, "path": "/", "title": "Home", **_CLIENT_FIELDS}},
    ],
    # Filter options: the reference gives one example (pages) "for brevity".
    "/statistics/options/utm/source": ["newsletter", "twitter"],
    "/statistics/options/utm/medium": ["email", "social"],
    "/statistics/options/utm/campaign": ["summer-sale"],
    "/statistics/options/utm/content": ["header"],
    "/statistics/options/utm/term": ["search terms"],
    "/statistics/options/referrer/name": ["Google", "Hacker News"],
    "/statistics/options/page": ["/", "/some/path", "/other/path"],
    "/statistics/options/referrer": ["https://news.ycombinator.com/"],
    "/statistics/options/event": ["Button Clicked"],
    "/statistics/options/country": ["de", "jp"],
    "/statistics/options/city": ["Berlin", "Tokyo"],
    "/statistics/options/language": ["de", "en"],
}


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str  # below /api/v1
    query: list[tuple[str, str]]
    authorization: str | None
    body: Any = None  # the decoded JSON body, None when there was none


NO_BODY = b""  # an answer that carries nothing (most management writes)


def _default_answers() -> dict[tuple[str, str], Any]:
    answers: dict[tuple[str, str], Any] = {}
    for name, route in ROUTES.items():  # the first example of a shared route wins
        example = MANAGEMENT_EXAMPLES[name]
        answers.setdefault(route, NO_BODY if example is None else example)
    answers["GET", "/domain"] = DOMAINS  # the statistics tests read two domains
    return answers


class StatsServer:
    """The fake API; use ``with StatsServer() as server:`` or ``start()``/``stop()``.

    ``expect_query`` (a list of pairs) makes statistics requests fail with 400 unless their
    query string is exactly that; ``fail_with(status, body)`` answers the next request with
    an error; ``expire_tokens()`` makes every issued token invalid; ``responses`` (path ->
    JSON) and ``answers`` ((method, path) -> JSON, or ``NO_BODY``) may be changed per test.
    """

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.token_requests = 0
        self.expect_query: list[tuple[str, str]] | None = None
        self.responses = dict(EXAMPLES)
        self.answers = _default_answers()
        self._tokens: set[str] = set()
        self._failure: tuple[int, bytes, str | None] | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # keep-alive connections must not hold up stop()
        # A short poll interval: stop() waits for it, and a test suite stops many servers.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True, name="stats-server")

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StatsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget requests, expectations and changed responses (tokens stay valid)."""
        self.requests.clear()
        self.expect_query = None
        self.responses = dict(EXAMPLES)
        self.answers = _default_answers()
        self._failure = None

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def fail_with(self, status: int, body: Any, *, path: str | None = None) -> None:
        """Answer the next authorized request (to ``path``, if given) with this error."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._failure = (status, raw, path)

    @property
    def statistics_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.path != "/token"]

    # -- request handling (on the server's threads) ----------------------------------------

    def _token(self, body: bytes) -> tuple[int, Any]:
        self.token_requests += 1
        try:
            data = json.loads(body)
        except ValueError:
            return 400, {"error": ["request body is not JSON"]}
        if data != {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}:
            return 401, {"error": ["the client ID or secret is wrong"]}
        with self._lock:
            token = f"token-{self.token_requests}"
            self._tokens.add(token)
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        return 200, {"access_token": token,
                     "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%f123Z")}

    def _serve(self, seen: Seen) -> tuple[int, Any]:
        with self._lock:
            auth = seen.authorization
            authorized = auth is not None and auth.removeprefix("Bearer ") in self._tokens
        if not authorized:
            return 401, {"error": ["unauthorized"]}
        if self._failure is not None and self._failure[2] in (None, seen.path):
            status, body, _ = self._failure
            self._failure = None
            return status, body
        if seen.method == "GET" and seen.path.startswith("/statistics/"):
            return self._statistics(seen.path, seen.query)
        if (seen.method, seen.path) in self.answers:
            return 200, self.answers[seen.method, seen.path]
        if any(path == seen.path for _, path in self.answers):
            return 405, {"error": [f"method {seen.method} not allowed"]}
        return 404, {"error": [f"no such endpoint: {seen.path}"]}

    def _statistics(self, path: str, query: list[tuple[str, str]]) -> tuple[int, Any]:
        if path not in self.responses:
            return 404, {"error": [f"no such endpoint: {path}"]}
        params = dict(query)
        if params.get("id") != DOMAIN_ID:
            return 404, {"error": ["domain not found"]}
        for name in ("from", "to"):
            try:
                if name in params:
                    date.fromisoformat(params[name])
            except ValueError:
                return 400, {"validation": {name: "must be YYYY-MM-DD"}}
        if self.expect_query is not None and query != self.expect_query:
            return 400, {"error": [f"query {query} is not the expected {self.expect_query}"]}
        return 200, self.responses[path]


def _handler(server: StatsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Buffer the response so headers and body leave in one segment: written apart, they
        # meet delayed ACKs and every request takes 40 ms. handle_one_request flushes.
        wbufsize = -1

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if url.path == API + "/token" and method == "POST":
                server.requests.append(Seen("POST", "/token", [], None))
                self._answer(*server._token(raw))
                return
            body = None
            if raw:
                if self.headers.get("Content-Type") != "application/json":
                    self._answer(415, {"error": ["the body must be application/json"]})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._answer(400, {"error": ["the body is not JSON"]})
                    return
            seen = Seen(method, url.path.removeprefix(API),
                        parse_qsl(url.query, keep_blank_values=True),
                        self.headers.get("Authorization"), body)
            server.requests.append(seen)
            if not url.path.startswith(API + "/"):
                self._answer(404, {"error": ["not found"]})
            else:
                self._answer(*server._serve(seen))

        def _answer(self, status: int, body: Any) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; the server records requests instead

    return Handler
