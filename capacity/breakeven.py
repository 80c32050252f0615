"""Burstable against fixed: the average CPU at which unlimited bursting costs more.

A burstable type in unlimited mode costs its hourly price plus the surplus charge on
CPU above its baseline; a fixed-performance type costs its hourly price at any load.
The breakeven is the average CPU at which both cost the same per hour: above it, the
surplus charge makes the burstable type the dearer one. :func:`cost_curve` tabulates
both hourly costs across CPU levels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capacity.catalog import (
    InstanceType,
    PriceTable,
    get_instance,
    load_prices,
    surplus_usd_per_vcpu_h,
)
from capacity.cost import GIVEN_PRICE_SOURCE, require_matching_os, require_price
from capacity.errors import CapacityWarning, CatalogError, ParameterError


@dataclass(frozen=True)
class Breakeven:
    """The average CPU at which unlimited bursting costs what a fixed type costs."""

    burstable: str  # burstable type, e.g. "t3.large"
    fixed: str  # fixed-performance type, e.g. "m5.large"
    # Average CPU of the burstable type at equal cost [%]; NaN when the fixed type
    # is never dearer (fixed_always_cheaper), above 100 when bursting always wins.
    breakeven_cpu_pct: float
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

    @property
    def fixed_always_cheaper(self) -> bool:
        """True when the fixed type costs no more per hour than the burstable one:
        it is then at least as cheap at every load, and there is no breakeven."""
        return self.fixed_price_usd_per_h <= self.burstable_price_usd_per_h


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
    require_price("burstable_price_usd_per_h", burstable_price_usd_per_h)
    require_price("fixed_price_usd_per_h", fixed_price_usd_per_h)
    require_price("surplus_usd_per_vcpu_h", surplus_usd_per_vcpu_h)

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
    computed, not clipped. When the fixed type's price is at or below the burstable
    one's, the fixed type is never dearer: ``breakeven_cpu_pct`` is NaN and
    ``fixed_always_cheaper`` is True (the formula would give a meaningless value
    at or below the baseline). Prices are per instance: compare types with the
    same vCPU count (``capacity breakeven`` warns otherwise).

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

    if fixed_usd_per_h <= burst_usd_per_h:
        cpu_frac = math.nan  # the fixed type is never dearer: no breakeven exists

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


def warn_if_sizes_differ(burstable: str, fixed: str) -> None:
    """Warn (CapacityWarning) when the two types have different vCPU counts.

    Parameters
    ----------
    burstable, fixed
        The two instance types of a breakeven, e.g. ``"t3.large"``, ``"m5.xlarge"``.

    Raises
    ------
    CatalogError
        For an unknown type.

    Notes
    -----
    A breakeven compares one instance of each type by its hourly price; with
    different vCPU counts it compares different capacities, which is valid but
    rarely meant.

    Examples
    --------
    >>> warn_if_sizes_differ("t3.large", "m5.large")  # 2 and 2 vCPU: silent
    """
    burst, fixed_type = get_instance(burstable), get_instance(fixed)
    if burst.vcpu != fixed_type.vcpu:
        warnings.warn(
            f"{burst.name} has {burst.vcpu} vCPU but {fixed_type.name} has "
            f"{fixed_type.vcpu}: the breakeven compares one instance of each, not "
            f"equal capacity; compare types with the same vCPU count",
            CapacityWarning,
            stacklevel=2,
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
            require_price(argument, value)
    if burstable_price_usd_per_h is not None and fixed_price_usd_per_h is not None:
        return burstable_price_usd_per_h, fixed_price_usd_per_h, GIVEN_PRICE_SOURCE, ""

    table = load_prices() if prices is None else prices
    require_matching_os(os, table)
    burst_usd_per_h = burstable_price_usd_per_h or table.price_usd_per_h(burstable)
    fixed_usd_per_h = fixed_price_usd_per_h or table.price_usd_per_h(fixed)
    source = table.source
    if burstable_price_usd_per_h is not None or fixed_price_usd_per_h is not None:
        source = f"{GIVEN_PRICE_SOURCE} and {table.source}"
    return burst_usd_per_h, fixed_usd_per_h, source, table.retrieved


__all__ = [
    "Breakeven",
    "breakeven",
    "breakeven_cpu_frac",
    "cost_curve",
    "unlimited_cost_usd_per_h",
    "warn_if_sizes_differ",
]
