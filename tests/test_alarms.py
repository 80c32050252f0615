"""Credit-balance alarms, exhaustion with a tolerance, and baseline advice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.alarms import (
    baseline_advice,
    credit_balance_alarm,
    fleet_alarms,
    hours_to_exhaustion,
    is_exhausted,
    net_burn_credits_per_h,
    observed_burn_credits_per_h,
    worst_burn_credits_per_h,
)
from capacity.errors import CatalogError, ParameterError
from capacity.workload import daily_profile, with_cpu_step


def test_burn_is_demand_above_the_earn_rate_in_credits_per_hour() -> None:
    # t3.large earns 36 credits/h = 0.6 vCPU: 0.72 vCPU burns 7.2 credits/h,
    # 0.3 vCPU earns 18 credits/h net (AWS-CREDITS.md 2.1, net per hour).
    burn = net_burn_credits_per_h([0.72, 0.3], "t3.large")

    np.testing.assert_allclose(burn, [7.2, -18.0])


def test_alarm_threshold_is_warning_hours_of_worst_burn() -> None:
    # flat 0.72 vCPU on a t3.large: 6 h x 7.2 credits/h = 43.2 credits
    alarm = credit_balance_alarm([0.72] * 48, "t3.large", step_s=3600)

    assert alarm.threshold_credits == pytest.approx(43.2)
    assert alarm.achieved_warning_hours == pytest.approx(6.0)
    assert alarm.achievable
    assert alarm.hours_to_exhaustion_from_full == pytest.approx(864 / 7.2)  # 120 h


def test_the_worst_window_sets_the_threshold() -> None:
    # 2 h at 1.8 vCPU (burn 72/h) in a day at 0.3 vCPU (-18/h). The worst 4-hour
    # window holds the 2 burst hours and 2 quiet ones: (2 x 72 - 2 x 18) / 4 = 27.
    demand = [0.3] * 10 + [1.8] * 2 + [0.3] * 12

    burn = worst_burn_credits_per_h(demand, "t3.large", step_s=3600, window_hours=4)
    alarm = credit_balance_alarm(demand, "t3.large", step_s=3600, warning_hours=4)

    assert burn == pytest.approx(27.0)
    assert alarm.threshold_credits == pytest.approx(108.0)


def test_a_threshold_above_the_cap_cannot_give_the_warning() -> None:
    # t3.nano at 2 vCPU burns (2 - 0.1) x 60 = 114 credits/h; 6 h would need 684
    # credits but the cap is 144, which lasts 144 / 114 = 1.263 h.
    alarm = credit_balance_alarm([2.0] * 24, "t3.nano", step_s=3600)

    assert alarm.threshold_credits == 144.0
    assert not alarm.achievable
    assert alarm.achieved_warning_hours == pytest.approx(144 / 114)


def test_a_balance_that_never_falls_needs_no_threshold() -> None:
    alarm = credit_balance_alarm([0.1] * 24, "t3.large", step_s=3600)

    assert alarm.threshold_credits == 0.0
    assert math.isinf(alarm.achieved_warning_hours)
    assert math.isinf(alarm.hours_to_exhaustion_from_full)


def test_hours_to_exhaustion_at_the_current_burn() -> None:
    assert hours_to_exhaustion(500.0, 20.0) == 25.0
    assert math.isinf(hours_to_exhaustion(500.0, 0.0))
    assert math.isinf(hours_to_exhaustion(500.0, -3.0))


def test_burn_read_from_cloudwatch_balances() -> None:
    # 5-minute samples falling 1 credit each: 12 credits/h
    balances = [100.0 - step for step in range(13)]

    burn = observed_burn_credits_per_h(balances, step_s=300, window_hours=1.0)

    assert burn == pytest.approx(12.0)
    assert hours_to_exhaustion(balances[-1], burn) == pytest.approx(88 / 12)


def test_exhaustion_uses_a_tolerance_not_equality() -> None:
    # CloudWatch shows an exhausted standard instance hovering just above zero
    hovering = [0.0, 0.02, 0.31, 0.5, 0.51, 12.0]

    assert is_exhausted(hovering).tolist() == [True, True, True, True, False, False]
    assert is_exhausted(hovering, tolerance_credits=0.0).tolist() == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_under_baseline_advice_is_standard() -> None:
    advice = baseline_advice([0.5] * 48, "t3.large", step_s=3600)  # 25 % < 30 %

    assert not advice.sustained_above_baseline
    assert advice.advice == "standard"
    assert advice.comparator == "c5.large"


def test_above_baseline_but_under_breakeven_advice_is_unlimited() -> None:
    # 36 % a day against m5.large: breakeven 0.30 + 0.0128 / 0.1 = 42.8 %
    advice = baseline_advice(
        [0.72] * 48, "t3.large", step_s=3600, comparator="m5.large"
    )

    assert advice.sustained_above_baseline
    assert advice.worst_day_cpu_pct == pytest.approx(36.0)
    assert advice.breakeven_cpu_pct == pytest.approx(42.8)
    assert advice.advice == "unlimited"


def test_above_the_breakeven_advice_is_fixed() -> None:
    # 36 % against c5.large: breakeven 0.30 + 0.0018 / 0.1 = 31.8 %
    advice = baseline_advice([0.72] * 48, "t3.large", step_s=3600)

    assert advice.breakeven_cpu_pct == pytest.approx(31.8)
    assert advice.advice == "fixed"
    assert "c5.large is cheaper" in advice.reason


def test_graviton_types_are_compared_with_c7g_of_as_many_vcpus() -> None:
    # t4g.medium has 2 vCPUs (AWS-CREDITS.md 1.1); c7g.medium has 1, c7g.large 2 (1.2)
    assert baseline_advice([0.1] * 24, "t4g.medium", step_s=3600).comparator == (
        "c7g.large"
    )


def test_the_outage_fleet_gets_an_alarm_hours_ahead() -> None:
    # ~100M requests/day on 20 t3.large; +12 ms per request from 14:00 on day 1
    # takes the mean from 9.3 to 23.1 vCPU, 1.16 vCPU per instance against a
    # 0.6 baseline: the fleet is above baseline for whole days.
    w = daily_profile(1e8, 1.3, days=3, step_s=300, cpu_per_request_ms=8.0)
    w = with_cpu_step(w, "2026-03-30T14:00:00Z", 12.0)

    alarm, advice = fleet_alarms(w, "t3.large", 20, warning_hours=6.0)

    assert advice.sustained_above_baseline
    assert advice.advice == "fixed"
    # worst 6-hour burn: the daily peak above the 1.157 vCPU mean, x 60 credits
    mean_burn = (1e8 / 86_400 * 0.020 / 20 - 0.6) * 60
    assert alarm.worst_burn_credits_per_h > mean_burn
    assert alarm.threshold_credits == pytest.approx(6 * alarm.worst_burn_credits_per_h)
    assert alarm.achievable


@settings(max_examples=25, deadline=None)
@given(
    demand=st.lists(st.floats(0.0, 2.0), min_size=4, max_size=48),
    hours=st.floats(0.5, 12.0),
)
def test_threshold_lies_within_zero_and_the_cap(
    demand: list[float], hours: float
) -> None:
    alarm = credit_balance_alarm(demand, "t3.large", step_s=3600, warning_hours=hours)

    assert 0.0 <= alarm.threshold_credits <= 864.0


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: credit_balance_alarm([1.0], "c5.large", step_s=60),
            CatalogError,
            r"c5.large is a fixed-performance type",
        ),
        (
            lambda: credit_balance_alarm([1.0], "t3.large", step_s=60, warning_hours=0),
            ParameterError,
            r"warning_hours=0 must be positive",
        ),
        (
            lambda: worst_burn_credits_per_h([], "t3.large", step_s=60, window_hours=1),
            ParameterError,
            r"demand_vcpu is empty",
        ),
        (
            lambda: hours_to_exhaustion(-1.0, 5.0),
            ParameterError,
            r"balance_credits=-1.0 must be finite and >= 0",
        ),
        (
            lambda: observed_burn_credits_per_h([5.0], step_s=300),
            ParameterError,
            r"balance_credits has 1 sample",
        ),
        (
            lambda: is_exhausted([1.0], tolerance_credits=-1),
            ParameterError,
            r"tolerance_credits=-1 must be finite",
        ),
    ],
)
def test_bad_input_is_rejected(call, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()


def test_a_fixed_type_never_dearer_is_advised_without_a_breakeven_figure() -> None:
    # c5.large $0.085/h against t2.large $0.0928/h (AWS-CREDITS.md 1.1, 1.2): the
    # fixed type is cheaper at any load, so there is no breakeven to quote.
    advice = baseline_advice([0.9] * 48, "t2.large", step_s=3600, comparator="c5.large")

    assert advice.advice == "fixed"
    assert "nan" not in advice.reason
    assert "c5.large is cheaper at any load" in advice.reason
