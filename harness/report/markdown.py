"""The matrix as Markdown: the table first, then each cell's reason and the evidence behind it."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, Capability, Evidence, Matrix, Mode

_RAW_LINES = 40


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _fence(text: str, limit: int = _RAW_LINES) -> str:
    lines = text.splitlines()
    shown = lines[:limit]
    more = f"\n... {len(lines) - limit} more lines (full text in the JSON report)" if len(lines) > limit else ""
    body = "\n".join(shown).replace("```", "`\u200b``")
    return f"```\n{body}{more}\n```"


def _evidence(item: Evidence) -> list[str]:
    out = [f"### {item.id}: {item.summary}", "", f"Probe: `{item.probe}`."]
    if item.simulated:
        out += ["", f"Simulated platform behaviour: {item.simulated}"]
    if item.error:
        out += ["", f"Error raised: `{item.error}`"]
    if item.sdk_facts:
        out += ["", "SDK facts (read from the installed package):", ""]
        out += [
            f"- `{fact.subject}`: `{fact.value}`" + (f" ({fact.note})" if fact.note else "") for fact in item.sdk_facts
        ]
    if item.sdk_events:
        out += ["", "Events as the SDK parsed them: " + ", ".join(f"`{name}`" for name in item.sdk_events)]
    for number, exchange in enumerate(item.exchanges, 1):
        status = exchange.status if exchange.status is not None else "no response"
        kind = exchange.response_headers.get("content-type", "")
        out += ["", f"{number}. `{exchange.method} {_short_url(exchange.url)}` -> {status} `{kind}`"]
        if exchange.request_body:
            out += ["", "Request body:", "", _fence(exchange.request_body, 5)]
        if exchange.response_body:
            out += ["", "Response as received:", "", _fence(exchange.response_body)]
    return out


def render_markdown(matrix: Matrix) -> str:
    modes = [mode for mode in Mode if any(cell.mode == mode for cell in matrix.cells)]
    lines = [
        f"# Capability matrix: {matrix.sdk} {matrix.sdk_version} on {matrix.platform} Coze",
        "",
        f"Python {matrix.python_version}; wire contract {matrix.contract_version}; generated {matrix.generated_at}.",
        "Every verdict below comes from a probe that ran the installed SDK against the simulator or read its",
        "surface; the evidence ids link to what was sent, received and parsed.",
        "",
        "## Can a client run local code?",
        "",
    ]
    for mode in modes:
        cell = matrix.cell(Capability.LOCAL_CODE, mode)
        if cell is not None:
            lines.append(f"- **{MODE_TITLES[mode]}**: {cell.verdict.value}. {cell.reason}")
    lines += ["", "## Matrix", ""]
    lines.append("| capability | " + " | ".join(MODE_TITLES[mode] for mode in modes) + " |")
    lines.append("|---" * (len(modes) + 1) + "|")
    for capability in Capability:
        row = []
        for mode in modes:
            cell = matrix.cell(capability, mode)
            if cell is None:
                row.append("")
            else:
                links = " ".join(f"[{ref}](#{ref})" for ref in cell.evidence)
                row.append(f"{cell.verdict.value} {links}".strip())
        lines.append(f"| {CAPABILITY_TITLES[capability]} | " + " | ".join(row) + " |")
    lines += ["", "## Reasons", ""]
    for mode in modes:
        lines += [f"### {MODE_TITLES[mode]}", ""]
        for capability in Capability:
            cell = matrix.cell(capability, mode)
            if cell is not None:
                lines.append(f"- {CAPABILITY_TITLES[capability]}: **{cell.verdict.value}**. {cell.reason}")
        lines.append("")
    if matrix.grammar:
        lines += ["## Stream grammar coverage", ""]
        for kind, transitions in sorted(matrix.grammar.items()):
            lines.append(f"- {kind}: " + ", ".join(f"`{t}`" for t in transitions))
        lines.append("")
    lines += _crashes(matrix)
    lines += _framing(matrix)
    lines += _coverage(matrix)
    lines += ["## Evidence", ""]
    for item in matrix.evidence.values():
        lines += [*_evidence(item), ""]
    return "\n".join(lines).rstrip() + "\n"


def _crashes(matrix: Matrix) -> list[str]:
    if not matrix.crashes:
        return []
    lines = ["## Probes that crashed", "", "Their cells are missing: this is a bug to fix, not a verdict.", ""]
    for crash in matrix.crashes:
        lines += [f"### {crash.probe}", "", f"`{crash.error}`", "", _fence(crash.traceback), ""]
    return lines


def _framing(matrix: Matrix) -> list[str]:
    if not matrix.framing:
        return []
    lines = [
        "## Framing robustness",
        "",
        "Spec-legal SSE framing variants the server may start sending, each read by this SDK (chat stream and",
        "workflow stream). `survives`: the same events and text as the canonical framing; `fails`: the SDK",
        "raised; `misreads`: no error but different events or text. Findings about the SDK, not the platform.",
        "",
        "| variant | what changes | chat stream | workflow stream |",
        "|---|---|---|---|",
    ]
    variants = list(dict.fromkeys(item.variant for item in matrix.framing))
    for variant in variants:
        by_stream = {item.stream: item for item in matrix.framing if item.variant == variant}
        description = next(iter(by_stream.values())).description
        cells = [by_stream[kind].outcome if kind in by_stream else "" for kind in ("chat", "workflow")]
        lines.append(f"| `{variant}` | {description} | " + " | ".join(cells) + " |")
    lines.append("")
    for item in matrix.framing:
        if item.outcome != "survives":
            lines.append(
                f"- `{item.variant}` ({item.stream}): {item.detail}" + (f"; `{item.error}`" if item.error else "")
            )
    lines.append("")
    return lines


def _coverage(matrix: Matrix) -> list[str]:
    if not matrix.coverage:
        return []
    lines = ["## Coverage ceiling", "", "What the simulator models, and what it cannot show yet.", ""]
    for modelled, title in ((True, "Modelled"), (False, "Not modelled yet")):
        lines += [f"### {title}", ""]
        for note in (n for n in matrix.coverage if n.modelled is modelled):
            limits = f" (limits: {', '.join(note.modes)})" if note.modes else ""
            lines.append(f"- **{note.area}**: {note.detail}{limits}")
        lines.append("")
    return lines


def render_cells(matrix: Matrix, wanted: list[tuple[str, str]]) -> str:
    """Chosen cells with their full evidence, for `report --probe`: `(mode, "")` means the whole column."""
    chosen = [
        cell
        for mode_name, capability_name in wanted
        for cell in matrix.cells
        if cell.mode.value == mode_name and capability_name in ("", cell.capability.value)
    ]
    lines = [f"- {c.mode.value} / {c.capability.value}: **{c.verdict.value}**. {c.reason}" for c in chosen]
    refs = dict.fromkeys(ref for cell in chosen for ref in cell.evidence if ref in matrix.evidence)
    for ref in refs:
        lines += ["", *_evidence(matrix.evidence[ref])]
    for crash in matrix.crashes:
        lines += ["", f"probe {crash.probe} crashed: {crash.error}"]
    return "\n".join(lines)
