"""The user-facing docs link only to files in the repository (the wire contract lives in docs/contract.md,
not in a folder beside the checkout), and every such link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_relative_links_stay_in_the_repository_and_resolve(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(encoding="utf-8"), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{page.name}: no heading for #{anchor} in {path}"


def test_the_readme_points_at_the_contract_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme and "CONTRACT.md" not in readme
    assert "](docs/contract.md)" in readme and "](docs/scenarios.md)" in readme
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    for part in ("## Event framing", "## Chat (v3)", "## Workflows", "## Two platforms", "4100", "x-tt-logid"):
        assert part in contract
    if (ROOT / "docs" / "contract-notes.md").exists():
        assert "](contract-notes.md)" in contract or "](docs/contract-notes.md)" in readme


def test_the_readme_names_the_license() -> None:
    assert "](LICENSE)" in (ROOT / "README.md").read_text(encoding="utf-8")
