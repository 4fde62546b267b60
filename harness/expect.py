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

EXPECT_SCHEMA_VERSION = 2  # 2: verdicts per platform


class ExpectationError(ValueError):
    """The expectation file is missing or is not an expectation."""


class Expectation(BaseModel):
    schema_version: int = EXPECT_SCHEMA_VERSION
    sdk_version: str = Field(description="the cozepy release the verdicts were recorded with")
    verdicts: dict[PlatformName, dict[Mode, dict[Capability, Verdict]]]

    @classmethod
    def of(cls, matrix: Matrix) -> Expectation:
        found = {(cell.platform, cell.mode, cell.capability): cell.verdict for cell in matrix.cells}
        verdicts: dict[PlatformName, dict[Mode, dict[Capability, Verdict]]] = {}
        for platform in matrix.platforms:
            for mode in Mode:  # enum order, so the file's order never depends on the order probes ran
                for capability in Capability:
                    if (platform, mode, capability) in found:
                        row = verdicts.setdefault(platform, {}).setdefault(mode, {})
                        row[capability] = found[(platform, mode, capability)]
        return cls(sdk_version=matrix.sdk_version, verdicts=verdicts)

    @classmethod
    def load(cls, path: Path) -> Expectation:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ExpectationError(f"cannot read the expectation {path}: {exc.strerror}") from None
        try:
            found = json.loads(text).get("schema_version")
        except (ValueError, AttributeError):
            found = None
        if isinstance(found, int) and found != EXPECT_SCHEMA_VERSION:
            raise ExpectationError(
                f"{path} is an expectation of schema {found}; this coze-harness reads schema {EXPECT_SCHEMA_VERSION} "
                "(verdicts per platform): rewrite it with `coze-harness report --save-expect FILE`"
            )
        try:
            return cls.model_validate_json(text)
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
    """Cells whose verdict differs, in either direction, on the platforms the run covered. Only `modes` are
    compared when given (a partial run)."""
    found = {(cell.platform, cell.mode, cell.capability): cell for cell in matrix.cells}
    differences = []
    for platform in matrix.platforms:
        wanted = expectation.verdicts.get(platform, {})
        for mode in Mode:
            if modes is not None and mode not in modes:
                continue
            for capability in Capability:
                cell = found.get((platform, mode, capability))
                expected = wanted.get(mode, {}).get(capability)
                actual = cell.verdict if cell else None
                if expected != actual:
                    differences.append(
                        Difference(
                            platform=platform,
                            mode=mode,
                            capability=capability,
                            expected=expected,
                            actual=actual,
                            reason=cell.reason if cell else "",
                        )
                    )
    return differences
