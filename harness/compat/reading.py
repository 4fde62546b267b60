"""What the compatibility views (Markdown and HTML) tell a reader first, and how they keep it short:
the answer for the newest release, findings grouped by what they say, reasons as runs of releases.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..matrix import Capability, Mode, Verdict
from ..report.summary import PlatformAnswer, answer_for
from .model import Compatibility, Row


def newest_decided(compat: Compatibility) -> str | None:
    """The newest release with at least one verdict (a newest release that failed to run has none)."""
    for name in reversed(compat.version_names):
        if any(row.cells.get(name) is not None and row.cells[name].verdict is not None for row in compat.rows):
            return name
    return None


def answers_at(compat: Compatibility, version: str) -> list[PlatformAnswer]:
    """The matrix report's answer (`harness.report.summary`), from the cells of one release."""

    def lookup(capability: Capability, mode: Mode, platform: str) -> tuple[Verdict, str] | None:
        row = compat.row(capability, mode, platform)
        cell = row.cells.get(version) if row is not None else None
        return (cell.verdict, cell.reason) if cell is not None and cell.verdict is not None else None

    return [answer_for(lookup, platform, compat.platforms, compat.sdk) for platform in compat.platforms]


def since(compat: Compatibility, answer: PlatformAnswer, version: str) -> list[str]:
    """For each group of modes that can call local code at `version`: the release from which all of them
    have been able to, without a break, up to `version`."""
    order = compat.version_names
    found = []
    for group in answer.of("can"):
        starts = []
        for mode in group.modes:
            row = compat.row(Capability.LOCAL_CODE, mode, answer.platform)
            start = None
            for name in reversed(order[: order.index(version) + 1]):
                cell = row.cells.get(name) if row is not None else None
                if cell is None or cell.verdict not in (Verdict.SUPPORTED, Verdict.WORKAROUND):
                    break
                start = name
            starts.append(start)
        if starts and all(starts):
            first = max((name for name in starts if name), key=order.index)
            found.append(f"{group.label} can since {compat.sdk} {first}")
    return found


def releases(compat: Compatibility, names: list[str]) -> str:
    """Releases as runs of consecutive ones: `0.2.0 .. 0.5.0, 0.7.0`."""
    order = compat.version_names
    runs: list[list[str]] = []
    for name in sorted(names, key=order.index):
        if runs and order.index(name) == order.index(runs[-1][-1]) + 1:
            runs[-1].append(name)
        else:
            runs.append([name])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]} .. {run[-1]}" for run in runs)


@dataclass(frozen=True)
class FindingGroup:
    kind: str
    detail: str
    versions: list[str]


def grouped_findings(compat: Compatibility) -> list[FindingGroup]:
    """Findings that say the same thing, once, with the releases they hold for."""
    groups: dict[tuple[str, str], list[str]] = {}
    for item in compat.findings:
        groups.setdefault((item.kind, item.detail), []).append(item.version)
    return [FindingGroup(kind, detail, versions) for (kind, detail), versions in groups.items()]


@dataclass(frozen=True)
class Stretch:
    """Consecutive releases in which a row had the same verdict for the same reason."""

    first: str
    last: str
    verdict: Verdict | None
    reason: str

    @property
    def releases(self) -> str:
        return self.first if self.first == self.last else f"{self.first} .. {self.last}"


def stretches(row: Row, names: list[str]) -> list[Stretch]:
    found: list[Stretch] = []
    for name in names:
        cell = row.cells.get(name)
        verdict, reason = (cell.verdict, cell.reason) if cell is not None else (None, "")
        if found and found[-1].verdict == verdict and found[-1].reason == reason:
            found[-1] = Stretch(found[-1].first, name, verdict, reason)
        else:
            found.append(Stretch(name, name, verdict, reason))
    return found
