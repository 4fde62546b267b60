"""The benchmark figures (reports/benchmarks.json, written by `python -m benchmarks.run_all`) as a small
HTML section with an inline SVG bar chart: each measured ratio beside its target.

`benchmarks_section(path)` returns the section, or "" when there is no (readable) file, so a report
renders the same without benchmarks.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["bars", "benchmarks_section"]

_WIDTH, _LABEL, _ROW, _SCALE_MAX = 560, 230, 26, 2.0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def bars(document: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(label, value, target, higher_is_better) for every ratio the benchmarks report."""
    found: list[tuple[str, float, float, bool]] = []
    benchmarks = document.get("benchmarks", {})
    throughput = benchmarks.get("throughput", {})
    for reader, title in (("raw_httpx", "httpx reader"), ("cozepy", "cozepy reader")):
        ratio = _number(throughput.get(reader, {}).get("ratio"))
        if ratio is not None:
            target = _number(throughput.get("target_ratio")) or 0.8
            found.append((f"throughput, {title}: simulator / ceiling", ratio, target, True))
    speed = benchmarks.get("harness_speed", {})
    seconds = _number(speed.get("report", {}).get("seconds", {}).get("median"))
    target_seconds = _number(speed.get("report", {}).get("target_seconds")) or 5.0
    if seconds is not None:
        found.append(
            (f"coze-harness report: {seconds:.1f} s / {target_seconds:g} s", seconds / target_seconds, 1.0, False)
        )
    transports = speed.get("transports", {})
    for label, case in transports.get("cases", {}).items():
        ratio = _number(case.get("ratio"))
        if ratio is not None:
            target = _number(transports.get("target_ratio")) or 1.5
            found.append((f"in-process / respx, {label}", ratio, target, False))
        # The same transport serving a framework-less app: what the transport itself costs.
        alone = _number(case.get("raw_asgi_ratio"))
        if alone is not None:
            target = _number(transports.get("target_ratio")) or 1.5
            found.append((f"transport alone / respx, {label}", alone, target, False))
    suite = benchmarks.get("plugin_suite", {})
    for mode, ratio_value in suite.get("ratios", {}).items():
        ratio = _number(ratio_value)
        goal = _number(suite.get("targets", {}).get(mode))
        if ratio is not None and goal is not None:
            found.append((f"pytest plugin, {mode} / respx ({suite.get('tests', '?')} tests)", ratio, goal, False))
    return found


def _svg(rows: list[tuple[str, float, float, bool]]) -> str:
    height = _ROW * len(rows) + 24
    plot = _WIDTH - _LABEL - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" role="img" '
        f'aria-label="benchmark ratios against their targets" font-family="sans-serif" font-size="11">'
    ]
    for index, (label, value, target, higher) in enumerate(rows):
        y = 8 + index * _ROW
        met = value >= target if higher else value <= target
        colour = "#2e7d32" if met else "#ef6c00"
        width = plot * min(value, _SCALE_MAX) / _SCALE_MAX
        target_x = _LABEL + plot * min(target, _SCALE_MAX) / _SCALE_MAX
        goal = ("at least " if higher else "at most ") + f"{target:g}"
        parts.append(f'<text x="{_LABEL - 6}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>')
        parts.append(
            f'<rect x="{_LABEL}" y="{y + 2}" width="{width:.1f}" height="{_ROW - 10}" fill="{colour}">'
            f"<title>{html.escape(label)}: {value:.2f} (target {goal})</title></rect>"
        )
        parts.append(
            f'<line x1="{target_x:.1f}" x2="{target_x:.1f}" y1="{y}" y2="{y + _ROW - 6}" stroke="#000" '
            f'stroke-dasharray="3,2"/>'
        )
        suffix = "+" if value > _SCALE_MAX else ""
        parts.append(f'<text x="{_LABEL + width + 4:.1f}" y="{y + 13}">{value:.2f}{suffix}</text>')
    axis_y = 8 + len(rows) * _ROW + 10
    parts.append(
        f'<text x="{_LABEL}" y="{axis_y}" fill="#555">0</text>'
        f'<text x="{_LABEL + plot}" y="{axis_y}" fill="#555" text-anchor="end">{_SCALE_MAX:g}x; dashed: target</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _facts(document: dict[str, Any]) -> list[str]:
    benchmarks = document.get("benchmarks", {})
    facts = []
    throughput = benchmarks.get("throughput", {})
    raw = throughput.get("raw_httpx", {})
    if raw:
        facts.append(
            f"Throughput (httpx reader): simulator {raw['simulator_events_per_second']['median']:,.0f} events/s, "
            f"ceiling {raw['ceiling_events_per_second']['median']:,.0f} events/s."
        )
    scale = benchmarks.get("scale", {})
    if scale:
        first = scale.get("time_to_first_event_seconds", {})
        facts.append(
            f"Scale: {scale.get('completed')}/{scale.get('chats')} concurrent local-plugin chats complete, "
            f"{scale.get('lost_or_duplicated')} with lost or duplicated events; first event p50 "
            f"{first.get('p50', 0) * 1000:.0f} ms, p99 {first.get('p99', 0) * 1000:.0f} ms; peak RSS server "
            f"{scale.get('peak_rss_mb', {}).get('server', 0):.0f} MB."
        )
    return facts


def benchmarks_section(path: str | Path) -> str:
    """An HTML `<section>` with the chart and the headline figures; "" without a readable benchmarks file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(document, dict):
        return ""
    rows = bars(document)
    facts = _facts(document)
    if not rows and not facts:
        return ""
    machine = document.get("machine", {})
    where = f"{machine.get('cores', '?')} cores, {machine.get('cpu', '?')}, Python {machine.get('python', '?')}"
    items = "".join(f"<li>{html.escape(fact)}</li>" for fact in facts)
    return (
        '<section id="benchmarks"><h2>Benchmarks</h2>'
        f"<p>Measured by <code>python -m benchmarks.run_all</code> on {html.escape(where)} "
        "(benchmarks/README.md has the commands and how to read them).</p>"
        f"{_svg(rows) if rows else ''}<ul>{items}</ul></section>"
    )
