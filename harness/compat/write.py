"""Writing the compatibility report: `compatibility.md` and `.html` for people, one JSON per SDK for tools.

The markdown and HTML hold every SDK merged (a part per SDK); the JSON is one `Compatibility` per SDK,
`compatibility.json` for cozepy (the file gates have always read) and `compatibility-<sdk>.json` for
each other SDK, so a baseline is always one SDK's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .html import render_html_all
from .markdown import render_markdown_all
from .model import Compatibility


def render_json(compat: Compatibility) -> str:
    return compat.model_dump_json(indent=2) + "\n"


def json_name(sdk: str) -> str:
    """The JSON file of one SDK's merge."""
    return "compatibility.json" if sdk == "cozepy" else f"compatibility-{sdk}.json"


def file_names(sdks: Sequence[str]) -> list[str]:
    """Every file a merge of these SDKs writes."""
    return ["compatibility.md", *(json_name(sdk) for sdk in sdks), "compatibility.html"]


def write_compatibility(compats: Compatibility | Sequence[Compatibility], folder: Path) -> list[Path]:
    """The report of one SDK's merge or of several (one per SDK, in the order given)."""
    merged = [compats] if isinstance(compats, Compatibility) else list(compats)
    folder.mkdir(parents=True, exist_ok=True)
    files = [("compatibility.md", render_markdown_all(merged))]
    files += [(json_name(compat.sdk), render_json(compat)) for compat in merged]
    files.append(("compatibility.html", render_html_all(merged)))
    written = []
    for name, text in files:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
