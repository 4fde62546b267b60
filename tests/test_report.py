"""The main job: probes run the installed cozepy and the report shows what they found."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from harness import sdk
from harness.cli import main
from harness.expect import Expectation
from harness.matrix import SCHEMA_VERSION, Capability, Matrix, Mode, Verdict
from harness.recorder import RecordingTransport
from simulators.coze import DEFAULT_TOKEN, RunningServer, coverage

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
    argv = ["report", "--out", str(out), "--sdk-label", "fixture-run", "--save-expect", str(out / "expect.json")]
    assert main(argv) == 0
    return out, Matrix.model_validate_json((out / "capability-matrix.json").read_text(encoding="utf-8"))


REPORTS = Path(__file__).resolve().parent.parent / "reports"


def test_report_files_and_stamp(report: tuple[Path, Matrix]) -> None:
    out, matrix = report
    assert sorted(p.name for p in out.iterdir()) == [
        "capability-matrix.html",
        "capability-matrix.json",
        "capability-matrix.md",
        "expect.json",
        "junit.xml",
    ]
    assert matrix.sdk_version == sdk.version() and matrix.sdk_label == "fixture-run"
    assert not matrix.crashes
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
    facts = {fact.subject: fact.value for fact in evidence.sdk_facts}
    assert facts["cozepy Chat.required_action"] is sdk.chat_has_required_action()


def test_chat_streams_follow_the_grammar(report: tuple[Path, Matrix]) -> None:
    _, matrix = report
    assert "conversation.chat.in_progress -> conversation.chat.requires_action" in " ".join(matrix.grammar["chat"]) or (
        "conversation.message.completed -> conversation.chat.requires_action" in matrix.grammar["chat"]
    )
    cloud = {kind: lines for kind, lines in matrix.grammar.items() if not kind.startswith("studio ")}
    assert not [line for lines in cloud.values() for line in lines if line.startswith("VIOLATION")]
    studio = " ".join(matrix.grammar["studio chat"])  # the studio profile departs from the cloud contract here
    assert "VIOLATION: event 3 'conversation.stream.done' cannot follow 'conversation.message.completed'" in studio


def test_unknown_probe_and_format_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--out", str(tmp_path), "--format", "pdf"]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--probe", "nope"]) == 2
    assert "unknown probe" in capsys.readouterr().err


def test_json_report_is_the_model(report: tuple[Path, Matrix]) -> None:
    out, _ = report
    data = json.loads((out / "capability-matrix.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION and data["cells"]


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


def test_coverage_ceiling_is_reported(report: tuple[Path, Matrix]) -> None:
    out, matrix = report
    ceiling = coverage()
    assert {note.area for note in matrix.coverage if not note.modelled} == {i.area for i in ceiling.not_modelled}
    markdown = (out / "capability-matrix.md").read_text(encoding="utf-8")
    assert "## Coverage ceiling" in markdown and "websocket chat" in markdown


def test_a_run_matches_its_own_expectation(report: tuple[Path, Matrix]) -> None:
    out, matrix = report
    saved = Expectation.load(out / "expect.json")
    assert saved == Expectation.of(matrix)
    verdicts = saved.for_sdk("cozepy").verdicts
    assert list(saved.sdks) == ["cozepy"]
    assert sum(len(row) for modes in verdicts.values() for row in modes.values()) == len(matrix.cells)
    assert list(verdicts) == ["cloud", "studio"]


def test_committed_expectation_holds_for_its_release(report: tuple[Path, Matrix]) -> None:
    committed = Expectation.load(REPORTS / "expected-verdicts.json")
    recorded = committed.for_sdk("cozepy")
    if recorded.sdk_version != sdk.version():
        pytest.skip(f"reports/expected-verdicts.json is for cozepy {recorded.sdk_version}, not {sdk.version()}")
    _, matrix = report
    assert Expectation.of(matrix).sdks["cozepy"] == recorded


def test_breaking_requires_action_flips_the_chat_cells_and_fails_expect(
    report: tuple[Path, Matrix], tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gate works: a simulator that loses `required_action` turns supported chat cells into broken ones."""
    if sdk.tool_call_gap() is not None:
        pytest.skip(f"the chat cells are not supported to begin with: {sdk.tool_call_gap()}")
    out, _ = report
    request.getfixturevalue("without_required_action")
    argv = ["report", "--probe", "chat-stream", "--out", str(tmp_path), "--format", "json"]
    assert main([*argv, "--expect", str(out / "expect.json")]) == 1
    err = capsys.readouterr().err
    assert "chat-stream / local-code-reachable: expected supported, got broken" in err
    assert "workflow" not in err  # only the probes that ran are compared
    matrix = Matrix.model_validate_json((tmp_path / "capability-matrix.json").read_text(encoding="utf-8"))
    cell = matrix.cell(Capability.LOCAL_CODE, Mode.CHAT_STREAM)
    assert cell is not None and cell.verdict is Verdict.BROKEN


def test_probe_prints_one_cell_with_evidence_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--probe", "workflow-run:tool-call-event"]) == 0
    printed = capsys.readouterr().out
    assert "workflow-run / tool-call-event (cloud): **" in printed
    assert "workflow-run / tool-call-event (studio): **" in printed
    assert "POST /v1/workflow/run" in printed
    assert "workflow-run / submit-method" not in printed
    assert list(tmp_path.iterdir()) == []


def test_probe_framing_prints_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The framing probe decides no cells; `--probe framing` prints its variants instead of nothing."""
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--probe", "framing", "--platform", "cloud"]) == 0
    printed = capsys.readouterr().out
    assert "## Framing robustness" in printed
    assert re.search(r"\| `canonical` \| .* \| survives \| survives \|", printed)
    assert list(tmp_path.iterdir()) == []


def test_bad_probe_ids_and_expectations_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--probe", "chat-stream:flying"]) == 2
    assert "unknown capability 'flying'" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"schema_version": 3, "sdk_version": "0.20.0"}', encoding="utf-8")
    assert main(["report", "--probe", "chat-stream", "--expect", str(tmp_path / "bad.json")]) == 2
    assert "not an expectation file (sdks: Field required)" in capsys.readouterr().err
    assert main(["report", "--probe", "chat-stream", "--expect", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the expectation" in capsys.readouterr().err


def test_a_crashing_probe_is_reported_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import probes

    def explode(ctx: probes.ProbeContext) -> probes.ProbeResult:
        raise RuntimeError("probe bug")

    monkeypatch.setitem(probes.PROBES, "chat-poll", explode)
    argv = [
        "report",
        "--probe",
        "chat-poll",
        "--probe",
        "workflow-run",
        "--out",
        str(tmp_path),
        "--format",
        "md,html,junit",
    ]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "chat-poll CRASHED" in err and "RuntimeError: probe bug" in err
    assert "workflow-run done" in err  # the other probe still ran
    markdown = (tmp_path / "capability-matrix.md").read_text(encoding="utf-8")
    assert "## Probes that crashed" in markdown and "probe bug" in markdown
    assert "Probes that crashed" in (tmp_path / "capability-matrix.html").read_text(encoding="utf-8")
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert 'errors="2"' in junit and "probe bug" in junit  # it crashed on both platforms


def test_html_report_is_self_contained_and_shows_every_cell(report: tuple[Path, Matrix]) -> None:
    from html.parser import HTMLParser

    out, matrix = report
    text = (out / "capability-matrix.html").read_text(encoding="utf-8")

    class _Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.external: list[str] = []
            self.badges: list[str] = []
            self.ids: set[str] = set()
            self._in_badge = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            for key in ("src", "href"):
                value = found.get(key) or ""
                if value and not value.startswith("#"):
                    self.external.append(value)
            if tag in ("script", "link"):
                self.external.append(tag)
            if found.get("id"):
                self.ids.add(found["id"] or "")
            self._in_badge = found.get("class") == "v"

        def handle_data(self, data: str) -> None:
            if self._in_badge:
                self.badges.append(data)
                self._in_badge = False

    parser = _Collect()
    parser.feed(text)
    assert parser.external == []
    # one badge per cell in the table and again in the reasons, plus the legend and the headline list
    for verdict in {cell.verdict.value for cell in matrix.cells}:
        expected = 2 * sum(cell.verdict.value == verdict for cell in matrix.cells)
        assert parser.badges.count(verdict) >= expected
    assert set(matrix.evidence) <= parser.ids  # every evidence item is there to expand
    assert DEFAULT_TOKEN not in text


def test_junit_has_one_case_per_cell(report: tuple[Path, Matrix]) -> None:
    from xml.etree import ElementTree

    out, matrix = report
    suite = ElementTree.parse(out / "junit.xml").getroot()
    cases = suite.findall("testcase")
    assert len(cases) == len(matrix.cells) == int(suite.get("tests", "-1"))
    by_name = {(*case.get("classname", "").rsplit(".", 2)[-2:], case.get("name")): case for case in cases}
    for cell in matrix.cells:
        case = by_name[(cell.platform, cell.mode.value, cell.capability.value)]
        assert case.find("failure") is None  # a verdict, `broken` included, is a fact; failures are --expect's
        assert (case.find("skipped") is not None) == (cell.verdict in (Verdict.UNKNOWN, Verdict.NOT_APPLICABLE))
    assert suite.get("failures") == "0" and suite.get("errors") == "0"  # the run exited 0


def test_websocket_chat_column_follows_the_sdk_and_its_streams_follow_the_grammar(
    report: tuple[Path, Matrix],
) -> None:
    _, matrix = report
    cells = {c.capability: c for c in matrix.cells if c.mode is Mode.WEBSOCKET_CHAT and c.platform == "cloud"}
    assert set(cells) == set(Capability)
    gap = sdk.websocket_chat_gap()
    if gap is None:
        assert cells[Capability.LOCAL_CODE].verdict is Verdict.SUPPORTED
        assert cells[Capability.ROUNDS].verdict is Verdict.SUPPORTED
        evidence = matrix.evidence[cells[Capability.LOCAL_CODE].evidence[0]]
        assert "conversation.chat.requires_action" in evidence.sdk_events
        assert evidence.exchanges and evidence.exchanges[0].url.startswith("wss://127.0.0.1:")
        assert "websocket chat" in matrix.grammar
    elif sdk.websocket_chat_is_audio_only():  # the simulator cannot start an audio chat: not shown either way
        assert cells[Capability.LOCAL_CODE].verdict is Verdict.UNKNOWN
        assert "audio" in cells[Capability.LOCAL_CODE].reason
    else:
        assert cells[Capability.LOCAL_CODE].verdict is Verdict.ABSENT
        if "no websocket chat client" in gap:  # the release has no websockets.chat at all: the driver saw no method
            assert "has no websockets.chat.create" in cells[Capability.LOCAL_CODE].reason


def test_breaking_requires_action_breaks_websocket_chat_too(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    if sdk.websocket_chat_gap() is not None:
        pytest.skip(f"websocket chat is not supported to begin with: {sdk.websocket_chat_gap()}")
    request.getfixturevalue("without_required_action")
    assert main(["report", "--probe", "websocket-chat:local-code-reachable"]) == 0
    out = capsys.readouterr().out
    assert "websocket-chat / local-code-reachable (cloud): **broken**" in out


def test_a_report_freezes_what_it_imported_before_probing(tmp_path: Path) -> None:
    """`harness._gc`: the heap the report imported is left out of every collection while the probes run."""
    import gc

    gc.unfreeze()
    try:
        argv = ["report", "--probe", "chat-stream", "--platform", "cloud", "--out", str(tmp_path), "--quiet"]
        assert main([*argv, "--format", "json"]) == 0
        assert gc.get_freeze_count() > 10_000  # FastAPI, pydantic, cozepy and the simulator at least
    finally:
        gc.unfreeze()
