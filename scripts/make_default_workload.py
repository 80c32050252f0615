"""Generate the bundled default workload and its manifest entry.

Writes ``default_workload.csv`` and ``workloads_MANIFEST.json`` into ``data/`` (or the
folder given with ``--out-dir``). Running it again reproduces the CSV byte for byte:

    .venv/bin/python scripts/make_default_workload.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from capacity.catalog import get_instance
from capacity.workload import Workload, daily_profile

CSV_NAME = "default_workload.csv"
MANIFEST_NAME = "workloads_MANIFEST.json"

PARAMETERS = {
    "requests_per_day": 100_000_000.0,
    "peak_to_mean": 2.0,
    "days": 14,
    "start": "2026-03-30T00:00:00Z",
    "step_s": 60.0,
    "peak_hour_utc": 15.0,
    "weekly_dip_frac": 0.1,
    "growth_frac_per_day": 0.0,
    "noise_frac": 0.02,
    "seed": 20260406,
    "cpu_per_request_ms": 8.0,
    "background_vcpu": 0.0,
}

FLEET_TYPE = "t3.large"
FLEET_COUNT = 16


def workload_csv_text(w: Workload) -> str:
    """The CSV text: fixed formats, so the bytes depend on the values only."""
    stamps = w.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = ["timestamp,requests_per_s,cpu_per_request_s,background_vcpu"]
    for stamp, rate, cpu_s, background in zip(
        stamps, w.requests_per_s, w.cpu_per_request_s, w.background_vcpu, strict=True
    ):
        lines.append(f"{stamp},{rate:.3f},{cpu_s:.6f},{background:.3f}")
    return "\n".join(lines) + "\n"


def fleet_figures(w: Workload) -> dict[str, float | int | str]:
    """Where the default fleet sits against its baseline before any release."""
    instance = get_instance(FLEET_TYPE)
    baseline_vcpu = (instance.baseline_frac or 0.0) * instance.vcpu
    busy_vcpu = w.busy_vcpu_per_instance(FLEET_COUNT)
    return {
        "instance_type": FLEET_TYPE,
        "count": FLEET_COUNT,
        "baseline_vcpu_per_instance": round(baseline_vcpu, 6),
        "mean_busy_vcpu_per_instance": round(float(busy_vcpu.mean()), 4),
        "peak_busy_vcpu_per_instance": round(float(busy_vcpu.max()), 4),
        "mean_busy_over_baseline_frac": round(
            float(busy_vcpu.mean()) / baseline_vcpu, 4
        ),
    }


def manifest_entry(w: Workload, data: bytes) -> dict[str, object]:
    """Generator, seed, parameters, resulting figures and hash of the CSV."""
    rates = w.requests_per_s
    return {
        "description": (
            "Synthetic API traffic shaped like the outage in INCIDENT.md (about 100M "
            "requests/day, daily peak near 2x mean, weekends 10% lower), 14 days at "
            "60 s, before the release: 8 ms of CPU per request. Columns: timestamp "
            "(UTC), requests_per_s [1/s], cpu_per_request_s [vCPU-s], "
            "background_vcpu [vCPU per instance]."
        ),
        "generator": "scripts/make_default_workload.py",
        "function": "capacity.workload.daily_profile",
        "parameters": PARAMETERS,
        "rows": len(w.index),
        "requests_per_day_mean": round(float(rates.mean()) * 86_400.0),
        "peak_to_mean_observed": round(float(rates.max() / rates.mean()), 4),
        "fleet_near_baseline": fleet_figures(w),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def main() -> None:
    """Write the CSV and the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(__file__).resolve().parent.parent / "data"
    parser.add_argument("--out-dir", type=Path, default=default_dir)
    out_dir: Path = parser.parse_args().out_dir

    w = daily_profile(**PARAMETERS, name="default")  # type: ignore[arg-type]
    data = workload_csv_text(w).encode("ascii")

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CSV_NAME).write_bytes(data)
    manifest = {"files": {CSV_NAME: manifest_entry(w, data)}}
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    (out_dir / MANIFEST_NAME).write_text(text, encoding="ascii")


if __name__ == "__main__":
    main()
