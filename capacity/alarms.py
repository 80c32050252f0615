"""CloudWatch alarms for burstable fleets: credit-balance thresholds and burn advice.

A ``CPUCreditBalance`` alarm warns ``warning_hours`` ahead of exhaustion if its
threshold is the credits the worst sustained burn consumes in that time. The burn of
one instance is ``(demand - baseline x vCPU) x 60`` credits per hour. An exhausted
balance does not read exactly zero in CloudWatch (it hovers a fraction of a credit
above it), so exhaustion is a balance at or below a tolerance, never equality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from capacity.breakeven import breakeven
from capacity.catalog import InstanceType, credit_rules, instance_types
from capacity.errors import ParameterError
from capacity.workload import Workload

CREDITS_PER_VCPU_H = 60.0  # one credit is one vCPU busy for one minute
EXHAUSTED_TOLERANCE_CREDITS = 0.5  # balances at or below this count as exhausted
SECONDS_PER_HOUR = 3600.0
DAY_HOURS = 24.0


@dataclass(frozen=True)
class CreditAlarm:
    """A ``CPUCreditBalance`` threshold with the warning it gives."""

    instance_type: str  # burstable type the alarm is for
    threshold_credits: float  # alarm when the balance falls below this [credits]
    warning_hours: float  # lead time asked for [h]
    achieved_warning_hours: float  # lead time the threshold gives at worst burn [h]
    worst_burn_credits_per_h: float  # worst mean net burn over warning_hours [1/h]
    hours_to_exhaustion_from_full: float  # cap / worst burn [h]; inf if no burn

    @property
    def achievable(self) -> bool:
        """False when even a full bucket gives less warning than asked for."""
        return self.achieved_warning_hours >= self.warning_hours - 1e-12


@dataclass(frozen=True)
class BaselineAdvice:
    """Whether a burstable fleet runs above baseline for whole days, and advice."""

    instance_type: str  # the burstable type
    baseline_pct: float  # baseline per vCPU [%]
    mean_cpu_pct: float  # mean CPU per vCPU over the whole series [%]
    worst_day_cpu_pct: float  # highest 24-hour mean CPU per vCPU [%]
    sustained_above_baseline: bool  # a whole day above baseline: credits cannot last
    comparator: str  # fixed type priced against unlimited mode
    breakeven_cpu_pct: float  # unlimited vs comparator breakeven [%]
    advice: str  # "standard", "unlimited" or "fixed"
    reason: str  # one sentence for the report


def net_burn_credits_per_h(
    demand_vcpu: ArrayLike, instance: InstanceType | str
) -> np.ndarray:
    """Net credit burn of one instance per step: spend minus earnings.

    Parameters
    ----------
    demand_vcpu
        Busy vCPUs per instance in each step [vCPU].
    instance
        A burstable type.

    Returns
    -------
    numpy.ndarray
        ``(demand - baseline x vcpu) x 60`` [credits/h]; negative when earning.

    Raises
    ------
    CatalogError
        For an unknown or fixed-performance type.

    Examples
    --------
    >>> round(float(net_burn_credits_per_h([0.72], "t3.large")[0]), 9)  # 0.12 x 60
    7.2
    """
    rules = _burstable(instance)
    earn_vcpu = float(rules.credits_per_h or 0.0) / CREDITS_PER_VCPU_H
    demand = np.asarray(demand_vcpu, dtype=float)

    return (demand - earn_vcpu) * CREDITS_PER_VCPU_H


def worst_burn_credits_per_h(
    demand_vcpu: ArrayLike,
    instance: InstanceType | str,
    *,
    step_s: float,
    window_hours: float,
) -> float:
    """Highest mean net burn over any window of ``window_hours``.

    Parameters
    ----------
    demand_vcpu
        Busy vCPUs per instance in each step [vCPU].
    instance
        A burstable type.
    step_s
        Step length [s].
    window_hours
        Window length [h]; shorter series use their whole length.

    Returns
    -------
    float
        Worst windowed mean burn [credits/h]; negative if the balance always grows.

    Raises
    ------
    ParameterError
        For a non-positive step or window, or an empty series.
    """
    _require_positive("step_s", step_s)
    _require_positive("window_hours", window_hours)
    burn = net_burn_credits_per_h(demand_vcpu, instance)
    if burn.size == 0:
        raise ParameterError("demand_vcpu is empty; pass at least one step")

    steps = max(1, min(burn.size, round(window_hours * SECONDS_PER_HOUR / step_s)))
    totals = np.convolve(burn, np.ones(steps), mode="valid")

    return float(totals.max() / steps)


def credit_balance_alarm(
    demand_vcpu: ArrayLike,
    instance: InstanceType | str,
    *,
    step_s: float,
    warning_hours: float = 6.0,
) -> CreditAlarm:
    """The ``CPUCreditBalance`` threshold giving ``warning_hours`` of warning.

    Parameters
    ----------
    demand_vcpu
        Busy vCPUs per instance in each step [vCPU] (the workload to guard).
    instance
        A burstable type.
    step_s
        Step length [s].
    warning_hours
        Lead time wanted before the balance runs out [h].

    Returns
    -------
    CreditAlarm
        ``threshold = warning_hours x worst burn``, where the worst burn is the
        highest mean over any ``warning_hours`` window; capped at the accrual cap
        (the balance can never read higher), in which case the warning achieved
        is ``cap / worst burn``. A threshold of 0 means the balance never falls.

    Raises
    ------
    CatalogError, ParameterError
        For a fixed type, a non-positive step or warning.

    Notes
    -----
    Per instance: a fleet sharing load evenly burns alike. Set the alarm on the
    ``Minimum`` statistic across the group so the first instance to drain fires it.

    References
    ----------
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-monitoring-cpu-credits.html

    Examples
    --------
    >>> alarm = credit_balance_alarm([0.72] * 12, "t3.large", step_s=3600)
    >>> round(alarm.threshold_credits, 6)  # 6 h x 7.2 credits/h
    43.2
    """
    rules = _burstable(instance)
    _require_positive("warning_hours", warning_hours)
    burn = worst_burn_credits_per_h(
        demand_vcpu, rules, step_s=step_s, window_hours=warning_hours
    )
    cap = float(rules.max_credits or 0.0)

    wanted_credits = max(burn, 0.0) * warning_hours
    threshold = min(wanted_credits, cap)
    achieved = math.inf if burn <= 0 else threshold / burn

    return CreditAlarm(
        instance_type=rules.name,
        threshold_credits=threshold,
        warning_hours=warning_hours,
        achieved_warning_hours=achieved,
        worst_burn_credits_per_h=burn,
        hours_to_exhaustion_from_full=hours_to_exhaustion(cap, burn),
    )


def hours_to_exhaustion(balance_credits: float, burn_credits_per_h: float) -> float:
    """Hours until a balance runs out at a constant burn.

    Parameters
    ----------
    balance_credits
        Current ``CPUCreditBalance`` [credits], >= 0.
    burn_credits_per_h
        Net burn [credits/h]; <= 0 means the balance is not falling.

    Returns
    -------
    float
        ``balance / burn`` [h]; inf when the burn is not positive.

    Raises
    ------
    ParameterError
        For a negative or non-finite balance.

    Examples
    --------
    >>> hours_to_exhaustion(500.0, 20.0)
    25.0
    """
    if not (math.isfinite(balance_credits) and balance_credits >= 0):
        raise ParameterError(
            f"balance_credits={balance_credits!r} must be finite and >= 0"
        )
    if burn_credits_per_h <= 0:
        return math.inf
    return balance_credits / burn_credits_per_h


def observed_burn_credits_per_h(
    balance_credits: ArrayLike, *, step_s: float, window_hours: float = 1.0
) -> float:
    """Current burn read from a ``CPUCreditBalance`` series: its recent fall per hour.

    Parameters
    ----------
    balance_credits
        Balance samples, oldest first [credits] (CloudWatch: every 300 s).
    step_s
        Sampling step [s].
    window_hours
        How far back to measure the fall [h].

    Returns
    -------
    float
        ``(balance window ago - balance now) / window`` [credits/h]; negative when
        the balance is growing.

    Raises
    ------
    ParameterError
        For fewer than two samples or a non-positive step or window.

    Examples
    --------
    >>> observed_burn_credits_per_h([100, 99, 98, 97], step_s=300, window_hours=0.25)
    12.0
    """
    _require_positive("step_s", step_s)
    _require_positive("window_hours", window_hours)
    balance = np.asarray(balance_credits, dtype=float)
    if balance.size < 2:
        raise ParameterError(
            f"balance_credits has {balance.size} sample(s); pass at least two"
        )

    steps = max(
        1, min(balance.size - 1, round(window_hours * SECONDS_PER_HOUR / step_s))
    )
    fall_credits = balance[-1 - steps] - balance[-1]

    return float(fall_credits / (steps * step_s / SECONDS_PER_HOUR))


def is_exhausted(
    balance_credits: ArrayLike, tolerance_credits: float = EXHAUSTED_TOLERANCE_CREDITS
) -> np.ndarray:
    """Whether each balance counts as exhausted: at or below a tolerance.

    Parameters
    ----------
    balance_credits
        ``CPUCreditBalance`` samples [credits].
    tolerance_credits
        Largest balance still read as exhausted [credits], >= 0.

    Returns
    -------
    numpy.ndarray of bool

    Notes
    -----
    An exhausted instance in standard mode earns and spends at the same rate, so
    CloudWatch shows a balance hovering just above zero, not zero.

    Examples
    --------
    >>> is_exhausted([0.0, 0.04, 0.6, 144.0]).tolist()
    [True, True, False, False]
    """
    if not (math.isfinite(tolerance_credits) and tolerance_credits >= 0):
        raise ParameterError(
            f"tolerance_credits={tolerance_credits!r} must be finite and >= 0"
        )
    return np.asarray(balance_credits, dtype=float) <= tolerance_credits


def baseline_advice(
    demand_vcpu: ArrayLike,
    instance: InstanceType | str,
    *,
    step_s: float,
    comparator: str | None = None,
    os: str = "linux",
) -> BaselineAdvice:
    """Whether a burstable fleet sits above its baseline for whole days, and advice.

    Parameters
    ----------
    demand_vcpu
        Busy vCPUs per instance in each step [vCPU].
    instance
        A burstable type.
    step_s
        Step length [s].
    comparator
        Fixed type to price unlimited mode against; None: the c5 (x86) or c7g
        (Graviton) type of the same size, or its ``large`` size.
    os
        Operating system, for the surplus rate.

    Returns
    -------
    BaselineAdvice
        ``standard`` when no 24-hour mean exceeds the baseline (credits bridge the
        peaks); otherwise ``unlimited`` when the worst day's mean CPU is below the
        breakeven against the comparator, else ``fixed``.

    Examples
    --------
    >>> baseline_advice([0.72] * 48, "t3.large", step_s=3600).advice  # 36 % > 31.8 %
    'fixed'
    """
    rules = _burstable(instance)
    fixed = comparator or _default_comparator(rules)
    demand = np.asarray(demand_vcpu, dtype=float)
    cpu_pct = 100.0 * demand / rules.vcpu

    day_steps = max(1, min(cpu_pct.size, round(DAY_HOURS * SECONDS_PER_HOUR / step_s)))
    day_means_pct = np.convolve(cpu_pct, np.ones(day_steps), mode="valid") / day_steps
    worst_day_pct = float(day_means_pct.max())

    baseline_pct = 100.0 * float(rules.baseline_frac or 0.0)
    breakeven_pct = breakeven(rules.name, fixed, os=os).breakeven_cpu_pct
    sustained = worst_day_pct > baseline_pct + 1e-9
    advice, reason = _advice(
        sustained, worst_day_pct, baseline_pct, breakeven_pct, fixed
    )

    return BaselineAdvice(
        instance_type=rules.name,
        baseline_pct=baseline_pct,
        mean_cpu_pct=float(cpu_pct.mean()),
        worst_day_cpu_pct=worst_day_pct,
        sustained_above_baseline=sustained,
        comparator=fixed,
        breakeven_cpu_pct=breakeven_pct,
        advice=advice,
        reason=reason,
    )


def fleet_alarms(
    workload: Workload,
    instance: InstanceType | str,
    count: int,
    *,
    warning_hours: float = 6.0,
    os: str = "linux",
) -> tuple[CreditAlarm, BaselineAdvice]:
    """The credit alarm and baseline advice for a fleet of ``count`` instances.

    Parameters
    ----------
    workload
        The workload the fleet serves, split evenly across instances.
    instance
        A burstable type.
    count
        Instances in the fleet.
    warning_hours
        Lead time wanted before exhaustion [h].
    os
        Operating system, for the surplus rate.

    Returns
    -------
    (CreditAlarm, BaselineAdvice)

    Examples
    --------
    >>> from capacity.workload import daily_profile
    >>> w = daily_profile(1.44 / 0.01 * 86400, 1.0, days=2, step_s=3600,
    ...                   cpu_per_request_ms=10)
    >>> alarm, advice = fleet_alarms(w, "t3.large", 2)
    >>> round(alarm.threshold_credits, 6), advice.advice  # 0.72 vCPU each
    (43.2, 'fixed')
    """
    rules = _burstable(instance)
    demand = np.minimum(workload.busy_vcpu_per_instance(count), rules.vcpu)
    alarm = credit_balance_alarm(
        demand, rules, step_s=workload.step_s, warning_hours=warning_hours
    )
    advice = baseline_advice(demand, rules, step_s=workload.step_s, os=os)
    return alarm, advice


def _advice(
    sustained: bool,
    worst_day_pct: float,
    baseline_pct: float,
    breakeven_pct: float,
    fixed: str,
) -> tuple[str, str]:
    if not sustained:
        return "standard", (
            f"no 24-hour mean exceeds the {baseline_pct:g} % baseline "
            f"(worst day {worst_day_pct:.1f} %): earned credits cover the bursts"
        )
    if math.isnan(breakeven_pct):
        return "fixed", (
            f"the worst day averages {worst_day_pct:.1f} %, above the "
            f"{baseline_pct:g} % baseline, and {fixed} costs no more an hour than "
            f"the burstable type: {fixed} is cheaper at any load"
        )
    if worst_day_pct < breakeven_pct:
        return "unlimited", (
            f"the worst day averages {worst_day_pct:.1f} %, above the "
            f"{baseline_pct:g} % baseline but under the {breakeven_pct:.1f} % "
            f"breakeven against {fixed}: unlimited mode is cheaper"
        )
    return "fixed", (
        f"the worst day averages {worst_day_pct:.1f} %, above the "
        f"{breakeven_pct:.1f} % breakeven against {fixed}: {fixed} is cheaper "
        f"than paying for surplus credits"
    )


def _default_comparator(rules: InstanceType) -> str:
    """The c5 (x86) or c7g (Graviton) type with as many vCPUs, or the next larger.

    The breakeven compares one instance with one instance, so both must carry the
    same work: a t4g.medium (2 vCPUs) is priced against c7g.large, not c7g.medium (1).
    """
    family = "c7g" if rules.arch == "arm64" else "c5"
    sizes = sorted(instance_types([family]), key=lambda fixed: fixed.vcpu)
    return next(
        (fixed.name for fixed in sizes if fixed.vcpu >= rules.vcpu), sizes[-1].name
    )


def _burstable(instance: InstanceType | str) -> InstanceType:
    name = instance.name if isinstance(instance, InstanceType) else instance
    return credit_rules(name)


def _require_positive(argument: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{argument}={value!r} must be positive and finite")
