"""The ``pirsch`` command line, run through ``main()`` against the fake Pirsch API."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pirsch_middleware import cli
from pirsch_middleware.cli import FILTER_HELP, main
from pirsch_middleware.management import ENDPOINTS as MANAGEMENT
from pirsch_middleware.statistics import ENDPOINTS, Domain, Filter

from .management_examples import EXAMPLES as MANAGEMENT_EXAMPLES
from .stats_server import CLIENT_ID, CLIENT_SECRET, DOMAIN_ID, DOMAINS, EXAMPLES, StatsServer

WEEK = ["--from", "2024-05-01", "--to", "2024-05-07"]


@pytest.fixture(scope="module")
def _server() -> Iterator[StatsServer]:
    with StatsServer() as server:
        yield server


@pytest.fixture
def server(_server: StatsServer, monkeypatch: pytest.MonkeyPatch) -> StatsServer:
    """The fake API, with the environment pointing ``pirsch`` at it."""
    _server.reset()
    for name in ("PIRSCH_ACCESS_KEY", "PIRSCH_TIMEOUT", "PIRSCH_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIRSCH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PIRSCH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PIRSCH_BASE_URL", _server.base_url)
    monkeypatch.setenv("COLUMNS", "100")
    return _server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("rich", "rich.box", "rich.console", "rich.table"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import rich...` fail


# --- output -----------------------------------------------------------------------------------

def test_domains_as_a_table(server: StatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "domains")
    assert (status, err) == (0, "")
    assert "example.com" in out
    assert "blog.example.org" in out
    assert DOMAIN_ID in out


def test_domains_as_json(server: StatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "domains", "--json")
    assert status == 0
    assert json.loads(out) == [Domain.from_dict(d).to_dict() for d in DOMAINS]


def test_stats_as_a_table(server: StatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "stats", "pages", "--domain", "example.com", *WEEK)
    assert status == 0
    assert out.splitlines()[0] == "pages · example.com · 2024-05-01 to 2024-05-07"
    header = next(line for line in out.splitlines() if "relative_visitors" in line)
    assert header.split() == ["path", "title", "visitors", "views", "sessions", "bounces",
                              "relative_visitors", "relative_views", "bounce_rate",
                              "average_time_spent_seconds"]
    row = next(line for line in out.splitlines() if "/home" in line)
    assert row.split() == ["/home", "Home", "42", "56", "48", "23", "34.2%", "29.8%", "76.5%",
                           "42s"]


@pytest.mark.parametrize("name", ["pages", "countries", "total", "options.pages", "funnel"])
def test_stats_as_json(
    server: StatsServer, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    status, out, _ = run(capsys, "stats", name, "--domain", DOMAIN_ID, *WEEK, "--json")
    assert status == 0
    endpoint = ENDPOINTS[name]
    result = endpoint.parse(EXAMPLES[endpoint.path])
    if name == "options.pages":
        assert json.loads(out) == ["/", "/some/path", "/other/path"]
    elif endpoint.many:
        assert json.loads(out) == [item.to_dict() for item in result]
    else:
        assert json.loads(out) == result.to_dict()


def test_a_single_object_is_a_field_value_table(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "stats", "growth", "--domain", DOMAIN_ID, *WEEK)
    assert status == 0
    assert ["views_growth", "-5.0%"] in [line.split() for line in out.splitlines()]
    assert "cr_growth" not in out  # optional metrics the API did not fill in are left out


def test_a_time_series_gets_a_bar_chart(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "stats", "visitors", "--scale", "day", "--domain", DOMAIN_ID,
                         *WEEK)
    assert status == 0
    assert ("scale", "day") in server.statistics_requests[-1].query
    lines = out.splitlines()
    chart = lines[lines.index("visitors per day") + 1:]
    bars = {line.split()[0]: line.split("│")[1].count("█") for line in chart}
    assert bars["2021-05-12"] == 2 * bars["2021-05-13"] > 0  # 42 and 21 visitors
    assert bars["2021-05-14"] == 0
    assert chart[0].endswith(" 42")


def test_the_chart_can_show_another_metric_or_none(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "stats", "visitors", "--domain", DOMAIN_ID, *WEEK, "--chart", "views")
    assert "views per day" in out
    _, out, _ = run(capsys, "stats", "visitors", "--domain", DOMAIN_ID, *WEEK, "--no-chart")
    assert "per day" not in out
    status, _, err = run(capsys, "stats", "visitors", "--domain", DOMAIN_ID, "--chart", "nope")
    assert status == 2
    assert "choose one of visitors, views" in err


def test_plain_tables_without_rich(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_rich(monkeypatch)
    status, out, _ = run(capsys, "stats", "countries", "--domain", DOMAIN_ID, *WEEK)
    assert status == 0
    assert out.splitlines()[:4] == [
        "countries · example.com · 2024-05-01 to 2024-05-07",
        "visitors  relative_visitors  country_code",
        "--------  -----------------  ------------",
        "      42              24.0%  jp",
    ]


def test_plain_bar_chart_without_rich(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_rich(monkeypatch)
    status, out, _ = run(capsys, "stats", "hours", "--domain", DOMAIN_ID, *WEEK)
    assert status == 0
    assert "visitors per hour" in out
    assert "hour  visitors" in out


# --- arguments --------------------------------------------------------------------------------

def test_filter_options_reach_the_query_string(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, _ = run(capsys, "stats", "entry-pages", "--domain", "example.com", *WEEK,
                       "--path", "/", "--path", "/blog", "--country", "!jp",
                       "--meta", "plan=pro", "--tags", "author=Alice", "--include-title",
                       "--limit", "5", "--sort", "visitors", "--direction", "desc")
    assert status == 0
    request = server.statistics_requests[-1]
    assert request.path == "/statistics/page/entry"
    assert request.query == Filter(
        DOMAIN_ID, from_date=cli._date("2024-05-01"), to_date=cli._date("2024-05-07"),
        path=["/", "/blog"], country="!jp", meta={"plan": "pro"}, tags={"author": "Alice"},
        include_title=True, limit=5, sort="visitors", direction="desc",
    ).to_params()


@pytest.mark.parametrize(("given", "path"), [
    ("os-versions", "/statistics/os/version"),
    ("os/version", "/statistics/os/version"),
    ("visitor", "/statistics/visitor"),
    ("options-countries", "/statistics/options/country"),
    ("Entry_Pages", "/statistics/page/entry"),
])
def test_endpoints_by_name_or_api_path(
    server: StatsServer, capsys: pytest.CaptureFixture[str], given: str, path: str
) -> None:
    status, _, _ = run(capsys, "stats", given, "--domain", DOMAIN_ID, *WEEK, "--json")
    assert status == 0
    assert server.statistics_requests[-1].path == path


def test_the_domain_comes_from_pirsch_domain(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIRSCH_DOMAIN", "blog")  # the subdomain works too
    run(capsys, "stats", "total", *WEEK)
    assert ("id", "Zx9k2LmQ0p") in server.statistics_requests[-1].query


def test_without_an_endpoint_the_endpoints_are_listed(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "stats")
    assert status == 0
    assert all(name in out for name in ENDPOINTS)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--help"]) == 0
    assert "--utm-source" in capsys.readouterr().out


def test_every_filter_field_has_an_option() -> None:
    fields = {f.name for f in dataclasses.fields(Filter)} - {"domain_id", "from_date", "to_date"}
    assert set(FILTER_HELP) == fields


# --- errors: one line on stderr, no traceback -------------------------------------------------

def assert_one_line(err: str) -> None:
    assert err.startswith("pirsch: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_wrong_domain_lists_the_available_ones(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "stats", "visitors", "--domain", "nope.example", *WEEK)
    assert (status, out) == (2, "")
    assert_one_line(err)
    assert "no domain 'nope.example'" in err
    assert "example.com (A5kgYzK14m), blog.example.org (Zx9k2LmQ0p)" in err


def test_several_domains_and_none_chosen(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "stats", "visitors", *WEEK)
    assert status == 2
    assert_one_line(err)
    assert "--domain" in err


def test_missing_credentials(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIRSCH_CLIENT_ID")
    monkeypatch.delenv("PIRSCH_CLIENT_SECRET")
    status, _, err = run(capsys, "domains")
    assert status == 2
    assert_one_line(err)
    assert "PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET" in err


def test_half_set_credentials(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIRSCH_CLIENT_SECRET")
    status, _, err = run(capsys, "domains")
    assert status == 2
    assert_one_line(err)
    assert "client_secret is missing" in err


def test_an_access_key(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIRSCH_CLIENT_ID")
    monkeypatch.delenv("PIRSCH_CLIENT_SECRET")
    monkeypatch.setenv("PIRSCH_ACCESS_KEY", "pa_abcdef")
    status, _, err = run(capsys, "stats", "visitors", "--domain", DOMAIN_ID, *WEEK)
    assert status == 2
    assert_one_line(err)
    assert "access key (pa_...) can only send" in err
    assert server.requests == []


def test_an_unknown_endpoint_suggests_close_names(
    server: StatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "stats", "vistors", *WEEK)
    assert status == 2
    assert_one_line(err)
    assert "did you mean visitors" in err


def test_an_invalid_filter_value(server: StatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "stats", "pages", "--domain", DOMAIN_ID, "--limit", "500")
    assert status == 2
    assert_one_line(err)
    assert "limit must be between 1 and 100" in err
    assert server.requests == []  # refused before connecting


def test_an_api_error_exits_one(server: StatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.fail_with(400, {"validation": {"event": "required"}, "error": []},
                     path="/statistics/event/meta")
    status, _, err = run(capsys, "stats", "event-metadata", "--domain", DOMAIN_ID, *WEEK)
    assert status == 1
    assert_one_line(err)
    assert "answered 400" in err
    assert "event: required" in err


def test_an_unreachable_api_exits_one(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIRSCH_BASE_URL", "http://127.0.0.1:9")  # discard: nothing listens
    status, _, err = run(capsys, "--timeout", "2", "domains")
    assert status == 1
    assert_one_line(err)
    assert "could not reach http://127.0.0.1:9" in err


def test_a_bad_date_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "visitors", "--from", "May 1"]) == 2
    assert "is not a date (YYYY-MM-DD)" in capsys.readouterr().err


# --- managing the account ---------------------------------------------------------------------

class Terminal(io.StringIO):
    """Standard input that is a terminal, with the user's answer typed in."""

    def isatty(self) -> bool:
        return True


def last(server: StatsServer) -> tuple[str, str, list[tuple[str, str]], Any]:
    seen = server.statistics_requests[-1]
    return seen.method, seen.path, seen.query, seen.body


MANAGEMENT_COMMANDS = [
    (["domains", "create", "example.com", "--subdomain", "example", "--timezone", "UTC"],
     ("POST", "/domain", [], {"hostname": "example.com", "subdomain": "example",
                              "timezone": "UTC"})),
    (["goals", "list", "--domain", "blog"], ("GET", "/goal", [("id", "Zx9k2LmQ0p")], None)),
    (["goals", "create", "Sign-up", "--event", "Sign-up", "--cr", "0.1", "--email-reached",
      "--domain", "example.com"],
     ("POST", "/goal", [], {"domain_id": DOMAIN_ID, "name": "Sign-up", "event_name": "Sign-up",
                            "visitors": 0, "cr": 0.1, "delete_reached": False,
                            "email_reached": True})),
    (["goals", "test", "^/checkout/.*$", "/checkout/done"],
     ("POST", "/goal/regex", [], {"regex": "^/checkout/.*$", "sample": "/checkout/done"})),
    (["members", "list", "--domain", DOMAIN_ID], ("GET", "/member", [("id", DOMAIN_ID)], None)),
    (["members", "invite", "ann@example.com", "bob@example.com", "--domain", "example.com"],
     ("POST", "/member", [], {"id": DOMAIN_ID,
                              "emails": ["ann@example.com", "bob@example.com"]})),
    (["reports", "list", "--domain", "example.com"],
     ("GET", "/report", [("id", DOMAIN_ID)], None)),
    (["domains", "delete", "blog", "--yes"],
     ("DELETE", "/domain", [("id", "Zx9k2LmQ0p")], None)),
]


@pytest.mark.parametrize(("argv", "sent"), MANAGEMENT_COMMANDS,
                         ids=[" ".join(argv[:2]) for argv, _ in MANAGEMENT_COMMANDS])
def test_management_commands_send_their_request(
    server: StatsServer, capsys: pytest.CaptureFixture[str], argv: list[str],
    sent: tuple[str, str, list[tuple[str, str]], Any],
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, err) == (0, "")
    assert out
    assert last(server) == sent


@pytest.mark.parametrize(("argv", "name"), [
    (["goals", "list", "--domain", "blog"], "goals.list"),
    (["members", "list", "--domain", "blog"], "members.list"),
    (["reports", "list", "--domain", "blog"], "reports.list"),
    (["domains", "create", "example.com", "--subdomain", "example", "--timezone", "UTC"],
     "domains.create"),
    (["goals", "test", "^/$", "/"], "goals.test_regex"),
])
def test_management_commands_as_json(
    server: StatsServer, capsys: pytest.CaptureFixture[str], argv: list[str], name: str,
) -> None:
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    result = MANAGEMENT[name].parse(MANAGEMENT_EXAMPLES[name])
    expected = [r.to_dict() for r in result] if isinstance(result, list) else result.to_dict()
    assert json.loads(out) == expected


def test_a_new_domain_shows_its_identification_code(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_rich(monkeypatch)
    server.answers["POST", "/domain"] = {**MANAGEMENT_EXAMPLES["domains.create"],
                                         "identification_code": "Xy12AbCd"}
    status, out, _ = run(capsys, "domains", "create", "example.com", "--subdomain", "example",
                         "--timezone", "Europe/Berlin")
    assert status == 0
    assert ["identification_code", "Xy12AbCd"] in [line.split() for line in out.splitlines()]


def test_domains_lists_with_or_without_the_list_command(
    server: StatsServer, capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = [run(capsys, *argv)[1] for argv in (["domains", "--json"],
                                                  ["domains", "list", "--json"],
                                                  ["domains", "--json", "list"])]
    assert outputs[0] == outputs[1] == outputs[2]
    assert json.loads(outputs[0]) == [Domain.from_dict(d).to_dict() for d in DOMAINS]


def test_goal_test_says_whether_the_sample_matches(
    server: StatsServer, capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "goals", "test", "^/a$", "/a")
    assert out == "'^/a$' matches '/a'\n"
    server.answers["POST", "/goal/regex"] = {"match": False}
    _, out, _ = run(capsys, "goals", "test", "^/a$", "/b")
    assert out == "'^/a$' does not match '/b'\n"


def test_deleting_without_a_terminal_or_yes_is_refused_before_any_request(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped: not a terminal
    status, out, err = run(capsys, "domains", "delete", "example.com")
    assert (status, out) == (2, "")
    assert_one_line(err)
    assert "no terminal to confirm on; pass --yes" in err
    assert server.requests == []


@pytest.mark.parametrize("answer", ["y\n", "yes\n", "Y\n"])
def test_deleting_asks_and_goes_ahead_on_yes(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    status, out, err = run(capsys, "domains", "delete", "example.com")
    assert status == 0
    assert err == "Delete example.com (A5kgYzK14m) and all its statistics? [y/N] "
    assert out == "deleted example.com (A5kgYzK14m)\n"
    assert last(server) == ("DELETE", "/domain", [("id", DOMAIN_ID)], None)


@pytest.mark.parametrize("answer", ["\n", "n\n", "no\n", "maybe\n", ""])
def test_deleting_asks_and_deletes_nothing_otherwise(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    status, out, err = run(capsys, "domains", "delete", "example.com")
    assert (status, out) == (1, "")
    assert err.endswith("[y/N] pirsch: nothing deleted\n")
    assert [r.method for r in server.statistics_requests] == ["GET"]  # the domain list only


def test_deleting_an_unknown_domain_deletes_nothing(
    server: StatsServer, capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(capsys, "domains", "delete", "nope.example", "--yes")
    assert status == 2
    assert "no domain 'nope.example'" in err
    assert "DELETE" not in [r.method for r in server.requests]


def test_a_deletion_as_json(server: StatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "domains", "delete", DOMAIN_ID, "--yes", "--json")
    assert status == 0
    assert json.loads(out) == {"deleted": DOMAIN_ID, "hostname": "example.com"}


@pytest.mark.parametrize(("argv", "message"), [
    (["members", "invite", "ann", "--domain", DOMAIN_ID], "'ann' is not an email address"),
    (["goals", "create", "G", "--path-pattern", "/", "--cr", "-1", "--domain", DOMAIN_ID],
     "cr_goal must be 0"),
    (["domains", "create", "example.com", "--subdomain", " ", "--timezone", "UTC"],
     "subdomain must not be empty"),
])
def test_invalid_management_arguments_are_refused_before_any_request(
    server: StatsServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str,
) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert_one_line(err)
    assert message in err
    assert server.requests == []


def test_a_management_api_error_exits_one(
    server: StatsServer, capsys: pytest.CaptureFixture[str],
) -> None:
    server.fail_with(400, {"validation": {"regex": "invalid"}, "error": []}, path="/goal/regex")
    status, _, err = run(capsys, "goals", "test", "(", "/")
    assert status == 1
    assert_one_line(err)
    assert "POST /api/v1/goal/regex" in err


def test_managing_with_an_access_key_is_a_setup_problem(
    server: StatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PIRSCH_CLIENT_ID")
    monkeypatch.delenv("PIRSCH_CLIENT_SECRET")
    monkeypatch.setenv("PIRSCH_ACCESS_KEY", "pa_abcdef")
    status, _, err = run(capsys, "members", "invite", "ann@example.com", "--domain", DOMAIN_ID)
    assert status == 2
    assert "access key" in err
    assert server.requests == []
