"""The one HTML page shell every report shares: inline style, no scripts or assets from elsewhere.

Reports are opened from CI artifacts and mail attachments, often offline, so everything the page
needs is inside it. Evidence folds with `<details>`, which needs no JavaScript.
"""

from __future__ import annotations

from html import escape

from ..matrix import Verdict

# Badge background and text per verdict; every pair is at least 4.5:1 (WCAG AA for normal text).
VERDICT_COLOURS: dict[Verdict, str] = {
    Verdict.SUPPORTED: "#1a7f37",
    Verdict.WORKAROUND: "#9a6700",
    Verdict.UNKNOWN: "#59636e",
    Verdict.NOT_APPLICABLE: "#eaeef2",
    Verdict.BROKEN: "#cf222e",
    Verdict.ABSENT: "#82071e",
}
VERDICT_TEXT: dict[Verdict, str] = {verdict: "#ffffff" for verdict in Verdict} | {Verdict.NOT_APPLICABLE: "#1f2328"}

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328;max-width:90rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d0d7de;padding:.35rem .6rem;vertical-align:top}
th{background:#f6f8fa;text-align:left}
.v{display:inline-block;border-radius:1rem;padding:0 .6rem;color:#fff;font-weight:600;white-space:nowrap}
.legend .v{margin-right:.4rem}
.regression{background:#ffebe9}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;max-height:28rem;font-size:12px}
details{margin:.4rem 0 .8rem}summary{cursor:pointer;font-weight:600}
code{font-size:12px}.muted{color:#57606a}
.answer{border:2px solid #1f2328;border-radius:.5rem;padding:.4rem 1rem;margin:1rem 0;background:#f6f8fa}
.answer h2{border:0;margin:.4rem 0;font-size:1.2rem}.answer p{margin:.4rem 0}
nav.toc{margin:.6rem 0 1rem}nav.toc a{margin-right:1rem;white-space:nowrap}
@media print{nav.toc{display:none}details{display:block}}
"""


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def verdict_badge(verdict: Verdict, title: str = "") -> str:
    colour, text = VERDICT_COLOURS[verdict], VERDICT_TEXT[verdict]
    hover = f' title="{esc(title)}"' if title else ""
    return f'<span class="v" style="background:{colour};color:{text}"{hover}>{esc(verdict.value)}</span>'


def nav(links: list[tuple[str, str]]) -> str:
    """The page's table of contents: (anchor id, title) pairs."""
    items = " ".join(f'<a href="#{esc(anchor)}">{esc(title)}</a>' for anchor, title in links)
    return f'<nav class="toc" aria-label="sections"><strong>On this page:</strong> {items}</nav>'


def legend() -> str:
    return '<p class="legend">' + "".join(verdict_badge(verdict) for verdict in Verdict) + "</p>"


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
