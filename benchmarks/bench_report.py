"""The sizing report against papermill + nbconvert on an empty notebook.

Both sides start a fresh kernel, execute the notebook with papermill and export HTML
with nbconvert; the baseline does nothing else, so the ratio is the cost of the
sizing report's own work (imports, the recommendation, replays, charts, CSV) on top
of the fixed cost of a kernel. Median of RUNS runs each, measured in this run.

Run: .venv/bin/python benchmarks/bench_report.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

from capacity.report import run_notebook

RUNS = 3
GOAL_RATIO = 1.5


def empty_notebook_s(folder: Path) -> float:
    """Seconds to execute and export a notebook with one empty code cell."""
    source = folder / "empty.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, source)

    started_s = time.perf_counter()
    papermill.execute_notebook(
        str(source), str(folder / "executed.ipynb"), progress_bar=False
    )
    body, _ = HTMLExporter(exclude_input=True).from_filename(folder / "executed.ipynb")
    (folder / "empty.html").write_text(body, encoding="utf-8")
    return time.perf_counter() - started_s


def sizing_report_s(folder: Path) -> float:
    """Seconds for ``capacity run sizing`` on the bundled default workload."""
    started_s = time.perf_counter()
    run_notebook("sizing", {}, output_dir=folder / "reports")
    return time.perf_counter() - started_s


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sizing_report_s(folder)  # warm the file caches and numba's on-disk cache
        baseline = [empty_notebook_s(folder) for _ in range(RUNS)]
        sizing = [sizing_report_s(folder) for _ in range(RUNS)]

    baseline_s = statistics.median(baseline)
    sizing_s = statistics.median(sizing)
    ratio = sizing_s / baseline_s
    print(f"empty notebook, papermill + nbconvert  median {baseline_s:6.2f} s")
    print(f"sizing report on the bundled default    median {sizing_s:6.2f} s")
    print(f"ratio {ratio:.2f} (goal <= {GOAL_RATIO})")


if __name__ == "__main__":
    main()
