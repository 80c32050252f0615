"""The package's layers: a module imports only from its own layer or lower ones.

The layers are those of the design (data flows up from the catalog to the reports);
a higher import would tie a model to its presentation, or make a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "capacity"

LAYERS = [
    {"errors"},
    {"catalog"},
    {"workload", "ingest", "ingest_formats", "resample"},
    {"credits", "credit_bucket"},
    {"queueing", "general_queues", "healthcheck", "targets", "fleet", "shedding"},
    {"rollout", "rollout_loop", "incident"},
    {"cost", "breakeven"},
    {"alarms", "params", "screening", "recommend"},
    {"charts", "tables", "publish", "report", "report_parameters", "notebook_checks"},
]
TOP = {"__init__", "__main__", "cli"}  # the command line sits above every layer


def layer_of(module: str) -> int:
    """The layer's index; the command modules and the CLI are above them all."""
    if module in TOP or module.startswith("commands."):
        return len(LAYERS)
    return next(index for index, layer in enumerate(LAYERS) if module in layer)


def imported_modules(path: Path) -> set[str]:
    """The ``capacity`` modules a file imports, by their name inside the package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "capacity":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "capacity."
        ):
            found.add((node.module or "").removeprefix("capacity."))
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix("capacity.")
                for alias in node.names
                if alias.name.startswith("capacity.")
            )
    return found - {"__version__"}


MODULES = sorted(
    str(path.relative_to(PACKAGE).with_suffix("")).replace("/", ".")
    for path in PACKAGE.rglob("*.py")
)


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        if module != "commands.__init__":
            layer_of(module)


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_only_its_own_layer_or_lower(module: str) -> None:
    path = PACKAGE / (module.replace(".", "/") + ".py")
    own = layer_of(module) if module != "commands.__init__" else len(LAYERS)

    higher = {name for name in imported_modules(path) if layer_of(name) > own}

    assert higher == set(), f"{module} imports from a higher layer: {sorted(higher)}"
