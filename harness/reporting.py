"""The main job: start the simulator (and the bridge), run the probes, write the matrix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulators.coze import DEFAULT_TOKEN, Catalogue, create_app, running

from .bridge import create_bridge_app
from .matrix import CAPABILITY_TITLES, MODE_TITLES, Capability, Matrix, Mode
from .probes import ProbeContext, demo_tools, run_probes
from .report import write_reports

BRIDGE_TOKEN = None  # the simulator's http node sends no Authorization header of its own


def summary_table(matrix: Matrix) -> str:
    """A plain-text view of the matrix for the terminal."""
    modes = [mode for mode in Mode if any(cell.mode == mode for cell in matrix.cells)]
    width = max(len(title) for title in CAPABILITY_TITLES.values())
    header = " " * width + " | " + " | ".join(MODE_TITLES[mode] for mode in modes)
    lines = [f"cozepy {matrix.sdk_version}: capability matrix", header, "-" * len(header)]
    for capability in Capability:
        row = []
        for mode in modes:
            cell = matrix.cell(capability, mode)
            row.append((cell.verdict.value if cell else "").ljust(len(MODE_TITLES[mode])))
        lines.append(CAPABILITY_TITLES[capability].ljust(width) + " | " + " | ".join(row))
    return "\n".join(lines)


def run_report(
    out: Path,
    formats: tuple[str, ...],
    probes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Path], str]:
    catalogue = Catalogue.builtin()
    ids = {entry["name"]: entry["id"] for entry in catalogue.entries()}
    bridge_app = create_bridge_app(demo_tools.bridged, token=BRIDGE_TOKEN, errors="body")
    with running(create_app(catalogue)) as sim, running(bridge_app) as bridge:
        if progress:
            progress(f"simulator on {sim.base_url}, bridge on {bridge.base_url}")
        ctx = ProbeContext(base_url=sim.base_url, token=DEFAULT_TOKEN, bridge_url=bridge.base_url, scenario_ids=ids)
        matrix = run_probes(ctx, probes, progress)
    written = write_reports(matrix, out, formats)
    return written, summary_table(matrix)
