"""Regularising raw metric rows onto one fixed-step UTC grid.

The rules (daylight-saving artefacts, order, duplicates, grid alignment, samples per
step, gaps) are listed in :func:`capacity.ingest.read_metric`; each repair made is
returned as a :class:`~capacity.ingest_formats.Repair` record.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from capacity.errors import CapacityWarning, IngestError
from capacity.ingest_formats import RawSeries, Repair, is_summed

GAP_POLICIES = ("interpolate", "hold", "zero", "drop")
NS_PER_S = 1_000_000_000


def regularise(
    raw: RawSeries, *, tz: str, step_s: float | None, gap_policy: str, max_gap_s: float
) -> tuple[pd.Series, float, tuple[Repair, ...]]:
    """The raw rows on a fixed-step UTC grid, the step [s] and the repairs made."""
    repairs: list[Repair] = list(raw.repairs)
    raw = _sorted(raw, repairs)
    times_ns = _utc_times_ns(raw, tz, repairs)
    times_ns, values = _sort_and_deduplicate(times_ns, raw.readings, repairs)

    grid_step_s = _grid_step_s(times_ns, step_s, raw.source)
    series = _regularise(
        times_ns, values, raw, grid_step_s, gap_policy, max_gap_s, repairs
    )
    return series, grid_step_s, tuple(repairs)


def _sorted(raw: RawSeries, repairs: list[Repair]) -> RawSeries:
    """Rows in time order (a stable sort, so squashed rows keep their file order)."""
    stamps = raw.timestamps.as_unit("ns").asi8
    out_of_order = int(np.count_nonzero(np.diff(stamps) < 0))
    if out_of_order == 0:
        return raw
    order = np.argsort(stamps, kind="stable")
    repairs.append(
        Repair(
            "sorted",
            f"{out_of_order} rows were out of time order; sorted",
            out_of_order,
        )
    )
    return replace(raw, timestamps=raw.timestamps[order], readings=raw.readings[order])


def _utc_times_ns(raw: RawSeries, tz: str, repairs: list[Repair]) -> np.ndarray:
    """Timestamps as int64 ns since the epoch, UTC; naive ones read in ``tz``."""
    stamps = raw.timestamps
    if stamps.tz is not None:
        return np.asarray(stamps.tz_convert("UTC").as_unit("ns").asi8)

    squashed = len(repairs)
    stamps = _respace_dst_squash(stamps, repairs)
    if len(repairs) > squashed and _is_utc(tz):
        warnings.warn(
            f"{raw.source}: the timestamps look like local time with daylight "
            "saving (rows squashed onto a whole hour after a one-hour hole, "
            "re-spaced); they were read as UTC, so every time is off by the zone's "
            "offset: pass tz (--tz) with the clock's standard time, e.g. "
            "'Etc/GMT+5' for US Eastern",
            CapacityWarning,
            stacklevel=4,
        )
    try:
        local = stamps.tz_localize(tz, nonexistent="raise", ambiguous="raise")
    except (KeyError, ValueError) as error:
        raise IngestError(_local_time_message(raw.source, tz, str(error))) from None
    return np.asarray(local.tz_convert("UTC").as_unit("ns").asi8)


def _is_utc(tz: str) -> bool:
    """True for a zone name that means UTC."""
    return tz.strip().upper() in ("UTC", "Z", "ETC/UTC", "GMT", "ETC/GMT", "+00:00")


def _local_time_message(source: str, tz: str, error: str) -> str:
    """Why naive times can't be read in ``tz``: a skipped or a repeated hour."""
    if "nonexistent" in error:
        stamp = error.split(" is ", 1)[0]
        what = f"{stamp} does not exist in {tz} (its clocks skipped that hour)"
    elif "Cannot infer dst time from " in error:
        stamp = error.split(" from ", 1)[1].split(",", 1)[0]
        what = f"{stamp} happens twice in {tz} (its clocks repeated that hour)"
    else:
        what = f"they can't be read in tz={tz!r} ({error})"
    return (
        f"{source}: naive timestamps: {what}; the rows are regular only in a clock "
        "without daylight saving, so pass that clock's standard time as a fixed "
        "offset, e.g. --tz Etc/GMT+5 for US Eastern (UTC-5), or --tz UTC"
    )


def _respace_dst_squash(
    stamps: pd.DatetimeIndex, repairs: list[Repair]
) -> pd.DatetimeIndex:
    """Re-space rows squashed onto one whole hour after a one-hour hole.

    Notes
    -----
    The NAB exports show the US spring-forward hour as: a row at 01:59, twelve rows
    stamped 03:00:00, then 03:04. Re-spaced at the file's 5-minute step from 01:59
    (02:04 ... 02:59) they fill the hole exactly and the series is regular again.
    Only that exact fit counts; other duplicates are left to the duplicate rule.
    """
    times = stamps.as_unit("ns").asi8.copy()
    diffs = np.diff(times)
    positive = diffs[diffs > 0]
    if positive.size == 0:
        return stamps
    step = int(_mode(positive))

    starts = np.flatnonzero((diffs[:-1] != 0) & (diffs[1:] == 0)) + 1
    squashed_rows = 0
    for first in map(int, starts):
        last = first
        while last + 1 < times.size and times[last + 1] == times[first]:
            last += 1
        if last + 1 >= times.size:
            continue
        size = last - first + 1
        before, stamp, after = times[first - 1], times[first], times[last + 1]
        on_hour = stamp % (3600 * NS_PER_S) == 0
        fills_hole = after - before == (size + 1) * step and stamp - before > step
        if on_hour and fills_hole and stamp - before >= 3600 * NS_PER_S - step:
            times[first : last + 1] = before + step * np.arange(1, size + 1)
            squashed_rows += size

    if squashed_rows == 0:
        return stamps
    repairs.append(
        Repair(
            "dst_squashed_rows",
            f"{squashed_rows} rows stamped on a whole hour after a one-hour hole "
            "(a daylight-saving artefact) were re-spaced into the hole at the "
            "file's step",
            squashed_rows,
        )
    )
    return pd.DatetimeIndex(times.astype("datetime64[ns]"))


def _sort_and_deduplicate(
    times_ns: np.ndarray, values: np.ndarray, repairs: list[Repair]
) -> tuple[np.ndarray, np.ndarray]:
    """Drop rows that repeat an earlier row exactly; report clashing timestamps."""
    if np.any(np.diff(times_ns) == 0):
        order = np.lexsort((values, times_ns))
        times_ns, values = times_ns[order], values[order]

    same_time = np.diff(times_ns) == 0
    identical = same_time & (np.diff(values) == 0)
    if np.any(identical):
        keep = np.concatenate(([True], ~identical))
        times_ns, values = times_ns[keep], values[keep]
        repairs.append(
            Repair(
                "duplicate_rows",
                f"{int(identical.sum())} rows repeated an earlier row exactly; dropped",
                int(identical.sum()),
            )
        )

    clashes = int(np.count_nonzero(np.diff(times_ns) == 0))
    if clashes:
        repairs.append(
            Repair(
                "duplicate_timestamps",
                f"{clashes} rows shared a timestamp with a different value; the "
                "values at one timestamp were averaged",
                clashes,
            )
        )
    return times_ns, values


def _mode(values: np.ndarray) -> float:
    """Most common value (the smallest among ties)."""
    unique, counts = np.unique(values, return_counts=True)
    return float(unique[np.argmax(counts)])


def _grid_step_s(times_ns: np.ndarray, step_s: float | None, source: str) -> float:
    """The grid step: the file's most common step, or ``step_s`` if it fits it."""
    diffs = np.diff(times_ns)
    positive = diffs[diffs > 0]
    if positive.size == 0:
        raise IngestError(
            f"{source}: fewer than two distinct timestamps; a series needs at least "
            "two to have a step"
        )
    native_s = _mode(positive) / NS_PER_S
    if step_s is None:
        return native_s

    if not math.isfinite(step_s) or step_s <= 0:
        raise IngestError(f"step_s={step_s!r} must be a positive number of seconds")
    ratio = max(step_s, native_s) / min(step_s, native_s)
    if abs(ratio - round(ratio)) > 1e-9:
        raise IngestError(
            f"step_s={step_s:g} does not fit the file's step of {native_s:g} s; "
            "use a whole multiple or divisor of it"
        )
    return float(step_s)


def _native_step_ns(times_ns: np.ndarray) -> int:
    """The file's most common step [ns]."""
    diffs = np.diff(times_ns)
    return int(_mode(diffs[diffs > 0]))


def _regularise(
    times_ns: np.ndarray,
    values: np.ndarray,
    raw: RawSeries,
    step_s: float,
    gap_policy: str,
    max_gap_s: float,
    repairs: list[Repair],
) -> pd.Series:
    """Average the samples of each grid step and fill the empty steps."""
    step_ns = int(round(step_s * NS_PER_S))
    native_ns = _native_step_ns(times_ns)
    is_count = is_summed(raw.metric, raw.statistic)
    if step_ns < native_ns:
        times_ns, values = _split_samples(
            times_ns, values, native_ns, step_ns, is_count
        )
        native_ns = step_ns

    off_grid = int(np.count_nonzero(times_ns % step_ns))
    if off_grid:
        repairs.append(
            Repair(
                "aligned_to_grid",
                f"{off_grid} timestamps were moved down to the {step_s:g}-s grid "
                "boundary (multiples of the step since 1970-01-01 UTC)",
                off_grid,
            )
        )

    bins = times_ns // step_ns
    position = bins - bins[0]
    samples = np.bincount(position)
    means = np.bincount(position, weights=values) / np.maximum(samples, 1)
    if is_count:
        means = means * (step_ns / native_ns)
    _report_uneven_steps(samples, step_ns // native_ns, repairs)

    index = pd.DatetimeIndex((bins[0] + np.arange(samples.size)) * step_ns, tz="UTC")
    filled = _fill_gaps(
        means, samples == 0, index, (gap_policy, max_gap_s, raw.source), repairs
    )
    series = pd.Series(filled, index=index, name=raw.metric)
    if gap_policy == "drop":
        series = series.dropna()
    return series


def _split_samples(
    times_ns: np.ndarray,
    values: np.ndarray,
    native_ns: int,
    step_ns: int,
    is_count: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread each sample over the finer steps of its period (counts divided)."""
    parts = native_ns // step_ns
    offsets = np.arange(parts) * step_ns
    split_times = (times_ns[:, None] + offsets[None, :]).ravel()
    split_values = np.repeat(values / parts if is_count else values, parts)
    return split_times, split_values


def _report_uneven_steps(
    samples: np.ndarray, expected: int, repairs: list[Repair]
) -> None:
    """Record steps that held more or fewer samples than the step should."""
    uneven = int(np.count_nonzero((samples != expected) & (samples > 0)))
    if uneven:
        repairs.append(
            Repair(
                "uneven_samples_per_step",
                f"{uneven} steps held other than {expected} sample(s); each took the "
                "mean of its samples (counts scaled to the full step)",
                uneven,
            )
        )


def _fill_gaps(
    values: np.ndarray,
    empty: np.ndarray,
    index: pd.DatetimeIndex,
    rule: tuple[str, float, str],
    repairs: list[Repair],
) -> np.ndarray:
    """Interpolate short runs of empty steps; treat long ones by the policy.

    ``rule`` is (gap_policy, max_gap_s [s], the source file's name).
    """
    gap_policy, max_gap_s, _ = rule
    if not np.any(empty):
        return values
    step_s = float((index[1] - index[0]) / pd.Timedelta(seconds=1))
    starts, lengths = runs_of_true(empty)
    short = lengths * step_s <= max_gap_s
    filled = values.copy()
    present = np.flatnonzero(~empty)
    interpolated = np.interp(np.arange(values.size), present, values[present])

    short_steps = _mask_of_runs(values.size, starts[short], lengths[short])
    filled[short_steps] = interpolated[short_steps]
    if np.any(short):
        repairs.append(
            Repair(
                "gaps_interpolated",
                f"{int(short.sum())} gaps of up to {max_gap_s:g} s were filled by "
                "linear interpolation",
                int(short_steps.sum()),
            )
        )
    if np.all(short):
        return filled
    return _fill_long_gaps(
        filled, starts[~short], lengths[~short], index, rule, repairs
    )


def _fill_long_gaps(
    values: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    index: pd.DatetimeIndex,
    rule: tuple[str, float, str],
    repairs: list[Repair],
) -> np.ndarray:
    """Fill gaps longer than the limit by the policy, or refuse them."""
    gap_policy, max_gap_s, source = rule
    if gap_policy == "interpolate":
        longest = int(np.argmax(lengths))
        length = index[starts[longest] + lengths[longest]] - index[starts[longest]]
        raise IngestError(
            f"{source}: {lengths.size} gap(s) are longer than max_gap_s="
            f"{max_gap_s:g} s; the longest has no data for "
            f"{length.total_seconds():g} s from {index[starts[longest]].isoformat()}; "
            "raise max_gap_s (--max-gap-s, or max_gap_s: in the sizing parameters), "
            "or choose gap_policy 'hold', 'zero' or 'drop'"
        )
    steps = _mask_of_runs(values.size, starts, lengths)
    if gap_policy == "hold":
        held = np.maximum.accumulate(np.where(steps, 0, np.arange(values.size)))
        values = values[held]
    else:
        values = values.copy()
        values[steps] = 0.0 if gap_policy == "zero" else np.nan
    done = {"hold": "held the last value", "zero": "filled with 0", "drop": "dropped"}
    repairs.append(
        Repair(
            f"long_gaps_{gap_policy}",
            f"{lengths.size} gap(s) longer than max_gap_s: {done[gap_policy]} "
            f"(gap_policy={gap_policy!r})",
            int(steps.sum()),
        )
    )
    return values


def runs_of_true(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of the runs of True in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


def _mask_of_runs(size: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Boolean mask that is True over the given runs."""
    marks = np.zeros(size + 1, dtype=np.int64)
    np.add.at(marks, starts, 1)
    np.add.at(marks, starts + lengths, -1)
    return np.cumsum(marks[:-1]) > 0
