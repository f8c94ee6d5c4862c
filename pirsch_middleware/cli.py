"""``pirsch``: read Pirsch statistics and manage the account from a terminal.

    pirsch domains
    pirsch stats visitors --from 2024-05-01 --to 2024-05-31 --scale week
    pirsch stats pages --domain example.com --path '~/blog' --limit 20 --json
    pirsch stats                     # lists the endpoints
    pirsch domains create example.com --subdomain example --timezone Europe/Berlin
    pirsch goals test '^/checkout/.*$' /checkout/done
    pirsch members invite ann@example.com --domain example.com

Credentials come from the environment only (``PIRSCH_CLIENT_ID``, ``PIRSCH_CLIENT_SECRET``),
never from arguments, which other users can read in the process list. Tables use ``rich``
when it is installed (``pip install 'pirsch-middleware[cli]'``) and plain text otherwise
(``_render``). Deleting asks first (``--yes`` skips the question; without a terminal to ask
on, ``--yes`` is required). Exit status: 0 done, 1 the API failed or could not be reached
or a deletion was declined, 2 a usage or setup problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import sys
import typing
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from ._auth import Credentials
from ._client import ACCESS_KEY_ERROR, Client
from ._errors import PirschError
from ._render import CHARTS, print_chart, print_result
from .management import ENDPOINTS as MANAGEMENT
from .management import MemberInvitation, NewGoal
from .statistics import ENDPOINTS, Domain, Endpoint, Filter

__all__ = ["main"]

DEFAULT_DAYS = 30

# Help for the filter options; every Filter field but the three below gets one (tested).
FILTER_HELP = {
    "from_time": "start time HH:MM, when --from and --to are the same day",
    "to_time": "end time HH:MM, when --from and --to are the same day",
    "tz": "time zone, e.g. Europe/Berlin (default: the dashboard's)",
    "start": "the past SECONDS instead of the date range (at most 3600)",
    "scale": "group time series by day (default), week, month or year",
    "path": "page path", "entry_path": "entry page path", "exit_path": "exit page path",
    "pattern": "RE2 regular expression to filter and group pages",
    "event": "event name", "event_meta_key": "event metadata key to break an event down by",
    "meta": "event metadata KEY=VALUE", "language": "language code, e.g. en",
    "country": "country code, e.g. jp", "region": "region", "city": "city",
    "referrer": "referrer URL or name", "referrer_name": "referrer name (hostname)",
    "os": "operating system, e.g. Windows", "browser": "browser, e.g. Firefox",
    "platform": "desktop, mobile or unknown", "screen_class": "XXL, XL, L, M or S",
    "utm_source": "UTM source", "utm_medium": "UTM medium", "utm_campaign": "UTM campaign",
    "utm_content": "UTM content", "utm_term": "UTM term", "channel": "channel, e.g. Direct",
    "hostname": "hostname", "tag": "tag key to break down", "tags": "tag KEY=VALUE",
    "visitor_id": "visitor ID (session_details)", "session_id": "session ID (session_details)",
    "funnel_id": "funnel ID (funnel)", "custom_metric_key": "event metadata key to aggregate",
    "custom_metric_type": "integer or float",
    "include_avg_time_on_page": "include the average time on page",
    "include_title": "include page titles", "offset": "skip this many results",
    "limit": "at most this many results (1-100)", "sort": "sort by this field, e.g. visitors",
    "direction": "sort order", "search": "search the primary field (contains)",
}
_OWN_FLAGS = ("domain_id", "from_date", "to_date")


class UsageError(Exception):
    """A problem the user fixes (exit status 2); the message is the whole story."""


class Declined(Exception):
    """The user did not confirm a deletion (exit status 1)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pirsch`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed already
        return exc.code if isinstance(exc.code, int) else 2
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (UsageError, ValueError) as exc:  # ValueError: options, credentials, filter
        return _fail(exc, 2)
    except (PirschError, Declined) as exc:  # APIError, an unreachable API, an odd response
        return _fail(exc, 1)
    except KeyboardInterrupt:
        return 130


def _fail(exc: Exception, status: int) -> int:
    print(f"pirsch: {exc}", file=sys.stderr)
    return status


# --- arguments --------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pirsch", description="Read Pirsch statistics and manage your account. "
        "Credentials: PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET (an oAuth client; an access "
        "key can only send data).")
    parser.add_argument("--base-url", help="API base URL (env PIRSCH_BASE_URL)")
    parser.add_argument("--timeout", type=float, help="seconds per request (env PIRSCH_TIMEOUT)")
    parser.set_defaults(json=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_domain_commands(commands)

    stats = commands.add_parser(
        "stats", help="read one statistics endpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_endpoint_list())
    stats.add_argument("endpoint", nargs="?", help="e.g. visitors, pages, options.countries")
    stats.add_argument("--domain", default=os.environ.get("PIRSCH_DOMAIN"),
                       help="domain ID or hostname (env PIRSCH_DOMAIN; default: the only one)")
    stats.add_argument("--from", dest="from_date", type=_date, metavar="YYYY-MM-DD",
                       help=f"first day (default: {DEFAULT_DAYS} days before --to)")
    stats.add_argument("--to", dest="to_date", type=_date, metavar="YYYY-MM-DD",
                       help="last day (default: today)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--chart", metavar="METRIC",
                       help="chart this field of a time series (default: visitors)")
    stats.add_argument("--no-chart", action="store_true", help="no bar chart under the table")
    _add_filter_options(stats.add_argument_group("filters (a repeated option sends every value)"))
    stats.set_defaults(run=_run_stats)
    _add_management_commands(commands)
    return parser


Commands: typing.TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_domain_commands(commands: Commands) -> None:
    domains = commands.add_parser("domains", help="list, create or delete domains")
    domains.add_argument("--json", action="store_true", help="print JSON")
    domains.set_defaults(run=_run_domains)
    sub = domains.add_subparsers(title="commands (default: list)", metavar="COMMAND")
    _leaf(sub, "list", _run_domains, "list the domains you can read")
    create = _leaf(sub, "create", _run_domain_create,
                   "add a domain (user client) and print its identification code")
    create.add_argument("hostname", help="e.g. example.com")
    create.add_argument("--subdomain", required=True, help="the dashboard's name on pirsch.io")
    create.add_argument("--timezone", required=True, help="the dashboard's, e.g. Europe/Berlin")
    delete = _leaf(sub, "delete", _run_domain_delete, "delete a domain and all its statistics")
    delete.add_argument("domain", help="domain ID, hostname or subdomain")
    delete.add_argument("--yes", action="store_true", help="delete without asking")


def _add_management_commands(commands: Commands) -> None:
    goals = commands.add_parser("goals", help="list, create or test conversion goals")
    sub = goals.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _listing(sub, "goals.list", "a domain's conversion goals", "conversion goals")
    create = _leaf(sub, "create", _run_goal_create, "add a conversion goal", domain=True)
    create.add_argument("name", help="the goal's name")
    what = create.add_mutually_exclusive_group(required=True)
    what.add_argument("--path-pattern", help="pages, e.g. '/checkout/**'")
    what.add_argument("--event", dest="event_name", help="an event's name")
    create.add_argument("--visitors", dest="visitor_goal", type=int, default=0, metavar="N",
                        help="a target number of visitors")
    create.add_argument("--cr", dest="cr_goal", type=float, default=0.0, metavar="RATE",
                        help="a target conversion rate")
    create.add_argument("--email-reached", action="store_true",
                        help="send an email when a target is reached")
    create.add_argument("--delete-reached", action="store_true",
                        help="delete the goal once a target is reached")
    test = _leaf(sub, "test", _run_goal_test,
                 "does a regular expression (RE2) match a sample path?")
    test.add_argument("regex", help="e.g. '^/checkout/.*$'")
    test.add_argument("sample", help="e.g. /checkout/done")

    members = commands.add_parser("members", help="list or invite a domain's members")
    sub = members.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _listing(sub, "members.list", "a domain's members and their roles", "members")
    invite = _leaf(sub, "invite", _run_member_invite, "invite people by email (as viewers)",
                   domain=True)
    invite.add_argument("emails", nargs="+", metavar="EMAIL")

    reports = commands.add_parser("reports", help="list a domain's email reports")
    sub = reports.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _listing(sub, "reports.list", "a domain's email reports", "email reports")


def _leaf(sub: Commands, name: str, run: Callable[[argparse.Namespace], int], text: str, *,
          domain: bool = False) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=text, description=text)
    # SUPPRESS: a --json given before the subcommand (pirsch domains --json list) stays.
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON")
    if domain:
        parser.add_argument("--domain", default=os.environ.get("PIRSCH_DOMAIN"),
                            help="domain ID or hostname (env PIRSCH_DOMAIN; default: the "
                                 "only one)")
    parser.set_defaults(run=run)
    return parser


def _listing(sub: Commands, entry: str, text: str, title: str) -> None:
    # A list of one domain's objects: which is the table entry's, and so its response model.
    _leaf(sub, "list", _run_listing, text, domain=True).set_defaults(entry=entry, title=title)


def _add_filter_options(group: argparse._ArgumentGroup) -> None:
    hints = typing.get_type_hints(Filter)
    for spec in dataclasses.fields(Filter):
        if spec.name in _OWN_FLAGS:
            continue
        flag, kind = "--" + spec.name.replace("_", "-"), spec.type
        options: dict[str, Any] = {"dest": spec.name, "help": FILTER_HELP[spec.name]}
        if kind == "Values | None":
            options.update(action="append", metavar="VALUE")
        elif kind == "Mapping[str, str] | None":
            options.update(action="append", metavar="KEY=VALUE", type=_pair)
        elif kind == "bool | None":
            options.update(action=argparse.BooleanOptionalAction)
        elif kind == "int | None":
            options.update(type=int, metavar="N")
        else:
            choices = [a for a in typing.get_args(hints[spec.name]) if a is not type(None)]
            literal = typing.get_args(choices[0]) if choices else ()
            options.update(choices=literal) if literal else options.update(metavar="TEXT")
        group.add_argument(flag, **options)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def _endpoint_list() -> str:
    width = max(len(name) for name in ENDPOINTS)
    lines = [f"  {name:<{width}}  {endpoint.summary}" for name, endpoint in ENDPOINTS.items()]
    return "endpoints:\n" + "\n".join(lines)


def _endpoint(text: str) -> Endpoint[Any]:
    name = text.strip().lower().replace("-", "_")
    by_path = {e.path.removeprefix("/statistics/"): e for e in ENDPOINTS.values()}
    endpoint = ENDPOINTS.get(name) or ENDPOINTS.get(name.replace("options_", "options.", 1)) \
        or by_path.get(text.strip().strip("/").removeprefix("statistics/"))
    if endpoint is None:
        close = difflib.get_close_matches(name, list(ENDPOINTS), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(f"no endpoint {text!r}{hint} (pirsch stats lists them)")
    return endpoint


def _client(args: argparse.Namespace) -> Client:
    if Credentials.resolve(environ=os.environ).is_access_key:
        raise UsageError(ACCESS_KEY_ERROR)  # before any request, as a setup problem
    return Client(base_url=args.base_url, timeout=args.timeout)


# --- commands ---------------------------------------------------------------------------------

def _run_domains(args: argparse.Namespace) -> int:
    with _client(args) as client:
        domains = client.domains()
    print_result(domains, Domain, json_output=args.json, title="domains")
    return 0


def _run_stats(args: argparse.Namespace) -> int:
    if not args.endpoint:
        print(_endpoint_list())
        return 0
    endpoint = _endpoint(args.endpoint)
    to_date = args.to_date or date.today()
    from_date = args.from_date or to_date - timedelta(days=DEFAULT_DAYS - 1)
    chart = None if args.no_chart or args.json else _chart_spec(endpoint, args.chart)
    fields = {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(Filter)
              if spec.name not in _OWN_FLAGS and getattr(args, spec.name) is not None}
    for name in ("meta", "tags"):
        if name in fields:
            fields[name] = dict(fields[name])
    # Validated before any request; the domain ID is known only after the domain list.
    f = Filter("unknown", from_date=from_date, to_date=to_date, **fields)
    with _client(args) as client:
        domain = _pick_domain(client.domains(), args.domain)
        call: Callable[[Filter], Any] = _method(client, endpoint.name)
        result = call(f.replace(domain_id=domain.id))
    title = f"{endpoint.name} · {domain.hostname} · {from_date} to {to_date}"
    print_result(result, endpoint.model, json_output=args.json, title=title,
           column=endpoint.name.removeprefix("options."))
    if chart is not None and isinstance(result, list) and result:
        print_chart(result, *chart)
    return 0


def _method(client: Client, name: str) -> Any:
    target: Any = client
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _pick_domain(domains: list[Domain], wanted: str | None) -> Domain:
    listing = ", ".join(f"{d.hostname} ({d.id})" for d in domains)
    if not domains:
        raise UsageError("these credentials can read no domain (check the client's access)")
    if wanted is None:
        if len(domains) == 1:
            return domains[0]
        raise UsageError(f"choose a domain with --domain (or PIRSCH_DOMAIN): {listing}")
    for domain in domains:
        names = {domain.hostname.lower(), domain.subdomain.lower(),
                 (domain.custom_domain or "").lower()} - {""}
        if wanted == domain.id or wanted.lower() in names:
            return domain
    raise UsageError(f"no domain {wanted!r} for these credentials; available: {listing}")


def _chart_spec(endpoint: Endpoint[Any], metric: str | None) -> tuple[str, str] | None:
    spec = CHARTS.get(endpoint.model)
    if spec is None:
        if metric:
            raise UsageError(f"{endpoint.name} is not a time series; --chart needs one of: "
                             + ", ".join(n for n, e in ENDPOINTS.items() if e.model in CHARTS))
        return None
    if metric is None:
        return spec
    numbers = [f.name for f in dataclasses.fields(endpoint.model)
               if f.type in ("int", "float") and f.name not in ("hour", "minute")]
    if metric not in numbers:
        raise UsageError(f"--chart {metric!r}: choose one of {', '.join(numbers)}")
    return spec[0], metric


# --- management commands ----------------------------------------------------------------------

def _run_listing(args: argparse.Namespace) -> int:
    with _client(args) as client:
        domain = _pick_domain(client.domains(), args.domain)
        items = _method(client, args.entry)(domain_id=domain.id)
    print_result(items, MANAGEMENT[args.entry].model, json_output=args.json,
                 title=f"{args.title} · {domain.hostname}")
    return 0


def _run_domain_create(args: argparse.Namespace) -> int:
    with _client(args) as client:
        domain = client.domains.create(hostname=args.hostname, subdomain=args.subdomain,
                                       timezone=args.timezone)
    print_result(domain, Domain, json_output=args.json, title=f"created {domain.hostname}")
    return 0


def _run_domain_delete(args: argparse.Namespace) -> int:
    if not args.yes and not sys.stdin.isatty():  # refused before any request
        raise UsageError(f"not deleting {args.domain!r}: there is no terminal to confirm on; "
                         "pass --yes to delete without asking")
    with _client(args) as client:
        domain = _pick_domain(client.domains(), args.domain)
        _confirm(f"Delete {domain.hostname} ({domain.id}) and all its statistics?", args.yes)
        client.domains.delete(domain_id=domain.id)
    _done(args, {"deleted": domain.id, "hostname": domain.hostname},
          f"deleted {domain.hostname} ({domain.id})")
    return 0


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise Declined("nothing deleted")


def _run_goal_create(args: argparse.Namespace) -> int:
    fields = {name: getattr(args, name) for name in (
        "name", "path_pattern", "event_name", "visitor_goal", "cr_goal", "email_reached",
        "delete_reached")}
    NewGoal(domain_id="unknown", **fields)  # validated before any request
    with _client(args) as client:
        domain = _pick_domain(client.domains(), args.domain)
        goal = client.goals.create(domain_id=domain.id, **fields)
    print_result(goal, type(goal), json_output=args.json,
                 title=f"created goal {goal.name!r} · {domain.hostname}")
    return 0


def _run_goal_test(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.goals.test_regex(regex=args.regex, sample=args.sample)
    verb = "matches" if result.match else "does not match"
    _done(args, result.to_dict(), f"{args.regex!r} {verb} {args.sample!r}")
    return 0


def _run_member_invite(args: argparse.Namespace) -> int:
    MemberInvitation(domain_id="unknown", emails=args.emails)  # validated before any request
    with _client(args) as client:
        domain = _pick_domain(client.domains(), args.domain)
        client.members.invite(domain_id=domain.id, emails=args.emails)
    _done(args, {"domain_id": domain.id, "invited": args.emails},
          f"invited {', '.join(args.emails)} to {domain.hostname} (as viewers)")
    return 0


def _done(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text)


if __name__ == "__main__":
    sys.exit(main())
