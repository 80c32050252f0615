"""``capacity recommend``: the cheapest fleet for a workload, from YAML parameters."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from capacity.alarms import fleet_alarms
from capacity.catalog import get_instance, load_prices
from capacity.errors import ParameterError
from capacity.params import SizingParams, load_params_yaml, sizing_workload
from capacity.recommend import Constraints, Recommendation, candidates, recommend
from capacity.screening import surge_workloads
from capacity.workload import Workload

NAME = "recommend"
TABLE_COLUMNS = [
    "instance_type",
    "count",
    "mode",
    "monthly_cost_usd",
    "surplus_cost_usd",
    "peak_utilisation_frac",
    "p99_at_peak_ms",
    "min_balance_credits",
    "binding_constraint",
]


def add_parser(subparsers: Any) -> None:
    """Register the ``recommend`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="cheapest type, count and credit mode that meet the constraints",
        description=(
            "Search the catalog (families x sizes x counts x credit modes) for the "
            "cheapest fleet that keeps p99 under the SLO, keeps headroom at the "
            "peak, keeps standard-mode credits above a floor, survives losing a "
            "zone and holds every surge. Parameters come from a YAML file with the "
            "names of the sizing notebook's parameters cell."
        ),
    )
    parser.add_argument(
        "-f",
        "--file",
        required=True,
        metavar="PARAMS_YAML",
        help="YAML parameter file (see capacity.params.SizingParams)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Read the parameters, recommend, and write the result to ``out``."""
    params = read_params(args.file)
    workload = sizing_workload(params)

    result = recommend_with_progress(workload, params)
    alarm_record = _alarm_record(result, workload, params)

    if args.json:
        record = recommendation_record(result)
        record["alarm"] = alarm_record
        out.write(json.dumps(_json_safe(record), indent=2) + "\n")
    elif result.best is None:
        out.write(infeasible_line(result) + "\n")
    else:
        out.write(recommendation_text(result, alarm_record))
    return 0 if result.best is not None else 1


# The parameter that loosens each rejection reason of capacity.screening.
RELAX = {
    "p99_slo": "raise p99_slo_ms or lower slo_share_frac",
    "headroom": "lower headroom_frac",
    "zone_loss": "lower zones or raise max_count",
    "credit_floor": "lower min_balance_frac or allow modes: [unlimited]",
    "surge": "shorten or soften the surges",
    "max_count": "raise max_count",
}


def infeasible_line(result: Recommendation) -> str:
    """One line: nothing is feasible, and the constraint that rejected the most."""
    reasons = (
        result.rejected["reason"].value_counts() if not result.rejected.empty else None
    )
    if reasons is None or reasons.empty:
        return (
            "no candidate meets every constraint: no instance type was searched; "
            "widen families, sizes or min_memory_gib"
        )
    reason, count = str(reasons.index[0]), int(reasons.iloc[0])
    fix = RELAX.get(reason, "relax that constraint")
    return (
        f"no candidate meets every constraint: {reason} rejected {count} of "
        f"{len(result.rejected)} candidates; {fix} (--json lists every rejection)"
    )


def read_params(path: str) -> SizingParams:
    """Parameters from a YAML file, strictly checked.

    Raises
    ------
    ParameterError
        For a missing file or any parameter that breaks its rule.
    """
    file = Path(path)
    if file.is_dir():
        raise ParameterError(
            f"-f {path}: is a directory; pass the YAML parameter file in it"
        )
    if not file.is_file():
        raise ParameterError(f"-f {path}: no such parameter file; check the path")
    try:
        return SizingParams.from_mapping(load_params_yaml(file.read_text()))
    except ParameterError as error:
        raise ParameterError(f"-f {path}: {error}") from None


def recommend_with_progress(
    workload: Workload, params: SizingParams, stream: TextIO | None = None
) -> Recommendation:
    """Run the recommender, with a progress bar on ``stream`` if it is a terminal."""
    stream = stream or sys.stderr
    candidate_list = candidates(
        params.families,
        params.sizes,
        params.modes,
        min_memory_gib=params.min_memory_gib,
    )
    prices = None if params.price_table is None else load_prices(params.price_table)
    committed = params.committed_price_table
    committed_prices = None if committed is None else load_prices(committed)
    constraints = Constraints(
        p99_slo_ms=params.p99_slo_ms,
        slo_share_frac=params.slo_share_frac,
        headroom_frac=params.headroom_frac,
        min_balance_frac=params.min_balance_frac,
        zones=params.zones,
        max_count=params.max_count,
    )

    bar = None
    if stream.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(candidate_list), file=stream, unit="candidate")
    try:
        return recommend(
            workload,
            constraints,
            candidate_list=candidate_list,
            surges=params.surges,
            initial_credits=params.initial_credits,
            prices=prices,
            committed_prices=committed_prices,
            discount_pct=params.discount_pct,
            os=params.os,
            horizon_hours=params.horizon_hours,
            progress=None if bar is None else (lambda _: bar.update(1)),
        )
    finally:
        if bar is not None:
            bar.close()


def recommendation_record(result: Recommendation) -> dict[str, Any]:
    """The JSON record: the winner, the ranked options and the rejections."""
    return {
        "recommendation": result.best,
        "options": result.options.to_dict(orient="records"),
        "rejected": result.rejected.to_dict(orient="records"),
        "initial_credits": result.initial_credits,
        "constraints": dataclasses.asdict(result.constraints),
    }


def recommendation_text(result: Recommendation, alarm: dict[str, Any] | None) -> str:
    """The ranked table, the rejections and, for a burstable winner, the alarm."""
    lines = []
    best = result.best
    if best is None:
        lines.append(infeasible_line(result))
    else:
        lines.append(
            f"recommended: {best['count']} x {best['instance_type']} "
            f"({best['mode']}), ${best['monthly_cost_usd']:,.2f} a month"
        )
    lines += ["", "options (cheapest first):", _table(result.options[TABLE_COLUMNS])]

    if not result.rejected.empty:
        rejected = result.rejected[["instance_type", "mode", "reason", "detail"]]
        lines += ["", "rejected:", _table(rejected)]
    if alarm is not None and alarm["worst_burn_credits_per_h"] <= 0:
        lines += [
            "",
            f"alarm: the credit balance never falls at this load (worst burn "
            f"{alarm['worst_burn_credits_per_h']:.1f} credits/h); no threshold needed",
            f"advice: {alarm['advice']}: {alarm['reason']}",
        ]
    elif alarm is not None:
        lines += [
            "",
            f"alarm: CPUCreditBalance < {alarm['threshold_credits']:.1f} credits "
            f"(Minimum over the group) warns {alarm['achieved_warning_hours']:.1f} h "
            f"ahead at the worst burn of {alarm['worst_burn_credits_per_h']:.1f} "
            f"credits/h",
            f"advice: {alarm['advice']}: {alarm['reason']}",
        ]
    return "\n".join(lines) + "\n"


def _alarm_record(
    result: Recommendation, workload: Workload, params: SizingParams
) -> dict[str, Any] | None:
    """Alarm (worst burn over base and surges) and advice; None for a fixed winner."""
    best = result.best
    if best is None or not get_instance(str(best["instance_type"])).burstable:
        return None

    scenarios = [workload, *surge_workloads(workload, params.surges)]
    alarms = [
        fleet_alarms(
            scenario,
            str(best["instance_type"]),
            int(str(best["count"])),
            warning_hours=params.warning_hours,
            os=params.os,
        )
        for scenario in scenarios
    ]
    alarm = max((pair[0] for pair in alarms), key=lambda a: a.threshold_credits)
    advice = alarms[0][1]
    record = dataclasses.asdict(alarm) | dataclasses.asdict(advice)
    record["achievable"] = alarm.achievable
    return record


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "  (none)"
    return frame.to_string(index=False, float_format=lambda value: f"{value:,.3f}")


def _json_safe(value: Any) -> Any:
    """NaN and inf as null, numpy scalars as Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
