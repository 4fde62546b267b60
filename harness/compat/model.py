"""The cross-version compatibility model: one `Compatibility` feeds the markdown, JSON and HTML views.

Columns are cozepy releases (sorted as versions, not as strings), rows are platform x mode x capability,
and each row keeps, per release, the verdict of that release's capability matrix on that platform: a
cell per (release, platform). What changed between two
consecutive releases is derived once, in `merge`, so every view and the baseline gate agree on it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from simulators.coze import DEFAULT_PLATFORM, PlatformName

from ..matrix import SCHEMA_VERSION, VERDICT_RANK, Capability, FramingOutcome, Mode, Verdict

COMPAT_SCHEMA_VERSION = 3  # 2: rows per platform; 3: framing robustness per release

# A verdict that lets a user run local code: the cell "has" the capability from that release on.
AVAILABLE = (Verdict.SUPPORTED, Verdict.WORKAROUND)


def rank(verdict: Verdict | None) -> int:
    """`VERDICT_RANK`, with no verdict at all (the release failed, its probe crashed) ranked lowest."""
    return -1 if verdict is None else VERDICT_RANK[verdict]


FRAMING_RANK: dict[FramingOutcome, int] = {"survives": 2, "misreads": 1, "fails": 0}
"""How well a release reads a framing variant; `not-run` (the canonical stream itself failed) has no rank."""


def framing_rank(outcome: FramingOutcome | None) -> int:
    """`FRAMING_RANK`, with no outcome (not run, the release failed) ranked lowest, as `rank` does."""
    return FRAMING_RANK.get(outcome, -1) if outcome is not None else -1


class VersionFailure(BaseModel):
    """A release the sweep could not report on (written as `failure.json` where its matrix would be)."""

    version: str
    sdk: str = Field("cozepy", description="the SDK of the release: cozepy, coze-js")
    stage: str = Field(description="venv, install or report")
    error: str
    httpx: str = ""


class VersionColumn(BaseModel):
    version: str
    label: str = ""
    python_version: str = ""
    generated_at: str = ""
    source: str = Field("", description="the file this column was read from, relative to the merged folder")
    failure: VersionFailure | None = None
    crashes: list[str] = Field(default_factory=list, description="probes that crashed in this release's run")


class VersionCell(BaseModel):
    verdict: Verdict | None = Field(None, description="None: no verdict (the release failed or its probe crashed)")
    reason: str = ""


class Change(BaseModel):
    """A cell whose verdict differs from the one of the previous release that has a verdict."""

    previous: str
    version: str
    before: Verdict
    after: Verdict
    regression: bool = Field(description="the verdict's rank got worse")


class Row(BaseModel):
    platform: PlatformName = DEFAULT_PLATFORM
    capability: Capability
    mode: Mode
    cells: dict[str, VersionCell] = Field(default_factory=dict, description="version -> cell")
    first_appeared: str | None = Field(
        None, description="the first release where the capability is available (supported or workaround)"
    )
    changes: list[Change] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.platform}: {self.mode.value} / {self.capability.value}"


class FramingCell(BaseModel):
    outcome: FramingOutcome | None = Field(None, description="None: the release has no framing result for it")
    detail: str = Field("", description="what the probe saw (what the SDK read differently), then the SDK's error")


class FramingChange(BaseModel):
    """A framing variant read differently from the previous release that read it."""

    previous: str
    version: str
    before: FramingOutcome
    after: FramingOutcome
    regression: bool = Field(description="the newer release reads the variant worse (survives > misreads > fails)")


class FramingRow(BaseModel):
    """One spec-legal framing variant on one kind of stream, as each release's SDK read it (framing probe)."""

    variant: str
    stream: Literal["chat", "workflow"]
    description: str = ""
    cells: dict[str, FramingCell] = Field(default_factory=dict, description="version -> cell")
    first_survived: str | None = Field(None, description="the first release that reads the variant like the canonical")
    changes: list[FramingChange] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return f"framing: {self.stream} / {self.variant}"


class Regression(BaseModel):
    platform: PlatformName = DEFAULT_PLATFORM
    capability: Capability
    mode: Mode
    previous: str
    version: str
    before: Verdict
    after: Verdict
    reason: str = Field("", description="why the newer release got its verdict")

    @property
    def name(self) -> str:
        return f"{self.platform}: {self.mode.value} / {self.capability.value}"


class RequestShape(BaseModel):
    """What one release sent to one endpoint in one flow: keys and the headers that matter, never values."""

    flow: str = Field(description="the evidence the requests came from (a probe)")
    path: str = Field(description="the path, with ids replaced by {id}")
    methods: list[str]
    query_keys: list[str] = Field(default_factory=list)
    body_keys: list[str] = Field(default_factory=list, description="top-level keys; key[].sub for lists of objects")
    null_body_keys: list[str] = Field(default_factory=list, description="body keys sent with a null value")
    headers: dict[str, str] = Field(
        default_factory=dict, description="content-type, user-agent family, presence of the client UA and of auth"
    )
    requests: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.flow, self.path


class ContractChange(BaseModel):
    flow: str
    path: str
    previous: str
    version: str
    kind: Literal["added", "removed", "changed"]
    details: list[str] = Field(default_factory=list)


class Rejection(BaseModel):
    """A request the simulator refused (HTTP 4xx, or an envelope with a 4000-family code)."""

    version: str
    flow: str
    method: str
    path: str
    status: int | None = None
    code: int | None = None
    msg: str = ""


class Finding(BaseModel):
    kind: Literal["release-failed", "release-packaging", "probe-crashed", "request-rejected", "response-unreadable"]
    version: str
    detail: str


class Compatibility(BaseModel):
    schema_version: int = COMPAT_SCHEMA_VERSION
    matrix_schema_version: int = SCHEMA_VERSION
    sdk: str = "cozepy"
    generated_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    versions: list[VersionColumn] = Field(default_factory=list, description="oldest first")
    rows: list[Row] = Field(default_factory=list)
    regressions: list[Regression] = Field(default_factory=list)
    framing: list[FramingRow] = Field(
        default_factory=list, description="framing robustness: which spec-legal SSE variants each release reads"
    )
    contracts: dict[str, list[RequestShape]] = Field(default_factory=dict, description="version -> request shapes")
    contract_changes: list[ContractChange] = Field(default_factory=list)
    rejections: list[Rejection] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)

    @property
    def version_names(self) -> list[str]:
        return [column.version for column in self.versions]

    @property
    def platforms(self) -> list[PlatformName]:
        return list(dict.fromkeys(row.platform for row in self.rows))

    def row(self, capability: Capability, mode: Mode, platform: str = DEFAULT_PLATFORM) -> Row | None:
        for row in self.rows:
            if row.capability == capability and row.mode == mode and row.platform == platform:
                return row
        return None

    def framing_row(self, variant: str, stream: str) -> FramingRow | None:
        return next((row for row in self.framing if row.variant == variant and row.stream == stream), None)

    @property
    def framing_regressions(self) -> list[tuple[FramingRow, FramingChange]]:
        return [(row, change) for row in self.framing for change in row.changes if change.regression]

    def verdict(
        self, capability: Capability, mode: Mode, version: str, platform: str = DEFAULT_PLATFORM
    ) -> Verdict | None:
        row = self.row(capability, mode, platform)
        cell = row.cells.get(version) if row else None
        return cell.verdict if cell else None
