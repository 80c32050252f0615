"""Tests of ``capacity catalog`` and ``capacity credits`` on the command line.

Expected values: AWS-CREDITS.md tables 1.1/1.2 and example E4 (t3.nano standard,
96 h), and the unlimited rules worked by hand in the comments.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from capacity.cli import COMMANDS, OneLineParser
from capacity.errors import CapacityError

E4_PROFILE = "24h@0,12h@2.5,24h@7,12h@2.5,2h@60,14h@5,24h@0"
E4_END_BALANCES = [144, 144, 86.4, 122.4, 0, 0, 144]
MISSING = [
    name
    for name in COMMANDS
    if importlib.util.find_spec(f"capacity.commands.{name}") is None
]


def own_parser() -> argparse.ArgumentParser:
    """A parser with only this suite's two commands, while others are missing."""
    parser = OneLineParser(prog="capacity")
    subparsers = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    for name in ("catalog", "credits"):
        importlib.import_module(f"capacity.commands.{name}").add_parser(subparsers)
    return parser


def invoke(argv: list[str]) -> tuple[int, str]:
    """Run the command line in-process; return the exit status and the output."""
    out = io.StringIO()
    if not MISSING:
        from capacity.cli import main

        return main(argv, out=out), out.getvalue()

    args = own_parser().parse_args(argv)
    try:
        status = args.run(args, out)
    except CapacityError as error:
        print(f"capacity {args.command}: error: {error}", file=sys.stderr)
        return 2, out.getvalue()
    return status, out.getvalue()


def invoke_json(argv: list[str]) -> object:
    status, output = invoke([*argv, "--json"])
    assert status == 0
    return json.loads(output)


# --- catalog --------------------------------------------------------------------------


def test_catalog_json_records() -> None:
    records = invoke_json(["catalog"])
    assert isinstance(records, list) and len(records) == 58
    by_name = {record["instance_type"]: record for record in records}
    assert set(by_name["t3.large"]) == {
        "instance_type",
        "family",
        "vcpu",
        "memory_gib",
        "baseline_pct",
        "credits_per_h",
        "max_credits",
        "launch_credits",
        "price_usd_per_h",
        "region",
        "os",
        "price_source",
    }
    # Table 1.1: t3.large 2 vCPU, 8 GiB, 30 %, 36/h, cap 864, $0.0832.
    large = by_name["t3.large"]
    assert (large["vcpu"], large["memory_gib"], large["baseline_pct"]) == (2, 8, 30)
    assert (large["credits_per_h"], large["max_credits"]) == (36, 864)
    assert large["price_usd_per_h"] == 0.0832
    assert (large["region"], large["os"]) == ("us-east-1", "linux")
    # Table 1.1: t2.xlarge 22.5 % per vCPU and 120 launch credits.
    assert by_name["t2.xlarge"]["baseline_pct"] == 22.5
    assert by_name["t2.xlarge"]["launch_credits"] == 120
    # Table 1.2: c5.large is fixed: no credit fields; $0.085.
    fixed = by_name["c5.large"]
    assert fixed["baseline_pct"] is None and fixed["max_credits"] is None
    assert fixed["price_usd_per_h"] == 0.085


def test_catalog_family_filter() -> None:
    records = invoke_json(["catalog", "--family", "t4g", "--family", "m7g"])
    assert isinstance(records, list)
    assert {r["family"] for r in records} == {"t4g", "m7g"}
    assert len(records) == 7 + 5


def test_catalog_table_names_price_provenance() -> None:
    status, output = invoke(["catalog", "--family", "t3"])
    assert status == 0
    lines = output.splitlines()
    assert lines[0].split() == [
        "type",
        "vCPU",
        "GiB",
        "baseline",
        "%",
        "credits/h",
        "max",
        "launch",
        "$/h",
    ]
    assert lines[1].split() == ["t3.nano", "2", "0.5", "5", "6", "144", "0", "0.0052"]
    assert "us-east-1, linux" in lines[-1] and "retrieved 2026-02-23" in lines[-1]


def test_catalog_with_user_prices(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        "instance_type,price_usd_per_h,region,os,source,retrieved\n"
        "t3.nano,0.0059,eu-west-1,linux,https://example.org/p,2026-03-01\n",
        encoding="utf-8",
    )
    records = invoke_json(["catalog", "--family", "t3", "--prices", str(path)])
    assert isinstance(records, list)
    assert records[0]["price_usd_per_h"] == 0.0059
    assert records[0]["region"] == "eu-west-1"
    assert records[0]["price_source"] == "https://example.org/p"
    assert records[1]["price_usd_per_h"] is None


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["catalog", "--family", "t5"], "unknown instance family 't5'"),
        (
            ["catalog", "--prices", "missing.csv"],
            "price table file 'missing.csv' not found",
        ),
    ],
)
def test_catalog_bad_arguments_exit_2(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = invoke(argv)
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and match in error


# --- credits --------------------------------------------------------------------------


def test_credits_e4_prints_aws_end_balances() -> None:
    report = invoke_json(
        ["credits", "t3.nano", "--profile", E4_PROFILE, "--mode", "standard"]
    )
    assert isinstance(report, dict)
    balances = [phase["end_balance"] for phase in report["phases"]]
    assert balances == pytest.approx(E4_END_BALANCES, abs=1e-9)
    assert [p["hours"] for p in report["phases"]] == [24, 12, 24, 12, 2, 14, 24]
    # P5 runs dry after 122.4 / 66 h (net drain 66/h), 72 h into the profile.
    depletion_hours = 122.4 / 66
    assert report["hours_to_exhaustion"] == pytest.approx(72 + depletion_hours)
    assert report["throttled_hours"] == pytest.approx(2 - depletion_hours)
    assert report["phases"][4]["throttled_hours"] == pytest.approx(2 - depletion_hours)
    # 112 h x 6/h earned; spent = earned - 36 discarded in P2 - 144 kept = 492.
    assert report["earned_credits"] == pytest.approx(672)
    assert report["spent_credits"] == pytest.approx(492)
    assert report["surplus_charged_credits"] == 0
    assert (report["instance_type"], report["mode"], report["os"]) == (
        "t3.nano",
        "standard",
        "linux",
    )


def test_credits_e4_text() -> None:
    status, output = invoke(
        ["credits", "t3.nano", "--profile", E4_PROFILE, "--mode", "standard"]
    )
    assert status == 0
    phase_rows = output.splitlines()[2:9]
    assert [row.split()[3] for row in phase_rows] == [
        "144",
        "144",
        "86.4",
        "122.4",
        "0",
        "0",
        "144",
    ]
    assert "hours to exhaustion      73.85" in output


def test_credits_never_exhausted_is_null() -> None:
    report = invoke_json(["credits", "t3.nano", "--profile", "24h@0"])
    assert isinstance(report, dict)
    assert report["hours_to_exhaustion"] is None
    assert report["mode"] == "unlimited"


@pytest.mark.parametrize("phase", ["90m@30", "1.5h@30", "5400s@30"])
def test_credits_duration_units(phase: str) -> None:
    # t3.nano unlimited at 30 % of 2 vCPU = 0.6 vCPU: net 0.1 - 0.6 = -0.5 per
    # minute for 90 min = 45 surplus credits.
    report = invoke_json(["credits", "t3.nano", "--profile", phase])
    assert isinstance(report, dict)
    assert report["phases"][0]["hours"] == 1.5
    assert report["end_surplus_balance"] == pytest.approx(45)


def test_credits_unlimited_charge_at_stop() -> None:
    # 2 h at 100 %: 1.9 x 120 = 228 surplus: 84 charged beyond the 144 cap, then
    # 144 at stop; 228 x $0.05 / 60 = $0.19.
    report = invoke_json(["credits", "t3.nano", "--profile", "2h@100", "--stop-at-end"])
    assert isinstance(report, dict)
    assert report["surplus_charged_credits"] == pytest.approx(228)
    assert report["surplus_charge_usd"] == pytest.approx(0.19)
    assert report["end_surplus_balance"] == 0


def test_credits_windows_rate() -> None:
    # 1 h at 100 % on a t3.nano: 114 surplus charged at stop, x $0.096 / 60.
    report = invoke_json(
        [
            "credits",
            "t3.nano",
            "--profile",
            "1h@100",
            "--os",
            "windows",
            "--stop-at-end",
        ]
    )
    assert isinstance(report, dict)
    assert report["surplus_charge_usd"] == pytest.approx(114 * 0.096 / 60)


def test_credits_t2_launch_credits_in_balance() -> None:
    # E2: t2.micro standard idle 24 h: 30 launch + 144 earned = 174.
    report = invoke_json(["credits", "t2.micro", "--profile", "24h@0"])
    assert isinstance(report, dict)
    assert report["end_balance"] == pytest.approx(174)
    report = invoke_json(
        [
            "credits",
            "t2.micro",
            "--profile",
            "24h@0",
            "--launch-credits",
            "0",
            "--start-balance",
            "10",
        ]
    )
    assert isinstance(report, dict)
    assert report["end_balance"] == pytest.approx(144)


def test_credits_phases_carry_surplus_and_pay_back() -> None:
    # 1 h at 100 % (114 surplus), then 10 h idle pay back 60: 54 left.
    report = invoke_json(["credits", "t3.nano", "--profile", "1h@100,10h@0"])
    assert isinstance(report, dict)
    assert [p["end_surplus_balance"] for p in report["phases"]] == pytest.approx(
        [114, 54]
    )


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["t3.nano", "--profile", "24x@0"],
            "--profile item '24x@0' is not DURATION@CPU_PCT",
        ),
        (["t3.nano", "--profile", "24h"], "--profile item '24h' is not"),
        (["t3.nano", "--profile", "0h@5"], "'0h@5' has a zero duration"),
        (["t3.nano", "--profile", "2h@120"], "CPU 120 % is outside 0..100"),
        (["t3.nano", "--profile", "2h@-1"], "CPU -1 % is outside 0..100"),
        (
            ["t3.nanoo", "--profile", "2h@1"],
            "unknown instance type 't3.nanoo'; did you mean 't3.nano'",
        ),
        (
            ["c5.large", "--profile", "2h@1"],
            "c5.large is a fixed-performance type and has no CPU credits",
        ),
        (
            ["t3.nano", "--profile", "2h@1", "--start-balance", "-5"],
            "--start-balance -5 is outside 0..144",
        ),
        (
            ["t3.nano", "--profile", "2h@1", "--start-balance", "145"],
            "--start-balance 145 is outside 0..144",
        ),
        (
            ["t3.nano", "--profile", "2h@1", "--launch-credits", "30"],
            "--launch-credits "
            "applies only to T2 in standard mode, not t3.nano in unlimited mode",
        ),
        (
            ["t2.micro", "--profile", "2h@1", "--launch-credits", "-1"],
            "--launch-credits -1 is negative",
        ),
        (
            ["t2.micro", "--profile", "2h@1", "--launch-credits", "nan"],
            "--launch-credits nan must be a finite number",
        ),
        (
            ["t4g.nano", "--profile", "2h@1", "--os", "windows"],
            "no windows surplus-credit rate for t4g",
        ),
    ],
)
def test_credits_bad_arguments_exit_2(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = invoke(["credits", *argv])
    error = capsys.readouterr().err
    assert status == 2 and output == ""
    assert error.startswith("capacity credits: error: ")
    assert error.count("\n") == 1 and match in error


def test_credits_missing_profile_is_an_argparse_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        invoke(["credits", "t3.nano"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--profile" in error


@pytest.mark.skipif(bool(MISSING), reason=f"command modules not yet present: {MISSING}")
def test_installed_console_script_runs_e4() -> None:
    script = Path(sys.executable).parent / "capacity"
    completed = subprocess.run(
        [
            str(script),
            "credits",
            "t3.nano",
            "--profile",
            E4_PROFILE,
            "--mode",
            "standard",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert [p["end_balance"] for p in report["phases"]] == pytest.approx(
        E4_END_BALANCES, abs=1e-9
    )


@pytest.mark.skipif(bool(MISSING), reason=f"command modules not yet present: {MISSING}")
def test_installed_console_script_refuses_fixed_type() -> None:
    script = Path(sys.executable).parent / "capacity"
    completed = subprocess.run(
        [str(script), "credits", "m5.large", "--profile", "1h@50"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == (
        "capacity credits: error: m5.large is a fixed-performance type and has no "
        "CPU credits; choose a burstable type (t2, t3, t3a or t4g)\n"
    )


def test_catalog_module_runs_through_python_m() -> None:
    # The command modules alone, in a fresh interpreter: import cost and output.
    code = (
        "import argparse, io; from capacity.commands import catalog; "
        "p = argparse.ArgumentParser(); s = p.add_subparsers(); "
        "catalog.add_parser(s); a = p.parse_args(['catalog', '--family', 'c6a']); "
        "o = io.StringIO(); a.run(a, o); print(o.getvalue(), end='')"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert completed.stdout.splitlines()[1].split()[0] == "c6a.large"
    assert completed.stdout.splitlines()[1].split()[-1] == "0.0765"
