"""``capacity credits``: replay CPU phases through one instance's credit ledger."""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from typing import Any, TextIO

from capacity.catalog import InstanceType, credit_rules
from capacity.errors import ParameterError

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
            "CPU as % of all vCPUs, e.g. 24h@0,12h@2.5,90m@60"
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
    from capacity.credits import run_ledger  # the compiled kernel loads on first use

    balance, launch, surplus = args.start_balance, args.launch_credits, 0.0
    elapsed_h = 0.0
    totals = {"earned": 0.0, "spent": 0.0, "charged": 0.0, "usd": 0.0, "throttled": 0.0}
    exhaustion_h = math.nan
    rows = []
    for index, phase in enumerate(phases):
        result = run_ledger(
            [phase.cpu_pct / 100 * rules.vcpu],
            instance=rules,
            step_s=phase.duration_s,
            mode=args.mode,
            os=args.os,
            start_credits=balance,
            launch_credits=launch,
            start_surplus_credits=surplus,
            stop_at_end=args.stop_at_end and index == len(phases) - 1,
        ).squeeze()
        s = result.summary

        balance, launch = float(s.end_balance_credits), float(s.end_launch_credits)
        surplus = float(s.end_surplus_credits)
        if math.isnan(exhaustion_h) and not math.isnan(float(s.hours_to_exhaustion)):
            exhaustion_h = elapsed_h + float(s.hours_to_exhaustion)
        elapsed_h += phase.duration_s / 3600
        for key, field in (
            ("earned", s.earned_credits),
            ("spent", s.spent_credits),
            ("charged", s.surplus_charged_credits),
            ("usd", s.surplus_charge_usd),
            ("throttled", s.throttled_hours),
        ):
            totals[key] += float(field)
        rows.append(
            {
                "hours": phase.duration_s / 3600,
                "cpu_pct": phase.cpu_pct,
                "end_balance": balance + launch,
                "end_surplus_balance": surplus,
                "surplus_charged_credits": float(s.surplus_charged_credits),
                "throttled_hours": float(s.throttled_hours),
            }
        )

    return {
        "instance_type": rules.name,
        "mode": result.mode,
        "os": result.os,
        "phases": rows,
        "end_balance": balance + launch,
        "end_surplus_balance": surplus,
        "surplus_charged_credits": totals["charged"],
        "surplus_charge_usd": totals["usd"],
        "hours_to_exhaustion": exhaustion_h,
        "throttled_hours": totals["throttled"],
        "earned_credits": totals["earned"],
        "spent_credits": totals["spent"],
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
    cap = float(rules.max_credits or 0)
    if not 0 <= args.start_balance <= cap:
        raise ParameterError(
            f"--start-balance {args.start_balance:g} is outside 0..{cap:g}, the "
            f"earned-credit cap of {rules.name}; give a balance in that range"
        )
    if args.launch_credits is None:
        return
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
