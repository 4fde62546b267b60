"""Whether a release can read a run history at all comes from the SDK meeting the recorded shape (error_code
"" on success): the workflow-run probe reads an async run back, and `compat` lists a release that raised as a
finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from harness import sdk
from harness.compat.load import Loaded
from harness.compat.merge import merge
from harness.matrix import Evidence, Matrix
from harness.probes.workflow import RUN_HISTORY_EVIDENCE
from harness.reporting import run_report


def test_the_probe_reads_an_async_run_back_with_this_release() -> None:
    history = run_report(["workflow-run"]).evidence[RUN_HISTORY_EVIDENCE]
    if not (sdk.has_run_histories() and sdk.workflow_run_has_is_async()):
        assert history.error is None and "cannot" in history.sdk_events[0]
    elif Version(sdk.version()) >= Version("0.14.0"):  # the release that turns "" into 0
        assert history.error is None, history.error
        assert "execute_status Success, error_code 0" in history.sdk_events[-1]
    else:  # 0.7 to 0.13 type error_code int: the recorded "" cannot be read
        assert history.error is not None and "error_code" in history.error
    assert any("/run_histories/" in exchange.url for exchange in history.exchanges) or history.error is None


def _loaded(version: str, error: str | None) -> Loaded:
    evidence = Evidence(id=RUN_HISTORY_EVIDENCE, probe="workflow-run", summary="an async run read back", error=error)
    matrix = Matrix(sdk_version=version, platforms=["cloud"], evidence={evidence.id: evidence})
    return Loaded(version=version, source=Path(version), matrix=matrix)


def test_compat_lists_a_release_that_cannot_read_the_run_history() -> None:
    compat = merge(
        [
            _loaded("0.12.0", "pydantic_core.ValidationError: error_code: Input should be a valid integer"),
            _loaded("0.14.0", None),
        ]
    )
    found = [(f.kind, f.version) for f in compat.findings]
    assert found == [("response-unreadable", "0.12.0")]
    assert "error_code" in compat.findings[0].detail


@pytest.mark.parametrize("platform", ["studio"])
def test_another_platforms_refusal_is_not_a_finding_about_the_release(platform: str) -> None:
    evidence = Evidence(
        id=RUN_HISTORY_EVIDENCE,
        probe="workflow-run",
        summary="x",
        error="404",
        platform=platform,  # type: ignore[arg-type]
    )
    matrix = Matrix(sdk_version="0.20.0", platforms=["cloud", platform], evidence={f"{platform}/x": evidence})  # type: ignore[list-item]
    assert merge([Loaded(version="0.20.0", source=Path("x"), matrix=matrix)]).findings == []
