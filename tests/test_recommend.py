"""The sizing recommender: hand-worked cases, rejections as data, invariants."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.errors import ParameterError
from capacity.params import Surge
from capacity.recommend import (
    candidates,
    evaluate_fleet,
    fleet_model_check,
    recommend,
)
from capacity.screening import Candidate, Constraints, FleetModel, FleetScreen
from capacity.workload import daily_profile, with_cpu_step

T3_VS_FIXED = [
    Candidate("t3.large", "standard"),
    Candidate("t3.large", "unlimited"),
    Candidate("c5.large", "fixed"),
    Candidate("m5.large", "fixed"),
]
# N+1 (zones=1), 25 % headroom, p99 under 250 ms in 99 % of steps.
N_PLUS_ONE = Constraints(zones=1, headroom_frac=0.25, max_count=40)
SECONDS_PER_DAY = 86_400


def flat_load(total_vcpu: float, *, days: int = 7, cpu_ms: float = 10.0):
    """A flat load of ``total_vcpu`` busy vCPUs at ``cpu_ms`` per request."""
    requests_per_day = total_vcpu / (cpu_ms / 1000) * SECONDS_PER_DAY
    return daily_profile(
        requests_per_day, 1.0, days=days, step_s=300, cpu_per_request_ms=cpu_ms
    )


def test_flat_load_just_under_the_t3_baseline_t3_standard_wins() -> None:
    # 1.1 vCPU on 2 t3.large = 0.55 vCPU each = 27.5 % per vCPU, under the 30 %
    # baseline: no credits drain. 2 x $0.0832 = $0.1664/h against 2 c5.large
    # $0.17/h (N+1 needs 2 instances; one survivor runs at 55 %).
    # Unlimited costs the same (no surplus below baseline); the tie goes to the
    # fixed key, where "standard" sorts before "unlimited".
    result = recommend(flat_load(1.1), N_PLUS_ONE, candidate_list=T3_VS_FIXED)

    best = result.best
    assert best is not None
    assert (best["instance_type"], best["count"], best["mode"]) == (
        "t3.large",
        2,
        "standard",
    )
    assert best["monthly_cost_usd"] == pytest.approx(2 * 0.0832 * 730)
    assert best["surplus_cost_usd"] == 0.0
    options = result.options.set_index(["instance_type", "mode"])
    assert options.loc[("t3.large", "unlimited"), "monthly_cost_usd"] == pytest.approx(
        2 * 0.0832 * 730
    )
    assert options.loc[("c5.large", "fixed"), "monthly_cost_usd"] == pytest.approx(
        2 * 0.085 * 730
    )
    # the fleet model confirms the winner: 27.5 % busy, p99 far under 250 ms
    assert best["fleet_slo_met_frac"] == 1.0


def test_load_20_pct_above_the_baseline_a_fixed_type_wins() -> None:
    # 1.44 vCPU on 2 t3.large = 0.72 vCPU each = 36 %, 20 % above the baseline.
    # Standard: the warm-up day leaves 864 - 24 x 7.2 = 691.2 credits, drained
    # at (0.72 - 0.6) x 60 = 7.2 credits/h, exhausted after 96 h of the 168 h
    # run, so 2 fail and 3 are needed (0.48 each, under baseline): $0.2496/h.
    # Unlimited, 2: $0.1664 + 2 x 0.12 vCPU x $0.05 = $0.1784/h.
    # c5.large, 2: $0.17/h (a survivor runs at 72 %): the cheapest.
    result = recommend(flat_load(1.44), N_PLUS_ONE, candidate_list=T3_VS_FIXED)

    best = result.best
    assert best is not None
    assert (best["instance_type"], best["count"]) == ("c5.large", 2)
    options = result.options.set_index(["instance_type", "mode"])
    unlimited = options.loc[("t3.large", "unlimited")]
    assert unlimited["count"] == 2
    assert unlimited["surplus_cost_usd"] == pytest.approx(2 * 0.12 * 0.05 * 730)
    assert unlimited["monthly_cost_usd"] == pytest.approx(0.1784 * 730)
    standard = options.loc[("t3.large", "standard")]
    assert standard["count"] == 3
    assert standard["binding_constraint"] == "p99_slo,credit_floor"


def test_the_exhaustion_of_two_t3_standard_is_measured() -> None:
    # As above: 691.2 credits at the end of the warm-up day, -7.2 credits/h,
    # empty after 96 h; the SLO fails on the throttled 72 of 168 hours.
    evaluation = evaluate_fleet(
        flat_load(1.44), Candidate("t3.large", "standard"), 2, N_PLUS_ONE
    )

    checks = {check.constraint: check for check in evaluation.checks}
    assert checks["credit_floor"].measured == pytest.approx(0.0, abs=1e-6)
    assert checks["credit_floor"].limit == pytest.approx(86.4)  # 10 % of 864
    assert checks["p99_slo"].measured == pytest.approx(96 / 168, abs=1 / 2016)
    assert not evaluation.feasible


def test_a_daily_peak_is_bridged_by_credits_overnight() -> None:
    # Mean 1.2 vCPU, peak twice the mean. Keeping the peak under the t3.large
    # baseline would take ceil(2.4 / 0.6) = 4 instances; 3 keep the daily mean
    # (0.4 vCPU each, 20 %) under the 30 % baseline, and the bank refilled
    # overnight carries the afternoon peak above it.
    w = daily_profile(
        1.2 / 0.010 * SECONDS_PER_DAY,
        2.0,
        days=4,
        step_s=300,
        cpu_per_request_ms=10.0,
    )
    only_standard = [Candidate("t3.large", "standard")]

    result = recommend(w, N_PLUS_ONE, candidate_list=only_standard)

    best = result.best
    assert best is not None
    assert best["count"] < 4
    assert best["peak_utilisation_frac"] > 0.30  # above baseline at the peak
    assert best["min_balance_credits"] >= 86.4  # never near empty


def outage_workload():
    """~100M requests/day; at 14:00 on day 1 each request costs 12 ms more."""
    w = daily_profile(1e8, 1.3, days=4, step_s=300, cpu_per_request_ms=8.0)
    return with_cpu_step(w, "2026-03-30T14:00:00Z", 12.0)


def test_the_outage_workload_rejects_t3_standard_for_credit_exhaustion() -> None:
    # 1e8 / 86,400 = 1,157 req/s x 20 ms = 23.1 vCPU after the release; a fleet of
    # 20 t3.large (12 vCPU of baseline) cannot earn that: credits run out.
    fleet = [Candidate("t3.large", "standard"), Candidate("t3.large", "unlimited")]
    limits = Constraints(zones=1, headroom_frac=0.0, max_count=20)

    result = recommend(outage_workload(), limits, candidate_list=fleet)

    rejected = result.rejected
    standard = rejected[rejected["mode"] == "standard"]
    assert "credit_floor" in set(standard["reason"])
    floor_row = standard[standard["reason"] == "credit_floor"].iloc[0]
    assert floor_row["measured"] == pytest.approx(0.0, abs=0.5)
    assert "credits exhausted" in floor_row["detail"]
    assert list(result.options["mode"]) == ["unlimited"]
    assert result.options.loc[0, "surplus_cost_usd"] > 0


def test_the_fleet_model_refutes_a_fleet_that_runs_out_of_credits() -> None:
    # 23.1 vCPU of demand after the release against 20 x 0.6 = 12 vCPU of
    # baseline: once the credits are gone every target is unstable.
    limits = Constraints(zones=1, headroom_frac=0.0, max_count=20)
    model = FleetModel(outage_workload(), limits, initial_credits="full")
    evaluation = FleetScreen(model, Candidate("t3.large", "standard")).detailed(20)

    check = fleet_model_check(model, evaluation)

    assert check.constraint == "fleet_model"
    assert not check.passed
    assert check.measured < 0.99


def test_a_surge_must_hold_on_its_own() -> None:
    # 1.1 vCPU flat; a 3x surge puts 3.3 vCPU on the fleet. 2 c5.large run at
    # 82.5 % and hold.
    surge = Surge("2026-04-01T08:00:00+00:00", 6.0, 3.0)

    evaluation = evaluate_fleet(
        flat_load(1.1), Candidate("c5.large", "fixed"), 2, N_PLUS_ONE, surges=[surge]
    )

    surge_check = [c for c in evaluation.checks if c.constraint == "surge"]
    assert len(surge_check) == 1 and surge_check[0].passed
    assert "surge x3 for 6 h" in surge_check[0].detail
    assert math.isnan(evaluation.hours_of_credit_at_worst_surge)  # no credits


def test_a_long_surge_exhausts_t3_standard_credits() -> None:
    # 2 t3.large, full bucket (864) at the surge: 1.65 vCPU each against a 0.6
    # baseline burns (1.65 - 0.6) x 60 = 63 credits/h: empty after 864 / 63 =
    # 13.71 h of a 15 h surge (its 5-minute ramps shift this by minutes).
    surge = Surge("2026-04-01T08:00:00+00:00", 15.0, 3.0)

    evaluation = evaluate_fleet(
        flat_load(1.1),
        Candidate("t3.large", "standard"),
        2,
        N_PLUS_ONE,
        surges=[surge],
    )

    surge_check = [c for c in evaluation.checks if c.constraint == "surge"][0]
    assert not surge_check.passed
    assert "credits exhausted" in surge_check.detail
    assert evaluation.hours_of_credit_at_worst_surge == pytest.approx(13.71, abs=0.15)


def test_rejected_rows_carry_measured_value_and_limit() -> None:
    # 400 vCPU flat cannot fit in 5 c5.large (10 vCPU).
    limits = Constraints(zones=1, max_count=5)

    result = recommend(
        flat_load(400.0, days=2),
        limits,
        candidate_list=[Candidate("c5.large", "fixed")],
    )

    assert result.options.empty and result.best is None
    row = result.rejected.iloc[0]
    assert row["reason"] == "max_count"
    assert row["measured"] == 200.0  # ceil(400 / 2) instances for the mean alone
    assert row["limit"] == 5.0


def test_candidates_come_sorted_with_both_modes_for_burstable_types() -> None:
    found = candidates(["c5", "t3"], ["large"], modes=["unlimited", "standard"])

    assert [(c.instance_type, c.mode) for c in found] == [
        ("c5.large", "fixed"),
        ("t3.large", "standard"),
        ("t3.large", "unlimited"),
    ]


def test_the_default_memory_floor_is_a_4_gib_container_host() -> None:
    # AWS-CREDITS.md 1.1: t3.nano 0.5, micro 1, small 2, medium 4, large 8 GiB
    assert [c.instance_type for c in candidates(["t3"], modes=["standard"])] == [
        "t3.2xlarge",
        "t3.large",
        "t3.medium",
        "t3.xlarge",
    ]
    every_size = candidates(["t3"], modes=["standard"], min_memory_gib=0)
    assert [c.instance_type for c in every_size][-3:] == [
        "t3.nano",
        "t3.small",
        "t3.xlarge",
    ]


def test_a_memory_floor_drops_small_types() -> None:
    # AWS-CREDITS.md 1.1: t3.nano 0.5, micro 1, small 2, medium 4, large 8 GiB
    found = candidates(["t3"], modes=["standard"], min_memory_gib=3.5)

    assert [c.instance_type for c in found] == [
        "t3.2xlarge",
        "t3.large",
        "t3.medium",
        "t3.xlarge",
    ]


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: Constraints(p99_slo_ms=0), r"p99_slo_ms=0 must be > 0"),
        (lambda: Constraints(headroom_frac=1.5), r"headroom_frac=1.5 is outside"),
        (lambda: Constraints(zones=0), r"zones=0 must be a whole number >= 1"),
        (lambda: candidates(["t3"], modes=["burst"]), r"modes: unknown \['burst'\]"),
        (lambda: candidates(["t3"], ["huge"]), r"sizes=\['huge'\] .* leaves no"),
        (
            lambda: recommend(flat_load(1.0, days=2), candidate_list=[]),
            r"candidate_list is empty",
        ),
        (
            lambda: evaluate_fleet(
                flat_load(1.0), Candidate("c5.large", "standard"), 2
            ),
            r"mode='standard' does not apply to c5.large",
        ),
        (
            lambda: evaluate_fleet(
                flat_load(1.0), Candidate("c5.large", "fixed"), 2, initial_credits="x"
            ),
            r"initial_credits='x'",
        ),
    ],
)
def test_bad_input_is_rejected(make, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        make()


SMALL = [Candidate("t3.large", "standard"), Candidate("c5.large", "fixed")]


@settings(max_examples=6, deadline=None)
@given(
    vcpu=st.floats(0.2, 6.0),
    factor=st.floats(1.0, 3.0),
)
def test_cost_never_falls_when_load_rises(vcpu: float, factor: float) -> None:
    low = recommend(flat_load(vcpu, days=2), N_PLUS_ONE, candidate_list=SMALL)
    high = recommend(flat_load(vcpu * factor, days=2), N_PLUS_ONE, candidate_list=SMALL)

    assert high.options["monthly_cost_usd"].min() >= low.options[
        "monthly_cost_usd"
    ].min() * (1 - 1e-12)


@settings(max_examples=6, deadline=None)
@given(count=st.integers(2, 12), vcpu=st.floats(1.0, 8.0))
def test_more_instances_never_raise_p99(count: int, vcpu: float) -> None:
    w = flat_load(vcpu, days=2)
    for candidate in SMALL:
        fewer = evaluate_fleet(w, candidate, count)
        more = evaluate_fleet(w, candidate, count + 1)

        if math.isfinite(fewer.p99_at_peak_ms):
            assert more.p99_at_peak_ms <= fewer.p99_at_peak_ms + 1e-9
        assert more.slo_met_frac >= fewer.slo_met_frac


@settings(max_examples=4, deadline=None)
@given(order=st.permutations(T3_VS_FIXED))
def test_reordering_candidates_changes_nothing(order: list[Candidate]) -> None:
    w = flat_load(1.44, days=2)

    reference = recommend(w, N_PLUS_ONE, candidate_list=T3_VS_FIXED)
    shuffled = recommend(w, N_PLUS_ONE, candidate_list=list(order))

    assert reference.options.equals(shuffled.options)
    assert reference.rejected.equals(shuffled.rejected)


def test_the_result_is_deterministic() -> None:
    w = flat_load(1.44, days=2)

    first = recommend(w, N_PLUS_ONE, candidate_list=T3_VS_FIXED).options
    second = recommend(w, N_PLUS_ONE, candidate_list=T3_VS_FIXED).options

    pd.testing.assert_frame_equal(first, second)
