"""The management endpoint table: every section of the API reference after "Filter Options",
one :class:`~._endpoints.Operation` each, grouped as the clients show them
(``client.domains.create``, ``client.goals.test_regex``). The public view of it is
``pirsch_middleware.management.ENDPOINTS``.

Where the reference contradicts itself, each entry follows what it most plausibly means
and says so in a comment beside it.
"""

from __future__ import annotations

import builtins
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, overload

from ._endpoints import C, Group, Operation, collect
from ._endpoints import operation as _one
from ._endpoints import operation_bare as _bare
from ._endpoints import operation_bare_many as _bare_many
from ._endpoints import operation_many as _many
from ._endpoints import operation_none as _none
from ._management_models import (
    AccessLink,
    AlternativeDomain,
    APIClient,
    EmailReport,
    GoogleProfile,
    IdentificationCode,
    ImportJob,
    Member,
    RegexMatch,
    Snippet,
    View,
)
from ._models import ConversionGoal, Domain
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
    RoleUpdate,
    SnippetRef,
    SnippetUpdate,
    SubdomainUpdate,
    TimezoneUpdate,
    ViewDefinition,
)

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = [
    "GROUPS", "MANAGEMENT_ENDPOINTS", "AccessLinks", "AlternativeDomains", "Clients", "Domains",
    "EmailReports", "Goals", "GoogleImport", "Members", "Snippets", "Views",
]

# The reference names the domain "id" in these queries and bodies, "domain_id" elsewhere.
_AS_ID = {"domain_id": "id"}

_DOMAINS = "Managing Domains"


class Domains(Group[C]):
    """``client.domains()`` lists the domains; the rest manage one (a user client can
    create and delete them)::

        domain = client.domains.create(hostname="example.com", subdomain="example",
                                       timezone="Europe/Berlin")
        print(domain.identification_code)
    """

    _namespace = "domains."

    list = _bare_many("GET", "/domain", Domain, section="Listing Domains",
                      summary="the domains (dashboards): all of a user client's, or the "
                              "one of a domain client")
    create = _one("POST", "/domain", NewDomain, Domain, section="Creating a Domain",
                  summary="add a domain")
    delete = _none("DELETE", "/domain", DomainRef, rename=_AS_ID,
                   section="Deleting a Domain", summary="delete a domain and its statistics")
    reset_identification_code = _one(
        "PUT", "/domain", DomainRef, IdentificationCode, rename=_AS_ID,
        section="Resetting the Identification Code",
        summary="a new identification code (the old one stops working)")
    update_hostname = _none("POST", "/domain/hostname", HostnameUpdate,
                            section="Updating the Hostname", summary="change the hostname")
    update_subdomain = _none("POST", "/domain/subdomain", SubdomainUpdate,
                             section="Updating the Subdomain",
                             summary="change the dashboard's subdomain (on pirsch.io)")
    # The reference labels this body "EXAMPLE RESPONSE"; it is the request, as for the
    # other toggles beside it.
    toggle_public = _none("POST", "/domain/public", DomainRef,
                          section="Toggle the Visiblity of Your Dashboard",
                          summary="make the dashboard public, or private again")
    toggle_scripts = _none("POST", "/domain/scripts", DomainRef, section="Disable Scripts",
                           summary="refuse (or accept again) data sent by scripts")
    toggle_title_grouping = _none("POST", "/domain/title", DomainRef,
                                  section="Toggle Grouping by Title",
                                  summary="group statistics by page title, or stop")
    set_active_visitors_time = _none("POST", "/domain/active", ActiveVisitorsTimeUpdate,
                                     section="Changing the Active Visitors Time",
                                     summary="seconds a visitor counts as active")
    set_timezone = _none("POST", "/domain/timezone", TimezoneUpdate,
                         section="Changing the Time Zone", summary="the dashboard's time zone")
    set_favorite = _none("POST", "/user/favorite", DomainRef, rename=_AS_ID,
                         section="Setting a Domain as Favorite",
                         summary="mark a domain as favourite (user clients)")
    # A setting of the user, not of a domain: it takes nothing.
    toggle_active_visitors_in_title = _bare(
        "POST", "/user/active", section="Showing Active Visitors in the Page Title",
        summary="show active visitors in the dashboard's tab title, or stop")

    @overload
    def __call__(self: Domains[Client]) -> builtins.list[Domain]: ...
    @overload
    def __call__(self: Domains[AsyncClient]) -> Coroutine[Any, Any, builtins.list[Domain]]: ...
    def __call__(self) -> Any:
        """The domains: ``client.domains()`` is ``client.domains.list()``."""
        return self._invoke(Domains.list)


class AccessLinks(Group[C]):
    """Read-only links to a dashboard: ``client.links.create(domain_id=..., description=...)``."""

    _namespace = "links."

    list = _many("GET", "/domain/link", DomainRef, AccessLink,
                 section="Listing Access Links", summary="a domain's access links")
    create = _one("POST", "/domain/link", NewAccessLink, AccessLink,
                  section="Creating an Access Link", summary="a new access link")
    update = _none("PUT", "/domain/link", AccessLinkUpdate, section="Updating an Access Link",
                   summary="change an access link's description")
    delete = _none("DELETE", "/domain/link", ItemRef, section="Deleting an Access Link",
                   summary="delete an access link (its URL stops working)")


class Members(Group[C]):
    """The people who can see a domain: ``client.members.invite(domain_id=...,
    emails=["ann@example.com"])``."""

    _namespace = "members."

    list = _many("GET", "/member", DomainRef, Member, rename=_AS_ID,
                 section="Listing Members", summary="a domain's members and their roles")
    invite = _none("POST", "/member", MemberInvitation, rename=_AS_ID,
                   section="Inviting Members", summary="invite people by email (as viewers)")
    # The body's "id" is the member's here, so the request field is "id" too.
    update_role = _none("PUT", "/member", RoleUpdate, section="Updating the Role of a Member",
                        summary="make a member a viewer or an admin")
    remove = _none("DELETE", "/member", ItemRef, section="Removing a Member",
                   summary="remove a member from a domain")


class AlternativeDomains(Group[C]):
    """More hostnames that may send data to a domain (roll-up views, several sites)."""

    _namespace = "alternative_domains."

    list = _many("GET", "/domain/alternative", DomainRef, AlternativeDomain,
                 section="Listing Alternative Domains", summary="a domain's alternative domains")
    create = _one("POST", "/domain/alternative", NewAlternativeDomain, AlternativeDomain,
                  section="Creating Alternative Domains", summary="add an alternative domain")
    update = _none("PUT", "/domain/alternative", AlternativeDomainUpdate,
                   section="Updating Alternative Domains",
                   summary="change an alternative domain's hostname")
    delete = _none("DELETE", "/domain/alternative", ItemRef,
                   section="Deleting Alternative Domains",
                   summary="delete an alternative domain")


class Snippets(Group[C]):
    """The tracking snippets' settings, per domain and type (page view, event, session)."""

    _namespace = "snippets."

    get = _one("GET", "/domain/snippet", SnippetRef, Snippet, section="Getting a Snippet",
               summary="a snippet's settings")
    update = _none("POST", "/domain/snippet", SnippetUpdate, section="Updating a Snippet",
                   summary="change a snippet's settings")


class Clients(Group[C]):
    """A domain's API clients (oAuth clients and access keys), managed by a user client."""

    _namespace = "clients."

    list = _many("GET", "/client", DomainRef, APIClient, rename=_AS_ID,
                 section="Listing Clients", summary="a domain's clients")
    create = _one("POST", "/client", NewAPIClient, APIClient, section="Creating a Client",
                  summary="a new client (the answer holds its secret, once)")
    # POST, as the reference says (create and update share the path; the body's "id"
    # tells them apart, as it does for views), although the other updates use PUT.
    update = _one("POST", "/client", APIClientUpdate, APIClient, section="Updating a Client",
                  summary="change a client's description")
    delete = _none("DELETE", "/client", ItemRef, section="Deleting a Client",
                   summary="delete a client (its credentials stop working)")


class EmailReports(Group[C]):
    """Statistics sent by email every few weeks."""

    _namespace = "reports."

    list = _many("GET", "/report", DomainRef, EmailReport, rename=_AS_ID,
                 section="Listing Email Reports", summary="a domain's email reports")
    # One report per address: the answer is a list.
    create = _many("POST", "/report", NewEmailReports, EmailReport,
                   section="Creating Email Reports", summary="send reports to addresses")
    update = _one("PUT", "/report", EmailReportUpdate, EmailReport,
                  section="Updating an Email Report", summary="change a report's interval")
    delete = _none("DELETE", "/report", ItemRef, section="Deleting an Email Report",
                   summary="stop an email report")


class Goals(Group[C]):
    """Conversion goals; ``client.conversion_goals(f)`` reads how they do."""

    _namespace = "goals."

    list = _many("GET", "/goal", DomainRef, ConversionGoal, rename=_AS_ID,
                 section="Listing Conversion Goals", summary="a domain's conversion goals")
    create = _one("POST", "/goal", NewGoal, ConversionGoal,
                  section="Creating a Conversion Goal", summary="a new conversion goal")
    update = _one("PUT", "/goal", GoalUpdate, ConversionGoal,
                  section="Updating a Conversion Goal", summary="redefine a conversion goal")
    delete = _none("DELETE", "/goal", ItemRef, section="Deleting a Conversion Goal",
                   summary="delete a conversion goal")
    test_regex = _one("POST", "/goal/regex", RegexTest, RegexMatch,
                      section="Testing the Regular Expression for a Conversion Goal",
                      summary="whether a goal's regular expression matches a sample path")


class Views(Group[C]):
    """Saved views (a period and filters) of a dashboard."""

    _namespace = "views."

    list = _many("GET", "/view", DomainRef, View, section="Listing Views",
                 summary="a domain's views")
    # One endpoint creates (no id) and updates (id set): one method, as the reference has it.
    save = _one("POST", "/view", ViewDefinition, View, section="Creating/Updating a View",
                summary="create a view, or replace the one with this id")
    delete = _none("DELETE", "/view", ItemRef, section="Deleting a View",
                   summary="delete a view")


class GoogleImport(Group[C]):
    """Importing Universal Analytics statistics into a domain connected to Google."""

    _namespace = "google_import."

    job = _one("GET", "/google/import/job", DomainRef, ImportJob,
               section="Getting an Import Job", summary="the domain's import job, if any")
    # The reference spells the method "DELTE": DELETE, the only method it can mean.
    cancel = _none("DELETE", "/google/import/job", DomainRef,
                   section="Canceling an Import Job", summary="cancel the domain's import")
    profiles = _many("GET", "/google/import/profile", DomainRef, GoogleProfile,
                     section="Listing Google Analytics Profiles",
                     summary="the Google Analytics views the import can read")
    start = _one("POST", "/google/import", ImportStart, ImportJob,
                 section="Starting the Import", summary="import a view for a period")


# The groups by their attribute on a client; _client.Management declares their types.
GROUPS: Mapping[str, type[Group[Any]]] = {
    group._namespace.rstrip("."): group
    for group in (Domains, AccessLinks, Members, AlternativeDomains, Snippets, Clients,
                  EmailReports, Goals, Views, GoogleImport)
}


MANAGEMENT_ENDPOINTS: Mapping[str, Operation[Any, Any]] = collect(Operation, GROUPS.values())
"""Every management method by name (``"domains.create"``, ``"goals.test_regex"``, ...)."""
