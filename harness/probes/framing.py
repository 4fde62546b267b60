"""Framing robustness: each spec-legal SSE framing variant, read by the installed cozepy.

The real server may start sending what the SSE specification allows and the canonical framing does
not use: comment keep-alives, `retry:` lines, CRLF or CR line ends, `id:` lines on chat events, a
space after the colon (or none), `data:` over several lines, events of unknown names, `[DONE]`
spelled differently, a response left open after its last event. For every variant this probe
serves the echo bot's chat stream and the joke workflow's stream in that framing (scenario data: a
copy of each with a `framing` block, on a simulator of its own) and compares what the SDK parsed
with what it parsed from the canonical framing. These are findings about the SDK, not verdicts
about the platform: no Coze server is known to send these variants today.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal

import httpx

from simulators.coze import CANONICAL_FRAMING as CANONICAL
from simulators.coze import FRAMING_VARIANTS as VARIANTS
from simulators.coze import Catalogue, Framing, SimConfig, TokenGrant, create_app, running

from ..clients import CLIENT_TIMEOUT
from ..matrix import FramingOutcome, FramingResult
from ..recorder import Exchange, RecordingTransport
from ..sdk import enum_value, event_name
from ._base import ProbeContext, ProbeResult, describe_error

ECHO_BOT = "7390000000000000001"
JOKE_WORKFLOW = "7440000000000000001"
_BOT_BASE = 7398000000000000000
_WORKFLOW_BASE = 7448000000000000000
_SAMPLE_CHARS = 320
_UNKNOWN = {"unknown", "coze.unknown"}

StreamKind = Literal["chat", "workflow"]
STREAMS: tuple[StreamKind, ...] = ("chat", "workflow")


def _catalogue(variants: list[tuple[str, Framing]]) -> tuple[Catalogue, dict[str, tuple[str, str]]]:
    """The echo bot and the joke workflow once per framing, under fresh ids: name -> (bot id, workflow id)."""
    builtin = Catalogue.builtin()
    bot, workflow = builtin.bots[ECHO_BOT], builtin.workflows[JOKE_WORKFLOW]
    bots, workflows, ids = {}, {}, {}
    for number, (name, framing) in enumerate(variants):
        bot_id, workflow_id = str(_BOT_BASE + number), str(_WORKFLOW_BASE + number)
        bots[bot_id] = bot.model_copy(update={"id": bot_id, "name": f"echo-bot-{name}", "framing": framing})
        workflows[workflow_id] = workflow.model_copy(
            update={"id": workflow_id, "name": f"joke-workflow-{name}", "framing": framing}
        )
        ids[name] = (bot_id, workflow_id)
    return Catalogue(bots=bots, workflows=workflows), ids


class _Read:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None
        self.raw = ""


def _chat(coze: Any, bot_id: str) -> _Read:
    import cozepy

    read = _Read()
    message = cozepy.Message(role="user", type="question", content="framing", content_type="text")
    try:
        for event in coze.chat.stream(bot_id=bot_id, user_id="framing-probe", additional_messages=[message]):
            name = event_name(event)
            read.events.append(name)
            payload = getattr(event, "message", None)
            if name == "conversation.message.delta" and enum_value(getattr(payload, "type", "")) == "answer":
                read.text.append(str(getattr(payload, "content", "") or ""))
    except Exception as exc:
        read.error = describe_error(exc)
    return read


def _workflow(coze: Any, workflow_id: str) -> _Read:
    read = _Read()
    try:
        for event in coze.workflows.runs.stream(workflow_id=workflow_id, parameters={"topic": "framing"}):
            name = event_name(event)
            read.events.append(name)
            message = getattr(event, "message", None)
            if message is not None:
                read.text.append(str(getattr(message, "content", "") or ""))
    except Exception as exc:
        read.error = describe_error(exc)
    return read


LINGER_READ_TIMEOUT = 0.5
"""The read timeout for a stream left open after its last event (`open-after-done`, open 3 s): a client that
stops at `done` returns within milliseconds of the last event, one that reads to the close raises here after
0.5 s of silence, two and a half seconds before the close would end its wait. Every event before `done`
leaves the server at once, so half a second without a byte happens only to a client waiting for the close."""


def _timeout(framing: Framing) -> httpx.Timeout:
    """The client's timeout for a stream in `framing`: a stream left open after its last event is read with a
    read timeout shorter than the wait (at most a sixth of it), so a client that reads to EOF is seen to block
    (and the probe does not wait for the close; cozepy's own default read timeout is 600 s)."""
    if framing.linger_seconds is None:
        return CLIENT_TIMEOUT
    base = CLIENT_TIMEOUT
    read = min(LINGER_READ_TIMEOUT, framing.linger_seconds / 6)
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def _read(ctx: ProbeContext, kind: StreamKind, scenario_id: str, framing: Framing) -> _Read:
    coze, transport = ctx.coze(_timeout(framing))
    try:
        read = _chat(coze, scenario_id) if kind == "chat" else _workflow(coze, scenario_id)
        read.raw = _raw(transport)
    finally:
        transport.close()  # a response the SDK left open (it stopped at `done`) is ended, not left to linger
    return read


def _raw(transport: RecordingTransport) -> str:
    return sample_of(transport.exchanges)


def sample_of(exchanges: list[Exchange]) -> str:
    """The start of the last stream received (of the last response, if none was a stream), CR shown as \\r."""
    streams = [e for e in exchanges if "event-stream" in e.response_headers.get("content-type", "")]
    body = streams[-1].response_body if streams else (exchanges[-1].response_body if exchanges else "")
    return body[:_SAMPLE_CHARS].replace("\r", "\\r")


def framing_catalogue() -> tuple[list[tuple[str, Framing]], Catalogue, dict[str, tuple[str, str]]]:
    """Every framing (the canonical one first), and the catalogue serving the echo bot and the joke workflow
    in each: name -> (bot id, workflow id)."""
    framings = [("canonical", CANONICAL)] + [(name, variant.framing) for name, variant in VARIANTS.items()]
    catalogue, ids = _catalogue(framings)
    return framings, catalogue, ids


def _judge(read: _Read, baseline: _Read, framing: Framing) -> tuple[FramingOutcome, str]:
    if baseline.error is not None:
        return "not-run", f"the canonical stream itself failed with this SDK: {baseline.error}"
    if read.error is not None:
        if framing.linger_seconds is not None and "ReadTimeout" in read.error:
            waited = f"until its read timeout ({_timeout(framing).read:g} s here; cozepy defaults to 600 s)"
            if not read.events:
                return "fails", (
                    f"the SDK delivered no event: it reads the whole response before the first one, so it waited "
                    f"for the close {waited}"
                )
            return "fails", (
                f"the SDK kept reading after the last event {waited}: it ends a stream at the close, not at done"
            )
        return "fails", f"the SDK raised after {len(read.events)} event(s)"
    known = [name for name in read.events if name not in _UNKNOWN]
    unknown = len(read.events) - len(known)
    extra = f"; {unknown} event(s) delivered as unknown" if unknown else ""
    if known != baseline.events:
        return "misreads", f"events differ from the canonical stream's: {known} vs {baseline.events}{extra}"
    if read.text != baseline.text:
        return "misreads", f"same events but the text differs: {''.join(read.text)!r} vs {''.join(baseline.text)!r}"
    return "survives", f"the same {len(known)} events and text as the canonical framing{extra}"


class _LateWrites(logging.Filter):
    """asyncio's warning when the server writes to a client that has already given up on a stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "socket.send() raised exception" not in record.getMessage()


@contextmanager
def _quiet_late_writes() -> Iterator[None]:
    """An SDK that fails on the first event closes the connection while the rest is still going out:
    expected here, so the server's warnings about it are not printed over the report's progress."""
    logger, late = logging.getLogger("asyncio"), _LateWrites()
    logger.addFilter(late)
    try:
        yield
    finally:
        logger.removeFilter(late)


def probe_framing(ctx: ProbeContext) -> ProbeResult:
    _, catalogue, ids = framing_catalogue()
    results: list[FramingResult] = []
    config = SimConfig(tokens=[TokenGrant(token=ctx.token)])  # the token the probes send
    lingering = [name for name, variant in VARIANTS.items() if variant.framing.linger_seconds is not None]
    with (
        _quiet_late_writes(),
        running(create_app(catalogue, config)) as sim,
        running(create_app(catalogue, config)) as waiting,
        ThreadPoolExecutor(max_workers=1) as background,
    ):
        local = ProbeContext(base_url=sim.base_url, token=ctx.token)

        # A stream left open after its last event costs a read timeout with a release that reads to the close:
        # those are read first, one after another, by a thread of their own against a simulator of their own
        # (so neither simulator's ids depend on timing), while this thread reads the others in order.
        def read_lingering() -> dict[tuple[str, StreamKind], _Read]:
            side = ProbeContext(base_url=waiting.base_url, token=ctx.token)
            return {
                (name, stream): _read(side, stream, ids[name][0 if stream == "chat" else 1], VARIANTS[name].framing)
                for stream in STREAMS
                for name in lingering
                if stream in VARIANTS[name].kinds
            }

        pending = background.submit(read_lingering)
        for stream in STREAMS:
            baseline = _read(local, stream, ids["canonical"][0 if stream == "chat" else 1], CANONICAL)
            results.append(
                FramingResult(
                    variant="canonical",
                    stream=stream,
                    description="the framing CONTRACT.md describes (the control)",
                    outcome="fails" if baseline.error else "survives",
                    error=baseline.error,
                    events=baseline.events,
                    detail=f"{len(baseline.events)} events",
                    sample=baseline.raw,
                )
            )
            for name, variant in VARIANTS.items():
                if stream not in variant.kinds:
                    continue
                if name in lingering:
                    read = pending.result()[name, stream]
                else:
                    read = _read(local, stream, ids[name][0 if stream == "chat" else 1], variant.framing)
                outcome, detail = _judge(read, baseline, variant.framing)
                results.append(
                    FramingResult(
                        variant=name,
                        stream=stream,
                        description=variant.description,
                        outcome=outcome,
                        error=read.error,
                        events=read.events,
                        detail=detail,
                        sample=read.raw,
                    )
                )
    return ProbeResult(framing=results)
