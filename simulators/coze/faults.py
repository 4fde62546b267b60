"""Deterministic, seeded faults, applied where a stream's frames go out.

A `Faults` block (in a scenario file, or `SimConfig.faults` for every stream) is data. Stream faults
are keyed to an event index (the n-th event of the stream as the scenario makes it, from 0) or a
byte count, and random latency is drawn from a generator seeded with the fault seed and the
stream's number, so the same requests to a fresh simulator fail the same way, byte for byte:

- `latency`: before the first byte and between events, fixed or drawn (uniform, exponential);
- `reset_after_events: N`: N events, then the connection is closed with the body unfinished;
- `stall: {after_events, seconds}`: N events, then nothing for `seconds`, then the same abrupt close;
- `truncate_final_frame: {keep_bytes}`: the last event cut to its first bytes, then a clean end;
- `malformed_json: {event}`: that event's `data:` is JSON with its last character missing;
- `error_event: {after_events, code, msg}`: N events (partial deltas), then a chat `error` event, or
  a workflow `Error` (the execution fails with that code), and the stream ends;
- `http_error` and `rate_limit`: the request is refused before any stream starts, with an envelope
  and an HTTP 5xx or 429 (code 4013), for the first `times` requests (all of them by default).

Websocket chat (`/v1/chat`) takes the same `Faults`, with no field of its own. Its "stream" is one chat
step: the events one `conversation.message.create` or `conversation.chat.submit_tool_outputs` makes,
counted from 0 (no `done` at the end); `chat.created`, `chat.updated`, `conversation.cleared`,
`conversation.chat.canceled` and the `error` answers to client mistakes are outside every step and are
never touched. Per step: `latency` (first_byte before the step's first event), `reset_after_events`
and `stall` (the server closes the connection without a websocket close frame, as a crashed server
does, so the client sees close code 1006, not a 1011 that only a live server could send; a stalled
server reads and answers nothing meanwhile, and stops waiting early if the client leaves),
`malformed_json` (that event's message text without its last
character) and `error_event` (an `error` event `{code, msg}` in place of event N; the rest of the
step is dropped and the socket stays open, as for every error event). `http_error` and
`rate_limit` refuse the handshake, with the same envelope and status as an HTTP response and the
same per-scenario count. `truncate_final_frame` does not apply: a websocket message is
length-prefixed and arrives whole or not at all (a broken message is `malformed_json`, a lost
connection `reset_after_events`). Framing variants are SSE-only.

Routes hand their frames to `StreamPlan.shape` (websocket chat its messages to `StreamPlan.messages`);
nothing else in a route knows about faults.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .envelope import Code, CozeError, dumps
from .framing import CANONICAL, Framer, Framing
from .sse import Frame

RATE_LIMIT_MSG = "the request rate exceeds the limit (QPS); slow down and retry later"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UniformDelay(_Model):
    """A delay drawn uniformly between two bounds, in seconds."""

    uniform: tuple[Annotated[float, Field(ge=0, le=600)], Annotated[float, Field(ge=0, le=600)]]

    @model_validator(mode="after")
    def _ordered(self) -> UniformDelay:
        if self.uniform[0] > self.uniform[1]:
            raise ValueError(f"uniform bounds must be [low, high], got {list(self.uniform)}")
        return self


class ExponentialDelay(_Model):
    """A delay drawn from an exponential distribution of mean `exponential` seconds, capped at `max`."""

    exponential: float = Field(gt=0, le=600)
    max: float = Field(60.0, gt=0, le=600)


Delay = Annotated[float, Field(ge=0, le=600)] | UniformDelay | ExponentialDelay


def draw(delay: Delay, rng: random.Random) -> float:
    if isinstance(delay, UniformDelay):
        return rng.uniform(*delay.uniform)
    if isinstance(delay, ExponentialDelay):
        return min(rng.expovariate(1.0 / delay.exponential), delay.max)
    return float(delay)


class Latency(_Model):
    first_byte: Delay = Field(0.0, description="before the first byte of the stream")
    between_events: Delay = Field(0.0, description="before every event after the first")


class Stall(_Model):
    after_events: int = Field(ge=0)
    seconds: float = Field(gt=0, le=600, description="longer than the client's read timeout, to trip it")


class Truncate(_Model):
    keep_bytes: int = Field(ge=0, description="bytes of the final frame sent (at most all but its last byte)")


class Malformed(_Model):
    event: int = Field(ge=0, description="index of the event whose data is broken")


class ErrorEvent(_Model):
    after_events: int = Field(ge=0)
    code: int = Field(int(Code.INTERNAL), gt=0)
    msg: str = "internal error: the stream failed midway (injected fault)"


class HttpError(_Model):
    status: int = Field(500, ge=500, le=599)
    code: int = Field(int(Code.INTERNAL), gt=0)
    msg: str = "internal server error (injected fault)"
    times: int | None = Field(None, ge=1, description="refuse only the first N requests (default: all)")


class RateLimit(_Model):
    msg: str = RATE_LIMIT_MSG
    times: int | None = Field(None, ge=1, description="refuse only the first N requests (default: all)")


class Faults(_Model):
    """Every fault is off unless set; a scenario's block replaces the simulator's global one."""

    seed: int | None = Field(None, description="seed for drawn latencies (default: the simulator's seed)")
    latency: Latency | None = None
    reset_after_events: int | None = Field(None, ge=0)
    stall: Stall | None = None
    truncate_final_frame: Truncate | None = None
    malformed_json: Malformed | None = None
    error_event: ErrorEvent | None = None
    http_error: HttpError | None = None
    rate_limit: RateLimit | None = None

    @property
    def shapes_streams(self) -> bool:
        return any(
            value is not None
            for value in (
                self.latency,
                self.reset_after_events,
                self.stall,
                self.truncate_final_frame,
                self.malformed_json,
                self.error_event,
            )
        )


class StreamAborted(Exception):
    """Raised out of a stream body to close the connection without finishing the response (a reset)."""


class AbortLogFilter(logging.Filter):
    """Keeps a deliberate reset out of the server's error log: it is the fault asked for, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StreamAborted))


_ABORT_FILTER = AbortLogFilter()


def quiet_deliberate_resets() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _ABORT_FILTER not in logger.filters:
        logger.addFilter(_ABORT_FILTER)


def _broken(data: str) -> str:
    """The data with its last character missing: `{"a":1` is not JSON, and always the same bytes."""
    return data[:-1] if len(data) > 1 else "{"


OnError = Callable[[int, str], None]
Idle = Callable[[float], Awaitable[None]]
"""How a stalled stream waits: `asyncio.sleep` on HTTP; websocket chat also stops when the client leaves."""
_T = TypeVar("_T")


class StreamPlan:
    """What one stream does differently: its faults, its framing and its drawn latencies."""

    def __init__(self, faults: Faults, framing: Framing, rng: random.Random, on_error: OnError | None) -> None:
        self.faults = faults
        self.framing = framing
        self.on_error = on_error
        self.delays: list[float] = []  # every latency drawn, in order: the same seed draws the same list
        self._rng = rng

    def _delay(self, delay: Delay) -> float:
        value = draw(delay, self._rng)
        self.delays.append(value)
        return value

    def describe(self) -> list[str]:
        notes = [f"{name}={value}" for name, value in self.faults.model_dump(exclude_none=True).items()]
        if not self.framing.canonical:
            notes.append(f"framing={self.framing.model_dump(exclude_defaults=True)}")
        return notes

    async def _first(self) -> None:
        """The latency before the first byte (or the first message), drawn whether or not it is zero."""
        if self.faults.latency is not None:
            first = self._delay(self.faults.latency.first_byte)
            if first:
                await asyncio.sleep(first)

    async def _before(self, index: int, idle: Idle) -> bool:
        """Latency, a stall or a reset before event `index`; True when the error event goes out in its place."""
        faults = self.faults
        if index and faults.latency is not None:
            pause = self._delay(faults.latency.between_events)
            if pause:
                await asyncio.sleep(pause)
        if faults.stall is not None and index == faults.stall.after_events:
            await idle(faults.stall.seconds)
            raise StreamAborted(f"stalled {faults.stall.seconds:g} s after {index} events, then reset")
        if faults.reset_after_events is not None and index == faults.reset_after_events:
            raise StreamAborted(f"connection reset after {index} events")
        return faults.error_event is not None and index == faults.error_event.after_events

    def _errored(self) -> None:
        if self.faults.error_event is not None and self.on_error is not None:
            self.on_error(self.faults.error_event.code, self.faults.error_event.msg)

    async def shape(self, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        framer = Framer(self.framing)
        await self._first()
        async with aclosing(_with_last(frames, lookahead=self.faults.truncate_final_frame is not None)) as events:
            index, errored = 0, False
            async for frame, last in events:
                if await self._before(index, asyncio.sleep):
                    errored = True
                    yield self._error(framer, frame)
                    break
                yield self._encode(framer, frame, index, last)
                index += 1
        if errored:
            self._errored()
        elif self.framing.linger_seconds is not None:
            # The last event is out; the response ends only after this (or when the client leaves).
            await asyncio.sleep(self.framing.linger_seconds)

    async def messages(
        self, texts: AsyncIterator[str], error: Callable[[int, str], str], idle: Idle = asyncio.sleep
    ) -> AsyncGenerator[str, None]:
        """`shape` for websocket chat: one chat step's messages (the JSON text of each event) as they go out.

        `error(code, msg)` is the text of an `error` event; `idle(seconds)` is how a stall waits. A reset,
        and the end of a stall, raise `StreamAborted` for the route to let escape: the server then drops
        the connection without a close frame. `truncate_final_frame` has no websocket meaning and is
        ignored (see the module's docstring).
        """
        malformed, failure = self.faults.malformed_json, self.faults.error_event
        await self._first()
        async with aclosing(_with_last(texts, lookahead=False)) as events:
            index, errored = 0, False
            async for text, _ in events:
                if await self._before(index, idle):
                    assert failure is not None
                    errored = True
                    yield error(failure.code, failure.msg)
                    break
                yield _broken(text) if malformed is not None and index == malformed.event else text
                index += 1
        if errored:
            self._errored()

    def _encode(self, framer: Framer, frame: bytes, index: int, last: bool) -> bytes:
        if not isinstance(frame, Frame):
            return frame
        data = None
        if self.faults.malformed_json is not None and index == self.faults.malformed_json.event:
            data = _broken(frame.data)
        encoded = frame if data is None and self.framing.canonical else framer.encode(frame, data)
        truncate = self.faults.truncate_final_frame
        if last and truncate is not None:
            encoded = encoded[: min(truncate.keep_bytes, len(encoded) - 1)]
        return bytes(encoded)

    def _error(self, framer: Framer, frame: bytes) -> bytes:
        spec = self.faults.error_event
        assert spec is not None
        if isinstance(frame, Frame) and frame.kind == "workflow":
            return framer.extra("workflow", "Error", dumps({"error_code": spec.code, "error_message": spec.msg}))
        return framer.extra("chat", "error", dumps({"code": spec.code, "msg": spec.msg}))


async def _with_last(frames: AsyncIterator[_T], *, lookahead: bool) -> AsyncGenerator[tuple[_T, bool], None]:
    """Each frame with whether it is the last; reads one frame ahead only when asked (a truncation).

    Closes the source however the stream ends, so an engine behind it settles its state at once.
    """
    try:
        if not lookahead:
            async for frame in frames:
                yield frame, False
            return
        previous: _T | None = None
        async for frame in frames:
            if previous is not None:
                yield previous, False
            previous = frame
        if previous is not None:
            yield previous, True
    finally:
        close = getattr(frames, "aclose", None)
        if close is not None:
            await close()


class FaultInjector:
    """The simulator's faults: the global ones, request counters, and a plan per stream."""

    def __init__(self, faults: Faults | None, framing: Framing | None, seed: int) -> None:
        self.faults = faults
        self.framing = framing or CANONICAL
        self.seed = seed
        self._lock = threading.Lock()
        self._streams = 0
        self._refused: dict[tuple[str, str], int] = {}

    def effective(self, faults: Faults | None) -> Faults | None:
        return faults if faults is not None else self.faults

    def check_request(self, key: str, faults: Faults | None) -> None:
        """Refuse a request before anything starts (a 5xx or a rate limit), as the faults ask."""
        chosen = self.effective(faults)
        if chosen is None:
            return
        if chosen.rate_limit is not None and self._count(key, "rate_limit", chosen.rate_limit.times):
            raise CozeError(Code.RATE_LIMITED, chosen.rate_limit.msg, status=429)
        if chosen.http_error is not None and self._count(key, "http_error", chosen.http_error.times):
            spec = chosen.http_error
            raise CozeError(spec.code, spec.msg, status=spec.status)

    def _count(self, key: str, fault: str, times: int | None) -> bool:
        with self._lock:
            seen = self._refused.get((key, fault), 0)
            if times is not None and seen >= times:
                return False
            self._refused[(key, fault)] = seen + 1
            return True

    def plan(
        self, faults: Faults | None, framing: Framing | None, on_error: OnError | None = None
    ) -> StreamPlan | None:
        """The plan for the next stream, or None when it goes out canonical and untouched."""
        chosen = self.effective(faults)
        shape = framing if framing is not None else self.framing
        if (chosen is None or not chosen.shapes_streams) and shape.canonical:
            return None
        with self._lock:
            number = self._streams
            self._streams += 1
        seed = chosen.seed if chosen is not None and chosen.seed is not None else self.seed
        rng = random.Random(f"{seed}:{number}")
        return StreamPlan(chosen or Faults(), shape, rng, on_error)

    def websocket_plan(self, faults: Faults | None) -> StreamPlan | None:
        """The plan for one websocket chat step (`StreamPlan.messages`), or None when no fault applies.

        The same faults and the same count of streams as `plan`; never a framing variant (those are SSE's).
        """
        return self.plan(faults, CANONICAL)
