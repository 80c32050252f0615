"""The ``capacity`` command: one sub-command per module in ``capacity.commands``.

Each command module defines ``add_parser(subparsers)`` and ``run(args, out) -> int``;
it writes its output to ``out`` and raises :class:`capacity.errors.CapacityError`
for bad input, which this module turns into one line on stderr and exit status 2.
Only the command being run is imported (the notebook runner alone costs seconds to
import); the others appear in ``capacity --help`` by the one-line help kept here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from capacity import __version__
from capacity.errors import CapacityError, NotebookRunError, Terminated

COMMANDS = {
    "catalog": "list instance types with their CPU-credit rules and prices",
    "credits": "replay CPU phases through a burstable instance's credit ledger",
    "breakeven": "breakeven average CPU of unlimited bursting against a fixed type",
    "inspect": "summarise a CloudWatch export: span, step, repairs, values, demand",
    "rollout": "simulate an ECS rolling deployment behind an ALB, second by second",
    "recommend": "cheapest type, count and credit mode that meet the constraints",
    "run": "execute a notebook into a dated HTML/CSV/JSON report folder",
    "notebooks": "list the notebooks and their parameters",
    "lab": "open JupyterLab on notebooks/ with the project's kernel",
}


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the argument and the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's module is imported."""
    parser = OneLineParser(
        prog="capacity",
        description="Capacity planning for AWS EC2 fleets: burstable against fixed.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    for name, help_text in COMMANDS.items():
        if only is None or name == only:
            module = importlib.import_module(f"capacity.commands.{name}")
            module.add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def chosen_command(argv: Sequence[str]) -> str:
    """The command named first on the command line ("" if none is)."""
    return next((word for word in argv if word in COMMANDS), "")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=chosen_command(words))
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    try:
        status: int = args.run(args, out or sys.stdout)
    except CapacityError as error:
        print(f"capacity {args.command}: error: {error}", file=sys.stderr)
        return 2
    except NotebookRunError as error:
        print(f"capacity {args.command}: failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:
        print(f"capacity {args.command}: interrupted", file=sys.stderr)
        return 143 if isinstance(stop, Terminated) else 130
    return status
