"""The CPU-credit ledger of burstable EC2 instances (T2, T3, T3a, T4g), exact.

A fluid bucket per instance, following AWS's published accounting: credits are earned
at ``credits_per_h`` and spent by busy vCPU-minutes (one credit = one vCPU busy for one
minute), the earned balance is capped at 24 h of earnings, T2 launch credits are spent
first and sit outside the cap, a standard-mode instance at zero balance is held to its
baseline, and an unlimited instance spends surplus credits, pays them back from later
earnings, and is charged for surplus beyond the cap, at stop, or on a switch to
standard.

Within a step the demand is constant, so every balance moves linearly; where a balance
reaches zero or the cap inside a step the step is split at that instant, so the result
does not depend on the step length (a constant demand run in 60 s or 3600 s steps ends
in the same state). The inner loop is compiled with numba (configs outer, steps inner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from capacity import credit_bucket as bucket
from capacity.catalog import InstanceType, credit_rules, surplus_usd_per_vcpu_h
from capacity.errors import CatalogError, ParameterError

MODES = ("standard", "unlimited")

Array = NDArray[np.float64]


@dataclass(frozen=True)
class LedgerSummary:
    """Per-configuration totals of a ledger run; every array has shape (configs,)."""

    hours_to_exhaustion: Array
    """Time [hours] from the start until earned plus launch balance first reaches 0
    while demand exceeds the baseline; NaN if it never does."""
    throttled_hours: Array
    """Time [hours] a standard-mode instance was held to its baseline below demand."""
    earned_credits: Array
    """Credits earned over the run, including those discarded at the cap [credits]."""
    spent_credits: Array
    """Credits spent (delivered vCPU-minutes, surplus included) [credits]."""
    discarded_credits: Array
    """Earnings lost because the earned balance was at the cap [credits]."""
    surplus_charged_credits: Array
    """Surplus credits charged: beyond the cap, at start in standard mode, at stop."""
    surplus_charge_usd: Array
    """Charge for the charged surplus credits at the family and OS rate [USD]."""
    end_balance_credits: Array
    """Earned balance at the end, launch credits excluded [credits]."""
    end_launch_credits: Array
    """Launch credits left at the end (T2 standard mode only) [credits]."""
    end_surplus_credits: Array
    """Surplus balance at the end, after any charge at stop [credits]."""
    min_balance_credits: Array
    """Lowest earned plus launch balance (``CPUCreditBalance``), start included."""


@dataclass(frozen=True)
class LedgerResult:
    """A ledger run: per-step arrays of shape (configs, steps), or None, and totals."""

    instance_type: str
    """Instance type the ledger ran for, e.g. ``"t3.nano"``."""
    mode: str
    """Credit mode: ``"standard"`` or ``"unlimited"``."""
    os: str
    """Operating system of the surplus rate: ``"linux"`` or ``"windows"``."""
    step_s: float
    """Step length [s]."""
    balance_credits: Array | None
    """Earned balance at each step end [credits] (``keep_steps=False``: None)."""
    launch_balance_credits: Array | None
    """Launch credits left at each step end [credits]."""
    surplus_balance_credits: Array | None
    """Surplus balance at each step end, after any charge at stop [credits]."""
    surplus_charged_credits: Array | None
    """Surplus credits charged during each step [credits]."""
    delivered_vcpu: Array | None
    """Mean busy vCPUs delivered in each step [vCPU]."""
    unserved_vcpu: Array | None
    """Mean demanded but undelivered vCPUs in each step (standard mode) [vCPU]."""
    summary: LedgerSummary
    """Per-configuration totals."""

    def squeeze(self) -> LedgerResult:
        """The single configuration of a one-config run, with the config axis removed.

        Per-step arrays become shape (steps,) and summary arrays shape () (use
        ``float()`` on them). A 1-D ``demand_vcpu`` comes back with shape (1, steps);
        call this to drop the leading axis.

        Raises
        ------
        ParameterError
            If the result holds more than one configuration.
        """
        configs = self.summary.end_balance_credits.shape[0]
        if configs != 1:
            raise ParameterError(
                f"squeeze() needs a one-config result, this one has {configs} "
                f"configs; index the arrays instead"
            )
        summary = LedgerSummary(
            **{
                name: np.asarray(getattr(self.summary, name)[0])
                for name in LedgerSummary.__dataclass_fields__
            }
        )
        return replace(
            self,
            balance_credits=_first(self.balance_credits),
            launch_balance_credits=_first(self.launch_balance_credits),
            surplus_balance_credits=_first(self.surplus_balance_credits),
            surplus_charged_credits=_first(self.surplus_charged_credits),
            delivered_vcpu=_first(self.delivered_vcpu),
            unserved_vcpu=_first(self.unserved_vcpu),
            summary=summary,
        )


def _first(steps: Array | None) -> Array | None:
    """The first config's row of a per-step array, or None."""
    return None if steps is None else steps[0]


_STEP_FIELDS = (
    "balance_credits",
    "launch_balance_credits",
    "surplus_balance_credits",
    "surplus_charged_credits",
    "delivered_vcpu",
    "unserved_vcpu",
)


def run_ledger(
    demand_vcpu: ArrayLike,
    *,
    instance: InstanceType | str,
    step_s: float,
    mode: str | None = None,
    os: str = "linux",
    start_credits: float | ArrayLike = 0.0,
    launch_credits: float | ArrayLike | None = None,
    start_surplus_credits: float | ArrayLike = 0.0,
    stop_at_end: bool = False,
    keep_steps: bool = True,
) -> LedgerResult:
    """Replay CPU demand through the CPU-credit ledger of a burstable instance.

    Parameters
    ----------
    demand_vcpu : array_like
        Busy vCPUs demanded per instance in each step [vCPU], shape (steps,) or
        (configs, steps); each value in [0, vcpu].
    instance : InstanceType or str
        A burstable instance type, e.g. ``"t3.nano"``.
    step_s : float
        Step length [s]; demand is constant within a step.
    mode : {"standard", "unlimited"}, optional
        Credit mode; None uses the AWS default (T2 standard, T3/T3a/T4g unlimited).
    os : {"linux", "windows"}
        Operating system, for the surplus-credit rate.
    start_credits : float or array_like
        Earned balance at the start [credits], in [0, max_credits]; per config or one.
    launch_credits : float or array_like, optional
        Launch credits at the start [credits]. None: the AWS default (T2 in standard
        mode 30 per vCPU, otherwise 0). Only T2 in standard mode may have them.
    start_surplus_credits : float or array_like
        Surplus balance at the start [credits], in [0, max_credits]. In standard mode
        it is charged at once (AWS charges outstanding surplus on a switch from
        unlimited to standard), so a switch is modelled by starting a standard run
        from the end state of an unlimited one.
    stop_at_end : bool
        Stop or terminate the instance after the last step: outstanding surplus is
        charged in the last step.
    keep_steps : bool
        Keep the per-step arrays; False returns only the summary (memory-bounded).

    Returns
    -------
    LedgerResult
        Per-step arrays of shape (configs, steps) (a 1-D demand gives one config;
        see :meth:`LedgerResult.squeeze`) and a :class:`LedgerSummary`.

    Raises
    ------
    CatalogError
        For an unknown or fixed-performance instance type, or an OS without a rate.
    ParameterError
        For demand outside [0, vcpu] or not finite, a non-positive step, an unknown
        mode, balances outside [0, max_credits], launch credits outside T2 standard
        mode, or both earned and surplus start balances positive.

    Notes
    -----
    Each step the instance earns E = credits_per_h x step hours and its demand
    would use U = demand_vcpu x step minutes (one credit is one vCPU busy for one
    minute); both are spread evenly over the step:

    - standard: launch credits ``L`` pay for all use while they last, E meanwhile
      filling the earned balance ``B``; then ``B`` moves by E - U, is capped at
      ``max_credits`` (the excess is discarded) and, once empty with U > E, the
      instance delivers only its baseline and spends what it earns;
    - unlimited: the signed balance ``X = B - S`` moves by E - U within
      ``[-max_credits, max_credits]``; earnings above the top are discarded, use
      below the bottom is charged; ``B = max(X, 0)``, ``S = max(-X, 0)``.

    Where a balance reaches zero or the cap inside a step, the step is split there.
    This is AWS's 5-minute balance equation applied at every instant, which is
    what the millisecond-level accounting AWS describes amounts to. AWS lowers CPU
    "gradually" as the balance runs low but gives no curve; the model drops to
    baseline at zero, as AWS's worked example does. Conservation, per config::

        earned - spent = dB + dL - dS + discarded - charged

    Surplus beyond the cap is charged in the step it is spent (AWS bills it "at the
    end of the hour"; the amount is the same). Demand above the type's vCPUs is
    refused rather than clipped, so that an undersized type is not silently hidden;
    :func:`run_ledger_scaled` clips by definition. ``stop_at_end`` charges the
    surplus only: a T2 loses its earned balance at stop, T3/T3a/T4g keep it for
    7 days, which the reported end balance does not apply.

    References
    ----------
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-standard-mode-concepts.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-monitoring-cpu-credits.html

    Examples
    --------
    A t3.nano idle for 24 h reaches its cap of 144 credits:

    >>> result = run_ledger([0.0], instance="t3.nano", step_s=86400, mode="standard")
    >>> float(result.summary.end_balance_credits[0])
    144.0
    """
    busy_vcpu = _as_demand(demand_vcpu)
    rules = _rules(instance)
    _check_demand_within_vcpu(busy_vcpu, rules)
    scale = np.ones(busy_vcpu.shape[0])
    return _run(
        busy_vcpu,
        scale,
        False,
        rules,
        step_s,
        mode,
        os,
        start_credits,
        launch_credits,
        start_surplus_credits,
        stop_at_end,
        keep_steps,
    )


def run_ledger_scaled(
    profile_vcpu: ArrayLike, scale: ArrayLike, **kwargs: Any
) -> LedgerResult:
    """Run the ledger for many scalings of one demand profile, without materialising.

    The demand of config ``c`` in step ``t`` is ``min(profile_vcpu[t] * scale[c],
    vcpu)``, computed inside the compiled loop, so memory stays at one profile plus
    the outputs asked for: the form for many configs over long horizons.

    Parameters
    ----------
    profile_vcpu : array_like
        Busy vCPUs per instance in each step [vCPU], shape (steps,), non-negative.
    scale : array_like
        Non-negative factor per config [-], shape (configs,).
    **kwargs
        The keyword arguments of :func:`run_ledger` (``instance``, ``step_s``, ...).

    Returns
    -------
    LedgerResult
        As :func:`run_ledger`, with (configs, steps) per-step arrays if kept.
        ``unserved_vcpu`` counts demand the ledger withheld, not demand above vcpu
        removed by the clipping.

    Raises
    ------
    ParameterError, CatalogError
        As :func:`run_ledger`; also for a profile that is not 1-D or a negative or
        non-finite scale.

    Examples
    --------
    >>> result = run_ledger_scaled([0.1], [1.0, 2.0], instance="t3.nano",
    ...                            step_s=3600, mode="standard", start_credits=10)
    >>> [round(float(b), 6) for b in result.summary.end_balance_credits]
    [10.0, 4.0]
    """
    profile = _as_demand(profile_vcpu, name="profile_vcpu")
    if profile.shape[0] != 1:
        raise ParameterError(
            f"profile_vcpu must be 1-D (steps,), got shape {np.shape(profile_vcpu)}; "
            f"pass one profile and put the configurations in scale"
        )
    scales = np.ascontiguousarray(np.atleast_1d(np.asarray(scale, dtype=np.float64)))
    if scales.ndim != 1 or not np.all(np.isfinite(scales)) or np.any(scales < 0):
        raise ParameterError(
            f"scale must be a 1-D array of finite factors >= 0, got {scale!r}; "
            f"pass one non-negative factor per configuration"
        )
    rules = _rules(kwargs.pop("instance", None))
    return _run(profile, scales, True, rules, **kwargs)


def _run(
    busy_vcpu: Array,
    scale: Array,
    scaled: bool,
    rules: InstanceType,
    step_s: float,
    mode: str | None = None,
    os: str = "linux",
    start_credits: float | ArrayLike = 0.0,
    launch_credits: float | ArrayLike | None = None,
    start_surplus_credits: float | ArrayLike = 0.0,
    stop_at_end: bool = False,
    keep_steps: bool = True,
) -> LedgerResult:
    """Validate the run's parameters, call the kernel and assemble the result."""
    configs, steps = scale.shape[0], busy_vcpu.shape[1]
    credit_mode = _mode(mode, rules)
    rate_usd_per_vcpu_h = surplus_usd_per_vcpu_h(rules.family, os)
    step_s = _positive_step_s(step_s)
    max_credits = float(rules.max_credits or 0.0)

    balance0 = _start(start_credits, configs, max_credits, "start_credits")
    surplus0 = _start(
        start_surplus_credits, configs, max_credits, "start_surplus_credits"
    )
    launch0 = _launch(launch_credits, configs, rules, credit_mode)
    _check_one_sided(balance0, surplus0, credit_mode)

    shape = (configs, steps) if keep_steps else (0, 0)
    outputs = np.zeros((bucket.OUTPUT_ROWS, *shape))
    summary = np.zeros((configs, bucket.SUMMARY_COLUMNS))
    bucket.ledger_kernel(
        busy_vcpu,
        scale,
        scaled,
        float(rules.vcpu),
        float(rules.credits_per_h or 0.0),
        max_credits,
        credit_mode == "unlimited",
        step_s,
        balance0,
        launch0,
        surplus0,
        stop_at_end,
        keep_steps,
        outputs,
        summary,
    )

    charge_usd = summary[:, bucket.CHARGED] * rate_usd_per_vcpu_h / 60
    return LedgerResult(
        instance_type=rules.name,
        mode=credit_mode,
        os=os.strip().lower(),
        step_s=float(step_s),
        **_step_arrays(outputs, busy_vcpu, scale, scaled, rules.vcpu, keep_steps),
        summary=_summary(summary, charge_usd),
    )


def _step_arrays(
    outputs: Array,
    demand_vcpu: Array,
    scale: Array,
    scaled: bool,
    vcpu: int,
    keep_steps: bool,
) -> dict[str, Array | None]:
    """The per-step arrays, with unserved = demand - delivered."""
    if not keep_steps:
        return dict.fromkeys(_STEP_FIELDS)

    if scaled:
        demand_vcpu = np.minimum(demand_vcpu * scale[:, None], vcpu)
    delivered_vcpu = outputs[bucket.DELIVERED_ROW]

    return {
        "balance_credits": outputs[bucket.BALANCE_ROW],
        "launch_balance_credits": outputs[bucket.LAUNCH_ROW],
        "surplus_balance_credits": outputs[bucket.SURPLUS_ROW],
        "surplus_charged_credits": outputs[bucket.CHARGED_ROW],
        "delivered_vcpu": delivered_vcpu,
        "unserved_vcpu": np.maximum(demand_vcpu - delivered_vcpu, 0.0),
    }


def _summary(summary: Array, charge_usd: Array) -> LedgerSummary:
    """The kernel's summary columns as a LedgerSummary."""
    return LedgerSummary(
        hours_to_exhaustion=summary[:, bucket.HOURS_TO_EXHAUSTION],
        throttled_hours=summary[:, bucket.THROTTLED_HOURS],
        earned_credits=summary[:, bucket.EARNED],
        spent_credits=summary[:, bucket.SPENT],
        discarded_credits=summary[:, bucket.DISCARDED],
        surplus_charged_credits=summary[:, bucket.CHARGED],
        surplus_charge_usd=charge_usd,
        end_balance_credits=summary[:, bucket.END_BALANCE],
        end_launch_credits=summary[:, bucket.END_LAUNCH],
        end_surplus_credits=summary[:, bucket.END_SURPLUS],
        min_balance_credits=summary[:, bucket.MIN_BALANCE],
    )


# --- input checks ---------------------------------------------------------------------


def _rules(instance: InstanceType | str | None) -> InstanceType:
    """The credit rules of a burstable instance given by name or InstanceType."""
    if instance is None:
        raise ParameterError("instance is required, e.g. instance='t3.large'")
    if isinstance(instance, InstanceType):
        if not instance.burstable:
            raise CatalogError(
                f"{instance.name} is a fixed-performance type and has no CPU "
                f"credits; choose a burstable type (t2, t3, t3a or t4g)"
            )
        return instance
    return credit_rules(instance)


def _as_demand(demand_vcpu: ArrayLike, name: str = "demand_vcpu") -> Array:
    """Demand as a C-contiguous float array of shape (configs, steps)."""
    busy_vcpu = np.asarray(demand_vcpu, dtype=np.float64)
    if busy_vcpu.ndim == 1:
        busy_vcpu = busy_vcpu[None, :]
    if busy_vcpu.ndim != 2 or busy_vcpu.shape[1] == 0:
        raise ParameterError(
            f"{name} must have shape (steps,) or (configs, steps) with at least one "
            f"step, got shape {np.shape(demand_vcpu)}"
        )
    if not np.all(np.isfinite(busy_vcpu)) or np.any(busy_vcpu < 0):
        raise ParameterError(
            f"{name} must be finite and >= 0 busy vCPUs; fill gaps and remove "
            f"negative values before running the ledger"
        )
    return np.ascontiguousarray(busy_vcpu)


def _check_demand_within_vcpu(busy_vcpu: Array, rules: InstanceType) -> None:
    """Refuse demand above the instance's vCPUs: it cannot be busy more than that."""
    peak_vcpu = float(busy_vcpu.max())
    if peak_vcpu > rules.vcpu:
        config, step = np.unravel_index(int(np.argmax(busy_vcpu)), busy_vcpu.shape)
        raise ParameterError(
            f"demand_vcpu {peak_vcpu:g} (config {config}, step {step}) exceeds the "
            f"{rules.vcpu} vCPUs of {rules.name}; clip it with np.minimum(demand, "
            f"{rules.vcpu}), use run_ledger_scaled, or choose a larger type"
        )


def _mode(mode: str | None, rules: InstanceType) -> str:
    """The credit mode, defaulting to the type's AWS default."""
    if mode is None:
        return str(rules.default_mode)
    if mode not in MODES:
        raise ParameterError(
            f"mode {mode!r} is not a credit mode; use 'standard' or 'unlimited'"
        )
    return mode


def _positive_step_s(step_s: float) -> float:
    """The step length as a float, refusing non-positive or non-finite steps."""
    try:
        step = float(step_s)
    except (TypeError, ValueError):
        step = math.nan
    if not (math.isfinite(step) and step > 0):
        raise ParameterError(
            f"step_s must be a positive number of seconds, got {step_s!r}"
        )
    return step


def _start(
    value: float | ArrayLike, configs: int, max_credits: float, name: str
) -> Array:
    """A start balance per config, within [0, max_credits]."""
    start = _per_config(value, configs, name)
    if np.any(start < 0) or np.any(start > max_credits):
        raise ParameterError(
            f"{name} must lie in [0, {max_credits:g}] credits (0 to the 24-h cap), got "
            f"{value!r}"
        )
    return start


def _launch(
    value: float | ArrayLike | None, configs: int, rules: InstanceType, mode: str
) -> Array:
    """Launch credits per config: the AWS default, or given for T2 standard mode."""
    allowed = rules.family == "t2" and mode == "standard"
    if value is None:
        default = float(rules.launch_credits or 0.0) if allowed else 0.0
        return np.full(configs, default)

    launch = _per_config(value, configs, "launch_credits")
    if np.any(launch < 0):
        raise ParameterError(f"launch_credits must be >= 0, got {value!r}")
    if np.any(launch > 0) and not allowed:
        raise ParameterError(
            f"launch_credits {value!r} given for {rules.name} in {mode} mode; only "
            f"T2 instances in standard mode have launch credits: pass 0 or None"
        )
    return launch


def _per_config(value: float | ArrayLike, configs: int, name: str) -> Array:
    """A scalar or (configs,) value broadcast to a float array of shape (configs,)."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or (array.ndim == 1 and array.shape[0] not in (1, configs)):
        raise ParameterError(
            f"{name} must be one number or one per config ({configs}), got shape "
            f"{array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return np.ascontiguousarray(np.broadcast_to(array, (configs,)), dtype=np.float64)


def _check_one_sided(balance0: Array, surplus0: Array, mode: str) -> None:
    """Refuse an unlimited start with both earned and surplus balances positive."""
    if mode == "unlimited" and np.any((balance0 > 0) & (surplus0 > 0)):
        raise ParameterError(
            "start_credits and start_surplus_credits are both positive; AWS pays "
            "surplus from earned credits first, so pass their difference in one"
        )
