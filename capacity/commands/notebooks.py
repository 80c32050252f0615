"""``capacity notebooks``: each notebook with its parameters, types, defaults, help."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from capacity.report import NOTEBOOKS_DIR
from capacity.report_parameters import notebook_parameters

NAME = "notebooks"


def add_parser(subparsers: Any) -> None:
    """Register ``capacity notebooks``."""
    parser = subparsers.add_parser(
        NAME,
        help="list the notebooks and their parameters",
        description=(
            "List every notebook in notebooks/ with each parameter's name, type, "
            "default and help, as 'capacity run NAME -p NAME VALUE' accepts them."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the notebooks and their parameters."""
    listing = {
        path.stem: notebook_parameters(path)
        for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    }
    if args.json:
        document = {
            stem: [parameter._asdict() for parameter in parameters]
            for stem, parameters in listing.items()
        }
        out.write(json.dumps(document, indent=2) + "\n")
        return 0

    for stem, parameters in listing.items():
        out.write(f"{stem}\n")
        for name, type_name, default, help_text in parameters:
            out.write(f"  {name}: {type_name} = {default!r}  # {help_text}\n")
    return 0
