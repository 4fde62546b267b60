"""Writing a matrix to a folder in the formats asked for: one model, one file per format.

The same SDK against the same simulator gives the same matrix apart from its `generated_at` stamp
(evidence is normalised where it is recorded, see `harness.reporting`). A run whose matrix is the one
already in the folder, apart from that stamp, keeps the folder's stamp, so its files come out byte
for byte as they were: a committed report changes only when a verdict or its evidence does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..expect import Difference
from ..matrix import Matrix
from .html import render_html
from .junit import render_junit
from .markdown import render_markdown

BENCHMARKS_FILE = "benchmarks.json"  # written by `python -m benchmarks.run_all` into the same folder
JSON_FILE = "capability-matrix.json"


@dataclass
class Outcome:
    """What the run is judged against, for the views that report it (JUnit): `--expect`'s differences."""

    folder: Path
    differences: list[Difference] | None = None  # None: no expectation was given
    expect_name: str = "the expectation"


Renderer = Callable[[Matrix, Outcome], str]


def _alone(render: Callable[[Matrix], str]) -> Renderer:
    """A renderer that needs nothing but the matrix."""
    return lambda matrix, _outcome: render(matrix)


def _render_json(matrix: Matrix) -> str:
    return matrix.model_dump_json(indent=2) + "\n"


def _render_html(matrix: Matrix, outcome: Outcome) -> str:
    """The page, with the benchmark chart when the folder holds measured figures."""
    return render_html(matrix, benchmarks=outcome.folder / BENCHMARKS_FILE)


def _render_junit(matrix: Matrix, outcome: Outcome) -> str:
    return render_junit(matrix, outcome.differences, outcome.expect_name)


# format name -> (file name, renderer). The order is the order files are written and listed.
RENDERERS: dict[str, tuple[str, Renderer]] = {
    "md": ("capability-matrix.md", _alone(render_markdown)),
    "json": ("capability-matrix.json", _alone(_render_json)),
    "html": ("capability-matrix.html", _render_html),
    "junit": ("junit.xml", _render_junit),
}
FORMATS = tuple(RENDERERS)


def report_paths(folder: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """The files `write_reports(..., folder, formats)` writes, in the order it writes them."""
    return [folder / file_name for name, (file_name, _render) in RENDERERS.items() if name in formats]


def kept_stamp(matrix: Matrix, folder: Path) -> str | None:
    """The folder's `generated_at` when its matrix is this one apart from the stamp (None: it is not)."""
    try:
        old = (folder / JSON_FILE).read_text(encoding="utf-8")
        stamp = json.loads(old).get("generated_at")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    if not isinstance(stamp, str) or stamp == matrix.generated_at:
        return None
    same = _render_json(matrix.model_copy(update={"generated_at": stamp})) == old
    return stamp if same else None


def write_reports(
    matrix: Matrix,
    folder: Path,
    formats: tuple[str, ...] = FORMATS,
    differences: list[Difference] | None = None,
    expect_name: str = "the expectation",
) -> list[Path]:
    """Write the views of `matrix` into `folder`; `differences` (from `--expect`) go into the JUnit file."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    stamp = kept_stamp(matrix, folder)
    if stamp is not None:
        matrix = matrix.model_copy(update={"generated_at": stamp})
    folder.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(folder=folder, differences=differences, expect_name=expect_name)
    written: list[Path] = []
    for name, (file_name, render) in RENDERERS.items():
        if name in formats:
            path = folder / file_name
            path.write_text(render(matrix, outcome), encoding="utf-8")
            written.append(path)
    return written
