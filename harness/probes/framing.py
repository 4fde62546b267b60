"""Framing robustness: each spec-legal SSE framing variant, read by the SDK.

The real server may start sending what the SSE specification allows and the canonical framing does
not use: comment keep-alives, `retry:` lines, CRLF or CR line ends, `id:` lines on chat events, a
space after the colon (or none), `data:` over several lines, events of unknown names, `[DONE]`
spelled differently, a response left open after its last event. For every variant this probe has
the SDK read the echo bot's chat stream and the joke workflow's stream in that framing, from the
simulator the run serves them on (`ProbeContext.framing`: a copy of each with a `framing` block, on a
simulator of its own), and compares what the SDK parsed with what it parsed from the canonical
framing. These are findings about the SDK, not verdicts about the platform: no Coze server is known
to send these variants today.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from .. import judges
from ..drivers import Observation
from ..matrix import FramingResult
from ..recorder import Exchange
from ._base import FramingVariant, ProbeContext, ProbeResult
from ._flows import FLOW_SECONDS, run_flow, take

_SAMPLE_CHARS = 320

StreamKind = Literal["chat", "workflow"]
STREAMS: tuple[StreamKind, ...] = ("chat", "workflow")


def sample_of(exchanges: list[Exchange]) -> str:
    """The start of the last stream received (of the last response, if none was a stream), CR shown as \\r."""
    streams = [e for e in exchanges if "event-stream" in e.response_headers.get("content-type", "")]
    body = streams[-1].response_body if streams else (exchanges[-1].response_body if exchanges else "")
    return body[:_SAMPLE_CHARS].replace("\r", "\\r")


class _LateWrites(logging.Filter):
    """asyncio's warning when the server writes to a client that has already given up on a stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "socket.send() raised exception" not in record.getMessage()


@contextmanager
def quiet_late_writes() -> Iterator[None]:
    """An SDK that fails on the first event closes the connection while the rest is still going out:
    expected here, so the server's warnings about it are not printed over the report's progress."""
    logger, late = logging.getLogger("asyncio"), _LateWrites()
    logger.addFilter(late)
    try:
        yield
    finally:
        logger.removeFilter(late)


LINGER_SECONDS = 0.5
"""The limit of a flow reading a stream left open after its last event (`open-after-done`, open 3 s): an SDK
that stops at `done` returns within milliseconds of the last event, one that reads to the close runs out of
time here. Every event before `done` leaves the server at once, so half a second without a byte happens only
to a client waiting for the close, two and a half seconds before it comes."""


def framing_limit(linger_seconds: float | None) -> float:
    """The time limit of a flow reading one framing variant: `LINGER_SECONDS` for a stream left open after its
    last event (never more than a sixth of the time it is left open), else `FLOW_SECONDS`."""
    return FLOW_SECONDS if linger_seconds is None else min(LINGER_SECONDS, linger_seconds / 6)


def probe_framing(ctx: ProbeContext) -> ProbeResult:
    """Each spec-legal framing variant of the echo bot's chat stream and the joke workflow's stream, read by the
    SDK, against the canonical framing, from the simulator the run serves them on (`ProbeContext.framing`)."""
    target = ctx.framing
    if target is None or not target.variants:
        raise ValueError("the framing probe needs ProbeContext.framing: the simulator the run serves the framings on")
    local = ProbeContext(base_url=target.base_url, token=ctx.token, driver=ctx.driver, tap=target.tap)
    canonical, *variants = target.variants
    results: list[FramingResult] = []
    for stream in STREAMS:
        baseline, sample = _read(local, canonical, stream)
        results.append(
            FramingResult(
                variant=canonical.name,
                stream=stream,
                description=canonical.description,
                outcome="fails" if baseline.errors or baseline.timed_out else "survives",
                error=judges.first_error(baseline),
                events=baseline.event_names(),
                detail=f"{len(baseline.events)} events",
                sample=sample,
            )
        )
        for variant in variants:
            if stream not in variant.kinds:
                continue
            observation, sample = _read(local, variant, stream)
            outcome, detail = judges.judge_framing(observation, baseline, variant.linger_seconds)
            results.append(
                FramingResult(
                    variant=variant.name,
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


def _read(local: ProbeContext, variant: FramingVariant, stream: StreamKind) -> tuple[Observation, str]:
    """The SDK reads the chat or the workflow stream in `variant`'s framing: what it made of it, and the sample."""
    seconds = framing_limit(variant.linger_seconds)
    if stream == "chat":
        observation = run_flow(local, "chat-stream", bot_id=variant.bot_id, message="framing", timeout_seconds=seconds)
    else:
        observation = run_flow(
            local,
            "workflow-stream",
            workflow_id=variant.workflow_id,
            parameters={"topic": "framing"},
            timeout_seconds=seconds,
        )
    return observation, _sample(take(local), gave_up=bool(observation.errors or observation.timed_out))


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
