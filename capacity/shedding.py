"""Backpressure: which share of traffic to shed, lowest priority first, to hold an SLO.

INCIDENT.md asks what shedding non-critical requests would have bought during the
outage. Shed requests are refused at the edge; the rest run through the fleet
model of :mod:`capacity.fleet`, and the kept share of each step is the largest one
whose p99 meets the objective.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capacity.catalog import InstanceType
from capacity.errors import ParameterError
from capacity.fleet import (
    FleetResult,
    check_queue_settings,
    fleet_performance,
    fleet_state,
)
from capacity.workload import Workload

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SheddingResult:
    """Load shedding by priority to hold p99 within an SLO, per step."""

    shed_frac: FloatArray  # share of all requests shed [0..1]
    class_shed_frac: dict[str, FloatArray]  # share of each class's requests shed
    p99_ms: FloatArray  # p99 of the requests kept [ms]
    failed_frac: FloatArray  # kept requests that still fail [0..1]
    slo_met: NDArray[np.bool_]  # p99 within the SLO after shedding


def shed_to_slo(
    workload: Workload,
    instance: InstanceType | str,
    count: int,
    *,
    p99_slo_ms: float,
    shares: Mapping[str, float],
    mode: str | None = None,
    start_credits: float | None = None,
    throttled_count: int | None = None,
    routing: str = "round_robin",
    request_timeout_s: float = 60.0,
    listen_queue: float = 4096.0,
) -> SheddingResult:
    """Backpressure: the least traffic to shed, lowest priority first, to meet an SLO.

    Parameters
    ----------
    workload, instance, count, mode, start_credits, throttled_count, routing
        As :func:`capacity.fleet.simulate_fleet`.
    p99_slo_ms : float
        Target 99th percentile response time of the requests kept [ms], > 0.
    shares : mapping of str to float
        Share of the traffic in each priority class [0..1], most important first;
        the shares sum to 1. The first class is never shed.
    request_timeout_s, listen_queue
        As :func:`capacity.fleet.simulate_fleet`.

    Returns
    -------
    SheddingResult
        Per step: share shed overall and per class, p99 and failures of the rest,
        and whether the SLO holds (it cannot once only the first class is left).

    Raises
    ------
    ParameterError
        For shares that are negative or do not sum to 1, or a non-positive SLO.

    Notes
    -----
    The kept fraction of each step is found by bisection on the fleet model. Shed
    requests are refused at the edge and cost no CPU; the credit ledger is run on the
    unshed demand, so the capacity is that of the unshed fleet (pessimistic when
    shedding would have saved credits).

    Examples
    --------
    >>> from capacity.workload import daily_profile
    >>> w = daily_profile(6e6, 1.0, days=1, step_s=3600, cpu_per_request_ms=50.0)
    >>> plan = shed_to_slo(w, "c5.large", 2, p99_slo_ms=500.0,
    ...                    shares={"checkout": 0.5, "search": 0.5})
    >>> bool(plan.slo_met.all() and plan.shed_frac.max() > 0)
    True
    """
    names, weights = _check_shares(shares, p99_slo_ms)
    state = fleet_state(
        workload,
        instance,
        count,
        mode,
        "linux",
        start_credits,
        routing,
        throttled_count,
    )
    check_queue_settings(1.0, request_timeout_s, listen_queue, 5.0, 1.0)

    def p99_at(kept: FloatArray) -> FleetResult:
        return fleet_performance(
            state, kept, workload.step_s, 1.0, request_timeout_s, listen_queue, 5.0, 0.0
        )

    sheddable = 1.0 - weights[0]
    low = np.full((1, workload.index.size), 1.0 - sheddable)
    high = np.ones_like(low)
    for _ in range(30):
        middle = 0.5 * (low + high)
        meets = p99_at(middle).p99_ms <= p99_slo_ms
        low = np.where(meets, middle, low)
        high = np.where(meets, high, middle)

    kept = np.where(p99_at(np.ones_like(low)).p99_ms <= p99_slo_ms, 1.0, low)
    final = p99_at(kept)
    shed = 1.0 - kept[0]
    return SheddingResult(
        shed_frac=shed,
        class_shed_frac=_class_shedding(names, weights, shed),
        p99_ms=final.p99_ms[0],
        failed_frac=final.failed_frac[0],
        slo_met=final.p99_ms[0] <= p99_slo_ms,
    )


def _class_shedding(
    names: list[str], weights: FloatArray, shed: FloatArray
) -> dict[str, FloatArray]:
    """Spread the shed share over classes from the least important one up."""
    remaining = shed.copy()
    shedding: dict[str, FloatArray] = {}
    for name, weight in reversed(list(zip(names, weights, strict=True))):
        taken = np.minimum(remaining, weight)
        shedding[name] = taken / weight if weight > 0 else np.zeros_like(shed)
        remaining = remaining - taken
    return {name: shedding[name] for name in names}


def _check_shares(
    shares: Mapping[str, float], p99_slo_ms: float
) -> tuple[list[str], FloatArray]:
    """Class names and shares in priority order, refused unless they sum to 1."""
    names = list(shares)
    weights = np.array([float(shares[name]) for name in names])
    if not names or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-9:
        raise ParameterError(
            f"shares={dict(shares)!r} must be non-negative fractions of the traffic "
            "summing to 1, most important class first"
        )
    if not p99_slo_ms > 0:
        raise ParameterError(
            f"p99_slo_ms={p99_slo_ms!r} must be > 0; pass the p99 target in ms"
        )
    return names, weights
