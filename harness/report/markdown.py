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
    lines += ["## Evidence", ""]
    for item in matrix.evidence.values():
        lines += [*_evidence(item), ""]
    return "\n".join(lines).rstrip() + "\n"
