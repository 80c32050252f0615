"""Display formatting for the report tables: readable headers, units, no index.

The tables a notebook publishes (:func:`capacity.publish.publish_table`) keep the
package's canonical column names and full precision, for spreadsheets. What the
HTML report shows is a copy made by :func:`for_display`: each canonical name
becomes a header with its unit ("Monthly cost (USD)"), dollars get a ``$`` and
thousands separators, shares become percentages, latencies keep 0.1 ms, and the
pandas index is hidden. :data:`REASONS` explains, in plain words, each constraint
that binds an option or rejects a candidate; :func:`reason_legend` tabulates the
ones a report shows. :func:`rounded` rounds a headline number for
``results.json`` by the unit its name carries.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from capacity.catalog import get_instance
from capacity.errors import ParameterError


@dataclass(frozen=True)
class Column:
    """How one canonical column is shown."""

    header: str  # readable header, with its unit in brackets
    kind: str  # how values are written: a key of _FORMATTERS


COLUMNS: dict[str, Column] = {
    "instance_type": Column("Instance type", "text"),
    "count": Column("Instances", "count"),
    "mode": Column("Credit mode", "text"),
    "option": Column("Option", "text"),
    "fixed": Column("Fixed type", "text"),
    "monthly_cost_usd": Column("Monthly cost (USD)", "usd"),
    "annual_cost_usd": Column("Annual cost (USD)", "usd"),
    "surplus_cost_usd": Column("Surplus credits (USD/month)", "usd"),
    "compute_cost_usd": Column("Instance hours (USD/month)", "usd"),
    "compute_usd": Column("Instance hours (USD)", "usd"),
    "surplus_usd": Column("Surplus credits (USD)", "usd"),
    "total_usd": Column("Total (USD)", "usd"),
    "cost_per_million_requests_usd": Column("Per million requests (USD)", "usd"),
    "peak_utilisation_frac": Column("Peak CPU (%)", "frac"),
    "mean_utilisation_frac": Column("Mean CPU (%)", "frac"),
    "utilisation_frac": Column("CPU (%)", "frac"),
    "p99_at_peak_ms": Column("p99 at peak (ms)", "ms"),
    "requests_per_s": Column("Requests per second", "number"),
    "p99_ms": Column("p99 (ms)", "ms"),
    "max_p99_ms": Column("Worst p99 (ms)", "ms"),
    "slo_met_frac": Column("Steps meeting the p99 objective (%)", "frac"),
    "failed_frac": Column("Requests failed (%)", "frac"),
    "max_failed_frac": Column("Worst share failed (%)", "frac"),
    "failed_frac_while_throttled": Column("Failed while throttled (%)", "frac"),
    "balance_credits": Column("Credit balance (credits)", "credits"),
    "min_balance_credits": Column("Lowest credit balance (credits)", "credits"),
    "threshold_credits": Column("Alarm threshold (credits)", "credits"),
    "worst_burn_credits_per_h": Column("Worst burn (credits/h)", "number"),
    "hours_of_credit_at_worst_surge": Column("Credit left at worst surge (h)", "hours"),
    "hours_to_exhaustion": Column("Credits run out after (h)", "hours"),
    "hours_after_release": Column("Hours after the release (h)", "hours"),
    "throttled_hours": Column("Throttled (h)", "hours"),
    "warning_hours": Column("Wanted warning (h)", "hours"),
    "achieved_warning_hours": Column("Warning given (h)", "hours"),
    "exhausted_at_utc": Column("Credits run out at (UTC)", "time"),
    "timestamp": Column("Time (UTC)", "time"),
    "breakeven_cpu_pct": Column("Breakeven (average CPU %)", "pct"),
    "binding_constraint": Column("Binding constraint", "reason"),
    "reason": Column("Reason", "reason"),
    "detail": Column("Detail", "text"),
    "advice": Column("Advice", "text"),
    "verdict": Column("Verdict", "text"),
    "hc_timeout_s": Column("Health-check timeout (s)", "number"),
    "converged": Column("Completed", "text"),
    "minutes_to_converge": Column("Minutes to complete", "number"),
    "failed_request_frac": Column("Requests failed (%)", "frac"),
    "min_healthy_tasks": Column("Fewest tasks in service", "count"),
    "shed_frac": Column("Traffic shed (%)", "frac"),
}
"""Header and format of each canonical column a report shows."""

REASONS: dict[str, str] = {
    "headroom": "at the daily peak the CPU would run above the allowed share "
    "(1 minus the headroom)",
    "zone_loss": "losing one availability zone at the peak would leave the "
    "survivors short of CPU",
    "p99_slo": "p99 response time would exceed the objective in too many "
    "five-minute steps",
    "credit_floor": "in standard mode the CPU credit balance would fall below the "
    "floor (credits run out and the CPU is held to its baseline)",
    "surge": "a surge scenario would overload the fleet or empty its credits",
    "max_count": "even the largest fleet searched could not carry the load",
    "fleet_model": "the step-by-step replay of the fleet missed the p99 objective",
    "none": "no constraint binds: fewer instances would still pass",
}
"""Each constraint name, as the recommendation tables write it, in plain words."""


def usd(value: float) -> str:
    """Dollars with a thousands separator and cents.

    >>> usd(1032.512)
    '$1,032.51'
    """
    return "–" if _missing(value) else f"${value:,.2f}"


def percent(value_frac: float, decimals: int = 1) -> str:
    """A share in 0..1 written as a percentage.

    >>> percent(0.5945)
    '59.5 %'
    """
    return "–" if _missing(value_frac) else f"{value_frac * 100:,.{decimals}f} %"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: Any, decimals: int) -> str:
    return "–" if _missing(value) else f"{float(value):,.{decimals}f}"


def _time(value: Any) -> str:
    if _missing(value) or value is pd.NaT:
        return "–"
    moment = pd.Timestamp(value)
    moment = moment.tz_convert("UTC") if moment.tz is not None else moment
    return moment.strftime("%Y-%m-%d %H:%M")


def _boolean_or_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "–" if _missing(value) else str(value)


def _reason(value: Any) -> str:
    if _missing(value) or value == "":
        return "–"
    return ", ".join(part.replace("_", " ") for part in str(value).split(","))


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "usd": usd,
    "frac": percent,
    "pct": lambda v: _number(v, 1),
    "ms": lambda v: _number(v, 1),
    "hours": lambda v: _number(v, 1),
    "credits": lambda v: _number(v, 0),
    "count": lambda v: _number(v, 0),
    "number": lambda v: _number(v, 1),
    "time": _time,
    "text": _boolean_or_text,
    "reason": _reason,
}

_SUFFIX_KINDS = [
    ("_usd", "usd", "USD"),
    ("_frac", "frac", "%"),
    ("_pct", "pct", "%"),
    ("_ms", "ms", "ms"),
    ("_s", "number", "s"),
    ("_hours", "hours", "h"),
    ("_credits", "credits", "credits"),
]


def column_for(name: str) -> Column:
    """The header and format of a column: from :data:`COLUMNS`, else from its unit.

    >>> column_for("queue_wait_ms")
    Column(header='Queue wait (ms)', kind='ms')
    """
    if name in COLUMNS:
        return COLUMNS[name]

    for suffix, kind, unit in _SUFFIX_KINDS:
        if name.endswith(suffix):
            words = name.removesuffix(suffix).replace("_", " ")
            return Column(f"{words.capitalize()} ({unit})", kind)
    return Column(name.replace("_", " ").capitalize(), "text")


@dataclass(frozen=True)
class DisplayTable:
    """A table of formatted text, shown in a notebook as HTML without the index."""

    frame: pd.DataFrame  # readable headers, every value already text

    def _repr_html_(self) -> str:
        columns = list(self.frame.columns)
        right = [_is_numeric_text(self.frame[c].tolist()) for c in columns]
        head = "".join(
            f'<th style="text-align:{_side(r)}">{html.escape(str(c))}</th>'
            for c, r in zip(columns, right, strict=True)
        )
        rows = "".join(
            "<tr>"
            + "".join(
                f'<td style="text-align:{_side(r)}">{html.escape(str(v))}</td>'
                for v, r in zip(values, right, strict=True)
            )
            + "</tr>"
            for values in self.frame.itertuples(index=False)
        )
        return (
            f'<table class="dataframe"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )

    def __len__(self) -> int:
        return len(self.frame)


_NUMERIC_TEXT = re.compile(r"[$]?-?[\d,]+(\.\d+)?( %)?|–")


def _is_numeric_text(values: list[Any]) -> bool:
    """True when every value is a formatted number (right-aligned in a table)."""
    return bool(values) and all(_NUMERIC_TEXT.fullmatch(str(v)) for v in values)


def _side(right: bool) -> str:
    return "right" if right else "left"


def for_display(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> DisplayTable:
    """A copy of ``frame`` for people: readable headers, units, formatted values.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with canonical column names (the one published as CSV).
    columns : sequence of str, optional
        The columns to show, in order; None shows them all.
    headers : dict, optional
        Headers that replace the default of some columns.

    Returns
    -------
    DisplayTable
        The formatted table; its ``frame`` holds text only, the index is hidden.

    Raises
    ------
    ParameterError
        If a column asked for is not in ``frame``.

    Examples
    --------
    >>> table = pd.DataFrame({"monthly_cost_usd": [1032.512], "count": [17]})
    >>> for_display(table).frame.to_dict("records")
    [{'Monthly cost (USD)': '$1,032.51', 'Instances': '17'}]
    """
    names = list(frame.columns) if columns is None else list(columns)
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ParameterError(
            f"for_display: columns {missing} are not in the table, which has "
            f"{list(frame.columns)}; name existing columns"
        )

    shown = {}
    for name in names:
        column = column_for(name)
        header = (headers or {}).get(name, column.header)
        shown[header] = [_FORMATTERS[column.kind](v) for v in frame[name].tolist()]
    return DisplayTable(pd.DataFrame(shown, columns=list(shown)))


def reason_legend(reasons: Iterable[str]) -> DisplayTable:
    """The plain-words meaning of each constraint named in ``reasons``.

    ``reasons`` may hold comma-joined names ("p99_slo,credit_floor") and names
    with a note in brackets ("none (one instance suffices)").

    >>> reason_legend(["zone_loss"]).frame.iloc[0, 0]
    'zone loss'
    """
    names: list[str] = []
    for text in reasons:
        for part in str(text).split(","):
            name = part.split("(")[0].strip()
            if name and name not in names:
                names.append(name)
    rows = [
        {"Constraint": name.replace("_", " "), "Meaning": REASONS.get(name, name)}
        for name in names
    ]
    return DisplayTable(pd.DataFrame(rows, columns=["Constraint", "Meaning"]))


def paragraph(text: str) -> Any:
    """A sentence for the report, as bold HTML (escaped): a headline or verdict."""
    from IPython.display import HTML

    return HTML(f"<p><strong>{html.escape(text)}</strong></p>")


def bullets(lines: Iterable[str]) -> Any:
    """Sentences for the report as an HTML list (escaped)."""
    from IPython.display import HTML

    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return HTML(f"<ul>{items}</ul>")


def plain_reason(binding: str) -> str:
    """A binding constraint or rejection reason in plain words.

    >>> plain_reason("p99_slo,credit_floor").split(";")[0]
    'p99 response time would exceed the objective in too many five-minute steps'
    """
    names = [part.split("(")[0].strip() for part in str(binding).split(",")]
    return "; and ".join(REASONS.get(name, name.replace("_", " ")) for name in names)


def sizing_headline(best: Any) -> str:
    """The answer of a sizing run in one sentence, from the cheapest option's row.

    >>> row = {"instance_type": "t3.large", "count": 17, "mode": "standard",
    ...     "monthly_cost_usd": 1032.512, "cost_per_million_requests_usd": 0.3395,
    ...     "p99_at_peak_ms": 52.03, "binding_constraint": "zone_loss"}
    >>> sizing_headline(row)[:66]
    'Run 17 x t3.large in standard mode: $1,032.51 a month ($0.34 per m'
    """
    mode = "" if best["mode"] == "fixed" else f" in {best['mode']} mode"
    answer = (
        f"Run {best['count']} x {best['instance_type']}{mode}: "
        f"{usd(best['monthly_cost_usd'])} a month "
        f"({usd(best['cost_per_million_requests_usd'])} per million requests), "
        f"p99 {best['p99_at_peak_ms']:.1f} ms at the peak; the binding constraint is "
        f"{_reason(best['binding_constraint'])} (with one instance fewer, "
        f"{plain_reason(best['binding_constraint'])})."
    )
    if get_instance(best["instance_type"]).arch != "arm64":
        return answer
    return answer + (
        f" {best['instance_type']} is an Arm (Graviton) type: the service must run "
        "arm64 builds; search x86 families only (t3, c5, m5, ...) if it cannot."
    )


def burstable_verdicts(
    options: pd.DataFrame, rejected: pd.DataFrame, *, fixed_mode: str = "fixed"
) -> list[str]:
    """Why burstable types won or lost, one sentence each, from the sizing data.

    Parameters
    ----------
    options : pandas.DataFrame
        Feasible options, cheapest first (``Recommendation.options``).
    rejected : pandas.DataFrame
        Candidates no fleet size made feasible (``Recommendation.rejected``).
    fixed_mode : str
        The ``mode`` of fixed-performance rows.

    Returns
    -------
    list of str
        For each credit mode, its cheapest burstable option against the cheapest
        fixed one; then each rejected burstable candidate with its reason.
    """
    fixed = options[options["mode"] == fixed_mode]
    best_fixed = None if fixed.empty else fixed.iloc[0]
    modes = sorted(set(options["mode"]) | set(rejected.get("mode", [])))
    lines = [
        _mode_verdict(options[options["mode"] == mode], mode, best_fixed)
        for mode in modes
        if mode != fixed_mode
    ]

    burstable_rejected = rejected[rejected["mode"] != fixed_mode]
    for row in burstable_rejected.itertuples():
        lines.append(
            f"{row.instance_type} {row.mode} was rejected: "
            f"{REASONS.get(str(row.reason), str(row.reason))} ({row.detail})."
        )
    return lines


def _mode_verdict(rows: pd.DataFrame, mode: str, best_fixed: Any) -> str:
    if rows.empty:
        return f"No burstable type is feasible in {mode} mode at any fleet size."

    row = rows.iloc[0]
    name = f"{row['count']} x {row['instance_type']} {mode}"
    text = f"Cheapest in {mode} mode: {name} at {usd(row['monthly_cost_usd'])}"
    if row["surplus_cost_usd"] > 0:
        text += f" a month, {usd(row['surplus_cost_usd'])} of it surplus credits"
    else:
        text += " a month"
    hours = row.get("hours_of_credit_at_worst_surge", math.nan)
    if not _missing(hours):
        text += f"; credits last {hours:.1f} h at the worst surge"
    if best_fixed is not None:
        gap = float(row["monthly_cost_usd"] - best_fixed["monthly_cost_usd"])
        versus = f"{best_fixed['count']} x {best_fixed['instance_type']}"
        text += (
            f"; {usd(abs(gap))} {'more' if gap > 0 else 'less'} a month than "
            f"{versus}, the cheapest fixed-performance fleet"
            if gap != 0
            else f"; the same as {versus}, the cheapest fixed-performance fleet"
        )
    return text + f" (binding: {_reason(row['binding_constraint'])})."


def breakeven_verdict(result: Any) -> str:
    """Which of a burstable and a fixed type is cheaper, and below which CPU.

    Uses ``result.fixed_always_cheaper`` when the :class:`Breakeven` has it;
    otherwise compares the hourly prices: a fixed type no dearer than the
    burstable one is cheaper at any load.

    >>> from types import SimpleNamespace
    >>> breakeven_verdict(SimpleNamespace(burstable="t3.large", fixed="m5.large",
    ...     breakeven_cpu_pct=42.8, burstable_price_usd_per_h=0.0832,
    ...     fixed_price_usd_per_h=0.096))
    't3.large cheaper below 42.8 % average CPU'
    """
    fixed_cheaper = getattr(result, "fixed_always_cheaper", None)
    if fixed_cheaper is None:
        fixed_cheaper = result.fixed_price_usd_per_h <= result.burstable_price_usd_per_h
    if fixed_cheaper:
        return f"{result.fixed} cheaper at any load"
    if _missing(result.breakeven_cpu_pct) or result.breakeven_cpu_pct > 100.0:
        return f"{result.burstable} cheaper at any load"
    return (
        f"{result.burstable} cheaper below {result.breakeven_cpu_pct:.1f} % average CPU"
    )


_DECIMALS = {"usd": 2, "ms": 1, "s": 1, "frac": 4, "pct": 2, "hours": 2, "day": 0}
"""Decimals kept for a headline number, by the first unit word in its name."""


def rounded(name: str, value: Any) -> Any:
    """A headline value rounded by the unit its name carries, for ``results.json``.

    USD to the cent, ms to 0.1 ms, fractions to 4 decimals, percentages and hours
    to 2, per-day volumes to whole units, other numbers to 2 decimals; timestamps
    (names ending ``_utc``) to the second in ISO 8601. Integers, text, booleans,
    None, NaN and infinity pass unchanged.

    >>> rounded("monthly_cost_usd", 1032.512), rounded("requests_per_day", 1e8 - 0.2)
    (1032.51, 100000000)
    >>> rounded("exhausted_at_utc", pd.Timestamp("2026-04-06 08:12:18.56", tz="UTC"))
    '2026-04-06T08:12:18+00:00'
    """
    if hasattr(value, "item") and not isinstance(value, pd.Timestamp):
        value = value.item()
    if name.endswith("_utc") and isinstance(value, pd.Timestamp | str):
        return _iso_second(value)
    if not isinstance(value, float) or not math.isfinite(value):
        return value

    words = name.split("_")
    decimals = next((_DECIMALS[w] for w in words if w in _DECIMALS), 2)
    return int(round(value)) if decimals == 0 else round(value, decimals)


def _iso_second(value: pd.Timestamp | str) -> str | None:
    if isinstance(value, str) and value in ("", "None", "NaT"):
        return None
    moment = pd.Timestamp(value)
    if moment is pd.NaT:
        return None
    return moment.floor("s").isoformat()


__all__ = [
    "COLUMNS",
    "REASONS",
    "Column",
    "DisplayTable",
    "column_for",
    "for_display",
    "breakeven_verdict",
    "bullets",
    "burstable_verdicts",
    "paragraph",
    "plain_reason",
    "sizing_headline",
    "percent",
    "reason_legend",
    "rounded",
    "usd",
]
