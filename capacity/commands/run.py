"""``capacity run``: execute a notebook (or all of them) into a dated report folder.

One notebook::

    capacity run sizing -p rps 500 -p horizon_hours 48 --output-dir reports

All notebooks, as a scheduler would (``--all`` needs ``-f``)::

    capacity run --all -f examples/nightly.yaml

The ``--all`` file holds one section per notebook name with that notebook's
parameters, and an optional ``shared`` section whose keys go to every notebook that
declares them. Every notebook in ``notebooks/`` runs, with or without a section. All
sections are checked, types and values, before the first kernel starts (a typo fails
at once, exit 2); a notebook that fails (a cell, or an output folder or pointer that
cannot be used) is reported and the rest still run; the exit status is 1 if any
failed. Ctrl-C stops the run with exit status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from capacity.errors import CapacityError, NotebookRunError, ParameterError, Terminated
from capacity.notebook_checks import check_notebook_values
from capacity.report import NOTEBOOKS_DIR, RunResult, run_notebook
from capacity.report_parameters import (
    check_parameters,
    load_parameter_file,
    notebook_parameters,
)

NAME = "run"
SHARED_SECTION = "shared"


def add_parser(subparsers: Any) -> None:
    """Register ``capacity run``."""
    parser = subparsers.add_parser(
        NAME,
        help="execute a notebook into a dated HTML/CSV/JSON report folder",
        description=(
            "Execute a notebook with papermill into <output-dir>/<name>-<UTC time>/ "
            "(executed notebook, HTML report, CSV tables, results.json) and print the "
            "folder and the headline numbers. A failed run exits 1 and keeps "
            "FAILED-<name>.ipynb; earlier reports are never touched."
        ),
    )
    parser.add_argument(
        "notebook", nargs="?", help="a name in notebooks/ (sizing) or an .ipynb path"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter; the text is read by its declared type",
    )
    parser.add_argument(
        "-f", "--parameters-file", type=Path, help="YAML file of parameters"
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path("reports"), help="default: reports"
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=600.0,
        metavar="S",
        help="limit per notebook run [s] (default 600)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="run every notebook with the sections of -f (see 'docs/scheduling.md')",
    )
    parser.set_defaults(run=run)


def _positive_seconds(text: str) -> float:
    """``--timeout``: a finite number of seconds above zero."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds above zero, got '{text}'; "
            "give e.g. 600"
        )
    return seconds


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run one notebook, or all of them with ``--all``; return the exit status.

    SIGTERM (how cron wrappers, systemd and Airflow stop a job) is handled like
    Ctrl-C: the run fails cleanly, keeping its notebook, and exits 143.
    """
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args, out)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signal_number: int, frame: object) -> None:
    """The SIGTERM handler: raise into whatever the run is doing."""
    raise Terminated(f"signal {signal_number}")


def _run(args: argparse.Namespace, out: TextIO) -> int:
    """Run one notebook, or all of them with ``--all``."""
    if args.all:
        return _run_all(args, out)
    if args.notebook is None:
        raise ParameterError(
            "capacity run needs a NOTEBOOK (a name such as 'sizing' or a path), or "
            "--all with -f FILE; see 'capacity notebooks'"
        )

    parameters = (
        load_parameter_file(args.parameters_file) if args.parameters_file else {}
    )
    parameters.update(dict(args.parameter))
    result = run_notebook(
        args.notebook,
        parameters,
        output_dir=args.output_dir,
        timeout_s=args.timeout,
        progress=sys.stderr.isatty(),
    )
    _print_result(result, out)
    return 0


def _run_all(args: argparse.Namespace, out: TextIO) -> int:
    """Every notebook, after checking every section; 1 if any run failed."""
    if args.notebook is not None or args.parameter or args.parameters_file is None:
        raise ParameterError(
            "--all takes no NOTEBOOK and no -p; put parameters in the sections of a "
            "YAML file given with -f (see docs/scheduling.md)"
        )
    plan = nightly_plan(load_parameter_file(args.parameters_file), NOTEBOOKS_DIR)
    return run_plan(plan, output_dir=args.output_dir, timeout_s=args.timeout, out=out)


def run_plan(
    plan: list[tuple[Path, dict[str, Any]]],
    *,
    output_dir: Path,
    timeout_s: float,
    out: TextIO,
) -> int:
    """Run each planned notebook, reporting each; 1 if any failed, else 0.

    A failed notebook (a cell failed, or its output folder or ``-latest`` pointer
    could not be used) is reported on ``out`` as ``<name>: FAILED: <reason>`` and
    the next one still runs; the last line counts the successes.
    """
    failures = 0
    for path, parameters in plan:
        try:
            result = run_notebook(
                path,
                parameters,
                output_dir=output_dir,
                timeout_s=timeout_s,
                progress=sys.stderr.isatty(),
            )
        except (NotebookRunError, CapacityError) as error:
            failures += 1
            out.write(f"{path.stem}: FAILED: {error}\n")
            continue
        _print_result(result, out)
    out.write(f"{len(plan) - failures} of {len(plan)} notebooks succeeded\n")
    return 1 if failures else 0


def nightly_plan(
    document: dict[str, Any], notebooks_dir: Path
) -> list[tuple[Path, dict[str, Any]]]:
    """Each notebook in ``notebooks_dir`` with its checked parameters from a file.

    Parameters
    ----------
    document : dict
        The ``--all`` YAML: sections named after notebooks, plus ``shared``.
    notebooks_dir : Path
        Folder whose ``*.ipynb`` files all run, in name order.

    Returns
    -------
    list of (Path, dict)
        The notebook and the parameters to inject (shared keys it declares, then its
        own section).

    Raises
    ------
    ParameterError
        A section for no notebook, a shared key no notebook declares, a section that
        is not a mapping, or a value that fails its notebook's check.
    """
    paths = sorted(notebooks_dir.glob("*.ipynb"))
    sections = {name: _section(document, name) for name in document}
    shared = sections.pop(SHARED_SECTION, {})
    unknown = sorted(set(sections) - {path.stem for path in paths})
    if unknown:
        raise ParameterError(
            f"sections {unknown} name no notebook in '{notebooks_dir}'; use the "
            f"names {[path.stem for path in paths]} or '{SHARED_SECTION}'"
        )

    plan = []
    declared_anywhere: set[str] = set()
    for path in paths:
        declared = notebook_parameters(path)
        names = {parameter.name for parameter in declared}
        declared_anywhere |= names
        given = {k: v for k, v in shared.items() if k in names}
        given.update(sections.get(path.stem, {}))
        checked = check_parameters(declared, given, path.stem)
        defaults = {parameter.name: parameter.default for parameter in declared}
        check_notebook_values(path.stem, defaults | checked)
        plan.append((path, checked))
    unused = sorted(set(shared) - declared_anywhere)
    if unused:
        raise ParameterError(
            f"shared keys {unused} are declared by no notebook; check the spelling "
            "with 'capacity notebooks'"
        )
    return plan


def _section(document: dict[str, Any], name: str) -> dict[str, Any]:
    """One section of the ``--all`` file, which must be a mapping (or empty)."""
    section = document[name]
    if section is None or section == "":
        return {}
    if not isinstance(section, dict):
        raise ParameterError(
            f"section '{name}' of the parameters file must be a mapping of "
            f"NAME: VALUE, got {section!r}; indent its parameters under it"
        )
    return section


def _print_result(result: RunResult, out: TextIO) -> None:
    """The report folder, then one headline number per line."""
    out.write(f"{result.notebook}: {result.run_dir}\n")
    for key, value in result.results.items():
        out.write(f"  {key} = {json.dumps(value)}\n")
