"""Committed expectations of verdicts: the gate that turns a report into a pass or a fail.

An expectation holds only verdicts (no evidence, no timestamps), so it reads well in a diff and
changes only when a verdict does. `coze-harness report --save-expect FILE` writes one from a run;
`--expect FILE` compares a run with it.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from simulators.coze import PlatformName

from .matrix import Capability, Matrix, Mode, Verdict

EXPECT_SCHEMA_VERSION = 3  # 2: verdicts per platform; 3: per SDK, then per platform


class ExpectationError(ValueError):
    """The expectation file is missing or is not an expectation."""


PlatformVerdicts = dict[PlatformName, dict[Mode, dict[Capability, Verdict]]]


class SdkExpectation(BaseModel):
    sdk_version: str = Field(description="the release the verdicts were recorded with")
    verdicts: PlatformVerdicts


class Expectation(BaseModel):
    """Verdicts per SDK (cozepy, coze-js), each recorded with one release of it. One file can gate both
    SDKs' runs: `--save-expect` replaces the entry of the SDK it ran and keeps the others."""

    schema_version: int = EXPECT_SCHEMA_VERSION
    sdks: dict[str, SdkExpectation]

    @classmethod
    def of(cls, matrix: Matrix) -> Expectation:
        found = {(cell.platform, cell.mode, cell.capability): cell.verdict for cell in matrix.cells}
        verdicts: PlatformVerdicts = {}
        for platform in matrix.platforms:
            for mode in Mode:  # enum order, so the file's order never depends on the order probes ran
                for capability in Capability:
                    if (platform, mode, capability) in found:
                        row = verdicts.setdefault(platform, {}).setdefault(mode, {})
                        row[capability] = found[(platform, mode, capability)]
        return cls(sdks={matrix.sdk: SdkExpectation(sdk_version=matrix.sdk_version, verdicts=verdicts)})

    def merged_into(self, path: Path) -> Expectation:
        """These verdicts with the other SDKs' entries of the expectation at `path`, if one is there."""
        if not path.exists():
            return self
        kept = Expectation.load(path).sdks
        return Expectation(sdks=dict(sorted({**kept, **self.sdks}.items())))

    def for_sdk(self, sdk: str, path: object = "the expectation") -> SdkExpectation:
        entry = self.sdks.get(sdk)
        if entry is None:
            held = ", ".join(sorted(self.sdks)) or "no SDK"
            raise ExpectationError(
                f"{path} holds verdicts for {held}, not for {sdk}: add them with "
                f"`coze-harness report --sdk {sdk} --save-expect {path}` (the other SDKs' verdicts are kept)"
            )
        return entry

    @classmethod
    def load(cls, path: Path) -> Expectation:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ExpectationError(f"cannot read the expectation {path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        found = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(data, dict) and found == 2:  # one SDK's verdicts, and cozepy was the only one
            data = {
                "schema_version": EXPECT_SCHEMA_VERSION,
                "sdks": {"cozepy": {"sdk_version": data.get("sdk_version"), "verdicts": data.get("verdicts")}},
            }
        elif isinstance(found, int) and found != EXPECT_SCHEMA_VERSION:
            raise ExpectationError(
                f"{path} is an expectation of schema {found}; this coze-harness reads schemas 2 and "
                f"{EXPECT_SCHEMA_VERSION} (verdicts per SDK and platform): rewrite it with "
                "`coze-harness report --save-expect FILE`"
            )
        try:
            return cls.model_validate(data) if data is not None else cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the top level"
            raise ExpectationError(
                f"{path} is not an expectation file ({where}: {first['msg']}); "
                "write one with `coze-harness report --save-expect FILE`"
            ) from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")


class Difference(BaseModel):
    platform: PlatformName
    mode: Mode
    capability: Capability
    expected: Verdict | None
    actual: Verdict | None
    reason: str = ""

    def line(self) -> str:
        expected = self.expected.value if self.expected else "(no cell)"
        actual = self.actual.value if self.actual else "(no cell)"
        because = f": {self.reason}" if self.reason else ""
        where = f"{self.platform}: {self.mode.value} / {self.capability.value}"
        return f"{where}: expected {expected}, got {actual}{because}"


def compare(expectation: Expectation, matrix: Matrix, modes: set[Mode] | None = None) -> list[Difference]:
    """Cells whose verdict differs, in either direction, from the expectation of the matrix's SDK, on the
    platforms the run covered. Only `modes` are compared when given (a partial run)."""
    expected = expectation.for_sdk(matrix.sdk)
    found = {(cell.platform, cell.mode, cell.capability): cell for cell in matrix.cells}
    differences = []
    for platform in matrix.platforms:
        wanted = expected.verdicts.get(platform, {})
        for mode in Mode:
            if modes is not None and mode not in modes:
                continue
            for capability in Capability:
                cell = found.get((platform, mode, capability))
                verdict = wanted.get(mode, {}).get(capability)
                actual = cell.verdict if cell else None
                if verdict != actual:
                    differences.append(
                        Difference(
                            platform=platform,
                            mode=mode,
                            capability=capability,
                            expected=verdict,
                            actual=actual,
                            reason=cell.reason if cell else "",
                        )
                    )
    return differences
