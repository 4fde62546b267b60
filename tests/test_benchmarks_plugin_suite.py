"""The plugin-suite benchmark's figures in the report's chart, and the suites it generates (not timed here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.plugin_suite import TARGETS, _paired, _suites
from harness.report.benchmarks_html import bars

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)


def test_each_plugin_mode_is_a_bar_beside_its_target() -> None:
    document = {
        "benchmarks": {
            "plugin_suite": {
                "tests": 200,
                "ratios": {"inprocess": 1.1, "socket": 1.6, "cassette": 0.7},
                "targets": dict(TARGETS),
            }
        }
    }
    assert bars(document) == [
        ("pytest plugin, inprocess / respx (200 tests)", 1.1, 1.2, False),
        ("pytest plugin, socket / respx (200 tests)", 1.6, 1.5, False),
        ("pytest plugin, cassette / respx (200 tests)", 0.7, 1.1, False),
    ]
    assert TARGETS == {"inprocess": 1.2, "socket": 1.5, "cassette": 1.1}


def test_the_generated_suites_are_the_same_tests_in_each_mode(tmp_path: Path) -> None:
    suites = _suites(tmp_path, 7)
    assert sorted(suites) == ["cassette", "inprocess", "respx", "socket"]
    for mode in ("socket", "inprocess", "cassette"):
        text = (suites[mode] / f"test_{mode}.py").read_text()
        assert f'mode="{mode}"' in text and "range(7)" in text
        assert (suites[mode] / "scenarios" / "echo_bot.yaml").is_file()
    canned = (suites["respx"] / "echo.sse").read_bytes()
    assert b"conversation.chat.completed" in canned and b"You said: hello" in canned
    assert "range(7)" in (suites["respx"] / "test_respx.py").read_text()


def test_the_paired_ratio_is_the_median_of_each_rounds_ratio() -> None:
    """A round the host slowed down slows the suite and the baseline beside it, so the round's ratio holds: the
    medians' ratio (3.0 / 1.0) would say 3x here, the rounds' own ratios say 2x."""
    assert _paired([2.0, 3.0, 20.0], [1.0, 1.0, 10.0]) == 2.0
    with pytest.raises(ValueError):
        _paired([1.0, 2.0], [1.0])  # a round without its baseline is a bug of the run, not a figure
