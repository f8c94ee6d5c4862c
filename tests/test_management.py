"""The management API: every endpoint through both clients, the table against the
reference, request validation, responses and errors."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from pirsch_middleware import APIError, AsyncClient, Client, PirschError
from pirsch_middleware._client import Management
from pirsch_middleware.management import (
    ENDPOINTS,
    GROUPS,
    APIClient,
    Member,
    NewGoal,
    Operation,
    RequestModel,
)
from pirsch_middleware.statistics import ENDPOINTS as STATISTICS_ENDPOINTS

from .management_examples import EXAMPLES, ROUTES
from .stats_server import CLIENT_ID, CLIENT_SECRET, NO_BODY, StatsServer

D = "A5kgYzK14m"  # the reference's domain ID
X = "0DJ0mo934"  # the reference's other ID
SCOPES = {"scope_hit": "w", "scope_event": "w", "scope_session": "w", "scope_statistics": "r",
          "scope_domains": "w"}
GOAL_ARGS = {"domain_id": X, "name": "...", "path_pattern": "/checkout/**", "visitor_goal": 123,
             "cr_goal": 1.23, "delete_reached": False, "email_reached": True}
GOAL_BODY = {"domain_id": X, "name": "...", "path_pattern": "/checkout/**", "visitors": 123,
             "cr": 1.23, "delete_reached": False, "email_reached": True}
SNIPPET = {"domain_id": D, "type": "page view", "dev": True, "include": "/include,/path/.*",
           "exclude": "/exclude,/path/.*", "domains": "example.com,domain.com",
           "endpoint": "https://pirsch.proxy.com/hit", "sample": "/sample,/paths"}
EMAILS = ["member@foo.com", "member@bar.com"]

# Method name -> (keyword arguments, the query string, the JSON body) the reference's
# example requests show; None: no body.
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str]], Any]] = {
    "domains.list": ({}, [], None),
    "domains.create": (
        {"hostname": "example.com", "subdomain": "example", "timezone": "Europe/Berlin"}, [],
        {"hostname": "example.com", "subdomain": "example", "timezone": "Europe/Berlin"}),
    "domains.delete": ({"domain_id": D}, [("id", D)], None),
    "domains.reset_identification_code": ({"domain_id": D}, [], {"id": D}),
    "domains.update_hostname": ({"domain_id": D, "hostname": "new-hostname.com"}, [],
                                {"domain_id": D, "hostname": "new-hostname.com"}),
    "domains.update_subdomain": ({"domain_id": D, "subdomain": "new-subdomain"}, [],
                                 {"domain_id": D, "subdomain": "new-subdomain"}),
    "domains.toggle_public": ({"domain_id": D}, [], {"domain_id": D}),
    "domains.toggle_scripts": ({"domain_id": D}, [], {"domain_id": D}),
    "domains.toggle_title_grouping": ({"domain_id": D}, [], {"domain_id": D}),
    "domains.set_active_visitors_time": ({"domain_id": D, "seconds": 123}, [],
                                         {"domain_id": D, "time": 123}),
    "domains.set_timezone": ({"domain_id": D, "timezone": "Europe/Berlin"}, [],
                             {"domain_id": D, "timezone": "Europe/Berlin"}),
    "domains.set_favorite": ({"domain_id": D}, [], {"id": D}),
    "domains.toggle_active_visitors_in_title": ({}, [], None),
    "links.list": ({"domain_id": D}, [("domain_id", D)], None),
    "links.create": ({"domain_id": D, "description": "..."}, [],
                     {"domain_id": D, "description": "..."}),
    "links.update": ({"id": D, "description": "..."}, [], {"id": D, "description": "..."}),
    "links.delete": ({"id": X}, [("id", X)], None),
    "members.list": ({"domain_id": D}, [("id", D)], None),
    "members.invite": ({"domain_id": D, "emails": EMAILS}, [], {"id": D, "emails": EMAILS}),
    "members.update_role": ({"id": D, "role": "admin"}, [], {"id": D, "role": "admin"}),
    "members.remove": ({"id": X}, [("id", X)], None),
    "alternative_domains.list": ({"domain_id": X}, [("domain_id", X)], None),
    "alternative_domains.create": ({"domain_id": X, "hostname": "alternative.domain.com"}, [],
                                   {"domain_id": X, "hostname": "alternative.domain.com"}),
    "alternative_domains.update": ({"id": D, "hostname": "new-alternative.domain.com"}, [],
                                   {"id": D, "hostname": "new-alternative.domain.com"}),
    "alternative_domains.delete": ({"id": D}, [("id", D)], None),
    "snippets.get": ({"domain_id": D, "type": "event"}, [("domain_id", D), ("type", "event")],
                     None),
    "snippets.update": (SNIPPET, [], SNIPPET),
    "clients.list": ({"domain_id": X}, [("id", X)], None),
    "clients.create": ({"domain_id": X, "type": "token", "description": "...", **SCOPES}, [],
                       {"domain_id": X, "type": "token", "description": "...", **SCOPES}),
    "clients.update": ({"id": D, "description": "..."}, [], {"id": D, "description": "..."}),
    "clients.delete": ({"id": D}, [("id", D)], None),
    "reports.list": ({"domain_id": X}, [("id", X)], None),
    "reports.create": ({"domain_id": X, "emails": EMAILS, "interval": 1}, [],
                       {"domain_id": X, "emails": EMAILS, "interval": 1}),
    "reports.update": ({"id": D, "interval": 4}, [], {"id": D, "interval": 4}),
    "reports.delete": ({"id": D}, [("id", D)], None),
    "goals.list": ({"domain_id": X}, [("id", X)], None),
    "goals.create": (GOAL_ARGS, [], GOAL_BODY),
    "goals.update": ({"id": D, **GOAL_ARGS}, [], {"id": D, **GOAL_BODY}),
    "goals.delete": ({"id": D}, [("id", D)], None),
    "goals.test_regex": (
        {"regex": "(?i)^/regular/expression/[^/]*$", "sample": "/regular/expression/example"},
        [], {"regex": "(?i)^/regular/expression/[^/]*$",
             "sample": "/regular/expression/example"}),
    "views.list": ({"domain_id": D}, [("domain_id", D)], None),
    # The reference's example also sends null for each unset filter: unset is left out.
    "views.save": (
        {"id": "Jk49fgm38", "domain_id": D, "name": "My View", "public": True,
         "overwrite": True, "from_date": date(2022, 1, 2), "to_date": date(2022, 3, 4),
         "period": 5, "path": ["/sample/path"]}, [],
        {"id": "Jk49fgm38", "domain_id": D, "name": "My View", "public": True,
         "overwrite": True, "from": "2022-01-02", "to": "2022-03-04", "period": 5,
         "path": ["/sample/path"]}),
    "views.delete": ({"id": "Jk49fgm38"}, [("id", "Jk49fgm38")], None),
    "google_import.job": ({"domain_id": D}, [("domain_id", D)], None),
    "google_import.cancel": ({"domain_id": D}, [("domain_id", D)], None),
    "google_import.profiles": ({"domain_id": D}, [("domain_id", D)], None),
    "google_import.start": (
        {"domain_id": D, "property_id": "<GA view ID>", "from_date": date(2022, 1, 1),
         "to_date": date(2022, 8, 1)}, [],
        {"domain_id": D, "property": "<GA view ID>", "from": "2022-01-01", "to": "2022-08-01"}),
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PIRSCH_CLIENT_ID", "PIRSCH_CLIENT_SECRET", "PIRSCH_ACCESS_KEY",
                 "PIRSCH_BASE_URL", "PIRSCH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def _server() -> Iterator[StatsServer]:
    with StatsServer() as server:
        yield server


@pytest.fixture
def server(_server: StatsServer) -> StatsServer:
    _server.reset()
    return _server


@pytest.fixture
def client(server: StatsServer) -> Iterator[Client]:
    with Client(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
        yield client


def method(client: Any, name: str) -> Any:
    return functools.reduce(getattr, name.split("."), client)


def answer_with_example(server: StatsServer, name: str) -> Any:
    """Make the server answer ``name``'s route with the reference's example; return it."""
    example = EXAMPLES[name]
    server.answers[ROUTES[name]] = NO_BODY if example is None else example
    return example


def assert_result(name: str, result: Any) -> None:
    entry = ENDPOINTS[name]
    assert result == entry.parse(EXAMPLES[name])
    if entry.response is None:
        assert result is None
    elif entry.many:
        assert result, name
        assert all(isinstance(item, entry.response) for item in result)
    else:
        assert isinstance(result, entry.response)


def assert_sent(server: StatsServer, name: str) -> None:
    _, query, body = CASES[name]
    seen = server.statistics_requests[-1]
    assert (seen.method, seen.path) == ROUTES[name]
    assert (seen.query, seen.body) == (query, body)
    assert str(seen.authorization).startswith("Bearer token-")


# --- the table --------------------------------------------------------------------------------

def test_both_clients_expose_every_entry_of_both_tables() -> None:
    tables = {**STATISTICS_ENDPOINTS, **ENDPOINTS}
    assert len(tables) == len(STATISTICS_ENDPOINTS) + len(ENDPOINTS)  # no name in both
    clients: list[Any] = [Client("id", "secret"), AsyncClient("id", "secret")]
    for client in clients:
        for name, entry in tables.items():
            bound = method(client, name)
            assert isinstance(bound, functools.partial), name
            assert bound.args == (entry,), name
            owner: Any = getattr(bound.func, "__self__", None)  # the client, or its group
            assert owner is client or owner._client is client, name
    clients[0].close()
    asyncio.run(clients[1].aclose())


def test_every_entry_is_named_for_its_group_and_has_a_case() -> None:
    assert set(CASES) == set(ENDPOINTS) == set(ROUTES) == set(EXAMPLES)
    for name, entry in ENDPOINTS.items():
        assert isinstance(entry, Operation)
        assert entry.name == name
        assert name.split(".")[0] in GROUPS
        assert (entry.method, entry.path) == ROUTES[name]
        assert entry.request is None or issubclass(entry.request, RequestModel)


def test_the_clients_declare_the_type_of_every_group() -> None:
    assert list(Management.__annotations__) == list(GROUPS)


def test_importing_the_package_leaves_the_management_tables_for_the_first_client() -> None:
    # The tracker imports the package in every web worker; only a client needs the tables.
    code = (
        "import sys, pirsch_middleware\n"
        "tables = {'pirsch_middleware._management_table', 'pirsch_middleware._requests',\n"
        "          'pirsch_middleware._management_models'}\n"
        "assert not tables & set(sys.modules), tables & set(sys.modules)\n"
        "pirsch_middleware.Client('id', 'secret').close()\n"
        "assert tables <= set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def reference_path() -> Path:
    # The reference sits beside the checkouts (../shared), as the project's notes have it.
    given = os.environ.get("API_REFERENCE_MD")
    path = Path(given) if given else Path(__file__).resolve().parents[2] / "shared" / \
        "pirsch-api-v1.md"
    if not path.is_file():
        pytest.skip(f"the API reference is not at {path} (set API_REFERENCE_MD)")
    return path


@dataclass
class Documented:
    """What the reference shows for one endpoint: its first request line and example body."""

    method: str = ""
    path: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    body: dict[str, Any] | None = None


def management_sections(text: str) -> dict[str, dict[str, Documented]]:
    """``## section`` -> ``### subsection`` -> what it documents, for every section after
    "Filter Options"."""
    sections: dict[str, dict[str, Documented]] = {}
    tail = text.split("\n## Filter Options\n", 1)[1]
    current: dict[str, Documented] = {}
    doc = Documented()
    for block in re.split(r"(?m)^(?=#{2,3} )", tail)[1:]:
        heading, _, body = block.partition("\n")
        if heading.startswith("## "):
            current = sections.setdefault(heading[3:].strip(), {})
            continue
        doc = current.setdefault(heading[4:].strip(), Documented())
        line = re.search(r"`([A-Z]+) /api/v1(/[^?`]*)\??([^`]*)`", body)
        if line:
            doc.method, doc.path = line[1], line[2]
            doc.query = parse_qsl(line[3])
        example = re.search(r"EXAMPLE REQUEST\n```JSON\n(.*?)\n```", body, re.DOTALL)
        if example:
            doc.body = json.loads(_plain_json(example[1]))
    return sections


def _plain_json(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text)  # /* ... */
    text = re.sub(r"\s//[^\n]*", "", text)  # // comments (not the // of a URL)
    return re.sub(r",(\s*[}\]])", r"\1", text)  # trailing commas


# What the table reads differently from the reference's text, each explained beside its entry.
READ_AS = {
    "Listing Domains": ("GET", "/domain"),  # "described in the Statistics section"
    "Canceling an Import Job": ("DELETE", "/google/import/job"),  # "DELTE"
}


# What the reference documents, kept beside the tests: a checkout without ../shared (CI)
# still checks the table against it, and where the reference is present the two must agree.
SNAPSHOT = Path(__file__).with_name("reference_management.json")


def _as_json(sections: dict[str, dict[str, Documented]]) -> dict[str, Any]:
    return {section: {heading: {"method": doc.method, "path": doc.path,
                                "query": [list(pair) for pair in doc.query], "body": doc.body}
                      for heading, doc in subsections.items()}
            for section, subsections in sections.items()}


def _from_json(data: dict[str, Any]) -> dict[str, dict[str, Documented]]:
    return {section: {heading: Documented(doc["method"], doc["path"],
                                          [tuple(pair) for pair in doc["query"]], doc["body"])
                      for heading, doc in subsections.items()}
            for section, subsections in data.items()}


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Documented]]:
    return _from_json(json.loads(SNAPSHOT.read_text(encoding="utf-8")))


def test_the_snapshot_is_what_the_reference_documents() -> None:
    parsed = management_sections(reference_path().read_text(encoding="utf-8"))
    assert _as_json(parsed) == json.loads(SNAPSHOT.read_text(encoding="utf-8")), (
        "the reference changed: python -m tests.test_management writes the snapshot again")


def test_every_management_section_of_the_reference_is_in_the_table(
    reference: dict[str, dict[str, Documented]],
) -> None:
    assert len(reference) >= 10  # domains ... Google import: the parse found them
    by_section = {entry.section: entry for entry in ENDPOINTS.values()}
    assert len(by_section) == len(ENDPOINTS)  # one entry per subsection
    for section, subsections in reference.items():
        assert subsections, f"{section!r} documents no endpoint the test can find"
        for heading, doc in subsections.items():
            entry = by_section.get(heading)
            assert entry is not None, f"no entry for {section} / {heading}"
            route = READ_AS.get(heading, (doc.method, doc.path))
            assert (entry.method, entry.path) == route, heading
    documented = {h for subsections in reference.values() for h in subsections}
    assert set(by_section) <= documented  # no entry names a heading the reference lacks


def test_the_cases_send_the_references_example_requests(
    reference: dict[str, dict[str, Documented]],
) -> None:
    docs = {heading: doc for subsections in reference.values()
            for heading, doc in subsections.items()}
    checked = 0
    for name, (_, query, body) in CASES.items():
        doc = docs[ENDPOINTS[name].section]
        if doc.query:
            assert query == doc.query, name
            checked += 1
        if doc.body is not None:
            # Unset (null) fields are left out; a view's filters are null in the example.
            assert body == {k: v for k, v in doc.body.items() if v is not None}, name
            checked += 1
    assert checked >= 40  # nearly every endpoint shows an example request


# --- every endpoint through both clients ------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_endpoint_through_the_sync_client(client: Client, server: StatsServer, name: str) -> None:
    answer_with_example(server, name)
    kwargs = CASES[name][0]

    result = method(client, name)(**kwargs)

    assert_sent(server, name)
    assert_result(name, result)


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(CASES))
async def test_endpoint_through_the_async_client(server: StatsServer, name: str) -> None:
    answer_with_example(server, name)
    kwargs = CASES[name][0]

    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
        result = await method(client, name)(**kwargs)

    assert_sent(server, name)
    assert_result(name, result)


def test_calling_the_domains_group_lists_the_domains(client: Client, server: StatsServer) -> None:
    assert client.domains() == client.domains.list()
    assert [r.path for r in server.statistics_requests] == ["/domain", "/domain"]


def test_an_answer_to_a_write_is_not_read(client: Client, server: StatsServer) -> None:
    # The reference documents no answer for these: whatever the API sends, success is None.
    server.answers["POST", "/domain/public"] = {"public": True}
    assert client.domains.toggle_public(domain_id=D) is None
    server.answers["POST", "/domain/public"] = b"OK"
    assert client.domains.toggle_public(domain_id=D) is None


def test_the_secret_of_a_new_client_is_kept_out_of_repr(client: Client,
                                                        server: StatsServer) -> None:
    server.answers["POST", "/client"] = {**EXAMPLES["clients.create"], "client_secret": "s3"}
    created = client.clients.create(domain_id=X, type="oauth", scope_statistics="r")
    assert created.client_secret == "s3"
    assert "s3" not in repr(created)
    assert server.statistics_requests[-1].body == {
        "domain_id": X, "type": "oauth", "description": "", "scope_hit": "", "scope_event": "",
        "scope_session": "", "scope_statistics": "r", "scope_domains": ""}


def test_responses_keep_fields_the_api_adds_later() -> None:
    member = Member.from_dict({**EXAMPLES["members.list"][0], "organization_id": "kco39ID2",
                               "invited": True})
    assert member.organization_id == "kco39ID2"
    assert member.extra == {"invited": True}
    assert member.user is not None
    assert member.user.email == "..."
    assert isinstance(APIClient.from_dict(EXAMPLES["clients.list"][0]), APIClient)


# --- request validation: before anything is sent ----------------------------------------------

INVALID = [
    ("domains.delete", {}, TypeError,
     r"domains.delete\(\) is missing 'domain_id'; it takes domain_id"),
    ("domains.delete", {"domain_id": ""}, ValueError, "domain_id must not be empty"),
    ("domains.delete", {"domain_id": 5}, TypeError, "domain_id must be str"),
    ("domains.create", {"hostname": "example.com", "subdomain": "", "timezone": "UTC"},
     ValueError, "subdomain must not be empty"),
    ("domains.set_active_visitors_time", {"domain_id": D, "seconds": 0}, ValueError,
     "seconds must be 1 or more"),
    ("domains.set_active_visitors_time", {"domain_id": D, "seconds": True}, TypeError,
     "seconds must be int"),
    ("domains.toggle_active_visitors_in_title", {"domain_id": D}, TypeError,
     r"toggle_active_visitors_in_title\(\) takes no arguments"),
    ("members.invite", {"domain_id": D, "emails": []}, ValueError, "at least one email"),
    ("members.invite", {"domain_id": D, "emails": ["ann"]}, ValueError,
     "'ann' is not an email address"),
    ("members.invite", {"domain_id": D, "emails": 5}, TypeError, "emails must be a str"),
    ("members.update_role", {"id": X, "role": "owner"}, ValueError,
     "role must be one of 'viewer', 'admin'"),
    ("members.remove", {"domain_id": D}, TypeError,
     r"members.remove\(\) got unexpected 'domain_id'; it takes id"),
    ("snippets.update", {"domain_id": D, "type": "session"}, ValueError, "type must be one of"),
    ("clients.create", {"domain_id": X, "type": "oauth", "scope_statistics": "w"}, ValueError,
     "scope_statistics must be one of"),
    ("reports.create", {"domain_id": X, "emails": EMAILS, "interval": -1}, ValueError,
     "interval"),
    ("goals.create", {"domain_id": X, "name": "Goal"}, ValueError,
     "needs a path_pattern .* or an event_name"),
    ("goals.create", {**GOAL_ARGS, "cr_goal": "high"}, TypeError, "cr_goal must be float"),
    ("goals.test_regex", {"regex": "", "sample": "/"}, ValueError, "regex must not be empty"),
    ("views.save", {"domain_id": D, "name": "V", "from_date": date(2022, 2, 1),
                    "to_date": date(2022, 1, 1)}, ValueError, "after to_date"),
    ("views.save", {"domain_id": D, "name": "V", "from_date": "2022-01-01"}, TypeError,
     "datetime.date"),
    ("google_import.start", {"domain_id": D, "property_id": "p", "from_date": date(2022, 1, 1)},
     TypeError, "is missing 'to_date'"),
]


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), INVALID)
def test_invalid_arguments_raise_before_anything_is_sent(
    client: Client, server: StatsServer, name: str, kwargs: dict[str, Any],
    error: type[Exception], message: str,
) -> None:
    with pytest.raises(error, match=message):
        method(client, name)(**kwargs)
    assert server.requests == []


@pytest.mark.anyio
async def test_the_async_client_raises_at_the_call_not_at_the_await(
    server: StatsServer,
) -> None:
    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=server.base_url) as client:
        with pytest.raises(ValueError, match="id must not be empty"):
            client.goals.delete(id="")  # type: ignore[unused-coroutine]
    assert server.requests == []


def test_deletes_take_the_id_by_keyword_only(client: Client, server: StatsServer) -> None:
    with pytest.raises(TypeError, match=r"domains.delete\(\) takes keyword arguments only: "
                                        r"domain_id=\.\.\."):
        client.domains.delete(D)  # type: ignore[call-arg]
    assert server.requests == []


def test_request_models_say_what_is_sent() -> None:
    goal = NewGoal(domain_id=X, name="Sign-up", event_name="Sign-up", visitor_goal=10)
    assert goal.to_wire() == {"domain_id": X, "name": "Sign-up", "visitors": 10, "cr": 0.0,
                              "delete_reached": False, "email_reached": False,
                              "event_name": "Sign-up"}


# --- errors -----------------------------------------------------------------------------------

def test_an_invalid_regular_expression_is_an_api_error(client: Client,
                                                        server: StatsServer) -> None:
    server.fail_with(400, {"validation": {"regex": "invalid regular expression"}, "error": []})
    with pytest.raises(APIError) as caught:
        client.goals.test_regex(regex="(", sample="/")
    assert caught.value.validation == {"regex": "invalid regular expression"}
    assert "POST /api/v1/goal/regex" in str(caught.value)


def test_a_missing_object_is_an_api_error_naming_the_call(client: Client,
                                                           server: StatsServer) -> None:
    server.fail_with(404, {"error": ["goal not found"]})
    with pytest.raises(APIError, match=r"DELETE /api/v1/goal: .*goal not found") as caught:
        client.goals.delete(id="nope")
    assert caught.value.status_code == 404


def test_an_unexpected_answer_is_a_pirsch_error(client: Client, server: StatsServer) -> None:
    server.answers["GET", "/goal"] = {"not": "a list"}
    with pytest.raises(PirschError, match=r"GET /api/v1/goal: unexpected response"):
        client.goals.list(domain_id=X)


def test_an_expired_token_is_renewed_for_a_write_too(client: Client,
                                                     server: StatsServer) -> None:
    client.goals.list(domain_id=X)
    server.expire_tokens()
    client.members.invite(domain_id=D, emails="ann@example.com")
    posts = [r for r in server.statistics_requests if r.path == "/member"]
    assert [r.body for r in posts] == [{"id": D, "emails": ["ann@example.com"]}] * 2
    assert posts[0].authorization != posts[1].authorization  # refused, then sent again


def test_an_access_key_cannot_manage(server: StatsServer) -> None:
    with Client(client_secret="pa_abcdef", base_url=server.base_url) as client, \
            pytest.raises(PirschError, match="manage domains"):
        client.domains.create(hostname="example.com", subdomain="example", timezone="UTC")
    assert server.requests == []


# --- the README -------------------------------------------------------------------------------

def readme_examples(section: str) -> list[str]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    text = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_the_readme_examples_run_as_written(
    server: StatsServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIRSCH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PIRSCH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PIRSCH_BASE_URL", server.base_url)
    server.answers["POST", "/domain"] = {**EXAMPLES["domains.create"],
                                         "identification_code": "Xy12AbCd"}
    examples = readme_examples("Managing your account")
    assert examples

    for code in examples:
        exec(compile(code, "README.md", "exec"), {})

    assert [(r.method, r.path) for r in server.statistics_requests] == [
        ("POST", "/domain"), ("POST", "/goal"), ("POST", "/goal/regex"), ("POST", "/member")]
    assert capsys.readouterr().out == "A5kgYzK14m Xy12AbCd\nTrue\n"


if __name__ == "__main__":  # python -m tests.test_management: write the snapshot again
    sections = management_sections(reference_path().read_text(encoding="utf-8"))
    SNAPSHOT.write_text(json.dumps(_as_json(sections), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
