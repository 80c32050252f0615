"""The compiled fluid bucket behind :mod:`capacity.credits`.

One instance's CPU-credit balances moved step by step at constant rates, split
exactly where a balance reaches zero or the cap. Rates are in credits per minute and
steps in minutes; one credit is one vCPU busy for one minute, so the earn rate in
credits per minute equals the baseline in busy vCPUs. Inputs are checked by
:func:`capacity.credits.run_ledger`; nothing here validates or allocates.

Compiled with numba on first use and cached beside the module, configs in the outer
loop and steps in the inner, the state in local variables.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

Array = NDArray[np.float64]

# Columns of the kernel's per-config summary array.
HOURS_TO_EXHAUSTION = 0
THROTTLED_HOURS = 1
EARNED = 2
SPENT = 3
DISCARDED = 4
CHARGED = 5
END_BALANCE = 6
END_LAUNCH = 7
END_SURPLUS = 8
MIN_BALANCE = 9
SUMMARY_COLUMNS = 10


@njit(cache=True)
def ledger_kernel(
    demand: Array,
    scale: Array,
    scaled: bool,
    vcpu: float,
    rate: float,
    cap: float,
    unlimited: bool,
    dt: float,
    balance0: Array,
    launch0: Array,
    surplus0: Array,
    stop_at_end: bool,
    keep: bool,
    outputs: Array,
    summary: Array,
) -> None:  # pragma: no cover - compiled
    """Run every config through every step, writing into ``outputs`` and ``summary``.

    ``demand`` is (configs, steps), or (1, steps) scaled per config when ``scaled``;
    ``rate`` is credits per minute, ``dt`` the step in minutes. ``outputs`` rows are
    earned balance, launch balance, surplus balance, surplus charged and delivered
    vCPU, each (configs, steps), or empty when ``keep`` is False; ``summary`` is
    (configs, SUMMARY_COLUMNS).
    """
    steps = demand.shape[1]
    for c in range(scale.shape[0]):
        row = 0 if scaled else c
        factor = scale[c]
        if unlimited:
            _unlimited_config(
                demand[row],
                factor,
                vcpu,
                rate,
                cap,
                dt,
                balance0[c],
                surplus0[c],
                stop_at_end,
                keep,
                outputs,
                c,
                summary[c],
            )
        else:
            _standard_config(
                demand[row],
                factor,
                vcpu,
                rate,
                cap,
                dt,
                balance0[c],
                launch0[c],
                surplus0[c],
                keep,
                outputs,
                c,
                summary[c],
            )
        summary[c, EARNED] = rate * dt * steps


@njit(cache=True)
def unlimited_step(
    signed: float, d: float, rate: float, cap: float, dt: float
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """One unlimited-mode step of ``dt`` minutes at ``d`` busy vCPUs.

    The signed balance (earned minus surplus) moves at ``rate - d`` within
    [-cap, cap]; earnings above the top are discarded, spending below the bottom is
    charged. Returns the new signed balance, the credits discarded and the credits
    charged.
    """
    target = signed + (rate - d) * dt
    if target > cap:
        return cap, target - cap, 0.0
    if target < -cap:
        return -cap, 0.0, -cap - target
    return target, 0.0, 0.0


@njit(cache=True)
def standard_step(
    balance: float, launch: float, d: float, rate: float, cap: float, dt: float
) -> tuple[float, float, float, float, float]:  # pragma: no cover - compiled
    """One standard-mode step of ``dt`` minutes at ``d`` busy vCPUs.

    Launch credits pay for all use while they last, earnings meanwhile filling the
    capped earned balance; then the earned balance moves at ``rate - d``, capped
    above, and once empty the instance delivers only ``rate`` (its baseline).
    Returns the new earned and launch balances, the credits spent (delivered
    vCPU-minutes), the credits discarded at the cap, and the minutes into the step
    at which both balances ran out while demand exceeded the baseline (-1 if not).
    """
    launch_min = 0.0
    discarded = 0.0
    if launch > 0.0:
        if d * dt < launch:
            launch_min, launch = dt, launch - d * dt
        else:
            launch_min, launch = launch / d, 0.0
        balance, discarded = _capped(balance + rate * launch_min, cap)

    remaining = dt - launch_min
    net = rate - d
    if remaining <= 0.0:
        return balance, launch, d * dt, discarded, -1.0
    if net >= 0.0:
        balance, lost = _capped(balance + net * remaining, cap)
        return balance, launch, d * dt, discarded + lost, -1.0
    if -net * remaining < balance:
        return balance + net * remaining, launch, d * dt, discarded, -1.0

    to_zero_min = balance / -net
    spent = d * (launch_min + to_zero_min) + rate * (remaining - to_zero_min)
    return 0.0, launch, spent, discarded, launch_min + to_zero_min


@njit(cache=True)
def _capped(balance: float, cap: float) -> tuple[float, float]:  # pragma: no cover
    """The balance held to the cap, and the credits discarded to hold it there."""
    if balance > cap:
        return cap, balance - cap
    return balance, 0.0


@njit(cache=True)
def _unlimited_config(
    demand: Array,
    factor: float,
    vcpu: float,
    rate: float,
    cap: float,
    dt: float,
    balance0: float,
    surplus0: float,
    stop_at_end: bool,
    keep: bool,
    outputs: Array,
    c: int,
    summary: Array,
) -> None:  # pragma: no cover - compiled
    """Unlimited mode for one config: step through, then charge surplus at stop."""
    signed = balance0 - surplus0
    signed_min = signed
    spent = discarded = charged = 0.0
    exhausted_min = -1.0
    steps = demand.shape[0]
    for t in range(steps):
        d = min(demand[t] * factor, vcpu)

        before = signed
        signed, lost, charged_step = unlimited_step(signed, d, rate, cap, dt)

        spent += d * dt
        discarded += lost
        charged += charged_step
        signed_min = min(signed_min, signed)
        if exhausted_min < 0.0 and d > rate and signed <= 0.0:
            # The earned balance ran out inside this step, max(before, 0)/(d - r) in.
            exhausted_min = t * dt + max(before, 0.0) / (d - rate)
        if keep:
            outputs[0, c, t] = max(signed, 0.0)
            outputs[2, c, t] = max(-signed, 0.0)
            outputs[3, c, t] = charged_step
            outputs[4, c, t] = d

    surplus_end = max(-signed, 0.0)
    if stop_at_end:
        charged += surplus_end
        if keep:
            outputs[2, c, steps - 1] = 0.0
            outputs[3, c, steps - 1] += surplus_end
        surplus_end = 0.0

    summary[HOURS_TO_EXHAUSTION] = exhausted_min / 60 if exhausted_min >= 0 else np.nan
    summary[THROTTLED_HOURS] = 0.0
    summary[SPENT] = spent
    summary[DISCARDED] = discarded
    summary[CHARGED] = charged
    summary[END_BALANCE] = max(signed, 0.0)
    summary[END_LAUNCH] = 0.0
    summary[END_SURPLUS] = surplus_end
    summary[MIN_BALANCE] = max(signed_min, 0.0)


@njit(cache=True)
def _standard_config(
    demand: Array,
    factor: float,
    vcpu: float,
    rate: float,
    cap: float,
    dt: float,
    balance0: float,
    launch0: float,
    surplus0: float,
    keep: bool,
    outputs: Array,
    c: int,
    summary: Array,
) -> None:  # pragma: no cover - compiled
    """Standard mode for one config; surplus left from unlimited is charged first."""
    balance = balance0
    launch = launch0
    total_min = balance + launch
    spent = discarded = throttled_min = 0.0
    exhausted_min = -1.0
    for t in range(demand.shape[0]):
        d = min(demand[t] * factor, vcpu)

        balance, launch, spent_step, lost, empty_after_min = standard_step(
            balance, launch, d, rate, cap, dt
        )

        spent += spent_step
        discarded += lost
        total_min = min(total_min, balance + launch)
        if empty_after_min >= 0.0:
            throttled_min += dt - empty_after_min
            if exhausted_min < 0.0:
                exhausted_min = t * dt + empty_after_min
        if keep:
            outputs[0, c, t] = balance
            outputs[1, c, t] = launch
            outputs[4, c, t] = spent_step / dt

    if keep:
        outputs[3, c, 0] = surplus0

    summary[HOURS_TO_EXHAUSTION] = exhausted_min / 60 if exhausted_min >= 0 else np.nan
    summary[THROTTLED_HOURS] = throttled_min / 60
    summary[SPENT] = spent
    summary[DISCARDED] = discarded
    summary[CHARGED] = surplus0
    summary[END_BALANCE] = balance
    summary[END_LAUNCH] = launch
    summary[END_SURPLUS] = 0.0
    summary[MIN_BALANCE] = total_min
