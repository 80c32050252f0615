"""Queueing formulas against published values and a discrete-event simulation.

Reference values are QUEUEING.md section 2 (computed there at 50 significant digits
and cross-checked by simulation), three published textbook and industry examples,
and the worked chain of QUEUEING.md 3.2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import lambertw
from scipy.stats import t as student_t

from capacity import general_queues as g
from capacity import queueing as q
from capacity.errors import ModelError

# QUEUEING.md section 2, copied as printed: id, c, rho, E[S] ms, lambda per s, a,
# Erlang B, C, E[Wq] ms, E[T] ms, Wq p50/p95/p99 ms, T p50/p95/p99/p99.9 ms.
TABLE = """
A 1 0.5 10 50 0.5 0.3333333333 0.5 10 20 0 46.05170186 78.24046011
  13.8629436112 59.9146454711 92.1034037198 138.1551056
B 1 0.8 10 80 0.8 0.4444444444 0.8 40 50 23.500181 138.6294361 219.1013317
  34.657359028 149.786613678 230.258509299 345.3877639
E 2 0.5 100 10 1 0.2 0.333333333333 33.3333333333 133.333333333 0 189.7119985
  350.6557897 97.441160519 381.646030517 566.596068379 822.7510008
F 2 0.8 50 32 1.6 0.3298969072 0.711111111111 88.8888888889 138.888888889 44.027574
  331.8507108 533.0304499 102.001572296 395.534212601 596.8685118 884.7063108
H 4 0.75 40 75 3 0.2061068702 0.509433962264 20.3773584906 60.3773584906 0.74768532
  92.85108904 157.2286055 46.2513451446 165.123992097 240.252327062 343.5870488
I 8 0.5 100 40 4 0.03042005823 0.0590439946953 1.47609986738 101.476099867 0
  4.156495835 44.39244365 71.0343338692 301.522015633 462.466032623 692.7245437
L 32 0.8 50 512 25.6 0.03686126224 0.16062321359 1.25486885617 51.2548688562 0
  9.117486942 21.69122063 36.0936218116 151.252175421 231.724071159 346.8533258
N 100 0.9 200 450 90 0.02695738046 0.216940480906 4.33880961813 204.338809618 0
  29.35200058 61.54075883 143.385727323 603.910168735 925.797751222 1386.31477
"""
TOKENS = TABLE.split()
CASES = {row[0]: row[1:] for row in (TOKENS[i : i + 17] for i in range(0, 136, 17))}
WAIT_LEVELS = (0.5, 0.95, 0.99)
RESPONSE_LEVELS = (0.5, 0.95, 0.99, 0.999)


def assert_stated(actual: float, stated: str) -> None:
    """Equal at relative 1e-9, or at the digits the source prints if it prints fewer."""
    decimals = len(stated.split(".")[1]) if "." in stated else 0
    value = float(stated)
    tolerance = max(0.5 * 10.0**-decimals * 1.000001, 1e-9 * abs(value))
    assert abs(actual - value) <= tolerance, (actual, stated)


def case(case_id: str) -> tuple[int, float, float, list[str]]:
    """Servers, arrival rate [1/s], mean service [s] and the stated columns."""
    row = CASES[case_id]
    return int(row[0]), float(row[3]), float(row[2]) / 1000, row


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_erlang_b_and_c_match_table(case_id: str) -> None:
    servers, arrival, service, row = case(case_id)

    assert_stated(float(q.erlang_b(servers, arrival * service)), row[5])
    assert_stated(float(q.erlang_c(servers, arrival * service)), row[6])


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_means_match_table(case_id: str) -> None:
    servers, arrival, service, row = case(case_id)

    assert_stated(float(q.mmc_mean_wait_s(servers, arrival, service)) * 1e3, row[7])
    assert_stated(float(q.mmc_mean_response_s(servers, arrival, service)) * 1e3, row[8])


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_wait_quantiles_match_table(case_id: str) -> None:
    servers, arrival, service, row = case(case_id)

    quantiles = q.mmc_wait_quantile_s(np.array(WAIT_LEVELS), servers, arrival, service)

    for actual, stated in zip(quantiles * 1e3, row[9:12], strict=True):
        assert_stated(float(actual), stated)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_response_quantiles_match_table(case_id: str) -> None:
    servers, arrival, service, row = case(case_id)

    levels = np.array(RESPONSE_LEVELS)
    quantiles = q.mmc_response_quantile_s(levels, servers, arrival, service)

    for actual, stated in zip(quantiles * 1e3, row[12:16], strict=True):
        assert_stated(float(actual), stated)


def test_call_centre_helper_example() -> None:
    # 100 calls per 30 min, 180 s handling: A = 10 Erlang; 14 agents; 20 s target.
    arrival, handling = 100 / 1800, 180.0

    waiting = float(q.erlang_c(14, arrival * handling))
    level = 1 - float(q.mmc_wait_survival(20.0, 14, arrival, handling))
    levels = [
        1 - float(q.mmc_wait_survival(20.0, c, arrival, handling)) for c in (13, 14)
    ]

    assert round(waiting, 3) == 0.174
    assert round(level, 3) == 0.888
    assert round(arrival * handling / 14, 3) == 0.714
    assert levels[0] < 0.8 <= levels[1]


def test_hp12c_queuing_example_3() -> None:
    # 3 servers, lambda 1.2 per min, mu 0.5 per min: Wq 2.16 min, P0 0.06.
    arrival, service = 1.2 / 60, 60 / 0.5

    assert round(float(q.mmc_mean_wait_s(3, arrival, service)) / 60, 2) == 2.16
    assert round(float(q.mmc_empty_probability(3, 2.4)), 2) == 0.06


def test_render_stair_hanna_example() -> None:
    # lambda 20 per h, mu 30 per h, 2 servers: P0 = 1/2, L = 3/4.
    arrival, service = 20 / 3600, 3600 / 30

    assert float(q.mmc_empty_probability(2, 20 / 30)) == pytest.approx(0.5, rel=1e-12)
    assert float(q.mmc_mean_in_system(2, arrival, service)) == pytest.approx(0.75)


def test_worked_chain_of_section_3_2() -> None:
    # One t3.large with credits: M/M/2, mu = 20 per s, lambda = 24 per s.
    args = (2, 24.0, 0.050)

    assert float(q.erlang_c(2, 1.2)) == pytest.approx(0.45, rel=1e-12)
    assert float(q.mmc_mean_response_s(*args)) * 1e3 == pytest.approx(78.125)
    assert float(q.mmc_response_quantile_s(0.5, *args)) * 1e3 == pytest.approx(
        57.636, abs=5e-4
    )
    assert float(q.mmc_response_quantile_s(0.99, *args)) * 1e3 == pytest.approx(
        328.396, abs=5e-4
    )
    assert float(q.mmc_response_survival(1.0, *args)) == pytest.approx(
        2.5063e-7, abs=5e-11
    )


def test_erlang_c_stable_for_two_thousand_servers() -> None:
    # Factorial forms overflow past c = 170; the recursion must stay finite and sane.
    servers = np.array([170, 500, 2000])

    waiting = q.erlang_c(servers, 0.95 * servers)

    assert np.all(np.isfinite(waiting))
    assert np.all(np.diff(waiting) < 0)  # pooling: bigger pools wait less at equal rho
    assert 0 < waiting[-1] < 1


def test_erlang_b_broadcasts_an_array_of_servers() -> None:
    servers = np.array([[1], [2]])

    blocking = q.erlang_b(servers, np.array([0.5, 1.0]))

    # B(1, a) = a / (1 + a); B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2.
    assert blocking.shape == (2, 2)
    assert blocking[0, 0] == pytest.approx(1 / 3)
    assert blocking[1, 1] == pytest.approx(0.2)


def test_saturated_queue_has_infinite_means_and_quantiles() -> None:
    assert float(q.erlang_c(2, 2.0)) == 1.0
    assert math.isinf(float(q.mmc_mean_wait_s(2, 40.0, 0.05)))
    assert math.isinf(float(q.mmc_response_quantile_s(0.99, 2, 40.0, 0.05)))
    assert float(q.mmc_response_survival(100.0, 2, 40.0, 0.05)) == 1.0


def test_allen_cunneen_reduces_to_pollaczek_khinchine() -> None:
    # M/D/1, rho = 0.8, D = 10 ms: E[Wq] = rho D / (2 (1 - rho)) = 20 ms (P-K).
    mean_wait = g.allen_cunneen_mean_wait_s(1, 80.0, 0.010, service_scv=0.0)

    assert float(mean_wait) == pytest.approx(0.020, rel=1e-12)


def test_mgc_quantile_equals_mmc_at_unit_scv() -> None:
    args = (0.99, 4, 75.0, 0.040)

    assert float(g.mgc_response_quantile_s(*args)) == pytest.approx(
        float(q.mmc_response_quantile_s(*args)), rel=1e-12
    )
    assert float(g.mgc_response_quantile_s(*args, service_scv=0.0)) < float(
        q.mmc_response_quantile_s(*args)
    )


def test_mgc_wait_quantile_heuristic() -> None:
    # M/D/1, rho = 0.8, D = 10 ms: C = 0.8, E[Wq]_AC = 20 ms (P-K), so the heuristic
    # p99 is ln(0.8 / 0.01) x 20 / 0.8 ms = 109.551 ms; at SCV 1 it is exact M/M/c.
    deterministic = g.mgc_wait_quantile_s(0.99, 1, 80.0, 0.010, service_scv=0.0)
    exponential = g.mgc_wait_quantile_s(0.95, 4, 75.0, 0.040)

    assert float(deterministic) == pytest.approx(math.log(80) * 0.025, rel=1e-12)
    assert float(exponential) == pytest.approx(
        float(q.mmc_wait_quantile_s(0.95, 4, 75.0, 0.040)), rel=1e-12
    )


def test_round_robin_limits() -> None:
    # N = 1 is M/M/1 (sigma = rho); N -> inf is D/M/1, sigma = -rho W(-e^(-1/rho)/rho).
    rho = 0.7
    deterministic = float(np.real(-rho * lambertw(-math.exp(-1 / rho) / rho)))

    assert float(g.round_robin_wait_probability(1, rho)) == pytest.approx(rho)
    assert float(g.round_robin_wait_probability(2000, rho)) == pytest.approx(
        deterministic, rel=1e-3
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: q.erlang_b(0, 1.0), "servers=0 must be whole numbers >= 1"),
        (lambda: q.erlang_b(2.5, 1.0), r"servers=2.5 must be whole numbers"),
        (lambda: q.erlang_c(2, -1.0), "offered_load=-1.0 must be finite and >= 0"),
        (
            lambda: q.mmc_mean_wait_s(2, 1.0, 0.0),
            "service_s=0.0 must be finite and > 0",
        ),
        (lambda: q.mmc_wait_quantile_s(1.0, 2, 1.0, 0.1), r"p=1.0 must lie strictly"),
        (
            lambda: g.round_robin_wait_probability(3, 1.2),
            "utilisation_frac=1.2 must be < 1",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_fix(call: object, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        call()  # type: ignore[operator]


@given(
    servers=st.integers(1, 60),
    rho=st.floats(0.01, 0.98),
    step=st.floats(0.001, 0.01),
)
def test_latency_rises_with_utilisation(servers: int, rho: float, step: float) -> None:
    rates = np.array([rho, min(rho + step, 0.99)]) * servers / 0.05

    p99 = q.mmc_response_quantile_s(0.99, servers, rates, 0.05)
    waiting = q.erlang_c(servers, rates * 0.05)

    assert p99[1] >= p99[0]
    assert waiting[1] >= waiting[0]
    assert np.all((waiting >= 0) & (waiting <= 1))


@given(servers=st.integers(1, 40), rho=st.floats(0.05, 0.95), p=st.floats(0.05, 0.999))
def test_quantile_inverts_survival(servers: int, rho: float, p: float) -> None:
    arrival = rho * servers / 0.1

    quantile = q.mmc_response_quantile_s(p, servers, arrival, 0.1)

    survival = q.mmc_response_survival(quantile, servers, arrival, 0.1)
    assert float(survival) == pytest.approx(1 - p, rel=1e-9, abs=1e-15)


def simulate_mmc(
    servers: int, arrival: float, service: float, customers: int, seed: int
) -> tuple[float, float]:
    """Mean wait [s] and response p99 [s] from a simpy M/M/c run (first 10% dropped)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / arrival, customers)
    works = rng.exponential(service, customers)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    waits, responses = np.zeros(customers), np.zeros(customers)

    def customer(index: int) -> simpy.events.Process:
        arrived = env.now
        with desk.request() as slot:
            yield slot
            waits[index] = env.now - arrived
            yield env.timeout(works[index])
        responses[index] = env.now - arrived

    def source() -> simpy.events.Process:
        for index in range(customers):
            yield env.timeout(gaps[index])
            env.process(customer(index))

    env.process(source())
    env.run()
    kept = slice(customers // 10, None)
    return float(waits[kept].mean()), float(np.quantile(responses[kept], 0.99))


def test_discrete_event_simulation_agrees_with_exact_formulas() -> None:
    # c = 4, rho = 0.7, E[S] = 50 ms; 8 independent replications, 99 % t-intervals.
    servers, arrival, service = 4, 56.0, 0.05
    runs = np.array(
        [simulate_mmc(servers, arrival, service, 40_000, seed) for seed in range(8)]
    )
    half_width = student_t.ppf(0.995, len(runs) - 1) * runs.std(axis=0, ddof=1)
    half_width /= math.sqrt(len(runs))

    exact = (
        float(q.mmc_mean_wait_s(servers, arrival, service)),
        float(q.mmc_response_quantile_s(0.99, servers, arrival, service)),
    )

    assert abs(runs[:, 0].mean() - exact[0]) <= half_width[0]
    assert abs(runs[:, 1].mean() - exact[1]) <= half_width[1]
