"""The main job: probes run the installed cozepy and the report shows what they found."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from harness import sdk
from harness.cli import main
from harness.matrix import Capability, Matrix, Mode, Verdict
from harness.recorder import RecordingTransport
from simulators.coze import DEFAULT_TOKEN, RunningServer

pytestmark = pytest.mark.e2e


def test_recorder_keeps_the_bytes_and_hides_the_token(sim: RunningServer) -> None:
    transport = RecordingTransport()
    body = {
        "bot_id": "7390000000000000001",
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "x", "content_type": "text"}],
    }
    with (
        httpx.Client(transport=transport, base_url=sim.base_url) as client,
        client.stream("POST", "/v3/chat", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, json=body) as response,
    ):
        raw = b"".join(response.iter_bytes())
    [exchange] = transport.exchanges
    assert exchange.complete and exchange.response_body == raw.decode()
    assert exchange.request_headers["authorization"] == "***"
    assert DEFAULT_TOKEN not in exchange.model_dump_json()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Matrix]:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--out", str(out)]) == 0
    return out, Matrix.model_validate_json((out / "capability-matrix.json").read_text(encoding="utf-8"))


def test_report_files_and_stamp(report: tuple[Path, Matrix]) -> None:
    out, matrix = report
    assert matrix.sdk_version == sdk.version()
    markdown = (out / "capability-matrix.md").read_text(encoding="utf-8")
    assert f"cozepy {sdk.version()}" in markdown
    assert DEFAULT_TOKEN not in markdown and DEFAULT_TOKEN not in (out / "capability-matrix.json").read_text()
    for cell in matrix.cells:
        assert cell.evidence and all(ref in matrix.evidence for ref in cell.evidence)
        assert cell.reason


def test_bot_chat_verdict_follows_what_the_sdk_can_read(report: tuple[Path, Matrix]) -> None:
    _, matrix = report
    cell = matrix.cell(Capability.LOCAL_CODE, Mode.CHAT_STREAM)
    assert cell is not None
    if sdk.tool_call_gap() is None:
        assert cell.verdict is Verdict.SUPPORTED
    else:
        assert cell.verdict in (Verdict.BROKEN, Verdict.ABSENT)
    evidence = matrix.evidence[cell.evidence[0]]
    assert any("/v3/chat" in exchange.url for exchange in evidence.exchanges)
    assert any(fact.subject == "cozepy.Chat fields" for fact in evidence.sdk_facts)


def test_chat_streams_follow_the_grammar(report: tuple[Path, Matrix]) -> None:
    _, matrix = report
    assert "conversation.chat.in_progress -> conversation.chat.requires_action" in " ".join(matrix.grammar["chat"]) or (
        "conversation.message.completed -> conversation.chat.requires_action" in matrix.grammar["chat"]
    )
    assert not [line for lines in matrix.grammar.values() for line in lines if line.startswith("VIOLATION")]


def test_unknown_probe_and_format_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--out", str(tmp_path), "--format", "pdf"]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--probe", "nope"]) == 2
    assert "unknown probe" in capsys.readouterr().err


def test_json_report_is_the_model(report: tuple[Path, Matrix]) -> None:
    out, _ = report
    data = json.loads((out / "capability-matrix.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == 1 and data["cells"]


def test_workflow_findings_rest_on_sdk_facts_and_runs(report: tuple[Path, Matrix]) -> None:
    import cozepy.workflows.runs as runs

    _, matrix = report
    fields = matrix.cell(Capability.TOOL_CALL_FIELDS, Mode.WORKFLOW_STREAM)
    assert fields is not None
    dropped = "data" not in runs.WorkflowEventInterruptData.model_fields
    assert (fields.verdict is Verdict.ABSENT) == dropped
    evidence = matrix.evidence[fields.evidence[0]]
    assert "simulator" in evidence.simulated
    assert any("local-plugin-interrupt-workflow" in line for line in evidence.sdk_events)
    assert any('"type": 6' in e.response_body or '"type":6' in e.response_body for e in evidence.exchanges)
    resume = matrix.cell(Capability.INTERRUPT_RESUME, Mode.WORKFLOW_RESUME)
    assert resume is not None
    if sdk.workflow_resume_sends_event_id():
        assert resume.verdict is Verdict.SUPPORTED
    else:  # coze-py#196: the release sends the interrupt's id as "id", which the platform does not accept
        assert resume.verdict is Verdict.BROKEN and "event_id" in resume.reason
    bridge = matrix.cell(Capability.LOCAL_CODE, Mode.WORKFLOW_BRIDGE)
    assert bridge is not None and bridge.verdict is Verdict.WORKAROUND
    assert any("/tools/get_weather" in e.request_body for e in matrix.evidence[bridge.evidence[0]].exchanges)
