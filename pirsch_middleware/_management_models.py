"""Typed response models of the management API (domains, goals and the shared base are in
``_models``). Like those, they keep fields the API adds later in ``extra``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar

from ._models import Model

__all__ = [
    "APIClient", "AccessLink", "AlternativeDomain", "EmailReport", "GoogleProfile",
    "IdentificationCode", "ImportJob", "Member", "MemberUser", "RegexMatch", "Snippet", "View",
]


@dataclass(frozen=True, kw_only=True)
class _Stored(Model):
    # What every stored object of the API carries.
    id: str = ""
    def_time: datetime | None = None
    mod_time: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class IdentificationCode(Model):
    """A domain's new identification code (the tracking snippet's ``data-code``)."""

    identification_code: str = ""


@dataclass(frozen=True, kw_only=True)
class AccessLink(_Stored):
    """Read-only access to a dashboard: ``https://<subdomain>.pirsch.io/?access=<code>``."""

    domain_id: str = ""
    code: str = ""
    description: str = ""
    valid_until: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MemberUser(Model):
    """The person behind a membership: ``member.user.email``."""

    id: str = ""
    email: str = ""
    full_name: str = ""
    picture: str = ""


@dataclass(frozen=True, kw_only=True)
class Member(_Stored):
    """A member of a domain; ``id`` is the membership's (what ``update_role`` and
    ``remove`` take), ``user`` the person's."""

    user_id: str = ""
    domain_id: str = ""
    organization_id: str | None = None
    role: str = ""
    user: MemberUser | None = None


@dataclass(frozen=True, kw_only=True)
class AlternativeDomain(_Stored):
    """Another hostname that may send data to a domain."""

    domain_id: str = ""
    hostname: str = ""


@dataclass(frozen=True, kw_only=True)
class Snippet(_Stored):
    """A tracking snippet's settings: ``client.snippets.get(domain_id=..., type="event")``."""

    domain_id: str = ""
    type: str = ""
    dev: bool = False
    include: str = ""
    exclude: str = ""
    domains: str = ""
    endpoint: str = ""
    sample: str = ""


@dataclass(frozen=True, kw_only=True)
class APIClient(_Stored):
    """A client of a domain. ``client_secret`` is only set in the answer to ``create``
    (store it then: it cannot be read again) and is kept out of ``repr``."""

    domain_id: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    description: str = ""
    scope_hit: str = ""
    scope_event: str = ""
    scope_session: str = ""
    scope_statistics: str = ""
    scope_domains: str = ""


@dataclass(frozen=True, kw_only=True)
class EmailReport(_Stored):
    """A report sent to ``email`` every ``interval`` weeks."""

    domain_id: str = ""
    email: str = ""
    interval: int = 0
    next_report: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class RegexMatch(Model):
    """Whether a goal's regular expression matched the sample (an invalid one is an
    ``APIError``)."""

    match: bool = False


@dataclass(frozen=True, kw_only=True)
class View(_Stored):
    """A saved view: a period (``from_date``/``to_date`` or ``period``) and filters."""

    _aliases: ClassVar[Mapping[str, str]] = {"from": "from_date", "to": "to_date"}

    domain_id: str = ""
    user_id: str | None = None
    name: str = ""
    public: bool = False
    from_date: date | None = None
    to_date: date | None = None
    period: int | None = None
    path: list[str] | None = None
    entry_path: list[str] | None = None
    exit_path: list[str] | None = None
    path_pattern: list[str] | None = None
    pattern: list[str] | None = None
    language: list[str] | None = None
    country: list[str] | None = None
    city: list[str] | None = None
    referrer: list[str] | None = None
    referrer_name: list[str] | None = None
    os: list[str] | None = None
    browser: list[str] | None = None
    platform: list[str] | None = None
    screen_class: list[str] | None = None
    utm_source: list[str] | None = None
    utm_medium: list[str] | None = None
    utm_campaign: list[str] | None = None
    utm_content: list[str] | None = None
    utm_term: list[str] | None = None
    event: list[str] | None = None
    event_meta_key: list[str] | None = None
    event_meta_value: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class ImportJob(_Stored):
    """A Google Analytics import; ``domain`` is the imported view's ID once started."""

    _aliases: ClassVar[Mapping[str, str]] = {"from": "from_date", "to": "to_date"}

    domain_id: str = ""
    google_user_id: str | None = None
    google_user_email: str | None = None
    domain: str | None = None
    from_date: date | None = None
    to_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class GoogleProfile(Model):
    """A Google Analytics view the import can read: pass ``id`` as ``property_id``."""

    id: str = ""
    name: str = ""
