"""Sizing recommendations: the cheapest fleet that meets every constraint.

Candidates are instance types from the catalog, each burstable type in each credit
mode, at any count from 1 to ``max_count``. A fleet is feasible when, over the base
workload and every surge scenario, it keeps p99 response time under the SLO for the
required share of steps, keeps spare CPU at the base peak, keeps the standard-mode
credit balance above its floor, and survives losing one availability zone (or one
instance) at the peak. Every constraint only gets easier with more instances, so the
smallest feasible count of each candidate is found by bisection; the options are
ranked by monthly cost, and every candidate that cannot be made feasible is returned
with the reason, the measured value and the limit, as data.

The search screens with the credit ledger and an M/M/c threshold per step (fast
enough for the whole catalog); the cheapest options are then re-checked, in rank
order, with the fleet model (:func:`capacity.fleet.simulate_fleet`) until one holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from capacity.catalog import InstanceType, PriceTable, get_instance, instance_types
from capacity.cost import HOURS_PER_MONTH, Pricing, fleet_cost, instance_pricing
from capacity.credits import run_ledger
from capacity.errors import ParameterError
from capacity.fleet import simulate_fleet
from capacity.params import INITIAL_CREDITS, MODES, Surge
from capacity.queueing import mmc_response_quantile_s, mmc_response_survival
from capacity.workload import Workload, with_surge

FIXED = "fixed"  # the mode column of fixed-performance types
P99 = 0.99
EXHAUSTED_CREDITS = 0.5  # a balance at or below this counts as exhausted [credits]
RATE_BISECTION_STEPS = 48  # halvings of the stable range: relative error 4e-15
THROTTLE_VCPU = 1e-9  # unserved demand above this marks a throttled step [vCPU]
VALIDATED_OPTIONS = 3  # cheapest options re-checked with the fleet model, at most
SECONDS_PER_HOUR = 3600.0
OPTION_COLUMNS = [
    "instance_type",
    "count",
    "mode",
    "monthly_cost_usd",
    "surplus_cost_usd",
    "compute_cost_usd",
    "cost_per_million_requests_usd",
    "peak_utilisation_frac",
    "p99_at_peak_ms",
    "slo_met_frac",
    "fleet_slo_met_frac",
    "min_balance_credits",
    "hours_of_credit_at_worst_surge",
    "binding_constraint",
]
REJECTED_COLUMNS = [
    "instance_type",
    "mode",
    "count",
    "reason",
    "detail",
    "measured",
    "limit",
]


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


@dataclass(frozen=True)
class Recommendation:
    """The ranked feasible options and the rejected candidates with reasons."""

    options: pd.DataFrame  # one row per feasible candidate, cheapest first
    rejected: pd.DataFrame  # one row per candidate no count makes feasible
    constraints: Constraints  # the constraints applied
    initial_credits: str  # start balance rule: warmup, full or empty
    evaluations: tuple[FleetEvaluation, ...] = field(repr=False)  # chosen fleets

    @property
    def best(self) -> dict[str, object] | None:
        """The winner's row as a dict, or None when nothing is feasible."""
        if self.options.empty:
            return None
        return {str(key): value for key, value in self.options.iloc[0].items()}


def candidates(
    families: Iterable[str] | None = None,
    sizes: Iterable[str] | None = None,
    modes: Sequence[str] = MODES,
    *,
    min_memory_gib: float = 0.0,
) -> list[Candidate]:
    """Catalog types of some families and sizes; burstable ones once per mode.

    Parameters
    ----------
    families
        Families to keep (``["t3", "c5"]``); None keeps the whole catalog.
    sizes
        Sizes to keep (``["large", "xlarge"]``); None keeps every size.
    modes
        Credit modes tried for burstable types.
    min_memory_gib
        Smallest memory per instance the application needs [GiB].

    Returns
    -------
    list of Candidate
        Sorted by instance type and mode, so the input order never matters.

    Raises
    ------
    CatalogError
        For an unknown family.
    ParameterError
        For an unknown mode, or a size filter that leaves nothing.

    Examples
    --------
    >>> [(c.instance_type, c.mode) for c in candidates(["t3"], ["large"])]
    [('t3.large', 'standard'), ('t3.large', 'unlimited')]
    """
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ParameterError(f"modes: unknown {unknown}; use standard and/or unlimited")
    wanted_sizes = None if sizes is None else {str(s).lower() for s in sizes}

    chosen = set()
    for instance in instance_types(None if families is None else sorted(families)):
        if wanted_sizes is not None and instance.size not in wanted_sizes:
            continue
        if instance.memory_gib < min_memory_gib:
            continue
        for mode in sorted(set(modes)) if instance.burstable else [FIXED]:
            chosen.add(Candidate(instance.name, mode))

    if not chosen:
        raise ParameterError(
            f"sizes={sorted(wanted_sizes or [])} with min_memory_gib="
            f"{min_memory_gib:g} leaves no instance type; widen the filters"
        )
    return sorted(chosen, key=lambda c: (c.instance_type, c.mode))


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

    def evaluate(self, candidate: Candidate, count: int) -> FleetEvaluation:
        """Evaluate one fleet against every constraint.

        Parameters
        ----------
        candidate
            Instance type and mode.
        count
            Instances in the fleet, >= 1.

        Returns
        -------
        FleetEvaluation
        """
        return _Search(self, candidate).detailed(count)


def evaluate_fleet(
    workload: Workload,
    candidate: Candidate,
    count: int,
    constraints: Constraints | None = None,
    *,
    surges: Sequence[Surge] = (),
    initial_credits: str = "warmup",
    os: str = "linux",
) -> FleetEvaluation:
    """Evaluate one fleet of ``count`` instances against every constraint.

    See :class:`FleetModel` for the model and its assumptions.

    Examples
    --------
    >>> from capacity.workload import daily_profile
    >>> w = daily_profile(8.64e6, 1.0, days=1, step_s=3600, cpu_per_request_ms=10)
    >>> e = evaluate_fleet(w, Candidate("c5.large", "fixed"), 2)
    >>> round(e.peak_utilisation_frac, 3)  # 100 req/s x 10 ms / (2 x 2 vCPU)
    0.25
    """
    model = FleetModel(
        workload,
        constraints or Constraints(),
        surges=surges,
        initial_credits=initial_credits,
        os=os,
    )
    return model.evaluate(candidate, count)


def recommend(
    workload: Workload,
    constraints: Constraints | None = None,
    *,
    candidate_list: Sequence[Candidate] | None = None,
    surges: Sequence[Surge] = (),
    initial_credits: str = "warmup",
    prices: PriceTable | None = None,
    committed_prices: PriceTable | None = None,
    discount_pct: float = 0.0,
    os: str = "linux",
    horizon_hours: float = HOURS_PER_MONTH,
    progress: Callable[[Candidate], None] | None = None,
) -> Recommendation:
    """The cheapest feasible fleets for a workload, and why the others lost.

    Parameters
    ----------
    workload
        The base workload.
    constraints
        Constraints; defaults from :class:`Constraints`.
    candidate_list
        Candidates to search; None: :func:`candidates` over the whole catalog.
    surges
        Surge scenarios; each must hold on its own.
    initial_credits
        Start balance rule (see :class:`FleetModel`).
    prices, committed_prices, discount_pct, os
        Pricing, as :func:`capacity.cost.instance_pricing`.
    horizon_hours
        Costing horizon [h]; the table's cost columns are per 730 h month.
    progress
        Called once per candidate searched (for a progress bar).

    Returns
    -------
    Recommendation
        ``options`` ranked by monthly cost, then instance type, mode and count;
        ``rejected`` with reason, detail, measured value and limit.

    Raises
    ------
    ParameterError, CatalogError
        For bad constraints, candidates, surges or prices.

    Notes
    -----
    Feasibility is assumed monotone in the count (true of each constraint: more
    instances split the same load), so each candidate's smallest feasible count is
    found by galloping up from the mean-demand lower bound, then bisection. The
    fast constraints (headroom, zone loss, p99 at full speed) are searched first;
    the credit ledger runs only from that count upwards. Surplus credits charged,
    and surplus still owed at the end of the run, are costed at the family rate.

    References
    ----------
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html
    """
    constraints = constraints or Constraints()
    model = FleetModel(
        workload, constraints, surges=surges, initial_credits=initial_credits, os=os
    )
    if candidate_list is not None and not candidate_list:
        raise ParameterError(
            "candidate_list is empty; pass None to search the whole catalog"
        )
    chosen = sorted(set(candidate_list or candidates()), key=_candidate_key)
    shapes = [_shapes(get_instance(c.instance_type), c.mode) for c in chosen]
    model.max_rates_per_s(shape for pair in shapes for shape in pair)

    rejected: list[dict[str, object]] = []
    evaluations: list[FleetEvaluation] = []
    pricings: list[Pricing] = []
    for candidate in chosen:
        outcome = _Search(model, candidate).smallest_feasible()
        if isinstance(outcome, FleetEvaluation):
            pricing = instance_pricing(
                candidate.instance_type,
                prices=prices,
                os=os,
                discount_pct=discount_pct,
                committed_prices=committed_prices,
            )
            evaluations.append(outcome)
            pricings.append(pricing)
        else:
            rejected.extend(outcome)
        if progress is not None:
            progress(candidate)

    p99_ms = peak_p99_ms(evaluations, model)
    evaluations = [
        replace(e, p99_at_peak_ms=ms) for e, ms in zip(evaluations, p99_ms, strict=True)
    ]
    options = [
        _option_row(e, pricing, horizon_hours)
        for e, pricing in zip(evaluations, pricings, strict=True)
    ]
    ranked = _ranked(pd.DataFrame(options, columns=OPTION_COLUMNS))
    by_candidate = {
        (e.candidate.instance_type, e.candidate.mode): e for e in evaluations
    }
    ranked, failed = _validate_cheapest(ranked, by_candidate, model)
    return Recommendation(
        options=ranked,
        rejected=pd.DataFrame(rejected + failed, columns=REJECTED_COLUMNS),
        constraints=constraints,
        initial_credits=initial_credits,
        evaluations=tuple(evaluations),
    )


class _Search:
    """The count search for one candidate, caching evaluations by count."""

    def __init__(self, model: FleetModel, candidate: Candidate) -> None:
        self.model = model
        self.candidate = candidate
        self.instance = get_instance(candidate.instance_type)
        _check_mode(self.instance, candidate.mode)
        self.standard = candidate.mode == "standard"
        self.cache: dict[tuple[int, bool], FleetEvaluation] = {}

        self.shapes = _shapes(self.instance, candidate.mode)
        rates = model.max_rates_per_s(self.shapes)
        self.max_rate_per_s = rates[self.shapes[0]]
        self.throttled_max_rate_per_s = rates[self.shapes[-1]]

    def smallest_feasible(self) -> FleetEvaluation | list[dict[str, object]]:
        """The cheapest (smallest) feasible fleet, or one rejection row per failure."""
        max_count = self.model.constraints.max_count
        lower = math.ceil(self.model.mean_demand_vcpu() / self.instance.vcpu)
        if lower > max_count:
            return self._rejection_for_size(lower)

        fast = _smallest_true(self._fast_feasible, max(lower - 1, 0), max_count)
        if fast is None:
            return self._rejection(self.evaluate(max_count))
        full = _smallest_true(self._feasible, fast - 1, max_count)
        if full is None:
            return self._rejection(self.evaluate(max_count))

        chosen = self.evaluate(full, with_ledger=True)
        return replace(chosen, binding_constraint=self._binding(full))

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

    def _fast_feasible(self, count: int) -> bool:
        limits = self.model.constraints
        peak_frac = float(self.model.peak_vcpu(count)[0]) / self.instance.vcpu

        if peak_frac > 1.0 - limits.headroom_frac + 1e-12:
            return False
        if self._zone_loss_frac(count) >= 1.0:
            return False
        met = (self.model.rate_per_s <= count * self.max_rate_per_s).mean(axis=1)
        return bool(np.all(met >= limits.slo_share_frac))

    def _feasible(self, count: int) -> bool:
        return self.evaluate(count).feasible

    def _binding(self, count: int) -> str:
        if count <= 1:
            return "none (one instance suffices)"
        failed = [c.constraint for c in self.evaluate(count - 1).checks if not c.passed]
        return ",".join(failed) or "none"

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

    def _rejection(self, evaluation: FleetEvaluation) -> list[dict[str, object]]:
        return [
            _rejection_row(self.candidate, evaluation.count, check)
            for check in evaluation.checks
            if not check.passed
        ]

    def _rejection_for_size(self, lower: int) -> list[dict[str, object]]:
        return [
            {
                "instance_type": self.candidate.instance_type,
                "mode": self.candidate.mode,
                "count": self.model.constraints.max_count,
                "reason": "max_count",
                "detail": f"mean demand alone needs {lower} instances, more than "
                f"max_count={self.model.constraints.max_count}",
                "measured": float(lower),
                "limit": float(self.model.constraints.max_count),
            }
        ]


def _shapes(instance: InstanceType, mode: str) -> list[tuple[int, float]]:
    """(vCPUs, speed) at full CPU and, in standard mode, throttled to the baseline."""
    shapes = [(instance.vcpu, 1.0)]
    if mode == "standard":
        shapes.append((instance.vcpu, float(instance.baseline_frac or 1.0)))
    return shapes


def fleet_model_check(model: FleetModel, evaluation: FleetEvaluation) -> Check:
    """Re-check the p99 SLO of one fleet with :func:`capacity.fleet.simulate_fleet`.

    Parameters
    ----------
    model
        The prepared workload and its surge scenarios.
    evaluation
        The fleet to re-check.

    Returns
    -------
    Check
        ``fleet_model``: the lowest share of steps, over the scenarios, whose p99
        from the fleet model (ledger-driven capacity, routing, fluid backlog) is
        within the SLO, against the share required.
    """
    limits = model.constraints
    mode = None if evaluation.candidate.mode == FIXED else evaluation.candidate.mode
    start = evaluation.start_balance_credits if mode == "standard" else None

    shares = []
    for scenario in model.scenarios:
        result = simulate_fleet(
            scenario,
            evaluation.candidate.instance_type,
            evaluation.count,
            mode,
            os=model.os,
            start_credits=start,
        )
        shares.append(float(np.mean(result.p99_ms <= limits.p99_slo_ms)))

    share = min(shares)
    return Check(
        "fleet_model",
        share >= limits.slo_share_frac,
        share,
        limits.slo_share_frac,
        f"fleet model: p99 under {limits.p99_slo_ms:g} ms in {share:.1%} of steps "
        f"of the worst scenario, {limits.slo_share_frac:.1%} required",
    )


def _validate_cheapest(
    ranked: pd.DataFrame,
    by_candidate: dict[tuple[str, str], FleetEvaluation],
    model: FleetModel,
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Walk down the ranking until the fleet model confirms an option.

    At most :data:`VALIDATED_OPTIONS` options are simulated; those the fleet model
    refutes leave the options for the rejections (reason ``fleet_model``).
    """
    failed_rows: list[dict[str, object]] = []
    refuted = []
    for index in ranked.index[:VALIDATED_OPTIONS]:
        key = (str(ranked.loc[index, "instance_type"]), str(ranked.loc[index, "mode"]))
        evaluation = by_candidate[key]
        check = fleet_model_check(model, evaluation)
        ranked.loc[index, "fleet_slo_met_frac"] = check.measured
        if check.passed:
            break
        refuted.append(index)
        failed_rows.append(
            _rejection_row(evaluation.candidate, evaluation.count, check)
        )
    return ranked.drop(index=refuted).reset_index(drop=True), failed_rows


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


def _smallest_true(
    predicate: Callable[[int], bool], known_false: int, max_count: int
) -> int | None:
    """Smallest n in (known_false, max_count] with predicate(n), for a monotone one.

    Gallops up from ``known_false`` by doubling the step, then bisects.
    """
    low, step = known_false, 1
    high = min(low + step, max_count)
    while not predicate(high):
        if high >= max_count:
            return None
        low, step = high, 2 * step
        high = min(low + step, max_count)

    while high - low > 1:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle
    return high


def _rejection_row(candidate: Candidate, count: int, check: Check) -> dict[str, object]:
    return {
        "instance_type": candidate.instance_type,
        "mode": candidate.mode,
        "count": count,
        "reason": check.constraint,
        "detail": check.detail,
        "measured": check.measured,
        "limit": check.limit,
    }


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


def _option_row(
    evaluation: FleetEvaluation,
    pricing: Pricing,
    horizon_hours: float,
) -> dict[str, object]:
    cost = fleet_cost(
        pricing,
        evaluation.count,
        mode=evaluation.candidate.mode,
        horizon_hours=horizon_hours,
        surplus_charged_credits=evaluation.surplus_charged_credits,
        requests_served=evaluation.requests_served,
        measured_hours=evaluation.measured_hours,
    )
    per_month = HOURS_PER_MONTH / horizon_hours
    return {
        "instance_type": evaluation.candidate.instance_type,
        "count": evaluation.count,
        "mode": evaluation.candidate.mode,
        "monthly_cost_usd": cost.monthly_cost_usd,
        "surplus_cost_usd": cost.surplus_usd * per_month,
        "compute_cost_usd": cost.compute_usd * per_month,
        "cost_per_million_requests_usd": cost.cost_per_million_requests_usd,
        "peak_utilisation_frac": evaluation.peak_utilisation_frac,
        "p99_at_peak_ms": evaluation.p99_at_peak_ms,
        "slo_met_frac": evaluation.slo_met_frac,
        "fleet_slo_met_frac": math.nan,
        "min_balance_credits": evaluation.min_balance_credits,
        "hours_of_credit_at_worst_surge": evaluation.hours_of_credit_at_worst_surge,
        "binding_constraint": evaluation.binding_constraint,
    }


def _ranked(options: pd.DataFrame) -> pd.DataFrame:
    ranked = options.sort_values(
        ["monthly_cost_usd", "instance_type", "mode", "count"], kind="mergesort"
    )
    return ranked.reset_index(drop=True)


def _candidate_key(candidate: Candidate) -> tuple[str, str]:
    return candidate.instance_type, candidate.mode


__all__ = [
    "Candidate",
    "Check",
    "Constraints",
    "FleetEvaluation",
    "FleetModel",
    "Recommendation",
    "candidates",
    "evaluate_fleet",
    "fleet_model_check",
    "peak_p99_ms",
    "recommend",
    "surge_workloads",
]
