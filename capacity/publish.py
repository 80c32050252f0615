"""How a notebook hands its tables and headline numbers to the report runner.

A notebook calls :func:`publish_table` and :func:`publish_result`. The runner
(:mod:`capacity.report`) tells the kernel where to write through the environment
variable ``CAPACITY_PUBLISH_DIR`` (a private staging folder inside the run folder) and
moves the files into place with :func:`collect_tables` and :func:`collect_results`
only when every cell succeeded. Outside a run (a planner in JupyterLab) the variable is
unset and the two functions only check their arguments and return, so the notebook
runs unchanged. This module is all a report kernel imports of the runner, so it stays
light.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any, TextIO

from capacity.errors import ParameterError

PUBLISH_DIR_ENV = "CAPACITY_PUBLISH_DIR"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def publish_table(name: str, table: Any) -> Any:
    """Hand a table to the runner as ``tables/<name>.csv``; return it for display.

    Parameters
    ----------
    name : str
        Lower-case snake-case name of the CSV file.
    table : pandas.DataFrame
        The table; its index is written when it is named.

    Returns
    -------
    pandas.DataFrame
        ``table`` itself, so a notebook cell can end with this call to show it.

    Raises
    ------
    ParameterError
        If ``name`` is not lower-case snake case.

    Examples
    --------
    >>> import pandas as pd
    >>> publish_table("options", pd.DataFrame({"monthly_usd": [60.9]})).shape
    (1, 1)
    """
    folder = _publish_dir(name)
    if folder is not None:
        has_named_index = any(level is not None for level in table.index.names)
        table.to_csv(folder / f"{name}.csv", index=has_named_index)
    return table


def publish_result(name: str, value: float | int | str | bool | None) -> None:
    """Hand one headline number (or short text) to the runner's ``results.json``.

    Parameters
    ----------
    name : str
        Lower-case snake-case key carrying its unit, e.g. ``monthly_usd``.
    value : float, int, str, bool or None
        The value; numpy scalars are accepted, NaN and inf are written as null.

    Raises
    ------
    ParameterError
        If ``name`` is not snake case or ``value`` is not a scalar.
    """
    folder = _publish_dir(name)
    scalar = _json_scalar(name, value)
    if folder is not None:
        with (folder / "results.jsonl").open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({name: scalar}) + "\n")


def _publish_dir(name: str) -> Path | None:
    """The staging folder of the current run, or None outside a run."""
    if not _NAME.fullmatch(name):
        raise ParameterError(
            f"published name {name!r} must be lower-case snake case such as "
            "'monthly_usd'; rename it"
        )
    folder = os.environ.get(PUBLISH_DIR_ENV)
    return Path(folder) if folder else None


def _json_scalar(name: str, value: Any) -> float | int | str | bool | None:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN and inf as None."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ParameterError(
        f"published result {name!r} must be a number, text, bool or None, got "
        f"{type(value).__name__}; publish a table for structured values"
    )


def collect_tables(staging: Path, tables_dir: Path) -> dict[str, Path]:
    """Move the published CSV files into ``tables/``."""
    tables: dict[str, Path] = {}
    for csv_path in sorted(staging.glob("*.csv")):
        tables_dir.mkdir(exist_ok=True)
        tables[csv_path.stem] = Path(shutil.move(csv_path, tables_dir / csv_path.name))
    return tables


def collect_results(staging: Path) -> dict[str, Any]:
    """The published results, in order; a later value of a name replaces it."""
    results: dict[str, Any] = {}
    lines_path = staging / "results.jsonl"
    if lines_path.exists():
        for line in lines_path.read_text(encoding="utf-8").splitlines():
            results.update(json.loads(line))
    return results


def note_warnings() -> None:
    """Show warnings in a report as short notes, not as Python source text.

    A warning in a notebook otherwise prints as ``path:line: CapacityWarning: ...``
    with the source line, in a red block in the middle of the report. After this
    call (a notebook makes it once, after its imports) each warning shows as one
    quoted note that says what to check in the input.
    """
    from IPython.display import HTML, display

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = html.escape(str(message))
        display(HTML(f"<blockquote><b>Check the input.</b> {text}</blockquote>"))

    warnings.showwarning = show
