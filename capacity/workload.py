"""Workloads: request rate, CPU per request and background load on one UTC time grid.

A :class:`Workload` is what every model downstream consumes: for each step of a regular
UTC grid, the mean arrival rate, the CPU-seconds one request costs and the busy vCPUs
per instance that no request causes. Builders return new workloads and never modify
their input; the same seed gives the same series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from capacity.errors import ParameterError

SECONDS_PER_DAY = 86_400.0

DEFAULT_WORKLOAD_CSV = (
    Path(__file__).resolve().parent.parent / "data" / ("default_workload.csv")
)

FRAME_COLUMNS = ("requests_per_s", "cpu_per_request_s", "background_vcpu")


@dataclass(frozen=True, eq=False)
class Workload:
    """Demand on a fleet, step by step on a regular UTC grid.

    Compared by identity: element-wise array comparison has no single truth value.
    """

    index: pd.DatetimeIndex
    """Start of each step; UTC, fixed step."""
    requests_per_s: np.ndarray
    """Mean arrival rate in each step [1/s]."""
    cpu_per_request_s: np.ndarray
    """CPU time one request costs in each step [vCPU-seconds]."""
    background_vcpu: np.ndarray
    """Busy vCPUs per instance not caused by requests [vCPU]."""
    name: str
    """Short label for tables and charts."""
    source: str
    """Where the series came from: generator and seed, or file."""

    def __post_init__(self) -> None:
        _check_index(self.index)
        for field in FRAME_COLUMNS:
            values = np.array(getattr(self, field), dtype=float)
            _check_series(field, values, len(self.index))
            values.setflags(write=False)
            object.__setattr__(self, field, values)

    @property
    def step_s(self) -> float:
        """Length of one step [s]."""
        return float((self.index[1] - self.index[0]) / pd.Timedelta(seconds=1))

    def busy_vcpu_per_instance(self, count: int) -> np.ndarray:
        """CPU demand on each of ``count`` instances sharing the load evenly [vCPU].

        Notes
        -----
        ``requests_per_s * cpu_per_request_s / count + background_vcpu``; not capped at
        the instance's vCPUs (callers cap it, and the excess is unserved demand).
        """
        if isinstance(count, bool) or not isinstance(count, int | np.integer):
            raise ParameterError(
                f"count={count!r} is not an integer; pass the number of instances"
            )
        if count < 1:
            raise ParameterError(
                f"count={count} must be at least 1; pass the number of instances"
            )
        request_vcpu = self.requests_per_s * self.cpu_per_request_s
        return request_vcpu / count + self.background_vcpu

    def to_frame(self) -> pd.DataFrame:
        """The series as a frame indexed by ``timestamp`` (UTC)."""
        columns = {field: getattr(self, field) for field in FRAME_COLUMNS}
        return pd.DataFrame(columns, index=self.index.rename("timestamp"))


def _check_index(index: pd.DatetimeIndex) -> None:
    """Refuse an index that is not a UTC grid with one fixed, positive step."""
    if not isinstance(index, pd.DatetimeIndex):
        raise ParameterError(
            f"index is a {type(index).__name__}; pass a pandas DatetimeIndex in UTC"
        )
    if index.tz is None or str(index.tz) != "UTC":
        raise ParameterError(
            f"index has time zone {index.tz}; a workload's grid must be UTC: "
            "use index.tz_localize(zone).tz_convert('UTC')"
        )
    if len(index) < 2:
        raise ParameterError(
            f"index has {len(index)} step(s); a workload needs at least 2 steps"
        )
    steps = np.diff(index.asi8)
    if steps[0] <= 0 or not np.all(steps == steps[0]):
        raise ParameterError(
            "index is not a regular grid (steps differ or go backwards); "
            "regularise it first, e.g. with capacity.ingest.read_metric"
        )


def _check_series(field: str, values: np.ndarray, length: int) -> None:
    """Refuse a series of the wrong shape, or with NaN, infinite or negative values."""
    if values.shape != (length,):
        raise ParameterError(
            f"{field} has shape {values.shape}; it must match the index ({length},)"
        )
    if not np.all(np.isfinite(values)):
        raise ParameterError(
            f"{field} contains NaN or infinite values; fill or drop those steps first"
        )
    if np.any(values < 0):
        first = int(np.argmax(values < 0))
        raise ParameterError(
            f"{field}[{first}]={values[first]} is negative; rates and CPU costs must "
            "be >= 0"
        )


def _utc_timestamp(argument: str, value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse a time-zone-aware moment and convert it to UTC."""
    try:
        moment = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise ParameterError(
            f"{argument}={value!r} is not a date-time ({error}); "
            "write it like '2026-04-06T14:00:00Z'"
        ) from error
    if moment.tzinfo is None:
        raise ParameterError(
            f"{argument}={value!r} has no time zone; add one, e.g. "
            f"'{moment.isoformat()}Z' for UTC"
        )
    return moment.tz_convert("UTC")


def _check_number(argument: str, value: float, low: float, rule: str) -> float:
    """Refuse a non-finite number or one below ``low``."""
    number = float(value)
    if not math.isfinite(number) or number < low:
        raise ParameterError(f"{argument}={value!r} {rule}")
    return number


def _seconds_since(index: pd.DatetimeIndex, moment: pd.Timestamp) -> np.ndarray:
    """Seconds from ``moment`` to each timestamp of ``index``."""
    return np.asarray((index - moment) / pd.Timedelta(seconds=1), dtype=float)


def _von_mises_exponent(peak_to_mean: float, cosines: np.ndarray) -> float:
    """Concentration ``k`` whose curve ``exp(k cos)`` has the asked peak / mean.

    Notes
    -----
    On the samples given, ``log(peak / mean) = k max(cos) - log(mean(exp(k cos)))``,
    which grows monotonically with ``k`` from 0 (flat); a bracket is found by
    doubling ``k`` and the root by Brent's method.
    """
    from scipy.optimize import brentq  # here, not at the top: 0.3 s to import
    from scipy.special import logsumexp

    log_target = math.log(peak_to_mean)

    def log_ratio_gap(k: float) -> float:
        log_mean = float(logsumexp(k * cosines)) - math.log(cosines.size)
        return k * float(cosines.max()) - log_mean - log_target

    if log_target == 0.0:
        return 0.0
    upper_k = 1.0
    while log_ratio_gap(upper_k) < 0.0:
        upper_k *= 2.0
        if upper_k > 1e9:
            raise ParameterError(
                f"peak_to_mean={peak_to_mean} is not reachable on this grid: the "
                "peak falls between samples, which then share it; lower it, or "
                "move peak_hour_utc onto a step"
            )
    return float(brentq(log_ratio_gap, 0.0, upper_k, xtol=1e-14, rtol=1e-14))


def daily_profile(
    requests_per_day: float,
    peak_to_mean: float,
    *,
    days: int,
    start: str | pd.Timestamp = "2026-03-30T00:00:00Z",
    step_s: float = 60.0,
    peak_hour_utc: float = 15.0,
    weekly_dip_frac: float = 0.0,
    growth_frac_per_day: float = 0.0,
    noise_frac: float = 0.0,
    seed: int = 0,
    cpu_per_request_ms: float = 8.0,
    background_vcpu: float = 0.0,
    name: str = "daily profile",
) -> Workload:
    """A synthetic workload with a smooth daily cycle.

    Parameters
    ----------
    requests_per_day : float
        Mean daily volume over the whole series [requests/day].
    peak_to_mean : float
        Peak over mean of the daily cycle [-], at least 1 (1 is a flat load).
    days : int
        Whole days to generate [days].
    start : str or pandas.Timestamp
        First step; must carry a time zone.
    step_s : float
        Grid step [s]; must divide one day.
    peak_hour_utc : float
        Time of day of the daily peak [hour of day, UTC].
    weekly_dip_frac : float
        Share of traffic lost on Saturdays and Sundays (UTC) [0..1).
    growth_frac_per_day : float
        Compound growth of the volume per day [fraction/day], > -1.
    noise_frac : float
        Standard deviation of the multiplicative log-normal noise per step [0..1].
    seed : int
        Seed of the noise generator.
    cpu_per_request_ms : float
        CPU time per request [ms], constant.
    background_vcpu : float
        Busy vCPUs per instance not caused by requests [vCPU].
    name : str
        Label for tables and charts.

    Returns
    -------
    Workload

    Raises
    ------
    ParameterError
        For a negative volume, ``peak_to_mean`` < 1, a naive ``start``, a step that
        does not divide a day, or any other argument outside its range.

    Notes
    -----
    The daily cycle is a von Mises curve ``exp(k cos(2 pi (t - t_peak) / day))``; ``k``
    is solved on the grid's own samples so that, with no weekly dip, growth or noise,
    the series' peak / mean equals ``peak_to_mean`` exactly. The weekly dip, growth and
    noise then multiply it, and the whole series is scaled so its mean rate is exactly
    ``requests_per_day / 86400``. With them, peak / mean drifts from the argument.

    References
    ----------
    https://en.wikipedia.org/wiki/Von_Mises_distribution (the curve's shape)

    Examples
    --------
    >>> w = daily_profile(86_400, 2.0, days=1, step_s=3600)
    >>> round(float(w.requests_per_s.max() / w.requests_per_s.mean()), 9)
    2.0
    """
    first = _utc_timestamp("start", start)
    _check_profile_arguments(requests_per_day, peak_to_mean, days, step_s)
    _check_modifiers(
        weekly_dip_frac, growth_frac_per_day, noise_frac, cpu_per_request_ms
    )
    _check_number("background_vcpu", background_vcpu, 0.0, "must be >= 0")
    index = pd.date_range(
        first,
        periods=int(days * SECONDS_PER_DAY / step_s),
        freq=pd.Timedelta(seconds=step_s),
    )

    elapsed_s = _seconds_since(index, first)
    hour_of_day = (index.hour + index.minute / 60.0 + index.second / 3600.0).to_numpy()
    cosines = np.cos(2.0 * np.pi * (hour_of_day - peak_hour_utc) / 24.0)
    steps_per_day = int(SECONDS_PER_DAY / step_s)
    k = _von_mises_exponent(float(peak_to_mean), cosines[:steps_per_day])
    daily = np.exp(k * (cosines - 1.0))

    weekend = np.asarray(index.day_of_week >= 5)
    weekly = np.where(weekend, 1.0 - weekly_dip_frac, 1.0)
    growth = (1.0 + growth_frac_per_day) ** (elapsed_s / SECONDS_PER_DAY)
    rng = np.random.default_rng(seed)
    noise = np.exp(noise_frac * rng.standard_normal(index.size) - noise_frac**2 / 2)

    shape = daily * weekly * growth * noise
    requests_per_s = shape / shape.mean() * requests_per_day / SECONDS_PER_DAY
    return Workload(
        index=index,
        requests_per_s=requests_per_s,
        cpu_per_request_s=np.full(index.size, cpu_per_request_ms / 1000.0),
        background_vcpu=np.full(index.size, float(background_vcpu)),
        name=name,
        source=(
            f"capacity.workload.daily_profile(requests_per_day={requests_per_day}, "
            f"peak_to_mean={peak_to_mean}, days={days}, seed={seed})"
        ),
    )


def _check_modifiers(
    weekly_dip_frac: float,
    growth_frac_per_day: float,
    noise_frac: float,
    cpu_per_request_ms: float,
) -> None:
    """Refuse the dip, growth, noise and CPU arguments of :func:`daily_profile`."""
    _check_number("weekly_dip_frac", weekly_dip_frac, 0.0, "must be in [0, 1)")
    if weekly_dip_frac >= 1.0:
        raise ParameterError(
            f"weekly_dip_frac={weekly_dip_frac} must be below 1 (1 loses all weekend "
            "traffic); pass the share lost, e.g. 0.2"
        )
    _check_number(
        "growth_frac_per_day", growth_frac_per_day, -1.0 + 1e-12, "must be above -1"
    )
    _check_number("noise_frac", noise_frac, 0.0, "must be >= 0, e.g. 0.05")
    _check_number("cpu_per_request_ms", cpu_per_request_ms, 0.0, "must be >= 0")


def _check_profile_arguments(
    requests_per_day: float, peak_to_mean: float, days: int, step_s: float
) -> None:
    """Refuse the volume, shape and grid arguments of :func:`daily_profile`."""
    _check_number(
        "requests_per_day", requests_per_day, 0.0, "must be >= 0 (a daily volume)"
    )
    _check_number(
        "peak_to_mean",
        peak_to_mean,
        1.0,
        "must be >= 1: a peak can't be below the mean (1 is flat, 2 a typical API)",
    )
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ParameterError(f"days={days!r} must be a whole number of days >= 1")
    _check_number("step_s", step_s, 1.0, "must be at least 1 s, e.g. 60 or 300")
    steps_per_day = SECONDS_PER_DAY / step_s
    if steps_per_day != int(steps_per_day):
        raise ParameterError(
            f"step_s={step_s} does not divide one day (86400 s); use e.g. 60 or 300"
        )
    if peak_to_mean >= steps_per_day:
        raise ParameterError(
            f"peak_to_mean={peak_to_mean} is not reachable with {int(steps_per_day)} "
            "steps per day (the peak would be one step); lower it or use a finer step"
        )


def _step_mean_of_piecewise_linear(
    index: pd.DatetimeIndex, step_s: float, knots_s: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Exact mean over each step of a piecewise-linear function of time.

    ``knots_s`` (non-decreasing seconds since ``index[0]``) may repeat to make a jump;
    outside them the function holds its end values. The mean over a step is the
    difference of the function's integral at the step's edges, over the step.
    """
    edges_s = np.arange(index.size + 1) * step_s
    integral = _integral_of_piecewise_linear(edges_s, knots_s, values)
    return np.diff(integral) / step_s


def _integral_of_piecewise_linear(
    at_s: np.ndarray, knots_s: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Integral of the piecewise-linear function from the first knot to each point."""
    segment_areas = np.diff(knots_s) * (values[1:] + values[:-1]) / 2.0
    at_knots = np.concatenate(([0.0], np.cumsum(segment_areas)))

    last = knots_s.size - 1
    j = np.clip(np.searchsorted(knots_s, at_s, side="right") - 1, 0, last - 1)
    width_s = knots_s[j + 1] - knots_s[j]
    inside_s = np.clip(at_s, knots_s[0], knots_s[-1]) - knots_s[j]
    # The share of the segment passed, in [0, 1]; a slope would overflow for a
    # segment as narrow as a subnormal number (a near-vertical ramp).
    passed_frac = np.divide(
        inside_s, width_s, out=np.zeros_like(width_s), where=width_s > 0
    )
    height = values[j] + (values[j + 1] - values[j]) * np.clip(passed_frac, 0.0, 1.0)
    within = at_knots[j] + inside_s * (values[j] + height) / 2.0

    before = np.minimum(at_s - knots_s[0], 0.0) * values[0]
    after = np.maximum(at_s - knots_s[-1], 0.0) * values[-1]
    return within + before + after


def with_surge(
    w: Workload,
    start: str | pd.Timestamp,
    hours: float,
    multiplier: float,
    *,
    ramp_s: float = 300.0,
) -> Workload:
    """Multiply the request rate over a window, with linear ramps in and out.

    Parameters
    ----------
    w : Workload
        The workload to change (left untouched).
    start : str or pandas.Timestamp
        Start of the window, ramp included; must carry a time zone.
    hours : float
        Length of the window, both ramps included [hours].
    multiplier : float
        Factor on the request rate at the plateau [-], >= 0 (below 1 is a dip).
    ramp_s : float
        Length of each ramp [s], >= 0; two ramps must fit in the window.

    Returns
    -------
    Workload

    Raises
    ------
    ParameterError
        For a naive ``start``, a window outside the workload, a negative multiplier,
        or ramps longer than the window.

    Notes
    -----
    The factor rises linearly from 1 to ``multiplier`` over ``ramp_s`` from ``start``,
    holds, and falls back to 1 over the last ``ramp_s`` of the window. Each step gets
    the exact time-average of that factor over the step.

    Examples
    --------
    >>> w = daily_profile(86_400, 1.0, days=1, step_s=3600)
    >>> s = with_surge(w, "2026-03-30T10:00Z", hours=2, multiplier=3, ramp_s=0)
    >>> [float(x) for x in s.requests_per_s[9:13]]
    [1.0, 3.0, 3.0, 1.0]
    """
    first = _utc_timestamp("start", start)
    window_s = _check_number("hours", hours, 0.0, "must be >= 0") * 3600.0
    _check_number("multiplier", multiplier, 0.0, "must be >= 0 (1 changes nothing)")
    _check_number("ramp_s", ramp_s, 0.0, "must be >= 0")
    if 2.0 * ramp_s > window_s:
        raise ParameterError(
            f"ramp_s={ramp_s} is too long for hours={hours}: the two ramps "
            f"({2 * ramp_s:g} s) must fit in the window ({window_s:g} s); "
            "shorten the ramps or lengthen the window"
        )
    _check_inside("start", first, first + pd.Timedelta(seconds=window_s), w)

    offset_s = float((first - w.index[0]) / pd.Timedelta(seconds=1))
    knots_s = offset_s + np.array([0.0, ramp_s, window_s - ramp_s, window_s])
    factors = np.array([1.0, multiplier, multiplier, 1.0])
    factor = _step_mean_of_piecewise_linear(w.index, w.step_s, knots_s, factors)
    return replace(
        w,
        requests_per_s=w.requests_per_s * factor,
        source=f"{w.source} + surge x{multiplier} at {first.isoformat()} for {hours} h",
    )


def _check_inside(
    argument: str, first: pd.Timestamp, last: pd.Timestamp, w: Workload
) -> None:
    """Refuse a window that does not overlap the workload's span."""
    span_end = w.index[-1] + pd.Timedelta(seconds=w.step_s)
    if last <= w.index[0] or first >= span_end:
        raise ParameterError(
            f"{argument}={first.isoformat()} puts the change outside the workload "
            f"({w.index[0].isoformat()} to {span_end.isoformat()}); move it inside"
        )


def with_cpu_step(w: Workload, at: str | pd.Timestamp, extra_cpu_ms: float) -> Workload:
    """Make every request cost ``extra_cpu_ms`` more CPU from the moment ``at`` on.

    Parameters
    ----------
    w : Workload
        The workload to change (left untouched).
    at : str or pandas.Timestamp
        Moment the release takes effect; must carry a time zone.
    extra_cpu_ms : float
        CPU time added to each request [ms]; negative for a cheaper release, as long
        as no step's cost falls below zero.

    Returns
    -------
    Workload

    Raises
    ------
    ParameterError
        For a naive ``at``, a moment outside the workload, a non-finite cost, or a
        cost that would become negative.

    Notes
    -----
    The step containing ``at`` gets the time-weighted share of the extra cost. This is
    the release in INCIDENT.md: a hash over every response.

    Examples
    --------
    >>> w = daily_profile(86_400, 1.0, days=1, step_s=3600, cpu_per_request_ms=2)
    >>> s = with_cpu_step(w, "2026-03-30T14:30Z", extra_cpu_ms=4)
    >>> [round(float(x) * 1000, 6) for x in s.cpu_per_request_s[13:16]]
    [2.0, 4.0, 6.0]
    """
    moment = _utc_timestamp("at", at)
    extra_s = _check_number("extra_cpu_ms", extra_cpu_ms, -math.inf, "must be finite")
    extra_s /= 1000.0
    _check_inside("at", moment, moment + pd.Timedelta(seconds=w.step_s), w)

    step_end_s = _seconds_since(w.index, moment) + w.step_s
    share_after = np.clip(step_end_s / w.step_s, 0.0, 1.0)
    cpu_per_request_s = w.cpu_per_request_s + extra_s * share_after

    if np.any(cpu_per_request_s < 0):
        raise ParameterError(
            f"extra_cpu_ms={extra_cpu_ms} makes the CPU per request negative "
            f"(lowest before: {w.cpu_per_request_s.min() * 1000:g} ms); "
            "pass a smaller reduction"
        )
    return replace(
        w,
        cpu_per_request_s=cpu_per_request_s,
        source=f"{w.source} + {extra_cpu_ms:+g} ms/request from {moment.isoformat()}",
    )


def rescale_to_daily_requests(w: Workload, requests_per_day: float) -> Workload:
    """Keep a workload's shape and scale its mean volume to ``requests_per_day``.

    Parameters
    ----------
    w : Workload
        The workload whose shape to keep.
    requests_per_day : float
        Target mean daily volume [requests/day], >= 0.

    Returns
    -------
    Workload

    Raises
    ------
    ParameterError
        For a negative target, or a workload with no requests at all.

    Examples
    --------
    >>> w = daily_profile(86_400, 2.0, days=1, step_s=3600)
    >>> r = rescale_to_daily_requests(w, 8_640_000)
    >>> round(float(r.requests_per_s.mean()), 9)
    100.0
    """
    target = _check_number(
        "requests_per_day", requests_per_day, 0.0, "must be >= 0 (a daily volume)"
    )
    current_per_day = float(w.requests_per_s.mean()) * SECONDS_PER_DAY
    if current_per_day == 0.0:
        raise ParameterError(
            f"workload {w.name!r} has no requests; there is no shape to rescale"
        )
    return replace(
        w,
        requests_per_s=w.requests_per_s * (target / current_per_day),
        source=f"{w.source} rescaled to {target:g} requests/day",
    )


def read_workload_csv(path: str | Path, *, name: str | None = None) -> Workload:
    """Read a workload written by :meth:`Workload.to_frame` as CSV.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV with columns ``timestamp`` (ISO 8601 with offset), ``requests_per_s``,
        ``cpu_per_request_s`` and ``background_vcpu``.
    name : str, optional
        Label; the file's stem by default.

    Returns
    -------
    Workload

    Raises
    ------
    ParameterError
        For a missing file or column, or a grid that is not regular UTC.
    """
    csv_path = Path(path)
    if not csv_path.is_file():
        raise ParameterError(f"workload file {csv_path} does not exist; check the path")
    frame = pd.read_csv(csv_path)
    missing = [c for c in ("timestamp", *FRAME_COLUMNS) if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"workload file {csv_path} lacks columns {missing}; expected timestamp, "
            + ", ".join(FRAME_COLUMNS)
        )
    index = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    return Workload(
        index=index,
        requests_per_s=frame["requests_per_s"].to_numpy(dtype=float),
        cpu_per_request_s=frame["cpu_per_request_s"].to_numpy(dtype=float),
        background_vcpu=frame["background_vcpu"].to_numpy(dtype=float),
        name=name or csv_path.stem,
        source=str(csv_path.name),
    )


def load_default() -> Workload:
    """The bundled default workload, shaped like the outage's API (INCIDENT.md).

    About 100 million requests/day with a daily peak near twice the mean, 14 days at
    60 s, 8 ms of CPU per request; ``data/workloads_MANIFEST.json`` states how it was
    generated and for which fleet it sits near the T3 baseline.

    Returns
    -------
    Workload
    """
    return read_workload_csv(DEFAULT_WORKLOAD_CSV, name="default")
