"""Workflows: a synchronous run (and an async one read back), streams with tool-call-shaped events, stream
and resume, and chatflows."""

from __future__ import annotations

from .. import judges
from ..matrix import Capability, Evidence, Mode, Verdict
from ._base import ProbeContext, ProbeResult, check_streams
from ._flows import driver_of, facts, result_of, run_flow, sdk_of, take

CHATFLOW_TOOL_OUTPUT = "sunny and 21 degrees"


RESUME_ANSWER = "Reykjavik"


WORKFLOW_SIMULATED = (
    "the tool-call-shaped events (a requires_action-like event, Interrupt types 1 and 6 with a tool call in "
    "interrupt_data.data) are injected by the simulator; no Coze server is known to send them on a workflow stream"
)


def probe_workflow_run(ctx: ProbeContext) -> ProbeResult:
    take(ctx)
    observation = run_flow(ctx, "workflow-run", workflow_id=ctx.scenario_ids["question-workflow"])
    evidence = Evidence(
        id="workflow-run",
        probe="workflow-run",
        summary="workflows.runs.create on a workflow with a question node",
        exchanges=take(ctx),
        sdk_events=[f"{call.method}: {call.returned}" for call in observation.calls],
        sdk_facts=facts(driver_of(ctx), observation, ("workflows.runs.",)),
        error=judges.first_error(observation),
        simulated="6039 for a synchronous run that reaches an interrupt follows CONTRACT.md.",
    )
    result = result_of(Mode.WORKFLOW_RUN, evidence, judges.judge_workflow_run(observation), [])
    result.evidence.append(_run_history(ctx))
    return result


RUN_HISTORY_EVIDENCE = "workflow-run-history"
"""The evidence id of an async run read back; `coze-harness compat` lists a release that failed to as a finding."""


def _run_history(ctx: ProbeContext) -> Evidence:
    """An async run of the joke workflow read back from its run history: no cell shows whether a release can
    read the history the platform sends, so the evidence (and the compat report's findings) do."""
    observation = run_flow(ctx, "workflow-history", workflow_id=ctx.scenario_ids["joke-workflow"])
    outcomes, error = judges.read_back(observation)
    return Evidence(
        id=RUN_HISTORY_EVIDENCE,
        probe="workflow-run",
        summary="an async run of joke-workflow read back from its run history (workflows.runs.history)",
        exchanges=take(ctx),
        sdk_events=outcomes,
        error=error,
        simulated="the run history's shape follows the spec, workflow_history.md and a recorded history "
        '(coze-py tests/test_workflow_run_history.py): error_code is a string, "" on success',
    )


def probe_workflow_stream(ctx: ProbeContext) -> ProbeResult:
    take(ctx)
    names = ("tool-event-workflow", "local-plugin-interrupt-workflow", "workflow-local-plugin-interrupt-workflow")
    streams = {name: run_flow(ctx, "workflow-stream", workflow_id=ctx.scenario_ids[name]) for name in names}
    exchanges = take(ctx)
    verdicts, outcomes = judges.judge_workflow_stream(streams)
    first = streams[names[0]]
    evidence = Evidence(
        id="workflow-stream",
        probe="workflow-stream",
        summary="three workflow streams carrying tool-call-shaped events",
        exchanges=exchanges,
        sdk_events=outcomes,
        sdk_facts=facts(driver_of(ctx), first, ("workflows.",)),
        simulated=WORKFLOW_SIMULATED,
    )
    # The requires_action-shaped stream breaks the workflow grammar on purpose; the others are checked.
    tool_event = ctx.scenario_ids["tool-event-workflow"]
    checked = check_streams([e for e in exchanges if tool_event not in e.request_body])
    return result_of(Mode.WORKFLOW_STREAM, evidence, verdicts, checked)


def probe_workflow_resume(ctx: ProbeContext) -> ProbeResult:
    take(ctx)
    observation = run_flow(
        ctx, "workflow-resume", workflow_id=ctx.scenario_ids["question-workflow"], resume_data=[RESUME_ANSWER]
    )
    exchanges = take(ctx)
    resumed = [call.returned for call in observation.calls if call.method.endswith("resume")]
    evidence = Evidence(
        id="workflow-resume",
        probe="workflow-resume",
        summary="question-workflow: stream, Interrupt (type 2), resume with an answer",
        exchanges=exchanges,
        sdk_events=[*observation.event_names(), f"-- resume returned: {resumed} --"],
        sdk_facts=facts(driver_of(ctx), observation, ("workflows.runs.",)),
        error=judges.first_error(observation),
        simulated="the question node's interrupt follows CONTRACT.md (type 2, event_id EXEC/EVENT).",
    )
    verdicts = judges.judge_workflow_resume(observation, RESUME_ANSWER)
    return result_of(Mode.WORKFLOW_RESUME, evidence, verdicts, check_streams(exchanges))


CHATFLOW_SOURCES = (
    "cloud chatflow behaviour modelled from reference/coze-openapi/api-markdown/workflow_chat.md (question and "
    "input nodes pause with conversation.chat.requires_action, the next /v1/workflows/chat call continues; "
    '"对话流中不支持提交端插件结果": no local-plugin results in a chatflow) and coze-dev/coze-py#303 (a cloud '
    "chatflow's end-side plugin gave requires_action, and submit_tool_outputs then an error event)"
)


def probe_chatflow(ctx: ProbeContext) -> ProbeResult:
    take(ctx)
    echo = run_flow(ctx, "chatflow", workflow_id=ctx.scenario_ids["echo-chatflow"], message="hello")
    said = facts(driver_of(ctx), echo, ("workflows.chat.", "chat.submitToolOutputs"))
    if not judges.has_method(echo, "workflows.chat.stream"):
        evidence = Evidence(id="chatflow", probe="chatflow", summary="no chatflow client in this SDK", sdk_facts=said)
        verdicts = judges.absent_sdk_method("workflows.chat.stream", sdk_of(ctx), pauses=True)
        return result_of(Mode.CHATFLOW, evidence, verdicts, [])
    local_id = ctx.scenario_ids["local-plugin-chatflow"]
    local = run_flow(ctx, "chatflow", lambda _call: CHATFLOW_TOOL_OUTPUT, workflow_id=local_id, message="Paris")
    question = run_flow(
        ctx,
        "chatflow",
        workflow_id=ctx.scenario_ids["question-chatflow"],
        message="weather please",
        resume_data=["Paris"],
    )
    exchanges = take(ctx)
    verdicts = judges.judge_chatflow_tools(local, exchanges, local_id, CHATFLOW_TOOL_OUTPUT)
    verdicts[Capability.INTERRUPT_RESUME] = judges.judge_chatflow_resume(question, "Paris")
    ran = judges.completed(echo)
    if not ran:
        reason = f"a plain chatflow did not complete: {echo.event_names()} {judges.first_error(echo) or ''}".strip()
        verdicts = dict.fromkeys(verdicts, (Verdict.BROKEN, reason + "."))
    evidence = Evidence(
        id="chatflow",
        probe="chatflow",
        summary="echo-chatflow, question-chatflow (pause and continue), local-plugin-chatflow (tool call, refused)",
        exchanges=exchanges,
        sdk_events=[
            f"echo-chatflow: {echo.event_names()}",
            f"local-plugin-chatflow: {local.event_names()} {judges.first_error(local) or ''}".strip(),
            f"question-chatflow: {question.event_names()} {judges.first_error(question) or ''}".strip(),
        ],
        sdk_facts=said,
        error=None if ran else judges.first_error(echo),
        simulated=CHATFLOW_SOURCES,
    )
    return result_of(Mode.CHATFLOW, evidence, verdicts, check_streams(exchanges))
