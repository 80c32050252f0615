"""The fleet model: from traffic, instance type, count and credit mode to user pain.

Per step of a :class:`~capacity.workload.Workload`: the traffic and CPU per request give
each instance's demand; the credit ledger says which instances are held to baseline;
each target is then an M/M/c queue (c = vCPUs, each running at the speed the ledger
allows, QUEUEING.md 3.2), or, at or above saturation, a fluid queue whose backlog grows
to the listen-queue limit or to what the target clears within the request timeout.
An overloaded target keeps serving at its capacity and fails the excess (refused at
a full listen queue, or given up by the ALB at its timeout). From that come
utilisation, response-time percentiles, the share of requests that fail and the
probability that a health-check probe times out.

Everything is vectorised over (configs, steps): ``count`` may be a sequence of instance
counts, and the response-time percentiles of stable steps are read from a table built
on the utilisation levels present, so one call over 20,160 steps takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capacity.catalog import InstanceType, get_instance
from capacity.credits import LedgerSummary, run_ledger
from capacity.errors import ParameterError
from capacity.targets import (
    TargetQueue,
    failed_frac,
    mixture_quantiles_s,
    probe_fail_frac,
    response_quantiles_s,
    single_group_performance,
    target_queue,
)
from capacity.workload import Workload

FloatArray = NDArray[np.float64]

ROUTINGS = ("round_robin", "least_outstanding")


@dataclass(frozen=True)
class FleetResult:
    """Per-step fleet performance: arrays of shape (steps,), or (configs, steps)."""

    demand_vcpu: FloatArray  # busy vCPUs the traffic asks of the whole fleet [vCPU]
    delivered_vcpu: FloatArray  # busy vCPUs the fleet can deliver to it [vCPU]
    utilisation_frac: FloatArray  # mean busy share of the targets' capacity [0..1]
    p50_ms: FloatArray  # median response time over all requests [ms]
    p95_ms: FloatArray  # 95th percentile response time [ms]
    p99_ms: FloatArray  # 99th percentile response time [ms]
    failed_frac: FloatArray  # requests dropped or timed out (ALB 502/504) [0..1]
    hc_fail_frac: FloatArray  # probability a health-check probe times out [0..1]
    balance_credits: FloatArray  # earned balance per ledger instance; NaN if fixed
    surplus_charged_credits: FloatArray  # surplus charged in the step, fleet [credits]
    throttled: NDArray[np.bool_]  # some instance is held below its demand
    summary: LedgerSummary | None  # ledger totals per config; None for fixed types


@dataclass(frozen=True)
class _Group:
    """Targets of one kind (fresh or held at baseline), all arrays (configs, steps)."""

    targets: FloatArray  # instances in the group [count], shape (configs, 1)
    capacity_vcpu: FloatArray  # vCPU per target left for requests [vCPU]
    share_frac: FloatArray  # share of all requests routed to the group [0..1]


@dataclass(frozen=True)
class FleetState:
    """What the ledger decided, before queueing: capacity and routing per step."""

    instance: InstanceType
    counts: FloatArray  # instances per config [count], shape (configs, 1)
    requests_per_s: FloatArray  # fleet arrival rate [1/s], shape (1, steps)
    cpu_per_request_s: FloatArray  # CPU work per request [s], shape (1, steps)
    background_vcpu: FloatArray  # per-instance background load [vCPU], (1, steps)
    groups: tuple[_Group, _Group]
    throttled: NDArray[np.bool_]  # some instance below full speed, (configs, steps)
    balance_credits: FloatArray
    surplus_charged_credits: FloatArray
    summary: LedgerSummary | None


def simulate_fleet(
    workload: Workload,
    instance: InstanceType | str,
    count: int | Sequence[int],
    mode: str | None = None,
    *,
    os: str = "linux",
    start_credits: float | None = None,
    routing: str = "round_robin",
    service_scv: float = 1.0,
    request_timeout_s: float = 60.0,
    listen_queue: float = 4096.0,
    hc_timeout_s: float = 5.0,
    hc_probe_ms: float = 1.0,
    throttled_count: int | Sequence[int] | None = None,
) -> FleetResult:
    """Latency, errors and health-check failures of a fleet over a workload.

    Parameters
    ----------
    workload : Workload
        Traffic [1/s], CPU per request [s] and background load [vCPU] per step.
    instance : InstanceType or str
        Instance type, e.g. ``"t3.large"``.
    count : int or sequence of int
        Instances behind the load balancer [count]; a sequence gives one config each.
    mode : {"standard", "unlimited"}, optional
        Credit mode of a burstable type; None for the AWS default.
    os : str
        Operating system, for the surplus-credit rate.
    start_credits : float, optional
        Earned balance per instance at the start [credits]; None for a full bucket
        (a fleet that has run below baseline for a day).
    routing : {"round_robin", "least_outstanding"}
        ALB algorithm: equal shares per target, or shares in proportion to capacity.
    service_scv : float
        Squared coefficient of variation of request CPU time [dimensionless].
    request_timeout_s : float
        Client or ALB timeout [s]; requests not started by then fail (504) and
        cost the target no CPU.
    listen_queue : float
        Requests a target holds before refusing more [count]; 4096 is Linux's
        default net.core.somaxconn since kernel 5.4.
    hc_timeout_s : float
        Health-check timeout tau [s].
    hc_probe_ms : float
        CPU work of one health-check probe at full speed [ms].
    throttled_count : int or sequence of int, optional
        Instances held at baseline for the whole horizon (hosts already out of
        credits in standard mode); the rest run through the ledger.

    Returns
    -------
    FleetResult
        Per-step arrays, shape (steps,) for one ``count`` or (configs, steps).

    Raises
    ------
    ParameterError
        For an unknown routing, counts below 1, ``throttled_count`` above ``count``
        or a non-positive timeout, queue or probe time.
    CatalogError
        For an unknown instance type (from the catalog).

    Notes
    -----
    A throttled instance delivers ``baseline_frac`` of each vCPU; the ledger's
    throttled share of a step lowers that step's capacity in proportion (a step's
    capacity is its time average). Round robin sends equal shares, so a slow target
    can be unstable while the fleet has spare capacity; least outstanding requests
    is modelled as capacity-proportional shares, an optimistic bound (QUEUEING.md
    3.2). Poisson splitting is used for both (conservative for round robin). Stable
    steps use the exact M/M/c response time (Allen-Cunneen tail for
    ``service_scv != 1``); steps with a backlog use the fluid wait backlog /
    throughput plus one service time. The backlog is bounded by the listen queue
    and by throughput x timeout: in a steady overload of k times a target's
    capacity it fails 1 - 1/k of its requests and serves the rest after about the
    timeout (see :func:`capacity.targets.target_queue`). Health-check probes wait
    in the same queue (QUEUEING.md 3.3).

    References
    ----------
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html

    Examples
    --------
    >>> from capacity.workload import daily_profile
    >>> w = daily_profile(2e6, 1.0, days=1, cpu_per_request_ms=50.0)
    >>> result = simulate_fleet(w, "c5.large", 2)
    >>> bool(result.p99_ms.max() < 1000)
    True
    """
    state = fleet_state(
        workload, instance, count, mode, os, start_credits, routing, throttled_count
    )
    check_queue_settings(
        service_scv, request_timeout_s, listen_queue, hc_timeout_s, hc_probe_ms
    )
    result = fleet_performance(
        state,
        np.ones((1, 1)),
        workload.step_s,
        service_scv,
        request_timeout_s,
        listen_queue,
        hc_timeout_s,
        hc_probe_ms / 1000.0,
    )
    return _squeeze(result) if np.ndim(count) == 0 else result


def check_queue_settings(
    service_scv: float,
    request_timeout_s: float,
    listen_queue: float,
    hc_timeout_s: float,
    hc_probe_ms: float,
) -> None:
    """Refuse queue settings outside their physical range, naming the argument.

    Parameters
    ----------
    service_scv, request_timeout_s, listen_queue, hc_timeout_s, hc_probe_ms
        As :func:`simulate_fleet`.

    Raises
    ------
    ParameterError
        For a non-finite or non-positive timeout or queue, or a negative SCV or
        probe time.
    """
    settings = {
        "request_timeout_s": request_timeout_s,
        "listen_queue": listen_queue,
        "hc_timeout_s": hc_timeout_s,
    }
    for name, value in settings.items():
        if not (np.isfinite(value) and value > 0):
            raise ParameterError(
                f"{name}={value!r} must be a finite number > 0; ALB defaults are "
                "a 60 s request timeout and a 5 s health-check timeout"
            )
    if not (np.isfinite(service_scv) and service_scv >= 0):
        raise ParameterError(
            f"service_scv={service_scv!r} must be >= 0 (1 for exponential CPU times)"
        )
    if not (np.isfinite(hc_probe_ms) and hc_probe_ms >= 0):
        raise ParameterError(f"hc_probe_ms={hc_probe_ms!r} must be >= 0 ms of CPU")


def _as_counts(name: str, count: int | Sequence[int], low: int) -> FloatArray:
    """Counts as a (configs, 1) float column, refused unless whole numbers >= low."""
    values = np.atleast_1d(np.asarray(count))
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ParameterError(
            f"{name}={count!r} must be an integer or a sequence of integers"
        )
    if np.any(values < low):
        raise ParameterError(f"{name}={count!r} must be at least {low}")
    return values.astype(float)[:, None]


def fleet_state(
    workload: Workload,
    instance: InstanceType | str,
    count: int | Sequence[int],
    mode: str | None,
    os: str,
    start_credits: float | None,
    routing: str,
    throttled_count: int | Sequence[int] | None,
) -> FleetState:
    """Run the ledger and split the fleet into fresh and throttled groups.

    Parameters
    ----------
    workload, instance, count, mode, os, start_credits, routing, throttled_count
        As :func:`simulate_fleet`.

    Returns
    -------
    FleetState
        Capacity and routing share of each group per step, before queueing; the
        input of :func:`fleet_performance`.

    Raises
    ------
    ParameterError, CatalogError
        As :func:`simulate_fleet`.
    """
    if routing not in ROUTINGS:
        raise ParameterError(
            f"routing={routing!r} is not an ALB algorithm; use 'round_robin' or "
            "'least_outstanding'"
        )
    rules = get_instance(instance) if isinstance(instance, str) else instance
    counts = _as_counts("count", count, 1)
    held = np.zeros_like(counts)
    if throttled_count is not None:
        held = _as_counts("throttled_count", throttled_count, 0)
    if np.any(held > counts) or (np.any(held > 0) and not rules.burstable):
        raise ParameterError(
            f"throttled_count={throttled_count!r} must not exceed count={count!r} "
            f"and needs a burstable type ({rules.name} is fixed-performance)"
        )

    requests = np.asarray(workload.requests_per_s, dtype=float)[None, :]
    cpu = np.asarray(workload.cpu_per_request_s, dtype=float)[None, :]
    background = np.asarray(workload.background_vcpu, dtype=float)[None, :]
    demand = requests * cpu / counts + background

    fresh_vcpu, balance, charged, summary = _ledger_capacity(
        demand, rules, workload.step_s, mode, os, start_credits
    )
    baseline_vcpu = rules.vcpu * (rules.baseline_frac or 1.0)
    held_vcpu = np.full_like(fresh_vcpu, baseline_vcpu)

    fresh_request_vcpu = np.maximum(fresh_vcpu - background, 1e-9)
    held_request_vcpu = np.maximum(held_vcpu - background, 1e-9)
    fresh_n, held_n = counts - held, held
    if routing == "round_robin":
        fresh_share = fresh_n / counts * np.ones_like(fresh_vcpu)
    else:
        total = fresh_n * fresh_request_vcpu + held_n * held_request_vcpu
        fresh_share = fresh_n * fresh_request_vcpu / total

    groups = (
        _Group(fresh_n, fresh_request_vcpu, fresh_share),
        _Group(held_n, held_request_vcpu, 1.0 - fresh_share),
    )
    throttled = (fresh_vcpu < rules.vcpu - 1e-9) | (held > 0)
    return FleetState(
        rules,
        counts,
        requests,
        cpu,
        background,
        groups,
        throttled,
        balance,
        charged,
        summary,
    )


def _ledger_capacity(
    demand: FloatArray,
    rules: InstanceType,
    step_s: float,
    mode: str | None,
    os: str,
    start_credits: float | None,
) -> tuple[FloatArray, FloatArray, FloatArray, LedgerSummary | None]:
    """vCPU available per instance in each step, its balance and surplus charged."""
    if not rules.burstable:
        full = np.full(demand.shape, float(rules.vcpu))
        return full, np.full(demand.shape, np.nan), np.zeros(demand.shape), None

    clipped = np.minimum(demand, rules.vcpu)
    start = float(rules.max_credits or 0.0) if start_credits is None else start_credits
    ledger = run_ledger(
        clipped, instance=rules, step_s=step_s, mode=mode, os=os, start_credits=start
    )
    assert ledger.unserved_vcpu is not None  # keep_steps=True keeps every array
    assert ledger.balance_credits is not None
    assert ledger.surplus_charged_credits is not None

    baseline_vcpu = rules.vcpu * float(rules.baseline_frac or 0.0)
    gap = np.maximum(clipped - baseline_vcpu, 1e-12)
    throttled_frac = np.clip(ledger.unserved_vcpu / gap, 0.0, 1.0)
    available = rules.vcpu - throttled_frac * (rules.vcpu - baseline_vcpu)
    return (
        available,
        ledger.balance_credits,
        ledger.surplus_charged_credits,
        ledger.summary,
    )


def _group_queue(
    group: _Group,
    state: FleetState,
    kept: FloatArray,
    step_s: float,
    listen_queue: float,
    request_timeout_s: float,
) -> TargetQueue:
    """The queue of one group's targets: its arrivals and speed in every step."""
    vcpu = state.instance.vcpu
    targets = np.maximum(group.targets, 1.0)
    arrival = state.requests_per_s * kept * group.share_frac / targets
    service = vcpu * state.cpu_per_request_s / group.capacity_vcpu
    speed = group.capacity_vcpu / vcpu
    return target_queue(
        arrival, service, vcpu, speed, step_s, listen_queue, request_timeout_s
    )


def fleet_performance(
    state: FleetState,
    kept: FloatArray,
    step_s: float,
    scv: float,
    request_timeout_s: float,
    listen_queue: float,
    hc_timeout_s: float,
    hc_probe_s: float,
) -> FleetResult:
    """Queueing in every step for the fraction ``kept`` of the traffic.

    Parameters
    ----------
    state : FleetState
        From :func:`fleet_state`.
    kept : numpy.ndarray
        Share of the traffic admitted in each step [0..1], shape (1, steps) or
        (1, 1); the rest is refused at the edge and costs no CPU.
    step_s : float
        Step length [s].
    scv, request_timeout_s, listen_queue, hc_timeout_s
        As :func:`simulate_fleet` (``scv`` is ``service_scv``).
    hc_probe_s : float
        CPU work of one probe at full speed [s].

    Returns
    -------
    FleetResult
        Shape (configs, steps).
    """
    groups = [group for group in state.groups if group.targets.max() > 0]
    limits = (step_s, listen_queue, request_timeout_s, hc_timeout_s, hc_probe_s)
    if len(groups) == 1:
        *quantiles, failed, probes, utilisation = _one_group(
            groups[0], state, kept, scv, limits
        )
        busy = [utilisation]
    else:
        quantiles, failed, probes, busy = _mixed_groups(
            groups, state, kept, scv, limits
        )
        weights = [g.targets / state.counts for g in groups]
        utilisation = weights[0] * busy[0] + weights[1] * busy[1]
    shape = quantiles[0].shape

    demand = state.requests_per_s * kept * state.cpu_per_request_s
    delivered = sum(
        group.targets * frac * group.capacity_vcpu
        for group, frac in zip(groups, busy, strict=True)
    )
    background = state.counts * state.background_vcpu
    return FleetResult(
        demand_vcpu=np.broadcast_to(demand + background, shape).copy(),
        delivered_vcpu=np.broadcast_to(delivered + background, shape).copy(),
        utilisation_frac=np.broadcast_to(utilisation, shape).copy(),
        p50_ms=quantiles[0] * 1000.0,
        p95_ms=quantiles[1] * 1000.0,
        p99_ms=quantiles[2] * 1000.0,
        failed_frac=np.broadcast_to(failed, shape).copy(),
        hc_fail_frac=np.broadcast_to(probes, shape).copy(),
        balance_credits=state.balance_credits,
        surplus_charged_credits=state.surplus_charged_credits * state.counts,
        throttled=state.throttled,
        summary=state.summary,
    )


def _one_group(
    group: _Group,
    state: FleetState,
    kept: FloatArray,
    scv: float,
    limits: tuple[float, float, float, float, float],
) -> list[FloatArray]:
    """p50, p95, p99 [s], failed, probe-failure and busy shares: identical targets."""
    vcpu = state.instance.vcpu
    arrival = state.requests_per_s * kept * group.share_frac / group.targets
    service = vcpu * state.cpu_per_request_s / group.capacity_vcpu
    service = np.broadcast_to(
        service, np.broadcast_shapes(arrival.shape, service.shape)
    )
    return single_group_performance(
        arrival, service, group.capacity_vcpu / vcpu, vcpu, scv, *limits
    )


def _mixed_groups(
    groups: list[_Group],
    state: FleetState,
    kept: FloatArray,
    scv: float,
    limits: tuple[float, float, float, float, float],
) -> tuple[list[FloatArray], FloatArray, FloatArray, list[FloatArray]]:
    """Quantiles, failed and probe-failure shares and per-group busy shares of a
    fleet with fresh and throttled targets (a mixture of the two groups' queues)."""
    step_s, listen_queue, request_timeout_s, hc_timeout_s, hc_probe_s = limits
    servers = state.instance.vcpu
    queues = [
        _group_queue(g, state, kept, step_s, listen_queue, request_timeout_s)
        for g in groups
    ]
    shape = queues[0].service_s.shape
    request_weights = [np.broadcast_to(g.share_frac, shape) for g in groups]
    target_weights = [g.targets / state.counts for g in groups]

    quantiles = _fleet_quantiles(queues, request_weights, servers, scv)
    failed = sum(
        weight * failed_frac(queue, servers, scv, request_timeout_s, quantiles[2])
        for weight, queue in zip(request_weights, queues, strict=True)
    )
    probes = sum(
        weight * probe_fail_frac(queue, servers, hc_timeout_s, hc_probe_s)
        for weight, queue in zip(target_weights, queues, strict=True)
    )
    busy = [np.minimum(queue.utilisation_frac, 1.0) for queue in queues]
    return quantiles, np.asarray(failed), np.asarray(probes), busy


def _fleet_quantiles(
    queues: list[TargetQueue],
    weights: list[FloatArray],
    servers: int,
    scv: float,
) -> list[FloatArray]:
    """Response quantiles over all requests [s]; a mixture where both groups serve."""
    single = [response_quantiles_s(queue, servers, scv) for queue in queues]
    if len(queues) == 1:
        return single[0]
    quantiles = [np.where(weights[0] > 0, a, b) for a, b in zip(*single, strict=True)]

    mixed_steps = (weights[0] > 0) & (weights[1] > 0)
    if not mixed_steps.any():
        return quantiles
    mixture = mixture_quantiles_s(queues, weights, single, servers, scv)
    return [
        np.where(mixed_steps, m, q) for m, q in zip(mixture, quantiles, strict=True)
    ]


def _squeeze(result: FleetResult) -> FleetResult:
    """Drop the leading config axis of a one-config result."""
    fields = {}
    for name in FleetResult.__dataclass_fields__:
        value = getattr(result, name)
        fields[name] = value[0] if isinstance(value, np.ndarray) else value
    return FleetResult(**fields)
