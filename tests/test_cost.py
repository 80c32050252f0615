"""Cost, discounts, surplus charges and the burstable-vs-fixed breakeven."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.breakeven import (
    breakeven,
    breakeven_cpu_frac,
    cost_curve,
    unlimited_cost_usd_per_h,
    warn_if_sizes_differ,
)
from capacity.catalog import PriceTable, load_prices
from capacity.cost import (
    cost_breakdown,
    discounted_price_usd_per_h,
    fleet_cost,
    instance_pricing,
    surplus_usd_per_credit,
)
from capacity.errors import CapacityWarning, CatalogError, ParameterError

# AWS-CREDITS.md section 4, E9: AWS's own inputs and the breakevens AWS prints.
AWS_E9 = [
    # baseline, vCPU, T3 price, M5 price, breakeven (AWS-stated)
    (0.30, 2, 0.0835, 0.096, 0.425),  # t3.large: 0.30 + 0.0125 / (2 x 0.05)
    (0.40, 4, 0.167, 0.192, 0.525),  # t3.xlarge: 0.40 + 0.025 / (4 x 0.05)
    (0.40, 8, 0.334, 0.384, 0.525),  # t3.2xlarge: 0.40 + 0.05 / (8 x 0.05)
]


@pytest.mark.parametrize(("baseline", "vcpu", "burst", "fixed", "expected"), AWS_E9)
def test_breakeven_reproduces_aws_e9_with_aws_inputs(
    baseline: float, vcpu: int, burst: float, fixed: float, expected: float
) -> None:
    cpu_frac = breakeven_cpu_frac(
        baseline_frac=baseline,
        vcpu=vcpu,
        burstable_price_usd_per_h=burst,
        fixed_price_usd_per_h=fixed,
        surplus_usd_per_vcpu_h=0.05,
    )

    assert cpu_frac == pytest.approx(expected, rel=1e-12)


def test_aws_e9_intermediate_columns() -> None:
    # E9 columns: E = 0.096 - 0.0835 = 0.0125 $/h; H = 0.05 / 60 $/credit;
    # I = E / H = 15 minutes of one vCPU per hour; J = 15 / 60 / 2 = 12.5 %.
    assert surplus_usd_per_credit(0.05) == pytest.approx(0.000833333, rel=1e-6)
    assert (0.096 - 0.0835) / surplus_usd_per_credit(0.05) == pytest.approx(15.0)


# AWS-CREDITS.md section 4, E9 recomputed with the catalog's prices (derived table).
CATALOG_E9 = [
    ("t3.large", "m5.large", 42.8, 1.596),
    ("t3.large", "m6i.large", 42.8, 1.596),
    ("t3.xlarge", "m5.xlarge", 52.8, 1.492),
    ("t3.2xlarge", "m5.2xlarge", 52.8, 1.492),
    ("t3a.large", "m5.large", 50.8, 1.513),
    ("t4g.large", "m7g.large", 48.0, 1.510),
    ("t3.medium", "c5.large", 63.4, 1.431),
    ("t4g.medium", "c7g.large", 68.6, 1.346),
]


@pytest.mark.parametrize(("burst", "fixed", "pct", "ratio"), CATALOG_E9)
def test_breakeven_with_catalog_prices_matches_the_derived_table(
    burst: str, fixed: str, pct: float, ratio: float
) -> None:
    result = breakeven(burst, fixed)

    # The table prints half-up rounding to the digits given (t3a: 1.5125 -> 1.513).
    assert result.breakeven_cpu_pct == pytest.approx(pct, abs=0.05 + 1e-9)
    assert result.cost_ratio_at_100_pct == pytest.approx(ratio, abs=5e-4 + 1e-9)
    assert not result.burstable_always_cheaper


def test_breakeven_records_its_inputs_and_provenance() -> None:
    result = breakeven("t3.large", "m5.large")

    assert result.burstable_price_usd_per_h == 0.0832
    assert result.fixed_price_usd_per_h == 0.096
    assert result.surplus_usd_per_vcpu_h == 0.05
    assert result.price_source == load_prices().source
    assert result.price_retrieved == load_prices().retrieved


def test_breakeven_with_given_prices_uses_them_and_says_so() -> None:
    result = breakeven(
        "t3.large",
        "m5.large",
        burstable_price_usd_per_h=0.0835,
        fixed_price_usd_per_h=0.096,
    )

    assert result.breakeven_cpu_pct == pytest.approx(42.5, rel=1e-12)
    assert result.price_source == "price given by the caller"


def test_breakeven_windows_rate_with_given_prices() -> None:
    # 0.20 + (0.085 - 0.0416) / (2 x 0.096) = 0.20 + 0.2260417 = 42.604 %
    result = breakeven(
        "t3.medium",
        "c5.large",
        os="windows",
        burstable_price_usd_per_h=0.0416,
        fixed_price_usd_per_h=0.085,
    )

    assert result.surplus_usd_per_vcpu_h == 0.096
    assert result.breakeven_cpu_pct == pytest.approx(42.6041667, rel=1e-8)


def test_breakeven_above_100_pct_is_reported_not_clipped() -> None:
    # t3.nano ($0.0052, 2 vCPU, 5 %) against c5.4xlarge ($0.68):
    # 0.05 + (0.68 - 0.0052) / (2 x 0.05) = 6.798 -> 679.8 %
    result = breakeven("t3.nano", "c5.4xlarge")

    assert result.breakeven_cpu_pct == pytest.approx(679.8, rel=1e-9)
    assert result.burstable_always_cheaper


def test_a_fixed_type_never_dearer_has_no_breakeven() -> None:
    # t3.large $0.0832/h against c7g.large $0.0725/h (bundled table): the formula
    # gives 0.30 + (0.0725 - 0.0832) / (2 x 0.05) = 19.3 %, below the baseline and
    # meaningless: the fixed type costs less at every load.
    result = breakeven("t3.large", "c7g.large")

    assert math.isnan(result.breakeven_cpu_pct)
    assert result.fixed_always_cheaper
    assert not result.burstable_always_cheaper


def test_equal_prices_make_the_fixed_type_never_dearer() -> None:
    # Equal prices: same cost up to the baseline, the burstable dearer above it.
    result = breakeven(
        "t3.large", "m5.large", burstable_price_usd_per_h=0.1, fixed_price_usd_per_h=0.1
    )

    assert math.isnan(result.breakeven_cpu_pct)
    assert result.fixed_always_cheaper


def test_different_vcpu_counts_warn() -> None:
    # t3.large has 2 vCPU, m5.xlarge 4 (AWS instance type pages).
    with pytest.warns(
        CapacityWarning, match=r"t3\.large has 2 vCPU but m5\.xlarge has 4"
    ):
        warn_if_sizes_differ("t3.large", "m5.xlarge")


def test_queueing_doc_example_surplus_at_60_pct_on_t3_large() -> None:
    # QUEUEING.md 3.2: (0.6 - 0.3) x 2 x $0.05 = $0.03/h extra; $0.1135/h with
    # the $0.0835 price printed by AWS.
    hourly = unlimited_cost_usd_per_h(
        0.6,
        baseline_frac=0.3,
        vcpu=2,
        price_usd_per_h=0.0835,
        surplus_usd_per_vcpu_h=0.05,
    )

    assert float(hourly) - 0.0835 == pytest.approx(0.03, rel=1e-9)
    assert float(hourly) == pytest.approx(0.1135, rel=1e-12)


def test_queueing_doc_example_60_pct_is_above_the_c5_breakeven() -> None:
    # 0.30 + (0.085 - 0.0832) / (2 x 0.05) = 0.318
    result = breakeven("t3.large", "c5.large")

    assert result.breakeven_cpu_pct == pytest.approx(31.8, rel=1e-9)
    assert result.breakeven_cpu_pct < 60.0


def test_below_baseline_no_surplus_is_charged() -> None:
    hourly = unlimited_cost_usd_per_h(
        np.array([0.0, 0.1, 0.3]),
        baseline_frac=0.3,
        vcpu=2,
        price_usd_per_h=0.0832,
        surplus_usd_per_vcpu_h=0.05,
    )

    np.testing.assert_array_equal(hourly, [0.0832, 0.0832, 0.0832])


def test_cost_curve_changes_sides_at_the_breakeven() -> None:
    result = breakeven("t3.large", "m5.large")  # 42.8 %

    curve = cost_curve(result)

    assert len(curve) == 101
    assert set(curve.loc[curve["cpu_pct"] <= 42, "cheaper"]) == {"t3.large"}
    assert set(curve.loc[curve["cpu_pct"] >= 43, "cheaper"]) == {"m5.large"}
    at_100 = curve.loc[curve["cpu_pct"] == 100].iloc[0]
    assert at_100["burstable_usd_per_h"] == pytest.approx(0.1532)  # 0.0832 + 0.07


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=2, max_size=20))
def test_cost_never_falls_as_cpu_rises(levels: list[float]) -> None:
    curve = cost_curve(breakeven("t4g.large", "m7g.large"), sorted(levels))

    assert np.all(np.diff(curve["burstable_usd_per_h"].to_numpy()) >= 0)


def test_monthly_is_730_hours_of_the_price() -> None:
    estimate = fleet_cost(instance_pricing("c5.large"), 1)

    assert estimate.hours == 730.0
    assert estimate.compute_usd == pytest.approx(0.085 * 730)  # 62.05
    assert estimate.monthly_cost_usd == pytest.approx(62.05)
    assert estimate.annual_cost_usd == pytest.approx(0.085 * 8760)  # 744.6


def test_surplus_measured_over_two_weeks_scales_to_the_month() -> None:
    # 1,000 credits charged in 336 h -> 1000 x 730 / 336 = 2172.619 credits a month,
    # x $0.05 / 60 per credit = $1.81052
    pricing = instance_pricing("t3.large")

    estimate = fleet_cost(
        pricing, 4, mode="unlimited", surplus_charged_credits=1000, measured_hours=336
    )

    assert estimate.surplus_usd == pytest.approx(1000 * 730 / 336 * 0.05 / 60)
    assert estimate.compute_usd == pytest.approx(4 * 730 * 0.0832)
    assert estimate.total_usd == pytest.approx(estimate.compute_usd + 1.8105159)


def test_cost_per_million_requests() -> None:
    # one c5.large serving 1e6 requests an hour costs $0.085 per million
    estimate = fleet_cost(
        instance_pricing("c5.large"), 1, requests_served=10e6, measured_hours=10
    )

    assert estimate.cost_per_million_requests_usd == pytest.approx(0.085)


def test_no_requests_gives_no_cost_per_million() -> None:
    estimate = fleet_cost(instance_pricing("c5.large"), 1)

    assert math.isnan(estimate.cost_per_million_requests_usd)


def test_discount_percent_applies_to_compute_only() -> None:
    # 30 % off $0.0832 = $0.05824/h; surplus stays at $0.05/vCPU-h
    pricing = instance_pricing("t3.large", discount_pct=30)

    estimate = fleet_cost(pricing, 1, horizon_hours=100, surplus_charged_credits=60)

    assert pricing.price_usd_per_h == pytest.approx(0.05824)
    assert estimate.compute_usd == pytest.approx(5.824)
    assert estimate.surplus_usd == pytest.approx(0.05)


def test_committed_price_table_sets_the_discount() -> None:
    # 1 - 0.0605 / 0.096 = 36.979 % off
    committed = PriceTable(
        region="us-east-1",
        os="linux",
        source="three-year savings plan quote",
        retrieved="2026-01-01",
        prices_usd_per_h={"m5.large": 0.0605},
    )

    pricing = instance_pricing("m5.large", committed_prices=committed)

    assert pricing.price_usd_per_h == pytest.approx(0.0605)
    assert pricing.discount_pct == pytest.approx(36.979166667)
    assert discounted_price_usd_per_h(0.096, pricing.discount_pct) == pytest.approx(
        0.0605
    )


def test_breakdown_table_has_the_finance_columns() -> None:
    estimates = [
        fleet_cost(instance_pricing("c5.large"), 3),
        fleet_cost(instance_pricing("t3.large"), 2, mode="unlimited"),
    ]

    table = cost_breakdown(estimates)

    assert list(table["instance_type"]) == ["c5.large", "t3.large"]
    for column in ("compute_usd", "surplus_usd", "total_usd", "price_source"):
        assert column in table.columns
    assert table.loc[0, "total_usd"] == pytest.approx(3 * 730 * 0.085)
    assert table.loc[1, "price_retrieved"] == load_prices().retrieved


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: breakeven("c5.large", "m5.large"),
            CatalogError,
            r"burstable='c5.large' is a fixed-performance type",
        ),
        (
            lambda: breakeven("t3.large", "t3.xlarge"),
            CatalogError,
            r"fixed='t3.xlarge' is a burstable type",
        ),
        (
            lambda: breakeven("t3.lage", "m5.large"),
            CatalogError,
            r"unknown instance type 't3.lage'.*t3.large",
        ),
        (
            lambda: breakeven("t3.large", "m5.large", fixed_price_usd_per_h=0),
            ParameterError,
            r"fixed_price_usd_per_h=0 must be a positive",
        ),
        (
            lambda: breakeven("t3.large", "m5.large", burstable_price_usd_per_h=-1.0),
            ParameterError,
            r"burstable_price_usd_per_h=-1.0 must be a positive",
        ),
        (
            lambda: breakeven("t3.large", "m5.large", os="windows"),
            ParameterError,
            r"os='windows' but the price table is for 'linux'",
        ),
        (
            lambda: discounted_price_usd_per_h(0.1, 100),
            ParameterError,
            r"discount_pct=100 is outside \[0, 100\)",
        ),
        (
            lambda: fleet_cost(instance_pricing("c5.large"), 0),
            ParameterError,
            r"count=0 must be a whole number of instances >= 1",
        ),
        (
            lambda: fleet_cost(instance_pricing("c5.large"), 1, horizon_hours=0),
            ParameterError,
            r"horizon_hours=0 must be positive",
        ),
        (
            lambda: fleet_cost(instance_pricing("c5.large"), 1, measured_hours=-1),
            ParameterError,
            r"measured_hours=-1 must be positive",
        ),
        (
            lambda: fleet_cost(instance_pricing("c5.large"), 1, requests_served=-5),
            ParameterError,
            r"requests_served=-5 must be finite and >= 0",
        ),
        (
            lambda: cost_curve(breakeven("t3.large", "m5.large"), [120]),
            ParameterError,
            r"cpu_pct must lie in \[0, 100\]",
        ),
    ],
)
def test_bad_input_is_rejected_with_the_rule(
    call: object, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        call()  # type: ignore[operator]


def test_discount_and_committed_table_together_are_rejected() -> None:
    committed = PriceTable(
        "us-east-1", "linux", "quote", "2026-01-01", {"m5.large": 0.06}
    )

    with pytest.raises(ParameterError, match=r"discount_pct=10 was given with a"):
        instance_pricing("m5.large", discount_pct=10, committed_prices=committed)
