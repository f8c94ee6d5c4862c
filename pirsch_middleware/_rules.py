"""The cheap, request-path half of "is this a page view?".

Decided while the request is served, from values already at hand: the method and path
when the request arrives, the status and content type when the response starts. What
needs header parsing (bots, DNT, prefetch) is decided later by the flusher, off the
request path (see ``_payload``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._config import env_bool, env_value

logger = logging.getLogger("pirsch_middleware")

__all__ = ["DEFAULT_EXCLUDED_PREFIXES", "PageView", "Rules"]

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
        if isinstance(exclude, str):
            exclude = [part.strip() for part in exclude.split(",") if part.strip()]
        prefixes: list[str] = []
        patterns: list[str] = []
        for entry in exclude or ():
            if isinstance(entry, re.Pattern):
                patterns.append(entry.pattern)
            elif isinstance(entry, str) and entry.startswith("re:"):
                patterns.append(entry[3:])
            elif isinstance(entry, str) and entry.startswith("/"):
                prefixes.append(entry)
            else:
                raise ValueError(f"exclude: {entry!r} is neither a path prefix starting with '/' "
                                 "nor a regular expression (a re.Pattern, or a string 're:...')")
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

    def is_candidate(self, method: str, path: str) -> bool:
        """Could this request become a page view? (decided when it arrives)."""
        if method not in self.methods:
            return False
        if path.startswith(self.prefixes) or path.endswith(self.suffixes) or path in self.paths:
            return False
        regex = self.exclude_regex
        return regex is None or regex.search(path) is None

    def is_page_view(self, status: int, content_type: str, method: str, path: str,
                     request: Any) -> bool:
        """Is this response a page? 2xx, an HTML content type (unless disabled), and
        whatever ``should_track`` says. A failing ``should_track`` means no."""
        if not 200 <= status < 300:
            return False
        types = self.content_types
        if types is not None and not content_type.lower().startswith(types):
            return False
        if self.should_track is None:
            return True
        try:
            return bool(self.should_track(PageView(method, path, status, content_type,
                                                   request)))
        except Exception:
            logger.exception("should_track raised; not tracking %s", path)
            return False
