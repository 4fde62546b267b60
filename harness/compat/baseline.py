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
    platform: str
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
        return (
            f"{self.platform}: {self.mode} / {self.capability} at {where}: baseline {before}, now {after} ({self.why})"
        )


def gate(baseline: Compatibility, current: Compatibility) -> list[GateFailure]:
    failures: list[GateFailure] = []
    # (baseline release, current release, why): every release both hold, then newest against newest
    pairs = [(v, v, "same release got worse") for v in current.version_names if v in set(baseline.version_names)]
    newest_now = max(current.version_names, key=Version, default=None)
    newest_before = max(baseline.version_names, key=Version, default=None)
    if newest_now is not None and newest_before is not None and newest_now != newest_before:
        pairs.append((newest_before, newest_now, "the newest release is worse than the baseline's newest"))
    for row in baseline.rows:
        for before_version, version, why in pairs:
            before = row.cells.get(before_version)
            if before is None or before.verdict is None:
                continue
            after = current.verdict(row.capability, row.mode, version, row.platform)
            if rank(after) < rank(before.verdict):
                failures.append(
                    GateFailure(
                        platform=row.platform,
                        capability=row.capability.value,
                        mode=row.mode.value,
                        version=version,
                        baseline_version=before_version,
                        before=before.verdict,
                        after=after,
                        why=why,
                    )
                )
    return failures
