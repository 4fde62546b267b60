"""The benchmark figures in the HTML report: one bar per measured ratio beside its target, read from the
benchmarks file `python -m benchmarks.run_all` writes (the figures here are a small hand-made file; the
rendering is what is tested, not the machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.benchmarks_html import bars, benchmarks_section

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parent.parent

FIGURES = {
    "benchmarks": {
        "throughput": {
            "target_ratio": 0.8,
            "raw_httpx": {
                "ratio": 0.9,
                "simulator_events_per_second": {"median": 90000},
                "ceiling_events_per_second": {"median": 100000},
            },
        },
        "harness_speed": {
            "report": {"seconds": {"median": 2.5}, "target_seconds": 5.0},
            "transports": {
                "target_ratio": 1.5,
                "cases": {"short": {"ratio": 2.1, "raw_asgi_ratio": 1.0, "bare_fastapi_ratio": 1.6}},
            },
        },
    }
}


def test_each_ratio_is_a_bar_with_its_target() -> None:
    assert bars(FIGURES) == [
        ("throughput, httpx reader: simulator / ceiling", 0.9, 0.8, True),
        ("coze-harness report: 2.5 s / 5 s", 0.5, 1.0, False),
        ("in-process / respx, short", 2.1, 1.5, False),
        ("transport alone / respx, short", 1.0, 1.5, False),
    ]


def test_the_section_colours_a_missed_target_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps(FIGURES), encoding="utf-8")
    section = benchmarks_section(path)
    assert section.count("<rect") == 4 and "<svg" in section
    assert "in-process / respx, short: 2.10 (target at most 1.5)" in section
    missed = section.split("in-process / respx, short: 2.10")[0].rsplit("<rect", 1)[1]
    assert 'fill="#ef6c00"' in missed  # over its target
    assert "simulator 90,000 events/s" in section
    assert benchmarks_section(tmp_path / "absent.json") == ""
    (tmp_path / "bad.json").write_text("[1,", encoding="utf-8")
    assert benchmarks_section(tmp_path / "bad.json") == ""


def test_the_committed_figures_render() -> None:
    """reports/benchmarks.json as the last run wrote it: every ratio it holds has a bar."""
    document = json.loads((ROOT / "reports" / "benchmarks.json").read_text(encoding="utf-8"))
    labels = [label for label, *_ in bars(document)]
    cases = document["benchmarks"]["harness_speed"]["transports"]["cases"]
    for case in cases:
        assert f"in-process / respx, {case}" in labels and f"transport alone / respx, {case}" in labels
    assert "<svg" in benchmarks_section(ROOT / "reports" / "benchmarks.json")


def test_the_committed_report_shows_the_committed_figures() -> None:
    """`coze-harness report` renders reports/benchmarks.json into the HTML report: after a benchmark run rewrites
    the figures, the committed report must be regenerated with them, or the quick start changes a committed file."""
    section = benchmarks_section(ROOT / "reports" / "benchmarks.json")
    assert section and section in (ROOT / "reports" / "capability-matrix.html").read_text(encoding="utf-8")
