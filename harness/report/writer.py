"""Writing a matrix to a folder in the formats asked for."""

from __future__ import annotations

from pathlib import Path

from ..matrix import Matrix
from .markdown import render_markdown

FORMATS = ("json", "md")


def write_reports(matrix: Matrix, folder: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "json" in formats:
        path = folder / "capabilities.json"
        path.write_text(matrix.model_dump_json(indent=2) + "\n", encoding="utf-8")
        written.append(path)
    if "md" in formats:
        path = folder / "capabilities.md"
        path.write_text(render_markdown(matrix), encoding="utf-8")
        written.append(path)
    return written
