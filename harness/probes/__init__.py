"""Probes: each runs something real and returns cells of the capability matrix with their evidence."""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable

from ..matrix import DEFAULT_PLATFORM, Matrix, ProbeCrash
from ._base import FramingTarget, FramingVariant, Probe, ProbeContext, ProbeResult
from ._warnings import sdk_output
from .bridge import probe_workflow_bridge
from .chat import probe_chat_poll, probe_chat_stream
from .framing import probe_framing
from .websocket import note_close_hangs, probe_websocket_chat
from .workflow import probe_chatflow, probe_workflow_resume, probe_workflow_run, probe_workflow_stream

PROBES: dict[str, Probe] = {
    "chat-stream": probe_chat_stream,
    "chat-poll": probe_chat_poll,
    "websocket-chat": probe_websocket_chat,
    "workflow-run": probe_workflow_run,
    "workflow-stream": probe_workflow_stream,
    "workflow-resume": probe_workflow_resume,
    "chatflow": probe_chatflow,
    "workflow-bridge": probe_workflow_bridge,
    "framing": probe_framing,
}
"""Every probe, by the name `--probe` takes; each runs its flows through the SDK's driver (`ProbeContext.driver`)."""

SDK_ONLY = {"framing"}
"""Probes whose findings are about the SDK's parser, not the platform: run on the first platform only."""


def run_probes(
    ctx: ProbeContext,
    names: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    matrix: Matrix | None = None,
    started: Callable[[str], None] | None = None,
) -> Matrix:
    """Run the named probes (all by default) with the SDK of `ctx.driver` against the simulator of `ctx`
    (speaking `ctx.platform`), into `matrix` (a new one for the driver's SDK by default).

    `progress` gets one line per probe when it ends (done or crashed); `started` the step as it begins.
    What the SDK warns or logs while a probe runs goes into that probe's evidence, not to the terminal."""
    platform = ctx.platform
    if ctx.driver is None:
        raise ValueError("run_probes needs ProbeContext.driver: the SDK to run (harness.drivers)")
    chosen = names or list(PROBES)
    unknown = [name for name in chosen if name not in PROBES]
    if unknown:
        raise KeyError(f"unknown probe(s) {unknown}; choose from {', '.join(PROBES)}")
    if matrix is None:
        runtime = getattr(ctx.driver, "runtime", "")
        matrix = Matrix(sdk=ctx.driver.sdk, sdk_version=ctx.driver.sdk_version, runtime=runtime, platforms=[])
    if matrix.platforms:
        chosen = [name for name in chosen if name not in SDK_ONLY]
    matrix.platforms.append(platform)
    tag = "" if platform == DEFAULT_PLATFORM else f"{platform} "
    for number, name in enumerate(chosen, 1):
        step = f"[{tag}{number}/{len(chosen)}] {name}"
        if started is not None:
            started(f"{step} ...")
        began = time.monotonic()
        try:
            with sdk_output() as said:
                result = PROBES[name](ctx)
        except Exception as exc:  # a crash is reported, not a verdict: the other probes still run
            matrix.crashes.append(
                ProbeCrash(
                    probe=name,
                    platform=platform,
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(),
                )
            )
            if progress:
                progress(f"{step} CRASHED after {time.monotonic() - began:.1f} s: {exc!r}")
            continue
        evidence = [item.model_copy(update={"sdk_warnings": [*item.sdk_warnings, *said]}) for item in result.evidence]
        matrix.add(result.cells, evidence, platform)
        matrix.framing.extend(result.framing)
        if progress:
            counts = Counter(cell.verdict.value for cell in result.cells)
            counts.update(item.outcome for item in result.framing)
            tally = ", ".join(f"{count} {verdict}" for verdict, count in sorted(counts.items()))
            progress(f"{step} done in {time.monotonic() - began:.1f} s: {tally}")
        for stream in result.streams:
            covered = matrix.grammar.setdefault(tag + stream.grammar, [])
            covered.extend(t for t in stream.transitions if t not in covered)
            if stream.violation:
                covered.append(f"VIOLATION: {stream.violation}")
    # What flows left finishing in the background (websocket connections still closing) went on beside the
    # later probes; it is waited for here, once, and what hung is added to the websocket chat's cells.
    note_close_hangs(matrix, platform, ctx.driver.settle())
    return matrix


__all__ = ["PROBES", "FramingTarget", "FramingVariant", "ProbeContext", "ProbeResult", "run_probes"]
