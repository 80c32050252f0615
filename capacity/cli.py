"""The ``capacity`` command: one sub-command per module in ``capacity.commands``.

Each command module defines ``add_parser(subparsers)`` and ``run(args, out) -> int``;
it writes its output to ``out`` and raises :class:`capacity.errors.CapacityError`
for bad input, which this module turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from capacity import __version__
from capacity.errors import CapacityError, NotebookRunError

COMMANDS = (
    "catalog",
    "credits",
    "breakeven",
    "inspect",
    "rollout",
    "recommend",
    "run",
    "notebooks",
    "lab",
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the argument and the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every sub-command registered."""
    parser = OneLineParser(
        prog="capacity",
        description="Capacity planning for AWS EC2 fleets: burstable against fixed.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    for name in COMMANDS:
        module = importlib.import_module(f"capacity.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except KeyboardInterrupt:
        print(f"capacity {args.command}: interrupted", file=sys.stderr)
        return 130
    return status
