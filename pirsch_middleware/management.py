"""Managing a Pirsch account: domains, access links, members, alternative domains, snippets,
clients, email reports, conversion goals, views and the Google Analytics import.

``ENDPOINTS`` maps each method's name (``"domains.create"``, ``"goals.test_regex"``, ...)
to its :class:`Operation`: HTTP ``method``, ``path``, ``request`` model (the method's
keyword arguments) and ``response`` model. Both :class:`~pirsch_middleware.Client` and
:class:`~pirsch_middleware.AsyncClient` are driven by that one table, through the same
requests, authentication and errors as the statistics (:mod:`pirsch_middleware.statistics`).
Managing needs an oAuth client with the ``domains`` scope; creating and deleting domains
needs a user client (created on the account settings page)::

    from pirsch_middleware import Client

    with Client() as client:
        domain = client.domains.create(hostname="example.com", subdomain="example",
                                       timezone="Europe/Berlin")
        print(domain.identification_code)
        if client.goals.test_regex(regex="^/checkout/.*$", sample="/checkout/done").match:
            client.goals.create(domain_id=domain.id, name="Checkout", path_pattern="/checkout/**")
        client.members.invite(domain_id=domain.id, emails=["ann@example.com"])

    for name, operation in ENDPOINTS.items():
        print(name, operation.method, operation.path)

Deleting takes the ID of the one object to delete (``client.goals.delete(id=goal.id)``);
nothing deletes by a filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._endpoints import Operation
from ._management_models import (
    AccessLink,
    AlternativeDomain,
    APIClient,
    EmailReport,
    GoogleProfile,
    IdentificationCode,
    ImportJob,
    Member,
    MemberUser,
    RegexMatch,
    Snippet,
    View,
)
from ._management_table import (
    GROUPS,
    MANAGEMENT_ENDPOINTS,
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
from ._models import ConversionGoal, Domain, Model
from ._requests import (
    AccessLinkUpdate,
    ActiveVisitorsTimeUpdate,
    AlternativeDomainUpdate,
    APIClientUpdate,
    DomainRef,
    EmailReportUpdate,
    GoalUpdate,
    HostnameUpdate,
    ImportStart,
    ItemRef,
    MemberInvitation,
    NewAccessLink,
    NewAlternativeDomain,
    NewAPIClient,
    NewDomain,
    NewEmailReports,
    NewGoal,
    RegexTest,
    RequestModel,
    RoleUpdate,
    SnippetRef,
    SnippetUpdate,
    SubdomainUpdate,
    TimezoneUpdate,
    ViewDefinition,
)

__all__ = [
    "ENDPOINTS", "GROUPS", "APIClient", "APIClientUpdate", "AccessLink", "AccessLinkUpdate",
    "AccessLinks", "ActiveVisitorsTimeUpdate", "AlternativeDomain", "AlternativeDomainUpdate",
    "AlternativeDomains", "Clients", "ConversionGoal", "Domain", "DomainRef", "Domains",
    "EmailReport", "EmailReportUpdate", "EmailReports", "GoalUpdate", "Goals", "GoogleImport",
    "GoogleProfile", "HostnameUpdate", "IdentificationCode", "ImportJob", "ImportStart",
    "ItemRef", "Member", "MemberInvitation", "MemberUser", "Members", "Model", "NewAPIClient",
    "NewAccessLink", "NewAlternativeDomain", "NewDomain", "NewEmailReports", "NewGoal",
    "Operation", "RegexMatch", "RegexTest", "RequestModel", "RoleUpdate", "Snippet",
    "SnippetRef", "SnippetUpdate", "Snippets", "SubdomainUpdate", "TimezoneUpdate", "View",
    "ViewDefinition", "Views",
]

ENDPOINTS: Mapping[str, Operation[Any, Any]] = MANAGEMENT_ENDPOINTS
"""Every management method by name (``"domains.create"``, ...) -> Operation."""
