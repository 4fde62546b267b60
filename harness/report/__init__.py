"""Renderers: one `Matrix`, many views."""

from .markdown import render_cells, render_markdown
from .writer import FORMATS, write_reports

__all__ = ["FORMATS", "render_cells", "render_markdown", "write_reports"]
