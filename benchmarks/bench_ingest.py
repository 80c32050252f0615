"""Benchmark: reading one year of 1-minute points, pandas alone against read_metric.

Writes 525,600 rows of ``timestamp,value`` (NAB's shape) to a temporary file, then
times ``pandas.read_csv`` alone (the baseline) and ``capacity.ingest.read_metric``
(read, parse timestamps, check values, regularise onto the grid), alternating the
two over several repetitions, and prints the medians and their ratio. Goal: <= 2.

    .venv/bin/python benchmarks/bench_ingest.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from capacity.ingest import read_metric

ROWS = 525_600
REPETITIONS = 9


def write_year(path: Path) -> None:
    """One year of 1-minute CPU percentages with a daily cycle and noise."""
    stamps = pd.date_range("2025-01-01", periods=ROWS, freq="60s")
    rng = np.random.default_rng(1)
    minutes = np.arange(ROWS)
    values = 40 + 20 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 3, ROWS)
    frame = pd.DataFrame(
        {"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": values.round(3)}
    )
    frame.to_csv(path, index=False)


def median_seconds(
    baseline: Callable[[], object], candidate: Callable[[], object]
) -> tuple[float, float]:
    """Median wall times of both actions, run in alternation after one warm-up each.

    Alternating the two keeps a burst of load from other processes from landing on
    one side only.
    """
    baseline()
    candidate()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPETITIONS):
        for action, spent in ((baseline, times[0]), (candidate, times[1])):
            start = time.perf_counter()
            action()
            spent.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    """Write the file, time both readers, print the figures and the ratio."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cpu_utilization_year.csv"
        write_year(path)
        size_mib = path.stat().st_size / 2**20

        baseline_s, ours_s = median_seconds(
            lambda: pd.read_csv(path), lambda: read_metric(path)
        )
        trace = read_metric(path)

    print(f"file: {ROWS:,} rows, {size_mib:.1f} MiB; median of {REPETITIONS} runs")
    print(f"pandas.read_csv alone          {baseline_s * 1000:8.1f} ms")
    print(f"read_metric (read + regularise) {ours_s * 1000:8.1f} ms")
    print(f"ratio read_metric / read_csv    {ours_s / baseline_s:8.2f}  (goal <= 2)")
    print(f"steps on the grid: {trace.series.size:,}; repairs: {len(trace.repairs)}")


if __name__ == "__main__":
    main()
