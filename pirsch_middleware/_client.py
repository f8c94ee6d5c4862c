"""API clients. ``BaseClient`` builds every request and reads every response without
doing I/O; ``Client`` and ``AsyncClient`` differ only in how they send and close.

The methods themselves come from the endpoint tables, which both clients inherit or hold:
statistics (``visitors``, ``pages``, ``options.countries``, ... in ``_statistics_table``)
and management (``domains.create``, ``goals.test_regex``, ... in ``_management_table``).
Every call takes one path: ``_invoke`` builds and validates the request object, ``_call``
sends it (the only step the two clients write apart), ``_response`` reads the answer.
"""

from __future__ import annotations

import math
import os
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from ._auth import (
    API_PREFIX,
    DEFAULT_BASE_URL,
    Credentials,
    PirschAuth,
    normalize_base_url,
    redact_url,
)
from ._config import DEFAULT_TIMEOUT, env_value
from ._endpoints import C, Route
from ._errors import APIError, PirschError
from ._statistics_table import FilterOptions, Statistics
from ._version import VERSION

if TYPE_CHECKING:
    from ._management_table import (
        AccessLinks,
        AlternativeDomains,
        Clients,
        Domains,
        EmailReports,
        Goals,
        GoogleImport,
        Members,
        Snippets,
        Views,
    )

__all__ = ["AsyncClient", "BaseClient", "Client"]

R = TypeVar("R")
USER_AGENT = f"pirsch-middleware/{VERSION} (python; statistics)"

ACCESS_KEY_ERROR = (
    "an access key (pa_...) can only send page views and events, not read statistics or "
    "manage domains: use an oAuth client (client ID and secret from the Pirsch dashboard's "
    "integration settings) via client_id/client_secret or PIRSCH_CLIENT_ID/"
    "PIRSCH_CLIENT_SECRET"
)
NO_CREDENTIALS_ERROR = (
    "no Pirsch credentials: pass client_id and client_secret, or set PIRSCH_CLIENT_ID and "
    "PIRSCH_CLIENT_SECRET (an oAuth client from the Pirsch dashboard's integration settings)"
)


class Management(Generic[C]):
    """The management groups as attributes of a client (``client.goals``, ...); ``C`` is the
    client, so each group's methods are typed sync or async. ``BaseClient`` creates them
    from ``_management_table.GROUPS`` (a test checks the two name the same groups)."""

    domains: Domains[C]
    links: AccessLinks[C]
    members: Members[C]
    alternative_domains: AlternativeDomains[C]
    snippets: Snippets[C]
    clients: Clients[C]
    reports: EmailReports[C]
    goals: Goals[C]
    views: Views[C]
    google_import: GoogleImport[C]


class BaseClient(Statistics):
    """What the sync and async clients share: options, credentials, requests, responses.

    Statistics methods are inherited from ``Statistics``; the management groups
    (``domains``, ``goals``, ...) and ``options`` are created per client.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._credentials = Credentials.resolve(
            client_id=client_id, client_secret=client_secret, environ=os.environ
        )
        if not self._credentials.configured:
            raise ValueError(NO_CREDENTIALS_ERROR)
        self.base_url = normalize_base_url(
            base_url or env_value(os.environ, "base_url") or DEFAULT_BASE_URL
        )
        self.timeout = _resolve_timeout(timeout)
        self._auth = PirschAuth(self._credentials, self.base_url)
        self._headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        # Imported here, not at the top: the tracker imports this package in every web
        # worker, and the management tables (some 60 dataclasses) would add about a third
        # to that import. A client pays it once, when the first one is made.
        from ._management_table import GROUPS

        for name, group in GROUPS.items():  # typed per client by Management[...]
            setattr(self, name, group(self))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_url={redact_url(self.base_url)!r}, "
                f"{self._credentials!r})")

    def _invoke(self, route: Route[Any], *args: Any, **kwargs: Any) -> Any:
        # Every method lands here: the request object is built (and validated) now, so a
        # bad argument raises at the call, even before an async call is awaited.
        return self._call(route, route.build(*args, **kwargs))

    def _call(self, route: Route[Any], request: Any) -> Any:
        raise NotImplementedError  # the sending step: Client and AsyncClient

    def _request(self, route: Route[Any], request: Any) -> httpx.Request:
        if self._credentials.is_access_key:
            # Said here, at the first call, so a client built from a tracker's environment
            # can exist; the API would only answer an unexplained 401.
            raise PirschError(ACCESS_KEY_ERROR)
        params, body = route.encode(request)
        return httpx.Request(
            route.method,
            self.base_url + API_PREFIX + route.path,
            params=tuple(params) if params is not None else None,
            json=body,
            headers=self._headers,
            # Set per request: httpx reads the timeout from here, not from the client.
            extensions={"timeout": httpx.Timeout(self.timeout).as_dict()},
        )

    def _response(self, route: Route[R], response: httpx.Response) -> R:
        where = f"{route.method} {API_PREFIX}{route.path}"
        if not response.is_success:
            raise APIError.from_response(response.status_code, response.content, context=where)
        if route.model is None:
            return route.parse(None)  # nothing documented to read: success is the answer
        try:
            return route.parse(response.json() if response.content.strip() else None)
        except (ValueError, TypeError) as exc:
            raise PirschError(f"{where}: unexpected response: {exc}") from exc

    def _transport_error(self, route: Route[Any], exc: httpx.HTTPError) -> PirschError:
        error = PirschError(f"{route.method} {API_PREFIX}{route.path}: could not reach "
                            f"{redact_url(self.base_url)}: {exc or type(exc).__name__}")
        error.__cause__ = exc
        return error


class Client(BaseClient, Management["Client"]):
    """Read Pirsch statistics and manage the account. Credentials come from the arguments
    or the environment (``PIRSCH_CLIENT_ID``, ``PIRSCH_CLIENT_SECRET``; ``PIRSCH_BASE_URL``,
    ``PIRSCH_TIMEOUT``)::

        from datetime import date
        from pirsch_middleware import Client
        from pirsch_middleware.statistics import Filter

        with Client() as client:
            domain = client.domains()[0]
            f = Filter(domain.id, from_date=date(2024, 5, 1), to_date=date(2024, 5, 31))
            for day in client.visitors(f):
                print(day.period, day.visitors)
            print(client.options.pages(f))
            client.goals.create(domain_id=domain.id, name="Sign-up", path_pattern="/welcome")

    Errors: :class:`APIError` for an error answer (``status_code``, ``validation``,
    ``errors``), :class:`PirschError` for anything else. ``transport`` takes e.g. an
    ``httpx.MockTransport`` for tests.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(client_id, client_secret, base_url=base_url, timeout=timeout)
        self._http = httpx.Client(auth=self._auth, transport=transport, timeout=self.timeout)
        self.options: FilterOptions[Client] = FilterOptions(self)

    def _call(self, route: Route[R], request: Any) -> R:
        http_request = self._request(route, request)
        try:
            response = self._http.send(http_request)
        except httpx.HTTPError as exc:
            raise self._transport_error(route, exc) from exc
        return self._response(route, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(BaseClient, Management["AsyncClient"]):
    """The async twin of :class:`Client`: the same methods, awaited::

        async with AsyncClient() as client:
            f = Filter("A5kgYzK14m", from_date=date(2024, 5, 1), to_date=date(2024, 5, 31))
            total = await client.total(f)
            pages = await client.options.pages(f)
            goals = await client.goals.list(domain_id="A5kgYzK14m")
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(client_id, client_secret, base_url=base_url, timeout=timeout)
        self._http = httpx.AsyncClient(auth=self._auth, transport=transport,
                                       timeout=self.timeout)
        self.options: FilterOptions[AsyncClient] = FilterOptions(self)

    async def _call(self, route: Route[R], request: Any) -> R:
        http_request = self._request(route, request)
        try:
            response = await self._http.send(http_request)
        except httpx.HTTPError as exc:
            raise self._transport_error(route, exc) from exc
        return self._response(route, response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_C = TypeVar("_C", bound=Client)
_A = TypeVar("_A", bound=AsyncClient)


def _resolve_timeout(timeout: float | None) -> float:
    source = "timeout"
    value: object = timeout
    if timeout is None:
        text = env_value(os.environ, "timeout")
        if text is None:
            return DEFAULT_TIMEOUT
        source, value = "PIRSCH_TIMEOUT", text
        try:
            value = float(text)
        except ValueError:
            pass
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < value < math.inf):
        raise ValueError(f"{source} must be a positive number of seconds, got {value!r}")
    return float(value)
