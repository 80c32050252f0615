"""The sizing report against papermill + nbconvert on an empty notebook.

Both sides start a fresh kernel, execute the notebook with papermill and export HTML
with nbconvert; the baseline does nothing else, so the ratio is the cost of the
sizing report's own work (imports, the recommendation, replays, charts, CSV) on top
of the fixed cost of a kernel. A third notebook only imports pandas and Altair, the
two libraries every report draws with (Altair through ``capacity.charts``, which
skips a grammar jsonschema would build): its ratio is the floor a report can reach
while it keeps them.

The three run in turn, RUNS rounds, so a machine that slows down or speeds up during
the benchmark weighs on each side alike; the figures are medians. Beside wall-clock
time, the CPU time of this process and its kernels is shown: on a shared machine it
moves less than wall-clock time.

Run: .venv/bin/python benchmarks/bench_report.py
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

from capacity.report import run_notebook

RUNS = 5
GOAL_RATIO = 1.5
EMPTY = "empty notebook, papermill + nbconvert"
FLOOR = "floor: imports pandas and altair only"
FLOOR_SOURCE = (
    "import pandas\n\nfrom capacity import charts  # altair, as reports import it"
)
SIZING = "sizing report on the bundled default"


def cpu_s() -> float:
    """CPU time so far of this process and its finished children [s]."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(run: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call."""
    started_s, started_cpu_s = time.perf_counter(), cpu_s()
    run()
    return time.perf_counter() - started_s, cpu_s() - started_cpu_s


def medians_s(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of several runs."""
    wall_s = statistics.median(wall for wall, _ in runs)
    return wall_s, statistics.median(cpu for _, cpu in runs)


def write_notebook(path: Path, source: str) -> Path:
    """A one-cell Python notebook at ``path``."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


def papermill_and_nbconvert(source: Path) -> None:
    """Execute ``source`` with papermill's defaults and export it as HTML."""
    executed = source.with_name(f"executed-{source.name}")
    papermill.execute_notebook(str(source), str(executed), progress_bar=False)
    body, _ = HTMLExporter(exclude_input=True).from_filename(str(executed))
    executed.with_suffix(".html").write_text(body, encoding="utf-8")


def sizing_report(folder: Path) -> None:
    """``capacity run sizing`` on the bundled default workload."""
    run_notebook("sizing", {}, output_dir=folder / "reports")


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        empty = write_notebook(folder / "empty.ipynb", "")
        floor = write_notebook(folder / "floor.ipynb", FLOOR_SOURCE)
        sides: dict[str, Callable[[], None]] = {
            EMPTY: partial(papermill_and_nbconvert, empty),
            FLOOR: partial(papermill_and_nbconvert, floor),
            SIZING: partial(sizing_report, folder),
        }
        sizing_report(folder)  # warm the file caches and numba's on-disk cache
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in sides}
        for _ in range(RUNS):
            for label, run in sides.items():
                times[label].append(measured(run))

    medians = {label: medians_s(runs) for label, runs in times.items()}
    baseline_s, baseline_cpu_s = medians[EMPTY]
    print(f"median of {RUNS} alternating runs       wall s  ratio   CPU s  ratio")
    for label, (wall_s, run_cpu_s) in medians.items():
        print(
            f"{label:<38} {wall_s:6.2f} {wall_s / baseline_s:6.2f}"
            f"  {run_cpu_s:6.2f} {run_cpu_s / baseline_cpu_s:6.2f}"
        )
    print(f"goal: sizing report / empty notebook <= {GOAL_RATIO} (wall-clock)")


if __name__ == "__main__":
    main()
