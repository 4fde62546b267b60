"""Writing `compatibility.md`, `.json` and `.html`: one model, three views."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .html import render_html
from .markdown import render_markdown
from .model import Compatibility


def render_json(compat: Compatibility) -> str:
    return compat.model_dump_json(indent=2) + "\n"


RENDERERS: dict[str, Callable[[Compatibility], str]] = {
    "compatibility.md": render_markdown,
    "compatibility.json": render_json,
    "compatibility.html": render_html,
}


def write_compatibility(compat: Compatibility, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, render in RENDERERS.items():
        path = folder / name
        path.write_text(render(compat), encoding="utf-8")
        written.append(path)
    return written
