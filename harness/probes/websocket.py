"""Probe of websocket chat: the local-plugin loop over `coze.websockets.chat` with the real SDK.

The SDK only opens `wss://` (it derives the socket URL from an `https://` base URL), so this probe
talks to the simulator's TLS listener and trusts its throwaway authority for the run. It drives the
same three chats as the HTTP chat probes, through `WebsocketLocalPluginRunner`, and judges them with
the same rules. The frames are taken from cozepy's own debug log of what it received, when the
release logs them; the verdicts never depend on that log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from simulators.coze import DEFAULT_PLATFORM

from .. import sdk
from ..judges import cells_for
from ..local_plugin import LocalPluginError, LocalPluginResult
from ..local_plugin_ws import CLOSE_TIMEOUT, CloseTimeout, WebsocketLocalPluginRunner
from ..matrix import Capability, Evidence, Mode, SdkFact, Verdict
from ..recorder import Exchange
from ..streams import GRAMMARS
from ..tools import ToolRegistry
from ..trust import trusting
from . import demo_tools
from ._base import ProbeContext, ProbeResult, StreamCheck, describe_error, fact
from .chat import _Run, _verdicts
from .surface import public_methods

_CHAT_TIMEOUT = 20.0
_MODE = Mode.WEBSOCKET_CHAT


class _FrameLog(logging.Handler):
    """Collects the raw messages cozepy logs as received ('[path] receive event, type=..., event=RAW')."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.frames: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "receive event" in str(record.msg) and record.args and isinstance(record.args, tuple):
            raw = record.args[-1]
            self.frames.append(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))


@contextmanager
def _frames() -> Iterator[_FrameLog]:
    """cozepy's debug log, captured and kept off the terminal for the length of the block."""
    logger = logging.getLogger("cozepy")
    capture = _FrameLog()
    saved_level = logger.level
    saved = [(handler, handler.level) for handler in logger.handlers]
    for handler, _ in saved:
        handler.setLevel(max(handler.level, logging.WARNING))
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(saved_level)
        for handler, level in saved:
            handler.setLevel(level)


def _facts() -> list[SdkFact]:
    import cozepy

    facts = [fact("websocket chat gap", sdk.websocket_chat_gap() or "none: the loop can be driven")]
    events = sorted(sdk.websocket_event_types())
    facts.append(fact("cozepy.websockets WebsocketsEventType", events or None))
    try:
        import cozepy.websockets.chat as chat
    except ImportError:
        return facts
    client = getattr(chat, "WebsocketsChatClient", None)
    facts.append(fact("WebsocketsChatClient methods", public_methods(client) if client is not None else None))
    coze = cozepy.Coze(auth=cozepy.TokenAuth("surface"), base_url="https://127.0.0.1:9")
    facts.append(fact("coze.websockets", type(getattr(coze, "websockets", None)).__name__))
    return facts


def _as_run(result: LocalPluginResult | None, events: list[str], error: str | None) -> _Run:
    run = _Run()
    run.events = list(events)
    if result is not None:
        rounds: dict[int, list[str]] = {}
        for call in result.tool_calls:
            rounds.setdefault(call.round, []).append(call.name)
        run.rounds = [rounds[number] for number in sorted(rounds)]
        run.outputs = [call.output for call in result.tool_calls]
        run.answer = result.answer
        run.status = result.status
    run.error = error
    return run


def _drive(ctx: ProbeContext, coze: Any, bot: str, text: str, registry: ToolRegistry) -> Callable[[float], _Run]:
    """Run one chat; the returned function waits for its connection's close (until a shared monotonic
    deadline) and gives the run.

    The SDK's close() takes up to half a second (its threads poll), so it goes on in the background
    while the next chat runs (`close_later`); a hang is found and reported exactly as before, and the
    chats' closes share one wait.
    """
    events: list[str] = []
    runner = WebsocketLocalPluginRunner(
        coze, registry, chat_timeout=_CHAT_TIMEOUT, observer=lambda name, _: events.append(name), close_later=True
    )

    def closed(run: _Run) -> Callable[[float], _Run]:
        def settle(deadline: float) -> _Run:
            stuck = runner.settle(deadline)
            if stuck:  # the chat itself ran: judge it, and keep the hang as a finding
                run.close_error = describe_error(stuck[0])
            elif run.error is None:
                run.close_error = "; ".join(runner.close_issues) or None
            return run

        return settle

    try:
        result = runner.run(ctx.scenario_ids[bot], text)
    except CloseTimeout as exc:  # the chat itself ran: judge it, and keep the hang as a finding
        run = _as_run(exc.result, events, None)
        run.close_error = describe_error(exc)
        return lambda _deadline: run
    except LocalPluginError as exc:
        return closed(_as_run(exc.result, events, describe_error(exc)))
    except Exception as exc:  # the SDK itself failed: a finding for the evidence, not a crash
        return closed(_as_run(None, events, describe_error(exc)))
    return closed(_as_run(result, events, None))


def _absent(reason: str, evidence: Evidence) -> ProbeResult:
    verdicts = {capability: (Verdict.ABSENT, reason) for capability in Capability}
    verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts.")
    return ProbeResult(cells=cells_for(_MODE, evidence.id, verdicts), evidence=[evidence])


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
    """websockets.chat: message.create, requires_action, submit_tool_outputs on the socket, completed."""
    evidence = Evidence(
        id=_MODE.value,
        probe=_MODE.value,
        summary="weather-bot (two tools, one round), research-bot (two rounds), weather-bot with a failing tool, "
        "over coze.websockets.chat",
        sdk_facts=_facts(),
        simulated="the bots are simulator scenarios; the websocket envelope follows cozepy.websockets and the "
        "Coze streaming-chat event list (the simulator models text, not audio).",
    )
    refused = handshake_refusal(ctx, "weather-bot")
    if refused is not None:
        evidence.exchanges = [refused]
        return _absent("the server has no websocket chat: it answered the /v1/chat handshake with HTTP 404.", evidence)
    gap = sdk.websocket_chat_gap()
    if gap is not None and sdk.websocket_chat_is_audio_only():
        evidence.error = gap
        reason = (
            "this release's websocket chat has requires_action and submit_tool_outputs but starts a chat only "
            "with audio, which the simulator does not model (coverage ceiling): not shown either way."
        )
        verdicts = {capability: (Verdict.UNKNOWN, reason) for capability in Capability}
        verdicts[Capability.INTERRUPT_RESUME] = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts.")
        return ProbeResult(cells=cells_for(_MODE, evidence.id, verdicts), evidence=[evidence])
    if gap is not None:
        evidence.error = gap
        return _absent(f"{gap}.", evidence)
    if ctx.secure_url is None or ctx.ca_file is None:
        verdicts = {c: (Verdict.UNKNOWN, "the report ran without a TLS listener: not probed.") for c in Capability}
        return ProbeResult(cells=cells_for(_MODE, evidence.id, verdicts), evidence=[evidence])
    import cozepy

    coze = cozepy.Coze(auth=cozepy.TokenAuth(ctx.token), base_url=ctx.secure_url)
    with trusting(ctx.ca_file), _frames() as log:
        drives = [
            _drive(ctx, coze, "weather-bot", "Paris", demo_tools.registry),
            _drive(ctx, coze, "research-bot", "coze", demo_tools.registry),
            _drive(ctx, coze, "weather-bot", "Oslo", demo_tools.failing),
        ]
        deadline = time.monotonic() + CLOSE_TIMEOUT
        single, chain, failing = (settle(deadline) for settle in drives)
    url = ctx.secure_url.replace("https://", "wss://") + "/v1/chat?bot_id=" + ctx.scenario_ids["weather-bot"]
    evidence.exchanges = [
        Exchange(
            method="WEBSOCKET",
            url=url,
            status=101,
            response_body="\n".join(log.frames) or "(this cozepy release does not log the frames it receives)",
            complete=True,
        )
    ]
    evidence.sdk_events = [*single.events, *chain.events]
    evidence.error = single.error or chain.error or failing.error
    streams = []
    for run in (single, chain, failing):
        transitions, violation = GRAMMARS["websocket chat"].check(run.events, whole=run.error is None)
        streams.append(
            StreamCheck(grammar="websocket chat", events=run.events, transitions=transitions, violation=violation)
        )
    verdicts = _verdicts(single, chain, failing, True, "over the websocket")
    hang = next((run.close_error for run in (single, chain, failing) if run.close_error), None)
    if hang:
        evidence.error = evidence.error or hang
        verdict, reason = verdicts[Capability.LOCAL_CODE]
        verdicts[Capability.LOCAL_CODE] = (verdict, f"{reason} But the SDK's close() hangs: {hang}")
    if single.saw_tool_event:
        verdicts[Capability.TOOL_CALL_EVENT] = (
            Verdict.SUPPORTED,
            "the SDK dispatched conversation.chat.requires_action to the handler with its Chat.",
        )
    if single.completed and single.rounds:
        verdicts[Capability.SUBMIT_METHOD] = (
            Verdict.SUPPORTED,
            "conversation_chat_submit_tool_outputs sent the outputs on the socket and the chat completed.",
        )
    return ProbeResult(cells=cells_for(_MODE, evidence.id, verdicts), evidence=[evidence], streams=streams)
