"""What ``pirsch`` prints: tables (``rich`` when installed, plain text otherwise), field/value
tables for single objects, bar charts for time series, and JSON."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from datetime import date, datetime, timedelta
from typing import Any

from ._management_models import EmailReport, Member
from ._models import (
    ConversionGoal,
    ConversionGoalStats,
    Domain,
    Model,
    SessionStats,
    SessionStep,
    TimeSeries,
    TimeSpentStats,
    VisitorHourStats,
    VisitorMinuteStats,
    VisitorStats,
)

__all__ = ["CHARTS", "COLUMNS", "print_chart", "print_result"]

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
    ConversionGoal: tuple((name, name) for name in (
        "id", "name", "path_pattern", "event_name", "visitor_goal", "cr_goal",
        "email_reached", "delete_reached")),
    Member: (("id", "id"), ("email", "user.email"), ("name", "user.full_name"),
             ("role", "role"), ("since", "def_time")),
    EmailReport: tuple((name, name) for name in ("id", "email", "interval", "next_report")),
}


def print_result(result: Any, model: type[Any] | None, *, json_output: bool, title: str,
                 column: str = "value") -> None:
    """Print a result as JSON, a table (a list) or a field/value table (one object)."""
    if json_output:
        data = [_jsonable(r) for r in result] if isinstance(result, list) else _jsonable(result)
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not isinstance(result, list):
        _key_values(result, title)
    elif model is not None and issubclass(model, Model):
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


def print_chart(items: list[Any], x: str, metric: str) -> None:
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

