"""The probes judge what a driver observed: they import neither an SDK nor the simulator (DESIGN.md's layout), so
the same probes serve every SDK's driver and the run that starts the simulators (`harness.reporting`) is the one
place that knows it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import harness.probes

pytestmark = pytest.mark.cozepy_free  # reads source files only

PROBES = Path(harness.probes.__file__).parent


def _imported(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PROBES.glob("*.py")), ids=lambda path: path.name)
def test_a_probe_module_imports_neither_an_sdk_nor_the_simulator(path: Path) -> None:
    found = [name for name in _imported(path) if name.split(".")[0] in ("cozepy", "simulators")]
    assert not found, f"{path.name} imports {found}: what a probe needs from the run comes in its ProbeContext"
