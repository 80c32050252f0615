"""Parsers for the CloudWatch export formats that :mod:`capacity.ingest` reads.

Each parser returns a :class:`RawSeries`: timestamps and values as found, with the
metric, unit and statistic, and enough position information to name the line or
datapoint of a bad value. Nothing is regularised here.
"""

from __future__ import annotations

import difflib
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from capacity.errors import CapacityWarning, IngestError


@dataclass(frozen=True)
class Repair:
    """One kind of repair made while reading or regularising a series, as data."""

    rule: str
    """Short key of the rule applied, e.g. ``"dst_squashed_rows"``."""
    detail: str
    """What was found and what was done, in one sentence."""
    count: int
    """Rows or steps the rule touched [rows or steps]."""


# CloudWatch metric name -> (unit, kind). Kinds: "count" (a sum per period: summed
# on resampling), "percent" (0..100, averaged), "level" (a balance >= 0, averaged),
# "gauge" (averaged, no range rule).
KNOWN_METRICS: dict[str, tuple[str, str]] = {
    "CPUUtilization": ("Percent", "percent"),
    "RequestCount": ("Count", "count"),
    "CPUCreditUsage": ("Count", "count"),
    "CPUCreditBalance": ("Count", "level"),
    "CPUSurplusCreditBalance": ("Count", "level"),
    "CPUSurplusCreditsCharged": ("Count", "count"),
    "NetworkIn": ("Bytes", "count"),
    "NetworkOut": ("Bytes", "count"),
    "DiskReadBytes": ("Bytes", "count"),
    "DiskWriteBytes": ("Bytes", "count"),
    "DiskReadOps": ("Count", "count"),
    "DiskWriteOps": ("Count", "count"),
    "HTTPCode_ELB_5XX_Count": ("Count", "count"),
    "HTTPCode_Target_5XX_Count": ("Count", "count"),
    "Latency": ("Seconds", "gauge"),
    "TargetResponseTime": ("Seconds", "gauge"),
    "Value": ("None", "gauge"),
}

# Lower-case file-name fragments that name a metric (NAB files carry no label).
FILE_NAME_METRICS = {
    "cpu_utilization": "CPUUtilization",
    "cpuutilization": "CPUUtilization",
    "request_count": "RequestCount",
    "requestcount": "RequestCount",
    "cpu_credit_balance": "CPUCreditBalance",
    "cpucreditbalance": "CPUCreditBalance",
    "cpu_credit_usage": "CPUCreditUsage",
    "cpucreditusage": "CPUCreditUsage",
    "disk_write_bytes": "DiskWriteBytes",
    "disk_read_bytes": "DiskReadBytes",
    "network_in": "NetworkIn",
    "networkin": "NetworkIn",
    "network_out": "NetworkOut",
    "networkout": "NetworkOut",
}

STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
EPOCH_PATTERN = re.compile(r"^\d+(?:\.\d*)?$")
OFFSET_PATTERN = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
EPOCH_MS_FROM = 1e11  # epoch timestamps this large are milliseconds (see below)


@dataclass(frozen=True, eq=False)
class RawSeries:
    """Rows as read from a file, before any regularisation."""

    timestamps: pd.DatetimeIndex
    """As found: naive, or aware with their own offset."""
    readings: np.ndarray
    """Values in the metric's unit, as floats."""
    metric: str
    """CloudWatch metric name."""
    unit: str
    """CloudWatch unit."""
    statistic: str
    """CloudWatch statistic, or ``"unknown"``."""
    source: str
    """File name(s)."""
    location: str
    """How to name row ``i``: a format with one ``{}`` for ``i + location_offset``."""
    location_offset: int
    """Added to a row's position to name it (2 for a CSV with a header)."""
    repairs: tuple[Repair, ...] = ()
    """Repairs already made while reading (e.g. partial data kept)."""
    parts: tuple[RawSeries, ...] = ()
    """The files joined into this series, in order; empty for one file."""

    def where(self, position: int) -> str:
        """Where row ``position`` sits in the file, e.g. ``"line 57"``."""
        for part in self.parts:
            if position < part.readings.size:
                return f"in {part.source} {part.where(position)}"
            position -= part.readings.size
        return self.location.format(position + self.location_offset)


def metric_kind(metric: str) -> str:
    """The resampling kind of a known metric: count, percent, level or gauge."""
    return KNOWN_METRICS[metric][1]


def is_summed(metric: str, statistic: str) -> bool:
    """True for a count per period (summed on resampling): a count metric's Sum.

    A count metric exported as Average, Minimum or Maximum is a per-datapoint figure,
    not a volume, and is averaged like a gauge; files that do not say (NAB) are taken
    to hold the Sum.
    """
    return metric_kind(metric) == "count" and statistic in ("Sum", "unknown")


def check_metric(metric: str, source: str) -> str:
    """The known metric ``metric`` names, in any letter case; refuse others with
    the closest known names (or all of them)."""
    by_lower = {name.lower(): name for name in KNOWN_METRICS}
    if metric.lower() in by_lower:
        return by_lower[metric.lower()]
    close = difflib.get_close_matches(metric.lower(), list(by_lower), n=2, cutoff=0.6)
    hint = " or ".join(repr(by_lower[name]) for name in close)
    raise IngestError(
        f"{source}: unknown metric {metric!r}; "
        + (f"did you mean {hint}? " if hint else "")
        + "known metrics: "
        + ", ".join(KNOWN_METRICS)
    )


def read_raw(
    path: str | Path | Sequence[str | Path],
    *,
    metric: str | None,
    statistic: str | None,
    timestamp_column: str | None,
    value_column: str | None,
) -> RawSeries:
    """Read one file (or several JSON pages) in whichever format it is."""
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    if not paths:
        raise IngestError("path is an empty list; pass at least one file")
    heads = [_read_head(p) for p in paths]
    source = ", ".join(p.name for p in paths)
    is_json = [head.lstrip()[:1] in ("{", "[") for head in heads]
    if any(is_json) and not all(is_json):
        raise IngestError(
            f"{source}: some files are JSON and some CSV; pass files of one format"
        )
    if not all(is_json):
        parts = [_read_csv(p, metric, timestamp_column, value_column) for p in paths]
        return parts[0] if len(parts) == 1 else _joined(parts)
    documents = [_parse_json(p) for p in paths]
    if len(paths) > 1 and all(_is_statistics(d) for d in documents):
        parts = [
            _read_json([document], p.name, metric, statistic)
            for p, document in zip(paths, documents, strict=True)
        ]
        return _joined(parts)
    return _read_json(documents, source, metric, statistic)


def _is_statistics(document: Any) -> bool:
    """True for one ``get-metric-statistics`` answer (a Datapoints page)."""
    return isinstance(document, dict) and "Datapoints" in document


def _joined(parts: list[RawSeries]) -> RawSeries:
    """Several files of one metric, statistic and clock as one series.

    Their rows are concatenated in the order given; regularising then sorts them
    and applies the duplicate rule (identical rows dropped, clashing ones averaged),
    so overlapping windows, such as exports split by CloudWatch's 1,440-datapoint
    limit, join cleanly.
    """
    source = " + ".join(part.source for part in parts)
    first = parts[0]
    for part in parts[1:]:
        what = [
            (label, getattr(first, key), getattr(part, key))
            for key, label in (("metric", "metric"), ("statistic", "statistic"))
            if getattr(first, key) != getattr(part, key)
        ]
        if what:
            label, mine, theirs = what[0]
            raise IngestError(
                f"{source}: {first.source} holds {label} {mine!r} but {part.source} "
                f"holds {theirs!r}; pass files of one {label}"
            )
        if (first.timestamps.tz is None) != (part.timestamps.tz is None):
            raise IngestError(
                f"{source}: {first.source} and {part.source} mix timestamps with "
                "and without a UTC offset; export every file the same way"
            )
    stamps = parts[0].timestamps.append([part.timestamps for part in parts[1:]])
    return RawSeries(
        pd.DatetimeIndex(stamps),
        np.concatenate([part.readings for part in parts]),
        first.metric,
        first.unit,
        first.statistic,
        source,
        "row {}",
        0,
        tuple(repair for part in parts for repair in part.repairs),
        tuple(parts),
    )


def _read_head(path: Path) -> str:
    """A file's first characters, refusing a missing, empty or non-UTF-8 file."""
    if path.is_dir():
        raise IngestError(
            f"{path}: is a directory; pass the CSV or JSON file(s) in it, e.g. "
            f"{path}/*.csv"
        )
    if not path.is_file():
        raise IngestError(f"{path}: no such file; check the path")
    try:
        with path.open(encoding="utf-8") as handle:
            head = handle.read(4096)
    except UnicodeDecodeError as error:
        raise IngestError(
            f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start}); "
            "export the metric as CSV or JSON"
        ) from error
    if not head.strip():
        raise IngestError(f"{path.name}: the file is empty; export the metric again")
    return head


def _read_csv(
    path: Path,
    metric: str | None,
    timestamp_column: str | None,
    value_column: str | None,
) -> RawSeries:
    """A CSV with a timestamp and a value column (NAB's ``timestamp,value`` shape)."""
    header = list(_csv_frame(path, nrows=0).columns)
    time_name = timestamp_column or "timestamp"
    value_name = value_column or "value"
    missing = [name for name in (time_name, value_name) if name not in header]
    if missing:
        raise IngestError(
            f"{path.name}: unknown columns, {missing} not in the header {header}; "
            "pass timestamp_column= and value_column= (--timestamp-column, "
            "--value-column) naming the right ones"
        )
    frame = _csv_frame(path, dtype={time_name: str}, keep_default_na=False)
    if frame.empty:
        raise IngestError(f"{path.name}: a header but no data rows; nothing to read")

    values = _numeric_column(frame[value_name], path.name)
    stamps = _parse_timestamps(frame[time_name].to_numpy(), path.name, "line {}", 2)
    name = check_metric(metric or _metric_from_names(value_name, path), path.name)
    unit, _ = KNOWN_METRICS[name]
    return RawSeries(stamps, values, name, unit, "unknown", path.name, "line {}", 2)


def _csv_frame(path: Path, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv``, with a malformed file refused as an IngestError."""
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise IngestError(
            f"{path.name}: not a readable CSV ({error}); fix the named line"
        ) from error


def _numeric_column(column: pd.Series, source: str) -> np.ndarray:
    """The values as floats; the first empty, non-numeric or non-finite cell
    (``nan``, ``inf``) is an error naming its line."""
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size == 0:
        return numbers
    first = int(bad[0])
    cell = column.iloc[first]
    shown = "(an empty cell)" if pd.isna(cell) or not str(cell) else repr(str(cell))
    raise IngestError(
        f"{source}, line {first + 2}: value {shown} is not a finite number "
        "(fix the cell or remove the row)"
    )


def _metric_from_names(value_name: str, path: Path) -> str:
    """The metric named by the value column or the file name."""
    if value_name in KNOWN_METRICS:
        return value_name
    stem = path.stem.lower()
    for fragment, name in FILE_NAME_METRICS.items():
        if fragment in stem:
            return name
    raise IngestError(
        f"{path.name}: can't tell the metric from the column {value_name!r} or the "
        "file name; pass metric= (--metric) with one of: " + ", ".join(KNOWN_METRICS)
    )


def _parse_timestamps(
    raw: np.ndarray, source: str, location: str, offset: int
) -> pd.DatetimeIndex:
    """Timestamps from ISO strings (with or without offset) or epoch seconds."""
    if raw.dtype.kind in "if" or _is_number(raw[0]) or EPOCH_PATTERN.match(str(raw[0])):
        return _epoch_timestamps(raw, source, location, offset)
    text = pd.Series(raw, dtype=str)
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S"))
    except ValueError:
        pass
    has_offset = text.str.contains(OFFSET_PATTERN)
    if has_offset.any() and not has_offset.all():
        first = int(np.argmin(has_offset.to_numpy()))
        raise IngestError(
            f"{source}, {location.format(first + offset)}: timestamp {raw[first]!r} "
            "has no UTC offset while others do; write every one with Z or +00:00"
        )
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if parsed.isna().any():
        first = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise IngestError(
            f"{source}, {location.format(first + offset)}: timestamp {raw[first]!r} "
            "is not a date-time; write it like 2014-04-10 00:04:00 or ISO 8601"
        )
    if not has_offset.all():
        parsed = parsed.dt.tz_localize(None)
    return pd.DatetimeIndex(parsed)


def _is_number(value: object) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _epoch_timestamps(
    raw: np.ndarray, source: str, location: str, offset: int
) -> pd.DatetimeIndex:
    """Epoch seconds, or epoch milliseconds told by their magnitude, to UTC times.

    Epoch seconds of the years 1973 to 5138 lie between 1e8 and 1e11, epoch
    milliseconds of the same years between 1e11 and 1e14: a column whose largest
    magnitude reaches ``EPOCH_MS_FROM`` (1e11) is read as milliseconds.
    """
    seconds = pd.to_numeric(pd.Series(raw), errors="coerce")
    if seconds.isna().any():
        first = int(np.flatnonzero(seconds.isna().to_numpy())[0])
        raise IngestError(
            f"{source}, {location.format(first + offset)}: timestamp {raw[first]!r} "
            "is neither epoch seconds like the first one nor a date-time"
        )
    largest = float(seconds.abs().max())
    unit: Literal["ms", "s"] = "ms" if largest >= EPOCH_MS_FROM else "s"
    if largest / (1000.0 if unit == "ms" else 1.0) >= pd.Timestamp.max.timestamp():
        first = int(seconds.abs().to_numpy().argmax())
        raise IngestError(
            f"{source}, {location.format(first + offset)}: timestamp {raw[first]!r} "
            "is beyond the year 2262 as epoch seconds or milliseconds; write epoch "
            "seconds, epoch milliseconds or ISO 8601 date-times"
        )
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit=unit, utc=True))


def _parse_json(path: Path) -> Any:
    """A whole JSON file; a syntax error names its line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise IngestError(
            f"{path.name}, line {error.lineno}: not valid JSON ({error.msg})"
        ) from error


def _read_json(
    documents: list[Any], source: str, metric: str | None, statistic: str | None
) -> RawSeries:
    """Dispatch on the JSON shape: get-metric-statistics or get-metric-data."""
    pages: list[dict[str, Any]] = []
    for document in documents:
        pages.extend(document if isinstance(document, list) else [document])
    if len(pages) == 1 and isinstance(pages[0], dict) and "Datapoints" in pages[0]:
        return _read_statistics(pages[0], source, metric, statistic)
    if all(isinstance(page, dict) and "MetricDataResults" in page for page in pages):
        return _read_metric_data(pages, source, metric)
    raise IngestError(
        f"{source}: unknown JSON shape; expected the output of 'aws cloudwatch "
        "get-metric-statistics' (key Datapoints) or 'get-metric-data' (key "
        "MetricDataResults), one page or a list of pages"
    )


def _read_statistics(
    page: dict[str, Any], source: str, metric: str | None, statistic: str | None
) -> RawSeries:
    """``get-metric-statistics``: unordered Datapoints, one key per statistic."""
    points = page["Datapoints"]
    if not isinstance(points, list) or not points:
        raise IngestError(f"{source}: Datapoints is empty; widen the time range")
    name = check_metric(metric or str(page.get("Label", "")), source)
    chosen = _choose_statistic(points, name, statistic, source)

    for i, point in enumerate(points):
        if not isinstance(point, dict) or "Timestamp" not in point:
            raise IngestError(f"{source}, Datapoints[{i}]: no Timestamp")
        if not _is_number(point.get(chosen)):
            raise IngestError(
                f"{source}, Datapoints[{i}]: {chosen} is {point.get(chosen)!r}, not "
                "a number (fix or remove that datapoint)"
            )
    units = {str(point.get("Unit", KNOWN_METRICS[name][0])) for point in points}
    unit = _check_unit(units, name, source)
    stamps = _parse_timestamps(
        np.array([p["Timestamp"] for p in points], dtype=object),
        source,
        "Datapoints[{}]",
        0,
    )
    values = np.array([float(p[chosen]) for p in points])
    return RawSeries(stamps, values, name, unit, chosen, source, "Datapoints[{}]", 0)


def _choose_statistic(
    points: list[Any], metric: str, statistic: str | None, source: str
) -> str:
    """The asked statistic, the only one present, or Sum/Average by the metric."""
    present = [
        s for s in STATISTICS if any(s in p for p in points if isinstance(p, dict))
    ]
    if statistic is not None:
        if statistic not in present:
            raise IngestError(
                f"{source}: statistic {statistic!r} is not in the file; it has "
                f"{present}"
            )
        return statistic
    if len(present) == 1:
        return present[0]
    preferred = "Sum" if metric_kind(metric) == "count" else "Average"
    if preferred in present:
        return preferred
    raise IngestError(
        f"{source}: several statistics {present}; pass statistic= (--statistic) "
        "naming one"
    )


def _check_unit(units: set[str], metric: str, source: str) -> str:
    """The file's one unit, which must be the metric's."""
    expected = KNOWN_METRICS[metric][0]
    if units != {expected}:
        raise IngestError(
            f"{source}: Unit {sorted(units)} does not match {metric}'s unit "
            f"{expected!r}; check the metric name"
        )
    return expected


def _read_metric_data(
    pages: list[dict[str, Any]], source: str, metric: str | None
) -> RawSeries:
    """``get-metric-data``: parallel arrays, newest first, possibly over pages."""
    results = [r for page in pages for r in page["MetricDataResults"]]
    ids = list(dict.fromkeys(str(r.get("Id")) for r in results))
    chosen_id = _choose_result(results, ids, metric, source)
    mine = [r for r in results if str(r.get("Id")) == chosen_id]
    label = str(mine[0].get("Label", ""))
    known = metric is not None and metric.lower() in map(str.lower, KNOWN_METRICS)
    name = check_metric(metric if metric is not None and known else label, source)

    stamps_raw: list[Any] = []
    values_raw: list[Any] = []
    for result in mine:
        _check_status(result, source)
        stamps, values = result.get("Timestamps", []), result.get("Values", [])
        if len(stamps) != len(values):
            raise IngestError(
                f"{source}: result {chosen_id!r} has {len(stamps)} Timestamps but "
                f"{len(values)} Values; the arrays must be parallel"
            )
        stamps_raw.extend(stamps)
        values_raw.extend(values)
    if not values_raw:
        raise IngestError(f"{source}: result {chosen_id!r} has no values")

    location = f"Values[{{}}] of {chosen_id!r} (pages joined)"
    bad = [i for i, v in enumerate(values_raw) if not _is_number(v)]
    if bad:
        raise IngestError(
            f"{source}, {location.format(bad[0])}: {values_raw[bad[0]]!r} is not a "
            "number"
        )
    repairs = _partial_data_repairs(pages, mine, source, len(values_raw))
    return RawSeries(
        _parse_timestamps(np.array(stamps_raw, dtype=object), source, location, 0),
        np.array(values_raw, dtype=float),
        name,
        KNOWN_METRICS[name][0],
        "unknown",
        source,
        location,
        0,
        repairs,
    )


def _choose_result(
    results: list[Any], ids: list[str], metric: str | None, source: str
) -> str:
    """The Id of the result ``metric`` names (by Id or Label), or the only one."""
    if metric is not None:
        matches = [
            str(r.get("Id"))
            for r in results
            if metric.lower() in (str(r.get("Id")).lower(), str(r.get("Label")).lower())
        ]
        if matches:
            return matches[0]
    if len(ids) == 1 and metric is None:
        return ids[0]
    labels = [f"{r.get('Id')} ({r.get('Label')})" for r in results]
    raise IngestError(
        f"{source}: pass metric= (--metric) naming one result by Id or Label; "
        "found " + ", ".join(dict.fromkeys(labels))
    )


def _check_status(result: dict[str, Any], source: str) -> None:
    """Refuse results CloudWatch marked as failed."""
    status = result.get("StatusCode", "Complete")
    if status not in ("Complete", "PartialData"):
        raise IngestError(
            f"{source}: result {result.get('Id')!r} has StatusCode {status!r} "
            f"({result.get('Messages')}); fix the query and export again"
        )


def _partial_data_repairs(
    pages: list[dict[str, Any]], mine: list[dict[str, Any]], source: str, rows: int
) -> tuple[Repair, ...]:
    """Keep partial data as given, but say so (a warning and a Repair record)."""
    last_status = mine[-1].get("StatusCode", "Complete")
    if last_status != "PartialData" and "NextToken" not in pages[-1]:
        return ()
    warnings.warn(
        f"{source}: the last page says PartialData or carries a NextToken; the "
        f"{rows} values given are kept, but later values are missing: call "
        "get-metric-data again with --next-token and pass all pages",
        CapacityWarning,
        stacklevel=5,
    )
    return (
        Repair(
            "partial_data",
            "CloudWatch marked the answer incomplete (PartialData/NextToken); the "
            "values given were kept and nothing was invented",
            0,
        ),
    )
