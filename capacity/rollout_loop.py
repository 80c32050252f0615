"""The compiled per-second loop behind :func:`capacity.rollout.simulate_rollout`.

Task slots hold a state (below), a version, a speed, CPU credits and a backlog; every
simulated second ECS stops and starts tasks, the ALB routes to its targets, each
task serves its share and is probed. The module notes of :mod:`capacity.rollout`
describe the model; this module only holds the numba code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Task states, stored as small integers in the compiled loop.
EMPTY, STARTING, INITIAL, HEALTHY, UNHEALTHY, DRAINING = range(6)
BISECTION_STEPS = 40


@njit(cache=True)
def _round_robin_sigma(targets: int, utilisation: float) -> float:
    """GI/M/1 sigma for Erlang(targets) gaps (QUEUEING.md 1.9), by bisection."""
    if utilisation <= 0.0:
        return 0.0
    rate = targets * utilisation
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        if middle < (rate / (rate + 1.0 - middle)) ** targets:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


@njit(cache=True)
def _mixture_p99(waits: FloatArray, rates: FloatArray, count: int) -> float:
    """p99 of an equal-weight mixture of shifted exponentials wait + Exp(rate)."""
    if count == 0:
        return np.nan
    alike = True
    for i in range(1, count):
        alike = alike and waits[i] == waits[0] and rates[i] == rates[0]
    if alike:  # one component: the shifted exponential's own quantile
        return waits[0] + math.log(100.0) / rates[0]
    low, high = 0.0, 0.0
    for i in range(count):
        high = max(high, waits[i] + math.log(100.0) / rates[i])
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        survival = 0.0
        for i in range(count):
            if middle <= waits[i]:
                survival += 1.0
            else:
                survival += math.exp(-rates[i] * (middle - waits[i]))
        if survival / count > 0.01:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


@njit(cache=True)
def _ecs_stop(
    state: NDArray[np.int64],
    is_new: NDArray[np.bool_],
    launched: FloatArray,
    drain_end: FloatArray,
    now: float,
    grace_s: float,
    drain_s: float,
    min_healthy: int,
) -> None:
    """ECS stops unhealthy tasks past their grace period, then old healthy ones
    while at least ``min_healthy`` stay healthy; stopped tasks start draining."""
    healthy = 0
    for i in range(state.size):
        if state[i] == HEALTHY:
            healthy += 1
    for i in range(state.size):
        if state[i] == UNHEALTHY and now - launched[i] >= grace_s:
            state[i] = DRAINING
            drain_end[i] = now + drain_s
        elif state[i] == HEALTHY and not is_new[i] and healthy > min_healthy:
            state[i] = DRAINING
            drain_end[i] = now + drain_s
            healthy -= 1


@njit(cache=True)
def _alb_targets(state: NDArray[np.int64]) -> tuple[int, bool]:
    """Targets the ALB routes to: the healthy ones, or, failing open, all registered."""
    healthy, registered = 0, 0
    for i in range(state.size):
        if state[i] == HEALTHY:
            healthy += 1
        elif state[i] == INITIAL or state[i] == UNHEALTHY:
            registered += 1
    if healthy > 0:
        return healthy, False
    return registered, True


@njit(cache=True)
def _alb_health(
    state: NDArray[np.int64],
    passes: NDArray[np.int64],
    fails: NDArray[np.int64],
    i: int,
    failing: bool,
    healthy_threshold: int,
    unhealthy_threshold: int,
) -> None:
    """Count one probe of target ``i`` and apply the ALB thresholds."""
    if failing:
        fails[i] += 1
        passes[i] = 0
        if state[i] == HEALTHY and fails[i] >= unhealthy_threshold:
            state[i] = UNHEALTHY
    else:
        passes[i] += 1
        fails[i] = 0
        if state[i] != HEALTHY and passes[i] >= healthy_threshold:
            state[i] = HEALTHY


@njit(cache=True)
def _census(
    state: NDArray[np.int64], is_new: NDArray[np.bool_]
) -> tuple[int, int, int, int]:
    """Healthy, new healthy, running and old running tasks [count]."""
    healthy, new_healthy, running, old_left = 0, 0, 0, 0
    for i in range(state.size):
        if state[i] == HEALTHY:
            healthy += 1
            new_healthy += int(is_new[i])
        if state[i] != EMPTY:
            running += 1
            old_left += int(not is_new[i])
    return healthy, new_healthy, running, old_left


@njit(cache=True)
def rollout_loop(
    seconds: int,
    slots: int,
    desired: int,
    min_healthy: int,
    arrival_per_s: float,
    new_capacity_per_s: float,
    old_capacity_per_s: float,
    task_vcpu: float,
    new_credits: float,
    new_baseline: float,
    old_speed: float,
    old_healthy: int,
    interval_s: float,
    timeout_s: float,
    healthy_threshold: int,
    unhealthy_threshold: int,
    probe_s: float,
    grace_s: float,
    start_s: float,
    drain_s: float,
    request_timeout_s: float,
    listen_queue: float,
    phases: FloatArray,
    draws: FloatArray,
) -> tuple:
    """The per-second state machine of tasks, ECS and the ALB (see module notes)."""
    state = np.zeros(slots, np.int64)
    is_new = np.zeros(slots, np.bool_)
    capacity = np.zeros(slots)  # requests per second at the host's speed
    speed = np.ones(slots)
    credits = np.full(slots, np.inf)  # CPU credits of a task's share of its host
    credit_cap = new_baseline * task_vcpu * 60.0 * 24.0  # 24 h of earnings
    backlog = np.zeros(slots)  # the queue with its fluctuations [requests]
    fluid = np.zeros(slots)  # its deterministic (mean-flow) part [requests]
    launched = np.zeros(slots)
    next_probe = np.zeros(slots)
    passes = np.zeros(slots, np.int64)
    fails = np.zeros(slots, np.int64)
    drain_end = np.zeros(slots)

    for i in range(desired):
        state[i] = HEALTHY if i < old_healthy else UNHEALTHY
        capacity[i] = old_capacity_per_s * old_speed
        speed[i] = old_speed
        launched[i] = -1e9
        next_probe[i] = phases[i]

    healthy_out = np.zeros(seconds, np.int64)
    new_healthy_out = np.zeros(seconds, np.int64)
    running_out = np.zeros(seconds, np.int64)
    served_out = np.zeros(seconds)
    failed_out = np.zeros(seconds)
    p99_out = np.zeros(seconds)
    converged_s = -1.0
    waits = np.zeros(slots)
    rates = np.zeros(slots)

    for second in range(seconds):
        now = float(second)
        failed = 0.0

        _ecs_stop(
            state, is_new, launched, drain_end, now, grace_s, drain_s, min_healthy
        )
        for i in range(slots):
            if state[i] == DRAINING and now >= drain_end[i]:
                # Requests still queued fail (the backlog never exceeds the timeout).
                failed += backlog[i]
                backlog[i] = 0.0
                fluid[i] = 0.0
                state[i] = EMPTY

        # ECS: start new-version tasks up to the desired count and maximumPercent.
        active, serving = 0, 0
        for i in range(slots):
            if state[i] != EMPTY:
                active += 1
                if state[i] != DRAINING:
                    serving += 1
        for i in range(slots):
            if state[i] == EMPTY and serving < desired and active < slots:
                state[i] = STARTING
                if credits[i] == np.inf:  # the slot's host: launch credits, once
                    credits[i] = new_credits
                is_new[i] = True
                speed[i] = 1.0 if credits[i] > 0 else new_baseline
                capacity[i] = new_capacity_per_s * speed[i]
                launched[i] = now
                passes[i] = 0
                fails[i] = 0
                active += 1
                serving += 1
            if state[i] == STARTING and now - launched[i] >= start_s:
                state[i] = INITIAL
                next_probe[i] = now + phases[i]

        # ALB: round robin over healthy targets, or over all registered ones.
        routed, fail_open = _alb_targets(state)
        share = arrival_per_s / routed if routed > 0 else 0.0
        if routed == 0:
            failed += arrival_per_s

        count = 0
        cached_utilisation, cached_sigma = -1.0, 0.0
        for i in range(slots):
            takes = state[i] == HEALTHY or (
                fail_open and (state[i] == INITIAL or state[i] == UNHEALTHY)
            )
            arrivals = share if takes else 0.0
            if state[i] == EMPTY or state[i] == STARTING:
                continue
            bound = min(listen_queue, capacity[i] * request_timeout_s)
            processed = min(backlog[i] + arrivals, capacity[i])
            spread = math.sqrt(arrivals / max(routed, 1) + min(arrivals, capacity[i]))
            noise = spread * draws[second, i]
            backlog[i] = max(backlog[i] + arrivals - capacity[i] + noise, 0.0)
            # Past the bound the excess is refused or timed out and skipped; the
            # task keeps serving the rest at its capacity.
            overflow = max(backlog[i] - bound, 0.0)
            backlog[i] -= overflow
            failed += overflow
            if is_new[i] and credits[i] < np.inf:
                busy_vcpu = task_vcpu * processed / new_capacity_per_s
                earned = (new_baseline * task_vcpu - busy_vcpu) / 60.0
                credits[i] = min(max(credits[i] + earned, 0.0), credit_cap)
                speed[i] = 1.0 if credits[i] > 0 else new_baseline
                capacity[i] = new_capacity_per_s * speed[i]
            flow = fluid[i] + arrivals - capacity[i]
            fluid[i] = min(max(flow, 0.0), bound)
            if takes:
                utilisation = arrivals / capacity[i]
                if utilisation != cached_utilisation:
                    cached_utilisation = utilisation
                    cached_sigma = _round_robin_sigma(routed, utilisation)
                stable = utilisation < 1.0
                waits[count] = fluid[i] / capacity[i]
                rates[count] = capacity[i] * (1.0 - cached_sigma if stable else 1.0)
                count += 1

            # Health check: the probe waits behind the backlog (FCFS).
            registered = state[i] == INITIAL or state[i] == HEALTHY
            registered = registered or state[i] == UNHEALTHY
            if registered and now >= next_probe[i]:
                next_probe[i] += interval_s
                probe_wait = backlog[i] / capacity[i] + probe_s / speed[i]
                failing = probe_wait > timeout_s or backlog[i] >= listen_queue
                _alb_health(
                    state,
                    passes,
                    fails,
                    i,
                    failing,
                    healthy_threshold,
                    unhealthy_threshold,
                )

        healthy, new_healthy, running, old_left = _census(state, is_new)
        if converged_s < 0 and new_healthy == desired and old_left == 0:
            converged_s = now

        healthy_out[second] = healthy
        new_healthy_out[second] = new_healthy
        running_out[second] = running
        served_out[second] = max(arrival_per_s - failed, 0.0)
        failed_out[second] = failed
        p99_out[second] = _mixture_p99(waits, rates, count)

    return (
        healthy_out,
        new_healthy_out,
        running_out,
        served_out,
        failed_out,
        p99_out,
        converged_s,
    )
