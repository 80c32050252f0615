"""Tests for ``capacity inspect`` on real NAB exports and small JSON files."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
from pathlib import Path

import pytest

from capacity.cli import COMMANDS, main
from capacity.commands import inspect
from capacity.errors import CatalogError, IngestError, ParameterError

MISSING = [
    name
    for name in COMMANDS
    if importlib.util.find_spec(f"capacity.commands.{name}") is None
]


def run_inspect(*argv: str) -> str:
    """Parse ``argv`` with the command's own parser and return what it writes."""
    parser = argparse.ArgumentParser()
    inspect.add_parser(parser.add_subparsers())
    args = parser.parse_args(["inspect", *argv])
    out = io.StringIO()
    assert args.run(args, out) == 0
    return out.getvalue()


@pytest.mark.shared
def test_request_count_as_demand(nab_dir: Path) -> None:
    # README: elb_request_count_8c0756 holds requests per 5 min, p50 48, max 656.
    record = json.loads(
        run_inspect(str(nab_dir / "elb_request_count_8c0756.csv"), "--json")
    )
    assert (record["metric"], record["rows_read"], record["steps"]) == (
        "RequestCount",
        4032,
        4040,
    )
    assert record["values"]["median"] == 48.0
    assert record["values"]["max"] == 656.0
    # A count per 300 s over 300 s: max 656 / 300 requests per second.
    assert record["demand"]["requests_per_s"]["max"] == pytest.approx(656 / 300)
    mean_per_step = record["values"]["mean"]
    assert record["demand"]["requests_per_day"] == pytest.approx(mean_per_step * 288)
    assert {r["rule"] for r in record["repairs"]} == {
        "aligned_to_grid",
        "gaps_interpolated",
    }
    assert record["warnings"] == []


@pytest.mark.shared
def test_cpu_with_instance_type(nab_dir: Path) -> None:
    # t3.large: 2 vCPU, baseline 30 % per vCPU = 0.6 vCPU (AWS credit table).
    # README: 825cc2 max 99.12 % -> 1.9824 vCPU per instance, x 4 for the fleet.
    path = str(nab_dir / "ec2_cpu_utilization_825cc2.csv")
    record = json.loads(
        run_inspect(path, "--instance-type", "t3.large", "--count", "4", "--json")
    )
    demand = record["demand"]
    assert demand["baseline_vcpu_per_instance"] == pytest.approx(0.6)
    assert demand["busy_vcpu_per_instance"]["max"] == pytest.approx(1.9824, abs=1e-3)
    assert demand["busy_vcpu_fleet"]["max"] == pytest.approx(4 * 1.9824, abs=4e-3)
    # README: 97.1 % of samples above 30 % (two interpolated steps added here).
    assert demand["above_baseline_frac"] == pytest.approx(0.971, abs=0.001)

    text = run_inspect(path, "--instance-type", "t3.large", "--count", "4")
    assert "busy_vcpu_fleet" in text
    assert "gaps_interpolated (2)" in text


@pytest.mark.shared
def test_dst_file_text_names_the_repair(nab_dir: Path) -> None:
    text = run_inspect(str(nab_dir / "ec2_network_in_5abac7.csv"))
    assert "dst_squashed_rows (12)" in text
    assert "4730 steps from 4730 rows read" in text


@pytest.mark.shared
def test_warnings_are_part_of_the_output(nab_dir: Path) -> None:
    record = json.loads(
        run_inspect(
            str(nab_dir / "grok_asg_anomaly.csv"),
            "--metric",
            "CPUUtilization",
            "--json",
        )
    )
    assert "447 exact zeros" in record["warnings"][0]
    assert "--instance-type" in record["demand"]["note"]


def test_json_pages_and_errors(tmp_path: Path) -> None:
    page = {
        "MetricDataResults": [
            {
                "Id": "r",
                "Label": "RequestCount",
                "Timestamps": ["2026-04-06T00:01:00Z", "2026-04-06T00:00:00Z"],
                "Values": [120.0, 60.0],
                "StatusCode": "Complete",
            }
        ]
    }
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    record = json.loads(run_inspect(str(path), "--json"))
    # 60 and 120 requests per 60 s: 1 and 2 requests per second.
    assert record["demand"]["requests_per_s"]["min"] == 1.0
    assert record["demand"]["requests_per_s"]["max"] == 2.0

    with pytest.raises(ParameterError, match=r"--instance-type and --count go"):
        run_inspect(str(path), "--count", "3")
    with pytest.raises(ParameterError, match=r"--count 0 must be at least 1"):
        run_inspect(str(path), "--instance-type", "t3.large", "--count", "0")
    with pytest.raises(CatalogError, match=r"t3.lage"):
        run_inspect(str(path), "--instance-type", "t3.lage", "--count", "2")
    with pytest.raises(IngestError, match=r"no such file"):
        run_inspect(str(tmp_path / "nope.csv"))
    with pytest.raises(IngestError, match=r"tz='' is not a time zone; pass an IANA"):
        run_inspect(str(path), "--tz", "")


@pytest.mark.skipif(bool(MISSING), reason=f"command modules not yet present: {MISSING}")
def test_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "requestcount.csv"
    path.write_text("timestamp,value\n2026-04-06 00:00:00,60\n2026-04-06 00:05:00,-1\n")
    assert main(["inspect", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("capacity inspect: error: requestcount.csv, line 3:")

    path.write_text("timestamp,value\n2026-04-06 00:00:00,60\n2026-04-06 00:05:00,90\n")
    out = io.StringIO()
    assert main(["inspect", str(path), "--json"], out=out) == 0
    # 60 and 90 requests per 300 s: 0.2 and 0.3 requests per second.
    assert json.loads(out.getvalue())["demand"]["requests_per_s"]["max"] == 0.3


def test_credit_usage_as_busy_vcpu(tmp_path: Path) -> None:
    # One credit is one vCPU busy for one minute (AWS): 3 credits per 5 minutes
    # is 0.6 busy vCPU, 36 credits per hour.
    stamps = [f"2026-04-06 00:{m:02d}:00" for m in range(0, 30, 5)]
    path = tmp_path / "cpucreditusage.csv"
    path.write_text("timestamp,value\n" + "".join(f"{t},3\n" for t in stamps))
    demand = json.loads(run_inspect(str(path), "--json"))["demand"]
    assert demand["busy_vcpu_per_instance"]["mean"] == pytest.approx(0.6)
    assert demand["credits_per_h"]["mean"] == pytest.approx(36.0)


@pytest.mark.shared
def test_share_above_t3_xlarge_baseline(nab_dir: Path) -> None:
    # README: ac20cd is above 40 % (the t3.xlarge baseline) in 19.4 % of samples;
    # its gaps of 15 and 20 min add 2 + 3 interpolated steps to the 4032 rows.
    path = str(nab_dir / "ec2_cpu_utilization_ac20cd.csv")
    record = json.loads(
        run_inspect(path, "--instance-type", "t3.xlarge", "--count", "3", "--json")
    )
    assert record["steps"] == 4032 + 5
    assert record["demand"]["baseline_vcpu_per_instance"] == pytest.approx(1.6)
    assert record["demand"]["above_baseline_frac"] == pytest.approx(0.194, abs=0.002)
    text = run_inspect(path)
    assert "max 99.74 [Percent]" in text
