"""The upgrade gate: a new merge against a committed `compatibility.json`.

A cell fails the gate when its verdict ranks lower than the baseline's for the same release (the
simulator, the harness or a re-published release changed), or when the newest release of the new
merge ranks lower than the newest release of the baseline (an upgrade took something away). A cell
with no verdict now (its release failed, its probe crashed) ranks below every verdict. Framing
robustness is gated the same way: a release that reads a spec-legal variant worse than the baseline
did (survives > misreads > fails > not run) fails it too, since the platform may start sending it.
"""

from __future__ import annotations

from packaging.version import Version
from pydantic import BaseModel

from .model import FRAMING_RANK, Compatibility, framing_rank, rank


class GateFailure(BaseModel):
    sdk: str = "cozepy"
    cell: str  # "cloud: chat-stream / local-code-reachable" or "framing: workflow / comment-keepalive"
    version: str
    baseline_version: str
    before: str | None  # a verdict or a framing outcome; None: none
    after: str | None
    why: str

    def line(self) -> str:
        before = self.before or "no verdict"
        after = self.after or "no verdict"
        where = (
            f"{self.sdk} {self.version}"
            if self.version == self.baseline_version
            else f"{self.sdk} {self.version} (newest) vs baseline {self.sdk} {self.baseline_version} (newest)"
        )
        return f"{self.cell} at {where}: baseline {before}, now {after} ({self.why})"


def _pairs(baseline: Compatibility, current: Compatibility) -> list[tuple[str, str, str]]:
    """(baseline release, current release, why): every release both hold, then newest against newest."""
    pairs = [(v, v, "same release got worse") for v in current.version_names if v in set(baseline.version_names)]
    newest_now = max(current.version_names, key=Version, default=None)
    newest_before = max(baseline.version_names, key=Version, default=None)
    if newest_now is not None and newest_before is not None and newest_now != newest_before:
        pairs.append((newest_before, newest_now, "the newest release is worse than the baseline's newest"))
    return pairs


def gate(baseline: Compatibility, current: Compatibility) -> list[GateFailure]:
    if baseline.sdk != current.sdk:
        raise ValueError(f"a {baseline.sdk} baseline gates a {baseline.sdk} merge, not {current.sdk}'s")
    failures: list[GateFailure] = []
    pairs = _pairs(baseline, current)
    for row in baseline.rows:
        for before_version, version, why in pairs:
            before = row.cells.get(before_version)
            if before is None or before.verdict is None:
                continue
            after = current.verdict(row.capability, row.mode, version, row.platform)
            if rank(after) < rank(before.verdict):
                failures.append(
                    GateFailure(
                        sdk=current.sdk,
                        cell=row.name,
                        version=version,
                        baseline_version=before_version,
                        before=before.verdict.value,
                        after=after.value if after is not None else None,
                        why=why,
                    )
                )
    for framing in baseline.framing:
        now = current.framing_row(framing.variant, framing.stream)
        for before_version, version, why in pairs:
            was = framing.cells.get(before_version)
            if was is None or was.outcome not in FRAMING_RANK:
                continue
            cell = now.cells.get(version) if now is not None else None
            outcome = cell.outcome if cell is not None else None
            if framing_rank(outcome) < framing_rank(was.outcome):
                failures.append(
                    GateFailure(
                        sdk=current.sdk,
                        cell=framing.name,
                        version=version,
                        baseline_version=before_version,
                        before=was.outcome,
                        after=outcome,
                        why=why,
                    )
                )
    return failures
