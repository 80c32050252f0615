"""``capacity breakeven``: the average CPU at which bursting stops being cheaper."""

from __future__ import annotations

import argparse
import json
import math
import warnings
from typing import Any, TextIO

from capacity.breakeven import Breakeven, breakeven, warn_if_sizes_differ
from capacity.errors import CapacityWarning

NAME = "breakeven"


def add_parser(subparsers: Any) -> None:
    """Register the ``breakeven`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="breakeven average CPU of unlimited bursting against a fixed type",
        description=(
            "Breakeven average CPU of a burstable type in unlimited mode against a "
            "fixed-performance type: below it the burstable type is cheaper, above it "
            "the surplus-credit charge makes the fixed type cheaper."
        ),
    )
    parser.add_argument("burstable", metavar="BURSTABLE", help="e.g. t3.large")
    parser.add_argument("fixed", metavar="FIXED", help="e.g. m5.large")
    parser.add_argument(
        "--burstable-price",
        type=float,
        metavar="USD_PER_H",
        help="hourly price of BURSTABLE instead of the price table's",
    )
    parser.add_argument(
        "--fixed-price",
        type=float,
        metavar="USD_PER_H",
        help="hourly price of FIXED instead of the price table's",
    )
    parser.add_argument(
        "--os",
        default="linux",
        choices=("linux", "windows"),
        help="operating system: sets the surplus-credit rate (default linux)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Compute the breakeven and write it to ``out``; return the exit status."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityWarning)
        result = breakeven(
            args.burstable,
            args.fixed,
            os=args.os,
            burstable_price_usd_per_h=args.burstable_price,
            fixed_price_usd_per_h=args.fixed_price,
        )
        warn_if_sizes_differ(result.burstable, result.fixed)
    messages = [
        str(w.message) for w in caught if issubclass(w.category, CapacityWarning)
    ]

    if args.json:
        record = breakeven_record(result)
        record["warnings"] = messages
        out.write(json.dumps(record, indent=2) + "\n")
    else:
        text = breakeven_text(result)
        out.write(text + "".join(f"warning: {message}\n" for message in messages))
    return 0


def breakeven_record(result: Breakeven) -> dict[str, Any]:
    """The JSON record of a breakeven, non-finite numbers as null."""
    record = {
        "burstable": result.burstable,
        "fixed": result.fixed,
        "breakeven_cpu_pct": result.breakeven_cpu_pct,
        "cost_ratio_at_100_pct": result.cost_ratio_at_100_pct,
        "burstable_always_cheaper": result.burstable_always_cheaper,
        "fixed_always_cheaper": result.fixed_always_cheaper,
        "burstable_price_usd_per_h": result.burstable_price_usd_per_h,
        "fixed_price_usd_per_h": result.fixed_price_usd_per_h,
        "surplus_usd_per_vcpu_h": result.surplus_usd_per_vcpu_h,
        "baseline_pct": result.baseline_pct,
        "vcpu": result.vcpu,
        "price_source": result.price_source,
        "price_retrieved": result.price_retrieved,
    }
    return {key: _finite_or_none(value) for key, value in record.items()}


def breakeven_text(result: Breakeven) -> str:
    """A few aligned lines a planner can read."""
    retrieved = f" ({result.price_retrieved})" if result.price_retrieved else ""
    rows = [
        ("breakeven average CPU", _breakeven_cell(result)),
        ("cost at 100 % CPU", f"{result.cost_ratio_at_100_pct:.3f} x {result.fixed}"),
        (
            f"{result.burstable} price",
            f"${result.burstable_price_usd_per_h:g}/h "
            f"(baseline {result.baseline_pct:g} % of {result.vcpu} vCPU)",
        ),
        (f"{result.fixed} price", f"${result.fixed_price_usd_per_h:g}/h"),
        ("surplus credits", f"${result.surplus_usd_per_vcpu_h:g} per vCPU-hour"),
        ("prices from", f"{result.price_source}{retrieved}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{result.burstable} (unlimited mode) vs {result.fixed}"]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]

    if result.burstable_always_cheaper:
        lines.append(
            f"  the breakeven lies above 100 %: {result.burstable} in unlimited mode "
            f"is cheaper than {result.fixed} at any CPU load"
        )
    elif result.fixed_always_cheaper:
        lines.append(
            f"  {result.fixed} costs no more per hour than {result.burstable}: it is "
            f"never dearer, at any CPU load"
        )
    return "\n".join(lines) + "\n"


def _breakeven_cell(result: Breakeven) -> str:
    if result.fixed_always_cheaper:
        return f"none ({result.fixed} is never dearer)"
    return f"{result.breakeven_cpu_pct:.1f} %"


def _finite_or_none(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
