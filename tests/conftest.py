"""Shared fixtures: where the real third-party inputs live, and the project root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time (a failure there reproduces), with no example
# database carried between runs and no per-example deadline on a shared 2-core machine.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root_dir() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the clone; tests that need it skip where it is absent."""
    if not (SHARED / "data-real").is_dir():
        pytest.skip(f"real inputs not found at {SHARED}/data-real (a user's clone)")
    return SHARED


@pytest.fixture(scope="session")
def nab_dir(shared_dir: Path) -> Path:
    """The NAB CloudWatch exports in ``../shared/data-real/nab``."""
    return shared_dir / "data-real" / "nab"
