"""The matrix as one self-contained HTML page: the colour-coded table, then each cell's evidence folded.

Colour carries the verdict at a glance; the verdict word is always written in the badge too, so the
page still reads in greyscale print and for colour-blind readers.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, PLATFORM_TITLES, Capability, Cell, Evidence, Matrix, Mode
from ._html import esc, legend, nav, page, verdict_badge
from .benchmarks_html import benchmarks_section
from .markdown import platform_differences, platforms_title
from .summary import answers, headline


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def _evidence(item: Evidence) -> str:
    parts = [f'<details id="{esc(item.id)}"><summary>{esc(item.id)}: {esc(item.summary)}</summary>']
    parts.append(
        f'<p class="muted">Probe <code>{esc(item.probe)}</code>: rerun with '
        f"<code>coze-harness report --probe {esc(item.probe)}</code></p>"
    )
    if item.simulated:
        parts.append(f"<p><strong>Simulated platform behaviour:</strong> {esc(item.simulated)}</p>")
    if item.error:
        parts.append(f"<p><strong>Error raised:</strong> <code>{esc(item.error)}</code></p>")
    if item.sdk_warnings:
        said = "".join(f"<li><code>{esc(line)}</code></li>" for line in item.sdk_warnings)
        parts.append(f"<p>What the SDK warned or logged while the probe ran:</p><ul>{said}</ul>")
    if item.sdk_facts:
        facts = "".join(
            f"<li><code>{esc(fact.subject)}</code>: <code>{esc(fact.value)}</code>"
            + (f" ({esc(fact.note)})" if fact.note else "")
            + "</li>"
            for fact in item.sdk_facts
        )
        parts.append(f"<p>SDK facts (read from the installed package):</p><ul>{facts}</ul>")
    if item.sdk_events:
        names = ", ".join(f"<code>{esc(name)}</code>" for name in item.sdk_events)
        parts.append(f"<p>Events as the SDK parsed them: {names}</p>")
    for number, exchange in enumerate(item.exchanges, 1):
        status = exchange.status if exchange.status is not None else "no response"
        kind = exchange.response_headers.get("content-type", "")
        parts.append(
            f"<p>{number}. <code>{esc(exchange.method)} {esc(_short_url(exchange.url))}</code> "
            f"&rarr; {esc(status)} <code>{esc(kind)}</code></p>"
        )
        if exchange.request_body:
            parts.append("<p>Request body:</p>" + _pre(exchange.request_body))
        if exchange.response_body:
            parts.append("<p>Response as received:</p>" + _pre(exchange.response_body))
    parts.append("</details>")
    return "\n".join(parts)


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return '<td class="muted">no verdict</td>'
    links = " ".join(f'<a href="#{esc(ref)}">{esc(ref)}</a>' for ref in cell.evidence)
    return f"<td>{verdict_badge(cell.verdict, cell.reason)}<br><small>{links}</small></td>"


def _table(matrix: Matrix, modes: list[Mode], platform: str) -> str:
    head = "".join(f"<th>{esc(MODE_TITLES[mode])}</th>" for mode in modes)
    rows = [
        f"<tr><th>{esc(CAPABILITY_TITLES[capability])}</th>"
        + "".join(_cell(matrix.cell(capability, mode, platform)) for mode in modes)
        + "</tr>"
        for capability in Capability
    ]
    return f"<table><tr><th>capability</th>{head}</tr>\n" + "\n".join(rows) + "</table>"


def _reasons(matrix: Matrix, modes: list[Mode], platform: str, level: int) -> str:
    parts = [f"<h{level}>Reasons</h{level}>"]
    for mode in modes:
        items = [
            f"<li>{esc(CAPABILITY_TITLES[cell.capability])}: {verdict_badge(cell.verdict)} {esc(cell.reason)}</li>"
            for capability in Capability
            if (cell := matrix.cell(capability, mode, platform)) is not None
        ]
        parts.append(f"<h{level + 1}>{esc(MODE_TITLES[mode])}</h{level + 1}><ul>{''.join(items)}</ul>")
    return "\n".join(parts)


def _platform(matrix: Matrix, platform: str, level: int) -> str:
    modes = matrix.modes(platform)
    local = "".join(
        f"<li><strong>{esc(MODE_TITLES[mode])}</strong>: {verdict_badge(cell.verdict)} {esc(cell.reason)}</li>"
        for mode in modes
        if (cell := matrix.cell(Capability.LOCAL_CODE, mode, platform)) is not None
    )
    return "\n".join(
        [
            f"<h{level}>Can a client run local code?</h{level}><ul>{local}</ul>",
            f"<h{level}>Matrix</h{level}>",
            legend(),
            _table(matrix, modes, platform),
            _reasons(matrix, modes, platform, level),
        ]
    )


def _differences(matrix: Matrix) -> str:
    if len(matrix.platforms) < 2:
        return ""
    found = platform_differences(matrix)
    intro = (
        "<h2 id='differences'>Where the platforms differ</h2>"
        "<p>The same SDK, probes and scenarios against each platform profile "
        "of the simulator; only the cells whose verdict differs.</p>"
    )
    if not found:
        return intro + "<p>No verdict differs.</p>"
    head = "".join(f"<th>{esc(PLATFORM_TITLES[p])}</th>" for p in matrix.platforms)
    rows = [
        f"<tr><th>{esc(MODE_TITLES[mode])}</th><th>{esc(CAPABILITY_TITLES[capability])}</th>"
        + "".join(_cell(cells.get(p)) for p in matrix.platforms)
        + "</tr>"
        for mode, capability, cells in found
    ]
    return intro + f"<table><tr><th>mode</th><th>capability</th>{head}</tr>\n" + "\n".join(rows) + "</table>"


def _grammar(matrix: Matrix) -> str:
    if not matrix.grammar:
        return ""
    items = "".join(
        f"<li>{esc(kind)}: " + ", ".join(f"<code>{esc(t)}</code>" for t in transitions) + "</li>"
        for kind, transitions in sorted(matrix.grammar.items())
    )
    return (
        "<h2 id='grammar'>Stream grammar coverage</h2>"
        "<p>Every stream checked against the cloud contract's event grammar "
        "(CONTRACT.md); on another platform a violation is where that platform departs from it.</p>"
        f"<ul>{items}</ul>"
    )


def _crashes(matrix: Matrix) -> str:
    if not matrix.crashes:
        return ""
    parts = [
        '<h2 class="regression" id="crashes">Probes that crashed</h2>',
        "<p>Their cells are missing: this is a bug to fix, not a verdict.</p>",
    ]
    for crash in matrix.crashes:
        parts.append(
            f"<details open><summary>{esc(crash.probe)} ({esc(crash.platform)}): <code>{esc(crash.error)}</code>"
            "</summary>"
            f"{_pre(crash.traceback)}</details>"
        )
    return "\n".join(parts)


_OUTCOME_COLOURS = {"survives": "#1a7f37", "misreads": "#9a6700", "fails": "#cf222e", "not-run": "#59636e"}


def _framing(matrix: Matrix) -> str:
    if not matrix.framing:
        return ""
    rows = []
    for variant in dict.fromkeys(item.variant for item in matrix.framing):
        by_stream = {item.stream: item for item in matrix.framing if item.variant == variant}
        cells = []
        for kind in ("chat", "workflow"):
            item = by_stream.get(kind)
            if item is None:
                cells.append('<td class="muted">not applicable</td>')
                continue
            badge = (
                f'<span class="v" style="background:{_OUTCOME_COLOURS[item.outcome]}" title="{esc(item.detail)}">'
                f"{esc(item.outcome)}</span>"
            )
            error = f"<br><small><code>{esc(item.error)}</code></small>" if item.error else ""
            sample = f"<details><summary>bytes</summary>{_pre(item.sample)}</details>" if item.sample else ""
            cells.append(f"<td>{badge}{error}{sample}</td>")
        description = esc(next(iter(by_stream.values())).description)
        rows.append(f"<tr><th><code>{esc(variant)}</code></th><td>{description}</td>{''.join(cells)}</tr>")
    return (
        "<h2 id='framing'>Framing robustness</h2>"
        "<p>Spec-legal SSE framing variants the server may start sending, each read by "
        "this SDK. <em>survives</em>: the same events and text as the canonical framing; <em>fails</em>: the SDK "
        "raised; <em>misreads</em>: no error but different events or text. Findings about the SDK, not the "
        "platform.</p><table><tr><th>variant</th><th>what changes</th><th>chat stream</th><th>workflow stream</th>"
        "</tr>\n" + "\n".join(rows) + "</table>"
    )


def _coverage(matrix: Matrix) -> str:
    if not matrix.coverage:
        return ""
    parts = ['<h2 id="coverage">Coverage ceiling</h2><p>What the simulator models, and what it cannot show yet.</p>']
    for modelled, title in ((True, "Modelled"), (False, "Not modelled yet")):
        items = "".join(
            f"<li><strong>{esc(note.area)}</strong>: {esc(note.detail)}"
            + (f' <span class="muted">(limits: {esc(", ".join(note.modes))})</span>' if note.modes else "")
            + "</li>"
            for note in matrix.coverage
            if note.modelled is modelled
        )
        parts.append(f"<h3>{title}</h3><ul>{items}</ul>")
    return "\n".join(parts)


def answer_section(matrix: Matrix) -> str:
    """The answer first: one sentence per platform, computed from the cells (`harness.report.summary`)."""
    lines = "".join(
        f"<p><strong>{esc(answer.title)}</strong>: {esc(answer.sentence().removeprefix(answer.title + ': '))}</p>"
        for answer in answers(matrix)
    )
    return f'<section class="answer" id="answer"><h2>{esc(headline(matrix))}</h2>{lines}</section>'


def _platform_anchor(platform: str) -> str:
    return f"on-{platform}"


def render_html(matrix: Matrix, benchmarks: Path | None = None) -> str:
    label = f" ({matrix.sdk_label})" if matrix.sdk_label else ""
    title = f"Capability matrix: {matrix.sdk} {matrix.sdk_version}{label} on {platforms_title(matrix)}"
    several = len(matrix.platforms) > 1
    sections = [
        (f'<h2 id="{_platform_anchor(p)}">On {esc(PLATFORM_TITLES[p])}</h2>' if several else "")
        + _platform(matrix, p, 3 if several else 2)
        for p in matrix.platforms
    ]
    bench = benchmarks_section(benchmarks) if benchmarks is not None else ""
    links = [("crashes", "probes that crashed")] if matrix.crashes else []
    links += [(_platform_anchor(p), f"on {PLATFORM_TITLES[p]}") for p in matrix.platforms] if several else []
    links += [("differences", "where the platforms differ")] if several else []
    links += [("grammar", "stream grammar")] if matrix.grammar else []
    links += [("framing", "framing robustness")] if matrix.framing else []
    links += [("coverage", "coverage ceiling")] if matrix.coverage else []
    links.append(("evidence", "evidence"))
    body = "\n".join(
        [
            f"<h1>{esc(title)}</h1>",
            answer_section(matrix),
            nav(links),
            f'<p class="muted">{esc(matrix.runtime_line)}; wire contract {esc(matrix.contract_version)}; '
            f"schema {matrix.schema_version}; generated {esc(matrix.generated_at)}. Every verdict comes from a probe "
            "that ran the installed SDK against the simulator or read its surface.</p>",
            _crashes(matrix),
            *sections,
            _differences(matrix),
            _grammar(matrix),
            _framing(matrix),
            bench,
            _coverage(matrix),
            '<h2 id="evidence">Evidence</h2>',
            *(_evidence(item) for item in matrix.evidence.values()),
        ]
    )
    return page(title, body)
