"""Reading real CloudWatch exports onto one regular UTC grid.

Four formats: NAB-style ``timestamp,value`` CSV, a CSV with user-named columns,
``aws cloudwatch get-metric-statistics`` JSON and ``get-metric-data`` JSON (one page or
a list of pages). Each becomes a :class:`Trace`: one metric on a fixed-step UTC grid,
with every repair made on the way recorded as a :class:`Repair`, never dropped silently.
The file formats are parsed in :mod:`capacity.ingest_formats` and put on the grid by
:mod:`capacity.resample`; this module checks values, warns about doubtful ones, and
turns a trace into demand (a workload, or busy vCPUs).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from capacity.catalog import get_instance
from capacity.errors import CapacityWarning, IngestError
from capacity.ingest_formats import (
    KNOWN_METRICS,
    RawSeries,
    Repair,
    is_summed,
    metric_kind,
    read_raw,
)
from capacity.resample import GAP_POLICIES, regularise, runs_of_true
from capacity.workload import Workload, rescale_to_daily_requests

# Largest magnitude read from any metric file: 1e15 bytes a minute is 133 Tbit/s.
MAX_READING = 1e15
# Largest request rate a workload may reach [1/s]; above it the file holds something
# else (bytes, a cumulative counter) or was rescaled by a typing slip.
MAX_REQUESTS_PER_S = 1e9
SATURATED_PCT = 95.0  # CPUUtilization at or above this counts as saturated [%]


@dataclass(frozen=True, eq=False)
class Trace:
    """One metric regularised onto a fixed-step UTC grid (compared by identity)."""

    series: pd.Series
    """Values on a UTC DatetimeIndex with a fixed step; holes only if gaps dropped."""
    metric: str
    """CloudWatch metric name, e.g. ``"RequestCount"`` or ``"CPUUtilization"``."""
    unit: str
    """CloudWatch unit of the values: ``"Count"`` per step, ``"Percent"``, ..."""
    statistic: str
    """CloudWatch statistic the values are (``"Sum"``, ``"Average"``, or unknown)."""
    step_s: float
    """Grid step [s]."""
    source: str
    """File(s) read."""
    rows_read: int
    """Data rows found in the file(s) [rows]."""
    repairs: tuple[Repair, ...]
    """Every repair made, with its rule and count."""


def read_metric(
    path: str | Path | Sequence[str | Path],
    *,
    metric: str | None = None,
    tz: str = "UTC",
    step_s: float | None = None,
    statistic: str | None = None,
    gap_policy: str = "interpolate",
    max_gap_s: float = 1800.0,
    timestamp_column: str | None = None,
    value_column: str | None = None,
    instance_type: str | None = None,
) -> Trace:
    """Read one metric from a CloudWatch export and regularise it.

    Parameters
    ----------
    path : str, pathlib.Path or sequence of them
        A CSV or JSON file; several JSON files are read as pages of one answer.
    metric : str, optional
        CloudWatch metric name (see ``KNOWN_METRICS``); inferred from the file's
        label, column or name when omitted.
    tz : str
        Time zone of naive timestamps (IANA name); aware ones keep their offset.
    step_s : float, optional
        Grid step [s]; the file's most common step by default. Must be a whole
        multiple or a whole divisor of it.
    statistic : str, optional
        Which statistic of a ``get-metric-statistics`` file to read.
    gap_policy : {"interpolate", "hold", "zero", "drop"}
        What to do with gaps longer than ``max_gap_s``: ``"interpolate"`` refuses
        them (IngestError), the others hold the last value, fill zeros, or leave
        the steps out of the series.
    max_gap_s : float
        Longest gap filled by linear interpolation whatever the policy [s].
    timestamp_column, value_column : str, optional
        Column names of a CSV whose header is not ``timestamp,value``.
    instance_type : str, optional
        EC2 type the CPU series was measured on; enables the throttling check.

    Returns
    -------
    Trace

    Raises
    ------
    IngestError
        For an empty or unreadable file, a non-numeric value (with its line), a
        negative count, a percentage above 100, an unknown metric or column, a step
        that does not fit the file's, or a gap longer than ``max_gap_s`` under the
        ``"interpolate"`` policy.

    Notes
    -----
    Rules, in order:

    1. Naive timestamps are read in ``tz``; a run of rows sharing a whole-hour stamp
       right after a one-hour hole, which fills the hole exactly at the file's step,
       is a daylight-saving artefact (the spring-forward hour squashed onto 03:00);
       those rows are re-spaced into the hole before localising.
    2. Rows are sorted by time; identical duplicate rows are dropped; duplicate
       timestamps with different values are averaged.
    3. Each timestamp is moved down to the grid boundary (multiples of the step since
       the Unix epoch), and the samples in a step are averaged; for counts the mean
       per sample times the samples a step should hold gives the step's count, so
       missing or extra samples in a step neither lose nor double volume.
    4. Empty steps: runs up to ``max_gap_s`` are interpolated linearly; longer ones
       follow ``gap_policy``.

    ``get-metric-data`` pages are joined by result Id. If the last page still says
    ``PartialData`` or carries a ``NextToken``, the values given are kept, a
    CapacityWarning says later values are missing, and a ``partial_data`` Repair
    records it. Counts (RequestCount, CPUCreditUsage, bytes) are summed per step,
    everything else averaged. The autumn hour a local clock repeats would show as
    duplicate timestamps and be averaged; no NAB file has one.

    References
    ----------
    https://docs.aws.amazon.com/cli/latest/reference/cloudwatch/get-metric-statistics.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
    """
    if gap_policy not in GAP_POLICIES:
        raise IngestError(
            f"gap_policy={gap_policy!r} is not one of {', '.join(GAP_POLICIES)}"
        )
    if not math.isfinite(max_gap_s) or max_gap_s < 0:
        raise IngestError(f"max_gap_s={max_gap_s!r} must be a finite number >= 0")
    check_tz(tz)
    raw = read_raw(
        path,
        metric=metric,
        statistic=statistic,
        timestamp_column=timestamp_column,
        value_column=value_column,
    )
    _check_values(raw)
    _warn_if_zeros(raw)

    series, grid_step_s, repairs = regularise(
        raw, tz=tz, step_s=step_s, gap_policy=gap_policy, max_gap_s=max_gap_s
    )

    trace = Trace(
        series=series,
        metric=raw.metric,
        unit=raw.unit,
        statistic=raw.statistic,
        step_s=grid_step_s,
        source=raw.source,
        rows_read=raw.readings.size,
        repairs=repairs,
    )
    _warn_if_doubtful(trace)
    if instance_type is not None and raw.metric == "CPUUtilization":
        _warn_if_pinned_at_baseline(trace, instance_type)
    return trace


def _check_request_rate(w: Workload, source: str) -> Workload:
    """Refuse a workload whose peak request rate exceeds ``MAX_REQUESTS_PER_S``."""
    peak_per_s = float(np.max(w.requests_per_s, initial=0.0))
    if peak_per_s > MAX_REQUESTS_PER_S:
        raise IngestError(
            f"{source}: peak request rate {peak_per_s:.3g}/s is above "
            f"{MAX_REQUESTS_PER_S:g}/s, beyond any EC2 fleet this plans; check that "
            "the file holds requests per period (not bytes) and the rescaling"
        )
    return w


def check_tz(tz: str) -> str:
    """Refuse a time zone name pandas cannot localise to, naming the fix.

    Examples
    --------
    >>> check_tz("America/New_York")
    'America/New_York'
    """
    valid = isinstance(tz, str) and tz.strip() != ""
    if valid:
        try:
            pd.Timestamp(0).tz_localize(tz)
        except (KeyError, ValueError, IndexError):  # ZoneInfoNotFoundError: KeyError
            valid = False
    if not valid:
        raise IngestError(
            f"tz={tz!r} is not a time zone; pass an IANA name such as 'UTC' or "
            "'America/New_York' (--tz, or tz: in the YAML), or leave it out for UTC"
        )
    return tz


def _check_values(raw: RawSeries) -> None:
    """Refuse values a metric cannot take, naming the first offending row."""
    kind = metric_kind(raw.metric)
    rules = [
        (~np.isfinite(raw.readings), "is not a finite number"),
        (
            np.abs(raw.readings) > MAX_READING,
            f"is above {MAX_READING:g}, more than any metric of a fleet reaches "
            "(1e15 bytes a minute is 133 Tbit/s); check the unit and the column",
        ),
    ]
    if kind in ("count", "level", "percent"):
        rules.append((raw.readings < 0, "is negative, which this metric can't be"))
    if kind == "percent":
        rules.append((raw.readings > 100.0, "is above 100; a percentage can't be"))
    for bad, rule in rules:
        if np.any(bad):
            first = int(np.argmax(bad))
            raise IngestError(
                f"{raw.source}, {raw.where(first)}: {raw.metric} value "
                f"{raw.readings[first]:g} {rule} (fix or remove that row)"
            )


def _warn_if_doubtful(trace: Trace) -> None:
    """Warn about values that are valid but suspicious, saying what to check."""
    if metric_kind(trace.metric) == "count" and not is_summed(
        trace.metric, trace.statistic
    ):
        warnings.warn(
            f"{trace.source}: {trace.metric} was exported as {trace.statistic}, not "
            "Sum; it is averaged per step and gives no request or byte volume: "
            "export the Sum statistic for that",
            CapacityWarning,
            stacklevel=3,
        )
    values = trace.series.to_numpy()
    if trace.metric == "CPUUtilization" and values.max() <= 1.0:
        warnings.warn(
            f"{trace.source}: CPUUtilization never exceeds 1.0; if the file holds "
            "fractions (0..1) rather than percent (0..100), multiply by 100 first",
            CapacityWarning,
            stacklevel=3,
        )


def _warn_if_zeros(raw: RawSeries) -> None:
    """Warn about exact zeros (1 % of rows or more) in a series with median > 0."""
    readings = raw.readings
    zeros = int(np.count_nonzero(readings == 0))
    median = float(np.median(readings))
    if median > 0 and zeros >= max(1, readings.size // 100):
        warnings.warn(
            f"{raw.source}: {zeros} exact zeros in a series whose median is "
            f"{median:g}; if they are missing data, remove those rows so the gap "
            "rules apply",
            CapacityWarning,
            stacklevel=3,
        )


def _warn_if_pinned_at_baseline(trace: Trace, instance_type: str) -> None:
    """Warn when CPU sits at a burstable type's baseline for two hours or more."""
    instance = get_instance(instance_type)
    if not instance.burstable or instance.baseline_frac is None:
        return
    baseline_pct = instance.baseline_frac * 100.0
    pinned = np.abs(trace.series.to_numpy() - baseline_pct) <= 1.0
    _, lengths = runs_of_true(pinned)
    longest_hours = (lengths.max() if lengths.size else 0) * trace.step_s / 3600.0
    if longest_hours >= 2.0:
        warnings.warn(
            f"{trace.source}: CPUUtilization stays within 1 point of the "
            f"{instance_type} baseline ({baseline_pct:g} %) for {longest_hours:g} "
            "hours: the instance was probably throttled, so observed CPU "
            "under-states demand; size from request counts instead",
            CapacityWarning,
            stacklevel=3,
        )


def trace_to_workload(
    trace: Trace,
    *,
    cpu_per_request_ms: float = 8.0,
    requests_per_day: float | None = None,
    background_vcpu: float = 0.0,
    name: str | None = None,
) -> Workload:
    """Turn a request-count trace into a :class:`~capacity.workload.Workload`.

    Parameters
    ----------
    trace : Trace
        A ``RequestCount`` trace (sum per step).
    cpu_per_request_ms : float
        CPU time per request [ms].
    requests_per_day : float, optional
        Scale the trace's shape to this mean daily volume [requests/day].
    background_vcpu : float
        Busy vCPUs per instance not caused by requests [vCPU].
    name : str, optional
        Label; the trace's source by default.

    Returns
    -------
    Workload

    Raises
    ------
    IngestError
        For a trace that is not a request count, was not a Sum, or has dropped steps.

    Notes
    -----
    ``requests_per_s = count per step / step_s``.

    Examples
    --------
    >>> index = pd.date_range("2026-01-01", periods=3, freq="300s", tz="UTC")
    >>> counts = pd.Series([600.0, 300.0, 0.0], index=index)
    >>> t = Trace(counts, "RequestCount", "Count", "Sum", 300.0, "x", 3, ())
    >>> [float(x) for x in trace_to_workload(t).requests_per_s]
    [2.0, 1.0, 0.0]
    """
    if trace.metric != "RequestCount":
        raise IngestError(
            f"trace metric {trace.metric!r} is not RequestCount; a workload needs "
            "request counts; for a CPUUtilization export give the fleet it was "
            "measured on (sizing parameters current_instance_type and "
            "current_count, or cpu_trace_to_workload)"
        )
    if not is_summed(trace.metric, trace.statistic):
        raise IngestError(
            f"trace statistic {trace.statistic!r} is not Sum; a request rate needs "
            "the sum per period (read the file with statistic='Sum')"
        )
    _check_no_holes(trace)
    w = Workload(
        index=pd.DatetimeIndex(trace.series.index),
        requests_per_s=trace.series.to_numpy() / trace.step_s,
        cpu_per_request_s=np.full(trace.series.size, cpu_per_request_ms / 1000.0),
        background_vcpu=np.full(trace.series.size, float(background_vcpu)),
        name=name or trace.source,
        source=f"{trace.source} ({trace.metric}, {trace.step_s:g} s)",
    )
    if requests_per_day is None:
        return _check_request_rate(w, trace.source)
    return _check_request_rate(
        rescale_to_daily_requests(w, requests_per_day), trace.source
    )


def _check_no_holes(trace: Trace) -> None:
    """Refuse a trace whose long gaps were dropped (its grid has holes)."""
    expected = (trace.series.index[-1] - trace.series.index[0]) / pd.Timedelta(
        seconds=trace.step_s
    ) + 1
    if trace.series.size != int(round(expected)):
        raise IngestError(
            f"{trace.source}: the trace has {int(round(expected)) - trace.series.size} "
            "dropped steps; read it with gap_policy 'hold' or 'zero', or a larger "
            "max_gap_s, to make a workload"
        )


def cpu_trace_to_demand(trace: Trace, instance_type: str, count: int) -> pd.DataFrame:
    """Busy vCPUs per instance and for the fleet, from a CPUUtilization trace.

    Parameters
    ----------
    trace : Trace
        A ``CPUUtilization`` trace [%], the average over the fleet's instances.
    instance_type : str
        EC2 type the CPU was measured on.
    count : int
        Number of instances the average was taken over.

    Returns
    -------
    pandas.DataFrame
        Columns ``busy_vcpu_per_instance`` and ``busy_vcpu_fleet`` [vCPU].

    Raises
    ------
    IngestError
        For a trace that is not CPUUtilization, or a count below 1.
    CatalogError
        For an unknown instance type.

    Notes
    -----
    ``busy_vcpu = CPUUtilization / 100 x vcpu``. Where the instance was throttled
    (pinned at its baseline) the observed CPU under-states demand; a warning says so.

    Examples
    --------
    >>> index = pd.date_range("2026-01-01", periods=2, freq="300s", tz="UTC")
    >>> t = Trace(pd.Series([50.0, 25.0], index=index), "CPUUtilization", "Percent",
    ...           "Average", 300.0, "x", 2, ())
    >>> cpu_trace_to_demand(t, "c5.xlarge", 3)["busy_vcpu_fleet"].tolist()
    [6.0, 3.0]
    """
    if trace.metric != "CPUUtilization":
        raise IngestError(
            f"trace metric {trace.metric!r} is not CPUUtilization; busy vCPUs come "
            "from a CPU series (use trace_to_workload for RequestCount)"
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise IngestError(f"count={count!r} must be a whole number of instances >= 1")
    instance = get_instance(instance_type)
    _warn_if_pinned_at_baseline(trace, instance_type)

    per_instance = trace.series / 100.0 * instance.vcpu
    return pd.DataFrame(
        {
            "busy_vcpu_per_instance": per_instance,
            "busy_vcpu_fleet": per_instance * count,
        }
    )


def cpu_trace_to_workload(
    trace: Trace,
    instance_type: str,
    count: int,
    *,
    cpu_per_request_ms: float = 8.0,
    requests_per_day: float | None = None,
    name: str | None = None,
) -> Workload:
    """Turn the CPUUtilization of a fleet into a :class:`~capacity.workload.Workload`.

    Parameters
    ----------
    trace : Trace
        A ``CPUUtilization`` trace [%], the average over the fleet's instances.
    instance_type : str
        EC2 type of the fleet the CPU was measured on.
    count : int
        Instances in that fleet [instances].
    cpu_per_request_ms : float
        CPU time per request [ms]; turns busy vCPUs into a request rate.
    requests_per_day : float, optional
        Scale the trace's shape to this mean daily volume [requests/day].
    name : str, optional
        Label; the trace's source by default.

    Returns
    -------
    Workload
        ``requests_per_s`` from the busy vCPUs, ``cpu_per_request_ms`` per request,
        no background CPU.

    Raises
    ------
    IngestError
        For a trace that is not CPUUtilization or has dropped steps, a count below
        1, or a CPU per request that is not a positive finite number.
    CatalogError
        For an unknown instance type.

    Notes
    -----
    ``requests_per_s = CPUUtilization / 100 x vcpu x count / cpu_per_request_s``:
    every busy vCPU-second of the fleet is request work (the operating system's
    own CPU is counted as requests too, which errs towards a larger fleet).

    Observed CPU is what the fleet served, not what was asked of it. A throttled
    fleet (standard-mode burstable instances held at their baseline) or a saturated
    one (near 100 %) under-states demand, and the workload with it; a
    CapacityWarning says so when the series sits at the baseline, or at 95 % or
    more, for two hours or longer. Size from request counts where you have them.

    Examples
    --------
    >>> index = pd.date_range("2026-01-01", periods=2, freq="300s", tz="UTC")
    >>> t = Trace(pd.Series([50.0, 25.0], index=index), "CPUUtilization", "Percent",
    ...           "Average", 300.0, "x", 2, ())
    >>> w = cpu_trace_to_workload(t, "c5.xlarge", 3, cpu_per_request_ms=10)
    >>> [float(x) for x in w.requests_per_s]  # 6 and 3 busy vCPUs / 0.010 s
    [600.0, 300.0]
    """
    if not (math.isfinite(cpu_per_request_ms) and cpu_per_request_ms > 0):
        raise IngestError(
            f"cpu_per_request_ms={cpu_per_request_ms!r} must be a positive number "
            "of milliseconds (--cpu-per-request-ms); it turns busy CPU into requests"
        )
    demand = cpu_trace_to_demand(trace, instance_type, count)
    _check_no_holes(trace)
    _warn_if_saturated(trace)

    cpu_per_request_s = cpu_per_request_ms / 1000.0
    busy_vcpu = demand["busy_vcpu_fleet"].to_numpy()
    w = Workload(
        index=pd.DatetimeIndex(trace.series.index),
        requests_per_s=busy_vcpu / cpu_per_request_s,
        cpu_per_request_s=np.full(trace.series.size, cpu_per_request_s),
        background_vcpu=np.zeros(trace.series.size),
        name=name or trace.source,
        source=f"{trace.source} ({trace.metric} of {count} x {instance_type}, "
        f"{trace.step_s:g} s)",
    )
    if requests_per_day is None:
        return _check_request_rate(w, trace.source)
    return _check_request_rate(
        rescale_to_daily_requests(w, requests_per_day), trace.source
    )


def _warn_if_saturated(trace: Trace) -> None:
    """Warn when CPU stays at 95 % or more for two hours or longer."""
    _, lengths = runs_of_true(trace.series.to_numpy() >= SATURATED_PCT)
    longest_hours = (lengths.max() if lengths.size else 0) * trace.step_s / 3600.0
    if longest_hours >= 2.0:
        warnings.warn(
            f"{trace.source}: CPUUtilization stays at {SATURATED_PCT:g} % or more "
            f"for {longest_hours:g} hours: the fleet was probably saturated, so "
            "observed CPU under-states demand; size from request counts instead",
            CapacityWarning,
            stacklevel=3,
        )


__all__ = [
    "GAP_POLICIES",
    "KNOWN_METRICS",
    "Repair",
    "Trace",
    "cpu_trace_to_demand",
    "cpu_trace_to_workload",
    "read_metric",
    "trace_to_workload",
]
