"""Credentials and the httpx auth flow: access keys as they are, oAuth tokens fetched,
refreshed before they expire, and renewed once on a 401.

The statistics clients (sync and async) and the tracker's httpx path drive the same
generator; the tracker's own HTTP connection (``_wire``) asks ``PirschAuth.token()``, which
fetches and renews with the same code, so token handling is written once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx

from ._errors import APIError

__all__ = [
    "DEFAULT_BASE_URL",
    "Credentials",
    "PirschAuth",
    "normalize_base_url",
    "parse_rfc3339",
    "redact_url",
]

DEFAULT_BASE_URL = "https://api.pirsch.io"
API_PREFIX = "/api/v1"
ACCESS_KEY_PREFIX = "pa_"


@dataclass(frozen=True)
class Credentials:
    """What authenticates us: an access key (``pa_...``, write-only) or an oAuth client.

    Secrets are kept out of ``repr`` so they never reach logs or tracebacks::

        Credentials.resolve(access_key="pa_...")
        Credentials.resolve(client_id="...", client_secret="...")
        Credentials.resolve(environ=os.environ)  # PIRSCH_ACCESS_KEY or PIRSCH_CLIENT_ID/SECRET
    """

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    access_key: str = field(default="", repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.access_key or self.client_secret)

    @property
    def is_access_key(self) -> bool:
        return bool(self.access_key)

    @classmethod
    def resolve(
        cls,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        access_key: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Explicit values win as a group; the environment is read only when none is given.

        Raises ``ValueError`` naming what to fix when the values are half-set or mixed.
        """
        if client_id is None and client_secret is None and access_key is None and environ:
            client_id = environ.get("PIRSCH_CLIENT_ID")
            client_secret = environ.get("PIRSCH_CLIENT_SECRET")
            access_key = environ.get("PIRSCH_ACCESS_KEY")
            source = "PIRSCH_CLIENT_ID / PIRSCH_CLIENT_SECRET / PIRSCH_ACCESS_KEY"
        else:
            source = "client_id / client_secret / access_key"
        client_id = (client_id or "").strip()
        client_secret = (client_secret or "").strip()
        access_key = (access_key or "").strip()
        for name, value in (("client_id", client_id), ("client_secret", client_secret),
                            ("access_key", access_key)):
            if any(ch.isspace() or not ch.isprintable() for ch in value):
                raise ValueError(f"{name} contains whitespace or control characters; "
                                 f"check the value set in {source}")
        # The PHP SDK passes an access key as the secret with no client id: accept that too.
        if not client_id and client_secret.startswith(ACCESS_KEY_PREFIX) and not access_key:
            access_key, client_secret = client_secret, ""
        if access_key:
            if client_id or client_secret:
                raise ValueError(
                    f"both an access key and oAuth client credentials are set ({source}): "
                    "set either access_key alone or client_id with client_secret"
                )
            if not access_key.isascii():  # it goes in a header as it is
                raise ValueError(f"access_key must be ASCII (a Pirsch access key is "
                                 f"{ACCESS_KEY_PREFIX!r} and letters and digits); check the "
                                 f"value set in {source}")
            if not access_key.startswith(ACCESS_KEY_PREFIX):
                raise ValueError(
                    f"access_key must start with {ACCESS_KEY_PREFIX!r} (a Pirsch access key); "
                    "for an oAuth client set client_id and client_secret instead"
                )
        elif bool(client_id) != bool(client_secret):
            missing = "client_secret" if client_id else "client_id"
            raise ValueError(f"{missing} is missing ({source}): an oAuth client needs both "
                             "client_id and client_secret")
        return cls(client_id=client_id, client_secret=client_secret, access_key=access_key)


def redact_url(url: str) -> str:
    """``url`` fit for logs and reprs: no ``user:password@``, no query; a value that is no
    URL at all (a key pasted in the wrong place?) is not shown."""
    try:
        parsed = httpx.URL(str(url).strip())
    except (httpx.InvalidURL, TypeError):
        return "<not a URL>"
    if not parsed.scheme or not parsed.host:
        return "<not a URL>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username="***", password=None)
    return str(parsed.copy_with(query=None, fragment=None))


def normalize_base_url(url: str) -> str:
    """``https://api.pirsch.io/`` or ``.../api/v1`` -> ``https://api.pirsch.io``."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"base_url must be an absolute http(s) URL such as "
                         f"{DEFAULT_BASE_URL!r}, got {redact_url(url)}")
    path = parsed.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return str(parsed.copy_with(path=path or "/", query=None, fragment=None)).rstrip("/")


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_rfc3339(text: str) -> datetime:
    """Parse RFC 3339 with any number of fractional digits (Go sends nanoseconds)."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if zone and zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                    micro, tzinfo=tz)


class PirschAuth(httpx.Auth):
    """httpx auth for Pirsch: ``httpx.Client(auth=PirschAuth(credentials, base_url))``.

    Access keys are sent as they are. For oAuth clients a token is fetched before the first
    request, fetched again shortly before ``expires_at``, and once more when a request is
    answered 401 (then that request is sent again).
    """

    requires_response_body = True

    def __init__(
        self,
        credentials: Credentials,
        base_url: str,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 60.0,
    ) -> None:
        self._credentials = credentials
        self._token_url = base_url + API_PREFIX + "/token"
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._token: tuple[str, float] | None = None  # (token, refresh at, epoch seconds)
        self._lock = threading.Lock()
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"PirschAuth({self._credentials!r})"

    def invalidate(self) -> None:
        self._token = None

    def token(self, *, timeout: float) -> str:
        """A valid bearer credential: the access key, or the oAuth token, fetched (with a
        one-off httpx client, bounded by ``timeout``) when there is none yet or it is due
        for renewal. After a 401, ``invalidate()`` first to get a new one::

            auth = PirschAuth(credentials, base_url)
            headers = {"Authorization": f"Bearer {auth.token(timeout=5.0)}"}

        Raises ``APIError`` when the API refuses the client (or answers nonsense) and
        ``httpx.HTTPError`` when it cannot be reached.
        """
        if self._credentials.is_access_key:
            return self._credentials.access_key
        token = self._token
        if token is None or self._clock() >= token[1]:
            request = self._token_request(httpx.Timeout(timeout).as_dict())
            with httpx.Client() as client:
                token = self._keep_token(client.send(request))
        return token[0]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._credentials.is_access_key:
            request.headers["Authorization"] = f"Bearer {self._credentials.access_key}"
            yield request
            return
        # httpx gives only requests it builds the client's timeout: without passing it on,
        # a token request to an unresponsive API would wait forever.
        timeout = request.extensions.get("timeout", {})
        token = self._token
        if token is None or self._clock() >= token[1]:
            token = self._keep_token((yield self._token_request(timeout)))
        request.headers["Authorization"] = f"Bearer {token[0]}"
        response = yield request
        if response.status_code == 401:
            token = self._keep_token((yield self._token_request(timeout)))
            request.headers["Authorization"] = f"Bearer {token[0]}"
            yield request

    def _token_request(self, timeout: Mapping[str, float | None]) -> httpx.Request:
        self.token_requests += 1
        return httpx.Request(
            "POST",
            self._token_url,
            json={
                "client_id": self._credentials.client_id,
                "client_secret": self._credentials.client_secret,
            },
            extensions={"timeout": timeout},
        )

    def _keep_token(self, response: httpx.Response) -> tuple[str, float]:
        if response.status_code != 200:
            raise APIError.from_response(
                response.status_code,
                response.content,
                context="getting an access token failed (check client_id and client_secret)",
            )
        try:
            data = response.json()
            access_token = str(data["access_token"])
            expires = parse_rfc3339(str(data["expires_at"])).timestamp()
            if not access_token or not access_token.isascii() \
                    or any(not ch.isprintable() or ch.isspace() for ch in access_token):
                raise ValueError("access_token must be printable ASCII without spaces")
        except (ValueError, KeyError, TypeError) as exc:
            raise APIError(
                response.status_code,
                errors=[f"token response is not {{access_token, expires_at}}: {exc}"],
            ) from None
        now = self._clock()
        margin = min(self._refresh_margin, max(0.0, (expires - now) / 10))
        token = (access_token, expires - margin)
        with self._lock:
            self._token = token
        return token
