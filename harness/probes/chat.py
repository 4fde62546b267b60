"""Bot chat, streamed and polled: the three chats with local code answering tool calls."""

from __future__ import annotations

from .. import judges
from ..drivers import FlowName, Observation
from ..matrix import DEFAULT_PLATFORM, Capability, Evidence, Mode, Verdict
from ._base import ProbeContext, ProbeResult, check_streams
from ._flows import FLOW_SECONDS, POLL_SECONDS, REPEATS_NOTE, driver_of, facts, result_of, run_flow, take, three_chats


def _chat_probe(ctx: ProbeContext, mode: Mode, flow: FlowName, how: str, summary: str) -> ProbeResult:
    take(ctx)
    seconds = POLL_SECONDS if flow == "chat-poll" else FLOW_SECONDS
    runs = three_chats(ctx, flow, timeout_seconds=seconds)
    single, chain, failing = runs
    exchanges = take(ctx)
    sdk = driver_of(ctx).sdk
    submit: Observation | None = None
    lacking = judges.lacks_tool_path(exchanges, ctx.platform == DEFAULT_PLATFORM)
    if lacking:
        ids = judges.chat_ids_on_wire(exchanges)
        if ids is not None and judges.has_method(single.observation, "chat.submitToolOutputs"):
            submit = run_flow(ctx, "chat-submit", conversation_id=ids[0], chat_id=ids[1])
            exchanges += take(ctx)
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
        sdk_facts=facts(driver_of(ctx), single.observation, ("chat.",)),
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
    return result_of(mode, evidence, verdicts, check_streams(exchanges))


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
