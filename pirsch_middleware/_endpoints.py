"""The endpoint table mechanism, written once for the statistics and the management API.

Every API endpoint is one descriptor in a class body (``Statistics``, ``FilterOptions``,
``Domains``, ``Goals``, ...). Both clients inherit those classes (or hold a group of them),
so reading the descriptor on a client gives that client's method: it builds the request
object, and the client's ``_invoke`` validates it, sends it and parses the answer. Building
requests and reading responses is I/O-free (``BaseClient``); ``Client`` and ``AsyncClient``
only send.

* :class:`Endpoint`: a statistics endpoint, called with a ready ``Filter``
  (``client.visitors(f)``), sent as the query string of a GET.
* :class:`Operation`: a management endpoint, called with the request model's fields as
  keyword arguments (``client.goals.create(domain_id=..., name=...)``); the model is sent as
  the query string (GET, DELETE) or as a JSON body (POST, PUT).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import MappingProxyType
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    cast,
    overload,
)

from ._filter import Filter
from ._models import Model
from ._request_model import RequestModel

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = [
    "AsyncCall", "C", "Call", "Endpoint", "Group", "Method", "Operation", "Route", "collect",
    "operation", "operation_bare", "operation_bare_many", "operation_many", "operation_none",
]

Method = Literal["GET", "POST", "PUT", "DELETE"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
M = TypeVar("M")
RT = TypeVar("RT", bound="Route[Any]")

Query = list[tuple[str, str]]


class _Caller(Protocol):
    # Client._invoke answers the result, AsyncClient._invoke a coroutine of it.
    def _invoke(self, route: Route[Any], *args: Any, **kwargs: Any) -> Any: ...


C = TypeVar("C", bound=_Caller)


class Route(Generic[R]):
    """What every endpoint has: HTTP ``method``, ``path`` (below ``/api/v1``), ``request``
    model (or ``None``), ``response`` model (or ``None`` when the answer carries nothing),
    ``many`` (a JSON array of responses), a ``summary`` and its ``name`` on the clients."""

    def __init__(self, method: Method, path: str, *, request: type[Any] | None,
                 response: type[Any] | None, many: bool, summary: str) -> None:
        self.method: Method = method
        self.path = path
        self.request = request
        self.model = response
        self.many = many
        self.summary = summary
        self.name = ""

    @property
    def response(self) -> type[Any] | None:
        """The response model; ``model`` is the same (the statistics tables' name)."""
        return self.model

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = getattr(owner, "_namespace", "") + name

    def __repr__(self) -> str:
        request = f"({self.request.__name__})" if self.request is not None else "()"
        if self.model is None:
            shape = "None"
        else:
            shape = f"list[{self.model.__name__}]" if self.many else self.model.__name__
        return (f"<{type(self).__name__} {self.name}: {self.method} {self.path} {request} "
                f"-> {shape}>")

    def build(self, *args: Any, **kwargs: Any) -> Any:
        """The request object for a call's arguments (validated: ValueError, TypeError)."""
        raise NotImplementedError

    def encode(self, request: Any) -> tuple[Query | None, dict[str, Any] | None]:
        """The query string pairs and the JSON body for a built request."""
        raise NotImplementedError

    def parse(self, data: Any) -> R:
        """Turn the decoded JSON body into the response model (or a list of them)."""
        model = self.model
        if model is None:
            return cast(R, None)  # nothing documented: whatever the API says is not read
        if not self.many:
            return cast(R, _item(model, data))
        if data is None:  # Go encodes an empty result as null
            return cast(R, [])
        if not isinstance(data, list):
            raise TypeError(f"expected a JSON array, got {type(data).__name__}")
        return cast(R, [_item(model, item) for item in data])


class Call(Protocol[R_co]):
    """A statistics method of :class:`~pirsch_middleware.Client`: ``client.pages(f)``."""

    def __call__(self, filter: Filter) -> R_co: ...


class AsyncCall(Protocol[R_co]):
    """A statistics method of :class:`~pirsch_middleware.AsyncClient`: ``await c.pages(f)``."""

    def __call__(self, filter: Filter) -> Coroutine[Any, Any, R_co]: ...


class Group(Generic[C]):
    """A group of endpoints read as ``client.<group>.<name>``: ``client.options.pages``,
    ``client.goals.create``. It hands every call to the client it belongs to."""

    _namespace = ""

    def __init__(self, client: C) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    def _invoke(self, route: Route[Any], *args: Any, **kwargs: Any) -> Any:
        return self._client._invoke(route, *args, **kwargs)


class Endpoint(Route[R]):
    """One statistics endpoint: ``path`` (below ``/api/v1``), response ``model``, and
    ``many`` (a JSON array of models, or one object). Read on a client it is that client's
    method::

        ENDPOINTS["visitors"]            # <Endpoint visitors: GET /statistics/visitor ...>
        client.visitors(f)               # list[VisitorStats]
        await async_client.visitors(f)   # the same, async
    """

    model: type[Any]  # a statistics endpoint always answers something

    def __init__(self, path: str, model: type[Any], *, many: bool, summary: str) -> None:
        super().__init__("GET", path, request=Filter, response=model, many=many,
                         summary=summary)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Endpoint[R]: ...
    @overload
    def __get__(self, obj: Client | Group[Client], owner: type[Any]) -> Call[R]: ...
    @overload
    def __get__(self, obj: AsyncClient | Group[AsyncClient], owner: type[Any]) -> AsyncCall[R]: ...
    def __get__(self, obj: _Caller | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._invoke, self)

    def build(self, *args: Any, **kwargs: Any) -> Filter:
        if len(args) + len(kwargs) != 1 or (kwargs and "filter" not in kwargs):
            raise TypeError(f"{self.name}() takes one Filter")
        filter = args[0] if args else kwargs["filter"]
        if not isinstance(filter, Filter):
            raise TypeError(f"{self.name}() takes a Filter, not {type(filter).__name__}")
        return filter

    def encode(self, request: Any) -> tuple[Query | None, dict[str, Any] | None]:
        return request.to_params(), None


class Operation(Route[R], Generic[P, R]):
    """One management endpoint. Read on a client's group it is that client's method, whose
    keyword arguments are the fields of the ``request`` model::

        ENDPOINTS["goals.create"]        # <Operation goals.create: POST /goal (NewGoal) ...>
        client.goals.create(domain_id="A5kgYzK14m", name="Sign-up", path_pattern="/welcome")
        await async_client.goals.create(...)   # the same, async

    ``rename`` maps a request field to the name this endpoint's API spells it with (the
    reference calls the domain ``id`` in some queries and ``domain_id`` in others);
    ``section`` is the heading of the API reference that documents the endpoint.
    """

    def __init__(self, method: Method, path: str, *, request: Callable[P, Any] | None,
                 response: type[Any] | None, many: bool, summary: str, section: str,
                 rename: Mapping[str, str] | None = None) -> None:
        if request is not None and not (isinstance(request, type)
                                        and issubclass(request, RequestModel)):
            raise TypeError(f"request must be a RequestModel class, not {request!r}")
        super().__init__(method, path, request=request, response=response, many=many,
                         summary=summary)
        self.section = section
        self.rename: Mapping[str, str] = MappingProxyType(dict(rename or {}))

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Operation[P, R]: ...
    @overload
    def __get__(self, obj: Group[Client], owner: type[Any]) -> Callable[P, R]: ...
    @overload
    def __get__(self, obj: Group[AsyncClient], owner: type[Any],
                ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(self, obj: _Caller | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._invoke, self)

    def build(self, *args: Any, **kwargs: Any) -> RequestModel | None:
        if self.request is None:
            if args or kwargs:
                raise TypeError(f"{self.name}() takes no arguments")
            return None
        names = self.request.field_names()
        if args:  # keyword-only: an ID passed by position is too easy to mix up
            listing = ", ".join(f"{name}=..." for name in names)
            raise TypeError(f"{self.name}() takes keyword arguments only: {listing}")
        unknown = [name for name in kwargs if name not in names]
        missing = [name for name in self.request.required_names() if name not in kwargs]
        if unknown or missing:  # said with the method's name, not the model's __init__
            problem = (f"got unexpected {', '.join(map(repr, unknown))}" if unknown
                       else f"is missing {', '.join(map(repr, missing))}")
            raise TypeError(f"{self.name}() {problem}; it takes {', '.join(names)}")
        request: RequestModel = self.request(**kwargs)
        return request

    def encode(self, request: Any) -> tuple[Query | None, dict[str, Any] | None]:
        if request is None:
            return None, None
        data = request.to_wire(self.rename)
        if self.method in ("GET", "DELETE"):
            return _query(data), None
        return None, data


def operation(method: Method, path: str, request: Callable[P, Any], response: type[M], *,
              summary: str, section: str, rename: Mapping[str, str] | None = None,
              ) -> Operation[P, M]:
    """A management endpoint answering one ``response`` object."""
    return Operation(method, path, request=request, response=response, many=False,
                     summary=summary, section=section, rename=rename)


def operation_many(method: Method, path: str, request: Callable[P, Any],
                   response: type[M], *, summary: str, section: str,
                   rename: Mapping[str, str] | None = None) -> Operation[P, list[M]]:
    """A management endpoint answering a JSON array of ``response`` objects."""
    return Operation(method, path, request=request, response=response, many=True,
                     summary=summary, section=section, rename=rename)


def operation_none(method: Method, path: str, request: Callable[P, Any], *, summary: str,
                   section: str, rename: Mapping[str, str] | None = None,
                   ) -> Operation[P, None]:
    """A management endpoint whose answer carries nothing to read."""
    return Operation(method, path, request=request, response=None, many=False,
                     summary=summary, section=section, rename=rename)


def operation_bare(method: Method, path: str, *, summary: str, section: str,
                   ) -> Operation[[], None]:
    """A management endpoint that takes nothing and answers nothing to read."""
    return Operation(method, path, request=None, response=None, many=False,
                     summary=summary, section=section)


def operation_bare_many(method: Method, path: str, response: type[M], *, summary: str,
                        section: str) -> Operation[[], list[M]]:
    """A management endpoint that takes nothing and answers a JSON array."""
    return Operation(method, path, request=None, response=response, many=True,
                     summary=summary, section=section)


def collect(route_type: type[RT], owners: Iterable[type[Any]]) -> Mapping[str, RT]:
    """Every ``route_type`` descriptor of ``owners`` by name, in definition order."""
    table: dict[str, RT] = {}
    for owner in owners:
        for value in vars(owner).values():
            if isinstance(value, route_type):
                if value.name in table:
                    raise RuntimeError(f"two endpoints are named {value.name!r}")
                table[value.name] = value
    return MappingProxyType(table)


def _item(model: type[Any], data: Any) -> Any:
    if issubclass(model, Model):
        return model.from_dict(data)
    if not isinstance(data, model):
        raise TypeError(f"expected {model.__name__}, got {data!r:.100}")
    return data


def _query(data: Mapping[str, Any]) -> Query:
    pairs: Query = []
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            else:
                pairs.append((name, str(item)))
    return pairs
