"""What a fleet costs: instance-hours, commitment discounts and surplus credits.

Cost of a fleet over a horizon = instance-hours x price per hour (on-demand, or less a
savings-plan or reserved discount) + surplus credits charged x the family's surplus
rate per credit (the rate per vCPU-hour / 60). A month is 730 hours, a year 8,760.

The breakeven between a burstable type in unlimited mode and a fixed-performance type
is the average CPU at which both cost the same per hour: above it, the surplus charge
makes the burstable type the dearer one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from capacity.catalog import (
    InstanceType,
    PriceTable,
    get_instance,
    load_prices,
    surplus_usd_per_vcpu_h,
)
from capacity.errors import CatalogError, ParameterError

HOURS_PER_MONTH = 730.0  # AWS's billing month: 8,760 h / 12
HOURS_PER_YEAR = 8760.0
CREDITS_PER_VCPU_H = 60.0  # one credit is one vCPU busy for one minute
GIVEN_PRICE_SOURCE = "price given by the caller"


@dataclass(frozen=True)
class Pricing:
    """The prices that cost one instance type: compute per hour and surplus credits."""

    instance_type: str  # API name, e.g. "t3.large"
    price_usd_per_h: float  # price paid per instance-hour, after any discount [USD/h]
    on_demand_usd_per_h: float  # on-demand list price per instance-hour [USD/h]
    discount_pct: float  # commitment discount against on-demand [%]
    surplus_usd_per_vcpu_h: float  # surplus-credit rate; 0 for fixed types [USD/vCPU-h]
    source: str  # where the price comes from (URL, or "price given by the caller")
    retrieved: str  # ISO date of the price, "" when the caller gave it


@dataclass(frozen=True)
class CostEstimate:
    """A fleet's cost over a horizon, split into compute and surplus credits."""

    instance_type: str  # API name
    count: int  # instances in the fleet
    mode: str | None  # credit mode: "standard", "unlimited", None for fixed types
    hours: float  # costing horizon [h]
    compute_usd: float  # instance-hours x price over the horizon [USD]
    surplus_usd: float  # surplus credits charged over the horizon [USD]
    total_usd: float  # compute + surplus over the horizon [USD]
    monthly_cost_usd: float  # total scaled to 730 h [USD]
    annual_cost_usd: float  # total scaled to 8,760 h [USD]
    cost_per_million_requests_usd: float  # total / requests served x 1e6; NaN if none
    discount_pct: float  # commitment discount applied to compute [%]
    price_source: str  # provenance of the compute price
    price_retrieved: str  # ISO date of the compute price


@dataclass(frozen=True)
class Breakeven:
    """The average CPU at which unlimited bursting costs what a fixed type costs."""

    burstable: str  # burstable type, e.g. "t3.large"
    fixed: str  # fixed-performance type, e.g. "m5.large"
    breakeven_cpu_pct: float  # average CPU of the burstable type at equal cost [%]
    cost_ratio_at_100_pct: float  # burstable at 100 % CPU / fixed, per hour
    burstable_price_usd_per_h: float  # [USD/h]
    fixed_price_usd_per_h: float  # [USD/h]
    surplus_usd_per_vcpu_h: float  # the burstable family's surplus rate [USD/vCPU-h]
    baseline_pct: float  # the burstable type's baseline per vCPU [%]
    vcpu: int  # the burstable type's vCPUs [vCPU]
    price_source: str  # provenance of the prices
    price_retrieved: str  # ISO date of the prices, "" when given by the caller

    @property
    def burstable_always_cheaper(self) -> bool:
        """True when the breakeven lies above 100 % CPU: no load makes it dearer."""
        return self.breakeven_cpu_pct > 100.0


def discounted_price_usd_per_h(
    on_demand_usd_per_h: float, discount_pct: float
) -> float:
    """The hourly price after a savings-plan or reserved-instance discount.

    Parameters
    ----------
    on_demand_usd_per_h
        On-demand price [USD/h], > 0.
    discount_pct
        Discount against on-demand [%], in [0, 100).

    Returns
    -------
    float
        ``on_demand_usd_per_h x (1 - discount_pct / 100)`` [USD/h].

    Raises
    ------
    ParameterError
        For a non-positive price or a discount outside [0, 100).

    Notes
    -----
    The discount applies to compute only: surplus credits cost the same for
    On-Demand, Spot and Reserved instances.

    Examples
    --------
    >>> round(discounted_price_usd_per_h(0.096, 25.0), 6)
    0.072
    """
    _require_price("on_demand_usd_per_h", on_demand_usd_per_h)
    if not 0.0 <= discount_pct < 100.0:
        raise ParameterError(
            f"discount_pct={discount_pct!r} is outside [0, 100); give the discount "
            f"in percent, e.g. 30 for a 30 % savings plan"
        )

    return on_demand_usd_per_h * (1.0 - discount_pct / 100.0)


def surplus_usd_per_credit(surplus_usd_per_vcpu_h: float) -> float:
    """The price of one surplus credit (one vCPU-minute).

    Parameters
    ----------
    surplus_usd_per_vcpu_h
        Surplus rate [USD per vCPU-hour].

    Returns
    -------
    float
        ``surplus_usd_per_vcpu_h / 60`` [USD per credit].

    References
    ----------
    https://aws.amazon.com/ec2/pricing/on-demand/#T2.2FT3.2FT4g_Unlimited_Mode_Pricing

    Examples
    --------
    >>> surplus_usd_per_credit(0.096)
    0.0016
    """
    return surplus_usd_per_vcpu_h / CREDITS_PER_VCPU_H


def instance_pricing(
    name: str,
    *,
    prices: PriceTable | None = None,
    os: str = "linux",
    discount_pct: float = 0.0,
    committed_prices: PriceTable | None = None,
) -> Pricing:
    """Collect the prices that cost one instance type.

    Parameters
    ----------
    name
        Instance type, e.g. ``"t3.large"``.
    prices
        On-demand price table; None loads the bundled us-east-1 Linux table.
    os
        Operating system; must match the price table's and sets the surplus rate.
    discount_pct
        Savings-plan or reserved discount against on-demand [%].
    committed_prices
        A price table of committed (savings-plan or reserved) prices, used instead
        of ``discount_pct``; the discount is then derived from it.

    Returns
    -------
    Pricing

    Raises
    ------
    CatalogError
        For an unknown type, or a type missing from a price table.
    ParameterError
        For an OS that does not match the price table, a discount outside [0, 100),
        or both ``discount_pct`` and ``committed_prices``.

    Examples
    --------
    >>> instance_pricing("t3.large", discount_pct=50).price_usd_per_h
    0.0416
    """
    instance = get_instance(name)
    table = load_prices() if prices is None else prices
    _require_matching_os(os, table)
    on_demand_usd_per_h = table.price_usd_per_h(instance.name)

    if committed_prices is not None:
        discount_pct = _discount_from_table(
            instance.name, on_demand_usd_per_h, committed_prices, discount_pct
        )
    price_usd_per_h = discounted_price_usd_per_h(on_demand_usd_per_h, discount_pct)

    return Pricing(
        instance_type=instance.name,
        price_usd_per_h=price_usd_per_h,
        on_demand_usd_per_h=on_demand_usd_per_h,
        discount_pct=discount_pct,
        surplus_usd_per_vcpu_h=_surplus_rate(instance, os),
        source=table.source,
        retrieved=table.retrieved,
    )


def fleet_cost(
    pricing: Pricing,
    count: int,
    *,
    mode: str | None = None,
    horizon_hours: float = HOURS_PER_MONTH,
    surplus_charged_credits: float = 0.0,
    requests_served: float = 0.0,
    measured_hours: float | None = None,
) -> CostEstimate:
    """Cost a fleet of one instance type over a horizon.

    Parameters
    ----------
    pricing
        The type's prices, from :func:`instance_pricing`.
    count
        Instances in the fleet, >= 1.
    mode
        Credit mode, for the record: ``"standard"``, ``"unlimited"`` or None.
    horizon_hours
        Costing horizon [h]; 730 is one month.
    surplus_charged_credits
        Surplus credits charged to the whole fleet over ``measured_hours`` [credits].
    requests_served
        Requests the fleet served over ``measured_hours`` (for the cost per
        million requests).
    measured_hours
        Length of the period the two totals above were measured over [h]; they are
        scaled to the horizon at the same hourly rate. None: the horizon itself.

    Returns
    -------
    CostEstimate

    Raises
    ------
    ParameterError
        For a count below 1, a non-positive horizon or measured period, or negative
        credits or requests.

    Notes
    -----
    ``compute = count x hours x price``; ``surplus = credits x rate / 60``. Both
    scale linearly to the horizon, so the monthly and annual figures assume the
    measured period repeats.

    Examples
    --------
    >>> pricing = instance_pricing("t3.large")
    >>> round(fleet_cost(pricing, 2, surplus_charged_credits=600).total_usd, 4)
    121.972
    """
    _require_count(count)
    _require_positive_finite("horizon_hours", horizon_hours)
    if measured_hours is not None:
        _require_positive_finite("measured_hours", measured_hours)
    _require_non_negative("surplus_charged_credits", surplus_charged_credits)
    _require_non_negative("requests_served", requests_served)
    scale = horizon_hours / (measured_hours or horizon_hours)

    compute_usd = count * horizon_hours * pricing.price_usd_per_h

    credit_usd = surplus_usd_per_credit(pricing.surplus_usd_per_vcpu_h)
    surplus_usd = surplus_charged_credits * scale * credit_usd

    total_usd = compute_usd + surplus_usd
    requests = requests_served * scale
    per_million_usd = total_usd / requests * 1e6 if requests > 0 else math.nan

    return CostEstimate(
        instance_type=pricing.instance_type,
        count=count,
        mode=mode,
        hours=horizon_hours,
        compute_usd=compute_usd,
        surplus_usd=surplus_usd,
        total_usd=total_usd,
        monthly_cost_usd=total_usd * HOURS_PER_MONTH / horizon_hours,
        annual_cost_usd=total_usd * HOURS_PER_YEAR / horizon_hours,
        cost_per_million_requests_usd=per_million_usd,
        discount_pct=pricing.discount_pct,
        price_source=pricing.source,
        price_retrieved=pricing.retrieved,
    )


def cost_breakdown(estimates: Sequence[CostEstimate]) -> pd.DataFrame:
    """A table finance can read: one row per fleet, compute, surplus and total.

    Parameters
    ----------
    estimates
        Fleet costs from :func:`fleet_cost`.

    Returns
    -------
    pandas.DataFrame
        Columns ``instance_type, count, mode, hours, compute_usd, surplus_usd,
        total_usd, monthly_cost_usd, annual_cost_usd, cost_per_million_requests_usd,
        discount_pct, price_source, price_retrieved``, in the order given.

    Examples
    --------
    >>> table = cost_breakdown([fleet_cost(instance_pricing("c5.large"), 3)])
    >>> float(table.loc[0, "total_usd"])
    186.15
    """
    columns = list(CostEstimate.__dataclass_fields__)
    return pd.DataFrame([asdict(estimate) for estimate in estimates], columns=columns)


def unlimited_cost_usd_per_h(
    cpu_frac: np.ndarray | float,
    *,
    baseline_frac: float,
    vcpu: int,
    price_usd_per_h: float,
    surplus_usd_per_vcpu_h: float,
) -> np.ndarray:
    """Hourly cost of a burstable instance in unlimited mode at a sustained CPU.

    Parameters
    ----------
    cpu_frac
        Average CPU utilisation per vCPU over 24 h [0..1].
    baseline_frac
        Baseline per vCPU [0..1].
    vcpu
        vCPUs of the type [vCPU].
    price_usd_per_h
        Hourly price [USD/h].
    surplus_usd_per_vcpu_h
        Surplus-credit rate [USD/vCPU-h].

    Returns
    -------
    numpy.ndarray
        ``price + max(0, cpu - baseline) x vcpu x rate`` [USD/h].

    Notes
    -----
    AWS charges the surplus when the 24-hour average exceeds the baseline; below it
    the hourly price covers all bursting.

    References
    ----------
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html

    Examples
    --------
    >>> float(unlimited_cost_usd_per_h(0.6, baseline_frac=0.3, vcpu=2,
    ...       price_usd_per_h=0.0832, surplus_usd_per_vcpu_h=0.05))
    0.1132
    """
    above_baseline_frac = np.maximum(
        np.asarray(cpu_frac, dtype=float) - baseline_frac, 0
    )
    surplus_usd_per_h = above_baseline_frac * vcpu * surplus_usd_per_vcpu_h
    return price_usd_per_h + surplus_usd_per_h


def breakeven_cpu_frac(
    *,
    baseline_frac: float,
    vcpu: int,
    burstable_price_usd_per_h: float,
    fixed_price_usd_per_h: float,
    surplus_usd_per_vcpu_h: float,
) -> float:
    """Average CPU at which unlimited bursting costs as much as a fixed type.

    Parameters
    ----------
    baseline_frac
        Baseline per vCPU of the burstable type [0..1].
    vcpu
        vCPUs of the burstable type [vCPU].
    burstable_price_usd_per_h, fixed_price_usd_per_h
        Hourly prices [USD/h], > 0.
    surplus_usd_per_vcpu_h
        Surplus-credit rate of the burstable family [USD/vCPU-h], > 0.

    Returns
    -------
    float
        ``baseline + (P_fixed - P_burst) / (vcpu x rate)`` [0..1]; above 1 the
        burstable type is cheaper at any load, below the baseline never.

    Raises
    ------
    ParameterError
        For a non-positive price or rate.

    References
    ----------
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html#when-to-use-unlimited-mode

    Examples
    --------
    AWS's t3.large against m5.large:

    >>> round(breakeven_cpu_frac(baseline_frac=0.3, vcpu=2,
    ...       burstable_price_usd_per_h=0.0835, fixed_price_usd_per_h=0.096,
    ...       surplus_usd_per_vcpu_h=0.05), 6)
    0.425
    """
    _require_price("burstable_price_usd_per_h", burstable_price_usd_per_h)
    _require_price("fixed_price_usd_per_h", fixed_price_usd_per_h)
    _require_price("surplus_usd_per_vcpu_h", surplus_usd_per_vcpu_h)

    price_gap_usd_per_h = fixed_price_usd_per_h - burstable_price_usd_per_h
    surplus_usd_per_h_per_frac = vcpu * surplus_usd_per_vcpu_h

    return baseline_frac + price_gap_usd_per_h / surplus_usd_per_h_per_frac


def breakeven(
    burstable: str,
    fixed: str,
    *,
    prices: PriceTable | None = None,
    os: str = "linux",
    burstable_price_usd_per_h: float | None = None,
    fixed_price_usd_per_h: float | None = None,
) -> Breakeven:
    """Breakeven average CPU of a burstable type (unlimited) against a fixed type.

    Parameters
    ----------
    burstable
        A T2/T3/T3a/T4g type, e.g. ``"t3.large"``.
    fixed
        A fixed-performance type, e.g. ``"m5.large"``.
    prices
        Price table for the types not priced explicitly; None: the bundled table.
    os
        Operating system: sets the surplus rate; must match the price table when a
        table price is used.
    burstable_price_usd_per_h, fixed_price_usd_per_h
        Prices to use instead of the table's [USD/h].

    Returns
    -------
    Breakeven

    Raises
    ------
    CatalogError
        For an unknown type, a fixed type given as ``burstable`` or a burstable
        type given as ``fixed``.
    ParameterError
        For a non-positive price, or an OS the price table is not for.

    Notes
    -----
    The CPU is the burstable type's average utilisation per vCPU. A breakeven
    above 100 % means the burstable type is cheaper at any load; it is returned as
    computed, not clipped.

    Examples
    --------
    >>> round(breakeven("t3.medium", "c5.large").breakeven_cpu_pct, 1)
    63.4
    """
    burst = _burstable_type(burstable)
    fixed_type = _fixed_type(fixed)
    rate_usd_per_vcpu_h = surplus_usd_per_vcpu_h(burst.family, os)
    burst_usd_per_h, fixed_usd_per_h, source, retrieved = _pair_prices(
        burst.name,
        fixed_type.name,
        prices,
        os,
        burstable_price_usd_per_h,
        fixed_price_usd_per_h,
    )

    baseline_frac = float(burst.baseline_frac or 0.0)
    cpu_frac = breakeven_cpu_frac(
        baseline_frac=baseline_frac,
        vcpu=burst.vcpu,
        burstable_price_usd_per_h=burst_usd_per_h,
        fixed_price_usd_per_h=fixed_usd_per_h,
        surplus_usd_per_vcpu_h=rate_usd_per_vcpu_h,
    )

    full_usd_per_h = unlimited_cost_usd_per_h(
        1.0,
        baseline_frac=baseline_frac,
        vcpu=burst.vcpu,
        price_usd_per_h=burst_usd_per_h,
        surplus_usd_per_vcpu_h=rate_usd_per_vcpu_h,
    )

    return Breakeven(
        burstable=burst.name,
        fixed=fixed_type.name,
        breakeven_cpu_pct=100.0 * cpu_frac,
        cost_ratio_at_100_pct=float(full_usd_per_h) / fixed_usd_per_h,
        burstable_price_usd_per_h=burst_usd_per_h,
        fixed_price_usd_per_h=fixed_usd_per_h,
        surplus_usd_per_vcpu_h=rate_usd_per_vcpu_h,
        baseline_pct=100.0 * baseline_frac,
        vcpu=burst.vcpu,
        price_source=source,
        price_retrieved=retrieved,
    )


def cost_curve(
    result: Breakeven, cpu_pct: np.ndarray | Sequence[float] | None = None
) -> pd.DataFrame:
    """Hourly cost of both options of a breakeven across CPU levels.

    Parameters
    ----------
    result
        A breakeven from :func:`breakeven` (its prices and rate are used).
    cpu_pct
        Average CPU levels of the burstable type [%]; default 0, 1, ..., 100.

    Returns
    -------
    pandas.DataFrame
        Columns ``cpu_pct``, ``burstable_usd_per_h`` (unlimited mode),
        ``fixed_usd_per_h`` and ``cheaper`` (the cheaper type's name; the fixed
        type on a tie).

    Raises
    ------
    ParameterError
        For CPU levels outside [0, 100].

    Examples
    --------
    >>> curve = cost_curve(breakeven("t3.large", "m5.large"), [30, 60])
    >>> curve["cheaper"].tolist()
    ['t3.large', 'm5.large']
    """
    levels_pct = np.arange(101.0) if cpu_pct is None else np.asarray(cpu_pct, float)
    if levels_pct.size and not (levels_pct.min() >= 0 and levels_pct.max() <= 100):
        raise ParameterError(
            f"cpu_pct must lie in [0, 100], got "
            f"{levels_pct.min()}..{levels_pct.max()}; "
            f"give average CPU per vCPU in percent"
        )

    burstable_usd_per_h = unlimited_cost_usd_per_h(
        levels_pct / 100.0,
        baseline_frac=result.baseline_pct / 100.0,
        vcpu=result.vcpu,
        price_usd_per_h=result.burstable_price_usd_per_h,
        surplus_usd_per_vcpu_h=result.surplus_usd_per_vcpu_h,
    )
    fixed_usd_per_h = np.full_like(levels_pct, result.fixed_price_usd_per_h)

    cheaper = np.where(
        burstable_usd_per_h < fixed_usd_per_h, result.burstable, result.fixed
    )
    return pd.DataFrame(
        {
            "cpu_pct": levels_pct,
            "burstable_usd_per_h": burstable_usd_per_h,
            "fixed_usd_per_h": fixed_usd_per_h,
            "cheaper": cheaper,
        }
    )


def _burstable_type(name: str) -> InstanceType:
    instance = get_instance(name)
    if not instance.burstable:
        raise CatalogError(
            f"burstable={name!r} is a fixed-performance type; give a T2/T3/T3a/T4g "
            f"type first and the fixed type second, e.g. t3.large m5.large"
        )
    return instance


def _fixed_type(name: str) -> InstanceType:
    instance = get_instance(name)
    if instance.burstable:
        raise CatalogError(
            f"fixed={name!r} is a burstable type; give a fixed-performance type "
            f"(c5, c6i, m5, ...) second, e.g. t3.large m5.large"
        )
    return instance


def _pair_prices(
    burstable: str,
    fixed: str,
    prices: PriceTable | None,
    os: str,
    burstable_price_usd_per_h: float | None,
    fixed_price_usd_per_h: float | None,
) -> tuple[float, float, str, str]:
    """The two prices, and the table's provenance if a table price was used."""
    given = {"burstable_price_usd_per_h": burstable_price_usd_per_h}
    given["fixed_price_usd_per_h"] = fixed_price_usd_per_h
    for argument, value in given.items():
        if value is not None:
            _require_price(argument, value)
    if burstable_price_usd_per_h is not None and fixed_price_usd_per_h is not None:
        return burstable_price_usd_per_h, fixed_price_usd_per_h, GIVEN_PRICE_SOURCE, ""

    table = load_prices() if prices is None else prices
    _require_matching_os(os, table)
    burst_usd_per_h = burstable_price_usd_per_h or table.price_usd_per_h(burstable)
    fixed_usd_per_h = fixed_price_usd_per_h or table.price_usd_per_h(fixed)
    source = table.source
    if burstable_price_usd_per_h is not None or fixed_price_usd_per_h is not None:
        source = f"{GIVEN_PRICE_SOURCE} and {table.source}"
    return burst_usd_per_h, fixed_usd_per_h, source, table.retrieved


def _surplus_rate(instance: InstanceType, os: str) -> float:
    if not instance.burstable:
        return 0.0
    return surplus_usd_per_vcpu_h(instance.family, os)


def _discount_from_table(
    name: str, on_demand_usd_per_h: float, committed: PriceTable, discount_pct: float
) -> float:
    if discount_pct != 0.0:
        raise ParameterError(
            f"discount_pct={discount_pct!r} was given with a committed price table; "
            f"give one or the other, not both"
        )
    committed_usd_per_h = committed.price_usd_per_h(name)
    return 100.0 * (1.0 - committed_usd_per_h / on_demand_usd_per_h)


def _require_matching_os(os: str, table: PriceTable) -> None:
    if str(os).strip().lower() != table.os.strip().lower():
        raise ParameterError(
            f"os={os!r} but the price table is for {table.os!r}; load a {os} price "
            f"table or give the prices explicitly"
        )


def _require_price(argument: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ParameterError(
            f"{argument}={value!r} must be a positive, finite price in USD per hour"
        )


def _require_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ParameterError(
            f"count={count!r} must be a whole number of instances >= 1"
        )


def _require_positive_finite(argument: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{argument}={value!r} must be positive and finite")


def _require_non_negative(argument: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ParameterError(f"{argument}={value!r} must be finite and >= 0")
