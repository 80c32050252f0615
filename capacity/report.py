"""Run a notebook with papermill into a dated report folder: HTML, CSV and JSON.

A run of ``sizing`` writes a new folder ``<output_dir>/sizing-<UTC timestamp>[-n]/``
(created with one ``mkdir``, so two runs never share it) holding:

- ``sizing.ipynb``: the executed notebook, for whoever wants the code;
- ``sizing.html``: a self-contained report without code cells or prompts, whose
  charts are inline SVG (no script, no network needed to read it); a report over
  :data:`HTML_BUDGET_BYTES` is kept but warned about (:class:`CapacityWarning`);
- ``tables/<name>.csv``: every table the notebook published;
- ``results.json``: the headline numbers the notebook published, the parameters and
  the timing.

``<output_dir>/sizing-latest`` (a symlink, or a text file naming the folder where
symlinks are not possible) then points at the new folder. A failed run (a cell
that raised, the timeout, a dead kernel, or Ctrl-C) keeps the notebook as executed
so far as ``FAILED-sizing.ipynb`` beside a one-line ``FAILED.txt``, writes no HTML,
CSV or results, and leaves ``sizing-latest`` where it was.

Before any kernel starts or any folder is made, the parameters are checked: their
types against the ``parameters`` cell, their values by the notebook's check in
:mod:`capacity.notebook_checks`, and the timeout and output folder.

How a notebook hands tables and headline numbers to the runner is in
:mod:`capacity.publish`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capacity.errors import (
    CapacityWarning,
    NotebookRunError,
    ParameterError,
    Terminated,
)
from capacity.notebook_checks import check_notebook_values
from capacity.publish import (
    PUBLISH_DIR_ENV,
    collect_results,
    collect_tables,
)
from capacity.report_parameters import (
    NotebookParameter,
    check_parameters,
    notebook_parameters,
)

__all__ = [
    "HTML_BUDGET_BYTES",
    "NOTEBOOKS_DIR",
    "NotebookParameter",
    "RunResult",
    "notebook_parameters",
    "resolve_notebook",
    "run_notebook",
]

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
"""The project's notebooks, found beside the package in a clone."""

HTML_BUDGET_BYTES = 3_000_000
"""The largest HTML report we accept; charts are decimated to stay under it."""

# papermill, nbconvert, nbformat and jinja2 are imported by the functions that run
# and export a notebook, so that importing this module (the CLI's `run`) stays quick.


# nbconvert's lab template without its remote scripts (require.js, MathJax, mermaid),
# and with SVG outputs inlined as markup rather than base64 images, so the report
# renders offline and a browser test can count the chart elements.
_REPORT_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" \
data-mime-type="image/svg+xml">{{ output.data['image/svg+xml'] }}</div>
{%- endblock data_svg -%}
"""


@dataclass(frozen=True)
class RunResult:
    """What one successful notebook run produced."""

    notebook: str
    """The notebook's name (file name without ``.ipynb``)."""
    run_dir: Path
    """The new report folder."""
    executed_path: Path
    """The executed notebook inside ``run_dir``."""
    html_path: Path
    """The HTML report inside ``run_dir``."""
    tables: dict[str, Path]
    """Published table name to its CSV file."""
    results: dict[str, Any]
    """Published headline numbers, by name (NaN and inf as None)."""
    parameters: dict[str, Any]
    """The parameters injected (after type checks); defaults not repeated."""
    duration_s: float
    """Wall-clock time of execution and export [s]."""


def resolve_notebook(name_or_path: str | Path) -> Path:
    """The notebook file for a name in ``notebooks/`` or a path.

    Raises
    ------
    ParameterError
        If neither a file at that path nor ``notebooks/<name>.ipynb`` exists.
    """
    path = Path(name_or_path)
    if path.suffix == ".ipynb" or path.parent != Path("."):
        if path.is_file():
            return path
        raise ParameterError(f"notebook file '{path}' does not exist; check the path")

    bundled = NOTEBOOKS_DIR / f"{path.name}.ipynb"
    if bundled.is_file():
        return bundled
    known = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    raise ParameterError(
        f"unknown notebook '{name_or_path}'; choose one of {', '.join(known) or 'none'}"
        " (see 'capacity notebooks') or give a path to an .ipynb file"
    )


def run_notebook(
    name_or_path: str | Path,
    parameters: Mapping[str, Any],
    *,
    output_dir: str | Path = "reports",
    timeout_s: float = 600.0,
    progress: bool = False,
) -> RunResult:
    """Execute a notebook with papermill and export its report into a new folder.

    Parameters
    ----------
    name_or_path : str or Path
        A name in ``notebooks/`` (``"sizing"``) or a path to an ``.ipynb`` file.
    parameters : mapping of str to value
        Values for the notebook's ``parameters`` cell. Text is read by the declared
        type (see :func:`capacity.report_parameters.check_parameter`).
    output_dir : str or Path
        Folder that receives the dated run folder and the ``<name>-latest`` pointer.
    timeout_s : float
        Limit for the whole execution [s]: kernel start-up and every cell share it.
    progress : bool
        Show papermill's progress bar on stderr.

    Returns
    -------
    RunResult
        Paths of the executed notebook, HTML report and CSV tables, and the results.

    Raises
    ------
    ParameterError
        Before any kernel starts: unknown notebook, no ``parameters`` cell, unknown
        parameter name, a value of the wrong type, a value the notebook's check in
        :data:`capacity.notebook_checks.NOTEBOOK_CHECKS` refuses (the full set:
        defaults and given values), a non-positive timeout.
    NotebookRunError
        A cell raised, the kernel died or the timeout passed. The message names the
        cell (index and first line) and the error; the executed notebook is kept as
        ``FAILED-<name>.ipynb`` in the run folder, and nothing else is written.
    """
    path = resolve_notebook(name_or_path)
    declared = notebook_parameters(path)
    checked = check_parameters(declared, parameters, path.stem)
    defaults = {parameter.name: parameter.default for parameter in declared}
    check_notebook_values(path.stem, defaults | checked)
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ParameterError(
            f"timeout_s must be positive and finite, got {timeout_s!r}; give seconds "
            "such as 600"
        )
    _check_output_dir(Path(output_dir), path.stem)

    started_s = time.perf_counter()
    run_dir = _new_run_dir(Path(output_dir), path.stem)
    staging = run_dir / ".publish"
    staging.mkdir()
    executed = run_dir / f"{path.stem}.ipynb"
    _execute(path, executed, checked, staging, timeout_s, progress)

    try:
        html_path = _export_html(executed, run_dir / f"{path.stem}.html")
        _warn_if_over_budget(html_path)
        tables = collect_tables(staging, run_dir / "tables")
        results = collect_results(staging)
        shutil.rmtree(staging)
        duration_s = time.perf_counter() - started_s
        _write_results_json(run_dir, path.stem, checked, results, duration_s)
    except KeyboardInterrupt as error:  # Ctrl-C while the report is written
        _failure(path, executed, staging, None, error, "writing the report")
        raise

    _point_latest(Path(output_dir), path.stem, run_dir)
    return RunResult(
        path.stem, run_dir, executed, html_path, tables, results, checked, duration_s
    )


def _check_output_dir(output_dir: Path, stem: str) -> None:
    """Create ``output_dir`` and refuse a ``<stem>-latest`` the runner cannot move."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError(
            f"output_dir (--output-dir) '{output_dir}' cannot be created "
            f"({type(error).__name__}: "
            f"{error.strerror or error}); give a folder you can write, not a file "
            "or a path under one"
        ) from error
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise ParameterError(
            f"output_dir (--output-dir) '{output_dir}' is not writable; give a "
            "folder you can write"
        )
    latest = output_dir / f"{stem}-latest"
    if latest.is_dir() and not latest.is_symlink():
        raise ParameterError(
            f"'{latest}' is a folder, not the pointer the runner moves to each new "
            "report (a symlink or a one-line file); rename or remove it"
        )


def _new_run_dir(output_dir: Path, stem: str) -> Path:
    """A new folder ``<stem>-<UTC timestamp>[-n]``; ``mkdir`` makes it atomic."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        candidate = output_dir / f"{stem}-{stamp}{suffix}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise NotebookRunError(f"cannot create a new run folder under '{output_dir}'")


@contextmanager
def _publishing_into(staging: Path) -> Iterator[None]:
    """Set :data:`PUBLISH_DIR_ENV` for the kernel started inside the block."""
    previous = os.environ.get(PUBLISH_DIR_ENV)
    os.environ[PUBLISH_DIR_ENV] = str(staging.resolve())
    try:
        yield
    finally:
        if previous is None:
            del os.environ[PUBLISH_DIR_ENV]
        else:
            os.environ[PUBLISH_DIR_ENV] = previous


@contextmanager
def _kernel_sockets() -> Iterator[Any]:
    """Kernel configuration: Unix sockets in a private folder, not TCP ports.

    With TCP, jupyter_client picks free ports by binding and releasing them, and
    the kernel binds them again later; another process can take one in between
    ("ZMQError: Address already in use"), so a run could fail at kernel start-up
    for no reason of its own. Unix sockets in a folder of this run cannot collide.
    Where Unix sockets are not available (Windows), TCP is kept.
    """
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    folder = tempfile.mkdtemp(prefix="capacity-kernel-")
    try:
        yield Config({"KernelManager": {"transport": "ipc", "ip": f"{folder}/kernel"}})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _execute(
    source: Path,
    executed: Path,
    parameters: dict[str, Any],
    staging: Path,
    timeout_s: float,
    progress: bool,
) -> None:
    """Run papermill; on any failure keep ``FAILED-<name>.ipynb`` and raise."""
    import nbformat
    import papermill

    deadline_s = time.monotonic() + timeout_s
    started_cells: list[Any] = []
    running: list[Any] = []

    def cell_timeout_s(cell: Any) -> int:
        return max(1, math.ceil(deadline_s - time.monotonic()))

    def record_start(cell: Any, cell_index: int) -> None:
        started_cells.append(cell)

    def record_notebook(notebook: Any) -> None:
        running.append(notebook)

    try:
        with (
            _publishing_into(staging),
            _kernel_sockets() as kernel_config,
            _papermill_log_quiet(),
        ):
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=progress,
                start_timeout=max(1, math.ceil(timeout_s)),
                timeout_func=cell_timeout_s,
                on_cell_start=record_start,
                # Papermill would rewrite and re-validate the whole notebook before
                # and after every cell (0.3 to 0.6 s for the sizing report); it is
                # written once at the end instead, or by the failure handler below.
                request_save_on_cell_execute=False,
                on_notebook_start=record_notebook,
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                # Every output has arrived when the last cell is idle; killing the
                # kernel then instead of asking it to exit saves ~1 s per report.
                shutdown_kernel="immediate",
                cwd=None,
                config=kernel_config,
            )
    except (Exception, KeyboardInterrupt) as error:  # papermill, nbclient, zmq, ^C
        # Papermill names the cell whose output holds the error (a display error
        # does not stop the run); otherwise the cell running when it stopped.
        failed_source = getattr(error, "source", None)
        last_cell = started_cells[-1] if started_cells else None
        if isinstance(failed_source, str):
            last_cell = nbformat.v4.new_code_cell(failed_source)
        if running and not executed.exists():  # a timeout, dead kernel or ^C
            nbformat.write(running[0], executed)
        failure = _failure(
            source, executed, staging, last_cell, error, timeout_s=timeout_s
        )
        if isinstance(error, KeyboardInterrupt):
            raise
        raise failure from error


@contextmanager
def _papermill_log_quiet() -> Iterator[None]:
    """Keep papermill's and nbclient's log records off stderr during a run.

    Unconfigured, Python prints a library's warnings and errors to stderr (the
    "last resort" handler): a timeout added a stray "Timeout waiting for execute
    reply" line before the runner's own message. A :class:`logging.NullHandler`
    on the ``papermill`` logger stops that, and records still reach any handler
    the application configured.
    """
    papermill_log = logging.getLogger("papermill")
    handler = logging.NullHandler()
    papermill_log.addHandler(handler)
    try:
        yield
    finally:
        papermill_log.removeHandler(handler)


def _failure(
    source: Path,
    executed: Path,
    staging: Path,
    last_cell: Any,
    error: BaseException,
    stage: str = "",
    *,
    timeout_s: float | None = None,
) -> NotebookRunError:
    """Keep the failed notebook, drop partial output, and describe the failure.

    Everything in the run folder but the executed notebook is removed (the staging
    folder, and any HTML, tables or results written before an interruption).
    """
    shutil.rmtree(staging, ignore_errors=True)
    for partial in executed.parent.iterdir():
        if partial.is_dir():
            shutil.rmtree(partial)
        elif partial != executed:
            partial.unlink()
    failed = executed.with_name(f"FAILED-{executed.name}")
    if executed.exists():
        executed.rename(failed)
    where = stage or _cell_description(source, last_cell)
    kept = (
        f"the failed notebook is kept at '{failed}'"
        if failed.exists()
        else f"no cell ran, so no notebook is kept in '{executed.parent}'"
    )
    if _is_timeout(error) and timeout_s is not None:
        message = f"notebook '{source.stem}' timed out after {timeout_s:g} s in {where}"
    else:
        message = f"notebook '{source.stem}' failed in {where}: {_error_text(error)}"
    message += f"; {kept}"
    (executed.parent / "FAILED.txt").write_text(message + "\n", encoding="utf-8")
    return NotebookRunError(message)


def _cell_description(source: Path, cell: Any) -> str:
    """``cell <index> (<label>)``, the index counted in the source notebook.

    The label is the cell's first comment (``'# Costs per month'``), else the
    markdown heading above it (``under 'The recommendation'``), else its first line
    of code: a cell's first line is often an import, which tells a reader nothing.
    """
    import nbformat

    if cell is None:
        return "kernel start-up"
    cells = nbformat.read(source, as_version=4).cells
    for index, candidate in enumerate(cells):
        if candidate.get("id") == cell.get("id") or candidate.source == cell.source:
            return f"cell {index} ({_cell_label(cells, index)})"
    lines = cell.source.strip().splitlines()
    return f"the injected parameters ('{lines[0] if lines else ''}')"


def _cell_label(cells: list[Any], index: int) -> str:
    """A cell's first comment, else the heading above it, else its first code line."""
    lines = [line.strip() for line in cells[index].source.strip().splitlines()]
    comments = [line.lstrip("#").strip() for line in lines if line.startswith("#")]
    if any(comments):
        return f"'# {next(text for text in comments if text)}'"

    for above in reversed(cells[:index]):
        headings = [
            line.lstrip("#").strip()
            for line in above.source.splitlines()
            if above.cell_type == "markdown"
            and line.lstrip("#").strip()
            and line.startswith("#")
        ]
        if headings:
            return f"under '{headings[-1]}'"
    code = [line for line in lines if line and not line.startswith("#")]
    return f"'{code[0] if code else ''}'"


def _is_timeout(error: BaseException) -> bool:
    """Whether papermill or nbclient stopped the run at its deadline."""
    ename = getattr(error, "ename", None) or type(error).__name__
    return "Timeout" in ename or isinstance(error, TimeoutError)


def _error_text(error: BaseException) -> str:
    """One line: the exception's class and message, from the kernel if it ran there."""
    ename = getattr(error, "ename", None) or type(error).__name__
    evalue = getattr(error, "evalue", None)
    if evalue is None:
        evalue = str(error)
    if _is_timeout(error):
        ename, evalue = "timeout", "the run did not finish within the timeout"
    if isinstance(error, Terminated):
        ename, evalue = "interrupted", "stopped by SIGTERM"
    elif isinstance(error, KeyboardInterrupt):
        ename, evalue = "interrupted", "stopped by SIGINT (Ctrl-C)"
    one_line = " ".join(str(evalue).split())
    return f"{ename}: {one_line}" if one_line else ename


def _export_html(executed: Path, html_path: Path) -> Path:
    """The executed notebook as HTML without inputs, prompts or remote scripts."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file="capacity_report.html.j2",
        extra_loaders=[
            jinja2.DictLoader({"capacity_report.html.j2": _REPORT_TEMPLATE})
        ],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    notebook = nbformat.read(executed, as_version=4)
    body, _ = exporter.from_notebook_node(notebook)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _warn_if_over_budget(html_path: Path) -> None:
    """Warn when a report exceeds :data:`HTML_BUDGET_BYTES`; it is still written."""
    size_bytes = html_path.stat().st_size
    if size_bytes > HTML_BUDGET_BYTES:
        warnings.warn(
            f"report '{html_path}' is {size_bytes:,} bytes, over the "
            f"{HTML_BUDGET_BYTES:,}-byte budget; decimate long series with "
            "capacity.charts.decimate and publish long tables as CSV only",
            CapacityWarning,
            stacklevel=3,
        )


def _write_results_json(
    run_dir: Path,
    stem: str,
    parameters: dict[str, Any],
    results: dict[str, Any],
    duration_s: float,
) -> None:
    """``results.json``: notebook, parameters, headline numbers and timing."""
    document = {
        "notebook": stem,
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
        "parameters": parameters,
        "results": results,
    }
    text = json.dumps(document, indent=2, allow_nan=False)
    (run_dir / "results.json").write_text(text + "\n", encoding="utf-8")


def _point_latest(output_dir: Path, stem: str, run_dir: Path) -> None:
    """Move ``<stem>-latest`` to ``run_dir``: a symlink, else a one-line file."""
    latest = output_dir / f"{stem}-latest"
    temporary = output_dir / f".{stem}-latest.{os.getpid()}"
    try:
        temporary.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:
        temporary.write_text(run_dir.name + "\n", encoding="utf-8")
    try:
        os.replace(temporary, latest)
    except KeyboardInterrupt:
        temporary.unlink(missing_ok=True)
        raise
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ParameterError(
            f"the report is written to '{run_dir}', but '{latest}' cannot point at "
            f"it ({type(error).__name__}: {error.strerror or error}); rename or "
            f"remove '{latest}'"
        ) from error


def latest_run(output_dir: str | Path, stem: str) -> Path | None:
    """The folder ``<stem>-latest`` points at, or None before the first success."""
    latest = Path(output_dir) / f"{stem}-latest"
    if latest.is_symlink():
        return latest.parent / os.readlink(latest)
    if latest.is_file():
        return latest.parent / latest.read_text(encoding="utf-8").strip()
    return None
