"""`compatibility.html`: one self-contained page (the matrix report's shell), regressions at the top."""

from __future__ import annotations

from collections.abc import Callable

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, PLATFORM_TITLES, Mode
from ..report._html import VERDICT_COLOURS, esc, legend, page, verdict_badge
from .markdown import FRAMING_LEGEND, FRAMING_SHORT, SHORT, changed_in, framing_changed_in, span
from .model import Compatibility, FramingRow, Row

_STYLE = (
    "<style>td.c{color:#fff;text-align:center;font-weight:600;padding:.2rem .35rem;font-size:12px}"
    "td.none{background:#eaeef2;color:#57606a}td.chg{outline:2px solid #1f2328;outline-offset:-2px}"
    ".grid th.ver{writing-mode:vertical-rl;transform:rotate(180deg);font-size:12px}"
    ".wrap{overflow-x:auto}</style>"
)


_FRAMING_COLOURS = {"survives": "#1a7f37", "misreads": "#9a6700", "fails": "#cf222e"}


def _regressions(compat: Compatibility) -> str:
    framing = compat.framing_regressions
    if not compat.regressions and not framing:
        return "<h2>Regressions</h2><p>None: no cell got worse from one release to the next.</p>"
    rows = "".join(
        f'<tr class="regression"><td><code>{esc(item.name)}</code></td><td>{esc(item.previous)}</td>'
        f"<td>{esc(item.version)}</td><td>{verdict_badge(item.before)} → {verdict_badge(item.after, item.reason)}</td>"
        f"<td>{esc(item.reason)}</td></tr>"
        for item in compat.regressions
    ) + "".join(
        f'<tr class="regression"><td><code>{esc(row.name)}</code></td><td>{esc(change.previous)}</td>'
        f"<td>{esc(change.version)}</td><td>{esc(change.before)} → <strong>{esc(change.after)}</strong></td>"
        f"<td>{esc(row.cells[change.version].detail)}</td></tr>"
        for row, change in framing
    )
    return (
        f"<h2>Regressions ({len(compat.regressions) + len(framing)})</h2>"
        "<table><tr><th>cell</th><th>from</th><th>to</th>"
        f"<th>verdict</th><th>why (newer release)</th></tr>{rows}</table>"
    )


def _findings(compat: Compatibility) -> str:
    if not compat.findings:
        return "<h2>Findings</h2><p>Every release installed and ran every probe; the simulator refused no request.</p>"
    rows = "".join(
        f"<tr><td>{esc(item.version)}</td><td>{esc(item.kind)}</td><td>{esc(item.detail)}</td></tr>"
        for item in compat.findings
    )
    return (
        f"<h2>Findings ({len(compat.findings)})</h2>"
        f"<table><tr><th>release</th><th>finding</th><th>detail</th></tr>{rows}</table>"
    )


def _cells(names: list[str], changed: set[str], look: Callable[[str], tuple[str, str, str] | None], none: str) -> str:
    """One cell per release, outlined where it changed: `look(version)` gives (text, colour, title), or None
    for a grey '-' titled `none`."""
    cells = []
    for name in names:
        extra = " chg" if name in changed else ""
        found = look(name)
        if found is None:
            cells.append(f'<td class="c none{extra}" title="cozepy {esc(name)}: {esc(none)}">-</td>')
            continue
        text, colour, title = found
        cells.append(f'<td class="c{extra}" style="background:{colour}" title="{esc(title)}">{esc(text)}</td>')
    return "".join(cells)


def _grid_row(row: Row, names: list[str]) -> str:
    def look(name: str) -> tuple[str, str, str] | None:
        cell = row.cells.get(name)
        if cell is None or cell.verdict is None:
            return None
        verdict = cell.verdict
        return SHORT[verdict], VERDICT_COLOURS[verdict], f"cozepy {name}: {verdict.value}: {cell.reason}"

    cells = _cells(names, {change.version for change in row.changes}, look, "no verdict")
    return (
        f"<tr><th>{esc(CAPABILITY_TITLES[row.capability])}<br><code>{esc(row.capability.value)}</code></th>"
        f"<td>{esc(row.first_appeared or 'never')}</td><td>{esc(changed_in(row))}</td>{cells}</tr>"
    )


def _grid(compat: Compatibility) -> str:
    names = compat.version_names
    head = "".join(f'<th class="ver">{esc(name)}</th>' for name in names)
    parts = [
        "<h2>Verdicts by release</h2>",
        "<p>Hover a cell for its verdict and reason; an outlined cell changed from the release before it.</p>",
        legend(),
    ]
    for platform, mode in ((p, m) for p in compat.platforms for m in Mode):
        rows = [row for row in compat.rows if row.mode == mode and row.platform == platform]
        if rows:
            parts.append(
                f"<h3>{esc(MODE_TITLES[mode])} (<code>{esc(mode.value)}</code>) on {esc(PLATFORM_TITLES[platform])}"
                '</h3><div class="wrap">'
                f'<table class="grid"><tr><th>capability</th><th>first available</th><th>changed in</th>{head}</tr>'
                + "".join(_grid_row(row, names) for row in rows)
                + "</table></div>"
            )
    return "".join(parts)


def _framing_row(row: FramingRow, names: list[str]) -> str:
    def look(name: str) -> tuple[str, str, str] | None:
        cell = row.cells.get(name)
        colour = _FRAMING_COLOURS.get(cell.outcome or "") if cell is not None else None
        if cell is None or colour is None:
            return None
        return FRAMING_SHORT[cell.outcome], colour, f"cozepy {name}: {cell.outcome}: {cell.detail}"

    cells = _cells(names, {change.version for change in row.changes}, look, "not run")
    return (
        f"<tr><td>{esc(row.stream)}</td><th>{esc(row.variant)}<br><small>{esc(row.description)}</small></th>"
        f"<td>{esc(row.first_survived or 'never')}</td><td>{esc(framing_changed_in(row))}</td>{cells}</tr>"
    )


def _framing(compat: Compatibility) -> str:
    if not compat.framing:
        return "<h2>Framing robustness by release</h2><p>No release ran the framing probe.</p>"
    names = compat.version_names
    head = "".join(f'<th class="ver">{esc(name)}</th>' for name in names)
    return (
        "<h2>Framing robustness by release</h2><p>Spec-legal ways the platform may start framing its streams, read "
        f"by each release's SDK against the simulator. {esc(FRAMING_LEGEND)}; hover a cell for the SDK's error.</p>"
        '<div class="wrap"><table class="grid"><tr><th>stream</th><th>variant</th><th>first read</th>'
        f"<th>changed in</th>{head}</tr>"
        + "".join(_framing_row(row, names) for row in compat.framing)
        + "</table></div>"
    )


def _contracts(compat: Compatibility) -> str:
    parts = [f"<h2>Request contracts: changes between releases ({len(compat.contract_changes)})</h2>"]
    if compat.contract_changes:
        rows = "".join(
            f"<tr><td>{esc(c.previous)} → {esc(c.version)}</td><td>{esc(c.flow)}</td><td><code>{esc(c.path)}</code>"
            f"</td><td>{esc(c.kind)}</td><td>{'<br>'.join(esc(d) for d in c.details)}</td></tr>"
            for c in compat.contract_changes
        )
        parts.append(
            "<table><tr><th>releases</th><th>flow</th><th>endpoint</th><th>change</th><th>details</th></tr>"
            f"{rows}</table>"
        )
    else:
        parts.append("<p>Every release sends the same requests.</p>")
    for version, shapes in compat.contracts.items():
        rows = "".join(
            f"<tr><td>{esc(s.flow)}</td><td>{esc(','.join(s.methods))} <code>{esc(s.path)}</code></td>"
            f"<td>{esc(', '.join(s.query_keys))}</td><td>{esc(', '.join(s.body_keys))}</td>"
            f"<td>{esc(', '.join(f'{k}: {v}' for k, v in s.headers.items()))}</td><td>{s.requests}</td></tr>"
            for s in shapes
        )
        parts.append(
            f"<details><summary>requests of cozepy {esc(version)}</summary><table><tr><th>flow</th><th>endpoint</th>"
            f"<th>query</th><th>body</th><th>headers</th><th>requests</th></tr>{rows}</table></details>"
        )
    return "".join(parts)


def _releases(compat: Compatibility) -> str:
    rows = []
    for column in compat.versions:
        if column.failure is not None:
            result = f"failed at {column.failure.stage}: {column.failure.error}"
        elif column.crashes:
            result = "; ".join(column.crashes)
        else:
            result = "ok"
        rows.append(
            f"<tr><td>{esc(column.version)}</td><td>{esc(column.label)}</td><td>{esc(column.python_version)}</td>"
            f"<td>{esc(column.generated_at)}</td><td>{esc(result)}</td></tr>"
        )
    return (
        "<h2>Releases</h2><table><tr><th>release</th><th>label</th><th>python</th><th>generated</th><th>result</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def render_html(compat: Compatibility) -> str:
    title = f"{compat.sdk} compatibility: {span(compat)}"
    intro = (
        f'<p class="muted">Generated {esc(compat.generated_at)} by <code>coze-harness compat</code> from one '
        "capability matrix per release. A regression is a cell whose verdict ranks lower than in the release "
        "before it (supported &gt; workaround &gt; unknown = not-applicable &gt; broken &gt; absent), or a "
        "framing variant the release reads worse (survives &gt; misreads &gt; fails).</p>"
    )
    body = (
        f"{_STYLE}<h1>{esc(title)}</h1>{intro}"
        + _regressions(compat)
        + _findings(compat)
        + _grid(compat)
        + _framing(compat)
        + _contracts(compat)
        + _releases(compat)
    )
    return page(title, body)
