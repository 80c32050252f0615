"""The per-step target queue: exact fluid backlog, and the utilisation table."""

from __future__ import annotations

import numpy as np
import pytest

from capacity import queueing
from capacity.targets import (
    failed_frac,
    fluid_backlog,
    probe_fail_frac,
    response_quantiles_s,
    single_group_performance,
    target_queue,
)


def test_fluid_backlog_grows_linearly_below_the_limit() -> None:
    # 12 req/s of excess for 60 s from empty: mean backlog 12 x 60 / 2 = 360.
    mean, dropped = fluid_backlog(np.full((1, 1), 12.0), 60.0, 4096.0)

    assert mean[0, 0] == pytest.approx(360.0)
    assert dropped[0, 0] == 0.0


def test_fluid_backlog_splits_the_step_at_the_limit() -> None:
    # Limit 300 reached after 25 s: mean (150 x 25 + 300 x 35) / 60 = 237.5 and
    # 12 x 35 = 420 requests refused; the next step drains 300 at 6 req/s, empty
    # after 50 s: mean 150 x 50 / 60 = 125.
    excess = np.array([[12.0, -6.0]])

    mean, dropped = fluid_backlog(excess, 60.0, 300.0)

    assert mean[0, 0] == pytest.approx(237.5)
    assert dropped[0, 0] == pytest.approx(420.0)
    assert mean[0, 1] == pytest.approx(125.0)


def test_fluid_backlog_empties_inside_a_step() -> None:
    # 100 requests draining at 10 req/s empty after 10 s: mean 100 x 10 / 2 / 60.
    mean, _ = fluid_backlog(np.array([[100 / 60, -10.0]]), 60.0, 4096.0)

    assert mean[0, 1] == pytest.approx(500.0 / 60.0)


def test_table_quantiles_match_the_exact_formula() -> None:
    rho = np.linspace(0.01, 0.995, 400)[None, :]
    service = np.full(rho.shape, 0.05)
    queue = target_queue(rho * 4 / 0.05, service, 4, np.ones(rho.shape), 60.0, 1e9)

    p99 = response_quantiles_s(queue, 4, 1.0)[2]

    exact = queueing.mmc_response_quantile_s(0.99, 4, rho * 4 / 0.05, 0.05)
    np.testing.assert_allclose(p99, exact, rtol=1e-4)


def test_stable_quantiles_are_capped_by_a_full_listen_queue() -> None:
    # rho = 0.9999 on one worker of 50 ms: stationary p99 ~ ln(100) x 500 s, but a
    # listen queue of 100 holds at most 100 x 0.05 = 5 s of waiting.
    queue = target_queue(
        np.array([[19.998]]), np.array([[0.05]]), 1, np.ones((1, 1)), 60.0, 100.0
    )

    p99 = response_quantiles_s(queue, 1, 1.0)[2]

    assert p99[0, 0] == pytest.approx(5.0 + 0.05 * np.log(100))


def test_fused_kernel_equals_the_step_by_step_functions() -> None:
    # Both implement the same model; the functions are checked by hand above and in
    # test_fleet, the fused loop must reproduce them on a load sweep with overload.
    rho = np.concatenate([np.linspace(0.05, 0.999, 300), np.linspace(1.0, 1.4, 60)])
    arrival = (rho * 2 / 0.02)[None, :]
    service = np.full(arrival.shape, 0.02)
    speed = np.ones(arrival.shape)
    queue = target_queue(arrival, service, 2, speed, 60.0, 4096.0)

    fused = single_group_performance(
        arrival, service, speed, 2, 1.0, 60.0, 4096.0, 60.0, 5.0, 0.001
    )

    quantiles = response_quantiles_s(queue, 2, 1.0)
    for separate, together in zip(quantiles, fused[:3], strict=True):
        np.testing.assert_allclose(together, separate, rtol=1e-12)
    np.testing.assert_allclose(
        fused[3], failed_frac(queue, 2, 1.0, 60.0, quantiles[2]), rtol=1e-12
    )
    np.testing.assert_allclose(
        fused[4], probe_fail_frac(queue, 2, 5.0, 0.001), rtol=1e-9, atol=1e-300
    )
