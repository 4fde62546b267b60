"""Writing a matrix to a folder in the formats asked for: one model, one file per format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..matrix import Matrix
from .html import render_html
from .junit import render_junit
from .markdown import render_markdown


def _render_json(matrix: Matrix) -> str:
    return matrix.model_dump_json(indent=2) + "\n"


# format name -> (file name, renderer). The order is the order files are written and listed.
RENDERERS: dict[str, tuple[str, Callable[[Matrix], str]]] = {
    "md": ("capability-matrix.md", render_markdown),
    "json": ("capability-matrix.json", _render_json),
    "html": ("capability-matrix.html", render_html),
    "junit": ("junit.xml", render_junit),
}
FORMATS = tuple(RENDERERS)


def write_reports(matrix: Matrix, folder: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, (file_name, render) in RENDERERS.items():
        if name in formats:
            path = folder / file_name
            path.write_text(render(matrix), encoding="utf-8")
            written.append(path)
    return written
