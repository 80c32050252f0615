"""``capacity lab``: JupyterLab on ``notebooks/`` with the project's Python kernel.

The server runs from this environment's Python, so the ``python3`` kernel it offers
is this environment's interpreter with ``capacity`` importable; nothing else needs
setting up. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any, TextIO

from capacity.errors import ParameterError
from capacity.report import NOTEBOOKS_DIR

NAME = "lab"


def add_parser(subparsers: Any) -> None:
    """Register ``capacity lab``."""
    parser = subparsers.add_parser(
        NAME,
        help="open JupyterLab on notebooks/ with the project's kernel",
        description=(
            "Start JupyterLab on notebooks/ at 127.0.0.1 with this environment's "
            "python3 kernel. Stop it with Ctrl-C."
        ),
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a web browser"
    )
    parser.add_argument("--port", type=int, default=8888, help="default: 8888")
    parser.set_defaults(run=run)


def lab_command(port: int, open_browser: bool) -> list[str]:
    """The JupyterLab command line ``capacity lab`` runs.

    Raises
    ------
    ParameterError
        If ``port`` is outside 1..65535.
    """
    if not 0 < port < 65536:
        raise ParameterError(
            f"--port must be within 1..65535, got {port}; try the default 8888"
        )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={NOTEBOOKS_DIR}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--MappingKernelManager.default_kernel_name=python3",
        # No calls home: no PyPI extension search, no update or news checks.
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI often run as root; the server listens on loopback only.
        command.append("--ServerApp.allow_root=True")
    return command


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run JupyterLab until it stops; return its exit status."""
    command = lab_command(args.port, not args.no_browser)
    out.write(f"JupyterLab on {NOTEBOOKS_DIR} at http://127.0.0.1:{args.port}/lab\n")
    out.flush()
    server = subprocess.Popen(command)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()
