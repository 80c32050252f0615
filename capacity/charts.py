"""Altair charts for the reports, rendered as static SVG so a report reads offline.

Each chart function takes a tidy :class:`pandas.DataFrame` whose column names are the
package's canonical quantity names (``balance_credits``, ``p99_ms``,
``monthly_usd`` ...) and returns an Altair chart. Long time series are first reduced
by :func:`decimate` to at most :data:`MAX_CHART_ROWS` points per chart, so no chart
hits Altair's 5,000-row limit (a 62-day, 18,050-row CloudWatch export draws as 2,000
bucket means) and the HTML report stays within its size budget.

Call :func:`enable_svg` once in a notebook: Altair then renders every chart to inline
SVG with vl-convert, in the kernel, instead of emitting a script that fetches
Vega from a CDN.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

# jsonschema, imported by Altair, builds an RFC 3987 grammar at import when the
# optional rfc3987_syntax package is installed: 1.5 s of a 2.1 s Altair import,
# paid by every report kernel. It only checks "iri" formats, which our chart specs
# never carry; marking the module absent (unless something imported it already)
# makes jsonschema skip that check and the import take 0.4 s.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402

from capacity.errors import ParameterError  # noqa: E402
from capacity.tables import column_for  # noqa: E402

MAX_CHART_ROWS = 2_000
"""Rows per chart after decimation; Altair refuses more than 5,000 rows by default."""

WIDTH_PX = 640
"""Width of a chart panel [px]."""

HEIGHT_PX = 220
"""Height of a chart panel [px]."""


def enable_svg() -> None:
    """Render Altair charts as static SVG in this kernel (no script, no CDN)."""
    alt.renderers.enable("svg")


def decimate(
    frame: pd.DataFrame,
    x: str,
    *,
    group: str | None = None,
    max_rows: int = MAX_CHART_ROWS,
    how: str = "mean",
) -> pd.DataFrame:
    """Bucket the lines of a chart into at most ``max_rows`` rows in all.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to reduce; ``x`` is a datetime or numeric column.
    x : str
        The column that orders the rows (time).
    group : str, optional
        A column naming separate lines; each line is reduced on its own, into
        ``max_rows // lines`` equal-width intervals of ``x``.
    max_rows : int
        Most rows kept in all (Altair refuses more than 5,000 by default).
    how : {"mean", "max", "min"}
        How the numeric columns of a bucket are combined.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when already small enough; otherwise one row per line and
        non-empty bucket, with the bucket's first ``x``.

    Raises
    ------
    ParameterError
        If a column is missing, ``max_rows`` < 2 or ``how`` is unknown.

    Examples
    --------
    >>> frame = pd.DataFrame({"time_s": range(10), "cpu_pct": range(10)})
    >>> decimate(frame, "time_s", max_rows=5)["cpu_pct"].tolist()
    [0.5, 2.5, 4.5, 6.5, 8.5]
    """
    _require_columns(frame, [x] + ([group] if group else []), "decimate")
    if max_rows < 2 or how not in ("mean", "max", "min"):
        raise ParameterError(
            f"decimate needs max_rows >= 2 and how in mean/max/min, got "
            f"max_rows={max_rows}, how={how!r}"
        )
    keys = [group] if group else []
    lines = frame[group].nunique() if group else 1
    if len(frame) <= max_rows:
        return frame
    per_line = max(2, max_rows // max(lines, 1))

    position = frame[x].astype("int64") if _is_datetime(frame[x]) else frame[x]
    position = position.astype("float64")
    width = float(position.max() - position.min()) / per_line
    bucket = ((position - position.min()) // width).clip(upper=per_line - 1)
    numeric = [
        c for c in frame.select_dtypes("number").columns if c != x and c not in keys
    ]
    grouped = frame.assign(_bucket=bucket.to_numpy()).groupby(keys + ["_bucket"])
    reduced = grouped[numeric].agg(how).join(grouped[x].min())
    return reduced.reset_index().drop(columns="_bucket")


def _is_datetime(series: pd.Series) -> bool:
    """True for a datetime column, with or without a time zone."""
    return pd.api.types.is_datetime64_any_dtype(series)


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], chart: str) -> None:
    """Refuse a frame that lacks a column the chart draws."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{chart} needs columns {list(columns)}; missing {missing} in a frame "
            f"with {list(frame.columns)}: rename or add them"
        )


def _epoch_ms(moments: pd.Series) -> pd.Series:
    """Time-zone-aware datetimes as milliseconds since 1970-01-01 UTC.

    Vega reads such a number as the same moment as the ISO 8601 text Altair would
    write, draws the identical SVG, and parses it in about half the time (0.08 s
    less per 4,000 points with vl-convert). Naive datetimes are left as text, which
    Vega reads as local time.
    """
    return moments.dt.as_unit("ms").astype("int64")


def _x_encoding(frame: pd.DataFrame, x: str, title: str) -> alt.X:
    """A temporal axis for datetimes, a quantitative one otherwise."""
    kind = "T" if _is_datetime(frame[x]) else "Q"
    return alt.X(f"{x}:{kind}", title=title)


def _axis(column: str) -> alt.Axis:
    """Shares in 0..1 (``_frac``) are labelled as percentages."""
    return alt.Axis(format="%") if column.endswith("_frac") else alt.Axis()


def time_series_chart(
    frame: pd.DataFrame,
    y: str,
    *,
    x: str = "timestamp",
    group: str | None = None,
    title: str = "",
    y_title: str | None = None,
) -> alt.Chart:
    """One line per group of ``y`` over ``x``, decimated to :data:`MAX_CHART_ROWS`.

    Examples
    --------
    >>> frame = pd.DataFrame({"timestamp": pd.date_range("2026-01-01", periods=3,
    ...     freq="h", tz="UTC"), "cpu_pct": [10.0, 40.0, 20.0]})
    >>> time_series_chart(frame, "cpu_pct").mark
    'line'
    """
    _require_columns(frame, [x, y] + ([group] if group else []), "time_series_chart")
    data = decimate(frame[[x, y] + ([group] if group else [])], x, group=group)
    encoding: dict[str, Any] = {
        "x": _x_encoding(data, x, "time (UTC)" if _is_datetime(data[x]) else x),
        "y": alt.Y(f"{y}:Q", title=y_title or column_for(y).header, axis=_axis(y)),
    }
    if _is_datetime(data[x]) and data[x].dt.tz is not None:
        data = data.assign(**{x: _epoch_ms(data[x])})
    if group:
        encoding["color"] = alt.Color(f"{group}:N", title=column_for(group).header)
    chart = alt.Chart(data, title=title).mark_line().encode(**encoding)
    return chart.properties(width=WIDTH_PX, height=HEIGHT_PX)


def credit_balance_chart(
    frame: pd.DataFrame, *, floor_credits: float = 0.0
) -> alt.LayerChart:
    """CPU credit balance over time per option, with the alarm floor as a rule.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``timestamp``, ``balance_credits`` and ``option``.
    floor_credits : float
        A balance to mark, e.g. the alarm threshold [credits].
    """
    line = time_series_chart(
        frame,
        "balance_credits",
        group="option",
        title="CPU credit balance per instance",
        y_title="balance (credits)",
    )
    rule = alt.Chart(pd.DataFrame({"floor_credits": [floor_credits]})).mark_rule(
        strokeDash=[4, 4], color="firebrick"
    )
    return alt.LayerChart(layer=[line, rule.encode(y="floor_credits:Q")])


def latency_utilisation_chart(frame: pd.DataFrame) -> alt.VConcatChart:
    """Utilisation and p99 latency over time per option, one panel above the other.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``timestamp``, ``utilisation_frac``, ``p99_ms``, ``option``.
    """
    columns = ["timestamp", "utilisation_frac", "p99_ms", "option"]
    _require_columns(frame, columns, "latency_utilisation_chart")
    utilisation = time_series_chart(
        frame, "utilisation_frac", group="option", title="CPU utilisation (%)"
    )
    latency = time_series_chart(
        frame, "p99_ms", group="option", title="p99 response time (ms)"
    )
    return alt.vconcat(utilisation, latency)


def cost_bars_chart(frame: pd.DataFrame) -> alt.Chart:
    """Monthly cost per option, stacked by component (instances, surplus credits).

    A component that is zero for every option (surplus credits when no option
    runs in unlimited mode above its baseline) is left out of the bars and legend.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``option``, ``component`` and ``monthly_usd``.

    Examples
    --------
    >>> frame = pd.DataFrame({"option": ["a", "a"], "component": ["hours", "surplus"],
    ...     "monthly_usd": [60.9, 0.0]})
    >>> cost_bars_chart(frame).data["component"].tolist()
    ['hours']
    """
    _require_columns(frame, ["option", "component", "monthly_usd"], "cost_bars_chart")
    totals = frame.groupby("component")["monthly_usd"].apply(lambda v: v.abs().sum())
    kept = frame[frame["component"].isin(totals[totals > 0].index)]
    bars = alt.Chart(kept, title="Cost per month (USD)").mark_bar()
    encoded = bars.encode(
        x=alt.X("monthly_usd:Q", title="USD per month", stack="zero"),
        y=alt.Y("option:N", title=None, sort="x"),
        color=alt.Color("component:N", title="component"),
        tooltip=["option", "component", alt.Tooltip("monthly_usd:Q", format=",.2f")],
    )
    return encoded.properties(width=WIDTH_PX)


def breakeven_chart(frame: pd.DataFrame) -> alt.Chart:
    """Monthly cost against average CPU utilisation, one line per option.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``cpu_pct`` (as :func:`capacity.cost.cost_curve`), ``monthly_usd``
        and ``option``; where two lines cross is the breakeven utilisation.
    """
    columns = ["cpu_pct", "monthly_usd", "option"]
    _require_columns(frame, columns, "breakeven_chart")
    lines = alt.Chart(frame, title="Monthly cost against average CPU").mark_line()
    encoded = lines.encode(
        x=alt.X("cpu_pct:Q", title="average CPU utilisation (%)"),
        y=alt.Y("monthly_usd:Q", title="USD per month"),
        color=alt.Color("option:N", title="option"),
    )
    return encoded.properties(width=WIDTH_PX, height=HEIGHT_PX)


def rollout_timeline_chart(frame: pd.DataFrame) -> alt.Chart:
    """Tasks per state over a deployment, stacked areas against seconds.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``time_s``, ``state`` and ``task_count``.
    """
    _require_columns(frame, ["time_s", "state", "task_count"], "rollout_timeline_chart")
    data = decimate(frame, "time_s", group="state")
    areas = alt.Chart(data, title="Tasks by state during the deployment").mark_area()
    encoded = areas.encode(
        x=alt.X("time_s:Q", title="time since the deployment started (s)"),
        y=alt.Y("task_count:Q", title="tasks", stack="zero"),
        color=alt.Color("state:N", title="state"),
    )
    return encoded.properties(width=WIDTH_PX, height=HEIGHT_PX)
