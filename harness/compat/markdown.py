"""`compatibility.md`: regressions and findings first, then the grid per mode, then request contracts."""

from __future__ import annotations

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, PLATFORM_TITLES, Mode, Verdict
from .model import Compatibility, FramingRow, Row
from .reading import answers_at, grouped_findings, newest_decided, releases, since

SHORT: dict[Verdict | None, str] = {
    Verdict.SUPPORTED: "S",
    Verdict.WORKAROUND: "W",
    Verdict.UNKNOWN: "?",
    Verdict.NOT_APPLICABLE: "n/a",
    Verdict.BROKEN: "B",
    Verdict.ABSENT: "A",
    None: "-",
}
LEGEND = "S supported, W workaround, ? unknown, n/a not-applicable, B broken, A absent, - no verdict"
FRAMING_SHORT: dict[str | None, str] = {"survives": "ok", "misreads": "M", "fails": "F", "not-run": "-", None: "-"}
FRAMING_LEGEND = (
    "ok survives (the same events and text as the canonical framing), M misreads, F fails (the SDK raised), - not run"
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def span(compat: Compatibility) -> str:
    names = compat.version_names
    return f"{names[0]} .. {names[-1]} ({len(names)} releases)" if names else "no releases"


def changed_in(row: Row) -> str:
    return ", ".join(f"{c.version} ({c.before.value} → {c.after.value})" for c in row.changes) or "never"


def framing_changed_in(row: FramingRow) -> str:
    return ", ".join(f"{c.version} ({c.before} → {c.after})" for c in row.changes) or "never"


def _regressions(compat: Compatibility) -> list[str]:
    lines = ["## Regressions", ""]
    framing = compat.framing_regressions
    if not compat.regressions and not framing:
        return [*lines, "None: no cell got worse from one release to the next.", ""]
    lines += ["| cell | from | to | verdict | why (newer release) |", "| --- | --- | --- | --- | --- |"]
    for item in compat.regressions:
        verdicts = f"{item.before.value} → **{item.after.value}**"
        lines.append(f"| {item.name} | {item.previous} | {item.version} | {verdicts} | {_cell(item.reason)} |")
    for row, change in framing:
        outcomes = f"{change.before} → **{change.after}**"
        why = row.cells[change.version].detail
        lines.append(f"| {row.name} | {change.previous} | {change.version} | {outcomes} | {_cell(why)} |")
    return [*lines, ""]


def _findings(compat: Compatibility) -> list[str]:
    lines = ["## Findings", ""]
    if not compat.findings:
        return [*lines, "Every release installed and ran every probe; the simulator refused no request.", ""]
    lines += ["| releases | finding | detail |", "| --- | --- | --- |"]
    lines += [
        f"| {releases(compat, group.versions)} ({len(group.versions)}) | {group.kind} | {_cell(group.detail)} |"
        for group in grouped_findings(compat)
    ]
    return [*lines, ""]


def _grid(compat: Compatibility) -> list[str]:
    names = compat.version_names
    lines = ["## Verdicts by release", "", f"Legend: {LEGEND}. The HTML report lists every reason under its grid.", ""]
    for platform, mode in ((p, m) for p in compat.platforms for m in Mode):
        rows = [row for row in compat.rows if row.mode == mode and row.platform == platform]
        if not rows:
            continue
        lines += [f"### {MODE_TITLES[mode]} (`{mode.value}`) on {PLATFORM_TITLES[platform]}", ""]
        lines.append("| capability | first available | changed in | " + " | ".join(names) + " |")
        lines.append("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
        for row in rows:
            cells = " | ".join(SHORT[row.cells[name].verdict] if name in row.cells else "" for name in names)
            title = CAPABILITY_TITLES[row.capability]
            lines.append(f"| {title} | {row.first_appeared or 'never'} | {_cell(changed_in(row))} | {cells} |")
        lines.append("")
    return lines


def _framing(compat: Compatibility) -> list[str]:
    lines = ["## Framing robustness by release", ""]
    if not compat.framing:
        return [*lines, "No release ran the framing probe.", ""]
    names = compat.version_names
    lines += [
        "Spec-legal ways the platform may start framing its streams (`coze-harness report --probe framing`), "
        "read by each release's SDK against the simulator.",
        "",
        f"Legend: {FRAMING_LEGEND}.",
        "",
        "| stream | variant | first read | changed in | " + " | ".join(names) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for row in compat.framing:
        cells = " | ".join(FRAMING_SHORT[row.cells[name].outcome] if name in row.cells else "" for name in names)
        lines.append(
            f"| {row.stream} | {row.variant} | {row.first_survived or 'never'} | "
            f"{_cell(framing_changed_in(row))} | {cells} |"
        )
    return [*lines, ""]


def _contracts(compat: Compatibility) -> list[str]:
    lines = ["## Request contracts", ""]
    if not compat.contracts:
        return [*lines, "No release has recorded requests.", ""]
    first = next(iter(compat.contracts))
    lines += [
        "What the SDK sends per flow: method, path (ids as `{id}`), query keys, body keys and the headers that "
        "matter; never a value. A flow's requests also change when a release can do more (a release that "
        "cannot read tool calls never submits outputs).",
        "",
        f"### Changes between consecutive releases ({len(compat.contract_changes)})",
        "",
    ]
    if compat.contract_changes:
        lines += ["| release | flow | endpoint | change |", "| --- | --- | --- | --- |"]
        for change in compat.contract_changes:
            what = "; ".join(change.details) if change.details else ""
            lines.append(
                f"| {change.previous} → {change.version} | {change.flow} | `{change.path}` | "
                f"{change.kind}{': ' if what else ''}{_cell(what)} |"
            )
    else:
        lines.append("Every release sends the same requests.")
    lines += ["", f"### Requests of {compat.sdk} {first} (the oldest release)", ""]
    lines += ["| flow | endpoint | query | body | headers |", "| --- | --- | --- | --- | --- |"]
    for shape in compat.contracts[first]:
        headers = ", ".join(f"{k}: {v}" for k, v in shape.headers.items())
        lines.append(
            f"| {shape.flow} | {','.join(shape.methods)} `{shape.path}` | {', '.join(shape.query_keys)} | "
            f"{_cell(', '.join(shape.body_keys))} | {_cell(headers)} |"
        )
    return [*lines, ""]


def _releases(compat: Compatibility) -> list[str]:
    runtime = "python" if compat.sdk == "cozepy" else "runtime"
    lines = [
        "## Releases",
        "",
        f"| release | label | {runtime} | generated | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for column in compat.versions:
        if column.failure is not None:
            result = f"failed at {column.failure.stage}"
        elif column.crashes:
            result = f"{len(column.crashes)} probe(s) crashed"
        else:
            result = "ok"
        lines.append(
            f"| {column.version} | {column.label} | {column.python_version} | {column.generated_at} | {result} |"
        )
    return [*lines, ""]


def _answer(compat: Compatibility) -> list[str]:
    version = newest_decided(compat)
    if version is None:
        return ["## No release produced a verdict", ""]
    lines = [f"## Can {compat.sdk} {version} call your local code?", ""]
    for answer in answers_at(compat, version):
        first = since(compat, answer, version)
        lines.append(f"- {answer.sentence()}" + (f" ({'; '.join(first)}.)" if first else ""))
    return [*lines, ""]


def render_markdown(compat: Compatibility) -> str:
    lines = [
        f"# {compat.sdk} compatibility: {span(compat)}",
        "",
        f"Generated {compat.generated_at} by `coze-harness compat` from one capability matrix per release "
        f"(matrix schema {compat.matrix_schema_version}). A regression is a cell whose verdict ranks lower than "
        "in the release before it (supported > workaround > unknown = not-applicable > broken > absent), or a "
        "framing variant the release reads worse (survives > misreads > fails).",
        "",
    ]
    lines += _answer(compat)
    lines += (
        _regressions(compat)
        + _findings(compat)
        + _grid(compat)
        + _framing(compat)
        + _contracts(compat)
        + _releases(compat)
    )
    return "\n".join(lines).rstrip() + "\n"


def render_markdown_all(compats: list[Compatibility]) -> str:
    """One SDK's report as it has always been, or one document with a part per SDK (headings one level down)."""
    if len(compats) == 1:
        return render_markdown(compats[0])
    lines = [
        "# Compatibility: " + "; ".join(f"{compat.sdk} {span(compat)}" for compat in compats),
        "",
        "One part per SDK (" + ", ".join(compat.sdk for compat in compats) + "), each merged from one capability "
        "matrix per release of that SDK.",
        "",
    ]
    for compat in compats:
        part = render_markdown(compat)
        lines += [("#" + line if line.startswith("#") else line) for line in part.splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
