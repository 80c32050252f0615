"""Tests for capacity.workload: the grid, the builders and the bundled default."""

from __future__ import annotations

import doctest
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.errors import ParameterError
from capacity.workload import (
    Workload,
    daily_profile,
    load_default,
    read_workload_csv,
    rescale_to_daily_requests,
    with_cpu_step,
    with_surge,
)

START = "2026-03-30T00:00:00Z"  # a Monday


def flat(days: int = 1, step_s: float = 3600.0, per_s: float = 1.0) -> Workload:
    """A constant load of ``per_s`` requests per second."""
    return daily_profile(per_s * 86_400, 1.0, days=days, step_s=step_s, start=START)


# --- daily_profile -------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    peak_to_mean=st.floats(1.0, 12.0),
    step_s=st.sampled_from([60.0, 300.0, 900.0, 3600.0]),
    peak_hour_utc=st.floats(0.0, 24.0),
    days=st.integers(1, 3),
)
def test_peak_to_mean_is_the_argument(
    peak_to_mean: float, step_s: float, peak_hour_utc: float, days: int
) -> None:
    # Definition: peak / mean of the generated series, without dip, growth or noise.
    w = daily_profile(
        1e6, peak_to_mean, days=days, step_s=step_s, peak_hour_utc=peak_hour_utc
    )
    rates = w.requests_per_s
    assert rates.max() / rates.mean() == pytest.approx(peak_to_mean, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    requests_per_day=st.floats(0.0, 1e10),
    noise_frac=st.floats(0.0, 0.5),
    weekly_dip_frac=st.floats(0.0, 0.9),
    growth_frac_per_day=st.floats(-0.5, 0.5),
)
def test_mean_volume_is_the_argument(
    requests_per_day: float,
    noise_frac: float,
    weekly_dip_frac: float,
    growth_frac_per_day: float,
) -> None:
    # Definition: mean rate [1/s] x 86400 s/day = requests/day, whatever the shape.
    w = daily_profile(
        requests_per_day,
        2.0,
        days=7,
        step_s=900.0,
        noise_frac=noise_frac,
        weekly_dip_frac=weekly_dip_frac,
        growth_frac_per_day=growth_frac_per_day,
    )
    assert w.requests_per_s.mean() * 86_400 == pytest.approx(
        requests_per_day, rel=1e-9, abs=1e-6
    )
    assert np.all(w.requests_per_s >= 0)


def test_same_seed_same_series_and_another_seed_differs() -> None:
    a = daily_profile(1e8, 2.0, days=2, noise_frac=0.05, seed=7)
    b = daily_profile(1e8, 2.0, days=2, noise_frac=0.05, seed=7)
    c = daily_profile(1e8, 2.0, days=2, noise_frac=0.05, seed=8)
    np.testing.assert_array_equal(a.requests_per_s, b.requests_per_s)
    assert not np.array_equal(a.requests_per_s, c.requests_per_s)


def test_weekend_dip_and_growth_follow_their_definitions() -> None:
    # 2026-04-04 is a Saturday: its volume is (1 - 0.25) of the Friday's.
    w = daily_profile(1e6, 2.0, days=7, step_s=3600.0, weekly_dip_frac=0.25)
    per_day = w.to_frame()["requests_per_s"].resample("1D").mean()
    saturday, friday = per_day.loc["2026-04-04"], per_day.loc["2026-04-03"]
    assert saturday / friday == pytest.approx(0.75)
    # Compound growth 10 %/day: each step is 1.1 x the same step one day earlier.
    g = daily_profile(1e6, 2.0, days=3, step_s=3600.0, growth_frac_per_day=0.1)
    np.testing.assert_allclose(g.requests_per_s[24:] / g.requests_per_s[:-24], 1.1)


def test_daily_peak_is_at_the_peak_hour() -> None:
    w = daily_profile(1e6, 3.0, days=1, step_s=3600.0, peak_hour_utc=9.0)
    assert w.index[int(np.argmax(w.requests_per_s))].hour == 9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"requests_per_day": -1.0}, r"requests_per_day=-1.0 must be >= 0"),
        ({"peak_to_mean": 0.5}, r"peak_to_mean=0.5 must be >= 1"),
        ({"peak_to_mean": 30.0}, r"peak_to_mean=30.0 is not reachable with 24 steps"),
        ({"days": 0}, r"days=0 must be a whole number of days >= 1"),
        ({"days": 1.5}, r"days=1.5 must be a whole number"),
        ({"step_s": 7.0}, r"step_s=7.0 does not divide one day"),
        ({"start": "2026-03-30 00:00"}, r"start='2026-03-30 00:00' has no time zone"),
        ({"start": "yesterday-ish"}, r"start='yesterday-ish' is not a date-time"),
        ({"weekly_dip_frac": 1.0}, r"weekly_dip_frac=1.0 must be below 1"),
        ({"noise_frac": -0.1}, r"noise_frac=-0.1 must be >= 0"),
        ({"growth_frac_per_day": -1.0}, r"growth_frac_per_day=-1.0 must be above -1"),
        ({"cpu_per_request_ms": float("nan")}, r"cpu_per_request_ms=nan must be >= 0"),
    ],
)
def test_daily_profile_rejects_bad_arguments(
    kwargs: dict[str, object], match: str
) -> None:
    arguments: dict[str, object] = {
        "requests_per_day": 1e6,
        "peak_to_mean": 2.0,
        "days": 1,
        "step_s": 3600.0,
    }
    arguments.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        daily_profile(**arguments)  # type: ignore[arg-type]


# --- Workload ------------------------------------------------------------------------


def test_busy_vcpu_per_instance_by_hand() -> None:
    # 1000 req/s x 0.008 vCPU-s / 4 instances + 0.1 background = 2.1 vCPU.
    index = pd.date_range(START, periods=3, freq="60s")
    w = Workload(
        index=index,
        requests_per_s=np.full(3, 1000.0),
        cpu_per_request_s=np.full(3, 0.008),
        background_vcpu=np.full(3, 0.1),
        name="hand",
        source="test",
    )
    np.testing.assert_allclose(w.busy_vcpu_per_instance(4), 2.1)
    assert w.step_s == 60.0
    assert list(w.to_frame().columns) == [
        "requests_per_s",
        "cpu_per_request_s",
        "background_vcpu",
    ]
    with pytest.raises(ParameterError, match=r"count=0 must be at least 1"):
        w.busy_vcpu_per_instance(0)
    with pytest.raises(ParameterError, match=r"count=2.5 is not an integer"):
        w.busy_vcpu_per_instance(2.5)  # type: ignore[arg-type]


def _workload(index: pd.DatetimeIndex, rates: list[float]) -> Workload:
    size = len(rates)
    return Workload(index, np.array(rates), np.zeros(size), np.zeros(size), "x", "t")


@pytest.mark.parametrize(
    ("index", "rates", "match"),
    [
        (
            pd.date_range("2026-01-01", periods=2, freq="60s"),
            [1.0, 1.0],
            r"index has time zone None; a workload's grid must be UTC",
        ),
        (
            pd.date_range(START, periods=1, freq="60s"),
            [1.0],
            r"index has 1 step\(s\); a workload needs at least 2",
        ),
        (
            pd.DatetimeIndex(
                ["2026-01-01 00:00", "2026-01-01 00:01", "2026-01-01 00:03"]
            ).tz_localize("UTC"),
            [1.0, 1.0, 1.0],
            r"index is not a regular grid",
        ),
        (
            pd.date_range(START, periods=2, freq="60s"),
            [1.0, -2.0],
            r"requests_per_s\[1\]=-2.0 is negative",
        ),
        (
            pd.date_range(START, periods=2, freq="60s"),
            [1.0, np.nan],
            r"requests_per_s contains NaN",
        ),
        (
            pd.date_range(START, periods=3, freq="60s"),
            [1.0, 1.0],
            r"requests_per_s has shape \(2,\); it must match the index \(3,\)",
        ),
    ],
)
def test_workload_rejects_bad_grids_and_series(
    index: pd.DatetimeIndex, rates: list[float], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        _workload(index, rates)


# --- with_surge ----------------------------------------------------------------------


def test_surge_with_ramps_worked_by_hand() -> None:
    # Flat 1 req/s, hourly steps; x3 from 10:00 for 2 h with 30-min ramps.
    # 10:00-11:00: ramp 1->3 over 30 min (mean 2) then 3 for 30 min -> 2.5.
    # 11:00-12:00: 3 for 30 min, then ramp 3->1 (mean 2) -> 2.5. Others stay 1.
    s = with_surge(flat(), "2026-03-30T10:00Z", hours=2, multiplier=3, ramp_s=1800)
    expected = np.ones(24)
    expected[10:12] = 2.5
    np.testing.assert_allclose(s.requests_per_s, expected)


@settings(max_examples=60, deadline=None)
@given(
    offset_s=st.floats(0.0, 40_000.0),
    hours=st.floats(0.5, 10.0),
    multiplier=st.floats(0.0, 10.0),
    ramp_frac=st.floats(0.0, 0.5),
)
def test_surge_adds_the_trapezoid_area(
    offset_s: float, hours: float, multiplier: float, ramp_frac: float
) -> None:
    # Extra requests = base rate x (multiplier - 1) x (window - ramp) (trapezoid).
    base = flat(step_s=300.0)
    window_s = hours * 3600.0
    ramp_s = ramp_frac * window_s
    start = pd.Timestamp(START) + pd.Timedelta(seconds=offset_s)
    s = with_surge(base, start, hours, multiplier, ramp_s=ramp_s)
    extra = (s.requests_per_s - base.requests_per_s).sum() * 300.0
    assert extra == pytest.approx((multiplier - 1) * (window_s - ramp_s), abs=1e-6)
    np.testing.assert_array_equal(
        base.requests_per_s, flat(step_s=300.0).requests_per_s
    )


def test_a_subnormal_ramp_is_a_step() -> None:
    # Found by hypothesis: a ramp of 5e-324 h (1.8e-320 s) made the slope overflow
    # to inf and the rate NaN. Such a ramp is a jump: multiplier 0 for one hour
    # empties the first 12 five-minute steps and leaves the other 276 alone.
    w = daily_profile(86_400, 1.0, days=1, step_s=300)
    s = with_surge(w, w.index[0], 1.0, 0.0, ramp_s=5e-324 * 3600)
    expected = w.requests_per_s.copy()
    expected[:12] = 0.0  # step 0 keeps the ramp's own area, about 3e-323
    assert np.all(np.isfinite(s.requests_per_s))
    np.testing.assert_allclose(s.requests_per_s, expected, rtol=0, atol=1e-300)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ramp_s": 4000.0}, r"ramp_s=4000.0 is too long for hours=2"),
        ({"multiplier": -1.0}, r"multiplier=-1.0 must be >= 0"),
        ({"start": "2026-03-30T10:00"}, r"start='2026-03-30T10:00' has no time zone"),
        ({"start": "2026-05-01T10:00Z"}, r"puts the change outside the workload"),
        ({"hours": -1.0}, r"hours=-1.0 must be >= 0"),
    ],
)
def test_surge_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {
        "start": "2026-03-30T10:00Z",
        "hours": 2.0,
        "multiplier": 2.0,
    }
    arguments.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        with_surge(flat(), **arguments)  # type: ignore[arg-type]


# --- with_cpu_step -------------------------------------------------------------------


def test_cpu_step_mid_step_worked_by_hand() -> None:
    # 5-minute steps, 2 ms per request, +3 ms from 14:02 UTC: the 14:00 step gets
    # 3 of its 5 minutes at +3 ms -> 2 + 3 x 3/5 = 3.8 ms; later steps 5 ms.
    w = daily_profile(86_400, 1.0, days=1, step_s=300, cpu_per_request_ms=2)
    s = with_cpu_step(w, "2026-03-30T16:02:00+02:00", extra_cpu_ms=3)
    at = 14 * 12
    np.testing.assert_allclose(s.cpu_per_request_s[at - 1 : at + 2] * 1000, [2, 3.8, 5])
    np.testing.assert_allclose(s.cpu_per_request_s[:at] * 1000, 2)


def test_cpu_step_rejects_bad_arguments() -> None:
    w = flat()
    with pytest.raises(ParameterError, match=r"extra_cpu_ms=-20 makes the CPU per"):
        with_cpu_step(
            daily_profile(86_400, 1.0, days=1, cpu_per_request_ms=8),
            "2026-03-30T01:00Z",
            -20,
        )
    with pytest.raises(ParameterError, match=r"at='2026-03-30 01:00' has no time"):
        with_cpu_step(w, "2026-03-30 01:00", 2)
    with pytest.raises(ParameterError, match=r"extra_cpu_ms=inf must be finite"):
        with_cpu_step(w, "2026-03-30T01:00Z", float("inf"))
    with pytest.raises(ParameterError, match=r"at=2026-03-29T23:00:00\+00:00 puts"):
        with_cpu_step(w, "2026-03-29T23:00Z", 2)


# --- rescale_to_daily_requests --------------------------------------------------------


def test_rescale_keeps_shape_and_sets_volume() -> None:
    w = daily_profile(1e6, 2.5, days=2, noise_frac=0.1, seed=3)
    r = rescale_to_daily_requests(w, 1e8)
    assert r.requests_per_s.mean() * 86_400 == pytest.approx(1e8)
    np.testing.assert_allclose(r.requests_per_s / w.requests_per_s, 100.0)
    with pytest.raises(ParameterError, match=r"requests_per_day=-5 must be >= 0"):
        rescale_to_daily_requests(w, -5)
    with pytest.raises(ParameterError, match=r"has no requests; there is no shape"):
        rescale_to_daily_requests(rescale_to_daily_requests(w, 0.0), 1e6)


# --- files ---------------------------------------------------------------------------


def test_read_workload_csv_round_trip_and_errors(tmp_path: Path) -> None:
    w = daily_profile(1e6, 2.0, days=1, step_s=600.0)
    path = tmp_path / "w.csv"
    w.to_frame().to_csv(path)
    back = read_workload_csv(path)
    np.testing.assert_allclose(back.requests_per_s, w.requests_per_s)
    assert back.index.equals(w.index)
    with pytest.raises(ParameterError, match=r"does not exist; check the path"):
        read_workload_csv(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("timestamp,requests_per_s\n")
    with pytest.raises(ParameterError, match=r"lacks columns \['cpu_per_request_s'"):
        read_workload_csv(tmp_path / "bad.csv")


def test_default_workload_matches_its_specification(root_dir: Path) -> None:
    # The data manifest: ~100M requests/day (~1,157 req/s), peak ~2x mean, 14 d, 60 s.
    w = load_default()
    assert len(w.index) == 14 * 1440
    assert w.step_s == 60.0
    assert w.requests_per_s.mean() == pytest.approx(1e8 / 86_400, rel=1e-6)
    assert 1.9 <= w.requests_per_s.max() / w.requests_per_s.mean() <= 2.3
    assert (root_dir / "data" / "default_workload.csv").stat().st_size < 1_500_000


def test_default_workload_hash_and_regeneration(root_dir: Path, tmp_path: Path) -> None:
    data_dir = root_dir / "data"
    manifest = json.loads((data_dir / "workloads_MANIFEST.json").read_text())
    entry = manifest["files"]["default_workload.csv"]
    committed = (data_dir / "default_workload.csv").read_bytes()
    assert hashlib.sha256(committed).hexdigest() == entry["sha256"]

    script = root_dir / "scripts" / "make_default_workload.py"
    subprocess.run(
        [sys.executable, str(script), "--out-dir", str(tmp_path)], check=True
    )
    assert (tmp_path / "default_workload.csv").read_bytes() == committed
    regenerated = json.loads((tmp_path / "workloads_MANIFEST.json").read_text())
    assert regenerated == manifest


def test_docstring_examples_run() -> None:
    import capacity.workload

    results = doctest.testmod(capacity.workload)
    assert results.attempted >= 4
    assert results.failed == 0


def test_series_are_read_only() -> None:
    w = flat()
    with pytest.raises(ValueError, match="read-only"):
        w.requests_per_s[0] = 5.0


def test_peak_between_two_samples_limits_the_ratio() -> None:
    # Hourly steps, peak at 15:30: the 15:00 and 16:00 samples share the peak, so
    # peak / mean can't exceed 24 / 2 = 12.
    with pytest.raises(ParameterError, match=r"peak_to_mean=20.0 is not reachable on"):
        daily_profile(1e6, 20.0, days=1, step_s=3600.0, peak_hour_utc=15.5)


@settings(max_examples=40, deadline=None)
@given(
    at_s=st.floats(0.0, 86_399.0),
    extra_cpu_ms=st.floats(0.0, 50.0),
    noise_frac=st.floats(0.0, 0.3),
)
def test_cpu_step_adds_extra_cpu_to_requests_after_the_moment(
    at_s: float, extra_cpu_ms: float, noise_frac: float
) -> None:
    # Extra CPU-seconds = extra per request x requests after `at` (a step straddling
    # `at` counts the share of its time after it).
    w = daily_profile(1e6, 2.0, days=1, step_s=300.0, noise_frac=noise_frac)
    at = pd.Timestamp(START) + pd.Timedelta(seconds=at_s)
    s = with_cpu_step(w, at, extra_cpu_ms)
    extra_vcpu_s = (
        (s.cpu_per_request_s - w.cpu_per_request_s) * w.requests_per_s
    ).sum()
    step_start_s = np.arange(288) * 300.0
    share_after = np.clip((step_start_s + 300.0 - at_s) / 300.0, 0.0, 1.0)
    expected = extra_cpu_ms / 1000 * (w.requests_per_s * share_after).sum()
    assert extra_vcpu_s * 300.0 == pytest.approx(expected * 300.0, rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(s.requests_per_s, w.requests_per_s)
