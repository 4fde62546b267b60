"""Websocket chat: the three chats over `websockets.chat`, on the simulator's TLS listener."""

from __future__ import annotations

from .. import judges
from ..drivers import TEXT_WEBSOCKET_CHAT
from ..matrix import DEFAULT_PLATFORM, Capability, Evidence, Matrix, Mode, PlatformName, Verdict
from ..recorder import Exchange
from ..streams import GRAMMARS
from ._base import ProbeContext, ProbeResult, StreamCheck
from ._flows import driver_of, facts, result_of, sdk_of, take, three_chats


def handshake_refusal(ctx: ProbeContext, bot: str) -> Exchange | None:
    """The platform's answer to a plain websocket handshake when it refuses one with 404 (it has no
    websocket chat), whatever the SDK can do; None otherwise. No token is sent (a platform with the
    endpoint refuses with 401; one without has no route to authorize), so none can reach a log."""
    import ssl

    import websockets
    import websockets.sync.client

    if ctx.platform == DEFAULT_PLATFORM or ctx.secure_url is None or ctx.ca_file is None:
        return None  # cloud has websocket chat: no extra handshake (it would shift the seeded ids)
    url = ctx.secure_url.replace("https://", "wss://") + "/v1/chat?bot_id=" + ctx.scenario_ids[bot]
    context = ssl.create_default_context(cafile=str(ctx.ca_file))
    try:
        websockets.sync.client.connect(url, ssl=context, open_timeout=5).close()
    except websockets.InvalidStatus as refused:
        if refused.response.status_code != 404:
            return None
        body = (refused.response.body or b"").decode("utf-8", "replace")
        return Exchange(method="WEBSOCKET", url=url, status=404, response_body=body, complete=True)
    except (OSError, websockets.WebSocketException):  # not a refusal: the SDK's own run will say what it is
        return None
    return None


def probe_websocket_chat(ctx: ProbeContext) -> ProbeResult:
    """websockets.chat.create: the same three chats over the simulator's TLS listener."""
    take(ctx)
    summary = "weather-bot, research-bot, weather-bot with a failing tool over websockets.chat"
    evidence = Evidence(id=Mode.WEBSOCKET_CHAT.value, probe=Mode.WEBSOCKET_CHAT.value, summary=summary)
    refused = handshake_refusal(ctx, "weather-bot")
    if refused is not None:
        evidence.exchanges = [refused]
        reason = "the server has no websocket chat: it answered the /v1/chat handshake with HTTP 404."
        verdicts: judges.Verdicts = dict.fromkeys(Capability, (Verdict.ABSENT, reason))
        verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts.")
        return result_of(Mode.WEBSOCKET_CHAT, evidence, verdicts, [])
    if ctx.secure_url is None:
        verdicts = {c: (Verdict.UNKNOWN, "the report ran without a TLS listener: not probed.") for c in Capability}
        return result_of(Mode.WEBSOCKET_CHAT, evidence, verdicts, [])
    runs = three_chats(ctx, "websocket-chat", ws_base_url="wss://" + ctx.secure_url.removeprefix("https://"))
    # Each chat's socket: the frames both ways, as the simulator carried them. An SDK may still be closing them
    # (cozepy's close takes up to half a second): the probes go on meanwhile, `run_probes` waits for the closes
    # at the end (`Driver.settle`) and a close that hung is added here then (`note_close_hangs`).
    evidence.exchanges = take(ctx)
    single, chain, failing = runs
    evidence.sdk_facts = facts(driver_of(ctx), single.observation, ("websockets.",))
    if single.observation.fields.get(TEXT_WEBSOCKET_CHAT) is False:
        reason = (
            "this release's websocket chat starts a chat only with audio, which the simulator does not model "
            "(coverage ceiling): not shown either way."
        )
        verdicts = {capability: (Verdict.UNKNOWN, reason) for capability in Capability}
        verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts.")
        return result_of(Mode.WEBSOCKET_CHAT, evidence, verdicts, [])
    if not judges.has_method(single.observation, "websockets.chat.create"):
        return result_of(
            Mode.WEBSOCKET_CHAT, evidence, judges.absent_sdk_method("websockets.chat.create", sdk_of(ctx)), []
        )
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
    if single.status == "completed" and single.rounds:
        verdicts[Capability.SUBMIT_METHOD] = (
            Verdict.SUPPORTED,
            "conversation.chat.submit_tool_outputs went on the same socket and the chat completed.",
        )
    return result_of(Mode.WEBSOCKET_CHAT, evidence, verdicts, streams)


def note_close_hangs(matrix: Matrix, platform: PlatformName, hangs: list[str]) -> None:
    """The websocket chats' connections that would not close (`Driver.settle`, after the probes): the chats
    themselves ran and are judged as they ran; the hang is kept as a finding, in the evidence and in the
    local-code cell's reason."""
    cell = matrix.cell(Capability.LOCAL_CODE, Mode.WEBSOCKET_CHAT, platform)
    if not hangs or cell is None:
        return
    cell.reason = f"{cell.reason} But the SDK's close() hangs: {hangs[0]}"
    for ref in cell.evidence:
        evidence = matrix.evidence[ref]
        evidence.error = evidence.error or hangs[0]
