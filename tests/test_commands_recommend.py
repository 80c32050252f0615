"""The ``capacity recommend`` command: YAML in, table or JSON out, one-line errors."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from capacity.commands import recommend as command
from capacity.errors import CapacityError, ParameterError
from capacity.params import SizingParams, sizing_workload

SMALL = """
families: [t3, c5]
sizes: [large]
requests_per_day: 10000000
cpu_per_request_ms: 10
zones: 1
"""


def run_command(tmp_path: Path, text: str, *extra: str) -> str:
    file = tmp_path / "params.yaml"
    file.write_text(text)
    parser = argparse.ArgumentParser(prog="capacity")
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["recommend", "-f", str(file), *extra])
    out = io.StringIO()

    assert args.run(args, out) == 0
    return out.getvalue()


def test_json_has_the_winner_the_options_and_the_rejections(tmp_path: Path) -> None:
    record = json.loads(run_command(tmp_path, SMALL, "--json"))

    assert set(record) >= {"recommendation", "options", "rejected"}
    best = record["recommendation"]
    assert best == record["options"][0]
    assert {"instance_type", "count", "mode", "monthly_cost_usd"} <= set(best)
    costs = [option["monthly_cost_usd"] for option in record["options"]]
    assert costs == sorted(costs)
    # c5 rows carry no credit balance: NaN becomes null
    fixed = [o for o in record["options"] if o["mode"] == "fixed"]
    assert fixed and all(o["min_balance_credits"] is None for o in fixed)


def test_text_output_names_the_recommendation(tmp_path: Path) -> None:
    text = run_command(tmp_path, SMALL)

    assert text.startswith("recommended: ")
    assert "options (cheapest first):" in text


def test_an_impossible_search_exits_1_naming_the_constraint(tmp_path: Path) -> None:
    # 1e9 requests/day x 10 ms = 115.7 vCPU on average: 2 large instances cannot.
    # Candidates: t3.large standard and unlimited, c5.large fixed = 3.
    file = tmp_path / "params.yaml"
    file.write_text(SMALL.replace("10000000", "1000000000") + "max_count: 2\n")
    parser = argparse.ArgumentParser(prog="capacity")
    command.add_parser(parser.add_subparsers())
    out = io.StringIO()
    args = parser.parse_args(["recommend", "-f", str(file)])

    assert args.run(args, out) == 1
    assert out.getvalue() == (
        "no candidate meets every constraint: max_count rejected 3 of 3 "
        "candidates; raise max_count (--json lists every rejection)\n"
    )

    args = parser.parse_args(["recommend", "-f", str(file), "--json"])
    out = io.StringIO()
    assert args.run(args, out) == 1
    assert json.loads(out.getvalue())["recommendation"] is None


def test_the_cpu_cost_parameter_sets_every_step() -> None:
    params = SizingParams.from_mapping({"cpu_per_request_ms": 12.5})

    workload = sizing_workload(params)

    np.testing.assert_array_equal(workload.cpu_per_request_s, 0.0125)


def test_requests_per_day_rescales_the_default_workload() -> None:
    params = SizingParams.from_mapping({"requests_per_day": 8.64e6})

    workload = sizing_workload(params)

    assert workload.requests_per_s.mean() == pytest.approx(100.0)  # 8.64e6 / 86,400


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("p99_slo: 200\n", r"unknown parameter 'p99_slo'; did you mean 'p99_slo_ms'"),
        ("horizon_hours: 0730\n", r"horizon_hours: YAML 1.1 reads '0730' as the octal"),
        ("families: [t9]\n", r"unknown instance family 't9'"),
    ],
)
def test_bad_parameters_raise_one_capacity_error(
    tmp_path: Path, text: str, pattern: str
) -> None:
    with pytest.raises(CapacityError, match=pattern):
        run_command(tmp_path, text)


def test_a_directory_given_as_the_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"is a directory; pass the YAML"):
        command.read_params(str(tmp_path))


def test_a_missing_file_is_named() -> None:
    with pytest.raises(
        ParameterError, match=r"-f nowhere.yaml: no such parameter file"
    ):
        command.read_params("nowhere.yaml")


def test_the_cli_exits_2_on_a_bad_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from capacity.cli import main

    file = tmp_path / "params.yaml"
    file.write_text("zones: 0730\n")

    status = main(["recommend", "-f", str(file)])

    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1
    assert "zones: YAML 1.1 reads '0730' as the octal number 472" in error


@pytest.mark.shared
def test_a_real_cloudwatch_request_count_export(tmp_path: Path, nab_dir: Path) -> None:
    # NAB's elb_request_count_8c0756: ELB RequestCount per 5 minutes over 14 days;
    # its mean rate is the mean count per sample / 300 s (gaps filled in between).
    export = nab_dir / "elb_request_count_8c0756.csv"
    counts = np.loadtxt(export, delimiter=",", skiprows=1, usecols=1)
    params = SizingParams.from_mapping(
        {"workload": str(export), "metric": "RequestCount", "cpu_per_request_ms": 50}
    )

    workload = sizing_workload(params)
    text = run_command(
        tmp_path,
        f"workload: '{export}'\nmetric: RequestCount\ncpu_per_request_ms: 50\n"
        "families: [t3, c5]\nsizes: [large]\nzones: 1\n",
    )

    assert workload.requests_per_s.mean() == pytest.approx(
        counts.mean() / 300, rel=0.01
    )
    assert text.startswith("recommended: ")
    # about 0.2 req/s x 50 ms = 0.01 vCPU: far under any baseline
    assert "the credit balance never falls" in text


def test_a_committed_price_table_prices_compute(tmp_path: Path) -> None:
    table = tmp_path / "savings_plan.csv"
    table.write_text(
        "instance_type,price_usd_per_h,region,os,source,retrieved\n"
        "t3.large,0.05,us-east-1,linux,three-year savings plan quote,2026-01-05\n"
        "c5.large,0.06,us-east-1,linux,three-year savings plan quote,2026-01-05\n"
    )

    record = json.loads(
        run_command(tmp_path, SMALL + f"committed_price_table: '{table}'\n", "--json")
    )

    price = {"t3.large": 0.05, "c5.large": 0.06}
    for option in record["options"]:
        compute = option["count"] * 730 * price[option["instance_type"]]
        assert option["compute_cost_usd"] == pytest.approx(compute)


def test_the_default_search_skips_hosts_under_4_gib(
    tmp_path: Path, root_dir: Path
) -> None:
    # Memory per type from the bundled catalog (AWS's instance type pages): the
    # default min_memory_gib of 4 drops nano, micro and small types (0.5-2 GiB).
    with (root_dir / "data" / "instance_types.csv").open(newline="") as stream:
        memory_gib = {
            row["instance_type"]: float(row["memory_gib"])
            for row in csv.DictReader(stream)
        }

    record = json.loads(run_command(tmp_path, "zones: 3\n", "--json"))

    searched = {row["instance_type"] for row in record["options"] + record["rejected"]}
    assert min(memory_gib[name] for name in searched) >= 4.0
    assert "t4g.medium" in searched  # 4 GiB: on the limit, still searched
    assert memory_gib[record["recommendation"]["instance_type"]] >= 4.0


@pytest.mark.shared
def test_a_real_cpu_utilisation_export_of_the_current_fleet(
    tmp_path: Path, nab_dir: Path
) -> None:
    # NAB's ec2_cpu_utilization_825cc2 on 2 x c5.xlarge (4 vCPU each): the peak,
    # 99.12 % (README), is 0.9912 x 8 = 7.93 busy vCPUs. Headroom 0.25 needs
    # 7.93 / 0.75 = 10.6 vCPUs: at least 6 c5.large (2 vCPU) or 3 c5.xlarge.
    export = nab_dir / "ec2_cpu_utilization_825cc2.csv"
    text = (
        f"workload: '{export}'\ncurrent_instance_type: c5.xlarge\ncurrent_count: 2\n"
        "families: [c5]\nsizes: [large, xlarge]\nzones: 1\n"
    )

    record = json.loads(run_command(tmp_path, text, "--json"))

    best = record["recommendation"]
    vcpu = {"c5.large": 2, "c5.xlarge": 4}[best["instance_type"]]
    assert best["count"] * vcpu >= 10.6
    assert best["peak_utilisation_frac"] == pytest.approx(
        0.9912 * 8 / (best["count"] * vcpu), rel=1e-3
    )
