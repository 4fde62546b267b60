"""Probes of workflows: sync runs, streams, resume, chatflow, and the HTTP bridge workaround.

"Workflows have no tool-call path" rests on two kinds of evidence, kept apart in every cell:
SDK facts (the event enum, the models' fields, the client's methods) and what the SDK did when the
simulator put tool-call-shaped events on a workflow stream (a requires_action-like event, and
`Interrupt`s of the reserved types 1 and 6 carrying a tool call). Those events are simulated
platform behaviour: the open-source engine never produces them, and cloud Coze is not known to.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..judges import TOOL_CAPABILITIES, cells_for
from ..judges.workflow import TOOL_NAME, stream_verdicts
from ..matrix import Capability, Evidence, Mode, SdkFact, Verdict
from ..sdk import enum_value, event_name
from ._base import ProbeContext, ProbeResult, check_streams, describe_error
from .surface import chatflow_facts, model_fields, workflow_facts

_CHATFLOW_CAPABILITIES = (*TOOL_CAPABILITIES, Capability.INTERRUPT_RESUME)
SIMULATED = (
    "the tool-call-shaped events (a requires_action-like event, Interrupt types 1 and 6 with a tool call in "
    "interrupt_data.data) are injected by the simulator; no Coze server is known to send them on a workflow stream"
)


def _dump(event: Any) -> str:
    dump = getattr(event, "model_dump", None)
    return json.dumps(dump(mode="json") if dump else str(event), ensure_ascii=False, default=str)


def stream_workflow(
    coze: Any, workflow_id: str, parameters: dict[str, Any] | None = None
) -> tuple[list[Any], str | None]:
    """Every event the SDK yields for one workflow stream, and the error that ended it early, if any."""
    events: list[Any] = []
    try:
        for event in coze.workflows.runs.stream(workflow_id=workflow_id, parameters=parameters or {}):
            events.append(event)
    except Exception as exc:
        return events, describe_error(exc)
    return events, None


def _names(events: list[Any]) -> list[str]:
    return [event_name(event) for event in events]


def _no_tool_path(facts: list[SdkFact]) -> tuple[bool, str]:
    """From the SDK facts: is there any typed way to read a tool call or submit its output?"""
    by_subject = {item.subject: item.value for item in facts}
    types = by_subject.get("cozepy.WorkflowEventType") or []
    toolish_methods = by_subject.get("coze.workflows.runs methods about tools") or []
    fields = by_subject.get("cozepy.WorkflowEvent fields") or []
    typed = [t for t in types if "tool" in t.lower() or "action" in t.lower()]
    tool_fields = [f for f in fields if "tool" in f.lower()]
    none = not typed and not toolish_methods and not tool_fields
    why = (
        f"WorkflowEventType is {types}; WorkflowEvent fields are {fields}; workflows.runs has no tool-output method"
        if none
        else f"the SDK has tool-shaped surface: events {typed}, fields {tool_fields}, methods {toolish_methods}"
    )
    return none, why


def probe_workflow_stream(ctx: ProbeContext) -> ProbeResult:
    """Stream workflows whose streams carry tool-call-shaped events, and record what the SDK makes of them."""
    coze, transport = ctx.coze()
    facts = workflow_facts()
    outcomes: list[str] = []
    readable = False
    for name in ("tool-event-workflow", "local-plugin-interrupt-workflow", "workflow-local-plugin-interrupt-workflow"):
        events, error = stream_workflow(coze, ctx.scenario_ids[name])
        dumps = [_dump(event) for event in events]
        typed = [event for event in events if event_name(event) == "Interrupt"]
        carried = any(TOOL_NAME in _dump(getattr(event, "interrupt", None)) for event in typed)
        readable = readable or carried
        unknown_raw = any(
            event_name(event) == "unknown" and TOOL_NAME in text for event, text in zip(events, dumps, strict=True)
        )
        outcome = f"{name}: SDK yielded {_names(events)}"
        if error:
            outcome += f", then raised {error}"
        if typed:
            outcome += "; the Interrupt's tool call is " + (
                "readable" if carried else "gone (interrupt_data.data dropped)"
            )
        if unknown_raw:
            outcome += "; the raw text of the unknown event is kept as a string, untyped"
        outcomes.append(outcome)
    none, why = _no_tool_path(facts)
    evidence = Evidence(
        id="workflow-stream",
        probe="workflow-stream",
        summary="three workflow streams carrying tool-call-shaped events",
        exchanges=list(transport.exchanges),
        sdk_events=outcomes,
        sdk_facts=facts,
        simulated=SIMULATED,
    )
    lost = "the SDK's model has no `data` field, so name, arguments and id are lost."
    verdicts = stream_verdicts(none, why, outcomes[0], readable, lost, "coze.workflows.runs")
    return ProbeResult(
        cells=cells_for(Mode.WORKFLOW_STREAM, evidence.id, verdicts),
        evidence=[evidence],
        # The requires_action-shaped stream breaks the workflow grammar on purpose; the others are checked.
        streams=check_streams(
            [e for e in transport.exchanges if ctx.scenario_ids["tool-event-workflow"] not in e.request_body]
        ),
    )


def probe_workflow_resume(ctx: ProbeContext) -> ProbeResult:
    """A question node: stream to Interrupt, resume with an answer, and look for it in the output."""
    coze, transport = ctx.coze()
    answer = "Reykjavik"
    events, error = stream_workflow(coze, ctx.scenario_ids["question-workflow"])
    interrupts = [event for event in events if event_name(event) == "Interrupt"]
    resumed: list[Any] = []
    if interrupts:
        data = interrupts[-1].interrupt.interrupt_data
        try:
            resumed = list(
                coze.workflows.runs.resume(
                    workflow_id=ctx.scenario_ids["question-workflow"],
                    event_id=data.event_id,
                    resume_data=answer,
                    interrupt_type=data.type,
                )
            )
        except Exception as exc:
            error = describe_error(exc)
    quoted = any(answer in getattr(getattr(event, "message", None), "content", "") for event in resumed)
    if quoted:
        resume = (Verdict.SUPPORTED, f"Interrupt type 2 arrived; resume carried {answer!r} into the output.")
    elif not interrupts:
        resume = (Verdict.BROKEN, f"no Interrupt reached the caller: {error or _names(events)}.")
    else:
        resume = (Verdict.BROKEN, f"resume did not carry the answer through: {error or _names(resumed)}.")
    facts = workflow_facts()
    none, why = _no_tool_path(facts)
    evidence = Evidence(
        id="workflow-resume",
        probe="workflow-resume",
        summary="question-workflow: stream, Interrupt (type 2), resume with an answer",
        exchanges=list(transport.exchanges),
        sdk_events=[*_names(events), "-- resume --", *_names(resumed)],
        sdk_facts=facts,
        error=error,
        simulated="the question node's interrupt follows CONTRACT.md (type 2, event_id EXEC/EVENT).",
    )
    verdicts = {
        capability: (Verdict.ABSENT if none else Verdict.UNKNOWN, f"resume answers a question, not a tool call: {why}.")
        for capability in TOOL_CAPABILITIES
    }
    verdicts[Capability.INTERRUPT_RESUME] = resume
    return ProbeResult(
        cells=cells_for(Mode.WORKFLOW_RESUME, evidence.id, verdicts),
        evidence=[evidence],
        streams=check_streams(transport.exchanges),
    )


def probe_workflow_run(ctx: ProbeContext) -> ProbeResult:
    """A synchronous run: one result, no events; a run that would pause is refused (6039)."""
    import cozepy

    coze, transport = ctx.coze()
    outcomes = []
    code = None
    try:
        result = coze.workflows.runs.create(workflow_id=ctx.scenario_ids["question-workflow"])
        outcomes.append(f"question-workflow returned {result!r}")
    except cozepy.CozeAPIError as exc:
        code = exc.code
        outcomes.append(f"question-workflow raised CozeAPIError {exc.code}: {exc.msg}")
    import cozepy.workflows.runs as runs

    facts = [
        *workflow_facts(),
        SdkFact(subject="cozepy.WorkflowRunResult fields", value=model_fields(runs.WorkflowRunResult)),
    ]
    evidence = Evidence(
        id="workflow-run",
        probe="workflow-run",
        summary="runs.create on a workflow with a question node",
        exchanges=list(transport.exchanges),
        sdk_events=outcomes,
        sdk_facts=facts,
        simulated="6039 for a synchronous run that reaches an interrupt follows CONTRACT.md.",
    )
    fields = model_fields(runs.WorkflowRunResult)
    verdicts = {
        capability: (
            Verdict.ABSENT,
            f"a synchronous run returns one WorkflowRunResult {fields}: no events, no tool calls.",
        )
        for capability in TOOL_CAPABILITIES
    }
    verdicts[Capability.INTERRUPT_RESUME] = (
        (Verdict.ABSENT, "a synchronous run cannot pause: the server refused it with 6039.")
        if code == 6039
        else (Verdict.BROKEN, f"expected CozeAPIError 6039, saw: {outcomes[-1]}.")
    )
    history = _read_run_history(ctx)
    return ProbeResult(cells=cells_for(Mode.WORKFLOW_RUN, evidence.id, verdicts), evidence=[evidence, history])


RUN_HISTORY_EVIDENCE = "workflow-run-history"
"""The evidence id of an async run read back; `coze-harness compat` lists a release that failed to as a finding."""


def _read_run_history(ctx: ProbeContext) -> Evidence:
    """An async run read back with run_histories.retrieve (polled, bounded): whether this release can read
    the run history the platform sends (error_code "" on success, as recorded), not only whether it asks."""
    from ..sdk import has_run_histories, workflow_run_has_is_async

    coze, transport = ctx.coze()
    outcomes: list[str] = []
    error = None
    if not (has_run_histories() and workflow_run_has_is_async()):
        outcomes.append("this cozepy cannot start an async run and read its run history (0.7.0+)")
    else:
        workflow_id = ctx.scenario_ids["joke-workflow"]
        try:
            started = coze.workflows.runs.create(workflow_id=workflow_id, is_async=True)
            for _ in range(100):  # 100 polls of 20 ms at most
                history = coze.workflows.runs.run_histories.retrieve(
                    workflow_id=workflow_id, execute_id=started.execute_id
                )
                if enum_value(history.execute_status) != "Running":
                    break
                time.sleep(0.02)
            outcomes.append(
                f"read back: execute_status {enum_value(history.execute_status)}, error_code "
                f"{history.error_code!r}, output {history.output!r}"
            )
        except Exception as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines()[1:3])  # pydantic: the field and why
            error = describe_error(exc) + (f": {detail}" if detail else "")
            outcomes.append(f"run_histories.retrieve raised {error}")
    return Evidence(
        id=RUN_HISTORY_EVIDENCE,
        probe="workflow-run",
        summary="an async run of joke-workflow read back with runs.run_histories.retrieve",
        exchanges=list(transport.exchanges),
        sdk_events=outcomes,
        error=error,
        simulated="the run history's shape follows the spec, workflow_history.md and a recorded history "
        '(coze-py tests/test_workflow_run_history.py): error_code is a string, "" on success',
    )


CHATFLOW_SOURCES = (
    "cloud chatflow behaviour modelled from reference/coze-openapi/api-markdown/workflow_chat.md (question and "
    "input nodes pause with conversation.chat.requires_action, the next /v1/workflows/chat call continues; "
    '"对话流中不支持提交端插件结果": no local-plugin results in a chatflow) and coze-dev/coze-py#303 (a cloud '
    "chatflow's end-side plugin gave requires_action, and submit_tool_outputs then an error event)"
)
_TOOL_OUTPUT = "sunny and 21 degrees"


class _ChatflowTurn:
    """What the SDK made of one workflows.chat.stream (or submit_tool_outputs) call."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.error: str | None = None
        self.paused: Any = None  # the Chat of a requires_action event
        self.answer = ""

    def read(self, stream: Any) -> _ChatflowTurn:
        try:
            for event in stream:
                name = event_name(event)
                self.names.append(name)
                if name == "conversation.chat.requires_action":
                    self.paused = event.chat
                message: Any = getattr(event, "message", None)
                kind = getattr(message, "type", None)
                if name == "conversation.message.completed" and "answer" in str(getattr(kind, "value", kind)):
                    self.answer += str(message.content)
        except Exception as exc:
            self.error = describe_error(exc)
        return self

    def tool_calls(self) -> list[Any]:
        action = getattr(self.paused, "required_action", None)
        outputs = getattr(action, "submit_tool_outputs", None)
        return list(getattr(outputs, "tool_calls", None) or [])

    def summary(self, label: str) -> str:
        text = f"{label}: SDK yielded {self.names}"
        if self.error:
            text += f", then raised {self.error}"
        return text


def _chatflow_turn(client: Any, workflow_id: str, text: str, conversation_id: str | None = None) -> _ChatflowTurn:
    import cozepy

    message = cozepy.Message(role="user", type="question", content=text, content_type="text")
    turn = _ChatflowTurn()
    try:
        kwargs: dict[str, Any] = {"conversation_id": conversation_id} if conversation_id else {}
        stream = client.stream(workflow_id=workflow_id, additional_messages=[message], **kwargs)
    except Exception as exc:
        turn.error = describe_error(exc)
        return turn
    return turn.read(stream)


def _chatflow_tools(coze: Any, ctx: ProbeContext, outcomes: list[str]) -> dict[Capability, tuple[Verdict, str]]:
    """The end-side plugin chatflow: a tool call counts only if its outputs can be submitted and reach the answer."""
    import cozepy

    first = _chatflow_turn(coze.workflows.chat, ctx.scenario_ids["local-plugin-chatflow"], "Paris")
    outcomes.append(first.summary("local-plugin-chatflow"))
    calls = first.tool_calls()
    if first.error and "4000" in first.error and not first.names:
        reason = (
            f"this platform has no /v3/chat/submit_tool_outputs, so no chatflow tool call can be answered; how it "
            f"surfaces an end-side plugin in a chatflow is not modelled ({first.error}). Evidence that would "
            "settle the event cells: a recording of a chatflow with an end-side plugin run on this platform"
        )
        unknown = (Verdict.UNKNOWN, reason)
        absent = (Verdict.ABSENT, reason)
        return {
            Capability.TOOL_CALL_EVENT: unknown,
            Capability.TOOL_CALL_FIELDS: unknown,
            **{
                c: absent
                for c in TOOL_CAPABILITIES
                if c not in (Capability.TOOL_CALL_EVENT, Capability.TOOL_CALL_FIELDS)
            },
        }
    if not calls:
        why = (
            first.error
            or f"requires_action {'arrived without' if first.paused is not None else 'never arrived with'} tool calls"
        )
        verdict = Verdict.BROKEN if first.error else Verdict.ABSENT
        return {c: (verdict, f"the end-side plugin chatflow: {why}.") for c in TOOL_CAPABILITIES}
    call = calls[0]
    seen = f"requires_action carried {call.function.name}({call.function.arguments}) id {call.id}"
    submitted = _ChatflowTurn()
    try:
        stream = coze.chat.submit_tool_outputs(
            conversation_id=first.paused.conversation_id,
            chat_id=first.paused.id,
            tool_outputs=[cozepy.ToolOutput(tool_call_id=c.id, output=_TOOL_OUTPUT) for c in calls],
            stream=True,
        )
        submitted.read(stream)
    except Exception as exc:
        submitted.error = describe_error(exc)
    outcomes.append(submitted.summary("chat.submit_tool_outputs on that chat"))
    if _TOOL_OUTPUT in submitted.answer:
        supported = f"{seen}; the submitted output came back in the answer."
        return {c: (Verdict.SUPPORTED, supported) for c in TOOL_CAPABILITIES}
    ended = submitted.error or str(submitted.names)
    ended = ended if len(ended) <= 140 else ended[:139] + "…"  # the whole answer is in the evidence
    refused = (
        f"{seen}, but it is not a usable tool call: submitting its output ended with {ended}, and the output "
        "never reached an answer. A chatflow does not accept local-plugin results (workflow_chat.md; coze-py#303)"
    )
    verdicts = {c: (Verdict.ABSENT, refused + ".") for c in TOOL_CAPABILITIES}
    verdicts[Capability.LOCAL_CODE] = (Verdict.ABSENT, refused + "; use the HTTP bridge (workflow-bridge).")
    return verdicts


def _chatflow_resume(coze: Any, ctx: ProbeContext, outcomes: list[str]) -> tuple[Verdict, str]:
    """The question chatflow: a pause (no tool call) answered by the next message on the conversation."""
    workflow_id = ctx.scenario_ids["question-chatflow"]
    first = _chatflow_turn(coze.workflows.chat, workflow_id, "weather please")
    outcomes.append(first.summary("question-chatflow"))
    if first.paused is None:
        return (Verdict.BROKEN, f"question-chatflow did not pause where the SDK could see it: {first.summary('it')}.")
    note = (
        "its requires_action carried no tool call (a question is not a tool call)"
        if not first.tool_calls()
        else ("its requires_action carried a tool call")
    )
    second = _chatflow_turn(coze.workflows.chat, workflow_id, "Paris", str(first.paused.conversation_id))
    outcomes.append(second.summary("question-chatflow, the answer on the same conversation"))
    if "Paris" in second.answer and "conversation.chat.completed" in second.names:
        return (
            Verdict.SUPPORTED,
            f"the chatflow paused at its question ({note}) and the next message continued it: {second.answer!r}.",
        )
    return (
        Verdict.BROKEN,
        f"the chatflow paused ({note}) but the next message did not complete it: {second.summary('it')}.",
    )


def probe_chatflow(ctx: ProbeContext) -> ProbeResult:
    """workflows.chat.stream: a plain chatflow, a question pause and its continuation, and an end-side plugin
    whose tool call the SDK reads but whose outputs the platform refuses."""
    coze, transport = ctx.coze()
    facts = chatflow_facts()
    chat_client = getattr(coze.workflows, "chat", None)
    if chat_client is None:
        evidence = Evidence(id="chatflow", probe="chatflow", summary="no chatflow client in this SDK", sdk_facts=facts)
        verdicts = {c: (Verdict.ABSENT, "this cozepy has no workflows.chat.stream.") for c in _CHATFLOW_CAPABILITIES}
        return ProbeResult(cells=cells_for(Mode.CHATFLOW, evidence.id, verdicts), evidence=[evidence])
    outcomes: list[str] = []
    echo = _chatflow_turn(chat_client, ctx.scenario_ids["echo-chatflow"], "hello")
    outcomes.append(echo.summary("echo-chatflow"))
    ran = "conversation.chat.completed" in echo.names
    verdicts = _chatflow_tools(coze, ctx, outcomes)
    verdicts[Capability.INTERRUPT_RESUME] = _chatflow_resume(coze, ctx, outcomes)
    if not ran:
        reason = f"a plain chatflow did not complete: {echo.summary('echo-chatflow')}."
        verdicts = {c: (Verdict.BROKEN, reason) for c in _CHATFLOW_CAPABILITIES}
    evidence = Evidence(
        id="chatflow",
        probe="chatflow",
        summary="echo-chatflow, question-chatflow (pause and continue), local-plugin-chatflow (tool call, refused)",
        exchanges=list(transport.exchanges),
        sdk_events=outcomes,
        sdk_facts=facts,
        error=None if ran else echo.error,
        simulated=CHATFLOW_SOURCES,
    )
    return ProbeResult(
        cells=cells_for(Mode.CHATFLOW, evidence.id, verdicts),
        evidence=[evidence],
        streams=check_streams(transport.exchanges),
    )


__all__ = [
    "probe_chatflow",
    "probe_workflow_resume",
    "probe_workflow_run",
    "probe_workflow_stream",
]
