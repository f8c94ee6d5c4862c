"""Options: keyword arguments first, then ``PIRSCH_*`` environment variables, then defaults.

Everything is validated here, at construction, so a bad value fails at start-up with a
message that says what to fix instead of surfacing later on the request path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._auth import DEFAULT_BASE_URL, Credentials, normalize_base_url
from ._proxies import TrustedProxies

__all__ = ["TrackerOptions", "env_bool", "env_value", "split_options"]

T = TypeVar("T")

# Defaults, and why:
# - flush every 2 s: Pirsch's live view ("active visitors") stays current, and at low
#   traffic that is still only one request every 2 s per process.
# - batches of up to 250: about 125 KB of JSON. Each request costs the flusher about 0.5 ms
#   of CPU whatever its size, so larger batches cost the server less per hit; a 413 makes
#   the tracker send smaller ones from then on.
# - up to 10,000 items (about 5 MB) held through an outage: minutes of a busy site.
# - 5 s timeout: what Pirsch's official SDKs use.
# - 5 s for the exit/shutdown flush: a deploy should not hang on an unreachable API.
DEFAULT_FLUSH_INTERVAL = 2.0
DEFAULT_BATCH_SIZE = 250
DEFAULT_MAX_QUEUE = 10_000
DEFAULT_TIMEOUT = 5.0
DEFAULT_SHUTDOWN_TIMEOUT = 5.0

TRACKER_OPTIONS = frozenset({
    "client_id", "client_secret", "access_key", "base_url", "trusted_proxies",
    "flush_interval", "batch_size", "max_queue", "timeout", "shutdown_timeout",
    "respect_dnt", "filter_bots", "transport", "forwarded_host",
})
RULE_OPTIONS = frozenset({
    "exclude", "default_excludes", "track_methods", "track_content_types", "should_track",
})


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split middleware keyword arguments into (tracker options, request rule options)."""
    unknown = set(options) - TRACKER_OPTIONS - RULE_OPTIONS
    if unknown:
        known = ", ".join(sorted(TRACKER_OPTIONS | RULE_OPTIONS))
        raise TypeError(f"unknown Pirsch option(s) {', '.join(sorted(unknown))}; known: {known}")
    tracker = {k: v for k, v in options.items() if k in TRACKER_OPTIONS}
    rules = {k: v for k, v in options.items() if k in RULE_OPTIONS}
    return tracker, rules


def env_value(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get("PIRSCH_" + name.upper())
    return value.strip() if value is not None and value.strip() else None


def env_bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false (1/0, yes/no, on/off), got {value!r}")


def _number(value: object, name: str, kind: Callable[[Any], T], *, minimum: float) -> T:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not number >= minimum:  # type: ignore[operator]
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return number


@dataclass(frozen=True)
class TrackerOptions:
    """Validated tracker settings (delivery, credentials, how hits are read and filtered)."""

    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    batch_size: int = DEFAULT_BATCH_SIZE
    max_queue: int = DEFAULT_MAX_QUEUE
    timeout: float = DEFAULT_TIMEOUT
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    respect_dnt: bool = True
    filter_bots: bool = True
    forwarded_host: bool = False  # the trusted proxies set X-Forwarded-Host / Forwarded host=

    @classmethod
    def build(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None,
              ) -> TrackerOptions:
        """From keyword arguments, falling back to ``PIRSCH_*`` variables in ``environ``."""
        env = os.environ if environ is None else environ

        def pick(name: str) -> Any:
            value = options.get(name)
            return value if value is not None else env_value(env, name)

        credentials = Credentials.resolve(
            client_id=options.get("client_id"),
            client_secret=options.get("client_secret"),
            access_key=options.get("access_key"),
            environ=env,
        )
        base_url = normalize_base_url(pick("base_url") or DEFAULT_BASE_URL)
        proxies = pick("trusted_proxies")
        trusted = proxies if isinstance(proxies, TrustedProxies) else TrustedProxies(proxies)
        values: dict[str, Any] = {}
        for name, kind, minimum in (("flush_interval", float, 0.01), ("timeout", float, 0.1),
                                    ("shutdown_timeout", float, 0.0),
                                    ("batch_size", int, 1), ("max_queue", int, 1)):
            raw = pick(name)
            if raw is not None:
                values[name] = _number(raw, name, kind, minimum=minimum)
        for name in ("respect_dnt", "filter_bots", "forwarded_host"):
            raw = pick(name)
            if raw is not None:
                values[name] = env_bool(raw, name)
        built = cls(credentials=credentials, base_url=base_url, trusted_proxies=trusted,
                    **values)
        if built.batch_size > built.max_queue:
            raise ValueError(f"batch_size ({built.batch_size}) must not exceed max_queue "
                             f"({built.max_queue})")
        return built
