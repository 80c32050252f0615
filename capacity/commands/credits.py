"""``capacity credits``: replay CPU phases through one instance's credit ledger."""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from capacity.catalog import InstanceType, credit_rules
from capacity.errors import ParameterError

if TYPE_CHECKING:  # the ledger imports numba: load it only when a command runs
    from capacity.credits import LedgerResult, LedgerSummary

NAME = "credits"
UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}
PHASE = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d*)?|\.\d+)(?P<unit>[hms])\s*@\s*"
    r"(?P<cpu>[-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*$"
)


@dataclass(frozen=True)
class Phase:
    """One phase of a profile: a duration at a constant instance CPU."""

    duration_s: float
    """Duration [s]."""
    cpu_pct: float
    """Instance CPU utilisation, % of all vCPUs as CloudWatch shows it [0..100]."""


def add_parser(subparsers: Any) -> None:
    """Register the ``credits`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="replay CPU phases through a burstable instance's credit ledger",
        description=(
            "Replay phases of constant CPU through the CPU-credit ledger of one "
            "burstable instance and print, per phase and in total, the credit "
            "balance (CPUCreditBalance: earned plus launch credits), the surplus "
            "balance, surplus credits charged and hours held to baseline."
        ),
    )
    parser.add_argument("instance_type", metavar="TYPE", help="e.g. t3.nano")
    parser.add_argument(
        "--profile",
        required=True,
        help=(
            "comma-separated phases DURATION@CPU_PCT, DURATION in h, m or s and "
            "CPU as %% of all vCPUs, e.g. 24h@0,12h@2.5,90m@60"
        ),
    )
    parser.add_argument(
        "--mode",
        choices=("standard", "unlimited"),
        help="credit mode (default: AWS's, standard for T2, unlimited otherwise)",
    )
    parser.add_argument(
        "--start-balance",
        type=float,
        default=0.0,
        metavar="N",
        help="earned credits at the start (default 0)",
    )
    parser.add_argument(
        "--launch-credits",
        type=float,
        metavar="N",
        help="T2 standard-mode launch credits at the start (default: AWS's)",
    )
    parser.add_argument(
        "--os",
        default="linux",
        choices=("linux", "windows"),
        help="operating system: sets the surplus-credit rate (default linux)",
    )
    parser.add_argument(
        "--stop-at-end",
        action="store_true",
        help="stop the instance after the last phase: outstanding surplus is charged",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Replay the profile and write the per-phase and total results to ``out``."""
    rules = credit_rules(args.instance_type)
    phases = parse_profile(args.profile)
    _check_balances(args, rules)

    report = replay(phases, rules, args)

    if args.json:
        out.write(json.dumps(_json_safe(report), indent=2) + "\n")
    else:
        out.write(credits_text(report))
    return 0


def parse_profile(text: str) -> list[Phase]:
    """Phases from ``"24h@0,90m@30,..."``.

    Raises
    ------
    ParameterError
        For an item not of the form DURATION@CPU_PCT, a zero duration or a CPU
        outside 0..100.

    Examples
    --------
    >>> parse_profile("90m@30")
    [Phase(duration_s=5400.0, cpu_pct=30.0)]
    """
    phases = []
    for item in text.split(","):
        match = PHASE.match(item)
        if match is None:
            raise ParameterError(
                f"--profile item {item.strip()!r} is not DURATION@CPU_PCT; write "
                f"phases like 24h@0,90m@30,45s@100 (duration in h, m or s)"
            )
        duration_s = float(match["amount"]) * UNIT_S[match["unit"]]
        cpu_pct = float(match["cpu"])
        if duration_s <= 0:
            raise ParameterError(
                f"--profile item {item.strip()!r} has a zero duration; give each "
                f"phase a positive duration"
            )
        if not 0 <= cpu_pct <= 100:
            raise ParameterError(
                f"--profile item {item.strip()!r}: CPU {cpu_pct:g} % is outside "
                f"0..100; give CPU as % of all vCPUs, as CloudWatch shows it"
            )
        phases.append(Phase(duration_s=duration_s, cpu_pct=cpu_pct))
    return phases


def replay(
    phases: list[Phase], rules: InstanceType, args: argparse.Namespace
) -> dict[str, Any]:
    """Run the ledger phase by phase, each phase one exact step, carrying the state."""
    from capacity.credits import run_ledger

    state = {
        "start_credits": args.start_balance,
        "launch_credits": args.launch_credits,
        "start_surplus_credits": 0.0,
    }
    results: list[LedgerResult] = []
    for index, phase in enumerate(phases):
        result = run_ledger(
            [phase.cpu_pct / 100 * rules.vcpu],
            instance=rules,
            step_s=phase.duration_s,
            mode=args.mode,
            os=args.os,
            stop_at_end=args.stop_at_end and index == len(phases) - 1,
            **state,
        ).squeeze()
        state = {
            "start_credits": float(result.summary.end_balance_credits),
            "launch_credits": float(result.summary.end_launch_credits),
            "start_surplus_credits": float(result.summary.end_surplus_credits),
        }
        results.append(result)

    return credits_report(phases, results)


def credits_report(phases: list[Phase], results: list[LedgerResult]) -> dict[str, Any]:
    """The per-phase rows and the totals of a chain of one-phase ledger results."""
    summaries = [result.summary for result in results]
    rows = [
        _phase_row(phase, summary)
        for phase, summary in zip(phases, summaries, strict=True)
    ]

    start_hours = [0.0]
    for phase in phases[:-1]:
        start_hours.append(start_hours[-1] + phase.duration_s / 3600)
    exhaustions = [
        start + float(summary.hours_to_exhaustion)
        for start, summary in zip(start_hours, summaries, strict=True)
        if not math.isnan(float(summary.hours_to_exhaustion))
    ]

    def total(name: str) -> float:
        return sum(float(getattr(summary, name)) for summary in summaries)

    return {
        "instance_type": results[0].instance_type,
        "mode": results[0].mode,
        "os": results[0].os,
        "phases": rows,
        "end_balance": rows[-1]["end_balance"],
        "end_surplus_balance": rows[-1]["end_surplus_balance"],
        "surplus_charged_credits": total("surplus_charged_credits"),
        "surplus_charge_usd": total("surplus_charge_usd"),
        "hours_to_exhaustion": exhaustions[0] if exhaustions else math.nan,
        "throttled_hours": total("throttled_hours"),
        "earned_credits": total("earned_credits"),
        "spent_credits": total("spent_credits"),
    }


def _phase_row(phase: Phase, summary: LedgerSummary) -> dict[str, float]:
    """One phase's row; the balance is CPUCreditBalance (earned plus launch)."""
    return {
        "hours": phase.duration_s / 3600,
        "cpu_pct": phase.cpu_pct,
        "end_balance": float(summary.end_balance_credits + summary.end_launch_credits),
        "end_surplus_balance": float(summary.end_surplus_credits),
        "surplus_charged_credits": float(summary.surplus_charged_credits),
        "throttled_hours": float(summary.throttled_hours),
    }


def credits_text(report: dict[str, Any]) -> str:
    """Per-phase table and totals, aligned, numbers rounded for reading."""
    header = ("phase", "hours", "CPU %", "balance", "surplus", "charged", "throttled h")
    rows = [header] + [
        (
            str(number),
            f"{row['hours']:g}",
            f"{row['cpu_pct']:g}",
            f"{row['end_balance']:.4g}",
            f"{row['end_surplus_balance']:.4g}",
            f"{row['surplus_charged_credits']:.4g}",
            f"{row['throttled_hours']:.4g}",
        )
        for number, row in enumerate(report["phases"], start=1)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{report['instance_type']}, {report['mode']} mode, {report['os']}"]
    lines += [
        "  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))
        for r in rows
    ]

    exhaustion = report["hours_to_exhaustion"]
    lines += [
        f"end balance              {report['end_balance']:.6g} credits",
        f"end surplus balance      {report['end_surplus_balance']:.6g} credits",
        f"surplus credits charged  {report['surplus_charged_credits']:.6g} "
        f"(${report['surplus_charge_usd']:.4f})",
        "hours to exhaustion      "
        + ("never" if math.isnan(exhaustion) else f"{exhaustion:.4g}"),
        f"throttled hours          {report['throttled_hours']:.4g}",
        f"earned / spent credits   {report['earned_credits']:.6g} / "
        f"{report['spent_credits']:.6g}",
    ]
    return "\n".join(lines) + "\n"


def _check_balances(args: argparse.Namespace, rules: InstanceType) -> None:
    """Refuse start balances the instance cannot hold, naming the option."""
    max_credits = float(rules.max_credits or 0)
    if not 0 <= args.start_balance <= max_credits:
        raise ParameterError(
            f"--start-balance {args.start_balance:g} is outside "
            f"0..{max_credits:g}, the earned-credit cap of {rules.name}; give a "
            f"balance in that range"
        )
    if args.launch_credits is None:
        return
    if not math.isfinite(args.launch_credits):
        raise ParameterError(
            f"--launch-credits {args.launch_credits:g} must be a finite number; "
            f"give 0 or more"
        )
    if not args.launch_credits >= 0:
        raise ParameterError(
            f"--launch-credits {args.launch_credits:g} is negative; give 0 or more"
        )
    mode = args.mode or rules.default_mode
    if args.launch_credits > 0 and (rules.family != "t2" or mode != "standard"):
        raise ParameterError(
            f"--launch-credits applies only to T2 in standard mode, not {rules.name} "
            f"in {mode} mode; drop the option"
        )


def _json_safe(value: Any) -> Any:
    """The report with NaN and infinities turned to None (JSON null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value
