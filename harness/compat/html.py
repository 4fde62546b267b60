"""`compatibility.html`: one self-contained page (the matrix report's shell), regressions at the top."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, PLATFORM_TITLES, Mode
from ..report._html import VERDICT_COLOURS, VERDICT_TEXT, esc, legend, nav, page, verdict_badge
from .markdown import FRAMING_LEGEND, FRAMING_SHORT, SHORT, framing_changed_in, span
from .model import Compatibility, FramingRow, Row
from .reading import answers_at, grouped_findings, newest_decided, releases, since, stretches

# The grid fits 1280 px with its 29 releases: narrow release columns with vertical headings, label
# columns wide enough for one or two lines, and the newest release's column kept in view (sticky on
# the right) however many releases there are.
_STYLE = (
    "<style>td.c{text-align:center;font-weight:600;padding:.15rem .2rem;font-size:12px;min-width:1.3rem}"
    "td.none{background:#eaeef2;color:#57606a}td.chg{outline:2px solid #1f2328;outline-offset:-2px}"
    ".grid{margin:.5rem 0}.grid th.ver{writing-mode:vertical-rl;transform:rotate(180deg);font-size:12px;"
    "padding:.3rem .1rem}.grid th.label{min-width:14rem}.grid th.first{font-size:12px;min-width:3.5rem}"
    ".grid .newest{position:sticky;right:0;box-shadow:-3px 0 0 #1f2328}.grid th.newest{background:#fff8c5}"
    ".wrap{overflow-x:auto}ul.reasons{font-size:13px;margin-top:.2rem}ul.reasons li{margin:.15rem 0}"
    "</style>"
)


_FRAMING_COLOURS = {"survives": "#1a7f37", "misreads": "#9a6700", "fails": "#cf222e"}


def _regressions(compat: Compatibility) -> str:
    framing = compat.framing_regressions
    if not compat.regressions and not framing:
        return "<h2 id='regressions'>Regressions</h2><p>None: no cell got worse from one release to the next.</p>"
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
        f'<h2 id="regressions">Regressions ({len(compat.regressions) + len(framing)})</h2>'
        "<table><tr><th>cell</th><th>from</th><th>to</th>"
        f"<th>verdict</th><th>why (newer release)</th></tr>{rows}</table>"
    )


def _findings(compat: Compatibility) -> str:
    if not compat.findings:
        return (
            "<h2 id='findings'>Findings</h2>"
        ) + "<p>Every release installed and ran every probe; the simulator refused no request.</p>"
    groups = grouped_findings(compat)
    rows = "".join(
        f"<tr><td>{esc(releases(compat, group.versions))} ({len(group.versions)})</td><td>{esc(group.kind)}</td>"
        f"<td>{esc(group.detail)}</td></tr>"
        for group in groups
    )
    return (
        f'<h2 id="findings">Findings ({len(compat.findings)}, {len(groups)} distinct)</h2>'
        "<p>A finding that holds for several releases is written once, with the releases it holds for.</p>"
        f"<table><tr><th>releases</th><th>finding</th><th>detail</th></tr>{rows}</table>"
    )


_Look = Callable[[str], "tuple[str, str, str, str] | None"]


def _cells(names: list[str], changed: set[str], look: _Look, none: str, sdk: str) -> str:
    """One cell per release, outlined where it changed, the newest one marked: `look(version)` gives (text,
    background, text colour, title), or None for a grey '-' titled `none`."""
    cells = []
    for name in names:
        extra = (" chg" if name in changed else "") + (" newest" if name == names[-1] else "")
        found = look(name)
        if found is None:
            cells.append(f'<td class="c none{extra}" title="{esc(sdk)} {esc(name)}: {esc(none)}">-</td>')
            continue
        text, colour, ink, title = found
        cells.append(
            f'<td class="c{extra}" style="background:{colour};color:{ink}" title="{esc(title)}">{esc(text)}</td>'
        )
    return "".join(cells)


def _head(names: list[str]) -> str:
    return "".join(
        f'<th class="ver{" newest" if name == names[-1] else ""}" scope="col">{esc(name)}</th>' for name in names
    )


def _grid_row(row: Row, names: list[str], sdk: str) -> str:
    def look(name: str) -> tuple[str, str, str, str] | None:
        cell = row.cells.get(name)
        if cell is None or cell.verdict is None:
            return None
        verdict = cell.verdict
        return SHORT[verdict], VERDICT_COLOURS[verdict], VERDICT_TEXT[verdict], f"{sdk} {name}: {verdict.value}"

    cells = _cells(names, {change.version for change in row.changes}, look, "no verdict", sdk)
    return (
        f'<tr><th class="label" scope="row">{esc(CAPABILITY_TITLES[row.capability])} '
        f"<code>{esc(row.capability.value)}</code></th>"
        f'<td class="first">{esc(row.first_appeared or "never")}</td>{cells}</tr>'
    )


def _reasons(rows: list[Row], names: list[str]) -> str:
    """Every row's reasons, readable without hovering: one line per run of releases with the same verdict
    for the same reason."""
    items = []
    for row in rows:
        parts = [
            f"<strong>{esc(stretch.releases)}</strong> "
            + (f"{verdict_badge(stretch.verdict)} {esc(stretch.reason)}" if stretch.verdict else "no verdict")
            for stretch in stretches(row, names)
        ]
        items.append(f"<li><code>{esc(row.capability.value)}</code>: " + "; ".join(parts) + "</li>")
    return '<ul class="reasons">' + "".join(items) + "</ul>"


def _grid_anchor(platform: str, mode: Mode) -> str:
    return f"grid-{platform}-{mode.value}"


def _grid(compat: Compatibility) -> str:
    names = compat.version_names
    head = _head(names)
    parts = [
        '<h2 id="grids">Verdicts by release</h2>',
        "<p>One column per release, oldest first; the newest release stays in view on the right. An outlined "
        "cell changed from the release before it. Under each grid, every reason, by run of releases.</p>",
        legend(),
    ]
    for platform, mode in ((p, m) for p in compat.platforms for m in Mode):
        rows = [row for row in compat.rows if row.mode == mode and row.platform == platform]
        if rows:
            parts.append(
                f'<h3 id="{_grid_anchor(platform, mode)}">{esc(MODE_TITLES[mode])} (<code>{esc(mode.value)}</code>) '
                f'on {esc(PLATFORM_TITLES[platform])}</h3><div class="wrap">'
                f'<table class="grid"><tr><th class="label">capability</th><th class="first">first available</th>'
                f"{head}</tr>"
                + "".join(_grid_row(row, names, compat.sdk) for row in rows)
                + "</table></div>"
                + _reasons(rows, names)
            )
    return "".join(parts)


def _framing_row(row: FramingRow, names: list[str], sdk: str) -> str:
    def look(name: str) -> tuple[str, str, str, str] | None:
        cell = row.cells.get(name)
        colour = _FRAMING_COLOURS.get(cell.outcome or "") if cell is not None else None
        if cell is None or colour is None:
            return None
        return FRAMING_SHORT[cell.outcome], colour, "#ffffff", f"{sdk} {name}: {cell.outcome}"

    cells = _cells(names, {change.version for change in row.changes}, look, "not run", sdk)
    return (
        f'<tr><th class="label" scope="row">{esc(row.stream)}: {esc(row.variant)}<br>'
        f"<small>{esc(row.description)}</small></th>"
        f'<td class="first">{esc(row.first_survived or "never")}</td>{cells}</tr>'
    )


def _framing_reasons(compat: Compatibility) -> str:
    items = []
    for row in compat.framing:
        changes = framing_changed_in(row)
        newest = row.cells.get(compat.version_names[-1]) if compat.version_names else None
        detail = f"; newest: {newest.outcome}: {newest.detail}" if newest is not None and newest.detail else ""
        items.append(
            f"<li><code>{esc(row.stream)} / {esc(row.variant)}</code>: changed in {esc(changes)}{esc(detail)}</li>"
        )
    return '<ul class="reasons">' + "".join(items) + "</ul>"


def _framing(compat: Compatibility) -> str:
    if not compat.framing:
        return "<h2 id='framing'>Framing robustness by release</h2><p>No release ran the framing probe.</p>"
    names = compat.version_names
    return (
        "<h2 id='framing'>Framing robustness by release</h2><p>Spec-legal ways the platform may start framing its "
        f"streams, read by each release's SDK against the simulator. {esc(FRAMING_LEGEND)}.</p>"
        '<div class="wrap"><table class="grid"><tr><th class="label">stream: variant</th>'
        f'<th class="first">first read</th>{_head(names)}</tr>'
        + "".join(_framing_row(row, names, compat.sdk) for row in compat.framing)
        + "</table></div>"
        + _framing_reasons(compat)
    )


def _contracts(compat: Compatibility) -> str:
    parts = [f"<h2 id='contracts'>Request contracts: changes between releases ({len(compat.contract_changes)})</h2>"]
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
            f"<details><summary>requests of {esc(compat.sdk)} {esc(version)}</summary><table><tr><th>flow</th>"
            f"<th>endpoint</th><th>query</th><th>body</th><th>headers</th><th>requests</th></tr>{rows}</table></details>"
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
        "<h2 id='releases'>Releases</h2>"
        f"<table><tr><th>release</th><th>label</th><th>{'python' if compat.sdk == 'cozepy' else 'runtime'}</th>"
        "<th>generated</th><th>result</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def _answer(compat: Compatibility) -> str:
    """The answer first: the matrix report's sentences for the newest release that ran, when each mode that
    can first could, and whether anything got worse."""
    version = newest_decided(compat)
    if version is None:
        return '<section class="answer" id="answer"><h2>No release produced a verdict</h2></section>'
    newest = compat.version_names[-1]
    which = "the newest release" if version == newest else f"the newest that ran; {esc(newest)} did not"
    lines = []
    for answer in answers_at(compat, version):
        text = answer.sentence().removeprefix(answer.title + ": ")
        first = since(compat, answer, version)
        when = f'<br><span class="muted">{esc("; ".join(first))}.</span>' if first else ""
        lines.append(f"<p><strong>{esc(answer.title)}</strong>: {esc(text)}{when}</p>")
    worse = len(compat.regressions) + len(compat.framing_regressions)
    verdict = (
        f'<a href="#regressions">{worse} regression(s)</a> between consecutive releases'
        if worse
        else "no regression: no cell got worse from one release to the next"
    )
    return (
        f'<section class="answer" id="answer"><h2>Can {esc(compat.sdk)} {esc(version)} ({which}) call your local '
        f"code?</h2>{''.join(lines)}<p>Across {esc(span(compat))}: {verdict}.</p></section>"
    )


def _body(compat: Compatibility) -> str:
    """One SDK's report under its heading (added by the caller)."""
    intro = (
        f'<p class="muted">Generated {esc(compat.generated_at)} by <code>coze-harness compat</code> from one '
        "capability matrix per release. A regression is a cell whose verdict ranks lower than in the release "
        "before it (supported &gt; workaround &gt; unknown = not-applicable &gt; broken &gt; absent), or a "
        "framing variant the release reads worse (survives &gt; misreads &gt; fails).</p>"
    )
    grids = [
        (_grid_anchor(p, m), f"{m.value} ({p})")
        for p in compat.platforms
        for m in Mode
        if any(row.mode == m and row.platform == p for row in compat.rows)
    ]
    links = [("regressions", "regressions"), ("findings", "findings"), ("grids", "verdicts by release")]
    links += [("framing", "framing robustness"), ("contracts", "request contracts"), ("releases", "releases")]
    toc = nav(links) + nav(grids).replace("On this page:", "Grids:").replace(
        'aria-label="sections"', 'aria-label="grids"'
    )
    return (
        f"{_answer(compat)}{toc}{intro}"
        + _regressions(compat)
        + _findings(compat)
        + _grid(compat)
        + _framing(compat)
        + _contracts(compat)
        + _releases(compat)
    )


_ANCHOR = re.compile(r"""\b(id|href)=(["'])(#?)""")


def _prefixed(body: str, prefix: str) -> str:
    """The section's ids and in-page links, prefixed, so that two SDKs' sections share one page."""
    return _ANCHOR.sub(lambda m: f"{m.group(1)}={m.group(2)}{m.group(3)}{prefix}", body)


def render_html(compat: Compatibility) -> str:
    return render_html_all([compat])


def render_html_all(compats: list[Compatibility]) -> str:
    """One page: one SDK's report as it has always been, or a section per SDK (the first SDK's anchors
    unchanged, the others' prefixed with the SDK's name) under links to each."""
    if len(compats) == 1:
        compat = compats[0]
        return page(_title(compat), f"{_STYLE}<h1>{esc(_title(compat))}</h1>{_body(compat)}")
    title = "Compatibility: " + "; ".join(f"{compat.sdk} {span(compat)}" for compat in compats)
    sdks = nav([(f"sdk-{compat.sdk}", f"{compat.sdk} ({span(compat)})") for compat in compats]).replace(
        "On this page:", "SDKs:"
    )
    sections = [
        f'<section><h1 id="sdk-{esc(compat.sdk)}">{esc(_title(compat))}</h1>'
        + (_body(compat) if number == 0 else _prefixed(_body(compat), f"{compat.sdk}-"))
        + "</section>"
        for number, compat in enumerate(compats)
    ]
    return page(title, _STYLE + sdks + "".join(sections))


def _title(compat: Compatibility) -> str:
    return f"{compat.sdk} compatibility: {span(compat)}"
