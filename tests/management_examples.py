"""The example responses of ``pirsch-api-v1.md``'s management sections, by method name.

Transcribed as the reference prints them (its ``// ...`` comments and trailing commas left
out). Endpoints the reference gives no response for answer nothing (``None``).
"""

from __future__ import annotations

from typing import Any

_STORED = {"id": "A5kgYzK14m", "def_time": "2021-05-22T10:11:12.123456Z",
           "mod_time": "2021-05-22T10:11:12.123456Z"}

DOMAIN = {
    **_STORED, "user_id": "04jmfg0", "hostname": "example.com", "subdomain": "example",
    "identification_code": "...", "public": False, "google_user_id": None,
    "google_user_email": None, "gsc_domain": None, "new_owner": None,
    "timezone": "Europe/Berlin", "group_by_title": False, "user_role": "Owner",
}
ACCESS_LINK = {**_STORED, "domain_id": "A5kgYzK14m", "code": "...", "description": "..."}
MEMBER = {**_STORED, "user_id": "pzy1bjD1lv", "domain_id": "A5kgYzK14m", "role": "admin",
          "user": {"id": "0DJ0mo934", "email": "...", "full_name": "...", "picture": "..."}}
ALTERNATIVE_DOMAIN = {**_STORED, "domain_id": "0DJ0mo934", "hostname": "alternative.domain.com"}
SNIPPET = {"id": "9do3JD31z", "def_time": "2021-05-22T10:11:12.123456Z",
           "mod_time": "2021-05-22T10:11:12.123456Z", "domain_id": "A5kgYzK14m",
           "type": "event", "dev": True, "include": "/include,/path/.*",
           "exclude": "/exclude,/path/.*", "domains": "example.com,domain.com",
           "endpoint": "https://pirsch.proxy.com/hit", "sample": "/sample,/paths"}
_SCOPES = {"scope_hit": "w", "scope_event": "w", "scope_session": "w",
           "scope_statistics": "r", "scope_domains": "w"}
CLIENT = {**_STORED, "domain_id": "0DJ0mo934", "client_id": "...", "description": "...",
          **_SCOPES}
NEW_CLIENT = {**_STORED, "domain_id": "0DJ0mo934", "client_id": "...", "client_secret": "...",
              "description": "...", **_SCOPES}


def _report(interval: int) -> dict[str, Any]:
    return {**_STORED, "domain_id": "0DJ0mo934", "email": "...", "interval": interval,
            "next_report": "2021-05-22T10:11:12.123456Z"}


GOAL = {**_STORED, "domain_id": "0DJ0mo934", "name": "...", "path_pattern": "...",
        "pattern": "/checkout/**", "visitor_goal": 123, "cr_goal": 1.23,
        "delete_reached": False, "email_reached": True}
_VIEW_FILTERS = ("entry_path", "exit_path", "path_pattern", "pattern", "language", "country",
                 "city", "referrer", "referrer_name", "os", "browser", "platform",
                 "screen_class", "utm_source", "utm_medium", "utm_campaign", "utm_content",
                 "utm_term", "event", "event_meta_key", "event_meta_value")
VIEW = {"id": "Jk49fgm38", "def_time": "2021-05-22T10:11:12.123456Z",
        "mod_time": "2021-05-22T10:11:12.123456Z", "domain_id": "A5kgYzK14m",
        "user_id": "94jO3jDM2", "name": "My View", "from": "2022-01-02", "to": "2022-03-04",
        "period": 5, "path": ["/sample/path"], **dict.fromkeys(_VIEW_FILTERS)}
_JOB = {"id": "Jk49fgm38", "def_time": "2021-05-22T10:11:12.123456Z",
        "mod_time": "2021-05-22T10:11:12.123456Z", "domain_id": "A5kgYzK14m",
        "google_user_id": "...", "google_user_email": "..."}
IMPORT_JOB = {**_JOB, "domain": None, "from": None, "to": None}
STARTED_IMPORT = {**_JOB, "domain": "<GA view ID>", "from": "2022-01-01", "to": "2022-08-01"}

# Method name -> the reference's example response (None: it documents none).
EXAMPLES: dict[str, Any] = {
    "domains.list": [DOMAIN],
    "domains.create": DOMAIN,
    "domains.delete": None,
    "domains.reset_identification_code": {"identification_code": "..."},
    "domains.update_hostname": None,
    "domains.update_subdomain": None,
    "domains.toggle_public": None,
    "domains.toggle_scripts": None,
    "domains.toggle_title_grouping": None,
    "domains.set_active_visitors_time": None,
    "domains.set_timezone": None,
    "domains.set_favorite": None,
    "domains.toggle_active_visitors_in_title": None,
    "links.list": [ACCESS_LINK],
    "links.create": ACCESS_LINK,
    "links.update": None,
    "links.delete": None,
    "members.list": [MEMBER],
    "members.invite": None,
    "members.update_role": None,
    "members.remove": None,
    "alternative_domains.list": [ALTERNATIVE_DOMAIN],
    "alternative_domains.create": ALTERNATIVE_DOMAIN,
    "alternative_domains.update": None,
    "alternative_domains.delete": None,
    "snippets.get": SNIPPET,
    "snippets.update": None,
    "clients.list": [CLIENT],
    "clients.create": NEW_CLIENT,
    "clients.update": CLIENT,
    "clients.delete": None,
    "reports.list": [_report(2)],
    "reports.create": [_report(1)],
    "reports.update": _report(4),
    "reports.delete": None,
    "goals.list": [GOAL],
    "goals.create": GOAL,
    "goals.update": GOAL,
    "goals.delete": None,
    "goals.test_regex": {"match": True},
    "views.list": [VIEW],
    "views.save": VIEW,
    "views.delete": None,
    "google_import.job": IMPORT_JOB,
    "google_import.cancel": None,
    "google_import.profiles": [{"name": "Name", "id": "..."}],
    "google_import.start": STARTED_IMPORT,
}

# Method name -> (HTTP method, path below /api/v1), as the reference gives them, written
# apart from the library's table so the tests compare the two. Where the reference is
# inconsistent, the choice the table's comments explain.
ROUTES: dict[str, tuple[str, str]] = {
    "domains.list": ("GET", "/domain"),
    "domains.create": ("POST", "/domain"),
    "domains.delete": ("DELETE", "/domain"),
    "domains.reset_identification_code": ("PUT", "/domain"),
    "domains.update_hostname": ("POST", "/domain/hostname"),
    "domains.update_subdomain": ("POST", "/domain/subdomain"),
    "domains.toggle_public": ("POST", "/domain/public"),
    "domains.toggle_scripts": ("POST", "/domain/scripts"),
    "domains.toggle_title_grouping": ("POST", "/domain/title"),
    "domains.set_active_visitors_time": ("POST", "/domain/active"),
    "domains.set_timezone": ("POST", "/domain/timezone"),
    "domains.set_favorite": ("POST", "/user/favorite"),
    "domains.toggle_active_visitors_in_title": ("POST", "/user/active"),
    "links.list": ("GET", "/domain/link"),
    "links.create": ("POST", "/domain/link"),
    "links.update": ("PUT", "/domain/link"),
    "links.delete": ("DELETE", "/domain/link"),
    "members.list": ("GET", "/member"),
    "members.invite": ("POST", "/member"),
    "members.update_role": ("PUT", "/member"),
    "members.remove": ("DELETE", "/member"),
    "alternative_domains.list": ("GET", "/domain/alternative"),
    "alternative_domains.create": ("POST", "/domain/alternative"),
    "alternative_domains.update": ("PUT", "/domain/alternative"),
    "alternative_domains.delete": ("DELETE", "/domain/alternative"),
    "snippets.get": ("GET", "/domain/snippet"),
    "snippets.update": ("POST", "/domain/snippet"),
    "clients.list": ("GET", "/client"),
    "clients.create": ("POST", "/client"),
    "clients.update": ("POST", "/client"),
    "clients.delete": ("DELETE", "/client"),
    "reports.list": ("GET", "/report"),
    "reports.create": ("POST", "/report"),
    "reports.update": ("PUT", "/report"),
    "reports.delete": ("DELETE", "/report"),
    "goals.list": ("GET", "/goal"),
    "goals.create": ("POST", "/goal"),
    "goals.update": ("PUT", "/goal"),
    "goals.delete": ("DELETE", "/goal"),
    "goals.test_regex": ("POST", "/goal/regex"),
    "views.list": ("GET", "/view"),
    "views.save": ("POST", "/view"),
    "views.delete": ("DELETE", "/view"),
    "google_import.job": ("GET", "/google/import/job"),
    "google_import.cancel": ("DELETE", "/google/import/job"),
    "google_import.profiles": ("GET", "/google/import/profile"),
    "google_import.start": ("POST", "/google/import"),
}
