"""The sizing parameters: one typed spec for ``capacity recommend`` and the notebook.

:class:`SizingParams` lists every parameter of a sizing run with its default and unit.
:meth:`SizingParams.from_mapping` builds one from a mapping (a YAML file or a notebook's
parameters cell) and rejects unknown names and wrong types with a
:class:`~capacity.errors.ParameterError` naming the parameter, the value and the fix.
:func:`load_params_yaml` reads YAML strictly: scalars that YAML 1.1 silently turns into
something else (``0730`` into the octal number 472, ``1:30`` into 90) are kept as
:class:`AmbiguousScalar` so that the check can name them. :func:`sizing_workload` reads
the workload the parameters name.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from capacity import ingest
from capacity.catalog import get_instance
from capacity.errors import CapacityWarning, IngestError, ParameterError
from capacity.workload import Workload, load_default, rescale_to_daily_requests

MODES = ("standard", "unlimited")
OPERATING_SYSTEMS = ("linux", "windows")
# "drop" leaves steps out, and a workload needs every step: not offered for sizing.
SIZING_GAP_POLICIES = ("interpolate", "hold", "zero")
INITIAL_CREDITS = ("warmup", "full", "empty")
# Numeric text YAML 1.1 leaves as a string (1e3, 2.5E+6): read as a float.
NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
MAX_ZONES = 6  # the most availability zones of any AWS region (us-east-1)
SHORT_SPAN_HOURS = 24.0  # a workload shorter than one day cannot show credit drain
LARGEST_INT = 10**9  # larger integers are typing slips, not sizing parameters
# Most requests a day a sizing run takes: ingest.MAX_REQUESTS_PER_S for a whole day.
MAX_PER_DAY = ingest.MAX_REQUESTS_PER_S * 86400.0
DEFAULT_CPU_PER_REQUEST_MS = 8.0  # CPU per request of an export that names none [ms]
# Smallest memory per instance searched by default [GiB]: 4 GiB hosts the OS, the
# container agent and a few service containers, where the 0.5-2 GiB nano, micro and
# small types would win on price yet hold almost none.
DEFAULT_MIN_MEMORY_GIB = 4.0


@dataclass(frozen=True)
class Surge:
    """A period of raised traffic, applied on top of the base workload."""

    start: str  # when it begins: an ISO timestamp, UTC unless it names an offset
    hours: float  # how long it lasts [h]
    multiplier: float  # traffic during the surge as a multiple of the base (> 0)


@dataclass(frozen=True)
class SizingParams:
    """Every parameter of a sizing run; defaults size the bundled workload."""

    workload: str = "default"  # "default" (bundled profile) or a metrics file path
    metric: str | None = None  # column or metric to read from the workload file
    tz: str = "UTC"  # timezone of naive timestamps in the workload file
    max_gap_s: float = 1800.0  # longest gap in the workload file interpolated [s]
    gap_policy: str = "interpolate"  # longer gaps: interpolate (refuse), hold, zero
    requests_per_day: float | None = None  # rescale traffic to this volume [1/day]
    cpu_per_request_ms: float | None = None  # CPU per request [ms]; None: workload's
    current_instance_type: str | None = None  # type a CPUUtilization export ran on
    current_count: int | None = None  # instances that export averages over [instances]
    families: tuple[str, ...] | None = None  # instance families; None: whole catalog
    sizes: tuple[str, ...] | None = None  # sizes (large, xlarge...); None: every size
    modes: tuple[str, ...] = MODES  # credit modes tried for burstable types
    min_memory_gib: float = DEFAULT_MIN_MEMORY_GIB  # smallest memory per instance
    # searched [GiB]; 4 GiB by default, for a container host (see the constant)
    max_count: int = 400  # largest fleet size searched [instances]
    p99_slo_ms: float = 250.0  # p99 response time objective [ms]
    slo_share_frac: float = 0.99  # share of steps that must meet the p99 objective
    headroom_frac: float = 0.25  # spare CPU required at peak: utilisation <= 1 - this
    min_balance_frac: float = 0.1  # standard-mode credit floor, share of the cap
    zones: int = 3  # availability zones; the fleet must survive losing one (1: N+1)
    surges: tuple[Surge, ...] = ()  # surge scenarios; each must hold on its own
    initial_credits: str = "warmup"  # fleet start balance: warmup, full or empty
    price_table: str | None = None  # price CSV path; None: the bundled us-east-1 table
    discount_pct: float = 0.0  # savings-plan or reserved discount on compute [%]
    committed_price_table: str | None = None  # committed-price CSV; not with discount
    os: str = "linux"  # operating system: sets prices and the surplus credit rate
    horizon_hours: float = 730.0  # costing horizon [h]; 730 is one month
    warning_hours: float = 6.0  # alarm lead time before credits run out [h]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SizingParams:
        """Build parameters from a mapping, rejecting unknown names and wrong types.

        Parameters
        ----------
        values
            Parameter names to values, as read from YAML or a notebook cell. Names
            not given keep their defaults.

        Returns
        -------
        SizingParams
            The validated parameters.

        Raises
        ------
        ParameterError
            For an unknown name (with the closest known names), a value of the wrong
            type (dates, ambiguous YAML scalars, booleans for numbers, huge integers)
            or a value outside its range.

        Examples
        --------
        >>> SizingParams.from_mapping({"p99_slo_ms": 200, "families": ["t3"]}).families
        ('t3',)
        """
        if not isinstance(values, Mapping):
            raise ParameterError(
                f"parameters must be a mapping of names to values, got "
                f"{type(values).__name__}; write one 'name: value' per line"
            )

        known = {item.name: item for item in dataclasses.fields(cls)}
        converted = {}
        for name, value in values.items():
            if name not in known:
                raise ParameterError(_unknown_name_message(str(name), list(known)))
            converted[name] = _CONVERTERS[name](name, value)

        params = cls(**converted)
        params.validate()
        return params

    def validate(self) -> None:
        """Check every range rule; raise :class:`ParameterError` at the first broken.

        Raises
        ------
        ParameterError
            For a value outside its range (see each field's comment).
        """
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(
                    f"{field.name}={value!r} must be a finite number; give a number "
                    "such as 250"
                )
        _require_positive("p99_slo_ms", self.p99_slo_ms)
        _require_positive("horizon_hours", self.horizon_hours)
        _require_positive("warning_hours", self.warning_hours)
        _require_positive("max_count", self.max_count)
        if not self.min_memory_gib >= 0:
            raise ParameterError(f"min_memory_gib={self.min_memory_gib!r} must be >= 0")
        _require_positive("zones", self.zones)
        if self.zones > MAX_ZONES:
            raise ParameterError(
                f"zones={self.zones} is more availability zones than any AWS region "
                f"has ({MAX_ZONES}); give the zones the fleet is spread over"
            )
        _require_fraction("slo_share_frac", self.slo_share_frac, upper_open=False)
        _require_fraction("headroom_frac", self.headroom_frac, upper_open=True)
        _require_fraction("min_balance_frac", self.min_balance_frac, upper_open=True)
        if self.requests_per_day is not None:
            _require_positive("requests_per_day", self.requests_per_day)
            _require_at_most("requests_per_day", self.requests_per_day, MAX_PER_DAY)
        if self.cpu_per_request_ms is not None:
            _require_positive("cpu_per_request_ms", self.cpu_per_request_ms)
        self._validate_current_fleet()
        if not 0.0 <= self.discount_pct < 100.0:
            raise ParameterError(
                f"discount_pct={self.discount_pct!r} is outside [0, 100); give the "
                f"savings-plan or reserved discount in percent, e.g. 30 for 30 %"
            )
        if self.committed_price_table is not None and self.discount_pct:
            raise ParameterError(
                f"discount_pct={self.discount_pct!r} and committed_price_table are "
                f"both given; a committed price table already carries the discount"
            )
        _require_choices("modes", self.modes, MODES)
        _require_choices("os", (self.os,), OPERATING_SYSTEMS)
        _require_choices("gap_policy", (self.gap_policy,), SIZING_GAP_POLICIES)
        if not self.max_gap_s >= 0:
            raise ParameterError(
                f"max_gap_s={self.max_gap_s!r} must be >= 0 seconds; 1800 fills gaps "
                "of up to 30 minutes"
            )
        _require_choices("initial_credits", (self.initial_credits,), INITIAL_CREDITS)
        if not self.modes:
            raise ParameterError("modes is empty; give standard, unlimited or both")
        for index, surge in enumerate(self.surges):
            _require_positive(f"surges[{index}].hours", surge.hours)
            _require_positive(f"surges[{index}].multiplier", surge.multiplier)

    def _validate_current_fleet(self) -> None:
        given = (self.current_instance_type is None, self.current_count is None)
        if given[0] != given[1]:
            raise ParameterError(
                f"current_instance_type={self.current_instance_type!r} and "
                f"current_count={self.current_count!r}: give both (the fleet a "
                f"CPUUtilization export was measured on) or neither"
            )
        if self.current_count is not None:
            _require_positive("current_count", self.current_count)
        if self.current_instance_type is not None:
            get_instance(self.current_instance_type)


def sizing_workload(params: SizingParams) -> Workload:
    """The workload the parameters name: the bundled default or a metrics export.

    Parameters
    ----------
    params
        ``workload`` is ``"default"`` or an export path; ``metric``, ``tz``,
        ``requests_per_day`` and ``cpu_per_request_ms`` say how to read it, and a
        ``CPUUtilization`` export also needs ``current_instance_type`` and
        ``current_count``, the fleet it was measured on.

    Returns
    -------
    Workload
        A ``RequestCount`` export as its rate, a ``CPUUtilization`` export as the
        request rate its busy vCPUs serve at ``cpu_per_request_ms`` (8 ms if not
        given), rescaled to ``requests_per_day`` if given.

    Raises
    ------
    ParameterError
        For a CPUUtilization export without the current fleet, the current fleet
        given with another metric, or a metric that is neither.
    IngestError, CatalogError
        For a file that cannot be read as a workload, or an unknown type.

    Notes
    -----
    A throttled or saturated current fleet under-states demand (see
    :func:`capacity.ingest.cpu_trace_to_workload`, which warns).

    Examples
    --------
    >>> w = sizing_workload(SizingParams(cpu_per_request_ms=5.0))
    >>> float(w.cpu_per_request_s[0])
    0.005
    """
    if params.workload == "default":
        return _default_workload(params)

    trace = ingest.read_metric(
        params.workload,
        metric=params.metric,
        tz=params.tz,
        max_gap_s=params.max_gap_s,
        gap_policy=params.gap_policy,
    )
    _warn_if_short(trace, params.workload)
    cpu_per_request_ms = params.cpu_per_request_ms or DEFAULT_CPU_PER_REQUEST_MS
    if trace.metric == "CPUUtilization":
        return _cpu_workload(trace, params, cpu_per_request_ms)

    if params.current_instance_type is not None:
        raise ParameterError(
            f"current_instance_type={params.current_instance_type!r} applies to a "
            f"CPUUtilization export only, and {params.workload} holds "
            f"{trace.metric}; leave current_instance_type and current_count unset"
        )
    if trace.metric != "RequestCount":
        raise ParameterError(
            f"metric={trace.metric!r} in {params.workload} is not a workload; "
            f"give a RequestCount or CPUUtilization export"
        )
    return ingest.trace_to_workload(
        trace,
        cpu_per_request_ms=cpu_per_request_ms,
        requests_per_day=params.requests_per_day,
    )


def _warn_if_short(trace: ingest.Trace, path: str) -> None:
    """Warn when an export is too short to judge CPU credits."""
    span_hours = len(trace.series) * trace.step_s / 3600.0
    if span_hours < SHORT_SPAN_HOURS:
        warnings.warn(
            f"{path} covers only {span_hours:.1f} h; credit balances fill and drain "
            f"over a day (the cap is 24 h of earnings), so a standard-mode verdict "
            f"on less than {SHORT_SPAN_HOURS:g} h is not reliable: give an export of "
            f"at least a day, better a week",
            CapacityWarning,
            stacklevel=3,
        )


def _default_workload(params: SizingParams) -> Workload:
    workload = load_default()
    if params.requests_per_day:
        workload = rescale_to_daily_requests(workload, params.requests_per_day)

    if params.cpu_per_request_ms is None:
        return workload
    cpu_s = np.full(len(workload.index), params.cpu_per_request_ms / 1000.0)
    return dataclasses.replace(workload, cpu_per_request_s=cpu_s)


def _cpu_workload(
    trace: ingest.Trace, params: SizingParams, cpu_per_request_ms: float
) -> Workload:
    if params.current_instance_type is None or params.current_count is None:
        raise ParameterError(
            f"{params.workload} holds CPUUtilization; give current_instance_type "
            f"and current_count (the fleet it was measured on, e.g. t3.large and "
            f"4) to turn its busy CPU into requests"
        )
    return ingest.cpu_trace_to_workload(
        trace,
        params.current_instance_type,
        params.current_count,
        cpu_per_request_ms=cpu_per_request_ms,
        requests_per_day=params.requests_per_day,
    )


class AmbiguousScalar(str):
    """A YAML scalar that YAML 1.1 would silently read as another number."""

    reason: str = ""


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line, where and what, without the quoted source.

    Examples
    --------
    >>> try:
    ...     yaml.safe_load("zones: [3")
    ... except yaml.YAMLError as error:
    ...     yaml_problem(error)
    "line 1, column 10: expected ',' or ']', but got '<stream end>'"
    """
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return str(problem)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_params_yaml(text: str) -> dict[str, Any]:
    """Read a YAML parameter file strictly.

    Parameters
    ----------
    text
        The YAML document: one mapping of parameter names to values.

    Returns
    -------
    dict
        The mapping, with octal-looking (``0730``) and sexagesimal (``1:30``)
        integers kept as :class:`AmbiguousScalar` for
        :meth:`SizingParams.from_mapping` to reject by name.

    Raises
    ------
    ParameterError
        If the text is not YAML or not a mapping.

    Examples
    --------
    >>> load_params_yaml("horizon_hours: 0730")["horizon_hours"].reason
    "YAML 1.1 reads '0730' as the octal number 472"
    """
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise ParameterError(
            f"the parameter file is not valid YAML ({yaml_problem(error)}); fix it"
        ) from None

    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ParameterError(
            f"the parameter file must hold a mapping of names to values, got "
            f"{type(document).__name__}; write one 'name: value' per line"
        )
    return document


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps integers YAML 1.1 would misread as ambiguous strings
    and refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Any, Any]:
        lines: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in lines:
                raise ParameterError(
                    f"the parameter file gives {key!r} twice (lines {lines[key]} and "
                    f"{line}); keep one line for {key!r}"
                )
            lines[key] = line
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    text = str(node.value)
    digits = text.lstrip("+-").replace("_", "")
    if ":" in digits:
        return _ambiguous(text, f"YAML 1.1 reads {text!r} as a base-60 number")
    if re.fullmatch(r"0[0-7]+", digits):
        value = int(digits, 8) * (-1 if text.startswith("-") else 1)
        return _ambiguous(text, f"YAML 1.1 reads {text!r} as the octal number {value}")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _ambiguous(text: str, reason: str) -> AmbiguousScalar:
    scalar = AmbiguousScalar(text)
    scalar.reason = reason
    return scalar


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _type_error(name: str, value: object, wanted: str) -> ParameterError:
    if isinstance(value, AmbiguousScalar):
        return ParameterError(
            f"{name}: {value.reason}; write it without a leading zero or colon, "
            f"or quote it if you mean text"
        )
    if isinstance(value, datetime.date):
        return ParameterError(
            f"{name}={value!s} was read as a date, but {name} must be {wanted}; "
            f"quote timestamps ('2026-04-06 08:00') and give numbers as numbers"
        )
    return ParameterError(
        f"{name}={value!r} is a {type(value).__name__}, but {name} must be {wanted}"
    )


def _as_float(name: str, value: object) -> float:
    is_text = isinstance(value, str) and not isinstance(value, AmbiguousScalar)
    if is_text and NUMBER_TEXT.fullmatch(str(value).strip()):
        value = float(str(value))  # YAML 1.1 reads 1e3 (no dot) as text
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, value, "a number")
    if not math.isfinite(value):
        raise ParameterError(
            f"{name}={value!r} must be a finite number; give a number such as 250"
        )
    if isinstance(value, int) and abs(value) > LARGEST_INT:
        raise ParameterError(
            f"{name}={value} is larger than {LARGEST_INT:.0e}; check for a typing slip"
        )
    return float(value)


def _as_int(name: str, value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, value, "a whole number")
    if abs(value) > LARGEST_INT:
        raise ParameterError(
            f"{name}={value} is larger than {LARGEST_INT:.0e}; check for a typing slip"
        )
    return value


def _as_str(name: str, value: object) -> str:
    if isinstance(value, AmbiguousScalar) or not isinstance(value, str):
        raise _type_error(name, value, "text")
    return value


def _as_tz(name: str, value: object) -> str:
    text = _as_str(name, value)
    try:
        return ingest.check_tz(text)
    except IngestError as error:
        raise ParameterError(str(error).replace("tz=", f"{name}=", 1)) from None


def _as_optional_float(name: str, value: object) -> float | None:
    return None if value is None else _as_float(name, value)


def _as_optional_int(name: str, value: object) -> int | None:
    return None if value is None else _as_int(name, value)


def _as_optional_str(name: str, value: object) -> str | None:
    if isinstance(value, Path):
        return str(value)
    return None if value is None else _as_str(name, value)


def _as_names(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise _type_error(name, value, "a list of names")
    return tuple(_as_str(f"{name}[{index}]", item) for index, item in enumerate(value))


def _as_optional_names(name: str, value: object) -> tuple[str, ...] | None:
    return None if value is None else _as_names(name, value)


def _as_timestamp_text(name: str, value: object) -> str:
    text = _as_str(name, value)
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"{name}={text!r} is not an ISO timestamp; write e.g. '2026-04-06 08:00'"
        ) from None
    return text


def _as_surges(name: str, value: object) -> tuple[Surge, ...]:
    if not isinstance(value, list | tuple):
        raise _type_error(name, value, "a list of {start, hours, multiplier}")
    return tuple(
        _as_surge(f"{name}[{index}]", item) for index, item in enumerate(value)
    )


def _as_surge(name: str, value: object) -> Surge:
    if isinstance(value, Surge):
        return value
    if isinstance(value, str):
        value = _surge_fields(name, value)
    if not isinstance(value, Mapping):
        raise _type_error(name, value, "a mapping {start, hours, multiplier}")

    wanted = {"start", "hours", "multiplier"}
    if set(value) != wanted:
        raise ParameterError(
            f"{name} has keys {sorted(map(str, value))}; give exactly "
            f"start, hours and multiplier"
        )
    return Surge(
        start=_as_timestamp_text(f"{name}.start", value["start"]),
        hours=_as_float(f"{name}.hours", value["hours"]),
        multiplier=_as_float(f"{name}.multiplier", value["multiplier"]),
    )


def _surge_fields(name: str, text: str) -> dict[str, str]:
    """``START/HOURS/MULTIPLIER`` (a notebook's or -p's text form) as a mapping."""
    parts = [part.strip() for part in text.split("/")]
    if len(parts) != 3:
        raise ParameterError(
            f"{name}={text!r} is not START/HOURS/MULTIPLIER; write e.g. "
            f"'2026-04-03T12:00:00Z/6/3' (6 hours at 3 times the traffic)"
        )
    return dict(zip(("start", "hours", "multiplier"), parts, strict=True))


_CONVERTERS: dict[str, Any] = {
    "workload": _as_str,
    "metric": _as_optional_str,
    "tz": _as_tz,
    "max_gap_s": _as_float,
    "gap_policy": _as_str,
    "requests_per_day": _as_optional_float,
    "cpu_per_request_ms": _as_optional_float,
    "current_instance_type": _as_optional_str,
    "current_count": _as_optional_int,
    "families": _as_optional_names,
    "sizes": _as_optional_names,
    "modes": _as_names,
    "min_memory_gib": _as_float,
    "max_count": _as_int,
    "p99_slo_ms": _as_float,
    "slo_share_frac": _as_float,
    "headroom_frac": _as_float,
    "min_balance_frac": _as_float,
    "zones": _as_int,
    "surges": _as_surges,
    "initial_credits": _as_str,
    "price_table": _as_optional_str,
    "discount_pct": _as_float,
    "committed_price_table": _as_optional_str,
    "os": _as_str,
    "horizon_hours": _as_float,
    "warning_hours": _as_float,
}


def _unknown_name_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(map(repr, close))}?" if close else ""
    return f"unknown parameter {name!r}; {hint or 'known: ' + ', '.join(known)}"


def _require_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ParameterError(f"{name}={value!r} must be greater than zero")


def _require_at_most(name: str, value: float, largest: float) -> None:
    if value > largest:
        raise ParameterError(
            f"{name}={value:g} is above {largest:g}, beyond any fleet this plans; "
            "check for a typing slip"
        )


def _require_fraction(name: str, value: float, *, upper_open: bool) -> None:
    inside = 0.0 <= value < 1.0 if upper_open else 0.0 < value <= 1.0
    if not inside:
        interval = "[0, 1)" if upper_open else "(0, 1]"
        raise ParameterError(
            f"{name}={value!r} is outside {interval}; "
            f"give a fraction, e.g. 0.2 for 20 %"
        )


def _require_choices(
    name: str, values: tuple[str, ...], choices: tuple[str, ...]
) -> None:
    for value in values:
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {choices}"
            raise ParameterError(f"{name}: unknown value {value!r}; {hint}")
