"""The ``capacity breakeven`` command: text, JSON and one-line errors."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from capacity.commands import breakeven as command
from capacity.errors import CapacityError


def run_command(*argv: str) -> str:
    parser = argparse.ArgumentParser(prog="capacity")
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["breakeven", *argv])
    out = io.StringIO()

    assert args.run(args, out) == 0
    return out.getvalue()


def test_json_keys_and_aws_e9_value() -> None:
    # AWS-CREDITS.md E9: 0.30 + (0.096 - 0.0835) / (2 x 0.05) = 42.5 %
    text = run_command("t3.large", "m5.large", "--burstable-price", "0.0835", "--json")

    record = json.loads(text)

    assert record["breakeven_cpu_pct"] == pytest.approx(42.5, rel=1e-12)
    assert record["cost_ratio_at_100_pct"] == pytest.approx(0.1535 / 0.096)
    assert record["burstable_price_usd_per_h"] == 0.0835
    assert record["fixed_price_usd_per_h"] == 0.096  # from the bundled table
    assert record["surplus_usd_per_vcpu_h"] == 0.05
    assert "price given by the caller" in record["price_source"]


def test_different_sizes_give_one_warning_line() -> None:
    text = run_command("t3.large", "m5.xlarge")
    warnings = [line for line in text.splitlines() if line.startswith("warning:")]

    assert warnings == [
        "warning: t3.large has 2 vCPU but m5.xlarge has 4: the breakeven compares "
        "one instance of each, not equal capacity; compare types with the same "
        "vCPU count"
    ]
    record = json.loads(run_command("t3.large", "m5.large", "--json"))
    assert record["warnings"] == []


def test_a_fixed_type_never_dearer_is_said_so() -> None:
    # c7g.large $0.0725/h is below t3.large $0.0832/h (bundled table).
    record = json.loads(run_command("t3.large", "c7g.large", "--json"))

    assert record["breakeven_cpu_pct"] is None
    assert record["fixed_always_cheaper"] is True
    assert record["burstable_always_cheaper"] is False
    text = run_command("t3.large", "c7g.large")
    assert "breakeven average CPU  none (c7g.large is never dearer)" in text


def test_text_output_names_the_breakeven() -> None:
    text = run_command("t3.medium", "c5.large")

    assert "63.4 %" in text  # AWS-CREDITS.md E9 derived table


def test_breakeven_above_100_pct_is_said_plainly() -> None:
    # 0.05 + (0.68 - 0.0052) / (2 x 0.05) = 679.8 %
    text = run_command("t3.nano", "c5.4xlarge")

    assert "679.8 %" in text
    assert "cheaper than c5.4xlarge at any CPU load" in text


def test_windows_rate_with_given_prices() -> None:
    record = json.loads(
        run_command(
            "t3.large",
            "m5.large",
            "--os",
            "windows",
            "--burstable-price",
            "0.1108",
            "--fixed-price",
            "0.188",
            "--json",
        )
    )

    # 0.30 + (0.188 - 0.1108) / (2 x 0.096) = 0.30 + 0.4020833 = 70.208 %
    assert record["surplus_usd_per_vcpu_h"] == 0.096
    assert record["breakeven_cpu_pct"] == pytest.approx(70.2083333, rel=1e-8)


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["m5.large", "c5.large"], r"burstable='m5.large' is a fixed-performance"),
        (["t3.large", "t3a.large"], r"fixed='t3a.large' is a burstable type"),
        (["t3.lage", "m5.large"], r"unknown instance type 't3.lage'.*t3.large"),
        (["t3.large", "m5.larg"], r"unknown instance type 'm5.larg'.*m5.large"),
        (["t3.large", "m5.large", "--fixed-price", "0"], r"fixed_price_usd_per_h=0"),
        (["t3.large", "m5.large", "--burstable-price", "-0.1"], r"burstable_price"),
    ],
)
def test_bad_input_raises_a_capacity_error(argv: list[str], pattern: str) -> None:
    with pytest.raises(CapacityError, match=pattern):
        run_command(*argv)


def test_the_cli_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from capacity.cli import main

    status = main(["breakeven", "t3.large", "m5.large", "--fixed-price", "-1"])

    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1
    assert "fixed_price_usd_per_h=-1.0 must be a positive" in error
