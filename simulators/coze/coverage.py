"""What the simulator models and what it does not: data (`simulators/coverage.yaml`), read here.

Reports quote it so a reader can tell an SDK failure from a part of the platform the simulator
cannot show yet.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ._yaml import load_yaml

COVERAGE_FILE = Path(__file__).resolve().parent.parent / "coverage.yaml"


class CoverageItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str
    detail: str
    modes: list[str] = Field(default_factory=list, description="matrix columns whose verdicts this limits")


class Coverage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modelled: list[CoverageItem]
    not_modelled: list[CoverageItem]


def coverage(path: Path = COVERAGE_FILE) -> Coverage:
    return Coverage.model_validate(load_yaml(path.read_text(encoding="utf-8")))
