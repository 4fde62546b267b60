"""The upgrade gate: a new merge against a committed `compatibility.json`.

A cell fails the gate when its verdict ranks lower than the baseline's for the same release (the
simulator, the harness or a re-published release changed), or when the newest release of the new
merge ranks lower than the newest release of the baseline (an upgrade took something away). A cell
with no verdict now (its release failed, its probe crashed) ranks below every verdict.
"""

from __future__ import annotations

from packaging.version import Version
from pydantic import BaseModel

from ..matrix import Verdict
from .model import Compatibility, rank


class GateFailure(BaseModel):
    capability: str
    mode: str
    version: str
    baseline_version: str
    before: Verdict | None
    after: Verdict | None
    why: str

    def line(self) -> str:
        before = self.before.value if self.before else "no verdict"
        after = self.after.value if self.after else "no verdict"
        where = (
            f"cozepy {self.version}"
            if self.version == self.baseline_version
            else f"cozepy {self.version} (newest) vs baseline cozepy {self.baseline_version} (newest)"
        )
        return f"{self.mode} / {self.capability} at {where}: baseline {before}, now {after} ({self.why})"


def gate(baseline: Compatibility, current: Compatibility) -> list[GateFailure]:
    failures: list[GateFailure] = []
    shared = [version for version in current.version_names if version in set(baseline.version_names)]
    newest_now = max(current.version_names, key=Version, default=None)
    newest_before = max(baseline.version_names, key=Version, default=None)
    for row in baseline.rows:
        for version in shared:
            before = row.cells.get(version)
            if before is None or before.verdict is None:
                continue
            after = current.verdict(row.capability, row.mode, version)
            if rank(after) < rank(before.verdict):
                failures.append(
                    GateFailure(
                        capability=row.capability.value,
                        mode=row.mode.value,
                        version=version,
                        baseline_version=version,
                        before=before.verdict,
                        after=after,
                        why="same release got worse",
                    )
                )
        if newest_now is None or newest_before is None or newest_now == newest_before:
            continue  # the same newest release: already compared above
        before_cell = row.cells.get(newest_before)
        if before_cell is None or before_cell.verdict is None:
            continue
        after = current.verdict(row.capability, row.mode, newest_now)
        if rank(after) < rank(before_cell.verdict):
            failures.append(
                GateFailure(
                    capability=row.capability.value,
                    mode=row.mode.value,
                    version=newest_now,
                    baseline_version=newest_before,
                    before=before_cell.verdict,
                    after=after,
                    why="the newest release is worse than the baseline's newest",
                )
            )
    return failures
