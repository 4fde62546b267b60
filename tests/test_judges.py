"""The judges: observations (what an SDK did) and wire exchanges in, cells out; no SDK and no simulator in them.

Each rule is checked on observations built by hand, both ways: the observation that earns the verdict
and the one that falls short of it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import judges
from harness.drivers import Observation, SdkCall, SdkError, SdkEvent, ToolCallSeen
from harness.matrix import Capability, Verdict
from harness.recorder import Exchange

JUDGES = Path(judges.__file__).parent


def _observation(**fields: Any) -> Observation:
    return Observation.model_validate({"sdk": "test-sdk", "sdk_version": "1.0.0", "flow": "chat-stream", **fields})


def _chat(events: list[str], rounds: list[list[str]], status: str, answer: str, **fields: Any) -> Observation:
    return _observation(
        events=[SdkEvent(name=name, call=0) for name in events],
        calls=[SdkCall(method="chat.stream", returned="stream", events=len(events))],
        tool_rounds=[[ToolCallSeen(id=f"c{n}", name=name) for n, name in enumerate(names)] for names in rounds],
        result={"status": status, "answer": answer},
        methods={"chat.submitToolOutputs": "async-generator"},
        **fields,
    )


def test_judges_import_neither_an_sdk_nor_the_simulator() -> None:
    for path in JUDGES.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            assert not [n for n in names if n.split(".")[0] in ("cozepy", "simulators")], (path.name, names)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, harness.judges; print('cozepy' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"


def test_a_chat_that_quotes_every_output_supports_the_loop() -> None:
    outputs = ["sunny in Paris", "12:00 in Paris"]
    single = judges.ChatRun(
        _chat(
            ["conversation.chat.requires_action", "conversation.chat.completed"],
            [["get_weather", "get_time"]],
            "completed",
            "It is sunny in Paris and 12:00 in Paris",
        ),
        outputs,
    )
    chain = judges.ChatRun(_chat([], [["search"], ["read"]], "completed", "found: a, b"), ["a", "b"])
    failing = judges.ChatRun(_chat([], [["get_weather"]], "completed", 'oops {"error": "x"}'), ['{"error": "x"}'])
    verdicts = judges.judge_chat(single, chain, failing, "streamed", has_submit=True)
    assert {capability: verdict for capability, (verdict, _) in verdicts.items()} == {
        **dict.fromkeys(Capability, Verdict.SUPPORTED),
        Capability.INTERRUPT_RESUME: Verdict.NOT_APPLICABLE,
    }


def test_a_chat_that_never_completes_is_broken_with_the_sdks_error() -> None:
    error = SdkError(type="CozeError", message="Could not parse message into JSON:", code=None)
    single = judges.ChatRun(_chat(["conversation.chat.created"], [], "", "", errors=[error]), [])
    verdicts = judges.judge_chat(single, single, single, "streamed", has_submit=True)
    verdict, reason = verdicts[Capability.OUTPUTS_IN_ANSWER]
    assert verdict is Verdict.BROKEN and "CozeError: Could not parse message" in reason
    assert verdicts[Capability.TOOL_CALL_EVENT][0] is Verdict.BROKEN


def test_a_release_without_the_submit_method_has_it_absent() -> None:
    run = judges.ChatRun(_chat(["conversation.chat.requires_action"], [["get_weather"]], "requires_action", ""), [])
    verdict, reason = judges.judge_chat(run, run, run, "streamed", False, "chat.submit")[Capability.SUBMIT_METHOD]
    assert verdict is Verdict.ABSENT and reason == "this SDK has no chat.submit."
    verdict, reason = judges.judge_chat(run, run, run, "streamed", True, "chat.submit")[Capability.SUBMIT_METHOD]
    assert verdict is Verdict.BROKEN and reason.startswith("chat.submit exists but the flow did not get there")


def test_a_platform_without_the_path_is_absent_only_when_the_submit_is_refused_with_404() -> None:
    single = judges.ChatRun(_chat([], [], "required_action", ""), [])
    refused = _observation(errors=[SdkError(type="NotFoundError", message="logid: 1", status=404)])
    verdicts = judges.absent_on_platform(single, refused, "test-sdk")
    assert (
        verdicts[Capability.SUBMIT_METHOD][0] is Verdict.ABSENT and "HTTP 404" in verdicts[Capability.SUBMIT_METHOD][1]
    )
    assert (
        verdicts[Capability.LOCAL_CODE][0] is Verdict.ABSENT
        and "'required_action'" in verdicts[Capability.LOCAL_CODE][1]
    )
    other = _observation(errors=[SdkError(type="BadRequestError", message="bad", status=400)])
    assert judges.absent_on_platform(single, other, "test-sdk")[Capability.SUBMIT_METHOD][0] is Verdict.BROKEN


def test_only_another_platform_may_lack_the_path_and_only_when_the_wire_shows_none() -> None:
    quiet = [Exchange(method="POST", url="http://h/v3/chat", response_body='{"status":"required_action"}')]
    asked = [Exchange(method="POST", url="http://h/v3/chat", response_body="event:conversation.chat.requires_action")]
    assert judges.lacks_tool_path(quiet, default_platform=False)
    assert not judges.lacks_tool_path(quiet, default_platform=True)
    assert not judges.lacks_tool_path(asked, default_platform=False)


def _resume(returned: str, value: Any = None, message: str = "") -> Observation:
    events = [SdkEvent(name="Interrupt", call=0)]
    if message:
        events.append(SdkEvent(name="Message", data={"content": message}, call=1))
    return _observation(
        flow="workflow-resume",
        events=events,
        calls=[
            SdkCall(method="workflows.runs.stream", returned="stream", events=1),
            SdkCall(method="workflows.runs.resume", returned=returned, value=value, events=len(events) - 1),
        ],
        methods={"workflows.runs.resume": "async-function", "workflows.runs.stream": "async-generator"},
    )


def test_resume_is_supported_only_when_its_events_carry_the_answer() -> None:
    streamed = judges.judge_workflow_resume(_resume("stream", message="the weather in Reykjavik"), "Reykjavik")
    assert streamed[Capability.INTERRUPT_RESUME][0] is Verdict.SUPPORTED
    text = 'id: 0\nevent: Message\ndata: {"content":"the weather in Reykjavik"}\n\n'
    verdict, reason = judges.judge_workflow_resume(_resume("value", value=text), "Reykjavik")[
        Capability.INTERRUPT_RESUME
    ]
    assert verdict is Verdict.BROKEN and "unparsed" in reason
    assert judges.judge_workflow_resume(_resume("stream"), "Reykjavik")[Capability.SUBMIT_METHOD][0] is Verdict.ABSENT


def test_a_workflow_method_named_for_tools_makes_the_tool_cells_unknown_not_absent() -> None:
    observation = _resume("stream", message="Reykjavik")
    observation.methods["workflows.runs.submitToolOutputs"] = "async-function"
    verdict, reason = judges.judge_workflow_resume(observation, "Reykjavik")[Capability.SUBMIT_METHOD]
    assert verdict is Verdict.UNKNOWN and "submitToolOutputs" in reason


def test_a_sync_run_that_would_pause_must_be_refused_with_6039() -> None:
    refused = _observation(
        flow="workflow-run",
        calls=[SdkCall(method="workflows.runs.create", returned="raised")],
        errors=[SdkError(type="APIError", message="6039", code=6039)],
    )
    assert judges.judge_workflow_run(refused)[Capability.INTERRUPT_RESUME][0] is Verdict.ABSENT
    answered = _observation(flow="workflow-run", calls=[SdkCall(method="workflows.runs.create", returned="value")])
    assert judges.judge_workflow_run(answered)[Capability.INTERRUPT_RESUME][0] is Verdict.BROKEN


def _stream(names: list[str], answer: str = "hi", **fields: Any) -> Observation:
    return _observation(events=[SdkEvent(name=n, call=0) for n in names], result={"answer": answer}, **fields)


def test_framing_judged_against_the_canonical_read() -> None:
    baseline = _stream(["Message", "Done"])
    assert judges.judge_framing(_stream(["Message", "unknown", "Done"]), baseline, None)[0] == "survives"
    assert judges.judge_framing(_stream(["Message"]), baseline, None)[0] == "misreads"
    assert judges.judge_framing(_stream(["Message", "Done"], answer="h"), baseline, None)[0] == "misreads"
    raised = _stream([], errors=[SdkError(type="CozeError", message="x")])
    assert judges.judge_framing(raised, baseline, None) == ("fails", "the SDK raised after 0 event(s)")
    lingered = _stream(["Message", "Done"], timed_out=True)
    outcome, detail = judges.judge_framing(lingered, baseline, 3.0)
    assert outcome == "fails" and "kept reading after the last event" in detail
    assert judges.judge_framing(lingered, raised, 3.0)[0] == "not-run"
