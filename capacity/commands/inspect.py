"""``capacity inspect``: what a CloudWatch export holds and what it means as demand."""

from __future__ import annotations

import argparse
import json
import math
import warnings
from typing import Any, TextIO

import numpy as np

from capacity.catalog import get_instance
from capacity.errors import CapacityWarning, ParameterError
from capacity.ingest import (
    GAP_POLICIES,
    Trace,
    cpu_trace_to_demand,
    read_metric,
)
from capacity.ingest_formats import is_summed

NAME = "inspect"
SECONDS_PER_DAY = 86_400.0


def add_parser(subparsers: Any) -> None:
    """Register the ``inspect`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="summarise a CloudWatch export: span, step, repairs, values, demand",
        description=(
            "Read a metrics file (NAB-style timestamp,value CSV, a CSV with named "
            "columns, or aws cloudwatch get-metric-statistics / get-metric-data "
            "JSON), regularise it onto a UTC grid, and report its span, step, rows "
            "read, every repair with its rule, min/median/p95/max, and what it means "
            "as demand: requests/s and requests/day for a RequestCount, busy vCPUs "
            "for CPUUtilization with --instance-type and --count."
        ),
    )
    parser.add_argument("file", metavar="FILE", nargs="+", help="CSV or JSON file(s)")
    parser.add_argument("--metric", help="CloudWatch metric name, e.g. RequestCount")
    parser.add_argument("--tz", default="UTC", help="zone of naive timestamps")
    parser.add_argument("--statistic", help="statistic to read from JSON, e.g. Sum")
    parser.add_argument("--step-s", type=float, help="grid step in seconds")
    parser.add_argument(
        "--gap-policy",
        choices=GAP_POLICIES,
        default="interpolate",
        help="what to do with gaps longer than --max-gap-s (default: refuse them)",
    )
    parser.add_argument(
        "--max-gap-s", type=float, default=1800.0, help="longest gap interpolated [s]"
    )
    parser.add_argument("--timestamp-column", help="CSV column of the timestamps")
    parser.add_argument("--value-column", help="CSV column of the values")
    parser.add_argument("--instance-type", metavar="T", help="e.g. t3.large")
    parser.add_argument("--count", type=int, metavar="N", help="instances averaged")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Inspect the file and write the summary to ``out``; return the exit status."""
    _check_fleet_arguments(args.instance_type, args.count)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityWarning)
        trace = read_metric(
            args.file if len(args.file) > 1 else args.file[0],
            metric=args.metric,
            tz=args.tz,
            step_s=args.step_s,
            statistic=args.statistic,
            gap_policy=args.gap_policy,
            max_gap_s=args.max_gap_s,
            timestamp_column=args.timestamp_column,
            value_column=args.value_column,
            instance_type=args.instance_type,
        )
        record = inspect_record(trace, args.instance_type, args.count)
    record["warnings"] = [
        str(w.message) for w in caught if issubclass(w.category, CapacityWarning)
    ]
    if args.json:
        out.write(json.dumps(_finite(record), indent=2) + "\n")
    else:
        out.write(inspect_text(record))
    return 0


def _check_fleet_arguments(instance_type: str | None, count: int | None) -> None:
    """Refuse a count without a type, a type without a count, or a count below 1."""
    if (instance_type is None) != (count is None):
        raise ParameterError(
            "--instance-type and --count go together: pass both (e.g. "
            "--instance-type t3.large --count 16) or neither"
        )
    if count is not None and count < 1:
        raise ParameterError(f"--count {count} must be at least 1 instance")
    if instance_type is not None:
        get_instance(instance_type)


def inspect_record(
    trace: Trace, instance_type: str | None, count: int | None
) -> dict[str, Any]:
    """The summary of a trace as plain data (JSON-ready apart from NaN)."""
    series = trace.series
    span_s = (series.index[-1] - series.index[0]).total_seconds() + trace.step_s
    return {
        "file": trace.source,
        "metric": trace.metric,
        "unit": trace.unit,
        "statistic": trace.statistic,
        "first": series.index[0].isoformat(),
        "last": series.index[-1].isoformat(),
        "span_hours": span_s / 3600.0,
        "step_s": trace.step_s,
        "rows_read": trace.rows_read,
        "steps": int(series.size),
        "repairs": [
            {"rule": r.rule, "count": r.count, "detail": r.detail}
            for r in trace.repairs
        ],
        "values": _quantiles(series.to_numpy()),
        "demand": _demand(trace, instance_type, count),
    }


def _quantiles(values: np.ndarray) -> dict[str, float]:
    """Mean, min, median, p95 and max."""
    return {
        "mean": float(np.mean(values)),
        "min": float(np.min(values)),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": float(np.max(values)),
    }


def _demand(
    trace: Trace, instance_type: str | None, count: int | None
) -> dict[str, Any]:
    """What the series means as demand, where the metric says."""
    values = trace.series.to_numpy()
    summed = is_summed(trace.metric, trace.statistic)
    if trace.metric == "RequestCount" and summed:
        requests_per_s = values / trace.step_s
        return {
            "requests_per_s": _quantiles(requests_per_s),
            "requests_per_day": float(requests_per_s.mean()) * SECONDS_PER_DAY,
        }
    if trace.metric == "CPUCreditUsage" and summed:
        # One credit is one vCPU busy for one minute.
        return {
            "credits_per_h": _quantiles(values / trace.step_s * 3600.0),
            "busy_vcpu_per_instance": _quantiles(values / (trace.step_s / 60.0)),
        }
    if summed:
        return {f"{trace.unit.lower()}_per_s": _quantiles(values / trace.step_s)}
    if trace.metric != "CPUUtilization":
        return {}
    if instance_type is None or count is None:
        return {"note": "pass --instance-type and --count to see busy vCPUs"}
    return _cpu_demand(trace, instance_type, count)


def _cpu_demand(trace: Trace, instance_type: str, count: int) -> dict[str, Any]:
    """Busy vCPUs per instance and fleet, and time above a burstable baseline."""
    demand = cpu_trace_to_demand(trace, instance_type, count)
    per_instance = demand["busy_vcpu_per_instance"].to_numpy()
    record: dict[str, Any] = {
        "instance_type": instance_type,
        "count": count,
        "busy_vcpu_per_instance": _quantiles(per_instance),
        "busy_vcpu_fleet": _quantiles(demand["busy_vcpu_fleet"].to_numpy()),
    }
    instance = get_instance(instance_type)
    if instance.baseline_frac is not None:
        baseline_vcpu = instance.baseline_frac * instance.vcpu
        record["baseline_vcpu_per_instance"] = baseline_vcpu
        record["above_baseline_frac"] = float(np.mean(per_instance > baseline_vcpu))
    return record


def _finite(value: Any) -> Any:
    """The record with NaN and infinities turned into None (JSON null)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def inspect_text(record: dict[str, Any]) -> str:
    """The summary as aligned lines for a terminal."""
    values = record["values"]
    lines = [
        f"file       {record['file']}",
        f"metric     {record['metric']} ({record['unit']}, statistic "
        f"{record['statistic']})",
        f"span       {record['first']} -> {record['last']} "
        f"({record['span_hours'] / 24:.2f} days)",
        f"step       {record['step_s']:g} s: {record['steps']} steps from "
        f"{record['rows_read']} rows read",
        f"repairs    {len(record['repairs'])} rule(s) applied; rows or steps each "
        "touched:"
        if record["repairs"]
        else "repairs    none needed",
    ]
    lines += [
        f"  - {r['rule']} ({r['count']}): {r['detail']}" for r in record["repairs"]
    ]
    per_step = " per step" if is_summed(record["metric"], record["statistic"]) else ""
    lines.append(f"values     {_quantile_text(values)} [{record['unit']}{per_step}]")
    lines += _demand_lines(record["demand"])
    lines += [f"warning    {message}" for message in record["warnings"]]
    return "\n".join(lines) + "\n"


def _quantile_text(quantiles: dict[str, float]) -> str:
    """``mean .. min .. median .. p95 .. max`` in four significant digits."""
    return "  ".join(f"{name} {value:.4g}" for name, value in quantiles.items())


def _demand_lines(demand: dict[str, Any]) -> list[str]:
    """The demand part of the text summary."""
    lines = []
    for key, value in demand.items():
        if isinstance(value, dict):
            lines.append(f"demand     {key}: {_quantile_text(value)}")
        elif isinstance(value, float):
            lines.append(f"demand     {key}: {value:,.6g}")
        else:
            lines.append(f"demand     {key}: {value}")
    return lines
