"""Probes run through an SDK driver (harness.drivers): the flows each column needs, judged by harness.judges.

Every column runs the same scenarios for every SDK, through its driver: cozepy in this process, @coze/api in
Node. What the SDK did comes back as observations; what crossed the wire is taken on the
simulator's side (`ProbeContext.tap`), so the evidence, the stream grammar checks and the judges are
the ones every SDK gets. Local code answers tool calls here in Python, over the driver's protocol.
"""

from __future__ import annotations

from typing import Any

from simulators.coze import DEFAULT_PLATFORM, SimConfig, TokenGrant, create_app, running
from simulators.coze import FRAMING_VARIANTS as VARIANTS

from .. import judges
from ..drivers import TEXT_WEBSOCKET_CHAT, Driver, FlowName, FlowRequest, Observation, ToolAnswerer, ToolCallSeen
from ..matrix import LOADING_FACT, Capability, Evidence, FramingResult, Mode, SdkFact, Verdict
from ..recorder import Exchange
from ..streams import GRAMMARS
from ..tap import RecordingApp
from ..tools import ToolRegistry
from . import demo_tools
from ._base import Probe, ProbeContext, ProbeResult, StreamCheck, check_streams
from .framing import STREAMS, framing_catalogue, sample_of
from .websocket import handshake_refusal

FLOW_SECONDS = 10.0
POLL_SECONDS = 2.0
"""A polled chat's limit: the simulator settles a step at once, so a poll still going after this never ends
(coze-js's createAndPoll polls without a limit until a status it knows; studio spells one differently)."""
LINGER_SECONDS = 0.5
"""The limit of a flow reading a stream left open after its last event (`open-after-done`, open 3 s): an SDK
that stops at `done` returns within milliseconds of the last event, one that reads to the close runs out of
time here. Every event before `done` leaves the server at once, so half a second without a byte happens only
to a client waiting for the close, two and a half seconds before it comes."""


def framing_limit(linger_seconds: float | None) -> float:
    """The time limit of a flow reading one framing variant: `LINGER_SECONDS` for a stream left open after its
    last event (never more than a sixth of the time it is left open), else `FLOW_SECONDS`."""
    return FLOW_SECONDS if linger_seconds is None else min(LINGER_SECONDS, linger_seconds / 6)


CHATFLOW_TOOL_OUTPUT = "sunny and 21 degrees"
RESUME_ANSWER = "Reykjavik"


def _driver(ctx: ProbeContext) -> Driver:
    if ctx.driver is None:
        raise ValueError("a driven probe needs ProbeContext.driver (the SDK to run)")
    driver: Driver = ctx.driver
    return driver


REPEATS_KEPT = 2
"""Identical requests in a row (an SDK polling until a time limit) kept in the evidence: how many more a client
sends in that time depends on the machine, and the report must not."""
REPEATS_NOTE = (
    "a flow ran out of time while the SDK repeated one request: identical requests in a row beyond "
    f"{REPEATS_KEPT} are left out of the exchanges"
)


def _take(ctx: ProbeContext) -> list[Exchange]:
    """The exchanges the simulator served since the last take, identical requests in a row (with identical
    answers) kept only `REPEATS_KEPT` times."""
    tap: RecordingApp | None = ctx.tap
    kept: list[Exchange] = []
    run = 0
    for exchange in tap.take() if tap is not None else []:
        run = run + 1 if kept and _same(kept[-1], exchange) else 1
        if run <= REPEATS_KEPT:
            kept.append(exchange)
    return kept


def _same(a: Exchange, b: Exchange) -> bool:
    def key(exchange: Exchange) -> tuple[object, ...]:
        return exchange.method, exchange.url, exchange.request_body, exchange.status, exchange.response_body

    return key(a) == key(b)


def _flow(ctx: ProbeContext, flow: FlowName, tools: ToolAnswerer | None = None, **fields: Any) -> Observation:
    fields.setdefault("timeout_seconds", FLOW_SECONDS)
    request = FlowRequest(flow=flow, base_url=ctx.base_url, token=ctx.token, **fields)
    return _driver(ctx).run(request, tools=tools)


def _answering(registry: ToolRegistry, outputs: list[str]) -> ToolAnswerer:
    """Local code answering the SDK's tool calls, keeping each output to look for in the answer."""

    def answer(call: ToolCallSeen) -> str:
        arguments = call.arguments if isinstance(call.arguments, (str, dict)) else None
        output = registry.invoke(call.name, arguments).output
        outputs.append(output)
        return output

    return answer


def _facts(driver: Driver, observation: Observation, prefixes: tuple[str, ...]) -> list[SdkFact]:
    methods = {name: kind for name, kind in sorted(observation.methods.items()) if name.startswith(prefixes)}
    facts = [SdkFact(subject=f"{driver.sdk} methods ({', '.join(prefixes)})", value=methods)]
    facts += [  # what the SDK's types say, where it has types (Chat.required_action...)
        SdkFact(subject=f"{driver.sdk} {name}", value=present) for name, present in sorted(observation.fields.items())
    ]
    runtime = getattr(driver, "node_version", None)
    if runtime:
        facts.append(SdkFact(subject="node", value=runtime))
    loading = getattr(driver, "loading", None)
    if loading:
        facts.append(SdkFact(subject=LOADING_FACT, value=loading))
    return facts


def _sdk(ctx: ProbeContext) -> str:
    return f"{_driver(ctx).sdk} {_driver(ctx).sdk_version}"


def _result(mode: Mode, evidence: Evidence, verdicts: judges.Verdicts, streams: list[StreamCheck]) -> ProbeResult:
    return ProbeResult(cells=judges.cells_for(mode, evidence.id, verdicts), evidence=[evidence], streams=streams)


_CHATS = (
    ("weather-bot", "Paris", demo_tools.registry),
    ("research-bot", "coze", demo_tools.registry),
    ("weather-bot", "Oslo", demo_tools.failing),
)


def _three_chats(ctx: ProbeContext, flow: FlowName, **fields: Any) -> list[judges.ChatRun]:
    """The weather bot, the research bot and the weather bot with a failing tool, local code answering."""
    runs = []
    for bot, text, registry in _CHATS:
        outputs: list[str] = []
        answer = _answering(registry, outputs)
        observation = _flow(ctx, flow, answer, bot_id=ctx.scenario_ids[bot], message=text, **fields)
        runs.append(judges.ChatRun(observation, outputs))
    return runs


def _chat_probe(ctx: ProbeContext, mode: Mode, flow: FlowName, how: str, summary: str) -> ProbeResult:
    _take(ctx)
    seconds = POLL_SECONDS if flow == "chat-poll" else FLOW_SECONDS
    runs = _three_chats(ctx, flow, timeout_seconds=seconds)
    single, chain, failing = runs
    exchanges = _take(ctx)
    sdk = _driver(ctx).sdk
    submit: Observation | None = None
    lacking = judges.lacks_tool_path(exchanges, ctx.platform == DEFAULT_PLATFORM)
    if lacking:
        ids = judges.chat_ids_on_wire(exchanges)
        if ids is not None and judges.has_method(single.observation, "chat.submitToolOutputs"):
            submit = _flow(ctx, "chat-submit", conversation_id=ids[0], chat_id=ids[1])
            exchanges += _take(ctx)
        verdicts = judges.absent_on_platform(single, submit, sdk)
    else:
        has_submit = judges.has_method(single.observation, judges.SUBMIT)
        verdicts = judges.judge_chat(single, chain, failing, how, has_submit)
    evidence = Evidence(
        id=mode.value,
        probe=mode.value,
        summary=summary,
        exchanges=exchanges,
        sdk_events=[
            *single.observation.event_names(),
            *chain.observation.event_names(),
            "runs: " + " | ".join(run.summary() for run in runs),
            *([f"submitToolOutputs on the paused chat: {judges.first_error(submit) or 'accepted'}"] if submit else []),
            *([REPEATS_NOTE] if any(run.observation.timed_out for run in runs) else []),
        ],
        sdk_facts=_facts(_driver(ctx), single.observation, ("chat.",)),
        error=single.error or chain.error,
        simulated="the bots are simulator scenarios; the wire format is the platform profile's (CONTRACT.md).",
    )
    if mode is Mode.CHAT_POLL:
        verdict, _ = verdicts[Capability.TOOL_CALL_EVENT]
        if verdict is Verdict.SUPPORTED:
            verdicts[Capability.TOOL_CALL_EVENT] = (
                Verdict.SUPPORTED,
                "the polled chat came back with status requires_action and required_action (polled: no event).",
            )
    return _result(mode, evidence, verdicts, check_streams(exchanges))


def probe_chat_stream(ctx: ProbeContext) -> ProbeResult:
    return _chat_probe(
        ctx,
        Mode.CHAT_STREAM,
        "chat-stream",
        "streamed",
        "weather-bot (two tools, one round), research-bot (two rounds), weather-bot with a failing tool: "
        "chat.stream, local tools, chat.submitToolOutputs({stream: true})",
    )


def probe_chat_poll(ctx: ProbeContext) -> ProbeResult:
    return _chat_probe(
        ctx,
        Mode.CHAT_POLL,
        "chat-poll",
        "polled",
        "the same three chats without streaming: chat.createAndPoll, submitToolOutputs({stream: false}), "
        "chat.retrieve, chat.messages.list",
    )


def probe_websocket_chat(ctx: ProbeContext) -> ProbeResult:
    """websockets.chat.create: the same three chats over the simulator's TLS listener."""
    _take(ctx)
    summary = "weather-bot, research-bot, weather-bot with a failing tool over websockets.chat"
    evidence = Evidence(id=Mode.WEBSOCKET_CHAT.value, probe=Mode.WEBSOCKET_CHAT.value, summary=summary)
    refused = handshake_refusal(ctx, "weather-bot")
    if refused is not None:
        evidence.exchanges = [refused]
        reason = "the server has no websocket chat: it answered the /v1/chat handshake with HTTP 404."
        verdicts: judges.Verdicts = dict.fromkeys(Capability, (Verdict.ABSENT, reason))
        verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts.")
        return _result(Mode.WEBSOCKET_CHAT, evidence, verdicts, [])
    if ctx.secure_url is None:
        verdicts = {c: (Verdict.UNKNOWN, "the report ran without a TLS listener: not probed.") for c in Capability}
        return _result(Mode.WEBSOCKET_CHAT, evidence, verdicts, [])
    runs = _three_chats(ctx, "websocket-chat", ws_base_url="wss://" + ctx.secure_url.removeprefix("https://"))
    hangs = _driver(ctx).settle()  # the chats' connections closing in the background, if the SDK leaves them
    evidence.exchanges = _take(ctx)  # each chat's socket: the frames both ways, as the simulator carried them
    single, chain, failing = runs
    evidence.sdk_facts = _facts(_driver(ctx), single.observation, ("websockets.",))
    if single.observation.fields.get(TEXT_WEBSOCKET_CHAT) is False:
        reason = (
            "this release's websocket chat starts a chat only with audio, which the simulator does not model "
            "(coverage ceiling): not shown either way."
        )
        verdicts = {capability: (Verdict.UNKNOWN, reason) for capability in Capability}
        verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts.")
        return _result(Mode.WEBSOCKET_CHAT, evidence, verdicts, [])
    if not judges.has_method(single.observation, "websockets.chat.create"):
        return _result(Mode.WEBSOCKET_CHAT, evidence, judges.absent_sdk_method("websockets.chat.create", _sdk(ctx)), [])
    evidence.sdk_events = [
        *single.observation.event_names(),
        *chain.observation.event_names(),
        "runs: " + " | ".join(run.summary() for run in runs),
    ]
    evidence.error = single.error or chain.error or failing.error
    streams = []
    for run in runs:
        names = run.observation.event_names()
        transitions, violation = GRAMMARS["websocket chat"].check(names, whole=run.error is None)
        streams.append(
            StreamCheck(grammar="websocket chat", events=names, transitions=transitions, violation=violation)
        )
    verdicts = judges.judge_chat(single, chain, failing, "over the websocket", True, "the websocket's submit")
    if hangs:  # the chats themselves ran: they are judged, and the hang is kept as a finding
        evidence.error = evidence.error or hangs[0]
        verdict, reason = verdicts[Capability.LOCAL_CODE]
        verdicts[Capability.LOCAL_CODE] = (verdict, f"{reason} But the SDK's close() hangs: {hangs[0]}")
    if single.status == "completed" and single.rounds:
        verdicts[Capability.SUBMIT_METHOD] = (
            Verdict.SUPPORTED,
            "conversation.chat.submit_tool_outputs went on the same socket and the chat completed.",
        )
    return _result(Mode.WEBSOCKET_CHAT, evidence, verdicts, streams)


WORKFLOW_SIMULATED = (
    "the tool-call-shaped events (a requires_action-like event, Interrupt types 1 and 6 with a tool call in "
    "interrupt_data.data) are injected by the simulator; no Coze server is known to send them on a workflow stream"
)


def probe_workflow_run(ctx: ProbeContext) -> ProbeResult:
    _take(ctx)
    observation = _flow(ctx, "workflow-run", workflow_id=ctx.scenario_ids["question-workflow"])
    evidence = Evidence(
        id="workflow-run",
        probe="workflow-run",
        summary="workflows.runs.create on a workflow with a question node",
        exchanges=_take(ctx),
        sdk_events=[f"{call.method}: {call.returned}" for call in observation.calls],
        sdk_facts=_facts(_driver(ctx), observation, ("workflows.runs.",)),
        error=judges.first_error(observation),
        simulated="6039 for a synchronous run that reaches an interrupt follows CONTRACT.md.",
    )
    result = _result(Mode.WORKFLOW_RUN, evidence, judges.judge_workflow_run(observation), [])
    result.evidence.append(_run_history(ctx))
    return result


RUN_HISTORY_EVIDENCE = "workflow-run-history"
"""The evidence id of an async run read back; `coze-harness compat` lists a release that failed to as a finding."""


def _run_history(ctx: ProbeContext) -> Evidence:
    """An async run of the joke workflow read back from its run history: no cell shows whether a release can
    read the history the platform sends, so the evidence (and the compat report's findings) do."""
    observation = _flow(ctx, "workflow-history", workflow_id=ctx.scenario_ids["joke-workflow"])
    outcomes, error = judges.read_back(observation)
    return Evidence(
        id=RUN_HISTORY_EVIDENCE,
        probe="workflow-run",
        summary="an async run of joke-workflow read back from its run history (workflows.runs.history)",
        exchanges=_take(ctx),
        sdk_events=outcomes,
        error=error,
        simulated="the run history's shape follows the spec, workflow_history.md and a recorded history "
        '(coze-py tests/test_workflow_run_history.py): error_code is a string, "" on success',
    )


def probe_workflow_stream(ctx: ProbeContext) -> ProbeResult:
    _take(ctx)
    names = ("tool-event-workflow", "local-plugin-interrupt-workflow", "workflow-local-plugin-interrupt-workflow")
    streams = {name: _flow(ctx, "workflow-stream", workflow_id=ctx.scenario_ids[name]) for name in names}
    exchanges = _take(ctx)
    verdicts, outcomes = judges.judge_workflow_stream(streams)
    first = streams[names[0]]
    evidence = Evidence(
        id="workflow-stream",
        probe="workflow-stream",
        summary="three workflow streams carrying tool-call-shaped events",
        exchanges=exchanges,
        sdk_events=outcomes,
        sdk_facts=_facts(_driver(ctx), first, ("workflows.",)),
        simulated=WORKFLOW_SIMULATED,
    )
    # The requires_action-shaped stream breaks the workflow grammar on purpose; the others are checked.
    tool_event = ctx.scenario_ids["tool-event-workflow"]
    checked = check_streams([e for e in exchanges if tool_event not in e.request_body])
    return _result(Mode.WORKFLOW_STREAM, evidence, verdicts, checked)


def probe_workflow_resume(ctx: ProbeContext) -> ProbeResult:
    _take(ctx)
    observation = _flow(
        ctx, "workflow-resume", workflow_id=ctx.scenario_ids["question-workflow"], resume_data=[RESUME_ANSWER]
    )
    exchanges = _take(ctx)
    resumed = [call.returned for call in observation.calls if call.method.endswith("resume")]
    evidence = Evidence(
        id="workflow-resume",
        probe="workflow-resume",
        summary="question-workflow: stream, Interrupt (type 2), resume with an answer",
        exchanges=exchanges,
        sdk_events=[*observation.event_names(), f"-- resume returned: {resumed} --"],
        sdk_facts=_facts(_driver(ctx), observation, ("workflows.runs.",)),
        error=judges.first_error(observation),
        simulated="the question node's interrupt follows CONTRACT.md (type 2, event_id EXEC/EVENT).",
    )
    verdicts = judges.judge_workflow_resume(observation, RESUME_ANSWER)
    return _result(Mode.WORKFLOW_RESUME, evidence, verdicts, check_streams(exchanges))


CHATFLOW_SOURCES = (
    "cloud chatflow behaviour modelled from reference/coze-openapi/api-markdown/workflow_chat.md (question and "
    "input nodes pause with conversation.chat.requires_action, the next /v1/workflows/chat call continues; "
    '"对话流中不支持提交端插件结果": no local-plugin results in a chatflow) and coze-dev/coze-py#303 (a cloud '
    "chatflow's end-side plugin gave requires_action, and submit_tool_outputs then an error event)"
)


def probe_chatflow(ctx: ProbeContext) -> ProbeResult:
    _take(ctx)
    echo = _flow(ctx, "chatflow", workflow_id=ctx.scenario_ids["echo-chatflow"], message="hello")
    facts = _facts(_driver(ctx), echo, ("workflows.chat.", "chat.submitToolOutputs"))
    if not judges.has_method(echo, "workflows.chat.stream"):
        evidence = Evidence(id="chatflow", probe="chatflow", summary="no chatflow client in this SDK", sdk_facts=facts)
        verdicts = judges.absent_sdk_method("workflows.chat.stream", _sdk(ctx), pauses=True)
        return _result(Mode.CHATFLOW, evidence, verdicts, [])
    local_id = ctx.scenario_ids["local-plugin-chatflow"]
    local = _flow(ctx, "chatflow", lambda _call: CHATFLOW_TOOL_OUTPUT, workflow_id=local_id, message="Paris")
    question = _flow(
        ctx,
        "chatflow",
        workflow_id=ctx.scenario_ids["question-chatflow"],
        message="weather please",
        resume_data=["Paris"],
    )
    exchanges = _take(ctx)
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
        sdk_facts=facts,
        error=None if ran else judges.first_error(echo),
        simulated=CHATFLOW_SOURCES,
    )
    return _result(Mode.CHATFLOW, evidence, verdicts, check_streams(exchanges))


def probe_workflow_bridge(ctx: ProbeContext) -> ProbeResult:
    if ctx.bridge_url is None:
        raise ValueError("the workflow-bridge probe needs a running bridge (ProbeContext.bridge_url)")
    _take(ctx)
    single = ctx.scenario_ids["http-bridge-workflow"]
    one = _flow(
        ctx,
        "workflow-bridge",
        workflow_id=single,
        parameters={"url": f"{ctx.bridge_url}/tools/get_weather", "arguments": {"city": "Paris"}},
    )
    chain = _flow(
        ctx,
        "workflow-bridge",
        workflow_id=ctx.scenario_ids["bridge-chain-workflow"],
        parameters={"bridge": ctx.bridge_url, "query": "coze"},
    )
    failed = _flow(
        ctx,
        "workflow-bridge",
        workflow_id=single,
        parameters={"url": f"{ctx.bridge_url}/tools/broken_clock", "arguments": {"timezone": "UTC"}},
    )
    exchanges = _take(ctx)
    expected_chain = [demo_tools.search_files("coze"), demo_tools.read_file(demo_tools.search_files("coze"))]
    verdicts = judges.judge_bridge(
        one, chain, failed, demo_tools.get_weather("Paris"), expected_chain, demo_tools.BROKEN_CLOCK_ERROR
    )
    evidence = Evidence(
        id="workflow-bridge",
        probe="workflow-bridge",
        summary="workflows whose http nodes call local tools through the HTTP bridge",
        exchanges=exchanges,
        sdk_events=[
            judges.dumps(
                {
                    "single": judges.workflow_text(one),
                    "chain": judges.workflow_text(chain),
                    "failing": judges.workflow_text(failed),
                }
            )
        ],
        error=judges.first_error(one) or judges.first_error(chain) or judges.first_error(failed),
        simulated="the http node is the simulator's; it makes a real HTTP request to the bridge on loopback.",
    )
    return _result(Mode.WORKFLOW_BRIDGE, evidence, verdicts, check_streams(exchanges))


def probe_framing(ctx: ProbeContext) -> ProbeResult:
    """Each spec-legal framing variant of the echo bot's chat stream and the joke workflow's stream, read by the
    SDK, against the canonical framing; on a simulator of its own, recorded on its side."""
    framings, catalogue, ids = framing_catalogue()
    by_name = dict(framings)
    tap = RecordingApp(create_app(catalogue, SimConfig(tokens=[TokenGrant(token=ctx.token)])))
    results: list[FramingResult] = []
    with running(tap) as sim:  # type: ignore[arg-type]  # an ASGI app like the simulator's own
        local = ProbeContext(base_url=sim.base_url, token=ctx.token, driver=ctx.driver, tap=tap)

        def read(stream: str, name: str) -> tuple[Observation, str]:
            linger = by_name[name].linger_seconds
            seconds = framing_limit(linger)
            bot, workflow = ids[name]
            if stream == "chat":
                observation = _flow(local, "chat-stream", bot_id=bot, message="framing", timeout_seconds=seconds)
            else:
                observation = _flow(
                    local,
                    "workflow-stream",
                    workflow_id=workflow,
                    parameters={"topic": "framing"},
                    timeout_seconds=seconds,
                )
            return observation, _sample(_take(local), gave_up=bool(observation.errors or observation.timed_out))

        for stream in STREAMS:
            baseline, sample = read(stream, "canonical")
            results.append(
                FramingResult(
                    variant="canonical",
                    stream=stream,
                    description="the framing CONTRACT.md describes (the control)",
                    outcome="fails" if baseline.errors or baseline.timed_out else "survives",
                    error=judges.first_error(baseline),
                    events=baseline.event_names(),
                    detail=f"{len(baseline.events)} events",
                    sample=sample,
                )
            )
            for name, variant in VARIANTS.items():
                if stream not in variant.kinds:
                    continue
                observation, sample = read(stream, name)
                outcome, detail = judges.judge_framing(observation, baseline, variant.framing.linger_seconds)
                results.append(
                    FramingResult(
                        variant=name,
                        stream=stream,
                        description=variant.description,
                        outcome=outcome,
                        error=judges.first_error(observation),
                        events=observation.event_names(),
                        detail=detail,
                        sample=sample,
                    )
                )
    return ProbeResult(framing=results)


def _sample(exchanges: list[Exchange], gave_up: bool) -> str:
    """`sample_of` the stream as sent. A stream the SDK gave up on (it raised, or ran out of time) is cut after
    its first event: how much more the server wrote before it saw the connection close depends on timing."""
    streams = [e for e in exchanges if "event-stream" in e.response_headers.get("content-type", "")]
    if not streams or not gave_up:
        return sample_of(exchanges)
    body = streams[-1].response_body
    ends = [found + len(mark) for mark in ("\r\n\r\n", "\n\n", "\r\r") if (found := body.find(mark)) >= 0]
    first = body[: min(ends)] if ends else body
    return sample_of([streams[-1].model_copy(update={"response_body": first})])


DRIVEN_PROBES: dict[str, Probe] = {
    "chat-stream": probe_chat_stream,
    "chat-poll": probe_chat_poll,
    "websocket-chat": probe_websocket_chat,
    "workflow-run": probe_workflow_run,
    "workflow-stream": probe_workflow_stream,
    "workflow-resume": probe_workflow_resume,
    "chatflow": probe_chatflow,
    "workflow-bridge": probe_workflow_bridge,
    "framing": probe_framing,
}

__all__ = ["DRIVEN_PROBES"]
