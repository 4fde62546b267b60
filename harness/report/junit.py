"""The matrix as JUnit XML, so a CI system shows one test per cell without knowing anything about Coze.

A cell fails only when it is `broken` (the SDK has the surface but the flow fails) and is skipped
when `unknown` or `not-applicable`; `absent` is a passing fact about the SDK, not a failure of the
run. Crashed probes are errors. Gating on a change of verdict is `--expect`'s job, not this file's.
"""

from __future__ import annotations

from xml.etree import ElementTree

from ..matrix import CAPABILITY_TITLES, MODE_TITLES, Matrix, Verdict

_SKIPPED = {Verdict.UNKNOWN, Verdict.NOT_APPLICABLE}


def render_junit(matrix: Matrix) -> str:
    suite_name = f"capability-matrix {matrix.sdk} {matrix.sdk_version}"
    suite = ElementTree.Element("testsuite", name=suite_name, timestamp=matrix.generated_at)
    counts = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    for cell in matrix.cells:
        counts["tests"] += 1
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"{matrix.sdk}-{matrix.sdk_version}.{cell.platform}.{cell.mode.value}",
            name=cell.capability.value,
        )
        message = f"{cell.verdict.value}: {cell.reason}"
        if cell.verdict is Verdict.BROKEN:
            counts["failures"] += 1
            failure = ElementTree.SubElement(case, "failure", message=message, type=cell.verdict.value)
            failure.text = "evidence: " + ", ".join(cell.evidence)
        elif cell.verdict in _SKIPPED:
            counts["skipped"] += 1
            ElementTree.SubElement(case, "skipped", message=message)
        detail = ElementTree.SubElement(case, "system-out")
        detail.text = (
            f"{MODE_TITLES[cell.mode]} / {CAPABILITY_TITLES[cell.capability]} on {cell.platform}\n{message}\n"
            f"evidence: {', '.join(cell.evidence) or 'none'}"
        )
    for crash in matrix.crashes:
        counts["tests"] += 1
        counts["errors"] += 1
        case = ElementTree.SubElement(
            suite, "testcase", classname=f"{matrix.sdk}-{matrix.sdk_version}.{crash.platform}.probes", name=crash.probe
        )
        error = ElementTree.SubElement(case, "error", message=crash.error)
        error.text = crash.traceback
    for key, value in counts.items():
        suite.set(key, str(value))
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(suite, encoding="unicode") + "\n"
