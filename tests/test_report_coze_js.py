"""`coze-harness report --sdk coze-js@VERSION` and the @coze/api sweep: matrices from real runs of the JS SDK.

Node and the releases come from .ci/run (tests/coze_js_support.py: skipped locally without them, a
failure under CI). Nothing here installs anything or leaves loopback: a release that is not in the
cache is made to fail its install by a stand-in, never sent to npm.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from coze_js_support import LATEST, OLD, npm, sdk_folder

from harness.cli import main
from harness.compat import sweep_js
from harness.drivers import DriverUnavailable, coze_js
from harness.expect import Expectation
from harness.matrix import Capability, Matrix, Mode, Verdict

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def js_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Matrix]:
    sdk_folder(LATEST)
    out = tmp_path_factory.mktemp("coze-js-report")
    argv = ["report", "--sdk", f"coze-js@{LATEST}", "--no-install", "--out", str(out), "--format", "json,md"]
    code = main([*argv, "--quiet", "--save-expect", str(out / "expect.json")])
    assert code == 0
    return out, Matrix.read(json.loads((out / "capability-matrix.json").read_text(encoding="utf-8")))


def _cell(matrix: Matrix, mode: Mode, capability: Capability, platform: str = "cloud") -> tuple[Verdict, str]:
    cell = matrix.cell(capability, mode, platform)
    assert cell is not None, f"no cell {platform} {mode.value} {capability.value}"
    return cell.verdict, cell.reason


def test_the_matrix_is_the_js_sdks_on_both_platforms(js_report: tuple[Path, Matrix]) -> None:
    out, matrix = js_report
    assert (matrix.sdk, matrix.sdk_version, matrix.platforms) == ("coze-js", LATEST, ["cloud", "studio"])
    assert matrix.runtime.startswith("Node ") and not matrix.crashes
    assert {cell.sdk for cell in matrix.cells} == {"coze-js"}
    assert len(matrix.cells) == 2 * len(Mode) * len(Capability)
    assert (
        (out / "capability-matrix.md")
        .read_text(encoding="utf-8")
        .startswith(f"# Capability matrix: coze-js {LATEST} on cloud Coze")
    )


def test_bot_chat_runs_local_code_on_cloud_with_wire_evidence(js_report: tuple[Path, Matrix]) -> None:
    _, matrix = js_report
    for mode in (Mode.CHAT_STREAM, Mode.CHAT_POLL, Mode.WEBSOCKET_CHAT):
        assert _cell(matrix, mode, Capability.LOCAL_CODE)[0] is Verdict.SUPPORTED, mode
        assert _cell(matrix, mode, Capability.ROUNDS)[0] is Verdict.SUPPORTED, mode
    evidence = matrix.evidence["chat-stream"]
    submits = [e for e in evidence.exchanges if e.url.endswith("/v3/chat/submit_tool_outputs") or "submit" in e.url]
    assert submits and all(e.status == 200 and e.complete for e in submits)  # taken on the simulator's side
    assert all(e.request_headers.get("authorization") == "***" for e in evidence.exchanges)
    assert "conversation.chat.requires_action" in evidence.sdk_events


def test_studio_has_no_tool_path_and_answers_the_sdks_submit_with_404(js_report: tuple[Path, Matrix]) -> None:
    _, matrix = js_report
    verdict, reason = _cell(matrix, Mode.CHAT_STREAM, Capability.SUBMIT_METHOD, "studio")
    assert verdict is Verdict.ABSENT and "HTTP 404" in reason
    paths = [e.url for e in matrix.evidence["studio/chat-stream"].exchanges]
    assert any("/v3/chat/submit_tool_outputs" in url for url in paths)
    assert _cell(matrix, Mode.WEBSOCKET_CHAT, Capability.LOCAL_CODE, "studio")[0] is Verdict.ABSENT


def test_workflows_have_no_tool_path_and_resume_streams_in_the_latest_release(js_report: tuple[Path, Matrix]) -> None:
    _, matrix = js_report
    for mode in (Mode.WORKFLOW_RUN, Mode.WORKFLOW_RESUME, Mode.CHATFLOW):
        assert _cell(matrix, mode, Capability.SUBMIT_METHOD)[0] is Verdict.ABSENT, mode
    assert _cell(matrix, Mode.WORKFLOW_RESUME, Capability.INTERRUPT_RESUME)[0] is Verdict.SUPPORTED
    assert _cell(matrix, Mode.WORKFLOW_BRIDGE, Capability.LOCAL_CODE)[0] is Verdict.WORKAROUND
    verdict, reason = _cell(matrix, Mode.CHATFLOW, Capability.LOCAL_CODE)
    assert verdict is Verdict.ABSENT and "get_weather" in reason


def test_framing_is_read_by_the_js_parser(js_report: tuple[Path, Matrix]) -> None:
    _, matrix = js_report
    outcome = {(item.stream, item.variant): item.outcome for item in matrix.framing}
    assert outcome["chat", "canonical"] == outcome["workflow", "canonical"] == "survives"
    assert outcome["chat", "cr"] in ("fails", "misreads")  # @coze/api splits lines on \n only (docs/coze-js.md)
    assert outcome["chat", "crlf"] == "survives"
    linger = next(item for item in matrix.framing if item.variant == "open-after-done" and item.stream == "chat")
    assert linger.outcome == "fails" and "reading after the last event" in linger.detail


def test_the_expectation_is_saved_per_sdk_and_merged(js_report: tuple[Path, Matrix], tmp_path: Path) -> None:
    out, matrix = js_report
    saved = Expectation.load(out / "expect.json")
    assert list(saved.sdks) == ["coze-js"] and saved.sdks["coze-js"].sdk_version == LATEST
    both = tmp_path / "both.json"
    shutil.copy(ROOT / "reports" / "expected-verdicts.json", both)
    Expectation.of(matrix).merged_into(both).save(both)
    merged = Expectation.load(both)
    assert set(merged.sdks) == {"cozepy", "coze-js"}
    assert merged.sdks["cozepy"] == Expectation.load(ROOT / "reports" / "expected-verdicts.json").sdks["cozepy"]


def test_a_partial_js_run_is_the_same_twice(tmp_path: Path) -> None:
    """The studio polled chat is the hard case: createAndPoll polls until the flow's time limit, as often as the
    machine allows, and the evidence must not show how often."""
    sdk_folder(LATEST)
    runs = []
    for name in ("a", "b"):
        argv = ["report", "--sdk", f"coze-js@{LATEST}", "--no-install", "--probe", "chat-poll", "--platform", "studio"]
        assert main([*argv, "--out", str(tmp_path / name), "--format", "json", "--quiet"]) == 0
        data = json.loads((tmp_path / name / "capability-matrix.json").read_text(encoding="utf-8"))
        data.pop("generated_at")
        runs.append(data)
    assert runs[0] == runs[1]


def test_the_sweep_reports_each_release_records_failures_and_merges_both_sdks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One release for real (the oldest), one that cannot be installed (a stand-in refuses it: no npm call),
    and a cozepy matrix left by another sweep: one report with a part per SDK."""
    old = sdk_folder(OLD)
    npm()
    real_install = coze_js.install

    def install(version: str, timeout: float = 600.0) -> Path:
        if version == "9.9.9":
            raise DriverUnavailable("npm install @coze/api@9.9.9 failed (a stand-in: nothing was asked of npm)")
        assert version == OLD
        return real_install(version, timeout)

    monkeypatch.setattr(coze_js, "install", install)
    cozepy = tmp_path / "sdk" / "0.20.0"
    cozepy.mkdir(parents=True)
    shutil.copy(ROOT / "reports" / "capability-matrix.json", cozepy / "capability-matrix.json")
    assert sweep_js.main(["--out", str(tmp_path), "--versions", f"{OLD},9.9.9", "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"[1/2] coze-js {OLD} done" in printed and "[2/2] coze-js 9.9.9 failed" in printed
    assert old.exists()
    matrix = Matrix.read(json.loads((tmp_path / "coze-js" / "sdk" / OLD / "capability-matrix.json").read_text()))
    assert (matrix.sdk, matrix.sdk_version) == ("coze-js", OLD)
    verdict, reason = _cell(matrix, Mode.WORKFLOW_RESUME, Capability.INTERRUPT_RESUME)
    assert verdict is Verdict.BROKEN and "unparsed" in reason  # resume is one response up to 1.2.0
    assert _cell(matrix, Mode.CHATFLOW, Capability.LOCAL_CODE) == (
        Verdict.ABSENT,
        f"this coze-js {OLD} release has no workflows.chat.stream.",
    )
    failure = json.loads((tmp_path / "coze-js" / "sdk" / "9.9.9" / "failure.json").read_text())
    assert (failure["sdk"], failure["stage"]) == ("coze-js", "install")
    markdown = (tmp_path / "compatibility.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Compatibility: cozepy 0.20.0")
    assert "## cozepy compatibility" in markdown and "## coze-js compatibility" in markdown
    assert "coze-js 9.9.9" in markdown or "9.9.9" in markdown
    assert json.loads((tmp_path / "compatibility.json").read_text())["sdk"] == "cozepy"
    js = json.loads((tmp_path / "compatibility-coze-js.json").read_text())
    assert js["sdk"] == "coze-js" and [v["version"] for v in js["versions"]] == [OLD, "9.9.9"]
    html = (tmp_path / "compatibility.html").read_text(encoding="utf-8")
    assert 'id="sdk-coze-js"' in html and 'id="coze-js-answer"' in html and 'href="#coze-js-grids"' in html
    # the gate reads one SDK's baseline and gates that SDK's part
    baseline = tmp_path / "baseline-coze-js.json"
    shutil.copy(tmp_path / "compatibility-coze-js.json", baseline)
    folders = [str(tmp_path / "sdk"), str(tmp_path / "coze-js" / "sdk")]
    assert main(["compat", *folders, "--baseline", str(baseline), "--no-write"]) == 0
    assert main(["compat", folders[0], "--baseline", str(baseline), "--no-write"]) == 2
    assert "holds no coze-js release" in capsys.readouterr().err


def test_the_committed_expectation_holds_for_the_latest_release(js_report: tuple[Path, Matrix]) -> None:
    _, matrix = js_report
    committed = Expectation.load(ROOT / "reports" / "expected-verdicts.json").for_sdk("coze-js")
    if committed.sdk_version != LATEST:
        pytest.skip(f"reports/expected-verdicts.json holds coze-js {committed.sdk_version}, not {LATEST}")
    assert Expectation.of(matrix).sdks["coze-js"] == committed
    committed_matrix = Matrix.read(json.loads((ROOT / "reports" / "coze-js" / "capability-matrix.json").read_text()))
    assert [(c.platform, c.mode, c.capability, c.verdict) for c in committed_matrix.cells] == [
        (c.platform, c.mode, c.capability, c.verdict) for c in matrix.cells
    ]
