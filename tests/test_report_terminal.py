"""The report as a person reads it first: the one-line answer per platform, computed from the cells; a
table that fits the terminal; progress on one line on a terminal and plain lines in a log; the SDK's
warnings in the evidence, not on the terminal; `--quiet` and `--json`."""

from __future__ import annotations

import io
import json
import logging
import threading
import warnings
from pathlib import Path

import pytest
from rich.console import Console

from harness import sdk
from harness.cli import main
from harness.matrix import Capability, Cell, Matrix, Mode, Verdict
from harness.probes._warnings import sdk_output
from harness.report.summary import answers, summary_json
from harness.report.terminal import ProgressView, print_summary

WORKFLOW_MODES = (Mode.WORKFLOW_RUN, Mode.WORKFLOW_STREAM, Mode.WORKFLOW_RESUME)


def _matrix(verdicts: dict[tuple[str, Mode, Capability], Verdict], platforms: list[str]) -> Matrix:
    cells = [
        Cell(capability=capability, mode=mode, platform=platform, verdict=verdict, reason=f"{verdict.value} here")
        for (platform, mode, capability), verdict in verdicts.items()
    ]
    return Matrix(sdk_version="9.9.9", platforms=platforms, cells=cells)  # type: ignore[arg-type]


def _cloud_like(platform: str = "cloud") -> dict[tuple[str, Mode, Capability], Verdict]:
    found: dict[tuple[str, Mode, Capability], Verdict] = {}
    for mode in (Mode.CHAT_STREAM, Mode.CHAT_POLL, Mode.WEBSOCKET_CHAT):
        for capability in Capability:
            found[(platform, mode, capability)] = Verdict.SUPPORTED
    for mode in WORKFLOW_MODES:
        for capability in Capability:
            found[(platform, mode, capability)] = Verdict.ABSENT
    found[(platform, Mode.WORKFLOW_BRIDGE, Capability.LOCAL_CODE)] = Verdict.WORKAROUND
    return found


def test_the_answer_is_computed_from_the_cells() -> None:
    verdicts = _cloud_like()
    (answer,) = answers(_matrix(verdicts, ["cloud"]))
    assert answer.sentence() == (
        "cloud Coze: bot chat (stream, poll, websocket) can call local code; workflows (run, stream, resume) "
        "cannot: no tool-call event or submit method; workaround: the HTTP bridge, which works end to end."
    )
    # one cell changes, the sentence follows it: workflow-stream now has a submit method but no event
    verdicts[("cloud", Mode.WORKFLOW_STREAM, Capability.SUBMIT_METHOD)] = Verdict.SUPPORTED
    verdicts[("cloud", Mode.CHAT_POLL, Capability.LOCAL_CODE)] = Verdict.BROKEN
    verdicts[("cloud", Mode.WORKFLOW_BRIDGE, Capability.LOCAL_CODE)] = Verdict.ABSENT
    sentence = answers(_matrix(verdicts, ["cloud"]))[0].sentence()
    assert "bot chat (stream, websocket) can call local code" in sentence
    assert "bot chat (poll) cannot: the flow fails" in sentence
    assert "workflows (run, resume) cannot: no tool-call event or submit method" in sentence
    assert "workflows (stream) cannot: no tool-call event;" in sentence
    assert "no workaround worked" in sentence and "workaround: the HTTP bridge" not in sentence


def test_a_platform_that_lacks_what_another_has_is_named_as_the_cause() -> None:
    verdicts = _cloud_like("cloud")
    for mode in (Mode.CHAT_STREAM, Mode.CHAT_POLL, Mode.WEBSOCKET_CHAT):
        for capability in Capability:
            verdicts[("studio", mode, capability)] = Verdict.ABSENT
    verdicts[("studio", Mode.CHATFLOW, Capability.LOCAL_CODE)] = Verdict.UNKNOWN
    cloud, studio = answers(_matrix(verdicts, ["cloud", "studio"]))
    assert studio.sentence().startswith("open-source Coze server (coze-studio): no mode calls local code directly;")
    why = "no tool-call event or submit method here (the same cozepy can on cloud Coze)"
    assert f"bot chat (stream, poll, websocket) cannot: {why}" in studio.sentence()
    assert "chatflow: unknown (the platform's behaviour is not known)" in studio.sentence()
    assert "here (" not in cloud.sentence()


def test_the_tables_fit_80_columns_without_breaking_a_word() -> None:
    verdicts = _cloud_like()
    matrix = _matrix(verdicts, ["cloud"])
    for width in (80, 100, 200):
        console = Console(width=width, record=True, force_terminal=False, color_system=None)
        print_summary(matrix, console)
        text = console.export_text()
        lines = text.splitlines()
        assert lines[0] == "Can cozepy 9.9.9 call your local code?"  # the answer first
        assert lines[1].startswith("cloud Coze: bot chat (stream, poll, websocket) can call local code;")
        assert all(len(line.rstrip()) <= width for line in lines[2:]), width
        assert "…" not in text  # nothing cut
        for word in ("websocket", "workflow", "LOCAL CODE", "tool calls readable", "bridge"):
            assert word in text, (width, word)


def test_progress_is_one_updating_line_on_a_terminal_and_plain_lines_elsewhere() -> None:
    steps = [(f"[{n}/3] probe-{n} ...", f"[{n}/3] probe-{n} done in 0.0 s: 9 supported") for n in (1, 2, 3)]

    plain = io.StringIO()
    with ProgressView(Console(file=plain, force_terminal=False, width=120)) as view:
        for started, finished in steps:
            view.status(started)
            view.line(finished)
    assert plain.getvalue().splitlines() == [finished for _, finished in steps]  # one line a probe

    live = io.StringIO()
    with ProgressView(Console(file=live, force_terminal=True, width=120)) as view:
        for started, finished in steps:
            view.status(started)
            view.line(finished)
    shown = live.getvalue()
    assert "\x1b[2K" in shown  # the line is erased and redrawn in place
    assert shown.count("\n") < len(steps)  # not a line per step: the line is rewritten, then cleared

    quiet = io.StringIO()
    with ProgressView(Console(file=quiet, force_terminal=False), quiet=True) as view:
        view.line("anything")
    assert quiet.getvalue() == ""


def test_the_sdks_warnings_and_log_are_kept_and_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    import cozepy

    inside = str(Path(cozepy.__file__).parent / "model_example.py")
    with pytest.warns(DeprecationWarning, match="not the SDK's"), sdk_output() as said:
        exec(compile("import warnings\nwarnings.warn('Unknown X value: y', UserWarning)", inside, "exec"))
        logging.getLogger("cozepy").warning("request failed, code=%s", 6039)
        logging.getLogger("cozepy").info("below WARNING: not evidence")
        warnings.warn("not the SDK's", DeprecationWarning, stacklevel=1)  # given back to Python
    assert said == ["cozepy WARNING: request failed, code=6039", "UserWarning: Unknown X value: y"]
    captured = capfd.readouterr()
    assert "[cozepy]" not in captured.err and "Unknown X" not in captured.err


def test_only_the_blocks_own_threads_are_evidence() -> None:
    """A thread already running when the probe starts (a websocket close settling from an earlier probe or
    test) may log at any moment: its lines are not this probe's evidence, or two runs of the same report
    could differ. A thread the probe starts (an SDK's reader) is the probe's."""
    import cozepy

    inside = str(Path(cozepy.__file__).parent / "model_example.py")
    warn = compile("import warnings\nwarnings.warn('late warning', UserWarning)", inside, "exec")
    go, done = threading.Event(), threading.Event()

    def earlier() -> None:
        go.wait(5)
        logging.getLogger("cozepy").warning("from a thread started before the probe")
        exec(warn)
        done.set()

    background = threading.Thread(target=earlier, daemon=True)
    background.start()
    with pytest.warns(UserWarning, match="late warning"), sdk_output() as said:
        go.set()
        assert done.wait(5)
        own = threading.Thread(target=lambda: logging.getLogger("cozepy").warning("from the probe's own thread"))
        own.start()
        own.join(5)
    background.join(5)
    assert said == ["cozepy WARNING: from the probe's own thread"]


def test_resource_warnings_are_not_evidence() -> None:
    """The garbage collector raises them at a moment nobody controls, naming ephemeral ports: seen to make
    two runs of one report differ (cozepy 0.12.0)."""
    import cozepy

    inside = str(Path(cozepy.__file__).parent / "model_example.py")
    code = "import warnings\nwarnings.warn('unclosed <socket laddr=(127.0.0.1, 49848)>', ResourceWarning)"
    with pytest.warns(ResourceWarning), sdk_output() as said:
        exec(compile(code, inside, "exec"))
    assert said == []


def test_quiet_prints_the_answer_alone(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["report", "--quiet", "--platform", "both", "--probe", "chat-poll", "--probe", "workflow-run"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    captured = capfd.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("cloud Coze: ") and lines[1].startswith("open-source Coze")
    assert "workflows (run) cannot:" in lines[0]
    assert captured.err == ""  # no progress, no SDK warning
    matrix = Matrix.model_validate_json((tmp_path / "capability-matrix.json").read_text(encoding="utf-8"))
    said = [line for item in matrix.evidence.values() for line in item.sdk_warnings]
    if sdk.version() == "0.20.0":  # what this release is known to say; other releases say less or other
        assert any("Unknown ChatStatus value: required_action" in line for line in said)
        assert any(
            line.startswith("cozepy WARNING: request POST#http://127.0.0.1:PORT/v1/workflow/run") for line in said
        )


def test_json_prints_the_summary_and_nothing_else(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["report", "--json", "--platform", "cloud", "--probe", "chat-stream", "--probe", "workflow-stream"]
    assert main([*argv, "--out", str(tmp_path), "--format", "json"]) == 0
    captured = capfd.readouterr()
    summary = json.loads(captured.out)  # stdout is the JSON document alone
    matrix = Matrix.model_validate_json((tmp_path / "capability-matrix.json").read_text(encoding="utf-8"))
    assert summary == summary_json(
        matrix, exit_status=0, crashes=[], differences=None, written=[str(tmp_path / "capability-matrix.json")]
    )
    (cloud,) = summary["platforms"]
    assert cloud["sentence"] == answers(matrix)[0].sentence()
    assert (
        cloud["verdicts"]["chat-stream"]["local-code-reachable"]
        == matrix.cell(Capability.LOCAL_CODE, Mode.CHAT_STREAM, "cloud").verdict.value
    )  # type: ignore[union-attr]
    assert "[1/2] chat-stream done" in captured.err  # progress stays on stderr
