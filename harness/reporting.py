"""The main job: start the simulator (and the bridge), run the probes, write the matrix."""

from __future__ import annotations

from collections.abc import Callable

from simulators.coze import DEFAULT_TOKEN, Catalogue, SimConfig, TokenGrant, coverage, create_app, local_tls, running

from .bridge import create_bridge_app
from .matrix import CAPABILITY_TITLES, MODE_TITLES, Capability, CoverageNote, Matrix, Mode
from .probes import ProbeContext, demo_tools, run_probes

BRIDGE_TOKEN = None  # the simulator's http node sends no Authorization header of its own


def summary_table(matrix: Matrix) -> str:
    """A plain-text view of the matrix for the terminal."""
    modes = [mode for mode in Mode if any(cell.mode == mode for cell in matrix.cells)]
    width = max(len(title) for title in CAPABILITY_TITLES.values())
    header = " " * width + " | " + " | ".join(MODE_TITLES[mode] for mode in modes)
    label = f" ({matrix.sdk_label})" if matrix.sdk_label else ""
    lines = [f"cozepy {matrix.sdk_version}{label}: capability matrix", header, "-" * len(header)]
    for capability in Capability:
        row = []
        for mode in modes:
            cell = matrix.cell(capability, mode)
            row.append((cell.verdict.value if cell else "").ljust(len(MODE_TITLES[mode])))
        lines.append(CAPABILITY_TITLES[capability].ljust(width) + " | " + " | ".join(row))
    return "\n".join(lines)


def coverage_notes() -> list[CoverageNote]:
    """The simulator's coverage ceiling, as the report states it."""
    ceiling = coverage()
    return [
        CoverageNote(area=item.area, detail=item.detail, modelled=modelled, modes=item.modes)
        for modelled, items in ((True, ceiling.modelled), (False, ceiling.not_modelled))
        for item in items
    ]


def run_report(
    probes: list[str] | None = None,
    sdk_label: str = "",
    progress: Callable[[str], None] | None = None,
    token: str = DEFAULT_TOKEN,
) -> Matrix:
    """Start the simulator and the bridge on loopback, run the probes, stop both, return the matrix.

    `token` is the one the simulator accepts and the probes send; it never appears in the matrix.
    """
    catalogue = Catalogue.builtin()
    ids = {entry["name"]: entry["id"] for entry in catalogue.entries()}
    bridge_app = create_bridge_app(demo_tools.bridged, token=BRIDGE_TOKEN, errors="body")
    app = create_app(catalogue, SimConfig(tokens=[TokenGrant(token=token)]))
    with local_tls() as tls, running(app) as sim, running(app, tls=tls) as secure, running(bridge_app) as bridge:
        if progress:
            progress(f"simulator on {sim.base_url} and {secure.base_url}, bridge on {bridge.base_url}")
        ctx = ProbeContext(
            base_url=sim.base_url,
            token=token,
            bridge_url=bridge.base_url,
            scenario_ids=ids,
            secure_url=secure.base_url,
            ca_file=tls.ca_file,
        )
        matrix = run_probes(ctx, probes, progress)
    matrix.sdk_label = sdk_label
    matrix.coverage = coverage_notes()
    return matrix
