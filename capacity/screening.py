"""Screening fleets: every sizing constraint for one fleet, fast enough for the catalog.

A :class:`FleetModel` prepares a workload and its surge scenarios once; a
:class:`FleetScreen` then checks fleets of one :class:`Candidate` (instance type and
credit mode) at any count against the :class:`Constraints`: headroom at the base
peak, the loss of one availability zone, the p99 objective per step (an M/M/c
threshold on the arrival rate, solved once per CPU cost), the standard-mode credit
floor (the credit ledger) and each surge. Every outcome is a :class:`Check` with its
measured value and limit. :mod:`capacity.recommend` searches counts with these
checks and ranks what it finds by cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from capacity.catalog import InstanceType, get_instance
from capacity.credits import run_ledger
from capacity.errors import ParameterError
from capacity.params import INITIAL_CREDITS, MODES, Surge
from capacity.queueing import mmc_response_quantile_s, mmc_response_survival
from capacity.workload import Workload, with_surge

FIXED = "fixed"  # the mode column of fixed-performance types
P99 = 0.99
EXHAUSTED_CREDITS = 0.5  # a balance at or below this counts as exhausted [credits]
RATE_BISECTION_STEPS = 48  # halvings of the stable range: relative error 4e-15
THROTTLE_VCPU = 1e-9  # unserved demand above this marks a throttled step [vCPU]
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Constraints:
    """What a feasible fleet must meet; each has a default a planner can change."""

    p99_slo_ms: float = 250.0  # p99 response time objective [ms]
    slo_share_frac: float = 0.99  # share of steps whose p99 must meet the objective
    headroom_frac: float = 0.25  # spare CPU at the base peak: utilisation <= 1 - this
    min_balance_frac: float = 0.1  # standard-mode balance floor, share of the cap
    zones: int = 3  # zones the fleet spans; losing one must keep it stable (1: N+1)
    max_count: int = 400  # largest fleet searched [instances]

    def __post_init__(self) -> None:
        if not self.p99_slo_ms > 0:
            raise ParameterError(f"p99_slo_ms={self.p99_slo_ms!r} must be > 0")
        for name in ("slo_share_frac", "headroom_frac", "min_balance_frac"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(
                    f"{name}={value!r} is outside [0, 1]; give a fraction"
                )
        for name in ("zones", "max_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a whole number >= 1")


@dataclass(frozen=True)
class Candidate:
    """One instance type in one credit mode."""

    instance_type: str  # API name, e.g. "t3.large"
    mode: str  # "standard", "unlimited", or "fixed" for fixed-performance types


@dataclass(frozen=True)
class Check:
    """The outcome of one constraint for one fleet."""

    constraint: str  # headroom, zone_loss, p99_slo, credit_floor or surge
    passed: bool  # whether the fleet meets it
    measured: float  # the measured value, in the unit of the limit
    limit: float  # the value the constraint allows
    detail: str  # one sentence a planner can read


@dataclass(frozen=True)
class FleetEvaluation:
    """One fleet (candidate x count) over the base workload and its surges."""

    candidate: Candidate  # instance type and mode
    count: int  # instances
    checks: tuple[Check, ...]  # every constraint, in a fixed order
    peak_utilisation_frac: float  # base peak demand / fleet vCPUs [0..]
    p99_at_peak_ms: float  # p99 response time at the base peak step [ms]
    throttled_at_peak: bool  # whether the ledger throttles the base peak step
    slo_met_frac: float  # lowest share of steps meeting the SLO over scenarios
    min_balance_credits: float  # lowest base balance per instance; NaN for fixed
    start_balance_credits: float  # balance per instance at the start; NaN for fixed
    hours_of_credit_at_worst_surge: float  # surge start to exhaustion [h]; inf: never,
    # 0: empty at the start (unlimited mode runs on surplus), NaN: fixed or no surge
    surplus_charged_credits: float  # fleet surplus charged or owed, base run [credits]
    requests_served: float  # requests in the base workload
    measured_hours: float  # length of the base workload [h]
    binding_constraint: str = ""  # constraints failing at count - 1, comma-separated

    @property
    def feasible(self) -> bool:
        """True when every constraint passes."""
        return all(check.passed for check in self.checks)

    @property
    def first_failure(self) -> Check | None:
        """The first failed constraint in the fixed order, or None."""
        return next((check for check in self.checks if not check.passed), None)


def surge_workloads(w: Workload, surges: Sequence[Surge]) -> list[Workload]:
    """The base workload with each surge applied on its own.

    Raises
    ------
    ParameterError
        For a surge outside the workload's span (from :func:`with_surge`).
    """
    scenarios = []
    for surge in surges:
        start = pd.Timestamp(surge.start)
        start = start.tz_localize("UTC") if start.tz is None else start
        scenarios.append(with_surge(w, start, surge.hours, surge.multiplier))
    return scenarios


class FleetModel:
    """A workload and its surges, prepared once, evaluated for many fleets.

    Parameters
    ----------
    workload
        The base workload.
    constraints
        The constraints a fleet must meet.
    surges
        Surge scenarios; each is applied to the base workload on its own.
    initial_credits
        Start balance of burstable fleets: ``"warmup"`` (the balance after
        replaying the first day from a full bucket: the steady state if earlier
        days looked like the first), ``"full"`` (the cap) or ``"empty"`` (zero, as
        a freshly launched T3/T3a/T4g; T2 standard gets its launch credits).
    os
        Operating system, for the surplus rate.

    Notes
    -----
    Per step, each instance is an M/M/c queue with c = vCPUs, arrivals the fleet's
    request rate split evenly, and service the CPU per request, slowed to the
    baseline when the ledger throttles a standard-mode instance. The p99 check uses
    the exact M/M/c response-time survival ``P(T > SLO) <= 1 %``, solved once per
    distinct CPU cost as a largest arrival rate. Background vCPU counts toward
    utilisation and credits but is not modelled as queueing work. Losing a zone
    (the largest share, ``ceil(count / zones)`` instances) must leave the
    survivors below full utilisation at the base peak; their credits are not
    replayed for that case. Instance memory is not a constraint.
    """

    def __init__(
        self,
        workload: Workload,
        constraints: Constraints,
        *,
        surges: Sequence[Surge] = (),
        initial_credits: str = "warmup",
        os: str = "linux",
    ) -> None:
        if initial_credits not in INITIAL_CREDITS:
            raise ParameterError(
                f"initial_credits={initial_credits!r}; use one of {INITIAL_CREDITS}"
            )
        scenarios = [workload, *surge_workloads(workload, surges)]

        self.constraints = constraints
        self.scenarios = tuple(scenarios)
        self.surges = tuple(surges)
        self.initial_credits = initial_credits
        self.os = os
        self.step_s = workload.step_s
        self.rate_per_s = np.stack([s.requests_per_s for s in scenarios])
        self.service_s = workload.cpu_per_request_s
        self.background_vcpu = workload.background_vcpu
        self.unique_service_s, self.service_index = np.unique(
            self.service_s, return_inverse=True
        )
        self.surge_steps = [_window_steps(workload, surge) for surge in self.surges]
        self.requests_served = float(self.rate_per_s[0].sum() * self.step_s)
        self.measured_hours = len(workload.index) * self.step_s / SECONDS_PER_HOUR
        self.peak_step = int(np.argmax(self.rate_per_s[0] * self.service_s))
        self.request_vcpu = self.rate_per_s * self.service_s
        self.peak_request_vcpu = self.request_vcpu.max(axis=1)
        self.warmup_steps = 0
        if initial_credits == "warmup":
            self.warmup_steps = min(round(86_400.0 / self.step_s), len(workload.index))
        self._max_rates: dict[tuple[int, float], np.ndarray] = {}

    def max_rates_per_s(
        self, shapes: Iterable[tuple[int, float]]
    ) -> dict[tuple[int, float], np.ndarray]:
        """Largest per-instance arrival rate meeting the p99 SLO, per step.

        Parameters
        ----------
        shapes
            (vCPUs, speed) pairs; speed 1 is full CPU, the baseline when throttled.

        Returns
        -------
        dict
            For each pair, the rate per step [1/s] (from the step's CPU cost).
        """
        missing = sorted(set(shapes) - set(self._max_rates))
        if missing:
            vcpu = np.array([[shape[0]] for shape in missing], dtype=float)
            speed = np.array([[shape[1]] for shape in missing])
            slo_s = self.constraints.p99_slo_ms / 1000.0
            rates = _max_rate_per_s(vcpu, self.unique_service_s / speed, slo_s)
            for shape, row in zip(missing, rates, strict=True):
                self._max_rates[shape] = row[self.service_index]
        return {shape: self._max_rates[shape] for shape in shapes}

    def peak_vcpu(self, count: int) -> np.ndarray:
        """Peak busy vCPUs per instance of each scenario, ``count`` sharing [vCPU]."""
        background = self.background_vcpu
        if background.min() == background.max():
            return self.peak_request_vcpu / count + background[0]
        return (self.request_vcpu / count + background).max(axis=1)

    def mean_demand_vcpu(self) -> float:
        """Mean busy vCPUs the base workload asks of the whole fleet [vCPU]."""
        request_vcpu = self.rate_per_s[0] * self.service_s
        return float(request_vcpu.mean() + self.background_vcpu.mean())


class FleetScreen:
    """Every constraint for fleets of one candidate, caching evaluations by count.

    Parameters
    ----------
    model
        The prepared workload, its surges and the constraints.
    candidate
        Instance type and mode.

    Raises
    ------
    CatalogError, ParameterError
        For an unknown type, or a mode that does not apply to it.
    """

    def __init__(self, model: FleetModel, candidate: Candidate) -> None:
        self.model = model
        self.candidate = candidate
        self.instance = get_instance(candidate.instance_type)
        _check_mode(self.instance, candidate.mode)
        self.standard = candidate.mode == "standard"
        self.cache: dict[tuple[int, bool], FleetEvaluation] = {}

        self.shapes = shapes(self.instance, candidate.mode)
        rates = model.max_rates_per_s(self.shapes)
        self.max_rate_per_s = rates[self.shapes[0]]
        self.throttled_max_rate_per_s = rates[self.shapes[-1]]

    def evaluate(self, count: int, *, with_ledger: bool = False) -> FleetEvaluation:
        """Every constraint for ``count`` instances (cached).

        The ledger runs for standard mode, whose constraints need it, or when
        ``with_ledger`` asks for the balance and surplus figures.
        """
        key = (count, with_ledger or self.standard)
        if key not in self.cache:
            self.cache[key] = self._evaluate(count, key[1])
        return self.cache[key]

    def detailed(self, count: int) -> FleetEvaluation:
        """:meth:`evaluate` with the ledger figures and the p99 at the peak step."""
        evaluation = self.evaluate(count, with_ledger=True)
        p99_ms = peak_p99_ms([evaluation], self.model)[0]
        return replace(evaluation, p99_at_peak_ms=p99_ms)

    def fast_feasible(self, count: int) -> bool:
        """Headroom, zone loss and p99 at full speed: the checks needing no ledger."""
        limits = self.model.constraints
        peak_frac = float(self.model.peak_vcpu(count)[0]) / self.instance.vcpu

        if peak_frac > 1.0 - limits.headroom_frac + 1e-12:
            return False
        if self._zone_loss_frac(count) >= 1.0:
            return False
        met = (self.model.rate_per_s <= count * self.max_rate_per_s).mean(axis=1)
        return bool(np.all(met >= limits.slo_share_frac))

    def _zone_loss_frac(self, count: int) -> float:
        zones = self.model.constraints.zones
        lost = 1 if zones == 1 else math.ceil(count / zones)
        survivors = count - lost
        if survivors < 1:
            return math.inf
        return float(self.model.peak_vcpu(survivors)[0]) / self.instance.vcpu

    def _evaluate(self, count: int, with_ledger: bool) -> FleetEvaluation:
        model, limits, vcpu = self.model, self.model.constraints, self.instance.vcpu
        rate = model.rate_per_s
        peak_vcpu = model.peak_vcpu(count)

        ledger = None
        if self.instance.burstable and with_ledger:
            ledger = self._ledger(model.request_vcpu / count + model.background_vcpu)
        throttled = np.zeros(rate.shape, dtype=bool)
        ok = rate <= count * self.max_rate_per_s
        if self.standard and ledger is not None:
            throttled = ledger["unserved_vcpu"] > THROTTLE_VCPU
            slow_ok = rate <= count * self.throttled_max_rate_per_s
            ok = np.where(throttled, slow_ok, ok)
        met_frac = ok.mean(axis=1)

        peak_frac = float(peak_vcpu[0]) / vcpu
        zone_frac = self._zone_loss_frac(count)
        checks = [
            _check_headroom(peak_frac, limits),
            _check_zone_loss(zone_frac, limits),
            _check_slo(float(met_frac[0]), limits),
            self._check_credit_floor(ledger),
            *self._check_surges(met_frac, peak_vcpu, ledger),
        ]

        return FleetEvaluation(
            candidate=self.candidate,
            count=count,
            checks=tuple(checks),
            peak_utilisation_frac=peak_frac,
            p99_at_peak_ms=math.nan,
            throttled_at_peak=bool(throttled[0, model.peak_step]),
            slo_met_frac=float(met_frac.min()),
            min_balance_credits=_ledger_value(ledger, "min_balance_credits"),
            start_balance_credits=_ledger_value(ledger, "start_balance_credits"),
            hours_of_credit_at_worst_surge=self._hours_of_credit(ledger),
            surplus_charged_credits=0.0
            if self.standard
            else count * _owed_credits(ledger),
            requests_served=model.requests_served,
            measured_hours=model.measured_hours,
        )

    def _ledger(self, demand: np.ndarray) -> dict[str, np.ndarray]:
        """Per-instance ledger of every scenario, after the warm-up day if any."""
        capped = np.minimum(demand, self.instance.vcpu)
        warm = self.model.warmup_steps
        prefix = np.broadcast_to(capped[0, :warm], (len(capped), warm))
        full = self.model.initial_credits != "empty"
        start = float(self.instance.max_credits or 0.0) if full else 0.0

        result = run_ledger(
            np.concatenate([prefix, capped], axis=1),
            instance=self.instance,
            step_s=self.model.step_s,
            mode=self.candidate.mode,
            os=self.model.os,
            start_credits=start,
        )

        balance = np.asarray(result.balance_credits)
        balance = balance + np.asarray(result.launch_balance_credits)
        surplus = np.asarray(result.surplus_balance_credits)
        start_balance = balance[:, warm - 1] if warm else np.full(len(capped), start)
        start_surplus = surplus[:, warm - 1] if warm else np.zeros(len(capped))
        charged = np.asarray(result.surplus_charged_credits)[:, warm:]
        return {
            "unserved_vcpu": np.asarray(result.unserved_vcpu)[:, warm:],
            "balance_credits": balance[:, warm:],
            "min_balance_credits": np.minimum(
                start_balance, balance[:, warm:].min(axis=1)
            ),
            "surplus_charged_credits": charged.sum(axis=1),
            "end_surplus_credits": surplus[:, -1],
            "start_surplus_credits": start_surplus,
            "start_balance_credits": start_balance,
        }

    def _check_credit_floor(self, ledger: dict[str, np.ndarray] | None) -> Check:
        limits = self.model.constraints
        floor = limits.min_balance_frac * float(self.instance.max_credits or 0.0)
        if not self.standard or ledger is None:
            return Check("credit_floor", True, math.nan, floor, "no floor applies")

        lowest = float(ledger["min_balance_credits"][0])
        exhausted = ", credits exhausted" if lowest <= EXHAUSTED_CREDITS else ""
        return Check(
            "credit_floor",
            lowest >= floor - 1e-9,
            lowest,
            floor,
            f"lowest standard-mode balance {lowest:.1f} credits against a floor of "
            f"{floor:.1f} ({limits.min_balance_frac:.0%} of the "
            f"{self.instance.max_credits:g}-credit cap){exhausted}",
        )

    def _check_surges(
        self,
        met_frac: np.ndarray,
        peak_vcpu: np.ndarray,
        ledger: dict[str, np.ndarray] | None,
    ) -> list[Check]:
        limits, vcpu = self.model.constraints, self.instance.vcpu
        checks = []
        for index, surge in enumerate(self.model.surges, start=1):
            peak_frac = float(peak_vcpu[index]) / vcpu
            exhausted = bool(
                self.standard
                and ledger is not None
                and ledger["balance_credits"][index].min() <= EXHAUSTED_CREDITS
            )
            share = float(met_frac[index])
            passed = share >= limits.slo_share_frac and peak_frac < 1 and not exhausted
            checks.append(
                Check(
                    "surge",
                    passed,
                    share,
                    limits.slo_share_frac,
                    f"surge x{surge.multiplier:g} for {surge.hours:g} h at "
                    f"{surge.start}: SLO met in {share:.1%} of steps, peak "
                    f"utilisation {peak_frac:.0%}"
                    + (", credits exhausted" if exhausted else ""),
                )
            )
        return checks

    def _hours_of_credit(self, ledger: dict[str, np.ndarray] | None) -> float:
        if ledger is None or not self.model.surges:
            return math.nan
        hours = []
        for index, (first, _) in enumerate(self.model.surge_steps, start=1):
            at_start = ledger["start_balance_credits"][index]
            if first > 0:
                at_start = ledger["balance_credits"][index, first - 1]
            after = ledger["balance_credits"][index, first:]
            empty = np.flatnonzero(
                np.concatenate(([at_start], after)) <= EXHAUSTED_CREDITS
            )
            steps = math.inf if empty.size == 0 else empty[0]
            hours.append(steps * self.model.step_s / SECONDS_PER_HOUR)
        return float(min(hours))


def shapes(instance: InstanceType, mode: str) -> list[tuple[int, float]]:
    """(vCPUs, speed) at full CPU and, in standard mode, throttled to the baseline."""
    shapes = [(instance.vcpu, 1.0)]
    if mode == "standard":
        shapes.append((instance.vcpu, float(instance.baseline_frac or 1.0)))
    return shapes


def peak_p99_ms(
    evaluations: Sequence[FleetEvaluation], model: FleetModel
) -> list[float]:
    """p99 response time at the base peak step of each fleet, in one vector call.

    Parameters
    ----------
    evaluations
        Fleets evaluated over ``model``'s workload.
    model
        The prepared workload.

    Returns
    -------
    list of float
        M/M/c p99 [ms] with c = vCPUs, the peak request rate split evenly, and the
        step's CPU per request, slowed to the baseline where the step is throttled.
    """
    if not evaluations:
        return []
    step = model.peak_step
    instances = [get_instance(e.candidate.instance_type) for e in evaluations]
    slowdown = [
        float(i.baseline_frac or 1.0) if e.throttled_at_peak else 1.0
        for i, e in zip(instances, evaluations, strict=True)
    ]
    service_s = float(model.service_s[step]) / np.array(slowdown)
    if service_s[0] <= 0:
        return [0.0] * len(evaluations)

    vcpu = np.array([i.vcpu for i in instances])
    rate_per_s = model.rate_per_s[0, step] / np.array([e.count for e in evaluations])
    quantile_s = mmc_response_quantile_s(P99, vcpu, rate_per_s, service_s)
    return [float(q) * 1000.0 for q in quantile_s]


def _max_rate_per_s(
    vcpu: np.ndarray, service_s: np.ndarray, slo_s: float
) -> np.ndarray:
    """Largest arrival rate per instance with P(T > slo) <= 1 - P99.

    Bisection on the arrival rate (the M/M/c response survival rises with it), over
    vCPU counts (a column) times service times (a row). Zero where even an idle
    instance misses the SLO; inf where requests cost no CPU.
    """
    vcpu, service_s = np.broadcast_arrays(vcpu, service_s)
    service = np.where(service_s > 0, service_s, 1.0)
    low = np.zeros_like(service)
    high = vcpu / service

    for _ in range(RATE_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        survival = mmc_response_survival(slo_s, vcpu, middle, service)
        meets = survival <= 1.0 - P99
        low = np.where(meets, middle, low)
        high = np.where(meets, high, middle)

    idle_meets = np.exp(-slo_s / service) <= 1.0 - P99
    rate = np.where(idle_meets, low, 0.0)
    return np.where(service_s > 0, rate, np.inf)


def _check_headroom(peak_frac: float, limits: Constraints) -> Check:
    limit = 1.0 - limits.headroom_frac
    return Check(
        "headroom",
        peak_frac <= limit + 1e-12,
        peak_frac,
        limit,
        f"peak utilisation {peak_frac:.1%} against at most {limit:.0%}",
    )


def _check_zone_loss(zone_frac: float, limits: Constraints) -> Check:
    lost = "one instance" if limits.zones == 1 else f"one of {limits.zones} zones"
    return Check(
        "zone_loss",
        zone_frac < 1.0,
        zone_frac,
        1.0,
        f"after losing {lost} at the peak the survivors run at {zone_frac:.0%}",
    )


def _check_slo(met_frac: float, limits: Constraints) -> Check:
    return Check(
        "p99_slo",
        met_frac >= limits.slo_share_frac,
        met_frac,
        limits.slo_share_frac,
        f"p99 under {limits.p99_slo_ms:g} ms in {met_frac:.1%} of steps, "
        f"{limits.slo_share_frac:.1%} required",
    )


def _check_mode(instance: InstanceType, mode: str) -> None:
    allowed = MODES if instance.burstable else (FIXED,)
    if mode not in allowed:
        raise ParameterError(
            f"mode={mode!r} does not apply to {instance.name}; use one of {allowed}"
        )


def _ledger_value(ledger: dict[str, np.ndarray] | None, key: str) -> float:
    return math.nan if ledger is None else float(ledger[key][0])


def _owed_credits(ledger: dict[str, np.ndarray] | None) -> float:
    """Steady-state surplus of the base run: spent beyond earned, if it repeated.

    ``charged + (S_end - S_start) - (B_end - B_start)``, floored at 0: credits
    charged, plus surplus run up, plus banked credits drawn down. By conservation
    this is spent - earned + discarded, which is what a run repeating forever
    pays per run (the balances then return to their start).
    """
    if ledger is None:
        return 0.0
    charged = float(ledger["surplus_charged_credits"][0])
    surplus_growth = (
        ledger["end_surplus_credits"][0] - ledger["start_surplus_credits"][0]
    )
    balance_growth = (
        ledger["balance_credits"][0, -1] - ledger["start_balance_credits"][0]
    )
    return max(charged + float(surplus_growth) - float(balance_growth), 0.0)


def _window_steps(w: Workload, surge: Surge) -> tuple[int, int]:
    start = pd.Timestamp(surge.start)
    start = start.tz_localize("UTC") if start.tz is None else start
    first = int(w.index.searchsorted(start))
    last = int(w.index.searchsorted(start + pd.Timedelta(hours=surge.hours)))
    return first, last


__all__ = [
    "FIXED",
    "Candidate",
    "Check",
    "Constraints",
    "FleetEvaluation",
    "FleetModel",
    "FleetScreen",
    "peak_p99_ms",
    "shapes",
    "surge_workloads",
]
