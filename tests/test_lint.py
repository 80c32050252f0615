"""The code passes the project's formatter, linter and type checker.

They run here so that the README's one test command checks everything CI checks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE = ["capacity", "tests", "benchmarks", "scripts"]


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's tools as a module, from the repository's root."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("ruff", "format", "--check", *CODE),
        ("ruff", "check", *CODE),
        ("mypy",),
    ],
    ids=["ruff-format", "ruff-check", "mypy"],
)
def test_tool_is_clean(args: tuple[str, ...]) -> None:
    result = run_tool(*args)

    assert result.returncode == 0, result.stdout + result.stderr
