"""The one HTML page shell every report shares: inline style, no scripts or assets from elsewhere.

Reports are opened from CI artifacts and mail attachments, often offline, so everything the page
needs is inside it. Evidence folds with `<details>`, which needs no JavaScript.
"""

from __future__ import annotations

from html import escape

from ..matrix import Verdict

VERDICT_COLOURS: dict[Verdict, str] = {
    Verdict.SUPPORTED: "#1a7f37",
    Verdict.WORKAROUND: "#9a6700",
    Verdict.UNKNOWN: "#6e7781",
    Verdict.NOT_APPLICABLE: "#8c959f",
    Verdict.BROKEN: "#cf222e",
    Verdict.ABSENT: "#82071e",
}

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
"""


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def verdict_badge(verdict: Verdict, title: str = "") -> str:
    colour = VERDICT_COLOURS[verdict]
    hover = f' title="{esc(title)}"' if title else ""
    return f'<span class="v" style="background:{colour}"{hover}>{esc(verdict.value)}</span>'


def legend() -> str:
    return '<p class="legend">' + "".join(verdict_badge(verdict) for verdict in Verdict) + "</p>"


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
