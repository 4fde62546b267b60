"""Writing a matrix to a folder in the formats asked for: one model, one file per format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..matrix import Matrix
from .html import render_html
from .junit import render_junit
from .markdown import render_markdown

BENCHMARKS_FILE = "benchmarks.json"  # written by `python -m benchmarks.run_all` into the same folder

Renderer = Callable[[Matrix, Path], str]


def _alone(render: Callable[[Matrix], str]) -> Renderer:
    """A renderer that needs nothing but the matrix."""
    return lambda matrix, _folder: render(matrix)


def _render_json(matrix: Matrix) -> str:
    return matrix.model_dump_json(indent=2) + "\n"


def _render_html(matrix: Matrix, folder: Path) -> str:
    """The page, with the benchmark chart when the folder holds measured figures."""
    return render_html(matrix, benchmarks=folder / BENCHMARKS_FILE)


# format name -> (file name, renderer). The order is the order files are written and listed.
RENDERERS: dict[str, tuple[str, Renderer]] = {
    "md": ("capability-matrix.md", _alone(render_markdown)),
    "json": ("capability-matrix.json", _alone(_render_json)),
    "html": ("capability-matrix.html", _render_html),
    "junit": ("junit.xml", _alone(render_junit)),
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
            path.write_text(render(matrix, folder), encoding="utf-8")
            written.append(path)
    return written
