"""Second-level simulation of an ECS rolling deployment behind an ALB.

Tasks start, register, pass health checks, serve, fail health checks, drain and are
replaced, as ECS and the ALB do it, in a rolling deployment or in an EC2 instance
refresh (:func:`instance_refresh_settings`); DESIGN.md "Rollout dynamics" and
QUEUEING.md 3.1-3.3:

- ECS keeps ``tasks`` running; during a deployment it stops old-version tasks only
  while at least ``min_healthy_pct`` of ``tasks`` stay healthy and starts new-version
  tasks while at most ``max_pct`` of ``tasks`` run (draining tasks included). A task
  the ALB reports unhealthy after its grace period is stopped and replaced.
- The ALB routes round robin to healthy targets only; with none healthy it fails
  open to every registered target. A new target needs ``healthy_threshold``
  consecutive passing probes, a healthy one is taken out after
  ``unhealthy_threshold`` consecutive failures.
- Each task is one FCFS worker of ``task_vcpu`` vCPUs. Its backlog moves each second
  by arrivals minus throughput plus a Gaussian fluctuation of variance
  lambda ca^2 + min(lambda, mu) cs^2 (the heavy-traffic diffusion of the queue, with
  ca^2 = 1/N for round robin over N targets and cs^2 = 1), reflected at 0 and
  capped at the listen queue or at what the task clears within the request
  timeout, whichever is smaller. A probe fails when the backlog ahead of it waits
  longer than the timeout, so successive probes are correlated through the backlog
  as QUEUEING.md 3.3 requires, not coin flips.
- New tasks on burstable hosts (an instance refresh) spend their share of the host's
  CPU credits, one credit per vCPU-minute above their baseline share, and run at
  that baseline share once the credits are gone (AWS-CREDITS.md 2.5).
- Requests past that cap (refused at a full listen queue, or not started within
  the request timeout: the ALB gives up and the task skips them), requests queued
  in a task when it is stopped, and requests arriving while no target is
  registered fail (ALB 502/503/504). An overloaded task keeps serving at its
  capacity, so it fails the excess of its arrivals over that capacity.

The loop runs once per simulated second over every task slot, compiled with numba.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from numpy.typing import NDArray

from capacity.catalog import InstanceType, get_instance
from capacity.errors import ParameterError
from capacity.rollout_loop import rollout_loop

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RolloutSettings:
    """An ECS service behind an ALB, its traffic and the deployment to simulate."""

    tasks: int = 100  # desired task count [count]
    batch: int = 10  # tasks ECS may take down at once: 100 - min_healthy_pct [count]
    max_pct: float = 100.0  # maximumPercent of the service [0..200]
    requests_per_s: float = 1157.0  # arrival rate at the ALB [1/s]
    cpu_per_request_ms: float = 60.0  # CPU work per request, new version [ms]
    old_cpu_per_request_ms: float | None = None  # old version's; None: the same [ms]
    task_vcpu: float = 1.0  # vCPUs of one task [vCPU]
    new_credits: float | None = None  # credits per new task at launch; None: no cap
    new_baseline_frac: float = 1.0  # share of task_vcpu left at 0 credits [0..1]
    old_speed_frac: float = 1.0  # CPU speed of the old tasks' hosts [0..1]
    old_healthy_frac: float = 1.0  # old tasks healthy at the start [0..1]
    hc_interval_s: float = 30.0  # ALB health-check interval [s]
    hc_timeout_s: float = 5.0  # ALB health-check timeout [s]
    healthy_threshold: int = 2  # consecutive passes to become healthy [count]
    unhealthy_threshold: int = 2  # consecutive failures to become unhealthy [count]
    hc_probe_ms: float = 1.0  # CPU work of one probe at full speed [ms]
    grace_s: float = 60.0  # ECS healthCheckGracePeriodSeconds [s]
    start_s: float = 20.0  # launch to listening: image pull, start-up [s]
    drain_s: float = 30.0  # ALB deregistration delay [s]
    request_timeout_s: float = 60.0  # ALB idle timeout: unstarted requests fail [s]
    listen_queue: float = 4096.0  # requests held before refusing (somaxconn) [count]
    hours: float = 3.0  # simulated horizon [hours]
    seed: int = 0  # seed of probe phases and probe fluctuations

    @property
    def min_healthy_pct(self) -> float:
        """ECS minimumHealthyPercent implied by ``batch`` [0..100]."""
        return 100.0 * (self.tasks - self.batch) / self.tasks


@dataclass(frozen=True)
class RolloutResult:
    """Per-second timeline of a deployment and whether it converged."""

    settings: RolloutSettings
    healthy_tasks: NDArray[np.int64]  # targets in service each second [count]
    new_healthy_tasks: NDArray[np.int64]  # of which new version [count]
    running_tasks: NDArray[np.int64]  # tasks not yet stopped [count]
    served_per_s: FloatArray  # requests arriving that are answered in time [1/s]
    failed_per_s: FloatArray  # requests failing in the second (502/503/504) [1/s]
    p99_ms: FloatArray  # 99th percentile response time of routed requests [ms]
    converged: bool  # every task new and healthy at some second
    minutes_to_converge: float | None  # first such time [min], None if never
    failed_request_frac: float  # failed share of all requests [0..1]
    min_healthy_tasks: int  # fewest targets in service at any second [count]

    def summary(self) -> dict[str, object]:
        """Headline figures and the settings used, ready for JSON."""
        return {
            "converged": self.converged,
            "minutes_to_converge": self.minutes_to_converge,
            "failed_request_frac": self.failed_request_frac,
            "min_healthy_tasks": self.min_healthy_tasks,
            "settings": asdict(self.settings),
        }


def check_settings(settings: RolloutSettings) -> None:
    """Refuse settings outside what ECS and the ALB accept, naming the fix.

    Raises
    ------
    ParameterError
        For counts below 1, a batch outside 1..tasks, health-check settings outside
        the ALB ranges (interval 5-300 s, timeout 2-120 s and below the interval,
        thresholds 2-10), or non-positive rates, times or speeds.
    """
    _require(settings.tasks >= 1, "tasks", settings.tasks, "must be at least 1")
    _require(
        1 <= settings.batch <= settings.tasks,
        "batch",
        settings.batch,
        f"must be between 1 and tasks={settings.tasks}",
    )
    _require(
        100 <= settings.max_pct <= 200, "max_pct", settings.max_pct, "must be 100-200"
    )
    _require(
        5 <= settings.hc_interval_s <= 300,
        "hc_interval_s",
        settings.hc_interval_s,
        "must be 5-300 s (ALB range)",
    )
    _require(
        2 <= settings.hc_timeout_s <= min(120, settings.hc_interval_s),
        "hc_timeout_s",
        settings.hc_timeout_s,
        "must be 2-120 s and at most hc_interval_s (ALB rule)",
    )
    for name in ("healthy_threshold", "unhealthy_threshold"):
        value = getattr(settings, name)
        _require(2 <= value <= 10, name, value, "must be 2-10 (ALB range)")
    for name in ("requests_per_s", "cpu_per_request_ms", "task_vcpu", "hours"):
        value = getattr(settings, name)
        _require(math.isfinite(value) and value > 0, name, value, "must be > 0")
    credits = settings.new_credits
    _require(
        credits is None or (math.isfinite(credits) and credits >= 0),
        "new_credits",
        credits,
        "must be None or >= 0",
    )
    for name in ("new_baseline_frac", "old_speed_frac"):
        value = getattr(settings, name)
        _require(0 < value <= 1, name, value, "must be in (0, 1]")
    _require(
        0 <= settings.old_healthy_frac <= 1,
        "old_healthy_frac",
        settings.old_healthy_frac,
        "must be in [0, 1]",
    )
    for name in ("grace_s", "start_s", "drain_s", "hc_probe_ms"):
        value = getattr(settings, name)
        _require(math.isfinite(value) and value >= 0, name, value, "must be >= 0")
    for name in ("request_timeout_s", "listen_queue"):
        value = getattr(settings, name)
        _require(math.isfinite(value) and value > 0, name, value, "must be > 0")


def _require(ok: bool, name: str, value: object, rule: str) -> None:
    """Raise a ParameterError naming the setting, its value and its rule."""
    if not ok:
        raise ParameterError(
            f"{name}={value!r} {rule}; choose a value within that rule"
        )


def simulate_rollout(settings: RolloutSettings) -> RolloutResult:
    """Replace every old task by a new one, second by second, and watch the fleet.

    Parameters
    ----------
    settings : RolloutSettings
        Service, traffic, health-check and deployment settings.

    Returns
    -------
    RolloutResult
        Per-second timeline (healthy tasks, served and failed requests, p99) and
        whether and when every task was new and healthy.

    Raises
    ------
    ParameterError
        As :func:`check_settings`.

    Notes
    -----
    Deterministic under ``settings.seed``. Requests are a fluid within each second.
    The p99 is that of the equal-weight mixture over routed targets of the mean-flow
    wait (fluid backlog / throughput) plus the exact GI/M/1 sojourn time of round
    robin, Exp(mu (1 - sigma)) (QUEUEING.md 1.9), or one service time when
    overloaded. The fluctuating backlog, whose one-second steps are too coarse for
    the tail at low load, drives probes and failures, where only the regime near
    saturation matters (relaxation times well above a second). A probe's outcome is
    decided when it is sent: FCFS, it waits exactly the backlog ahead of it. Old and
    new tasks run on hosts of the given speeds for the whole horizon.

    References
    ----------
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html

    Examples
    --------
    >>> result = simulate_rollout(RolloutSettings(hours=0.5))
    >>> result.converged, result.minutes_to_converge < 20
    (True, True)
    """
    check_settings(settings)
    seconds = int(round(settings.hours * 3600))
    slots = int(math.floor(settings.tasks * settings.max_pct / 100.0))
    rng = np.random.default_rng(settings.seed)
    phases = rng.uniform(0.0, settings.hc_interval_s, size=slots)
    draws = rng.standard_normal(size=(seconds, slots))

    old_cpu_ms = settings.old_cpu_per_request_ms or settings.cpu_per_request_ms
    old_healthy = int(round(settings.old_healthy_frac * settings.tasks))
    timeline = rollout_loop(
        seconds,
        slots,
        settings.tasks,
        int(math.ceil(settings.tasks * settings.min_healthy_pct / 100.0 - 1e-9)),
        settings.requests_per_s,
        settings.task_vcpu / (settings.cpu_per_request_ms / 1000.0),
        settings.task_vcpu / (old_cpu_ms / 1000.0),
        settings.task_vcpu,
        np.inf if settings.new_credits is None else settings.new_credits,
        settings.new_baseline_frac,
        settings.old_speed_frac,
        old_healthy,
        settings.hc_interval_s,
        settings.hc_timeout_s,
        settings.healthy_threshold,
        settings.unhealthy_threshold,
        settings.hc_probe_ms / 1000.0 / settings.task_vcpu,
        settings.grace_s,
        settings.start_s,
        settings.drain_s,
        settings.request_timeout_s,
        settings.listen_queue,
        phases,
        draws,
    )
    return _result(settings, *timeline)


def instance_refresh_settings(
    base: RolloutSettings,
    instance: InstanceType | str,
    *,
    mode: str | None = None,
    tasks_per_instance: int = 2,
    min_healthy_pct: float = 90.0,
) -> RolloutSettings:
    """An EC2 instance refresh onto ``instance``, as a rolling replacement of tasks.

    Parameters
    ----------
    base : RolloutSettings
        Traffic, health checks and timings; ``tasks`` is the service's task count.
    instance : InstanceType or str
        The type the refresh launches, e.g. ``"c5.large"`` or ``"t3.large"``.
    mode : {"standard", "unlimited"}, optional
        Credit mode of a burstable type; None for the AWS default.
    tasks_per_instance : int
        Tasks placed on each instance, sharing its vCPUs evenly [count].
    min_healthy_pct : float
        The refresh's MinHealthyPercentage [0..100]; AWS's default is 90.

    Returns
    -------
    RolloutSettings
        Batches of whole instances' tasks, each task ``vcpu / tasks_per_instance``
        vCPUs; on a burstable type in standard mode new tasks start with their share
        of the launch credits AWS gives (T2: 30 per vCPU; T3, T3a, T4g: none) and
        fall to their share of the baseline when those are spent.

    Raises
    ------
    ParameterError
        For fewer than 1 task per instance or a percentage outside 0-100.
    CatalogError
        For an unknown instance type.

    Examples
    --------
    >>> refresh = instance_refresh_settings(RolloutSettings(), "t3.large",
    ...                                     mode="standard")
    >>> refresh.new_credits, refresh.new_baseline_frac, refresh.batch
    (0.0, 0.3, 10)
    """
    _require(
        tasks_per_instance >= 1,
        "tasks_per_instance",
        tasks_per_instance,
        "must be >= 1",
    )
    _require(
        0 <= min_healthy_pct < 100, "min_healthy_pct", min_healthy_pct, "must be 0-99"
    )
    rules = get_instance(instance) if isinstance(instance, str) else instance
    instances = math.ceil(base.tasks / tasks_per_instance)
    batch = max(1, math.floor(instances * (100 - min_healthy_pct) / 100))

    throttles = rules.burstable and (mode or rules.default_mode) == "standard"
    credits = (rules.launch_credits or 0.0) / tasks_per_instance if throttles else None
    return replace(
        base,
        batch=min(batch * tasks_per_instance, base.tasks),
        task_vcpu=rules.vcpu / tasks_per_instance,
        new_credits=credits,
        new_baseline_frac=float(rules.baseline_frac or 1.0) if throttles else 1.0,
    )


def _result(
    settings: RolloutSettings,
    healthy: NDArray[np.int64],
    new_healthy: NDArray[np.int64],
    running: NDArray[np.int64],
    served: FloatArray,
    failed: FloatArray,
    p99_s: FloatArray,
    converged_s: float,
) -> RolloutResult:
    """Assemble the timeline and its headline figures."""
    converged = bool(converged_s >= 0)
    total = settings.requests_per_s * served.size
    return RolloutResult(
        settings=settings,
        healthy_tasks=healthy,
        new_healthy_tasks=new_healthy,
        running_tasks=running,
        served_per_s=served,
        failed_per_s=failed,
        p99_ms=p99_s * 1000.0,
        converged=converged,
        minutes_to_converge=converged_s / 60.0 if converged else None,
        failed_request_frac=min(float(failed.sum()) / total, 1.0),
        min_healthy_tasks=int(healthy.min()),
    )
