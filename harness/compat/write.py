"""Writing the compatibility report: `compatibility.md` and `.html` for people, one JSON per SDK for tools.

The markdown and HTML hold every SDK merged (a part per SDK); the JSON is one `Compatibility` per SDK,
`compatibility.json` for cozepy (the file gates have always read) and `compatibility-<sdk>.json` for
each other SDK, so a baseline is always one SDK's.
"""

from __future__ import annotations

import sys
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


def kept_parts(folder: Path, merged: Sequence[str]) -> list[Compatibility]:
    """The other SDKs' parts already in `folder` (their JSON), for a merge of only some SDKs to keep: a sweep
    of cozepy in a fresh checkout, where no @coze/api matrix is at hand, must not drop @coze/api's part from
    the report. A file that is not readable as that SDK's merge is left out, and said so."""
    from ..drivers import SDKS
    from .load import CompatError, load_compatibility

    kept = []
    for sdk in SDKS:
        path = folder / json_name(sdk)
        if sdk in merged or not path.is_file():
            continue
        try:
            compat = load_compatibility(path)
        except CompatError as exc:
            print(f"not keeping {sdk}'s part: {exc}", file=sys.stderr)
            continue
        if compat.sdk == sdk:
            kept.append(compat)
    return kept


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
