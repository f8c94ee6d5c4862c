"""Options: keyword arguments first, then ``PIRSCH_*`` environment variables, then defaults.

Everything is validated here, at construction, so a bad value fails at start-up with a
message that says what to fix instead of surfacing later on the request path.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._auth import DEFAULT_BASE_URL, Credentials, normalize_base_url, redact_url
from ._logs import logger
from ._outgoing import Outgoing, check_before_send
from ._proxies import TrustedProxies
from ._scrub import DEFAULT_SCRUB_QUERY, scrub_names

__all__ = ["TrackerOptions", "check_option_names", "env_bool", "env_value", "split_options"]

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
    "respect_dnt", "filter_bots", "transport", "forwarded_host", "enabled", "debug",
    "client_ip_header", "scrub_query", "before_send", "track_frames",
})
RULE_OPTIONS = frozenset({
    "exclude", "default_excludes", "track_methods", "track_content_types", "should_track",
})


OPTIONS_HELP = "the Options table of the README (https://pypi.org/project/pirsch-middleware/)"
# PIRSCH_* variables read by the package besides the options': credentials, the CLI's.
_OTHER_VARIABLES = frozenset({"PIRSCH_CLIENT_ID", "PIRSCH_CLIENT_SECRET", "PIRSCH_ACCESS_KEY",
                              "PIRSCH_DOMAIN"})
ENVIRONMENT_VARIABLES = _OTHER_VARIABLES | {
    "PIRSCH_" + name.upper() for name in TRACKER_OPTIONS | RULE_OPTIONS
    if name not in ("transport", "should_track", "track_methods", "track_content_types",
                    "before_send")}


def closest(name: str, known: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the known name closest to a misspelled one, or "". """
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""


def check_option_names(names: Iterable[str], known: Iterable[str], where: str) -> None:
    """A ``TypeError`` naming each unknown option, the closest known one, and where the
    options are listed."""
    known = frozenset(known)
    unknown = sorted(set(names) - known)
    if unknown:
        wrong = "; ".join(f"{name!r}{closest(name, known)}" for name in unknown)
        raise TypeError(f"{where} got unknown option(s): {wrong}. The options are listed in "
                        f"{OPTIONS_HELP}")


def split_options(options: Mapping[str, Any], where: str = "Pirsch",
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split middleware keyword arguments into (tracker options, request rule options)."""
    check_option_names(options, TRACKER_OPTIONS | RULE_OPTIONS, where)
    tracker = {k: v for k, v in options.items() if k in TRACKER_OPTIONS}
    rules = {k: v for k, v in options.items() if k in RULE_OPTIONS}
    return tracker, rules


_warned_variables: set[str] = set()


def warn_unknown_variables(environ: Mapping[str, str]) -> None:
    """Warn, once per name and process, of ``PIRSCH_*`` variables nothing reads: a typo
    (``PIRSCH_ACESS_KEY``) would otherwise be ignored without a word."""
    for name in environ:
        if name.startswith("PIRSCH_") and name not in ENVIRONMENT_VARIABLES \
                and name not in _warned_variables:
            _warned_variables.add(name)
            logger.warning("Pirsch: the environment variable %s is not one Pirsch reads%s; "
                           "it is ignored", name, closest(name, ENVIRONMENT_VARIABLES))


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


_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
# Read already (from trusted proxies only), or not about the visitor's address.
_READ_ALREADY = frozenset({"x-forwarded-for", "forwarded", "x-forwarded-proto",
                           "x-forwarded-host", "host"})


def header_name(value: object) -> str | None:
    """``client_ip_header`` as given (``CF-Connecting-IP``): its lower-case name."""
    if value is None:
        return None
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value.strip()):
        raise ValueError("client_ip_header must be the name of a header that holds the "
                         "visitor's address, with dashes, e.g. 'CF-Connecting-IP', "
                         f"'True-Client-IP' or 'Fastly-Client-IP'; got {value!r}")
    name = value.strip().lower()
    if name in _READ_ALREADY:
        raise ValueError(f"client_ip_header: {value!r} is not a header that names the "
                         "visitor alone (X-Forwarded-For and Forwarded are read already, "
                         "from trusted_proxies); use the header your CDN sets, e.g. "
                         "'CF-Connecting-IP'")
    return name


def _number(value: object, name: str, kind: Callable[[Any], T], *, minimum: float) -> T:
    what = "a whole number" if kind is int else "a number"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    try:
        number = float(value) if isinstance(value, str) else value
        if not isinstance(number, (int, float)) or not math.isfinite(number):
            raise ValueError
        if kind is int and number != int(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not number >= minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return kind(number)


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
    enabled: bool = True  # False: off, even with credentials (CI, staging)
    debug: bool = False  # a readable INFO line per item sent or not sent
    client_ip_header: str | None = None  # lower-case: a CDN's header naming the visitor
    scrub_query: frozenset[str] = frozenset(DEFAULT_SCRUB_QUERY)  # parameters whose values go
    before_send: Callable[[Outgoing], Outgoing | None] | None = None
    track_frames: bool = False  # a navigation in a frame (Sec-Fetch-Dest: iframe) counts

    def __repr__(self) -> str:
        # base_url may carry user:password@: never shown (credentials hide their secrets).
        return (f"TrackerOptions({self.credentials!r}, base_url={redact_url(self.base_url)!r}, "
                f"trusted_proxies={self.trusted_proxies!r}, flush_interval="
                f"{self.flush_interval}, batch_size={self.batch_size}, max_queue="
                f"{self.max_queue}, timeout={self.timeout}, shutdown_timeout="
                f"{self.shutdown_timeout}, respect_dnt={self.respect_dnt}, filter_bots="
                f"{self.filter_bots}, forwarded_host={self.forwarded_host}, enabled="
                f"{self.enabled}, debug={self.debug}, "
                f"client_ip_header={self.client_ip_header!r}, scrub_query="
                f"{sorted(self.scrub_query)!r}, before_send={self.before_send!r}, "
                f"track_frames={self.track_frames})")

    @classmethod
    def build(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None,
              ) -> TrackerOptions:
        """From keyword arguments, falling back to ``PIRSCH_*`` variables in ``environ``."""
        env = os.environ if environ is None else environ
        warn_unknown_variables(env)

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
        for name in ("respect_dnt", "filter_bots", "forwarded_host", "enabled", "debug",
                     "track_frames"):
            raw = pick(name)
            if raw is not None:
                values[name] = env_bool(raw, name)
        values["client_ip_header"] = header_name(pick("client_ip_header"))
        scrub = options.get("scrub_query")
        values["scrub_query"] = scrub_names(scrub if scrub is not None
                                            else env_value(env, "scrub_query"))
        values["before_send"] = check_before_send(options.get("before_send"))
        built = cls(credentials=credentials, base_url=base_url, trusted_proxies=trusted,
                    **values)
        if built.batch_size > built.max_queue:
            raise ValueError(f"batch_size ({built.batch_size}) must not exceed max_queue "
                             f"({built.max_queue})")
        return built
