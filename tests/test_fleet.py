"""The fleet model: hand-worked cases of QUEUEING.md 3.2 and invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity import queueing
from capacity.errors import ParameterError
from capacity.fleet import simulate_fleet
from capacity.shedding import shed_to_slo
from capacity.workload import Workload


def steady(requests_per_s: float, cpu_ms: float, hours: float, step_s: float = 60.0):
    """A constant workload on a UTC grid."""
    steps = int(hours * 3600 / step_s)
    index = pd.date_range("2026-04-05", periods=steps, freq=f"{int(step_s)}s", tz="UTC")
    return Workload(
        index=index,
        requests_per_s=np.full(steps, requests_per_s),
        cpu_per_request_s=np.full(steps, cpu_ms / 1000),
        background_vcpu=np.zeros(steps),
        name="steady",
        source="test",
    )


def test_worked_chain_while_credits_last() -> None:
    # QUEUEING.md 3.2: one t3.large, 24 req/s of 50 ms, full bucket: M/M/2 at mu 20/s.
    result = simulate_fleet(steady(24.0, 50.0, 2), "t3.large", 1, "standard")

    assert result.p50_ms[0] == pytest.approx(57.636, abs=0.01)
    assert result.p99_ms[0] == pytest.approx(328.396, abs=0.05)
    assert result.utilisation_frac[0] == pytest.approx(0.6)
    assert result.failed_frac[0] < 1e-12
    assert not result.throttled.any()


def test_worked_chain_after_depletion() -> None:
    # 864 credits / (120 x 0.3 per h) = 24 h; then capacity 2 x 0.3 / 0.05 = 12 req/s.
    # In the first throttled minute the backlog grows 12/s: mean 360 requests, mean
    # wait 360 / 12 = 30 s; p99 = 30 s + (0.05 / 0.3) ln 100 s = 30.7675 s.
    result = simulate_fleet(steady(24.0, 50.0, 26), "t3.large", 1, "standard")

    first = int(np.argmax(result.throttled))
    assert first == 24 * 60
    assert result.p99_ms[first] == pytest.approx(
        (30 + 0.05 / 0.3 * math.log(100)) * 1000, rel=1e-9
    )
    assert result.hc_fail_frac[first] == 1.0  # the backlog wait passes 5 s at u = 5 s
    # The backlog reaches 12 req/s x 60 s = 720 (a 60 s wait, the ALB timeout) at the
    # end of the first minute; from then the target still completes 12 req/s and the
    # other 12 req/s time out: half the requests fail, the served ones wait 60 s.
    assert result.failed_frac[first + 1 :] == pytest.approx(0.5, rel=1e-12)
    assert result.p50_ms[first + 1] == pytest.approx(
        (60 + 0.05 / 0.3 * math.log(2)) * 1000, rel=1e-9
    )
    assert result.summary is not None
    assert float(result.summary.hours_to_exhaustion[0]) == pytest.approx(24.0)


@pytest.mark.parametrize("throttled_count", [1, 2])
def test_overload_fails_only_the_excess_over_capacity(throttled_count: int) -> None:
    # Fluid model of an ALB in front of throttled targets, in a steady overload:
    # 2 t3.large held at baseline serve 2 x 2 x 0.3 / 0.05 = 24 req/s; 31.2 req/s is
    # 1.3 x that. Assumptions: equal round-robin shares, a request not started
    # within the 60 s timeout is given up by the ALB and skipped by the target, the
    # target keeps completing 24 req/s. After the backlog fills (12 x 60 = 720
    # requests, 60 s / 7.2 req/s of excess = 100 s) the failed share is the excess,
    # 1 - 1/1.3 = 23.08 %. One throttled target of two (throttled_count=1) is a
    # fleet of two groups (the mixture path) where only the throttled half is
    # overloaded: 15.6 req/s on 12 req/s there, 1 - 12/15.6 of half the traffic.
    work = steady(31.2 * throttled_count / 2 + 15.6 * (2 - throttled_count), 50.0, 1)
    result = simulate_fleet(
        work, "t3.large", 2, "standard", throttled_count=throttled_count
    )

    excess_frac = 1 - 1 / 1.3
    expected = excess_frac if throttled_count == 2 else 0.5 * excess_frac
    assert result.failed_frac[5:] == pytest.approx(expected, rel=1e-9)


def test_unlimited_mode_costs_three_cents_an_hour() -> None:
    # Surplus 0.3 vCPU above baseline = 36 credits/h accrues to the 864 cap by 48 h,
    # then is charged: 36 credits/h x $0.05 / 60 = $0.03/h (QUEUEING.md 3.2).
    result = simulate_fleet(steady(24.0, 50.0, 60), "t3.large", 1, "unlimited")

    charged = result.surplus_charged_credits[50 * 60 : 60 * 60].sum()
    assert not result.throttled.any()
    assert charged * 0.05 / 60 / 10 == pytest.approx(0.03, rel=1e-6)
    assert result.p99_ms[-1] == pytest.approx(328.396, abs=0.05)


def test_fixed_type_has_no_ledger() -> None:
    result = simulate_fleet(steady(24.0, 50.0, 1), "c5.large", 1)

    assert np.all(np.isnan(result.balance_credits))
    assert result.summary is None
    assert result.p99_ms[0] == pytest.approx(328.396, abs=0.05)


def test_round_robin_overloads_a_throttled_target_that_lor_spares() -> None:
    # 4 t3.large, one held at baseline, 60 req/s of 50 ms. Round robin: 15 req/s to
    # the throttled target whose capacity is 12 req/s; its backlog reaches a 60 s
    # wait (720 requests) after 720 / 3 = 240 s, then it still serves 12 req/s and
    # the 3 req/s of excess time out: 3 / 15 of a quarter, 5 % of all requests.
    # Least outstanding requests shares by capacity: rho = 60 / (3 x 40 + 12).
    work = steady(60.0, 50.0, 2)
    kwargs = {"mode": "standard", "throttled_count": 1}

    round_robin = simulate_fleet(work, "t3.large", 4, **kwargs)
    least = simulate_fleet(work, "t3.large", 4, routing="least_outstanding", **kwargs)

    assert round_robin.failed_frac[-1] == pytest.approx(0.05, rel=1e-6)
    assert least.failed_frac[-1] < 1e-9
    assert least.utilisation_frac[-1] == pytest.approx(60 / 132)
    assert least.p99_ms[-1] < 1000.0


def test_mixed_fleet_percentile_is_the_mixture_quantile() -> None:
    # 3 t3.large, one held at baseline, round robin, 24 req/s: 8 req/s per target.
    # Fresh targets are M/M/2 with mu = 20, the throttled one M/M/2 with mu = 6.
    result = simulate_fleet(
        steady(24.0, 50.0, 1), "t3.large", 3, "standard", throttled_count=1
    )
    p99_s = result.p99_ms[0] / 1000

    fresh = queueing.mmc_response_survival(p99_s, 2, 8.0, 0.05)
    slow = queueing.mmc_response_survival(p99_s, 2, 8.0, 0.05 / 0.3)
    assert (2 * fresh + slow) / 3 == pytest.approx(0.01, rel=1e-5)


def test_counts_vectorise_like_separate_calls() -> None:
    work = steady(100.0, 40.0, 1)

    together = simulate_fleet(work, "t3.medium", [3, 5], "standard")
    alone = simulate_fleet(work, "t3.medium", 5, "standard")

    np.testing.assert_allclose(together.p99_ms[1], alone.p99_ms, rtol=1e-12)
    np.testing.assert_allclose(together.failed_frac[1], alone.failed_frac)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(5.0, 200.0),
    count=st.integers(1, 12),
    extra=st.integers(1, 5),
)
def test_more_instances_never_raise_p99(rate: float, count: int, extra: int) -> None:
    # Compared in steady state, at the end of 6 h: stable steps are stationary M/M/c
    # while an overloaded fleet's backlog builds up over time (fluid), so during
    # that build-up the smaller fleet can show less delay than the stationary one.
    work = steady(rate, 30.0, 6, step_s=600.0)

    result = simulate_fleet(work, "c5.large", [count, count + extra])

    assert result.p99_ms[1, -1] <= result.p99_ms[0, -1] * (1 + 1e-9)
    assert result.failed_frac[1, -1] <= result.failed_frac[0, -1] + 1e-12


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(5.0, 60.0), step=st.floats(0.5, 5.0))
def test_latency_rises_with_utilisation(rate: float, step: float) -> None:
    low = simulate_fleet(steady(rate, 30.0, 0.25), "c5.large", 2)
    high = simulate_fleet(steady(rate + step, 30.0, 0.25), "c5.large", 2)

    assert high.utilisation_frac[0] > low.utilisation_frac[0]
    assert np.all(high.p99_ms >= low.p99_ms)
    assert np.all(high.hc_fail_frac >= low.hc_fail_frac)


def test_shedding_meets_the_slo_with_the_least_shed() -> None:
    # 2 c5.large at 70 req/s of 50 ms: rho = 0.875, p99 above 500 ms. The kept rate
    # must put the M/M/2 p99 right at the SLO, taken from the lowest class first.
    work = steady(70.0, 50.0, 0.5)
    plan = shed_to_slo(
        work, "c5.large", 2, p99_slo_ms=500.0, shares={"pay": 0.7, "feed": 0.3}
    )

    kept_rate = 35.0 * (1 - plan.shed_frac[0])
    exact_p99 = float(queueing.mmc_response_quantile_s(0.99, 2, kept_rate, 0.05))
    assert float(queueing.mmc_response_quantile_s(0.99, 2, 35.0, 0.05)) > 0.5
    assert exact_p99 == pytest.approx(0.5, rel=1e-3)
    assert plan.slo_met.all()
    assert plan.class_shed_frac["pay"][0] == 0.0
    assert plan.class_shed_frac["feed"][0] == pytest.approx(plan.shed_frac[0] / 0.3)


def test_shedding_cannot_touch_the_first_class() -> None:
    # Throttled t3.large at 24 req/s of 50 ms after depletion: even the 60 %
    # critical class alone (14.4 req/s) exceeds the 12 req/s capacity.
    plan = shed_to_slo(
        steady(24.0, 50.0, 1),
        "t3.large",
        1,
        mode="standard",
        start_credits=0.0,
        p99_slo_ms=500.0,
        shares={"pay": 0.6, "feed": 0.4},
    )

    assert not plan.slo_met.any()
    assert np.all(plan.shed_frac == pytest.approx(0.4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"routing": "random"}, "routing='random' is not an ALB algorithm"),
        ({"count": 0}, "count=0 must be at least 1"),
        ({"count": 2, "throttled_count": 3}, "throttled_count=3 must not exceed"),
        ({"hc_timeout_s": 0.0}, "hc_timeout_s=0.0 must be a finite number > 0"),
        ({"listen_queue": -1.0}, "listen_queue=-1.0 must be a finite number > 0"),
        ({"service_scv": -1.0}, "service_scv=-1.0 must be >= 0"),
    ],
)
def test_bad_fleet_settings_are_rejected(kwargs: dict, match: str) -> None:
    arguments = {"count": 1, **kwargs}
    with pytest.raises(ParameterError, match=match):
        simulate_fleet(steady(10.0, 50.0, 0.1), "t3.large", **arguments)


def test_bad_shares_are_rejected() -> None:
    with pytest.raises(ParameterError, match="must be non-negative fractions"):
        shed_to_slo(
            steady(10.0, 50.0, 0.1),
            "c5.large",
            1,
            p99_slo_ms=100.0,
            shares={"a": 0.5, "b": 0.6},
        )


def test_a_non_positive_slo_is_rejected_by_its_name() -> None:
    with pytest.raises(ParameterError, match=r"p99_slo_ms=0.0 must be > 0"):
        shed_to_slo(
            steady(10.0, 50.0, 0.1),
            "c5.large",
            1,
            p99_slo_ms=0.0,
            shares={"a": 0.5, "b": 0.5},
        )
