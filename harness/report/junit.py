"""The matrix as JUnit XML, so a CI system shows one test per cell without knowing anything about Coze.

The file tells the story the exit status of `coze-harness report` tells: it has a failure or an
error exactly when the command exits non-zero.

- A verdict is a fact about the SDK, whatever it is: its test case passes (`broken` and `absent`
  included), with the verdict, the reason and the evidence ids in its properties and system-out.
  `unknown` and `not-applicable` cells are skipped (nothing was decided).
- With `--expect`, a cell whose verdict differs from the expectation is a failure (exit 1), and an
  expected cell the run did not produce is a failing test case of its own.
- A probe that crashed is an error (exit 3).
"""

from __future__ import annotations

from xml.etree import ElementTree

from ..expect import Difference
from ..matrix import CAPABILITY_TITLES, MODE_TITLES, Cell, Matrix, Verdict

_SKIPPED = {Verdict.UNKNOWN, Verdict.NOT_APPLICABLE}


def _properties(case: ElementTree.Element, values: dict[str, str]) -> None:
    properties = ElementTree.SubElement(case, "properties")
    for name, value in values.items():
        ElementTree.SubElement(properties, "property", name=name, value=value)


def _failure(case: ElementTree.Element, difference: Difference, expect_name: str) -> None:
    failure = ElementTree.SubElement(
        case, "failure", message=f"differs from {expect_name}: {difference.line()}", type="expectation"
    )
    failure.text = f"expected {_value(difference.expected)}, got {_value(difference.actual)}"


def _value(verdict: Verdict | None) -> str:
    return verdict.value if verdict is not None else "(no cell)"


def _case(suite: ElementTree.Element, matrix: Matrix, platform: str, mode: str, name: str) -> ElementTree.Element:
    return ElementTree.SubElement(
        suite, "testcase", classname=f"{matrix.sdk}-{matrix.sdk_version}.{platform}.{mode}", name=name
    )


def render_junit(
    matrix: Matrix, differences: list[Difference] | None = None, expect_name: str = "the expectation"
) -> str:
    """`differences`: the result of comparing the run with `--expect` (None: no expectation was given)."""
    suite_name = f"capability-matrix {matrix.sdk} {matrix.sdk_version}"
    suite = ElementTree.Element("testsuite", name=suite_name, timestamp=matrix.generated_at)
    counts = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    differing = {(d.platform, d.mode, d.capability): d for d in differences or []}
    for cell in matrix.cells:
        counts["tests"] += 1
        case = _case(suite, matrix, cell.platform, cell.mode.value, cell.capability.value)
        _properties(case, {"verdict": cell.verdict.value, "evidence": ", ".join(cell.evidence)})
        difference = differing.pop((cell.platform, cell.mode, cell.capability), None)
        if difference is not None:
            counts["failures"] += 1
            _failure(case, difference, expect_name)
        elif cell.verdict in _SKIPPED:
            counts["skipped"] += 1
            ElementTree.SubElement(case, "skipped", message=f"{cell.verdict.value}: {cell.reason}")
        ElementTree.SubElement(case, "system-out").text = _detail(cell)
    for difference in differing.values():  # expected, but the run produced no such cell
        counts["tests"] += 1
        counts["failures"] += 1
        case = _case(suite, matrix, difference.platform, difference.mode.value, difference.capability.value)
        _failure(case, difference, expect_name)
    for crash in matrix.crashes:
        counts["tests"] += 1
        counts["errors"] += 1
        case = _case(suite, matrix, crash.platform, "probes", crash.probe)
        error = ElementTree.SubElement(case, "error", message=crash.error)
        error.text = crash.traceback
    for key, value in counts.items():
        suite.set(key, str(value))
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(suite, encoding="unicode") + "\n"


def _detail(cell: Cell) -> str:
    return (
        f"{MODE_TITLES[cell.mode]} / {CAPABILITY_TITLES[cell.capability]} on {cell.platform}\n"
        f"verdict: {cell.verdict.value}: {cell.reason}\n"
        f"evidence: {', '.join(cell.evidence) or 'none'}"
    )
