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
    """Unlimited mode: the signed balance X = earned - surplus in [-cap, cap]."""
    x = balance0 - surplus0
    x_min = x
    spent = 0.0
    discarded = 0.0
    charged = 0.0
    exhausted_min = -1.0
    steps = demand.shape[0]
    for t in range(steps):
        d = demand[t] * factor
        if d > vcpu:
            d = vcpu

        x_new = x + (rate - d) * dt
        charged_step = 0.0
        if x_new > cap:
            discarded += x_new - cap
            x_new = cap
        elif x_new < -cap:
            charged_step = -cap - x_new
            x_new = -cap

        if exhausted_min < 0.0 and d > rate and x_new <= 0.0:
            exhausted_min = t * dt + max(x, 0.0) / (d - rate)
        spent += d
        charged += charged_step
        x = x_new
        if x < x_min:
            x_min = x
        if keep:
            outputs[0, c, t] = max(x, 0.0)
            outputs[2, c, t] = max(-x, 0.0)
            outputs[3, c, t] = charged_step
            outputs[4, c, t] = d

    surplus_end = max(-x, 0.0)
    if stop_at_end and surplus_end > 0.0:
        charged += surplus_end
        if keep:
            outputs[2, c, steps - 1] = 0.0
            outputs[3, c, steps - 1] += surplus_end
        surplus_end = 0.0
    summary[HOURS_TO_EXHAUSTION] = exhausted_min / 60 if exhausted_min >= 0 else np.nan
    summary[THROTTLED_HOURS] = 0.0
    summary[SPENT] = spent * dt
    summary[DISCARDED] = discarded
    summary[CHARGED] = charged
    summary[END_BALANCE] = max(x, 0.0)
    summary[END_LAUNCH] = 0.0
    summary[END_SURPLUS] = surplus_end
    summary[MIN_BALANCE] = max(x_min, 0.0)


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
    """Standard mode: launch credits first, then the earned balance in [0, cap]."""
    balance = balance0
    launch = launch0
    total_min = balance + launch
    delivered_total = 0.0
    discarded = 0.0
    throttled_min = 0.0
    exhausted_min = -1.0
    steps = demand.shape[0]
    for t in range(steps):
        d = demand[t] * factor
        if d > vcpu:
            d = vcpu
        remaining = dt
        delivered = 0.0

        if launch > 0.0:
            # Launch credits pay for all use; earnings go to the capped balance.
            span = remaining
            if d * span >= launch:
                span = launch / d
                launch = 0.0
            else:
                launch -= d * span
            balance += rate * span
            if balance > cap:
                discarded += balance - cap
                balance = cap
            delivered += d * span
            remaining -= span

        if remaining > 0.0:
            net = rate - d
            if net >= 0.0:
                balance += net * remaining
                if balance > cap:
                    discarded += balance - cap
                    balance = cap
                delivered += d * remaining
            elif -net * remaining < balance:
                balance += net * remaining
                delivered += d * remaining
            else:
                # Empty inside the step: spend what is left, then run at baseline.
                to_zero = balance / -net
                if exhausted_min < 0.0:
                    exhausted_min = t * dt + (dt - remaining) + to_zero
                balance = 0.0
                delivered += d * to_zero + rate * (remaining - to_zero)
                throttled_min += remaining - to_zero

        delivered_total += delivered
        if balance + launch < total_min:
            total_min = balance + launch
        if keep:
            outputs[0, c, t] = balance
            outputs[1, c, t] = launch
            outputs[4, c, t] = delivered / dt

    if keep and surplus0 > 0.0:
        outputs[3, c, 0] = surplus0
    summary[HOURS_TO_EXHAUSTION] = exhausted_min / 60 if exhausted_min >= 0 else np.nan
    summary[THROTTLED_HOURS] = throttled_min / 60
    summary[SPENT] = delivered_total
    summary[DISCARDED] = discarded
    summary[CHARGED] = surplus0
    summary[END_BALANCE] = balance
    summary[END_LAUNCH] = launch
    summary[END_SURPLUS] = 0.0
    summary[MIN_BALANCE] = total_min
