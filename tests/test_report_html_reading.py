"""The HTML and Markdown reports read without a browser's help: the answer and navigation first, reasons
written out (not only in hover titles), repeated findings grouped, every badge colour at WCAG AA contrast.
The layout itself is checked in a real browser by test_report_browser.py."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from harness.compat import load_compatibility
from harness.compat.html import render_html as render_compat
from harness.compat.markdown import render_markdown as render_compat_markdown
from harness.compat.reading import answers_at, grouped_findings, newest_decided, releases
from harness.matrix import Matrix, Verdict
from harness.report._html import VERDICT_COLOURS, VERDICT_TEXT
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.summary import answers

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parent.parent


def _visible(html: str) -> str:
    """The page's text as a reader sees it: no tags, no attribute values (so no hover titles)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _contrast(one: str, two: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_badge_colour_is_wcag_aa() -> None:
    for verdict in Verdict:
        assert _contrast(VERDICT_COLOURS[verdict], VERDICT_TEXT[verdict]) >= 4.5, verdict


def test_the_matrix_page_opens_with_the_answer_then_navigation() -> None:
    matrix = Matrix.model_validate_json((ROOT / "reports" / "capability-matrix.json").read_text(encoding="utf-8"))
    page = render_html(matrix)
    answer, toc, table = page.index('id="answer"'), page.index('<nav class="toc"'), page.index("<table")
    assert answer < toc < table
    text = _visible(page)
    for item in answers(matrix):
        assert item.sentence().removeprefix(item.title + ": ") in text
    for anchor in re.findall(r'<nav class="toc".*?</nav>', page)[0].split('href="#')[1:]:
        assert f'id="{anchor.split(chr(34))[0]}"' in page or f"id='{anchor.split(chr(34))[0]}'" in page
    markdown = render_markdown(matrix)
    assert markdown.index("call your local code?") < markdown.index("| capability |")
    assert all(f"- {item.sentence()}" in markdown for item in answers(matrix))


def test_the_compatibility_page_writes_reasons_out_and_groups_findings() -> None:
    compat = load_compatibility(ROOT / "reports" / "compatibility.json")
    page = render_compat(compat)
    text = _visible(page)
    version = newest_decided(compat)
    assert version is not None and page.index('id="answer"') < page.index('<nav class="toc"') < page.index("<table")
    for item in answers_at(compat, version):
        assert item.sentence().removeprefix(item.title + ": ") in text
    for row in compat.rows:  # each release's reason is on the page as text, not only in a title
        for cell in row.cells.values():
            if cell.verdict is not None:
                assert " ".join(cell.reason.split()) in text, (row.name, cell.reason)
    groups = grouped_findings(compat)
    assert sum(len(group.versions) for group in groups) == len(compat.findings)
    for group in groups:
        findings = text[text.index("Findings (") : text.index("Verdicts by release")]
        assert findings.count(" ".join(group.detail.split())) == 1
        assert releases(compat, group.versions) in findings
    markdown = render_compat_markdown(compat)
    assert markdown.index("call your local code?") < markdown.index("## Regressions")
    assert len(re.findall(r"^\| .* \| request-rejected \|", markdown, flags=re.M)) == len(
        [g for g in groups if g.kind == "request-rejected"]
    )
