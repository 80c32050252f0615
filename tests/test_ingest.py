"""Tests for capacity.ingest: real NAB exports, CloudWatch JSON shapes, the rules.

Expected values for the NAB files come from ../shared/data-real/README.md (rows, spans,
gaps, min/p50/max); grid sizes are worked by hand from those spans in the comments.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.errors import CapacityWarning, IngestError
from capacity.ingest import (
    Trace,
    cpu_trace_to_demand,
    cpu_trace_to_workload,
    read_metric,
    trace_to_workload,
)
from capacity.resample import runs_of_true

# --- real NAB files ------------------------------------------------------------------


def quiet_read(path: Path, **kwargs: object) -> Trace:
    """Read with warnings turned into a failure, so no test ignores one by accident."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CapacityWarning)
        return read_metric(path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.shared
def test_elb_request_count(nab_dir: Path) -> None:
    # README: 4032 rows, 2014-04-10 00:04 -> 04-24 00:39, 5 min, 8 gaps of 10 min,
    # min/p50/p95/max 1/48/170/656, requests per 5 min.
    trace = quiet_read(nab_dir / "elb_request_count_8c0756.csv")
    assert (trace.metric, trace.unit, trace.step_s, trace.rows_read) == (
        "RequestCount",
        "Count",
        300.0,
        4032,
    )
    # 14 d x 288 + 35 min / 5 + 1 = 4040 steps; 8 of them were missing.
    assert trace.series.size == 4040
    assert trace.series.index[0] == pd.Timestamp("2014-04-10 00:00", tz="UTC")
    assert trace.series.index[-1] == pd.Timestamp("2014-04-24 00:35", tz="UTC")
    repairs = {r.rule: r.count for r in trace.repairs}
    assert repairs["gaps_interpolated"] == 8
    assert (trace.series.min(), trace.series.max()) == (1.0, 656.0)
    assert trace.series.median() == 48.0

    w = trace_to_workload(trace, cpu_per_request_ms=5.0)
    # A count per 5 minutes over 300 s is the rate: median 48 / 300 = 0.16 req/s.
    assert np.median(w.requests_per_s) == pytest.approx(48 / 300)
    assert w.step_s == 300.0
    scaled = trace_to_workload(trace, requests_per_day=1e8)
    assert scaled.requests_per_s.mean() * 86_400 == pytest.approx(1e8)


@pytest.mark.shared
def test_sustained_cpu_825cc2(nab_dir: Path) -> None:
    # README: 4032 rows, 2 gaps of 10 min, min/p50/max 18.72/92.45/99.12.
    trace = quiet_read(nab_dir / "ec2_cpu_utilization_825cc2.csv")
    assert trace.series.size == 4034
    assert trace.series.min() == pytest.approx(18.72, abs=0.005)
    assert trace.series.max() == pytest.approx(99.12, abs=0.005)
    assert trace.series.median() == pytest.approx(92.45, abs=0.01)
    # README: 96.8 % of samples above the 40 % baseline of t3.xlarge.
    assert (trace.series > 40).mean() == pytest.approx(0.968, abs=0.001)

    # busy vCPU = CPUUtilization / 100 x vCPUs (c5.xlarge: 4 vCPU) x 2 instances.
    demand = cpu_trace_to_demand(trace, "c5.xlarge", 2)
    assert demand["busy_vcpu_fleet"].max() == pytest.approx(0.9912 * 8, abs=1e-3)
    np.testing.assert_allclose(
        demand["busy_vcpu_fleet"], 2 * demand["busy_vcpu_per_instance"]
    )


@pytest.mark.shared
def test_sustained_cpu_825cc2_as_a_workload(nab_dir: Path) -> None:
    trace = quiet_read(nab_dir / "ec2_cpu_utilization_825cc2.csv")

    with warnings.catch_warnings():
        warnings.simplefilter("error", CapacityWarning)
        w = cpu_trace_to_workload(trace, "c5.xlarge", 2, cpu_per_request_ms=10)

    # requests_per_s = CPU % / 100 x 4 vCPU x 2 instances / 0.010 s: the README's
    # maximum of 99.12 % is 0.9912 x 8 / 0.01 = 793 req/s, its median 92.45 % is
    # 0.9245 x 8 / 0.01 = 739.6 req/s.
    assert w.requests_per_s.max() == pytest.approx(0.9912 * 8 / 0.01, abs=0.5)
    assert np.median(w.requests_per_s) == pytest.approx(0.9245 * 8 / 0.01, abs=1.0)
    assert np.all(w.cpu_per_request_s == 0.010)
    assert np.all(w.background_vcpu == 0.0)
    assert w.step_s == 300.0
    scaled = cpu_trace_to_workload(trace, "c5.xlarge", 2, requests_per_day=1e8)
    assert scaled.requests_per_s.mean() * 86_400 == pytest.approx(1e8)


@pytest.mark.shared
def test_spiky_cpu_77c1ca(nab_dir: Path) -> None:
    # README: no gaps, min/p50/max 0.064/0.1/99.90; 112 bursts > 30 %, each <= 13
    # samples.
    trace = quiet_read(nab_dir / "ec2_cpu_utilization_77c1ca.csv")
    assert trace.series.size == 4032
    assert trace.repairs == ()  # starts at 14:25, already on the 5-min grid
    assert trace.series.median() == pytest.approx(0.1)
    _, lengths = runs_of_true(trace.series.to_numpy() > 30)
    assert lengths.size == 112
    assert lengths.max() <= 13


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "metric", "first", "last", "gaps"),
    [
        # README: 4730 rows 03-01 17:34 -> 03-18 03:39, 12 rows at 03:00:00.
        ("ec2_disk_write_bytes_1ef3de.csv", None, "03-01 17:30", "03-18 03:35", 0),
        # README: 4032 rows 03-07 03:41 -> 03-21 03:41, plus one 10-min gap.
        (
            "ec2_request_latency_system_failure.csv",
            "CPUUtilization",
            "03-07 03:40",
            "03-21 03:40",
            1,
        ),
    ],
)
def test_dst_artefact_is_respaced(
    nab_dir: Path, name: str, metric: str | None, first: str, last: str, gaps: int
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)  # 1ef3de is mostly zeros
        trace = read_metric(nab_dir / name, metric=metric)
    repairs = {r.rule: r.count for r in trace.repairs}
    assert repairs["dst_squashed_rows"] == 12
    assert "duplicate_timestamps" not in repairs
    assert repairs.get("gaps_interpolated", 0) == gaps
    # Re-spaced, the rows are one per 5-min step: the grid has rows + gaps steps.
    assert trace.series.size == trace.rows_read + gaps
    assert trace.series.index[0] == pd.Timestamp(f"2014-{first}", tz="UTC")
    assert trace.series.index[-1] == pd.Timestamp(f"2014-{last}", tz="UTC")
    # The 13th row after 01:5x lands in the 02:5x step (re-spaced, not squashed).
    assert pd.Timestamp("2014-03-09 02:55", tz="UTC") in trace.series.index

    with pytest.raises(
        IngestError,
        match=r"2014-03-09 02:0\d:00 does not exist in America/New_York \(its clocks "
        r"skipped that hour\); .* --tz Etc/GMT\+5 for US Eastern",
    ):
        read_metric(nab_dir / name, metric=metric, tz="America/New_York")


@pytest.mark.shared
def test_dst_artefact_read_as_utc_warns_to_pass_tz(nab_dir: Path) -> None:
    with pytest.warns(
        CapacityWarning, match=r"look like local time with daylight saving.*--tz"
    ):
        read_metric(nab_dir / "ec2_disk_write_bytes_1ef3de.csv")
    # US Eastern standard time is UTC-5 (Etc/GMT+5): 2014-03-01 17:30 local is
    # 22:30 UTC, and no warning is given once the clock is named.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "look like local", CapacityWarning)
        trace = read_metric(nab_dir / "ec2_disk_write_bytes_1ef3de.csv", tz="Etc/GMT+5")
    assert trace.series.index[0] == pd.Timestamp("2014-03-01 22:30", tz="UTC")


def test_a_repeated_local_hour_is_named(tmp_path: Path) -> None:
    # New York repeated 01:00-01:59 on 2014-11-02 (end of daylight time).
    path = write_csv(
        tmp_path / "requestcount.csv", grid(4, 15, "2014-11-02 01:00"), [1, 2, 3, 4]
    )
    with pytest.raises(
        IngestError,
        match=r"2014-11-02 01:00:00 happens twice in America/New_York",
    ):
        read_metric(path, tz="America/New_York")


@pytest.mark.shared
def test_asg_misconfiguration_18050_rows(nab_dir: Path) -> None:
    # README: 18050 rows, 05-14 01:14 -> 07-15 17:19, no gaps, min/p50/max
    # 11.53/32.00/100.
    trace = quiet_read(nab_dir / "cpu_utilization_asg_misconfiguration.csv")
    assert trace.series.size == 18050
    assert trace.series.min() == pytest.approx(11.53, abs=0.005)
    assert trace.series.median() == pytest.approx(32.00, abs=0.005)
    assert trace.series.max() == 100.0


@pytest.mark.shared
def test_local_zone_shifts_to_utc(nab_dir: Path) -> None:
    # April is daylight time in New York: UTC = local + 4 h.
    trace = quiet_read(
        nab_dir / "ec2_cpu_utilization_77c1ca.csv", tz="America/New_York"
    )
    assert trace.series.index[0] == pd.Timestamp("2014-04-02 18:25", tz="UTC")


@pytest.mark.shared
def test_real_traffic_irregular_series(nab_dir: Path) -> None:
    # README: TravelTime_387 2500 rows, 07-10 14:24 -> 09-17 17:10, mode step 10 min,
    # gaps up to ~24.5 h, values 9..5059.
    path = nab_dir / "realTraffic" / "TravelTime_387.csv"
    # The longest gap between rows is ~24.5 h (88,200 s): 88,200 - one 600-s step
    # of the grid has no data.
    with pytest.raises(IngestError, match=r"the longest has no data for 87600 s"):
        read_metric(path, metric="Value")
    trace = quiet_read(path, metric="Value", gap_policy="hold")
    # 14:20 on 07-10 to 17:10 on 09-17: 69 days and 17 steps of 10 min, + 1.
    assert trace.series.size == 69 * 144 + 17 + 1
    assert trace.step_s == 600.0
    assert (trace.series.min(), trace.series.max()) == (9.0, 5059.0)
    assert (np.diff(trace.series.index.asi8) == 600 * 10**9).all()

    dropped = quiet_read(path, metric="Value", gap_policy="drop")
    assert dropped.series.size < trace.series.size
    with pytest.raises(IngestError, match=r"dropped steps; read it with gap_policy"):
        trace_to_workload(
            Trace(
                dropped.series,
                "RequestCount",
                "Count",
                "Sum",
                600.0,
                "x",
                1,
                (),
            )
        )


@pytest.mark.shared
@pytest.mark.parametrize("name", ["occupancy_t4013.csv", "speed_t4013.csv"])
def test_real_traffic_duplicate_timestamp(nab_dir: Path, name: str) -> None:
    # README: one duplicate timestamp in each of these files.
    trace = quiet_read(
        nab_dir / "realTraffic" / name, metric="Value", gap_policy="zero"
    )
    repairs = {r.rule: r.count for r in trace.repairs}
    assert repairs["duplicate_timestamps"] + repairs.get("duplicate_rows", 0) == 1


@pytest.mark.shared
def test_zeros_warn_on_grok(nab_dir: Path) -> None:
    # README: 447 exact zeros in a series with median 33.44 (missing data?).
    with pytest.warns(CapacityWarning, match=r"447 exact zeros in a series whose"):
        read_metric(nab_dir / "grok_asg_anomaly.csv", metric="CPUUtilization")


@pytest.mark.shared
def test_metric_of_an_unnamed_file_must_be_given(nab_dir: Path) -> None:
    with pytest.raises(IngestError, match=r"can't tell the metric .* CPUUtilization"):
        read_metric(nab_dir / "grok_asg_anomaly.csv")


# --- synthetic CSV: rules and errors -------------------------------------------------


def write_csv(path: Path, stamps: list[str], values: list[object]) -> Path:
    lines = ["timestamp,value"] + [
        f"{t},{v}" for t, v in zip(stamps, values, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def grid(count: int, step_min: int = 5, start: str = "2026-04-06 00:00") -> list[str]:
    stamps = pd.date_range(start, periods=count, freq=f"{step_min}min")
    return [t.strftime("%Y-%m-%d %H:%M:%S") for t in stamps]


@pytest.mark.parametrize(
    ("body", "kwargs", "match"),
    [
        ("", {}, r"the file is empty; export the metric again"),
        ("timestamp,value\n", {}, r"a header but no data rows"),
        (
            "timestamp,value\n2026-04-06 00:00:00,1\n2026-04-06 00:05:00,abc\n",
            {},
            r"line 3: value 'abc' is not a finite number",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,1\n2026-04-06 00:05:00,\n",
            {},
            r"line 3: value \(an empty cell\) is not a finite number",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,1\n2026-04-06 00:05:00,nan\n",
            {},
            r"line 3: value 'nan' is not a finite number",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,1\n2026-04-06 00:05:00,inf\n",
            {},
            r"line 3: value 'inf' is not a finite number",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,1\n2026-04-06 00:05:00,1e300\n",
            {},
            r"line 3: RequestCount value 1e\+300 is above 1e\+15, more than any",
        ),
        ("time,cpu\n2026-04-06 00:00:00,1\n", {}, r"unknown columns, \['timestamp'"),
        (
            "timestamp,value\n2026-04-06 00:00:00,5\n2026-04-06 00:05:00,-2\n",
            {},
            r"line 3: RequestCount value -2 is negative",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,5\n2026-04-06 00:05:00,100.5\n",
            {"metric": "CPUUtilization"},
            r"line 3: CPUUtilization value 100.5 is above 100",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,5\n",
            {"metric": "CPUUtilisation"},
            r"unknown metric 'CPUUtilisation'; did you mean 'CPUUtilization'",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,5\nnot a time,6\n",
            {},
            r"line 3: timestamp 'not a time' is not a date-time",
        ),
        (
            "timestamp,value\n2026-04-06 00:00:00,5\n",
            {},
            r"fewer than two distinct timestamps",
        ),
        (
            "timestamp,value\n2026-04-06T00:00:00Z,5\n2026-04-06 00:05:00,6\n",
            {},
            r"line 3: timestamp '2026-04-06 00:05:00' has no UTC offset",
        ),
    ],
)
def test_csv_errors_name_file_line_and_rule(
    tmp_path: Path, body: str, kwargs: dict[str, object], match: str
) -> None:
    path = tmp_path / "requestcount.csv"
    path.write_text(body)
    with pytest.raises(IngestError, match=match):
        read_metric(path, **kwargs)  # type: ignore[arg-type]


def test_argument_errors(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "requestcount.csv", grid(4), [1, 2, 3, 4])
    with pytest.raises(IngestError, match=r"gap_policy='fill' is not one of"):
        read_metric(path, gap_policy="fill")
    with pytest.raises(IngestError, match=r"max_gap_s=-1 must be a finite number"):
        read_metric(path, max_gap_s=-1)
    with pytest.raises(IngestError, match=r"step_s=420 does not fit the file's step"):
        read_metric(path, step_s=420)
    with pytest.raises(IngestError, match=r"no such file; check the path"):
        read_metric(tmp_path / "missing.csv")
    with pytest.raises(IngestError, match=r"path is an empty list"):
        read_metric([])


def test_metric_names_ignore_letter_case(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", grid(3), [10, 20, 30])
    assert quiet_read(path, metric="cpuutilization").metric == "CPUUtilization"
    with pytest.raises(
        IngestError,
        match=r"unknown metric 'CPUUtilisation'; did you mean "
        r"'CPUUtilization'\? known metrics",
    ):
        read_metric(path, metric="CPUUtilisation")


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"is a directory; pass the CSV or JSON"):
        read_metric(tmp_path)


def test_named_columns_and_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    epoch = 1_775_433_600  # 2026-04-06 00:00:00 UTC
    rows = [f"{epoch + 60 * i},{10 * i + 10},x" for i in range(5)]
    path.write_text("when,CPUUtilization,note\n" + "\n".join(rows) + "\n")
    trace = quiet_read(path, timestamp_column="when", value_column="CPUUtilization")
    assert trace.metric == "CPUUtilization"
    assert trace.series.index[0] == pd.Timestamp("2026-04-06", tz="UTC")
    assert trace.series.tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]


def test_counts_are_summed_and_split_by_step(tmp_path: Path) -> None:
    # Twelve 5-min counts of 60 in one hour: 720 per hour; per minute 60 / 5 = 12.
    path = write_csv(tmp_path / "requestcount.csv", grid(24), [60] * 24)
    hourly = quiet_read(path, step_s=3600)
    assert hourly.series.tolist() == [720.0, 720.0]
    per_minute = quiet_read(path, step_s=60)
    assert per_minute.series.size == 24 * 5
    np.testing.assert_allclose(per_minute.series, 12.0)
    # Percentages are averaged, not summed: 10 and 20 in one 10-min step -> 15.
    cpu = write_csv(tmp_path / "cpu_utilization.csv", grid(4), [10, 20, 30, 50])
    assert quiet_read(cpu, step_s=600).series.tolist() == [15.0, 40.0]


def test_fraction_and_pinned_baseline_warnings(tmp_path: Path) -> None:
    fractions = write_csv(tmp_path / "cpu_utilization.csv", grid(6), [0.5] * 6)
    with pytest.warns(CapacityWarning, match=r"never exceeds 1.0; if the file holds"):
        read_metric(fractions)
    # t3.large baseline is 30 % per vCPU; 3 hours at 30 % = 36 steps of 5 min.
    pinned = write_csv(tmp_path / "cpu_utilization_t3.csv", grid(40), [30.2] * 40)
    with pytest.warns(CapacityWarning, match=r"t3.large baseline \(30 %\) for 3.3"):
        read_metric(pinned, instance_type="t3.large")
    quiet_read(pinned, instance_type="c5.large")  # a fixed type cannot be throttled


def test_cpu_workload_warns_when_throttled_or_saturated(tmp_path: Path) -> None:
    # t3.large baseline is 30 % per vCPU; 40 steps of 5 min at 30.2 % = 3.3 hours.
    pinned = quiet_read(
        write_csv(tmp_path / "cpu_utilization_a.csv", grid(40), [30.2] * 40)
    )
    with pytest.warns(CapacityWarning, match=r"t3.large baseline \(30 %\) for 3.3"):
        cpu_trace_to_workload(pinned, "t3.large", 4)

    # 30 steps of 5 min at 97 % = 2.5 hours at 95 % or more.
    values = [50.0] * 10 + [97.0] * 30
    busy = quiet_read(write_csv(tmp_path / "cpu_utilization_b.csv", grid(40), values))
    with pytest.warns(CapacityWarning, match=r"95 % or more for 2.5 hours"):
        cpu_trace_to_workload(busy, "c5.large", 4)

    # 23 steps at 97 % is 1.92 hours: below the two hours that mark saturation.
    short = quiet_read(
        write_csv(
            tmp_path / "cpu_utilization_c.csv", grid(40), [50.0] * 17 + [97.0] * 23
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", CapacityWarning)
        cpu_trace_to_workload(short, "c5.large", 4)


def test_conversion_errors(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cpu_utilization.csv", grid(4), [10, 20, 30, 50])
    cpu = quiet_read(path)
    with pytest.raises(IngestError, match=r"'CPUUtilization' is not RequestCount"):
        trace_to_workload(cpu)
    count_path = write_csv(tmp_path / "requestcount.csv", grid(4), [1, 2, 3, 4])
    counts = quiet_read(count_path)
    with pytest.raises(IngestError, match=r"'RequestCount' is not CPUUtilization"):
        cpu_trace_to_demand(counts, "t3.large", 2)
    with pytest.raises(IngestError, match=r"count=0 must be a whole number"):
        cpu_trace_to_demand(cpu, "t3.large", 0)
    with pytest.raises(IngestError, match=r"'RequestCount' is not CPUUtilization"):
        cpu_trace_to_workload(counts, "t3.large", 2)
    with pytest.raises(IngestError, match=r"count=0 must be a whole number"):
        cpu_trace_to_workload(cpu, "t3.large", 0)
    with pytest.raises(IngestError, match=r"cpu_per_request_ms=0 must be a positive"):
        cpu_trace_to_workload(cpu, "t3.large", 2, cpu_per_request_ms=0)
    gappy = write_csv(
        tmp_path / "cpu_utilization_gap.csv",
        grid(4) + grid(4, start="2026-05-01"),
        [10] * 8,
    )
    holes = quiet_read(gappy, gap_policy="drop")
    with pytest.raises(IngestError, match=r"dropped steps; read it with gap_policy"):
        cpu_trace_to_workload(holes, "t3.large", 2)


# --- property tests ------------------------------------------------------------------

VALUES = st.lists(st.integers(0, 10_000), min_size=8, max_size=60)


def read_rows(stamps: list[str], values: list[object], **kwargs: object) -> Trace:
    """Read rows from a temporary CSV; random counts may well trigger the zeros hint."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "requestcount.csv", stamps, values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CapacityWarning)
            return read_metric(path, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(values=VALUES, seed=st.integers(0, 2**32 - 1))
def test_shuffled_rows_give_the_same_series(values: list[int], seed: int) -> None:
    stamps = grid(len(values))
    order = np.random.default_rng(seed).permutation(len(values))
    shuffled = read_rows([stamps[i] for i in order], [values[i] for i in order])
    pd.testing.assert_series_equal(shuffled.series, read_rows(stamps, values).series)


@settings(max_examples=40, deadline=None)
@given(values=VALUES, data=st.data())
def test_duplicated_rows_give_the_same_series(
    values: list[int], data: st.DataObject
) -> None:
    stamps = grid(len(values))
    picks = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=1))
    trace = read_rows(
        stamps + [stamps[i] for i in picks], values + [values[i] for i in picks]
    )
    pd.testing.assert_series_equal(trace.series, read_rows(stamps, values).series)
    assert {r.rule for r in trace.repairs} >= {"duplicate_rows"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(10, 60),
    slope=st.integers(0, 50),
    data=st.data(),
)
def test_random_gaps_are_exact_or_refused(
    size: int, slope: int, data: st.DataObject
) -> None:
    # A linear series: interpolation over a short gap restores it exactly, so the
    # only allowed outcomes are the original series or an IngestError.
    stamps, values = grid(size), [100 + slope * i for i in range(size)]
    removed = data.draw(
        st.sets(st.integers(1, size - 2), max_size=size // 4), label="removed"
    )
    kept = [i for i in range(size) if i not in removed]
    try:
        trace = read_rows([stamps[i] for i in kept], [values[i] for i in kept])
    except IngestError as error:
        assert "longer than max_gap_s" in str(error)
        return
    np.testing.assert_allclose(trace.series.to_numpy(), values)


@settings(max_examples=40, deadline=None)
@given(hours=st.integers(1, 6), values=st.data())
def test_resampling_counts_keeps_the_total(hours: int, values: st.DataObject) -> None:
    counts = values.draw(
        st.lists(st.integers(0, 999), min_size=12 * hours, max_size=12 * hours)
    )
    stamps = grid(12 * hours)
    coarse = read_rows(stamps, counts, step_s=3600)
    fine = read_rows(stamps, counts, step_s=60)
    assert coarse.series.sum() == pytest.approx(sum(counts))
    assert fine.series.sum() == pytest.approx(sum(counts))


# --- CloudWatch JSON -----------------------------------------------------------------


def statistics_json(
    stamps: list[object], sums: list[float], unit: str = "Count"
) -> dict:
    points = [
        {"Timestamp": t, "Sum": s, "Unit": unit}
        for t, s in zip(stamps, sums, strict=True)
    ]
    return {"Label": "RequestCount", "Datapoints": points}


@pytest.mark.parametrize(
    "stamps",
    [
        ["2026-04-06T00:10:00Z", "2026-04-06T00:00:00Z", "2026-04-06T00:05:00Z"],
        [
            "2026-04-06T00:10:00+00:00",
            "2026-04-06T00:00:00+00:00",
            "2026-04-06T00:05:00+00:00",
        ],
        [1_775_434_200, 1_775_433_600, 1_775_433_900],
        # The same instants in epoch milliseconds, as JavaScript and some SDKs write.
        [1_775_434_200_000, 1_775_433_600_000, 1_775_433_900_000],
    ],
)
def test_get_metric_statistics_unordered(tmp_path: Path, stamps: list[object]) -> None:
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(statistics_json(stamps, [900.0, 300.0, 600.0])))
    trace = quiet_read(path)
    assert (trace.metric, trace.statistic, trace.unit) == (
        "RequestCount",
        "Sum",
        "Count",
    )
    assert trace.series.tolist() == [300.0, 600.0, 900.0]
    assert trace.series.index[0] == pd.Timestamp("2026-04-06", tz="UTC")
    # 300 requests in 300 s is 1 request per second.
    assert trace_to_workload(trace).requests_per_s.tolist() == [1.0, 2.0, 3.0]


def test_epoch_beyond_milliseconds_is_refused(tmp_path: Path) -> None:
    # 1.775e15 is 2026 in microseconds: beyond year 2262 as seconds or milliseconds.
    stamps = [1_775_433_600_000_000, 1_775_433_900_000_000]
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(statistics_json(stamps, [1.0, 2.0])))
    with pytest.raises(
        IngestError, match=r"stats\.json, Datapoints\[1\]: .* beyond the year 2262"
    ):
        read_metric(path)


def test_non_finite_json_values_are_refused(tmp_path: Path) -> None:
    # Python's json module reads the non-standard Infinity and NaN tokens.
    path = tmp_path / "stats.json"
    stamps = ["2026-04-06T00:00:00Z", "2026-04-06T00:05:00Z"]
    path.write_text(json.dumps(statistics_json(stamps, [1.0, float("inf")])))
    with pytest.raises(
        IngestError, match=r"Datapoints\[1\]: RequestCount value inf is not a finite"
    ):
        read_metric(path)


def test_request_rate_above_1e9_per_s_is_refused(tmp_path: Path) -> None:
    # 1e12 requests in 300 s is 3.3e9 per second, above the 1e9/s rule.
    path = write_csv(tmp_path / "requestcount.csv", grid(3), [1, 1e12, 1])
    with pytest.raises(
        IngestError, match=r"peak request rate 3.33e\+09/s is above 1e\+09/s"
    ):
        trace_to_workload(quiet_read(path))


def test_several_statistics_files_are_joined(tmp_path: Path) -> None:
    # Two exports split by the 1,440-datapoint limit, sharing the 00:10 datapoint.
    first = ["2026-04-06T00:00:00Z", "2026-04-06T00:05:00Z", "2026-04-06T00:10:00Z"]
    second = ["2026-04-06T00:10:00Z", "2026-04-06T00:15:00Z"]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(statistics_json(first, [300.0, 600.0, 900.0])))
    b.write_text(json.dumps(statistics_json(second, [900.0, 1200.0])))
    trace = quiet_read([b, a])
    assert trace.series.tolist() == [300.0, 600.0, 900.0, 1200.0]
    assert trace.source == "b.json + a.json"
    assert trace.rows_read == 5


def test_several_csv_files_are_joined_and_errors_name_the_file(
    tmp_path: Path,
) -> None:
    a = write_csv(tmp_path / "requestcount_a.csv", grid(3), [1, 2, 3])
    later = grid(3, start="2026-04-06 00:15")
    b = write_csv(tmp_path / "requestcount_b.csv", later, [4, 5, 6])
    assert quiet_read([a, b]).series.tolist() == [1, 2, 3, 4, 5, 6]

    write_csv(b, later, [4, -5, 6])
    with pytest.raises(
        IngestError, match=r"\+ requestcount_b\.csv, in requestcount_b\.csv line 3: "
    ):
        read_metric([a, b])


def test_joined_files_must_share_metric_and_format(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "requestcount.csv", grid(3), [1, 2, 3])
    b = write_csv(tmp_path / "cpu_utilization.csv", grid(3), [1, 2, 3])
    with pytest.raises(
        IngestError, match=r"holds metric 'RequestCount' but cpu_utilization\.csv"
    ):
        read_metric([a, b])
    c = tmp_path / "c.json"
    c.write_text(json.dumps(statistics_json(["2026-04-06T00:00:00Z"], [1.0])))
    with pytest.raises(IngestError, match=r"some files are JSON and some CSV"):
        read_metric([a, c])


def test_get_metric_statistics_errors(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    cases = [
        ({"Label": "RequestCount", "Datapoints": []}, r"Datapoints is empty"),
        (
            statistics_json(["2026-04-06T00:00:00Z"], [1.0], "Percent"),
            r"Unit \['Percent'\] does not match RequestCount's unit 'Count'",
        ),
        (
            {
                "Label": "RequestCount",
                "Datapoints": [{"Timestamp": "2026-04-06T00:00Z", "Sum": "12"}],
            },
            r"Datapoints\[0\]: Sum is '12', not a number",
        ),
        (
            {"Label": "Requests", "Datapoints": [{"Timestamp": "x", "Sum": 1}]},
            r"unknown metric 'Requests'",
        ),
        ({"Results": []}, r"unknown JSON shape"),
    ]
    for document, match in cases:
        path.write_text(json.dumps(document))
        with pytest.raises(IngestError, match=match):
            read_metric(path)
    path.write_text(json.dumps(statistics_json(["2026-04-06T00:00:00Z"], [1.0])))
    with pytest.raises(IngestError, match=r"statistic 'Average' is not in the file"):
        read_metric(path, statistic="Average")
    path.write_text('{"Label": "RequestCount",\n "Datapoints": [}')
    with pytest.raises(IngestError, match=r"stats.json, line 2: not valid JSON"):
        read_metric(path)


def metric_data_page(
    stamps: list[str], values: list[float], status: str, token: bool
) -> dict:
    page: dict = {
        "MetricDataResults": [
            {
                "Id": "cpu",
                "Label": "CPUUtilization",
                "Timestamps": stamps,
                "Values": values,
                "StatusCode": status,
            },
        ],
        "Messages": [],
    }
    if token:
        page["NextToken"] = "token-1"
    return page


def test_get_metric_data_pages_newest_first(tmp_path: Path) -> None:
    # Page 1 holds the newest two points (PartialData + NextToken), page 2 the rest.
    first = metric_data_page(
        ["2026-04-06T00:20:00Z", "2026-04-06T00:15:00Z"],
        [50.0, 40.0],
        "PartialData",
        True,
    )
    second = metric_data_page(
        ["2026-04-06T00:10:00Z", "2026-04-06T00:05:00Z", "2026-04-06T00:00:00Z"],
        [30.0, 20.0, 10.0],
        "Complete",
        False,
    )
    (tmp_path / "pages.json").write_text(json.dumps([first, second]))
    trace = quiet_read(tmp_path / "pages.json")
    assert trace.series.tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert trace.metric == "CPUUtilization"

    (tmp_path / "p1.json").write_text(json.dumps(first))
    (tmp_path / "p2.json").write_text(json.dumps(second))
    both = quiet_read([tmp_path / "p1.json", tmp_path / "p2.json"])
    pd.testing.assert_series_equal(both.series, trace.series)

    with pytest.warns(CapacityWarning, match=r"PartialData or carries a NextToken"):
        partial = read_metric(tmp_path / "p1.json")
    assert partial.repairs[0].rule == "partial_data"


def test_get_metric_data_errors(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    page = metric_data_page(["2026-04-06T00:00:00Z"], [1.0, 2.0], "Complete", False)
    path.write_text(json.dumps(page))
    with pytest.raises(IngestError, match=r"has 1 Timestamps but 2 Values"):
        read_metric(path)
    page = metric_data_page(["2026-04-06T00:00:00Z"], [1.0], "Forbidden", False)
    path.write_text(json.dumps(page))
    with pytest.raises(IngestError, match=r"StatusCode 'Forbidden'"):
        read_metric(path)
    two = metric_data_page(["2026-04-06T00:00:00Z"], [1.0], "Complete", False)
    two["MetricDataResults"].append(
        {**two["MetricDataResults"][0], "Id": "req", "Label": "RequestCount"}
    )
    path.write_text(json.dumps(two))
    with pytest.raises(
        IngestError, match=r"pass metric= \(--metric\) naming one result .* req"
    ):
        read_metric(path)


@settings(max_examples=40, deadline=None)
@given(
    sums=st.lists(st.integers(0, 10_000), min_size=3, max_size=40),
    seed=st.integers(0, 2**32 - 1),
    form=st.sampled_from(["Z", "+00:00", "epoch"]),
)
def test_statistics_json_order_never_matters(
    sums: list[int], seed: int, form: str
) -> None:
    # CloudWatch returns Datapoints in no order: any order gives the sorted series.
    start = pd.Timestamp("2026-04-06", tz="UTC")
    moments = [start + pd.Timedelta(minutes=5 * i) for i in range(len(sums))]
    stamps: list[object] = [
        int(m.timestamp())
        if form == "epoch"
        else m.strftime("%Y-%m-%dT%H:%M:%S") + form
        for m in moments
    ]
    order = np.random.default_rng(seed).permutation(len(sums))
    document = statistics_json([stamps[i] for i in order], [sums[i] for i in order])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stats.json"
        path.write_text(json.dumps(document))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CapacityWarning)
            trace = read_metric(path)
    assert trace.series.tolist() == [float(x) for x in sums]
    assert trace.series.index[0] == start


def test_docstring_examples_run() -> None:
    import doctest

    import capacity.ingest

    results = doctest.testmod(capacity.ingest)
    assert results.attempted >= 2
    assert results.failed == 0


def test_malformed_files(tmp_path: Path) -> None:
    ragged = tmp_path / "requestcount.csv"
    ragged.write_text(
        "timestamp,value\n2026-04-06 00:00:00,1\n2026-04-06 00:05:00,2,3\n"
    )
    with pytest.raises(IngestError, match=r"not a readable CSV .*line 3"):
        read_metric(ragged)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00timestamp")
    with pytest.raises(IngestError, match=r"binary.csv: not UTF-8 text"):
        read_metric(binary)


def test_credit_usage_summed_and_balance_averaged(tmp_path: Path) -> None:
    # Usage is credits spent per period: twelve 5-min periods of 0.5 -> 6 per hour.
    usage = write_csv(tmp_path / "cpucreditusage.csv", grid(24), [0.5] * 24)
    assert quiet_read(usage, step_s=3600).series.tolist() == [6.0, 6.0]
    # The balance is a level: its hourly value is the mean, 100..111 -> 105.5.
    levels = list(range(100, 112)) * 2
    balance = write_csv(tmp_path / "cpucreditbalance.csv", grid(24), levels)
    assert quiet_read(balance, step_s=3600).series.tolist() == [105.5, 105.5]


def test_count_exported_as_average_is_averaged_and_flagged(tmp_path: Path) -> None:
    points = [
        {"Timestamp": f"2026-04-06T00:{m:02d}:00Z", "Average": 1.0, "Unit": "Count"}
        for m in range(0, 60, 5)
    ]
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"Label": "RequestCount", "Datapoints": points}))
    with pytest.warns(CapacityWarning, match=r"exported as Average, not Sum"):
        trace = read_metric(path, step_s=3600)
    assert trace.series.tolist() == [1.0]  # averaged, not 12 x 1
    with pytest.raises(IngestError, match=r"statistic 'Average' is not Sum"):
        trace_to_workload(trace)


@settings(max_examples=40, deadline=None)
@given(
    step_min=st.sampled_from([1, 5, 10, 15]),
    offset_min=st.integers(0, 14),
    data=st.data(),
)
def test_dst_squash_is_undone(
    step_min: int, offset_min: int, data: st.DataObject
) -> None:
    # Rebuild the NAB artefact from a regular series: every row stamped in the hour
    # 02:00-02:59 of 2014-03-09 is re-stamped 03:00:00. Reading must give back the
    # regular series, with the squashed rows counted.
    offset_min %= step_min
    start = pd.Timestamp("2014-03-09 00:00") + pd.Timedelta(minutes=offset_min)
    stamps = pd.date_range(start, periods=4 * 60 // step_min, freq=f"{step_min}min")
    values = data.draw(
        st.lists(
            st.integers(1, 10**6),
            min_size=stamps.size,
            max_size=stamps.size,
            unique=True,
        )
    )
    in_hole = stamps.hour == 2
    squashed = stamps.where(~in_hole, pd.Timestamp("2014-03-09 03:00"))
    text = [t.strftime("%Y-%m-%d %H:%M:%S") for t in stamps]
    squashed_text = [t.strftime("%Y-%m-%d %H:%M:%S") for t in squashed]

    repaired = read_rows(squashed_text, values)
    pd.testing.assert_series_equal(repaired.series, read_rows(text, values).series)
    counts = {r.rule: r.count for r in repaired.repairs}
    on_hour_row = int(stamps.isin([pd.Timestamp("2014-03-09 03:00")]).sum())
    assert counts["dst_squashed_rows"] == int(in_hole.sum()) + on_hour_row
