"""The matrix as Markdown: the table first, then each cell's reason and the evidence behind it."""

from __future__ import annotations

from urllib.parse import urlsplit

from simulators.coze import PlatformName

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, PLATFORM_TITLES, Capability, Cell, Evidence, Matrix, Mode
from .summary import answers, headline

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
    if item.sdk_warnings:
        out += ["", "What the SDK warned or logged while the probe ran:", ""]
        out += [f"- `{line}`" for line in item.sdk_warnings]
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


def platforms_title(matrix: Matrix) -> str:
    return " and ".join(PLATFORM_TITLES[platform] for platform in matrix.platforms)


def platform_differences(matrix: Matrix) -> list[tuple[Mode, Capability, dict[PlatformName, Cell]]]:
    """The (mode, capability) pairs whose verdict differs between the platforms of the run."""
    found = []
    for mode in matrix.modes():
        for capability in Capability:
            cells = {p: c for p in matrix.platforms if (c := matrix.cell(capability, mode, p)) is not None}
            if len(cells) > 1 and len({cell.verdict for cell in cells.values()}) > 1:
                found.append((mode, capability, cells))
    return found


def _links(cell: Cell) -> str:
    return " ".join(f"[{ref}](#{ref})" for ref in cell.evidence)


def _platform_section(matrix: Matrix, platform: str, heading: str) -> list[str]:
    modes = matrix.modes(platform)
    lines = [f"{heading} Can a client run local code?", ""]
    for mode in modes:
        cell = matrix.cell(Capability.LOCAL_CODE, mode, platform)
        if cell is not None:
            lines.append(f"- **{MODE_TITLES[mode]}**: {cell.verdict.value}. {cell.reason}")
    lines += ["", f"{heading} Matrix", ""]
    lines.append("| capability | " + " | ".join(MODE_TITLES[mode] for mode in modes) + " |")
    lines.append("|---" * (len(modes) + 1) + "|")
    for capability in Capability:
        row = []
        for mode in modes:
            cell = matrix.cell(capability, mode, platform)
            row.append("" if cell is None else f"{cell.verdict.value} {_links(cell)}".strip())
        lines.append(f"| {CAPABILITY_TITLES[capability]} | " + " | ".join(row) + " |")
    lines += ["", f"{heading} Reasons", ""]
    for mode in modes:
        lines += [f"{heading}# {MODE_TITLES[mode]}", ""]
        for capability in Capability:
            cell = matrix.cell(capability, mode, platform)
            if cell is not None:
                lines.append(f"- {CAPABILITY_TITLES[capability]}: **{cell.verdict.value}**. {cell.reason}")
        lines.append("")
    return lines


def _differences(matrix: Matrix) -> list[str]:
    if len(matrix.platforms) < 2:
        return []
    found = platform_differences(matrix)
    names = " | ".join(matrix.platforms)
    lines = [
        "## Where the platforms differ",
        "",
        "The same SDK, probes and scenarios against each platform profile of the simulator",
        "(`simulators/profiles/*.yaml`); only the cells whose verdict differs.",
        "",
    ]
    if not found:
        return [*lines, "No verdict differs.", ""]
    lines += [f"| mode | capability | {names} |", "|---|---|" + "---|" * len(matrix.platforms)]
    for mode, capability, cells in found:
        row = [f"{cells[p].verdict.value} {_links(cells[p])}".strip() if p in cells else "" for p in matrix.platforms]
        lines.append(f"| {MODE_TITLES[mode]} | {CAPABILITY_TITLES[capability]} | " + " | ".join(row) + " |")
    return [*lines, ""]


def render_markdown(matrix: Matrix) -> str:
    lines = [
        f"# Capability matrix: {matrix.sdk} {matrix.sdk_version} on {platforms_title(matrix)}",
        "",
        f"{matrix.runtime_line}; wire contract {matrix.contract_version}; generated {matrix.generated_at}.",
        "Every verdict below comes from a probe that ran the installed SDK against the simulator or read its",
        "surface; the evidence ids link to what was sent, received and parsed.",
        "",
        f"## {headline(matrix)}",
        "",
        *(f"- {answer.sentence()}" for answer in answers(matrix)),
        "",
    ]
    lines += _differences(matrix)
    several = len(matrix.platforms) > 1
    for platform in matrix.platforms:
        if several:
            lines += [f"## On {PLATFORM_TITLES[platform]}", ""]
        lines += _platform_section(matrix, platform, "###" if several else "##")
    if matrix.grammar:
        lines += [
            "## Stream grammar coverage",
            "",
            "Every stream checked against the cloud contract's event grammar (CONTRACT.md); on another platform a",
            "violation is where that platform departs from it.",
            "",
        ]
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
        lines += [f"### {crash.probe} ({crash.platform})", "", f"`{crash.error}`", "", _fence(crash.traceback), ""]
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
    lines = [
        f"- {c.mode.value} / {c.capability.value} ({c.platform}): **{c.verdict.value}**. {c.reason}" for c in chosen
    ]
    refs = dict.fromkeys(ref for cell in chosen for ref in cell.evidence if ref in matrix.evidence)
    for ref in refs:
        lines += ["", *_evidence(matrix.evidence[ref])]
    if any(probe == "framing" for probe, _ in wanted):  # its results are a table of variants, not cells
        lines += ["", *_framing(matrix)]
    for crash in matrix.crashes:
        lines += ["", f"probe {crash.probe} crashed: {crash.error}"]
    return "\n".join(lines)
