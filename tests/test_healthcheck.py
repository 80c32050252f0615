"""Health-check probe models against closed forms and the independence limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from capacity import healthcheck as hc
from capacity.errors import ModelError


def test_probe_failure_probability_formula() -> None:
    # M/M/1, lambda 50, E[S] 10 ms: C = 0.5, theta = 50 per s; tau 0.1 s, h 0.02 s:
    # p = 0.5 exp(-50 (0.1 - 0.02)) = 0.5 e^-4.
    p = hc.probe_failure_probability(0.1, 1, 50.0, 0.010, probe_s=0.02)

    assert float(p) == pytest.approx(0.5 * math.exp(-4), rel=1e-12)


def test_probe_chain_failures_are_correlated() -> None:
    # At rho = 0.95 the relaxation time (~1/(mu (1 - sqrt rho))^2 ~ 13 s) is close to
    # the 5 s interval, so a failed probe makes the next failure far likelier than p.
    chain = hc.probe_chain(1.0, 5.0, 2, 1, 19.0, 0.05)

    assert chain.repeat_failure_frac > 1.5 * chain.failure_frac


def test_probe_chain_tends_to_independence_for_long_intervals() -> None:
    # Probes 600 s apart (~45 relaxation times) are independent: the chain must give
    # P(F2 | F1) = p and E[N_2] = (1 - p^2) / ((1 - p) p^2).
    chain = hc.probe_chain(1.0, 600.0, 2, 1, 19.0, 0.05)

    assert chain.repeat_failure_frac == pytest.approx(chain.failure_frac, rel=1e-4)
    assert chain.checks_to_unhealthy == pytest.approx(
        chain.independent_checks_to_unhealthy, rel=1e-4
    )


def test_probe_chain_first_failure_matches_closed_form() -> None:
    # Stationary P(fail) must equal C exp(-theta tau) of section 3.3.
    chain = hc.probe_chain(0.5, 5.0, 2, 2, 30.0, 0.05)

    expected = float(hc.probe_failure_probability(0.5, 2, 30.0, 0.05))
    assert chain.failure_frac == pytest.approx(expected, rel=1e-6)


def simulate_probes(
    arrival: float, service: float, timeout: float, interval: float, seed: int
) -> tuple[float, float]:
    """P(fail) and P(fail | previous failed) for probes into a simulated M/M/1.

    Requests follow Lindley's recursion; a probe sent at t waits the work left at t
    (FCFS), i.e. max(0, last departure time of earlier arrivals - t).
    """
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / arrival, 1_000_000))
    works = rng.exponential(service, arrivals.size)
    free = np.empty(arrivals.size)
    busy_until = 0.0
    for index, (start, work) in enumerate(zip(arrivals, works, strict=True)):
        busy_until = max(start, busy_until) + work
        free[index] = busy_until

    sent = np.arange(100.0, arrivals[-1] - 100.0, interval)
    ahead = free[np.searchsorted(arrivals, sent) - 1] - sent
    fail = ahead > timeout
    return float(fail.mean()), float((fail[1:] & fail[:-1]).sum() / fail[:-1].sum())


def test_probe_chain_agrees_with_simulation() -> None:
    # M/M/1, rho = 0.95, tau = 1 s, probes 5 s apart: strongly correlated.
    runs = np.array([simulate_probes(19.0, 0.05, 1.0, 5.0, seed) for seed in range(4)])
    half = student_t.ppf(0.995, 3) * runs.std(axis=0, ddof=1) / 2

    chain = hc.probe_chain(1.0, 5.0, 2, 1, 19.0, 0.05)

    assert abs(chain.failure_frac - runs[:, 0].mean()) <= half[0]
    assert abs(chain.repeat_failure_frac - runs[:, 1].mean()) <= half[1]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hc.probe_chain(5.0, 30.0, 0, 1, 1.0, 0.1), "unhealthy_threshold=0"),
        (lambda: hc.probe_chain(5.0, 30.0, 2, 1, 20.0, 0.1), "needs a stable target"),
        (lambda: hc.probe_failure_probability(0.0, 1, 1.0, 0.1), "timeout_s=0.0 must"),
        (
            lambda: hc.probe_failure_probability(1.0, 1, 1.0, 0.1, probe_s=-1.0),
            "probe_s=-1.0 must be finite and >= 0",
        ),
    ],
)
def test_bad_probe_settings_are_rejected(call: object, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        call()  # type: ignore[operator]
