"""Value checks the runner applies to a notebook's parameters before a kernel starts.

:mod:`capacity.report_parameters` checks each value against its declared *type*; a
notebook's own validation cell checks the *values* (a count of at least 1, a type that
exists and is burstable, a fraction inside 0..1), but only after a kernel has started
and the run folder exists. The checks here mirror those cells, so ``capacity run
sizing -p headroom_frac 2`` is refused at once, naming the parameter and the fix.

Each check receives the full parameter set (the notebook's defaults overlaid with the
values given) and raises :class:`~capacity.errors.ParameterError` at the first broken
rule. :data:`NOTEBOOK_CHECKS` maps a notebook name to its check; a notebook without
one gets only the type checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from capacity.errors import CapacityError, ParameterError

__all__ = [
    "NOTEBOOK_CHECKS",
    "NULLABLE_PARAMETERS",
    "check_cost_comparison",
    "check_credit_forecast",
    "check_incident_replay",
    "check_notebook_values",
    "check_sizing",
]

SECONDS_PER_DAY = 86_400


def check_notebook_values(notebook: str, values: Mapping[str, Any]) -> None:
    """Run the value check registered for ``notebook``, if there is one.

    Parameters
    ----------
    notebook : str
        The notebook's name (file name without ``.ipynb``).
    values : mapping of str to value
        Every parameter of the notebook: defaults overlaid with the given values,
        already of their declared types.

    Raises
    ------
    ParameterError
        If a value breaks a rule of the notebook's validation; the message names
        the parameter, the value, the rule and the fix.

    Examples
    --------
    >>> check_notebook_values("not_registered", {"anything": -1})
    """
    check = NOTEBOOK_CHECKS.get(notebook)
    if check is not None:
        check(values)


def check_sizing(values: Mapping[str, Any]) -> None:
    """The ``sizing`` notebook: :class:`~capacity.params.SizingParams` and filters.

    Parameters
    ----------
    values : mapping of str to value
        The notebook's parameters; the falsy "not set" defaults (``""``, ``0``)
        become None exactly as the notebook's first code cell turns them.

    Raises
    ------
    ParameterError
        For a value :meth:`SizingParams.from_mapping` refuses, a workload file that
        does not exist, or families, sizes and modes that select no instance type.
    """
    from capacity.params import SizingParams
    from capacity.recommend import candidates

    mapping = dict(values)
    for name in _SIZING_UNSET_WHEN_FALSY:
        if name in mapping:
            mapping[name] = mapping[name] or None
    params = SizingParams.from_mapping(mapping)

    if params.workload != "default" and not Path(params.workload).is_file():
        raise ParameterError(
            f"parameter 'workload' = '{params.workload}' is neither 'default' nor an "
            f"existing file (looked in '{Path.cwd()}'); give the path of a CloudWatch "
            "export, or 'default' for the bundled workload"
        )
    try:
        candidates(
            params.families,
            params.sizes,
            params.modes,
            min_memory_gib=params.min_memory_gib,
        )
    except CapacityError as error:
        raise ParameterError(
            f"parameters families={_filter_text(params.families)}, "
            f"sizes={_filter_text(params.sizes)}: {error}"
        ) from error


def _filter_text(names: tuple[str, ...] | None) -> str:
    """A family or size filter as the notebook reads it: None keeps all."""
    return str(list(names)) if names else "all"


# The sizing notebook's parameters whose falsy default means "not set" (None).
_SIZING_UNSET_WHEN_FALSY = (
    "metric",
    "requests_per_day",
    "cpu_per_request_ms",
    "current_instance_type",
    "current_count",
    "families",
    "sizes",
    "price_table",
)


def check_cost_comparison(values: Mapping[str, Any]) -> None:
    """The ``cost_comparison`` notebook: its types, fleet size, profile and costing.

    Raises
    ------
    ParameterError
        For a burstable type that is not burstable (or unknown), a fixed type that
        is burstable, a count below 1, or a traffic, grid or costing value outside
        its range.
    """
    _require_type("burstable_type", values["burstable_type"], burstable=True)
    for name in values["fixed_types"]:
        _require_type("fixed_types", name, burstable=False)
    _require_at_least("count", values["count"], 1, "instances in every fleet")
    _check_profile(values)
    _require_discount(values["discount_pct"])
    _require_positive("horizon_hours", values["horizon_hours"])


def check_credit_forecast(values: Mapping[str, Any]) -> None:
    """The ``credit_forecast`` notebook: paired types and counts, profile, release.

    Raises
    ------
    ParameterError
        For ``instance_types`` and ``counts`` of different lengths, a type that is
        not burstable, a count below 1, a release outside the replay, or a traffic,
        grid or alarm value outside its range.
    """
    instance_types, counts = values["instance_types"], values["counts"]
    if len(instance_types) != len(counts):
        raise ParameterError(
            f"parameters instance_types ({len(instance_types)} entries) and counts "
            f"({len(counts)} entries) must pair up; give one count per instance type"
        )
    if not instance_types:
        raise ParameterError(
            "parameter 'instance_types' is empty; list at least one burstable type"
        )
    for name in instance_types:
        _require_type("instance_types", name, burstable=True)
    for count in counts:
        _require_at_least("counts", count, 1, "instances of each option")
    _check_profile(values)
    _require_finite("extra_cpu_ms", values["extra_cpu_ms"])
    replay_hours = values["days"] * 24
    release_after_hours = values["release_after_hours"]
    if not 0 <= release_after_hours < replay_hours:
        raise ParameterError(
            f"parameter 'release_after_hours' = {release_after_hours!r} must lie in "
            f"[0, {replay_hours}) hours, inside the {values['days']}-day replay; "
            "lower it or raise days"
        )
    for hours in values["warning_hours_wanted"]:
        _require_positive("warning_hours_wanted", hours)


def check_incident_replay(values: Mapping[str, Any]) -> None:
    """The ``incident_replay`` notebook: its two types, fleet, CPU and timeouts.

    Raises
    ------
    ParameterError
        For an ``instance_type`` that is not burstable, a ``fixed_type`` that is,
        a count below 1, ``critical_frac`` outside (0, 1), or a time, CPU or credit
        value outside its range.
    """
    _require_type("instance_type", values["instance_type"], burstable=True)
    _require_type("fixed_type", values["fixed_type"], burstable=False)
    _require_at_least("count", values["count"], 1, "instances in the fleet")
    _require_positive("cpu_before_ms", values["cpu_before_ms"])
    _require_at_least("hash_cpu_ms", values["hash_cpu_ms"], 0, "CPU time [ms]")
    _require_at_least("start_credits", values["start_credits"], 0, "a balance")
    for name in (
        "outage_hc_timeout_s",
        "fixed_hc_timeout_s",
        "rollout_hours",
        "p99_slo_ms",
    ):
        _require_positive(name, values[name])
    critical_frac = values["critical_frac"]
    if not 0 < critical_frac < 1:
        raise ParameterError(
            f"parameter 'critical_frac' = {critical_frac!r} must lie strictly in "
            "(0, 1); give the share of traffic never shed, e.g. 0.6"
        )


NULLABLE_PARAMETERS: dict[str, tuple[str, ...]] = {"sizing": _SIZING_UNSET_WHEN_FALSY}
"""Notebook name to the parameters whose falsy default means "not set".

For these a YAML ``null`` (or ``~``, or Python None) is accepted and means the
default, as :func:`capacity.params.load_params_yaml` accepts None for the same
optional :class:`~capacity.params.SizingParams` fields; for any other parameter a
null is refused (:func:`capacity.report_parameters.check_parameters`).
"""

NOTEBOOK_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "sizing": check_sizing,
    "cost_comparison": check_cost_comparison,
    "credit_forecast": check_credit_forecast,
    "incident_replay": check_incident_replay,
}
"""Notebook name to the check of its parameter values (the one place they meet)."""


def _check_profile(values: Mapping[str, Any]) -> None:
    """The arguments the notebook passes to :func:`capacity.workload.daily_profile`."""
    _require_at_least("requests_per_day", values["requests_per_day"], 0, "a volume")
    peak_to_mean = values["peak_to_mean"]
    _require_at_least("peak_to_mean", peak_to_mean, 1, "peak over mean (1 is flat)")
    _require_at_least("cpu_per_request_ms", values["cpu_per_request_ms"], 0, "[ms]")
    _require_at_least("days", values["days"], 1, "days replayed")
    step_s = values["step_s"]
    _require_at_least("step_s", step_s, 1, "seconds, e.g. 60 or 300")
    steps_per_day = SECONDS_PER_DAY / step_s
    if steps_per_day != int(steps_per_day):
        raise ParameterError(
            f"parameter 'step_s' = {step_s!r} does not divide one day (86400 s); "
            "use e.g. 60 or 300"
        )
    if peak_to_mean >= steps_per_day:
        raise ParameterError(
            f"parameter 'peak_to_mean' = {peak_to_mean!r} is not reachable with "
            f"{int(steps_per_day)} steps per day; lower it or use a smaller step_s"
        )


def _require_type(parameter: str, name: str, *, burstable: bool) -> None:
    """An instance type in the catalog, burstable (T) or fixed as required."""
    from capacity.catalog import get_instance

    try:
        instance = get_instance(name)
    except CapacityError as error:
        raise ParameterError(f"parameter '{parameter}': {error}") from error
    if instance.burstable != burstable:
        kind, example = (
            ("a burstable T2/T3/T3a/T4g", "t3.large")
            if burstable
            else ("a fixed-performance", "c5.large")
        )
        raise ParameterError(
            f"parameter '{parameter}' holds '{name}', which is not {kind} type; "
            f"give one such as {example}"
        )


def _require_finite(parameter: str, value: float) -> None:
    """A finite number."""
    if not math.isfinite(value):
        raise ParameterError(
            f"parameter '{parameter}' = {value!r} must be a finite number"
        )


def _require_at_least(parameter: str, value: float, low: float, meaning: str) -> None:
    """A finite number no smaller than ``low``."""
    if not (math.isfinite(value) and value >= low):
        raise ParameterError(
            f"parameter '{parameter}' = {value!r} must be at least {low} ({meaning}); "
            f"give a value >= {low}"
        )


def _require_positive(parameter: str, value: float) -> None:
    """A finite number above zero."""
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(
            f"parameter '{parameter}' = {value!r} must be greater than zero; give a "
            "positive value"
        )


def _require_discount(discount_pct: float) -> None:
    """A discount in percent, in [0, 100)."""
    if not 0 <= discount_pct < 100:
        raise ParameterError(
            f"parameter 'discount_pct' = {discount_pct!r} is outside [0, 100); give "
            "the discount in percent, e.g. 30 for 30 %"
        )
