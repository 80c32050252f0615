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

The search screens with the credit ledger and an M/M/c threshold per step
(:mod:`capacity.screening`, fast enough for the whole catalog); the cheapest options
are then re-checked, in rank order, with the fleet model
(:func:`capacity.fleet.simulate_fleet`) until one holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from capacity.catalog import PriceTable, get_instance, instance_types
from capacity.cost import HOURS_PER_MONTH, Pricing, fleet_cost, instance_pricing
from capacity.errors import ParameterError
from capacity.fleet import simulate_fleet
from capacity.params import DEFAULT_MIN_MEMORY_GIB, MODES, Surge
from capacity.screening import (
    FIXED,
    Candidate,
    Check,
    Constraints,
    FleetEvaluation,
    FleetModel,
    FleetScreen,
    peak_p99_ms,
    shapes,
)
from capacity.workload import Workload

VALIDATED_OPTIONS = 3  # cheapest options re-checked with the fleet model, at most
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
    min_memory_gib: float = DEFAULT_MIN_MEMORY_GIB,
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
        Smallest memory per instance the application needs [GiB]; by default
        4 GiB, a container host (0 keeps the nano, micro and small types).

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
    return FleetScreen(model, candidate).detailed(count)


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
    fleet_shapes = [shapes(get_instance(c.instance_type), c.mode) for c in chosen]
    model.max_rates_per_s(shape for pair in fleet_shapes for shape in pair)

    rejected: list[dict[str, object]] = []
    evaluations: list[FleetEvaluation] = []
    pricings: list[Pricing] = []
    for candidate in chosen:
        outcome = smallest_feasible(FleetScreen(model, candidate))
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


def smallest_feasible(
    screen: FleetScreen,
) -> FleetEvaluation | list[dict[str, object]]:
    """The cheapest (smallest) feasible fleet of one candidate, or why none is.

    Parameters
    ----------
    screen
        The candidate's fleets over the prepared workload.

    Returns
    -------
    FleetEvaluation or list of dict
        The smallest feasible fleet, with ``binding_constraint`` naming what one
        instance fewer breaks; otherwise one rejection row per failed constraint at
        ``max_count`` (or one ``max_count`` row when mean demand alone exceeds it).

    Notes
    -----
    Gallops up from the mean-demand lower bound with the checks that need no
    ledger, then from there with every check; both are monotone in the count.
    """
    max_count = screen.model.constraints.max_count
    lower = math.ceil(screen.model.mean_demand_vcpu() / screen.instance.vcpu)
    if lower > max_count:
        return [_rejection_for_size(screen.candidate, lower, max_count)]

    fast = _smallest_true(screen.fast_feasible, max(lower - 1, 0), max_count)
    if fast is None:
        return _rejections(screen.evaluate(max_count))
    full = _smallest_true(lambda n: screen.evaluate(n).feasible, fast - 1, max_count)
    if full is None:
        return _rejections(screen.evaluate(max_count))

    chosen = screen.evaluate(full, with_ledger=True)
    return replace(chosen, binding_constraint=_binding(screen, full))


def _binding(screen: FleetScreen, count: int) -> str:
    if count <= 1:
        return "none (one instance suffices)"
    failed = [c.constraint for c in screen.evaluate(count - 1).checks if not c.passed]
    return ",".join(failed) or "none"


def _rejections(evaluation: FleetEvaluation) -> list[dict[str, object]]:
    return [
        _rejection_row(evaluation.candidate, evaluation.count, check)
        for check in evaluation.checks
        if not check.passed
    ]


def _rejection_for_size(
    candidate: Candidate, lower: int, max_count: int
) -> dict[str, object]:
    return {
        "instance_type": candidate.instance_type,
        "mode": candidate.mode,
        "count": max_count,
        "reason": "max_count",
        "detail": f"mean demand alone needs {lower} instances, more than "
        f"max_count={max_count}",
        "measured": float(lower),
        "limit": float(max_count),
    }


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
    "FIXED",
    "Constraints",
    "Recommendation",
    "candidates",
    "evaluate_fleet",
    "fleet_model_check",
    "recommend",
    "smallest_feasible",
]
