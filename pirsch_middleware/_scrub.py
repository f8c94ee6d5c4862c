"""Query scrubbing: the values of query parameters that commonly carry secrets (a
password-reset token, an OAuth code) are replaced before a URL or referrer leaves the
server, so they never end up in anyone's analytics.

Runs in the flusher. Only values are replaced, and only of the named parameters: every
other byte of the URL stays as the visitor sent it. The parameters Pirsch reads for the
referrer and the campaign (``ref``, ``referer``, ``referrer``, ``source``, ``utm_*``) are
never scrubbed.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_plus

from ._extract import REFERRER_PARAMS

__all__ = ["DEFAULT_SCRUB_QUERY", "REDACTED", "QueryScrubber", "scrub_names"]

# Names, compared without regard to case; the values of these are replaced.
DEFAULT_SCRUB_QUERY = (
    "token", "access_token", "refresh_token", "id_token", "code", "state", "password",
    "passwd", "secret", "api_key", "apikey", "key", "signature", "sig", "session",
    "sessionid", "auth",
)
REDACTED = "REDACTED"
# What Pirsch reads from the query: the referrer and the UTM campaign parameters.
PROTECTED = frozenset(REFERRER_PARAMS)
PROTECTED_PREFIX = "utm_"
OFF = frozenset({"0", "false", "no", "off"})  # PIRSCH_SCRUB_QUERY=off: scrub nothing


def scrub_names(value: object) -> frozenset[str]:
    """The parameter names of a ``scrub_query`` option: a list of names, or one string
    of names split on commas (the environment variable; ``false``/``off``: none), or
    None for the default list. A name Pirsch reads is refused with a ValueError."""
    if value is None:
        return frozenset(DEFAULT_SCRUB_QUERY)
    if isinstance(value, str):
        if value.strip().lower() in OFF:
            return frozenset()
        names: Iterable[object] = value.split(",")
    elif isinstance(value, Iterable):
        names = value
    else:
        raise ValueError(f"scrub_query must be a list of query parameter names, e.g. "
                         f"['token', 'code'], or [] for none; got {value!r}")
    found: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"scrub_query must be a list of query parameter names, got "
                             f"{name!r} in it")
        clean = name.strip().lower()
        if not clean:
            continue
        if clean in PROTECTED or clean.startswith(PROTECTED_PREFIX):
            raise ValueError(
                f"scrub_query: {clean!r} is a parameter Pirsch reads (the referrer or a UTM "
                "campaign parameter) and is never scrubbed; to change it, use before_send")
        found.add(clean)
    return frozenset(found)


class QueryScrubber:
    """Replaces the values of the named query parameters in a URL::

        QueryScrubber({"token"})("https://example.com/reset?token=abc&step=2")
        # 'https://example.com/reset?token=REDACTED&step=2'
    """

    __slots__ = ("names",)

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(name.lower() for name in names)

    def __call__(self, url: str) -> str:
        """``url`` with the named parameters' values replaced by ``REDACTED``."""
        if "?" not in url:  # nearly always: nothing to look at
            return url
        base, _, query = url.partition("?")
        query, hash_mark, fragment = query.partition("#")
        parts = query.split("&")
        names = self.names
        changed = False
        for index, part in enumerate(parts):
            name, equals, value = part.partition("=")
            if not value or value == REDACTED:
                continue
            key = name.lower()
            if "%" in key or "+" in key:  # an encoded name (api%5Fkey) means the same
                key = unquote_plus(key)
            if key in names:
                parts[index] = name + equals + REDACTED
                changed = True
        if not changed:
            return url
        return base + "?" + "&".join(parts) + hash_mark + fragment
