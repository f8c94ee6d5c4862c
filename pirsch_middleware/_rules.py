"""Everything that decides what is tracked, and why not.

``Rules`` decides while the request is served, from values already at hand: the method
and path when the request arrives, the status and content type when the response starts.
``VisitorRules`` decides what needs the headers read (no user agent, bots, Do-Not-Track,
prefetches, no usable IP, browser navigations) later, in the flusher, off the request
path. Each decision can say why not, in the words of ``REASONS`` (what a debug log or a
test recorder shows).

Browser navigations are decided in two steps so that the request path never scans
headers: a response that only a navigation makes a page view (a ``304``, no content type)
is queued as a hit carrying the reason it is none otherwise (``IF_NAVIGATION``), and the
flusher keeps it when ``Sec-Fetch-Dest``/``Sec-Fetch-Mode`` say the browser navigated;
any hit whose ``Sec-Fetch-*`` say the browser did not (a ``fetch()``, a script, an image,
a frame) is not sent. Without those headers today's rules stand.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ._config import env_bool, env_value

if TYPE_CHECKING:
    from ._extract import RequestData

logger = logging.getLogger("pirsch_middleware")

__all__ = ["DEFAULT_EXCLUDED_PREFIXES", "IF_NAVIGATION", "REASONS", "PageView", "Rules",
           "VisitorRules", "is_bot", "is_untyped", "navigation", "page_reason"]

# Why a request is not a page view (or an item is not sent), as logs and tests name it.
METHOD, EXCLUDED, STATUS, CONTENT_TYPE, SHOULD_TRACK, DONT_TRACK = (
    "method", "excluded path", "status", "content type", "should_track", "dont_track")
NO_RESPONSE = "no response"  # the app raised before answering
NO_USER_AGENT, NO_IP, DNT, BOT, PREFETCH = (
    "no user agent", "no valid client IP", "Do-Not-Track", "bot", "prefetch")
# A page view only if the browser navigated to it, and no page view otherwise: a 304, or
# a response without a (or with a generic) content type. Queued as hits that carry this.
NOT_MODIFIED, UNTYPED = "304, not a navigation", "no content type, not a navigation"
IF_NAVIGATION = frozenset({NOT_MODIFIED, UNTYPED})
NOT_NAVIGATION = "not a navigation"  # Sec-Fetch-*: a fetch(), script, image, frame...
BEFORE_SEND = "before_send"  # before_send returned None
REASONS = (METHOD, EXCLUDED, STATUS, CONTENT_TYPE, SHOULD_TRACK, DONT_TRACK, NO_RESPONSE,
           NO_USER_AGENT, NO_IP, DNT, BOT, PREFETCH, NOT_MODIFIED, UNTYPED, NOT_NAVIGATION,
           BEFORE_SEND)

DEFAULT_EXCLUDED_PREFIXES = (
    "/static/", "/assets/", "/_next/", "/.well-known/", "/favicon", "/robots.txt",
    "/sitemap", "/apple-touch-icon", "/manifest.json", "/site.webmanifest", "/browserconfig.xml",
)
# Health checks: exact paths, with or without a trailing slash.
DEFAULT_EXCLUDED_PATHS = frozenset(
    p + s for p in ("/health", "/healthz", "/healthcheck", "/ready", "/readyz", "/livez",
                    "/ping", "/status") for s in ("", "/")
)
# Asset extensions, checked case-sensitively: the content-type check catches the rest.
DEFAULT_EXCLUDED_SUFFIXES = (
    ".css", ".js", ".mjs", ".map", ".json", ".xml", ".txt", ".png", ".jpg", ".jpeg", ".gif",
    ".svg", ".ico", ".webp", ".avif", ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".mp3", ".mp4", ".webm", ".ogg", ".wav", ".pdf", ".zip", ".gz", ".tar", ".wasm",
    ".php", ".asp", ".aspx", ".env", ".bak", ".sql",
)
DEFAULT_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
MAX_PATHS = 1024  # paths whose answer is kept; a full cache starts afresh
LONG_PATH = 256  # characters: a longer path is checked each time (none is kept that long)
MAX_CONTENT_TYPES, LONG_CONTENT_TYPE = 64, 128  # the same for content types
# What a browser treats as no content type at all, and sniffs (the MIME Sniffing
# Standard's "unknown" types). application/octet-stream is not among them: a browser
# downloads it instead of showing a page.
UNTYPED_CONTENT_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
# 204 and 205 to a navigation: the browser stays on the page it shows (HTML's navigate).
NO_PAGE_STATUSES = frozenset({204, 205})


@dataclass(frozen=True)
class PageView:
    """What ``should_track`` is shown: ``should_track=lambda pv: pv.status != 203``."""

    method: str
    path: str
    status: int
    content_type: str
    request: Any  # the WSGI environ or ASGI scope


class Rules:
    """Which responses become page views. Built from middleware options::

        Rules(exclude=["/admin/", re.compile(r"^/api/")], track_content_types=None)
    """

    def __init__(
        self,
        *,
        exclude: Iterable[str | re.Pattern[str]] | str | None = None,
        default_excludes: bool | None = None,
        track_methods: Iterable[str] | None = None,
        track_content_types: Iterable[str] | None = DEFAULT_CONTENT_TYPES,
        should_track: Callable[[PageView], bool] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        if exclude is None:
            exclude = env_value(env, "exclude")
        prefixes: list[str] = []
        patterns: list[str] = []
        for entry in _exclude_entries(exclude):
            if isinstance(entry, re.Pattern):
                patterns.append(entry.pattern)
            elif isinstance(entry, str) and entry.startswith("re:"):
                patterns.append(entry[3:])
            elif isinstance(entry, str) and entry.startswith("/"):
                prefixes.append(entry)
            else:
                raise ValueError(
                    f"exclude: {entry!r} is neither a path prefix starting with '/' nor a "
                    "regular expression (a re.Pattern, or a string 're:...'). A string of "
                    "several entries is split on commas, except a 're:' entry, which takes "
                    "the rest of the string, commas included: put it last")
        try:
            self.exclude_regex = re.compile("|".join(f"(?:{p})" for p in patterns)) \
                if patterns else None
        except re.error as exc:
            raise ValueError(f"exclude: bad regular expression: {exc}") from None
        if default_excludes is None:
            raw = env_value(env, "default_excludes")
            default_excludes = True if raw is None else env_bool(raw, "default_excludes")
        self.default_excludes = default_excludes
        self.prefixes = tuple(prefixes) + (DEFAULT_EXCLUDED_PREFIXES if default_excludes else ())
        self.paths = DEFAULT_EXCLUDED_PATHS if default_excludes else frozenset()
        self.suffixes = DEFAULT_EXCLUDED_SUFFIXES if default_excludes else ()
        methods = ("GET",) if track_methods is None else tuple(track_methods)
        if isinstance(track_methods, str) or not all(isinstance(m, str) for m in methods):
            raise ValueError("track_methods must be a list of HTTP methods, e.g. ['GET']")
        self.methods = frozenset(m.upper() for m in methods)
        if track_content_types is None:
            self.content_types: tuple[str, ...] | None = None
        elif isinstance(track_content_types, str):
            raise ValueError("track_content_types must be a list, e.g. ['text/html'], or None")
        else:
            self.content_types = tuple(t.lower() for t in track_content_types)
        if should_track is not None and not callable(should_track):
            raise ValueError("should_track must be a callable taking a PageView and "
                             "returning a bool")
        self.should_track = should_track
        # path -> is_candidate's answer for it (Lifecycle.start looks here first)
        self.candidates: dict[str, bool] = {}
        self._typed: dict[str, bool] = {}  # content type -> _is_typed's answer for it
        # The content types of which a 2xx response is a page view whatever its request:
        # those typed, while no should_track is to be asked (_lifecycle.respond reads it).
        self.page_types: set[str] = set()

    def is_candidate(self, method: str, path: str) -> bool:
        """Could this request become a page view? (decided when it arrives)."""
        try:
            if method not in self.methods:
                return False
            known = self.candidates.get(path)  # a site's paths repeat: each is checked once
        except TypeError:  # unhashable: what no server should send (PEP 3333 says str)
            return False
        if known is None:
            known = self._path_is_candidate(path)
            if len(path) <= LONG_PATH:
                if len(self.candidates) >= MAX_PATHS:
                    self.candidates.clear()
                self.candidates[path] = known
        return known

    def _path_is_candidate(self, path: str) -> bool:
        if path.__class__ is not str:  # bytes...: what no server should send
            return False
        if path.startswith(self.prefixes) or path.endswith(self.suffixes) or path in self.paths:
            return False
        regex = self.exclude_regex
        return regex is None or regex.search(path) is None

    def candidate_reason(self, method: str, path: str) -> str | None:
        """Why this request cannot be a page view (the slow twin of ``is_candidate``)."""
        if method.__class__ is not str or method not in self.methods:
            return METHOD
        return None if self.is_candidate(method, path) else EXCLUDED

    def response_reason(self, status: int, content_type: str, method: str, path: str,
                        request: Any) -> str | None:
        """Why this response is not a page view, or None when it is: 2xx, an HTML content
        type (unless disabled), and whatever ``should_track`` says. A failing
        ``should_track`` means no. A response that is a page view only as a browser
        navigation (a 304, or no content type: ``IF_NAVIGATION``) gets the reason it is
        none otherwise, after ``should_track`` said yes; the flusher decides it."""
        if 200 <= status < 300:
            try:  # a site's content types repeat
                typed = self._typed[content_type]
            except (KeyError, TypeError):
                typed = self._is_typed(content_type)
            if typed:
                reason = None
            elif is_untyped(content_type) and status not in NO_PAGE_STATUSES:
                reason = UNTYPED
            else:
                return CONTENT_TYPE
        elif status == 304 and (self._is_typed(content_type) or is_untyped(content_type)):
            reason = NOT_MODIFIED
        else:
            return STATUS
        if self.should_track is None:
            return reason
        try:
            if self.should_track(PageView(method, path, status, content_type, request)):
                return reason
        except Exception:
            logger.exception("should_track raised; not tracking %s", path)
        return SHOULD_TRACK

    def _is_typed(self, content_type: str) -> bool:
        """Is ``content_type`` one of those tracked (``track_content_types``)?"""
        if content_type.__class__ is not str:  # what no app should send (bytes, None...)
            return False
        types = self.content_types
        typed = types is None or content_type.lower().startswith(types)
        if len(content_type) <= LONG_CONTENT_TYPE:
            if len(self._typed) >= MAX_CONTENT_TYPES:
                self._typed.clear()
                self.page_types.clear()
            self._typed[content_type] = typed
            if typed and self.should_track is None:
                self.page_types.add(content_type)
        return typed

    def is_page_view(self, status: int, content_type: str, method: str, path: str,
                     request: Any) -> bool:
        """Is this response a page? (see ``response_reason``)."""
        return self.response_reason(status, content_type, method, path, request) is None


def is_untyped(content_type: str) -> bool:
    """No content type, or one a browser treats as none (``UNTYPED_CONTENT_TYPES``)."""
    return content_type.__class__ is str \
        and content_type.partition(";")[0].strip().lower() in UNTYPED_CONTENT_TYPES


def _exclude_entries(exclude: Iterable[str | re.Pattern[str]] | str | None,
                     ) -> list[str | re.Pattern[str]]:
    """The entries of ``exclude``: a list as it is; a string split on commas up to a
    're:' entry, which runs to the end (a regular expression may hold commas)."""
    if exclude is None:
        return []
    if not isinstance(exclude, str):
        return list(exclude)
    entries: list[str | re.Pattern[str]] = []
    rest = exclude
    while rest.strip():
        rest = rest.strip()
        if rest.startswith("re:"):
            entries.append(rest)
            break
        entry, _, rest = rest.partition(",")
        if entry.strip():
            entries.append(entry.strip())
    return entries


# Substrings of lower-cased user agents that only bots, scripts, monitors and scanners send.
BOT_TOKENS = (
    "bot/", "crawl", "spider", "slurp", "archiver", "curl/", "wget", "python-requests",
    "python-urllib", "python-httpx", "aiohttp", "httpie", "go-http-client", "java/", "okhttp",
    "apache-httpclient", "libwww", "lwp-", "scrapy", "headlesschrome", "phantomjs",
    "lighthouse", "pagespeed", "pingdom", "uptimerobot", "statuscake", "site24x7",
    "newrelicpinger", "datadog", "kube-probe", "elb-healthchecker", "googlehc", "healthcheck",
    "health-check", "monitor", "nagios", "zabbix", "prometheus", "nmap", "masscan", "zgrab",
    "censys", "nuclei", "nikto", "sqlmap", "facebookexternalhit", "feedfetcher",
    "postmanruntime", "insomnia", "axios/", "node-fetch", "undici",
)
_BOT_WORD = re.compile(r"bot\b")


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """Obvious bots and probes. Cached: real traffic repeats a few thousand agents."""
    ua = user_agent.lower()
    return (ua == "mozilla/5.0" or _BOT_WORD.search(ua) is not None
            or any(token in ua for token in BOT_TOKENS))


_PREFETCH = re.compile(r"prefetch|preview|prerender", re.IGNORECASE)
PURPOSE_HEADERS = ("purpose", "x-purpose", "x-moz", "sec-purpose")


# Sec-Fetch-Dest values of a navigation that shows a page: the window's, and with
# track_frames a frame's. Everything else (empty: fetch()/XHR; script, style, image, font,
# object, embed, worker...) loads a part of a page.
PAGE_DESTINATIONS = frozenset({"document"})
FRAME_DESTINATIONS = frozenset({"iframe", "frame"})


def navigation(dest: str, mode: str, frames: bool = False) -> bool | None:
    """Did the browser navigate to this response, to show it as a page (``frames``: or
    in a frame)? None when it does not say (no ``Sec-Fetch-Dest``/``-Mode``: not a
    browser, or an old one). ``Sec-Fetch-Mode`` alone is what Chrome 76-79 sent.

    >>> navigation("document", "navigate"), navigation("empty", "cors"), navigation("", "")
    (True, False, None)
    """
    if dest:
        if mode and mode != "navigate":
            return False
        return dest in PAGE_DESTINATIONS or (frames and dest in FRAME_DESTINATIONS)
    if mode:
        return mode == "navigate" or (frames and mode == "nested-navigate")
    return None


def page_reason(navigated: bool | None, unless: str | None = None) -> str | None:
    """``VisitorRules.page_reason`` of a request whose ``navigated`` is known."""
    if navigated is None:
        return unless
    return None if navigated else NOT_NAVIGATION


class VisitorRules:
    """Which visitors' requests are not sent, decided from their headers (in the flusher)::

        VisitorRules(respect_dnt=True, filter_bots=True).excluded(request_data)
    """

    def __init__(self, *, respect_dnt: bool = True, filter_bots: bool = True,
                 track_frames: bool = False, test_clients: bool = False) -> None:
        self.respect_dnt = respect_dnt
        self.filter_bots = filter_bots
        self.track_frames = track_frames
        # Frameworks' test clients send no user agent, and Starlette's no peer address; a
        # test recorder takes them for a browser's requests.
        self.test_clients = test_clients

    def page_reason(self, headers: Mapping[str, str], unless: str | None = None,
                    ) -> str | None:
        """Why a queued hit is no page view after all, or None: its ``Sec-Fetch-*`` say
        the browser did not navigate to it. ``unless``: the hit is a page view only as a
        navigation (``IF_NAVIGATION``), and this is why not when the browser does not say.
        """
        return page_reason(self.navigated(headers), unless)

    def navigated(self, headers: Mapping[str, str]) -> bool | None:
        """Did the browser navigate to the response (``navigation``)? None: not said."""
        return navigation(headers.get("sec-fetch-dest", "").lower(),
                          headers.get("sec-fetch-mode", "").lower(), self.track_frames)

    def excluded(self, data: RequestData) -> str | None:
        """Why this visitor's request must not be sent, or None."""
        reason = self.header_reason(data.headers)
        if reason == NO_USER_AGENT:
            return reason
        if data.ip is None and not self.test_clients:
            return NO_IP
        return reason

    def header_reason(self, headers: Mapping[str, str]) -> str | None:
        """``excluded``, as far as the headers tell (all but the IP)."""
        get = headers.get
        ua = get("user-agent")
        if not ua and not self.test_clients:
            return NO_USER_AGENT
        if self.respect_dnt and (get("dnt") == "1" or get("sec-gpc") == "1"):
            return DNT
        if self.filter_bots and ua and is_bot(ua):
            return BOT
        for name in PURPOSE_HEADERS:
            purpose = get(name)
            if purpose and _PREFETCH.search(purpose):
                return PREFETCH
        return None
