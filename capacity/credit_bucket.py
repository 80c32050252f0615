"""The compiled fluid bucket behind :mod:`capacity.credits`.

One instance's CPU-credit balances moved step by step in AWS's own terms: each step
the instance earns ``earned_credits`` (E, credits per hour x step) and its demand
would use ``used_credits`` (U, busy vCPUs x step minutes, one credit being one vCPU
busy for one minute). Within a step both are spread evenly, so where a balance
reaches zero or the cap inside the step the step is split there, at a fraction of
the step (``_frac``), exactly. Inputs are checked by
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

# A balance within this of zero at a step's end is empty: the residue of rounding
# when the same drain is summed over many short steps instead of one long one.
EMPTY_CREDITS = 1e-9
SUMMARY_COLUMNS = 10

# Rows of the kernel's per-step output array.
BALANCE_ROW = 0
LAUNCH_ROW = 1
SURPLUS_ROW = 2
CHARGED_ROW = 3
DELIVERED_ROW = 4
OUTPUT_ROWS = 5


@njit(cache=True)
def ledger_kernel(
    demand_vcpu: Array,
    scale: Array,
    scaled: bool,
    vcpu: float,
    credits_per_h: float,
    max_credits: float,
    unlimited: bool,
    step_s: float,
    start_credits: Array,
    launch_credits: Array,
    start_surplus_credits: Array,
    stop_at_end: bool,
    keep: bool,
    outputs: Array,
    summary: Array,
) -> None:  # pragma: no cover - compiled
    """Run every config through every step, writing into ``outputs`` and ``summary``.

    ``demand_vcpu`` is (configs, steps), or (1, steps) scaled per config when
    ``scaled``. ``outputs`` is (OUTPUT_ROWS, configs, steps), or empty when ``keep``
    is False; ``summary`` is (configs, SUMMARY_COLUMNS).
    """
    earned_credits = credits_per_h * step_s / 3600
    vcpu_step_credits = step_s / 60
    for c in range(scale.shape[0]):
        row = 0 if scaled else c
        if unlimited:
            _unlimited_config(
                demand_vcpu[row],
                scale[c],
                vcpu,
                earned_credits,
                vcpu_step_credits,
                max_credits,
                step_s,
                start_credits[c] - start_surplus_credits[c],
                stop_at_end,
                keep,
                outputs,
                c,
                summary[c],
            )
        else:
            _standard_config(
                demand_vcpu[row],
                scale[c],
                vcpu,
                earned_credits,
                vcpu_step_credits,
                max_credits,
                step_s,
                start_credits[c],
                launch_credits[c],
                start_surplus_credits[c],
                keep,
                outputs,
                c,
                summary[c],
            )
        summary[c, EARNED] = earned_credits * demand_vcpu.shape[1]


@njit(cache=True)
def unlimited_step(
    signed_credits: float,
    earned_credits: float,
    used_credits: float,
    max_credits: float,
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """One unlimited-mode step: AWS's ``Adj = (balance - surplus) + E - U``.

    The signed balance (earned minus surplus) ends within [-max, max]; earnings
    above the top are discarded, use below the bottom is charged. Returns the new
    signed balance, the credits discarded and the credits charged.
    """
    adjusted_credits = signed_credits + earned_credits - used_credits
    if adjusted_credits > max_credits:
        return max_credits, adjusted_credits - max_credits, 0.0
    if adjusted_credits < -max_credits:
        return -max_credits, 0.0, -max_credits - adjusted_credits
    return adjusted_credits, 0.0, 0.0


@njit(cache=True)
def standard_step(
    balance_credits: float,
    launch_credits: float,
    earned_credits: float,
    used_credits: float,
    max_credits: float,
) -> tuple[float, float, float, float, float]:  # pragma: no cover - compiled
    """One standard-mode step: launch credits first, then ``balance + E - U``.

    Launch credits pay for all use while they last, earnings meanwhile filling the
    capped earned balance; then the earned balance moves by ``E - U`` over the rest
    of the step, capped above, and once empty the instance runs at its baseline,
    using only what it earns. Returns the new earned and launch balances, the
    credits spent, the credits discarded at the cap, and the fraction of the step
    after which both balances were empty with ``U > E`` (-1 if they were not).
    """
    launch_frac = 0.0
    discarded_credits = 0.0
    if launch_credits > 0.0:
        if used_credits < launch_credits - EMPTY_CREDITS:
            launch_frac, launch_credits = 1.0, launch_credits - used_credits
        else:
            launch_frac, launch_credits = launch_credits / used_credits, 0.0
        balance_credits, discarded_credits = _capped(
            balance_credits + earned_credits * launch_frac, max_credits
        )

    rest_frac = 1.0 - launch_frac
    net_credits = (earned_credits - used_credits) * rest_frac
    if net_credits >= 0.0 or -net_credits < balance_credits - EMPTY_CREDITS:
        balance_credits, lost_credits = _capped(
            balance_credits + net_credits, max_credits
        )
        lost_credits += discarded_credits
        return balance_credits, launch_credits, used_credits, lost_credits, -1.0

    empty_frac = min(
        launch_frac + balance_credits / (used_credits - earned_credits), 1.0
    )
    spent_credits = used_credits * empty_frac + earned_credits * (1.0 - empty_frac)
    return 0.0, launch_credits, spent_credits, discarded_credits, empty_frac


@njit(cache=True)
def _capped(balance_credits: float, max_credits: float) -> tuple[float, float]:
    """The balance held to the cap, and the credits discarded to hold it there."""
    if balance_credits > max_credits:  # pragma: no cover - compiled
        return max_credits, balance_credits - max_credits
    return balance_credits, 0.0  # pragma: no cover - compiled


@njit(cache=True)
def _unlimited_config(
    demand_vcpu: Array,
    factor: float,
    vcpu: float,
    earned_credits: float,
    vcpu_step_credits: float,
    max_credits: float,
    step_s: float,
    signed_credits: float,
    stop_at_end: bool,
    keep: bool,
    outputs: Array,
    c: int,
    summary: Array,
) -> None:  # pragma: no cover - compiled
    """Unlimited mode for one config: step through, then charge surplus at stop."""
    lowest_credits = signed_credits
    spent_credits = discarded_credits = charged_credits = 0.0
    exhausted_s = -1.0
    steps = demand_vcpu.shape[0]
    for t in range(steps):
        busy_vcpu = min(demand_vcpu[t] * factor, vcpu)
        used_credits = busy_vcpu * vcpu_step_credits

        before_credits = signed_credits
        signed_credits, lost_credits, step_charged_credits = unlimited_step(
            signed_credits, earned_credits, used_credits, max_credits
        )

        spent_credits += used_credits
        discarded_credits += lost_credits
        charged_credits += step_charged_credits
        lowest_credits = min(lowest_credits, signed_credits)
        if (
            exhausted_s < 0.0
            and used_credits > earned_credits
            and signed_credits <= EMPTY_CREDITS
        ):
            empty_frac = max(before_credits, 0.0) / (used_credits - earned_credits)
            exhausted_s = (t + empty_frac) * step_s
        if keep:
            outputs[BALANCE_ROW, c, t] = max(signed_credits, 0.0)
            outputs[SURPLUS_ROW, c, t] = max(-signed_credits, 0.0)
            outputs[CHARGED_ROW, c, t] = step_charged_credits
            outputs[DELIVERED_ROW, c, t] = busy_vcpu

    surplus_credits = max(-signed_credits, 0.0)
    if stop_at_end:
        charged_credits += surplus_credits
        if keep:
            outputs[SURPLUS_ROW, c, steps - 1] = 0.0
            outputs[CHARGED_ROW, c, steps - 1] += surplus_credits
        surplus_credits = 0.0

    summary[HOURS_TO_EXHAUSTION] = exhausted_s / 3600 if exhausted_s >= 0 else np.nan
    summary[THROTTLED_HOURS] = 0.0
    summary[SPENT] = spent_credits
    summary[DISCARDED] = discarded_credits
    summary[CHARGED] = charged_credits
    summary[END_BALANCE] = max(signed_credits, 0.0)
    summary[END_LAUNCH] = 0.0
    summary[END_SURPLUS] = surplus_credits
    summary[MIN_BALANCE] = max(lowest_credits, 0.0)


@njit(cache=True)
def _standard_config(
    demand_vcpu: Array,
    factor: float,
    vcpu: float,
    earned_credits: float,
    vcpu_step_credits: float,
    max_credits: float,
    step_s: float,
    balance_credits: float,
    launch_credits: float,
    start_surplus_credits: float,
    keep: bool,
    outputs: Array,
    c: int,
    summary: Array,
) -> None:  # pragma: no cover - compiled
    """Standard mode for one config; surplus left from unlimited is charged first."""
    lowest_credits = balance_credits + launch_credits
    spent_credits = discarded_credits = throttled_s = 0.0
    exhausted_s = -1.0
    for t in range(demand_vcpu.shape[0]):
        busy_vcpu = min(demand_vcpu[t] * factor, vcpu)
        used_credits = busy_vcpu * vcpu_step_credits

        (
            balance_credits,
            launch_credits,
            step_spent_credits,
            lost_credits,
            empty_frac,
        ) = standard_step(
            balance_credits,
            launch_credits,
            earned_credits,
            used_credits,
            max_credits,
        )

        spent_credits += step_spent_credits
        discarded_credits += lost_credits
        lowest_credits = min(lowest_credits, balance_credits + launch_credits)
        if empty_frac >= 0.0:
            throttled_s += (1.0 - empty_frac) * step_s
            if exhausted_s < 0.0:
                exhausted_s = (t + empty_frac) * step_s
        if keep:
            outputs[BALANCE_ROW, c, t] = balance_credits
            outputs[LAUNCH_ROW, c, t] = launch_credits
            outputs[DELIVERED_ROW, c, t] = (
                busy_vcpu
                if empty_frac < 0.0
                else step_spent_credits / vcpu_step_credits
            )

    if keep:
        outputs[CHARGED_ROW, c, 0] = start_surplus_credits

    summary[HOURS_TO_EXHAUSTION] = exhausted_s / 3600 if exhausted_s >= 0 else np.nan
    summary[THROTTLED_HOURS] = throttled_s / 3600
    summary[SPENT] = spent_credits
    summary[DISCARDED] = discarded_credits
    summary[CHARGED] = start_surplus_credits
    summary[END_BALANCE] = balance_credits
    summary[END_LAUNCH] = launch_credits
    summary[END_SURPLUS] = 0.0
    summary[MIN_BALANCE] = lowest_credits
