"""Typed request models of the management API: what a call sends, validated once.

A management method's keyword arguments are its request model's fields
(``client.goals.create(domain_id=..., name=...)`` builds a :class:`NewGoal`), so type
checkers see them and a bad value is a ``ValueError``/``TypeError`` before anything is sent.
Field names are the reference's made Pythonic (``from`` is ``from_date``, a goal's
``visitors`` is ``visitor_goal`` as in the goal it answers); ``to_wire`` gives the API's.
Unset (``None``) fields are not sent.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from ._filter import Values

__all__ = [
    "APIClientUpdate", "AccessLinkUpdate", "ActiveVisitorsTimeUpdate", "AlternativeDomainUpdate",
    "DomainRef", "EmailReportUpdate", "GoalUpdate", "HostnameUpdate", "ImportStart", "ItemRef",
    "MemberInvitation", "NewAPIClient", "NewAccessLink", "NewAlternativeDomain", "NewDomain",
    "NewEmailReports", "NewGoal", "RegexTest", "RequestModel", "RoleUpdate", "SnippetRef",
    "SnippetUpdate", "SubdomainUpdate", "TimezoneUpdate", "ViewDefinition",
]

Role = Literal["viewer", "admin"]
ClientType = Literal["oauth", "token"]


@dataclass(frozen=True, kw_only=True)
class RequestModel:
    """Base of every request model: validated at construction, ``to_wire`` for the API."""

    # Python field name -> the API's name, where they differ for every endpoint.
    _wire: ClassVar[Mapping[str, str]] = {}
    # str fields that must not be empty besides the IDs (``id``, ``*_id``), which never may.
    _not_empty: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name, hint in _field_hints(type(self)).items():
            value = _checked(name, hint, getattr(self, name))
            if isinstance(value, str) and not value.strip() and (
                    name == "id" or name.endswith("_id") or name in self._not_empty):
                raise ValueError(f"{name} must not be empty")
            object.__setattr__(self, name, value)  # frozen: normalise once, here
        self._check()

    def _check(self) -> None:
        """Checks across fields or of ranges; the types are checked already."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def required_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]

    def to_wire(self, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The request as the API reads it (names, dates, lists); ``rename`` overrides
        names for one endpoint. ``None`` fields are left out."""
        names = {**self._wire, **(rename or {})}
        return {names.get(f.name, f.name): _jsonable(getattr(self, f.name))
                for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


_HINTS: dict[type[RequestModel], dict[str, Any]] = {}


def _field_hints(cls: type[RequestModel]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = typing.get_type_hints(cls)
        hints = _HINTS[cls] = {f.name: resolved[f.name] for f in dataclasses.fields(cls)}
    return hints


_VALUES = frozenset(typing.get_args(Values))


def _checked(name: str, hint: Any, value: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if type(None) in args and value is None:
            return None
        args = tuple(a for a in args if a is not type(None))
        if frozenset(args) == _VALUES:  # one value or a list: sent as a list
            values = (value,) if isinstance(value, str) else value
            if (not isinstance(values, Sequence)
                    or not all(isinstance(v, str) and v for v in values)):
                raise TypeError(f"{name} must be a str or a list of non-empty str, "
                                f"not {value!r}")
            return tuple(values)
        hint = args[0]
        args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, args))}; "
                             f"got {value!r}")
        return value
    if hint is date:
        if isinstance(value, datetime):
            return value.date()
        if not isinstance(value, date):
            raise TypeError(f"{name} must be a datetime.date, not {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise TypeError(f"{name} must be int, not {value!r}")
    if not isinstance(value, hint):
        raise TypeError(f"{name} must be {hint.__name__}, not {value!r}")
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _check_emails(name: str, emails: tuple[str, ...]) -> None:
    if not emails:
        raise ValueError(f"{name} must list at least one email address")
    for email in emails:
        if "@" not in email.strip("@") or any(ch.isspace() for ch in email):
            raise ValueError(f"{name}: {email!r} is not an email address")


# --- references ---------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DomainRef(RequestModel):
    """A domain (dashboard) by ID: what lists and toggles take."""

    domain_id: str


@dataclass(frozen=True, kw_only=True)
class ItemRef(RequestModel):
    """One object by its ID (a member, goal, client ...): what deletes take."""

    id: str


# --- domains ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class NewDomain(RequestModel):
    _not_empty = ("hostname", "subdomain", "timezone")

    hostname: str
    subdomain: str
    timezone: str


@dataclass(frozen=True, kw_only=True)
class HostnameUpdate(RequestModel):
    _not_empty = ("hostname",)

    domain_id: str
    hostname: str


@dataclass(frozen=True, kw_only=True)
class SubdomainUpdate(RequestModel):
    _not_empty = ("subdomain",)

    domain_id: str
    subdomain: str


@dataclass(frozen=True, kw_only=True)
class ActiveVisitorsTimeUpdate(RequestModel):
    """How many seconds after their last action visitors still count as active."""

    _wire: ClassVar[Mapping[str, str]] = {"seconds": "time"}

    domain_id: str
    seconds: int

    def _check(self) -> None:
        if self.seconds < 1:
            raise ValueError(f"seconds must be 1 or more, got {self.seconds}")


@dataclass(frozen=True, kw_only=True)
class TimezoneUpdate(RequestModel):
    _not_empty = ("timezone",)

    domain_id: str
    timezone: str


# --- access links, members, alternative domains, snippets ---------------------------------------

@dataclass(frozen=True, kw_only=True)
class NewAccessLink(RequestModel):
    domain_id: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class AccessLinkUpdate(RequestModel):
    id: str
    description: str


@dataclass(frozen=True, kw_only=True)
class MemberInvitation(RequestModel):
    """Invite people by email; they join as viewers. One address or a list."""

    domain_id: str
    emails: Values

    def _check(self) -> None:
        _check_emails("emails", typing.cast(tuple[str, ...], self.emails))


@dataclass(frozen=True, kw_only=True)
class RoleUpdate(RequestModel):
    """A member's new role (``id`` is the member's ID, not the user's)."""

    id: str
    role: Role


@dataclass(frozen=True, kw_only=True)
class NewAlternativeDomain(RequestModel):
    _not_empty = ("hostname",)

    domain_id: str
    hostname: str


@dataclass(frozen=True, kw_only=True)
class AlternativeDomainUpdate(RequestModel):
    _not_empty = ("hostname",)

    id: str
    hostname: str


@dataclass(frozen=True, kw_only=True)
class SnippetRef(RequestModel):
    domain_id: str
    type: Literal["page view", "event", "session"]


@dataclass(frozen=True, kw_only=True)
class SnippetUpdate(RequestModel):
    """A snippet's settings; list settings are comma-separated, as the reference has them
    (``include="/blog/.*,/docs/.*"``)."""

    domain_id: str
    type: Literal["page view", "event"]
    dev: bool = False
    include: str = ""
    exclude: str = ""
    domains: str = ""
    endpoint: str = ""
    sample: str = ""


# --- clients, email reports ---------------------------------------------------------------------

Scope = Literal["", "r", "w"]


@dataclass(frozen=True, kw_only=True)
class NewAPIClient(RequestModel):
    """A client for a domain: ``type="oauth"`` (ID and secret, can read) or ``"token"``
    (an access key, can only send data). Scopes default to no access: grant each one
    (``scope_statistics="r"``, ``scope_hit="w"``, ...)."""

    domain_id: str
    type: ClientType
    description: str = ""
    scope_hit: Literal["", "w"] = ""
    scope_event: Literal["", "w"] = ""
    scope_session: Literal["", "w"] = ""
    scope_statistics: Literal["", "r"] = ""
    scope_domains: Scope = ""


@dataclass(frozen=True, kw_only=True)
class APIClientUpdate(RequestModel):
    id: str
    description: str


@dataclass(frozen=True, kw_only=True)
class NewEmailReports(RequestModel):
    """One report per address, every ``interval`` weeks."""

    domain_id: str
    emails: Values
    interval: int

    def _check(self) -> None:
        _check_emails("emails", typing.cast(tuple[str, ...], self.emails))
        _check_interval(self.interval)


@dataclass(frozen=True, kw_only=True)
class EmailReportUpdate(RequestModel):
    id: str
    interval: int

    def _check(self) -> None:
        _check_interval(self.interval)


def _check_interval(interval: int) -> None:
    if interval < 0:
        raise ValueError(f"interval (weeks) must be 0 or more, got {interval}")


# --- conversion goals ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class NewGoal(RequestModel):
    """A conversion goal: pages matching ``path_pattern`` (``/checkout/**``; test a pattern
    with ``goals.test_regex``) or an event (``event_name``, optionally with one metadata
    key and value). ``visitor_goal`` and ``cr_goal`` (0: none) are targets to reach; the
    API's names for them are ``visitors`` and ``cr``."""

    _wire: ClassVar[Mapping[str, str]] = {"visitor_goal": "visitors", "cr_goal": "cr"}
    _not_empty = ("name",)

    domain_id: str
    name: str
    path_pattern: str | None = None
    visitor_goal: int = 0
    cr_goal: float = 0.0
    delete_reached: bool = False
    email_reached: bool = False
    # In current use beyond the reference (its goal model has them): event goals.
    event_name: str | None = None
    event_meta_key: str | None = None
    event_meta_value: str | None = None
    custom_metric_key: str | None = None
    custom_metric_type: Literal["integer", "float"] | None = None

    def _check(self) -> None:
        if not (self.path_pattern or self.event_name):
            raise ValueError("a goal needs a path_pattern (pages) or an event_name (events)")
        if self.visitor_goal < 0 or self.cr_goal < 0:
            raise ValueError("visitor_goal and cr_goal must be 0 (no target) or more")


@dataclass(frozen=True, kw_only=True)
class GoalUpdate(NewGoal):
    """A goal's new definition: every field is sent, as on creation."""

    id: str


@dataclass(frozen=True, kw_only=True)
class RegexTest(RequestModel):
    """Does ``regex`` (RE2 syntax) match ``sample``?"""

    _not_empty = ("regex",)

    regex: str
    sample: str


# --- views, Google Analytics import -------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ViewDefinition(RequestModel):
    """A saved view: a name, a period and filters (each one value or a list). With ``id``
    it replaces that view; without, it creates one."""

    _wire: ClassVar[Mapping[str, str]] = {"from_date": "from", "to_date": "to"}
    _not_empty = ("name",)

    domain_id: str
    name: str
    id: str | None = None
    public: bool = False
    overwrite: bool = False
    from_date: date | None = None
    to_date: date | None = None
    period: int | None = None
    path: Values | None = None
    entry_path: Values | None = None
    exit_path: Values | None = None
    path_pattern: Values | None = None
    pattern: Values | None = None
    language: Values | None = None
    country: Values | None = None
    city: Values | None = None
    referrer: Values | None = None
    referrer_name: Values | None = None
    os: Values | None = None
    browser: Values | None = None
    platform: Values | None = None
    screen_class: Values | None = None
    utm_source: Values | None = None
    utm_medium: Values | None = None
    utm_campaign: Values | None = None
    utm_content: Values | None = None
    utm_term: Values | None = None
    event: Values | None = None
    event_meta_key: Values | None = None
    event_meta_value: Values | None = None

    def _check(self) -> None:
        _check_period(self.from_date, self.to_date)


@dataclass(frozen=True, kw_only=True)
class ImportStart(RequestModel):
    """Import a Universal Analytics view (``property_id``, the reference's ``property``)
    for a period, once the dashboard is connected to a Google account."""

    _wire: ClassVar[Mapping[str, str]] = {"property_id": "property", "from_date": "from",
                                          "to_date": "to"}
    _not_empty = ("property_id",)

    domain_id: str
    property_id: str
    from_date: date
    to_date: date

    def _check(self) -> None:
        _check_period(self.from_date, self.to_date)


def _check_period(from_date: date | None, to_date: date | None) -> None:
    if from_date and to_date and from_date > to_date:
        raise ValueError(f"from_date {from_date} is after to_date {to_date}")
