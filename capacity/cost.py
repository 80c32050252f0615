"""What a fleet costs: instance-hours, commitment discounts and surplus credits.

Cost of a fleet over a horizon = instance-hours x price per hour (on-demand, or less a
savings-plan or reserved discount) + surplus credits charged x the family's surplus
rate per credit (the rate per vCPU-hour / 60). A month is 730 hours, a year 8,760.
The breakeven against fixed-performance types is in :mod:`capacity.breakeven`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from capacity.catalog import (
    InstanceType,
    PriceTable,
    get_instance,
    load_prices,
    surplus_usd_per_vcpu_h,
)
from capacity.errors import ParameterError

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
    require_price("on_demand_usd_per_h", on_demand_usd_per_h)
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
    require_matching_os(os, table)
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


def require_matching_os(os: str, table: PriceTable) -> None:
    if str(os).strip().lower() != table.os.strip().lower():
        raise ParameterError(
            f"os={os!r} but the price table is for {table.os!r}; load a {os} price "
            f"table or give the prices explicitly"
        )


def require_price(argument: str, value: float) -> None:
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
