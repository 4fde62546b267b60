"""Merging per-release matrices into one `Compatibility`: rows, first appearance, changes, regressions."""

from __future__ import annotations

from simulators.coze import DEFAULT_PLATFORM, PLATFORMS, PlatformName

from ..matrix import LOADING_FACT, VERDICT_RANK, Capability, FramingOutcome, FramingResult, Mode, Verdict
from .contracts import diff_contracts, rejections, shapes
from .load import Loaded
from .model import (
    AVAILABLE,
    FRAMING_RANK,
    Change,
    Compatibility,
    Finding,
    FramingCell,
    FramingChange,
    FramingRow,
    Regression,
    RequestShape,
    Row,
    VersionCell,
    VersionColumn,
)


def _column(item: Loaded) -> VersionColumn:
    column = VersionColumn(version=item.version, source=item.shown_source, failure=item.failure)
    if item.matrix is not None:
        column.label = item.matrix.sdk_label
        column.python_version = item.matrix.runtime or item.matrix.python_version
        column.generated_at = item.matrix.generated_at
        column.crashes = [f"{crash.probe}: {crash.error}" for crash in item.matrix.crashes]
    return column


def _row(platform: PlatformName, capability: Capability, mode: Mode, loaded: list[Loaded]) -> Row:
    row = Row(platform=platform, capability=capability, mode=mode)
    for item in loaded:
        found = item.matrix.cell(capability, mode, platform) if item.matrix is not None else None
        row.cells[item.version] = VersionCell(verdict=found.verdict, reason=found.reason) if found else VersionCell()
    previous: tuple[str, Verdict] | None = None
    for version, cell in row.cells.items():
        verdict = cell.verdict
        if verdict is None:  # no verdict: neither a change nor a regression (the failure is its own finding)
            continue
        if row.first_appeared is None and verdict in AVAILABLE:
            row.first_appeared = version
        if previous is not None and previous[1] != verdict:
            before = previous[1]
            row.changes.append(
                Change(
                    previous=previous[0],
                    version=version,
                    before=before,
                    after=verdict,
                    regression=VERDICT_RANK[verdict] < VERDICT_RANK[before],
                )
            )
        previous = (version, verdict)
    return row


def _framing_result(item: Loaded, variant: str, stream: str) -> FramingResult | None:
    if item.matrix is None:
        return None
    return next((r for r in item.matrix.framing if (r.variant, r.stream) == (variant, stream)), None)


def _framing_rows(loaded: list[Loaded]) -> list[FramingRow]:
    """One row per (variant, stream) any release ran, in the order the probe ran them."""
    rows: dict[tuple[str, str], FramingRow] = {}
    for item in loaded:
        for result in item.matrix.framing if item.matrix is not None else []:
            key = (result.variant, result.stream)
            if key not in rows:
                rows[key] = FramingRow(variant=result.variant, stream=result.stream, description=result.description)
    for row in rows.values():
        previous: tuple[str, FramingOutcome] | None = None
        for item in loaded:
            found = _framing_result(item, row.variant, row.stream)
            if found is None:
                row.cells[item.version] = FramingCell()
                continue
            detail = f"{found.detail}: {found.error}" if found.error else found.detail
            row.cells[item.version] = FramingCell(outcome=found.outcome, detail=detail)
            if found.outcome not in FRAMING_RANK:  # not run: neither a change nor a regression
                continue
            if row.first_survived is None and found.outcome == "survives":
                row.first_survived = item.version
            if previous is not None and previous[1] != found.outcome:
                before = previous[1]
                row.changes.append(
                    FramingChange(
                        previous=previous[0],
                        version=item.version,
                        before=before,
                        after=found.outcome,
                        regression=FRAMING_RANK[found.outcome] < FRAMING_RANK[before],
                    )
                )
            previous = (item.version, found.outcome)
    return list(rows.values())


def _findings(loaded: list[Loaded]) -> list[Finding]:
    findings: list[Finding] = []
    for item in loaded:
        if item.failure is not None:
            last = (item.failure.error.strip().splitlines() or [""])[-1]
            detail = f"the sweep failed at {item.failure.stage}: {last}"
            findings.append(Finding(kind="release-failed", version=item.version, detail=detail))
        if item.matrix is not None:
            for crash in item.matrix.crashes:
                detail = f"probe {crash.probe} crashed on {crash.platform} (its cells have no verdict): {crash.error}"
                findings.append(Finding(kind="probe-crashed", version=item.version, detail=detail))
            first = item.matrix.platforms[0] if item.matrix.platforms else DEFAULT_PLATFORM
            loading = {
                str(fact.value)
                for evidence in item.matrix.evidence.values()
                for fact in evidence.sdk_facts
                if fact.subject == LOADING_FACT
            }
            for detail in sorted(loading):
                findings.append(Finding(kind="release-packaging", version=item.version, detail=detail))
            for evidence in item.matrix.evidence.values():
                if evidence.id in _READ_BACK and evidence.platform == first and evidence.error:
                    detail = f"{evidence.summary}: {evidence.error} (evidence {evidence.id}, {evidence.platform})"
                    findings.append(Finding(kind="response-unreadable", version=item.version, detail=detail))
    return findings


_READ_BACK = ("workflow-run-history",)
"""Evidence of a probe reading an answer back (probes/workflow.py RUN_HISTORY_EVIDENCE): a release that
raised while parsing it cannot read that answer at all, which no cell shows, so it is a finding."""


def merge_by_sdk(loaded: list[Loaded]) -> list[Compatibility]:
    """One `Compatibility` per SDK among the releases, cozepy's first, then the others by name."""
    sdks = sorted({item.sdk for item in loaded}, key=lambda sdk: (sdk != "cozepy", sdk))
    return [merge(sorted((item for item in loaded if item.sdk == sdk), key=lambda item: item.sort_key)) for sdk in sdks]


def merge(loaded: list[Loaded]) -> Compatibility:
    """One `Compatibility` from one SDK's releases sorted oldest first (as `load_dir` returns them)."""
    sdks = sorted({item.sdk for item in loaded})
    if len(sdks) > 1:
        raise ValueError(f"merge one SDK's releases at a time (got {', '.join(sdks)}): see merge_by_sdk")
    compat = Compatibility(sdk=sdks[0] if sdks else "cozepy", versions=[_column(item) for item in loaded])
    present = {
        (cell.platform, cell.capability, cell.mode) for item in loaded if item.matrix for cell in item.matrix.cells
    }
    for platform in PLATFORMS:
        for mode in Mode:
            for capability in Capability:
                if (platform, capability, mode) in present:
                    compat.rows.append(_row(platform, capability, mode, loaded))
    for row in compat.rows:
        for change in row.changes:
            if change.regression:
                compat.regressions.append(
                    Regression(
                        platform=row.platform,
                        capability=row.capability,
                        mode=row.mode,
                        previous=change.previous,
                        version=change.version,
                        before=change.before,
                        after=change.after,
                        reason=row.cells[change.version].reason,
                    )
                )
    compat.framing = _framing_rows(loaded)
    compat.findings = _findings(loaded)
    previous: tuple[str, list[RequestShape]] | None = None
    for item in loaded:
        if item.matrix is None:
            continue
        current = shapes(item.matrix)
        compat.contracts[item.version] = current
        found = rejections(item.version, item.matrix)
        compat.rejections += found
        for rejection in found:
            code = f"code {rejection.code}" if rejection.code is not None else f"HTTP {rejection.status}"
            compat.findings.append(
                Finding(
                    kind="request-rejected",
                    version=item.version,
                    detail=f"{rejection.flow}: {rejection.method} {rejection.path} was refused ({code}): "
                    + rejection.msg,
                )
            )
        if previous is not None:
            compat.contract_changes += diff_contracts(previous[0], item.version, previous[1], current)
        previous = (item.version, current)
    return compat
