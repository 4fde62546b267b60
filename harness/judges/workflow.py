"""Judging workflows (sync run, stream, stream and resume), chatflows and the HTTP bridge workaround.

The rules read observations (harness/probes/workflow.py and bridge.py run the flows): an SDK with no typed surface at
run time (JavaScript) is judged on the methods it offers and on what it handed its caller, never on what
its types promise.
"""

from __future__ import annotations

from ..drivers import Observation
from ..matrix import Capability, Verdict
from ..recorder import Exchange
from ._cells import COMPLETED, REQUIRES_ACTION, TOOL_CAPABILITIES, Verdicts, dumps, first_error, result_field

TOOL_NAME = "get_weather"


def tool_methods(observation: Observation) -> list[str]:
    """Methods of the workflow resources that could take a tool's output (by name), present in this release."""
    return sorted(
        name
        for name, kind in observation.methods.items()
        if name.startswith("workflows.")
        and kind != "absent"
        and any(word in name.rsplit(".", 1)[-1].lower() for word in ("tool", "action"))
    )


def no_tool_path(observation: Observation) -> tuple[bool, str]:
    methods = tool_methods(observation)
    offered = sorted(
        name for name, kind in observation.methods.items() if name.startswith("workflows.runs.") and kind != "absent"
    )
    if methods:
        return False, f"the SDK has tool-shaped workflow methods: {methods}"
    return True, f"workflows.runs offers {offered}: none takes a tool's output"


_RETURNED = {
    "value": "workflows.runs.create returned one value",
    "raised": "workflows.runs.create raised",
    "stream": "workflows.runs.create returned a stream",
    "timeout": "workflows.runs.create did not return in time",
}


def judge_workflow_run(observation: Observation) -> Verdicts:
    """A synchronous run of a workflow with a question node: one value, and the platform refuses it (6039)."""
    code = observation.errors[0].code if observation.errors else None
    call = observation.calls[0] if observation.calls else None
    shape = _RETURNED.get(call.returned, call.returned) if call is not None else "no call was made"
    verdicts: Verdicts = {
        capability: (Verdict.ABSENT, f"a synchronous run returns one value ({shape}): no events, no tool calls.")
        for capability in TOOL_CAPABILITIES
    }
    verdicts[Capability.INTERRUPT_RESUME] = (
        (Verdict.ABSENT, "a synchronous run cannot pause: the server refused it with 6039.")
        if code == 6039
        else (
            Verdict.BROKEN,
            f"expected the API error 6039, saw: {first_error(observation) or dumps(observation.result)}.",
        )
    )
    return verdicts


def stream_outcome(name: str, observation: Observation) -> tuple[str, bool]:
    """One tool-call-shaped workflow stream as the SDK delivered it, and whether an Interrupt's tool call
    reached the caller readable."""
    names = observation.event_names()
    interrupts = [event for event in observation.events if event.name == "Interrupt"]
    carried = any(TOOL_NAME in dumps(event.data) for event in interrupts)
    outcome = f"{name}: SDK yielded {names}"
    error = first_error(observation)
    if error:
        outcome += f", then raised {error}"
    if interrupts:
        outcome += "; the Interrupt's tool call is " + ("readable" if carried else "gone")
    return outcome, carried


def judge_workflow_stream(streams: dict[str, Observation]) -> tuple[Verdicts, list[str]]:
    """Three workflow streams carrying tool-call-shaped events (simulated platform behaviour)."""
    outcomes, readable = [], False
    for name, observation in streams.items():
        outcome, carried = stream_outcome(name, observation)
        outcomes.append(outcome)
        readable = readable or carried
    none, why = no_tool_path(next(iter(streams.values())))
    return stream_verdicts(none, why, outcomes[0], readable, "the SDK did not hand it to the caller."), outcomes


def stream_verdicts(
    none: bool, why: str, first: str, readable: bool, lost: str, runs: str = "workflows.runs"
) -> Verdicts:
    """The workflow stream's cells: `none` when the SDK has no typed way to read or answer a tool call (`why`),
    `readable` when an Interrupt's tool call reached the caller (`lost` says what happened to it otherwise)."""
    absent = Verdict.ABSENT if none else Verdict.UNKNOWN
    verdicts: Verdicts = {
        Capability.TOOL_CALL_EVENT: (absent, f"no tool-call event type: {why}. {first}."),
        Capability.TOOL_CALL_FIELDS: (
            Verdict.SUPPORTED if readable else Verdict.ABSENT,
            "Interrupts of types 1 and 6 carried a tool call in interrupt_data.data; "
            + ("the SDK kept it." if readable else lost),
        ),
        Capability.SUBMIT_METHOD: (
            absent,
            f"{runs} offers no method to submit tool outputs; resume takes "
            "one free-form string for an interrupt, not outputs keyed by call id.",
        ),
    }
    rest = "with no readable tool call and no way to submit its output, a client has nothing to run or answer."
    for capability in (
        Capability.OUTPUTS_IN_ANSWER,
        Capability.CALLS_PER_ROUND,
        Capability.ROUNDS,
        Capability.TOOL_ERRORS,
        Capability.LOCAL_CODE,
    ):
        verdicts[capability] = (absent if not readable else Verdict.UNKNOWN, rest)
    verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "see the workflow stream + resume column.")
    return verdicts


def _resumed_value(observation: Observation) -> str:
    """What a resume call that returned one value (not a stream) handed over, as text."""
    values = [call.value for call in observation.calls if call.method.endswith("resume") and call.returned == "value"]
    return "".join(value if isinstance(value, str) else dumps(value) for value in values)


def judge_workflow_resume(observation: Observation, answer: str) -> Verdicts:
    """A question node: stream to an Interrupt, resume with `answer`, look for it in what the SDK handed over."""
    interrupted = "Interrupt" in observation.event_names()
    resume_calls = [index for index, call in enumerate(observation.calls) if call.method.endswith("resume")]
    resumed_events = [event for event in observation.events if event.call in resume_calls]
    quoted = any(answer in dumps(event.data) for event in resumed_events if event.name == "Message")
    error = first_error(observation)
    if quoted:
        resume = (Verdict.SUPPORTED, f"Interrupt type 2 arrived; resume carried {answer!r} into the output.")
    elif not interrupted:
        resume = (Verdict.BROKEN, f"no Interrupt reached the caller: {error or observation.event_names()}.")
    elif answer in _resumed_value(observation):
        resume = (
            Verdict.BROKEN,
            f"resume returned the resumed stream as one unparsed value (the SSE text holds {answer!r}), not "
            "events: the caller gets no Message, Error or Interrupt without parsing SSE itself.",
        )
    else:
        resume = (
            Verdict.BROKEN,
            f"resume did not carry the answer through: {error or [e.name for e in resumed_events]}.",
        )
    none, why = no_tool_path(observation)
    verdicts: Verdicts = {
        capability: (Verdict.ABSENT if none else Verdict.UNKNOWN, f"resume answers a question, not a tool call: {why}.")
        for capability in TOOL_CAPABILITIES
    }
    verdicts[Capability.INTERRUPT_RESUME] = resume
    return verdicts


def _turn_summary(label: str, observation: Observation, call: int | None = None) -> str:
    text = f"{label}: SDK yielded {observation.event_names(call)}"
    error = first_error(observation)
    return text + (f", then raised {error}" if error else "")


def _refused_on_wire(exchanges: list[Exchange], workflow_id: str) -> str | None:
    """The error envelope the server answered a chatflow request for `workflow_id` with (code 4000), if any."""
    for exchange in exchanges:
        if "/v1/workflows/chat" in exchange.url and workflow_id in exchange.request_body:
            body = exchange.response_body
            if body.startswith("{") and '"code":4000' in body.replace(" ", ""):
                return body[:300]
    return None


def judge_chatflow_tools(local: Observation, exchanges: list[Exchange], workflow_id: str, output: str) -> Verdicts:
    """The end-side plugin chatflow: a tool call counts only if its outputs can be submitted and reach the answer."""
    refused = _refused_on_wire(exchanges, workflow_id)
    if refused is not None and not local.tool_rounds:
        reason = (
            f"this platform has no /v3/chat/submit_tool_outputs, so no chatflow tool call can be answered; how it "
            f"surfaces an end-side plugin in a chatflow is not modelled (the server answered {refused}; the SDK: "
            f"{_turn_summary('it', local)}). Evidence that would settle the event cells: a recording of a chatflow "
            "with an end-side plugin run on this platform"
        )
        return {
            Capability.TOOL_CALL_EVENT: (Verdict.UNKNOWN, reason),
            Capability.TOOL_CALL_FIELDS: (Verdict.UNKNOWN, reason),
            **{
                c: (Verdict.ABSENT, reason)
                for c in TOOL_CAPABILITIES
                if c not in (Capability.TOOL_CALL_EVENT, Capability.TOOL_CALL_FIELDS)
            },
        }
    if not local.tool_rounds:
        paused = REQUIRES_ACTION in local.event_names()
        error = first_error(local)
        why = error or f"requires_action {'arrived without' if paused else 'never arrived with'} tool calls"
        verdict = Verdict.BROKEN if error else Verdict.ABSENT
        return {c: (verdict, f"the end-side plugin chatflow: {why}.") for c in TOOL_CAPABILITIES}
    call = local.tool_rounds[0][0]
    seen = f"requires_action carried {call.name}({call.arguments}) id {call.id}"
    if output in local.answer:
        supported = f"{seen}; the submitted output came back in the answer."
        return {c: (Verdict.SUPPORTED, supported) for c in TOOL_CAPABILITIES}
    submits = [index for index, c in enumerate(local.calls) if c.method.endswith("submitToolOutputs")]
    ended = first_error(local) or str([e.name for e in local.events if e.call in submits])
    ended = ended if len(ended) <= 140 else ended[:139] + "…"
    refusal = (
        f"{seen}, but it is not a usable tool call: submitting its output ended with {ended}, and the output "
        "never reached an answer. A chatflow does not accept local-plugin results (workflow_chat.md; coze-py#303)"
    )
    verdicts: Verdicts = {c: (Verdict.ABSENT, refusal + ".") for c in TOOL_CAPABILITIES}
    verdicts[Capability.LOCAL_CODE] = (Verdict.ABSENT, refusal + "; use the HTTP bridge (workflow-bridge).")
    return verdicts


def judge_chatflow_resume(question: Observation, answer: str) -> tuple[Verdict, str]:
    """The question chatflow: a pause (no tool call) answered by the next message on the conversation."""
    turns = [index for index, call in enumerate(question.calls) if call.method == "workflows.chat.stream"]
    if not turns or REQUIRES_ACTION not in question.event_names(turns[0]):
        return (
            Verdict.BROKEN,
            f"question-chatflow did not pause where the SDK could see it: {_turn_summary('it', question)}.",
        )
    note = (
        "its requires_action carried a tool call"
        if question.tool_rounds
        else "its requires_action carried no tool call (a question is not a tool call)"
    )
    if len(turns) < 2:
        return (
            Verdict.BROKEN,
            f"the chatflow paused ({note}) but the next message was never sent: {first_error(question)}.",
        )
    second = turns[1]
    text = "".join(
        str(event.data.get("content", ""))
        for event in question.events
        if event.call == second
        and event.name == "conversation.message.completed"
        and isinstance(event.data, dict)
        and event.data.get("type") == "answer"
    )
    if answer in text and COMPLETED in question.event_names(second):
        return (
            Verdict.SUPPORTED,
            f"the chatflow paused at its question ({note}) and the next message continued it: {text!r}.",
        )
    summary = _turn_summary("it", question, second)
    return Verdict.BROKEN, f"the chatflow paused ({note}) but the next message did not complete it: {summary}."


def workflow_text(observation: Observation) -> str:
    """The Message contents and Error events of a workflow stream, as one text."""
    parts = []
    for event in observation.events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.name == "Message":
            parts.append(str(data.get("content", "")))
        elif event.name == "Error":
            parts.append(f"{data.get('error_code')} {data.get('error_message')}")
    return " ".join(parts)


def judge_bridge(
    one: Observation,
    chain: Observation,
    failed: Observation,
    expected_one: str,
    expected_chain: list[str],
    failure: str,
) -> Verdicts:
    """Workflows whose http nodes call local tools through the bridge (body error mode)."""
    works = expected_one in workflow_text(one)
    chained = all(part in workflow_text(chain) for part in expected_chain)
    reported = failure in workflow_text(failed) and "Error" in failed.event_names()

    def verdict(ok: bool, yes: str, no: str) -> tuple[Verdict, str]:
        return (Verdict.WORKAROUND, yes) if ok else (Verdict.BROKEN, no)

    one_error = first_error(one) or workflow_text(one)
    return {
        Capability.TOOL_CALL_EVENT: (
            Verdict.NOT_APPLICABLE,
            "the workflow calls the bridge itself; no event reaches the client.",
        ),
        Capability.TOOL_CALL_FIELDS: verdict(
            works, "the http node sends the tool's named JSON arguments.", f"the call failed: {one_error}"
        ),
        Capability.SUBMIT_METHOD: (
            Verdict.NOT_APPLICABLE,
            "the bridge's HTTP answer is the output; nothing is submitted.",
        ),
        Capability.OUTPUTS_IN_ANSWER: verdict(
            works, f"the output quotes {expected_one!r}.", f"the output lacks {expected_one!r}: {workflow_text(one)}"
        ),
        Capability.CALLS_PER_ROUND: (
            Verdict.NOT_APPLICABLE,
            "workflow nodes call one tool each; there are no rounds of calls.",
        ),
        Capability.ROUNDS: verdict(
            chained,
            "two http nodes in a row: the second used the first's output.",
            f"the chain failed: {first_error(chain) or workflow_text(chain)}",
        ),
        Capability.TOOL_ERRORS: verdict(
            reported,
            "a raising tool became a workflow Error event with its message.",
            f"the tool error was lost: {first_error(failed) or workflow_text(failed)}",
        ),
        Capability.INTERRUPT_RESUME: (Verdict.NOT_APPLICABLE, "the bridge needs no pause."),
        Capability.LOCAL_CODE: verdict(
            works,
            "local functions ran behind the bridge and their output came back.",
            f"the bridge path failed: {one_error}",
        ),
    }


__all__ = [
    "judge_bridge",
    "judge_chatflow_resume",
    "judge_chatflow_tools",
    "judge_workflow_resume",
    "judge_workflow_run",
    "judge_workflow_stream",
    "read_back",
    "result_field",
    "workflow_text",
]


def read_back(observation: Observation) -> tuple[list[str], str | None]:
    """An async run read back from its run history: what the SDK read, and the error it raised reading it (with
    the lines after the first, where a validation error names the field and why), or None."""
    absent = result_field(observation, "absent")
    if absent:
        return [f"this SDK cannot start an async run and read its run history ({absent} is absent)"], None
    error = first_error(observation)
    if error is not None:
        lines = observation.errors[0].message.splitlines() if observation.errors else []
        detail = " ".join(line.strip() for line in lines[1:3])
        error += f": {detail}" if detail else ""
        return [f"reading the run history raised {error}"], error
    read = observation.result if isinstance(observation.result, dict) else {}
    return [
        f"read back: execute_status {read.get('execute_status')}, error_code {read.get('error_code')!r}, "
        f"output {read.get('output')!r}"
    ], None
