"""``capacity catalog``: the instance types, their credit rules and prices."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from capacity.catalog import InstanceType, PriceTable, instance_types, load_prices

NAME = "catalog"


def add_parser(subparsers: Any) -> None:
    """Register the ``catalog`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="list instance types with their CPU-credit rules and prices",
        description=(
            "List the catalog's instance types: vCPUs, memory, the per-vCPU baseline, "
            "credits earned per hour, the accrual cap, launch credits and the "
            "on-demand price, with the price table's region, OS and source."
        ),
    )
    parser.add_argument(
        "--family",
        action="append",
        metavar="F",
        help="keep only this family, e.g. t3 (repeat for several)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.add_argument(
        "--prices",
        metavar="CSV",
        help=(
            "price table with columns instance_type, price_usd_per_h, region, os, "
            "source, retrieved (default: the bundled us-east-1 Linux table)"
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Write the catalog, as a table or JSON, to ``out``; return the exit status."""
    types = instance_types(args.family)
    prices = load_prices(args.prices)

    records = [catalog_record(instance, prices) for instance in types]
    if args.json:
        out.write(json.dumps(records, indent=2) + "\n")
    else:
        out.write(catalog_text(records, prices))
    return 0


def catalog_record(instance: InstanceType, prices: PriceTable) -> dict[str, Any]:
    """The JSON record of one instance type; credit fields are null for fixed types."""
    baseline_pct = None
    if instance.baseline_frac is not None:
        baseline_pct = round(instance.baseline_frac * 100, 10)
    return {
        "instance_type": instance.name,
        "family": instance.family,
        "vcpu": instance.vcpu,
        "memory_gib": instance.memory_gib,
        "baseline_pct": baseline_pct,
        "credits_per_h": instance.credits_per_h,
        "max_credits": instance.max_credits,
        "launch_credits": instance.launch_credits,
        "price_usd_per_h": prices.prices_usd_per_h.get(instance.name),
        "region": prices.region,
        "os": prices.os,
        "price_source": prices.source,
    }


def catalog_text(records: list[dict[str, Any]], prices: PriceTable) -> str:
    """An aligned table, with the price table's provenance underneath."""
    header = ("type", "vCPU", "GiB", "baseline %", "credits/h", "max", "launch", "$/h")
    keys = (
        "instance_type",
        "vcpu",
        "memory_gib",
        "baseline_pct",
        "credits_per_h",
        "max_credits",
        "launch_credits",
        "price_usd_per_h",
    )
    rows = [header] + [tuple(_cell(record[key]) for key in keys) for record in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.append(
        f"prices: {prices.region}, {prices.os}, on-demand, from {prices.source} "
        f"(retrieved {prices.retrieved}); '-' = fixed-performance or no price"
    )
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    """One table cell: '-' for missing values, numbers without trailing zeros."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
