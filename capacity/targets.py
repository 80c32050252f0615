"""The queue of a group of identical targets, step by step, for the fleet model.

Below saturation a target is an M/G/c queue (exact M/M/c at unit service SCV); at or
above it, or while a backlog remains, a fluid queue whose backlog grows at arrivals
minus throughput up to a bound: the listen-queue limit, or the backlog the target
clears within the request timeout, whichever is smaller (DESIGN.md "Performance
model", QUEUEING.md 3.2). Past the bound the excess fails (refused, or given up by
the load balancer at its timeout) while the target keeps completing requests at its
full throughput: an overloaded target fails the excess of demand over capacity, not
every request. Percentiles of stable steps come from a table over the
utilisation levels present, so the cost does not grow with the number of steps.
Used by :mod:`capacity.fleet`; all arrays are (configs, steps).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from capacity import general_queues, queueing

FloatArray = NDArray[np.float64]

QUANTILE_LEVELS = (0.5, 0.95, 0.99)
GRID_STEP = 0.01  # spacing of the utilisation table in -ln(1 - rho)
MIXTURE_STEPS = 48  # bisection halvings for the percentiles of a mixed fleet


def fluid_backlog(
    excess_per_s: FloatArray, step_s: float, limit: float | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Mean backlog per step and requests failed at the bound, exact for a fluid.

    The backlog moves at ``excess_per_s`` (arrivals minus throughput) within
    [0, limit]; each step is split where it reaches a bound. ``limit`` is one
    number or one per step [count]; arrivals beyond it fail.
    """
    limits = np.ascontiguousarray(
        np.broadcast_to(np.asarray(limit, dtype=float), excess_per_s.shape)
    )
    return _fluid_backlog(np.ascontiguousarray(excess_per_s), step_s, limits)


@njit(cache=True)
def _fluid_backlog(
    excess_per_s: FloatArray, step_s: float, limits: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The compiled loop of :func:`fluid_backlog`, one limit per step."""
    configs, steps = excess_per_s.shape
    mean = np.zeros((configs, steps))
    dropped = np.zeros((configs, steps))
    for config in range(configs):
        backlog = 0.0
        for step in range(steps):
            rate = excess_per_s[config, step]
            limit = limits[config, step]
            over = max(backlog - limit, 0.0)  # a lower bound fails the surplus
            backlog -= over
            bound = limit if rate > 0 else 0.0
            hit_s = (bound - backlog) / rate if rate != 0 else np.inf
            if hit_s >= step_s:
                end = backlog + rate * step_s
                mean[config, step] = 0.5 * (backlog + end)
            else:
                area = 0.5 * (backlog + bound) * hit_s + bound * (step_s - hit_s)
                mean[config, step] = area / step_s
                dropped[config, step] = max(rate, 0.0) * (step_s - hit_s)
                end = bound
            dropped[config, step] += over
            backlog = end
    return mean, dropped


@dataclass(frozen=True)
class TargetQueue:
    """One group's queue in every step: the M/M/c or the fluid regime."""

    arrival_per_s: FloatArray  # per target [1/s]
    service_s: FloatArray  # mean service time at the step's speed [s]
    utilisation_frac: FloatArray  # offered load per server, may exceed 1
    fluid_wait_s: FloatArray  # backlog / throughput; 0 when the queue is stable
    dropped_frac: FloatArray  # arrivals refused or timed out past the bound [0..1]
    speed_frac: FloatArray  # share of each vCPU left for requests [0..1]
    fluid: NDArray[np.bool_]  # step in the fluid (overload or backlog) regime
    waiting_frac: FloatArray  # Erlang C of the stable steps [0..1]
    max_wait_s: FloatArray  # wait behind a backlog at its bound [s]


def target_queue(
    arrival_per_s: FloatArray,
    service_s: FloatArray,
    servers: int,
    speed_frac: FloatArray,
    step_s: float,
    listen_queue: float,
    request_timeout_s: float = math.inf,
) -> TargetQueue:
    """The queue of identical targets in every step: fluid backlog, drops, Erlang C.

    Parameters
    ----------
    arrival_per_s : numpy.ndarray
        Requests per second to each target, shape (configs, steps) or broadcastable.
    service_s : numpy.ndarray
        Mean service time of a request at the step's speed [s], (configs, steps).
    servers : int
        Workers per target (its vCPUs) [count].
    speed_frac : numpy.ndarray
        Share of each vCPU left for requests [0..1].
    step_s : float
        Step length [s].
    listen_queue : float
        Requests a target holds before refusing more [count].
    request_timeout_s : float
        Client or ALB timeout [s]; a request not started within it fails and
        costs the target no CPU. Infinite by default (no timeout).

    Returns
    -------
    TargetQueue

    Notes
    -----
    The backlog is bounded by ``min(listen_queue, throughput x timeout)``: past the
    listen queue new arrivals are refused, past the timeout the oldest waiting
    requests are given up by the load balancer (504) and skipped by the target,
    which keeps serving the rest at its full throughput. In a steady overload
    ``arrivals = k x throughput`` the failed share is therefore ``1 - 1/k``.
    """
    throughput = servers / service_s
    excess = np.ascontiguousarray(
        np.broadcast_to(arrival_per_s - throughput, service_s.shape)
    )
    bound = np.minimum(listen_queue, throughput * request_timeout_s)
    backlog, dropped = fluid_backlog(excess, step_s, bound)

    utilisation = np.broadcast_to(arrival_per_s / throughput, service_s.shape)
    fluid = (backlog > 0) | (utilisation >= 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped_frac = np.where(
            arrival_per_s > 0, np.minimum(dropped / (arrival_per_s * step_s), 1.0), 0.0
        )
    return TargetQueue(
        arrival_per_s=np.broadcast_to(arrival_per_s, service_s.shape),
        service_s=service_s,
        utilisation_frac=utilisation,
        fluid_wait_s=backlog / throughput,
        max_wait_s=bound / throughput,
        dropped_frac=dropped_frac,
        speed_frac=np.broadcast_to(speed_frac, service_s.shape),
        fluid=fluid,
        waiting_frac=table_lookup(
            utilisation,
            fluid,
            lambda rho: [queueing.erlang_c(servers, rho * servers)],
            grid_step=GRID_STEP / 10,
        )[0],
    )


def table_lookup(
    utilisation: FloatArray,
    fluid: NDArray[np.bool_],
    model: Callable[[FloatArray], Sequence[FloatArray] | FloatArray],
    log_scale: bool = False,
    grid_step: float = GRID_STEP,
) -> list[FloatArray]:
    """Evaluate ``model(rho)`` on a grid of the stable utilisations, interpolate.

    The grid runs over -ln(1 - rho) in steps of ``grid_step`` up to the largest stable
    level present, so its size does not grow with the number of steps; values are
    interpolated linearly (in their logarithm if ``log_scale``), relative error
    below about 1e-4 for the smooth M/M/c functions tabulated here.
    """
    stable = np.where(fluid, 0.0, np.clip(utilisation, 0.0, 1.0 - 1e-9))
    stretch = -np.log1p(-stable)
    grid = np.arange(0.0, stretch.max() + 2 * grid_step, grid_step)
    rows = model(-np.expm1(-grid))

    if log_scale:
        return [np.exp(np.interp(stretch, grid, np.log(row))) for row in rows]
    return [np.interp(stretch, grid, row) for row in rows]


def response_quantiles_s(
    queue: TargetQueue, servers: int, scv: float
) -> list[FloatArray]:
    """Response quantiles of one group [s]: fluid wait plus service, or M/G/c.

    Stable quantiles are capped at a full listen queue's wait plus the service
    quantile: the stationary M/G/c ignores the finite queue, which near saturation
    would let it predict waits no request can have.
    """

    def quantiles_scaled(rho: FloatArray) -> FloatArray:
        levels = np.array(QUANTILE_LEVELS)[:, None]
        return general_queues.mgc_response_quantile_s(
            levels, servers, rho * servers, 1.0, service_scv=scv
        )

    scaled = table_lookup(
        queue.utilisation_frac, queue.fluid, quantiles_scaled, log_scale=True
    )
    quantiles = []
    for level, stable in zip(QUANTILE_LEVELS, scaled, strict=True):
        service = -np.log1p(-level) * queue.service_s
        capped = np.minimum(stable * queue.service_s, queue.max_wait_s + service)
        quantiles.append(np.where(queue.fluid, queue.fluid_wait_s + service, capped))
    return quantiles


def response_survival(
    t_s: FloatArray, queue: TargetQueue, servers: int, scv: float
) -> FloatArray:
    """P(T > t) for one group's targets: M/G/c when stable, shifted service if not."""
    load = np.minimum(queue.utilisation_frac, 1.0 - 1e-9) * servers
    decay = (servers - load) * 2.0 / (1.0 + scv)
    scaled_t = t_s / queue.service_s

    stable = queueing.response_survival_scaled(scaled_t, queue.waiting_frac, decay)
    shifted = np.exp(-np.maximum(t_s - queue.fluid_wait_s, 0.0) / queue.service_s)
    return np.where(queue.fluid, shifted, stable)


def mixture_quantiles_s(
    queues: list[TargetQueue],
    weights: list[FloatArray],
    single: list[list[FloatArray]],
    servers: int,
    scv: float,
) -> list[FloatArray]:
    """Quantiles of the request-weighted mixture of two groups, by bisection."""
    mixed = []
    for index, level in enumerate(QUANTILE_LEVELS):
        low = np.minimum(single[0][index], single[1][index])
        high = np.maximum(single[0][index], single[1][index])
        for _ in range(MIXTURE_STEPS):
            middle = 0.5 * (low + high)
            survival = sum(
                weight * response_survival(middle, queue, servers, scv)
                for weight, queue in zip(weights, queues, strict=True)
            )
            above = survival > 1.0 - level
            low = np.where(above, middle, low)
            high = np.where(above, high, middle)
        mixed.append(0.5 * (low + high))
    return mixed


def failed_frac(
    queue: TargetQueue,
    servers: int,
    scv: float,
    request_timeout_s: float,
    p99_s: FloatArray,
) -> FloatArray:
    """Requests refused, given up at the timeout, or still unserved at the timeout.

    In a backlog the failures are the queue's ``dropped_frac`` (arrivals past its
    bound, see :func:`target_queue`); the requests it serves wait at most the
    timeout and succeed (their service time, well under a second, is neglected
    against the timeout). A backlog wait beyond the timeout, possible only for a
    queue built without it, fails every request. The stable tail is evaluated only
    where the timeout is under 40 times the p99: beyond that the exponential tail
    is below 1e-40 and counted as 0.
    """
    late = (queue.fluid & (queue.fluid_wait_s > request_timeout_s)).astype(float)
    near = ~queue.fluid & (request_timeout_s < 40.0 * p99_s)
    timeout = np.full(int(near.sum()), request_timeout_s)
    late[near] = response_survival(timeout, subset(queue, near), servers, scv)
    return queue.dropped_frac + (1.0 - queue.dropped_frac) * late


def subset(queue: TargetQueue, mask: NDArray[np.bool_]) -> TargetQueue:
    """The elements of every per-step array of ``queue`` where ``mask`` holds."""
    fields = {
        name: getattr(queue, name)[mask] for name in TargetQueue.__dataclass_fields__
    }
    return TargetQueue(**fields)


def probe_fail_frac(
    queue: TargetQueue, servers: int, hc_timeout_s: float, hc_probe_s: float
) -> FloatArray:
    """P(a probe waits past its timeout): C exp(-theta (tau - h)) or the fluid wait."""
    speed_probe_s = hc_probe_s / queue.speed_frac
    load = np.minimum(queue.utilisation_frac, 1.0 - 1e-9) * servers
    slack_s = np.maximum(hc_timeout_s - speed_probe_s, 0.0)

    decay = (servers - load) / queue.service_s
    stable = queue.waiting_frac * np.exp(-decay * slack_s)
    overloaded = (queue.fluid_wait_s + speed_probe_s > hc_timeout_s).astype(float)
    return np.where(queue.fluid, overloaded, np.where(slack_s > 0, stable, 1.0))


def single_group_performance(
    arrival_per_s: FloatArray,
    service_s: FloatArray,
    speed_frac: FloatArray,
    servers: int,
    scv: float,
    step_s: float,
    listen_queue: float,
    request_timeout_s: float,
    hc_timeout_s: float,
    hc_probe_s: float,
) -> list[FloatArray]:
    """p50, p95, p99 [s], failed and probe-failure shares and busy share of a fleet
    of identical targets, in one compiled pass over (configs, steps).

    The same model as :func:`target_queue`, :func:`response_quantiles_s`,
    :func:`failed_frac` and :func:`probe_fail_frac` together, fused so that the
    cost per step is a few arithmetic operations; the tables in utilisation are
    built once per call, as in :func:`table_lookup`.
    """
    arrival = np.ascontiguousarray(np.broadcast_to(arrival_per_s, service_s.shape))
    service = np.ascontiguousarray(service_s)
    speed = np.ascontiguousarray(np.broadcast_to(speed_frac, service_s.shape))
    rho = arrival * service / servers
    stable_rho = rho[rho < 1]
    top = float(stable_rho.max(initial=0.0))
    stretch_top = -np.log1p(-min(top, 1.0 - 1e-9))

    fine = np.arange(0.0, stretch_top + 2 * GRID_STEP, GRID_STEP / 10)
    coarse = np.arange(0.0, stretch_top + 2 * GRID_STEP, GRID_STEP)
    waiting = queueing.erlang_c(servers, -np.expm1(-fine) * servers)
    levels = np.array(QUANTILE_LEVELS)
    log_quantiles = np.log(
        general_queues.mgc_response_quantile_s(
            levels[:, None], servers, -np.expm1(-coarse) * servers, 1.0, service_scv=scv
        )
    )
    limits = (step_s, listen_queue, request_timeout_s, hc_timeout_s, hc_probe_s)
    return list(
        _single_group_kernel(
            arrival,
            service,
            speed,
            servers,
            scv,
            limits,
            waiting,
            GRID_STEP / 10,
            np.ascontiguousarray(log_quantiles),
            GRID_STEP,
            levels,
        )
    )


@njit(cache=True)
def _interpolate(table: FloatArray, spacing: float, at: float) -> float:
    """Linear interpolation in a table on the grid 0, spacing, 2 spacing, ..."""
    position = at / spacing
    index = min(int(position), table.size - 2)
    weight = position - index
    return table[index] * (1.0 - weight) + table[index + 1] * weight


@njit(cache=True)
def _survival_scaled(t: float, waiting: float, decay: float) -> float:
    """P(T > t), t in mean service times (see queueing.response_survival_scaled)."""
    gap = 1.0 - decay
    if gap == 0.0:
        convolution = t * math.exp(-t)
    elif abs(gap * t) < 1.0:
        convolution = math.exp(-t) * math.expm1(gap * t) / gap
    else:
        convolution = (math.exp(-decay * t) - math.exp(-t)) / gap
    return math.exp(-t) + waiting * convolution


@njit(cache=True)
def _single_group_kernel(
    arrival: FloatArray,
    service: FloatArray,
    speed: FloatArray,
    servers: int,
    scv: float,
    limits: tuple[float, float, float, float, float],
    waiting_table: FloatArray,
    waiting_spacing: float,
    log_quantile_table: FloatArray,
    quantile_spacing: float,
    levels: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The fused per-step loop of :func:`single_group_performance`."""
    step_s, listen_queue, request_timeout_s, hc_timeout_s, hc_probe_s = limits
    configs, steps = service.shape
    p50 = np.empty((configs, steps))
    p95 = np.empty((configs, steps))
    p99 = np.empty((configs, steps))
    failed = np.empty((configs, steps))
    probes = np.empty((configs, steps))
    busy = np.empty((configs, steps))
    tails = -np.log1p(-levels)  # service-time quantiles in mean service times

    for config in range(configs):
        backlog = 0.0
        for step in range(steps):
            rate = arrival[config, step]
            mean_s = service[config, step]
            throughput = servers / mean_s
            rho = rate / throughput
            busy[config, step] = min(rho, 1.0)

            excess = rate - throughput
            limit = min(listen_queue, throughput * request_timeout_s)
            dropped = max(backlog - limit, 0.0)  # a lower bound fails the surplus
            backlog -= dropped
            bound = limit if excess > 0 else 0.0
            hit_s = (bound - backlog) / excess if excess != 0 else np.inf
            if hit_s >= step_s:
                end = backlog + excess * step_s
                mean_backlog = 0.5 * (backlog + end)
            else:
                area = 0.5 * (backlog + bound) * hit_s + bound * (step_s - hit_s)
                mean_backlog = area / step_s
                dropped += max(excess, 0.0) * (step_s - hit_s)
                end = bound
            backlog = end
            dropped_frac = min(dropped / (rate * step_s), 1.0) if rate > 0 else 0.0

            probe_s = hc_probe_s / speed[config, step]
            max_wait_s = limit / throughput
            if mean_backlog > 0 or rho >= 1:
                wait_s = mean_backlog / throughput
                p50[config, step] = wait_s + tails[0] * mean_s
                p95[config, step] = wait_s + tails[1] * mean_s
                p99[config, step] = wait_s + tails[2] * mean_s
                late = 0.0  # the failures are the arrivals past the bound
                probes[config, step] = 1.0 if wait_s + probe_s > hc_timeout_s else 0.0
            else:
                stretch = -math.log1p(-rho)
                chance = _interpolate(waiting_table, waiting_spacing, stretch)
                for level, out in ((0, p50), (1, p95), (2, p99)):
                    row = log_quantile_table[level]
                    scaled = math.exp(_interpolate(row, quantile_spacing, stretch))
                    cap = max_wait_s + tails[level] * mean_s
                    out[config, step] = min(scaled * mean_s, cap)
                load = rho * servers
                late = 0.0
                if request_timeout_s < 40.0 * p99[config, step]:
                    decay = (servers - load) * 2.0 / (1.0 + scv)
                    late = _survival_scaled(request_timeout_s / mean_s, chance, decay)
                slack_s = max(hc_timeout_s - probe_s, 0.0)
                probes[config, step] = (
                    chance * math.exp(-(servers - load) * slack_s / mean_s)
                    if slack_s > 0
                    else 1.0
                )
            failed[config, step] = dropped_frac + (1.0 - dropped_frac) * late
    return p50, p95, p99, failed, probes, busy
