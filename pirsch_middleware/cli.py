"""``pirsch``: read Pirsch statistics from a terminal.

    pirsch domains
    pirsch stats visitors --from 2024-05-01 --to 2024-05-31 --scale week
    pirsch stats pages --domain example.com --path '~/blog' --limit 20 --json
    pirsch stats                     # lists the endpoints

Credentials come from the environment only (``PIRSCH_CLIENT_ID``, ``PIRSCH_CLIENT_SECRET``),
never from arguments, which other users can read in the process list. Tables use ``rich``
when it is installed (``pip install 'pirsch-middleware[cli]'``) and plain text otherwise.
Exit status: 0 done, 1 the API failed or could not be reached, 2 a usage or setup problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import re
import shutil
import sys
import typing
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ._auth import Credentials
from ._client import ACCESS_KEY_ERROR, Client
from ._errors import PirschError
from .statistics import (
    ENDPOINTS,
    ConversionGoalStats,
    Domain,
    Endpoint,
    Filter,
    Model,
    SessionStats,
    SessionStep,
    TimeSeries,
    TimeSpentStats,
    VisitorHourStats,
    VisitorMinuteStats,
    VisitorStats,
)

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

# What a time series is charted by: (x field, default metric).
CHARTS: dict[type[Model], tuple[str, str]] = {
    VisitorStats: ("period", "visitors"),
    TimeSpentStats: ("period", "average_time_spent_seconds"),
    VisitorHourStats: ("hour", "visitors"),
    VisitorMinuteStats: ("minute", "visitors"),
}

# Models whose full field list would not fit a terminal: (header, dotted attribute path).
COLUMNS: dict[type[Model], tuple[tuple[str, str], ...]] = {
    Domain: (("id", "id"), ("hostname", "hostname"), ("subdomain", "subdomain"),
             ("display_name", "display_name"), ("timezone", "timezone"),
             ("user_role", "user_role")),
    ConversionGoalStats: (("goal", "page_goal.name"), ("path_pattern", "page_goal.path_pattern"),
                          ("event", "page_goal.event_name"), ("visitors", "stats.visitors"),
                          ("views", "stats.views"), ("cr", "stats.cr")),
    SessionStats: tuple((name, name) for name in (
        "start", "duration_seconds", "page_views", "entry_path", "exit_path", "is_bounce",
        "referrer_name", "country_code", "browser", "os", "visitor_id", "session_id")),
    SessionStep: (("time", "step.time"), ("path", "step.path"), ("title", "step.title"),
                  ("event", "event.name"), ("duration_seconds", "step.duration_seconds")),
}


class UsageError(Exception):
    """A problem the user fixes (exit status 2); the message is the whole story."""


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
    except PirschError as exc:  # APIError, an unreachable API, an odd response
        return _fail(exc, 1)
    except KeyboardInterrupt:
        return 130


def _fail(exc: Exception, status: int) -> int:
    print(f"pirsch: {exc}", file=sys.stderr)
    return status


# --- arguments --------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pirsch", description="Read Pirsch statistics. Credentials: PIRSCH_CLIENT_ID and "
        "PIRSCH_CLIENT_SECRET (an oAuth client; an access key cannot read).")
    parser.add_argument("--base-url", help="API base URL (env PIRSCH_BASE_URL)")
    parser.add_argument("--timeout", type=float, help="seconds per request (env PIRSCH_TIMEOUT)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    domains = commands.add_parser("domains", help="list the domains you can read")
    domains.add_argument("--json", action="store_true", help="print JSON")
    domains.set_defaults(run=_run_domains)

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
    return parser


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
    _print(domains, Domain, json_output=args.json, title="domains")
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
    _print(result, endpoint.model, json_output=args.json, title=title,
           column=endpoint.name.removeprefix("options."))
    if chart is not None and isinstance(result, list) and result:
        _print_chart(result, *chart)
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


# --- output -----------------------------------------------------------------------------------

def _print(result: Any, model: type[Any], *, json_output: bool, title: str,
           column: str = "value") -> None:
    if json_output:
        data = [_jsonable(r) for r in result] if isinstance(result, list) else _jsonable(result)
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not isinstance(result, list):
        _key_values(result, title)
    elif issubclass(model, Model):
        _table(title, *_rows(model, result))
    else:  # filter options: a list of strings
        _table(title, [column], [[str(r)] for r in result])


def _jsonable(value: Any) -> Any:
    return value.to_dict() if isinstance(value, Model) else value


def _rows(model: type[Model], items: list[Any]) -> tuple[list[str], list[list[Any]]]:
    if model in COLUMNS:
        columns = list(COLUMNS[model])
    else:
        names = [f.name for f in dataclasses.fields(model) if f.name != "extra"]
        if issubclass(model, TimeSeries):
            # One column for the period, headed by the scale the API answered with.
            scale = (items[0].scale if items else None) or "period"
            names = [n for n in names if n not in ("day", "week", "month", "year")]
            columns = [(scale, "period"), *((n, n) for n in names)]
        else:
            columns = [(n, n) for n in names]
    if model in CHARTS:  # the x axis of the chart first: hour, minute
        x = CHARTS[model][0]
        columns.sort(key=lambda column: column[1] != x)
    rows = [[_get(item, path) for _, path in columns] for item in items]
    keep = [i for i in range(len(columns)) if not _empty(columns[i][1], [r[i] for r in rows])]
    return [columns[i][0] for i in keep], [[row[i] for i in keep] for row in rows]


# Set only when the filter asks for them (a conversion goal, a custom metric).
_OPTIONAL = frozenset({"cr", "custom_metric_avg", "custom_metric_total", "cr_growth",
                       "custom_metric_avg_growth", "custom_metric_total_growth"})


def _empty(name: str, values: list[Any]) -> bool:
    """Whether a column says nothing: no row fills it in, or an optional metric is all 0."""
    blank: tuple[Any, ...] = (None, "", [], {}, 0) if name in _OPTIONAL else (None, "", [], {})
    return all(value in blank for value in values)


def _get(item: Any, path: str) -> Any:
    for part in path.split("."):
        item = getattr(item, part, None)
    return item


def _key_values(result: Any, title: str) -> None:
    pairs: list[tuple[str, Any]] = []
    tables: list[tuple[str, list[Any]]] = []
    for name, value in _fields(result):
        if isinstance(value, list) and value and isinstance(value[0], Model):
            tables.append((name, value))
        elif isinstance(value, Model):  # one level deep: a funnel's definition
            pairs.extend((f"{name}.{k}", v) for k, v in _fields(value)
                         if not isinstance(v, (list, dict, Model)))
        elif value != [] and not _empty(name, [value]):
            pairs.append((name, value))
    _table(title, ["field", "value"], [[k, _cell(k, v)] for k, v in pairs])
    for name, items in tables:
        _table(name, *_rows(type(items[0]), items))


def _fields(model: Any) -> list[tuple[str, Any]]:
    return [(f.name, getattr(model, f.name)) for f in dataclasses.fields(model)
            if f.name != "extra"]


_PERCENT = re.compile(r"^relative_|_rate$|^cr$|_growth$|^drop_off$|^ctr$")


def _cell(name: str, value: Any) -> str:
    name = name.rsplit(".", 1)[-1]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and name.endswith("_seconds"):
        return _duration(value)
    if name == "id" or name.endswith("_id"):
        return str(value)  # an ID, not a quantity: no thousands separators
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if _PERCENT.search(name):
            return f"{value * 100:.1f}%"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        if value.utcoffset() == timedelta(0):
            return value.strftime("%Y-%m-%d %H:%M:%S UTC")
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[c if isinstance(c, str) else _cell(h, c) for h, c in zip(headers, row, strict=True)]
             for row in rows]
    numeric = [all(_is_number(row[i]) for row in rows if row[i] not in (None, ""))
               and any(row[i] is not None for row in rows) for i in range(len(headers))]
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        _plain_table(title, headers, cells, numeric)
        return
    table = Table(box=box.SIMPLE_HEAD)
    for header, right in zip(headers, numeric, strict=True):
        table.add_column(header, justify="right" if right else "left", overflow="fold")
    for row in cells:
        table.add_row(*row)
    # Into a pipe or a file, keep the table whole instead of folding it to 80 columns.
    width = None if sys.stdout.isatty() else 1000
    console = Console(file=sys.stdout, width=width, highlight=False)
    console.print(title, style="bold", markup=False)
    console.print(table)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain_table(title: str, headers: list[str], cells: list[list[str]],
                 numeric: list[bool]) -> None:
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if right else v.ljust(w)
                         for v, w, right in zip(values, widths, numeric, strict=True)).rstrip()

    print(title)
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))
    print()


_EIGHTHS = " ▏▎▍▌▋▊▉"


def _print_chart(items: list[Any], x: str, metric: str) -> None:
    """One bar per row, scaled to the largest value, in eighths of a character."""
    labels = [_cell(x, _get(item, x)) for item in items]
    values = [max(0.0, float(_get(item, metric) or 0)) for item in items]
    texts = [_cell(metric, _get(item, metric)) for item in items]
    label_width, text_width = max(map(len, labels)), max(map(len, texts))
    columns = shutil.get_terminal_size((80, 24)).columns
    width = max(10, min(60, columns - label_width - text_width - 4))
    top = max(values) or 1.0
    scale = items[0].scale if isinstance(items[0], TimeSeries) else x
    print(f"{metric} per {scale}")
    for label, value, text in zip(labels, values, texts, strict=True):
        eighths = round(value / top * width * 8)
        bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
        print(f"{label:>{label_width}} │{bar:<{width}} {text:>{text_width}}")


if __name__ == "__main__":
    sys.exit(main())
