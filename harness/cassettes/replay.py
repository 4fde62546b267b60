"""Replaying a cassette as an httpx transport (sync and async), in three modes, on a virtual clock.

- `coalesced`: vcrpy's way. The whole body in one chunk, delivered once all of it had arrived;
  what a client sees when a recorder drained the stream first.
- `faithful`: the recorded chunks, with their boundaries, in order; each chunk is stamped with its
  recorded arrival offset on a `VirtualClock`, so a test can check pacing without sleeping.
- `rechunked`: the same bytes split adversarially (inside lines, between the two newlines ending
  an event, inside multibyte UTF-8 characters, plus seeded random cuts), to show a client's parser
  does not depend on how the network happened to cut the stream.

Every mode delivers exactly the recorded bytes, and a stream that broke off midway breaks off
again after its last byte, with the same httpx exception type. Requests match recorded
interactions by method, path, query and JSON body (`harness.cassettes.matching`), each
interaction played once, in recorded order among equals; a request nothing matches raises
`UnmatchedRequestError`, naming the request and what the cassette holds.

The transports never sleep unless given a `sleep` function; `playbacks` keeps, per request, the
chunks delivered and the virtual time of each.
"""

from __future__ import annotations

import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx

from .matching import Bindings, request_differences
from .model import Cassette, CassetteError, Interaction, load


class ReplayMode(str, Enum):
    COALESCED = "coalesced"
    FAITHFUL = "faithful"
    RECHUNKED = "rechunked"


class UnmatchedRequestError(CassetteError, LookupError):
    """A request the cassette has no (unplayed) recording of."""


class VirtualClock:
    """Time that moves only when replay says a chunk arrived; shared by transports if you like."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance_to(self, when: float) -> float:
        """Move forward to `when` (never back); the time it now reads."""
        with self._lock:
            self._now = max(self._now, when)
            return self._now


@dataclass(frozen=True)
class PlayedChunk:
    """A chunk as delivered, with the virtual time it was delivered at."""

    at: float
    data: bytes


@dataclass
class Playback:
    """One request served from the cassette: which interaction, and the chunks delivered so far."""

    index: int
    request: str
    mode: ReplayMode
    started_at: float
    chunks: list[PlayedChunk] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)


Plan = list[tuple[float, bytes]]


def _split_points(data: bytes, rng: random.Random) -> set[int]:
    """Cuts a network could make and a naive parser would not survive."""
    points: set[int] = set()
    index = 0
    while index < len(data):
        byte = data[index]
        width = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
        if width > 1 and index + width <= len(data):
            points.add(index + 1 + rng.randrange(width - 1))  # inside a multibyte character
        index += width
    start = 0
    while (found := data.find(b"\n\n", start)) >= 0:
        points.add(found + 1)  # between the two newlines that end an event
        start = found + 2
    line_start = 0
    while line_start < len(data):
        line_end = data.find(b"\n", line_start)
        line_end = len(data) if line_end < 0 else line_end
        if line_end - line_start > 2:
            points.add(line_start + 1 + rng.randrange(line_end - line_start - 1))  # inside a line
        line_start = line_end + 1
    if len(data) > 2:
        points.update(rng.randrange(1, len(data)) for _ in range(max(1, len(data) // 64)))
    return {point for point in points if 0 < point < len(data)}


def rechunk(plan: Plan, seed: int = 0) -> Plan:
    """The same bytes cut at adversarial points; each piece keeps the arrival time of its last byte."""
    data = b"".join(piece for _, piece in plan)
    if not data:
        return plan
    rng = random.Random(seed)
    ends: list[tuple[int, float]] = []
    total = 0
    for at, piece in plan:
        total += len(piece)
        ends.append((total, at))
    points = sorted(_split_points(data, rng) | {end for end, _ in ends[:-1]})
    result: Plan = []
    previous = 0
    for point in [*points, len(data)]:
        at = next(when for end, when in ends if end >= point)
        result.append((at, data[previous:point]))
        previous = point
    return result


def _error(text: str | None) -> Exception | None:
    """The recorded stream error as the httpx exception a client would have seen."""
    if not text:
        return None
    name, _, message = text.partition(": ")
    kind = getattr(httpx, name, None)
    if isinstance(kind, type) and issubclass(kind, httpx.TransportError):
        return kind(message)
    return httpx.ReadError(text)


class _Player:
    """Matching and planning, shared by the sync and async transports."""

    def __init__(
        self,
        cassette: Cassette | Path | str,
        mode: ReplayMode | str,
        clock: VirtualClock | None,
        seed: int,
        allow_repeats: bool,
    ) -> None:
        if isinstance(cassette, Cassette):
            self.cassette, self.name = cassette, "<cassette>"
        else:
            self.cassette, self.name = load(cassette), str(cassette)
        self.mode = ReplayMode(mode)
        self.clock = clock or VirtualClock()
        self.seed = seed
        self.allow_repeats = allow_repeats
        self.bindings: Bindings = {}
        self.played: list[int] = []
        self.playbacks: list[Playback] = []
        self._lock = threading.Lock()

    def _find(self, request: httpx.Request, body: bytes) -> tuple[int, Interaction]:
        url = str(request.url)
        near: list[str] = []
        with self._lock:
            fresh = [index for index in range(len(self.cassette.interactions)) if index not in self.played]
            # unplayed recordings first, in order; with allow_repeats, then the latest played ones
            again = list(dict.fromkeys(reversed(self.played))) if self.allow_repeats else []
            for index in fresh + again:
                interaction = self.cassette.interactions[index]
                differences = request_differences(interaction.request, request.method, url, body, self.bindings)
                if not differences:
                    self.played.append(index)
                    return index, interaction
                if index in fresh:
                    near.append(
                        f"  #{index} {interaction.request.describe(120)}\n      differs: {'; '.join(differences[:3])}"
                    )
        played = [
            f"  #{index} {self.cassette.interactions[index].request.describe(120)}"
            for index in dict.fromkeys(self.played)
        ]
        sent = body.decode("utf-8", "replace")
        message = (
            f"no recorded interaction in {self.name} matches {request.method} {url}"
            + (f" {sent[:300]}" if sent else "")
            + ("\nunplayed recordings:\n" + "\n".join(near) if near else "\nevery recording has been played")
            + ("\nalready played:\n" + "\n".join(played) if played else "")
        )
        raise UnmatchedRequestError(message)

    def plan(self, interaction: Interaction) -> tuple[float, Plan]:
        """(headers arrival offset, [(offset, bytes)]) for the mode; offsets relative to the request."""
        response = interaction.response
        body = response.body
        headers_at = response.at or 0.0
        recorded: Plan = (
            [(chunk.at, chunk.data) for chunk in body.chunks]
            if body.chunks is not None
            else ([(headers_at, body.data)] if body.data else [])
        )
        if self.mode is ReplayMode.COALESCED:
            last = recorded[-1][0] if recorded else headers_at
            return last, ([(last, b"".join(piece for _, piece in recorded))] if recorded else [])
        if self.mode is ReplayMode.RECHUNKED:
            return headers_at, rechunk(recorded, self.seed + len(self.playbacks))
        return headers_at, recorded

    def start(self, request: httpx.Request, body: bytes) -> tuple[Interaction, Playback, float, Plan]:
        """The matched interaction, its playback record, when its headers arrive (virtual time), its chunks."""
        index, interaction = self._find(request, body)
        started = self.clock.now()
        headers_at, plan = self.plan(interaction)
        playback = Playback(index, f"{request.method} {request.url}", self.mode, started)
        self.playbacks.append(playback)
        return interaction, playback, started + headers_at, plan

    def response(
        self, interaction: Interaction, stream: httpx.SyncByteStream | httpx.AsyncByteStream
    ) -> httpx.Response:
        recorded = interaction.response
        headers = [(name, value) for name, values in recorded.headers.items() for value in values]
        message = recorded.status.message.encode("ascii", "replace")
        extensions = {"reason_phrase": message} if message else {}
        return httpx.Response(recorded.status.code, headers=headers, stream=stream, extensions=extensions)

    def unplayed(self) -> list[int]:
        return [index for index in range(len(self.cassette.interactions)) if index not in self.played]


class _SyncReplayStream(httpx.SyncByteStream):
    def __init__(
        self,
        plan: Plan,
        playback: Playback,
        clock: VirtualClock,
        error: Exception | None,
        sleep: Callable[[float], None] | None,
    ) -> None:
        self._plan, self._playback, self._clock, self._error, self._sleep = plan, playback, clock, error, sleep

    def __iter__(self) -> Iterator[bytes]:
        for at, data in self._plan:
            when = self._playback.started_at + at
            if self._sleep is not None and when > self._clock.now():
                self._sleep(when - self._clock.now())
            self._playback.chunks.append(PlayedChunk(self._clock.advance_to(when), data))
            yield data
        if self._error is not None:
            raise self._error


class _AsyncReplayStream(httpx.AsyncByteStream):
    def __init__(
        self,
        plan: Plan,
        playback: Playback,
        clock: VirtualClock,
        error: Exception | None,
        sleep: Callable[[float], Awaitable[None]] | None,
    ) -> None:
        self._plan, self._playback, self._clock, self._error, self._sleep = plan, playback, clock, error, sleep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for at, data in self._plan:
            when = self._playback.started_at + at
            if self._sleep is not None and when > self._clock.now():
                await self._sleep(when - self._clock.now())
            self._playback.chunks.append(PlayedChunk(self._clock.advance_to(when), data))
            yield data
        if self._error is not None:
            raise self._error


class _ReplayBase:
    _player: _Player

    @property
    def cassette(self) -> Cassette:
        return self._player.cassette

    @property
    def clock(self) -> VirtualClock:
        return self._player.clock

    @property
    def mode(self) -> ReplayMode:
        return self._player.mode

    @property
    def playbacks(self) -> list[Playback]:
        return self._player.playbacks

    @property
    def bindings(self) -> Bindings:
        """What each pseudonym in the recorded requests stood for in this replay."""
        return dict(self._player.bindings)

    def unplayed(self) -> list[Interaction]:
        return [self._player.cassette.interactions[index] for index in self._player.unplayed()]

    def assert_all_played(self) -> None:
        """Raise `UnmatchedRequestError` listing the recordings no request asked for."""
        left = self._player.unplayed()
        if left:
            lines = "\n".join(f"  #{i} {self._player.cassette.interactions[i].request.describe(120)}" for i in left)
            raise UnmatchedRequestError(
                f"{len(left)} recording(s) in {self._player.name} were never requested:\n{lines}"
            )


class CassetteTransport(_ReplayBase, httpx.BaseTransport):
    """An httpx transport that answers from a cassette; no server, no socket.

    `httpx.Client(transport=CassetteTransport("cassettes/simulator/workflow-stream.yaml"))`, or pass
    that client to cozepy as `http_client`.
    """

    def __init__(
        self,
        cassette: Cassette | Path | str,
        *,
        mode: ReplayMode | str = ReplayMode.FAITHFUL,
        clock: VirtualClock | None = None,
        seed: int = 0,
        allow_repeats: bool = False,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._player = _Player(cassette, mode, clock, seed, allow_repeats)
        self._sleep = sleep

    def async_twin(self, *, sleep: Callable[[float], Awaitable[None]] | None = None) -> AsyncCassetteTransport:
        """An `AsyncCassetteTransport` over the same playback: one cassette, its recordings played
        once across both transports, one clock (a test using a sync and an async client at once)."""
        twin = AsyncCassetteTransport.__new__(AsyncCassetteTransport)
        twin._player = self._player
        twin._sleep = sleep
        return twin

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        interaction, playback, headers_at, plan = self._player.start(request, body)
        if self._sleep is not None and headers_at > self.clock.now():
            self._sleep(headers_at - self.clock.now())
        self.clock.advance_to(headers_at)
        error = _error(interaction.response.body.error)
        stream = _SyncReplayStream(plan, playback, self._player.clock, error, self._sleep)
        return self._player.response(interaction, stream)


class AsyncCassetteTransport(_ReplayBase, httpx.AsyncBaseTransport):
    """`CassetteTransport` for `httpx.AsyncClient` (and so `cozepy.AsyncCoze`)."""

    def __init__(
        self,
        cassette: Cassette | Path | str,
        *,
        mode: ReplayMode | str = ReplayMode.FAITHFUL,
        clock: VirtualClock | None = None,
        seed: int = 0,
        allow_repeats: bool = False,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._player = _Player(cassette, mode, clock, seed, allow_repeats)
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        interaction, playback, headers_at, plan = self._player.start(request, body)
        if self._sleep is not None and headers_at > self.clock.now():
            await self._sleep(headers_at - self.clock.now())
        self.clock.advance_to(headers_at)
        error = _error(interaction.response.body.error)
        stream = _AsyncReplayStream(plan, playback, self._player.clock, error, self._sleep)
        return self._player.response(interaction, stream)
