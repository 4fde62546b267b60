"""How the loopback server writes a response: what the app sends within one turn of the event loop leaves in one
write (`simulators.coze._uvicorn._CorkedTransport`), while the HTTP framing stays one chunk per event."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT

from simulators.coze import DEFAULT_TOKEN, create_app, running
from simulators.coze._uvicorn import _CorkedTransport

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ECHO_BOT = "7390000000000000001"
_WAIT = 10.0


class _Recorder:
    """A stand-in for asyncio's socket transport that records what is written to it and when it is closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = ""
        self.extra = {"peername": ("127.0.0.1", 1)}

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return bool(self.closed)

    def close(self) -> None:
        self.closed = "close"

    def abort(self) -> None:
        self.closed = "abort"

    def write_eof(self) -> None:
        self.closed = "eof"

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


async def _held_then_turned(corked: _CorkedTransport, parts: list[bytes]) -> None:
    for part in parts:
        corked.write(part)
    await asyncio.sleep(0)  # one turn of the loop


def test_writes_within_one_turn_of_the_loop_leave_together_and_in_order() -> None:
    inner = _Recorder()

    async def main() -> None:
        corked = _CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        await _held_then_turned(corked, [b"a", b"b", bytearray(b"c")])
        assert corked.get_write_buffer_size() == 0
        corked.write(b"d")
        assert corked.get_write_buffer_size() == 1 and inner.writes == [b"abc"]
        await _held_then_turned(corked, [b"e"])
        assert corked.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the transport's own

    asyncio.run(main())
    assert inner.writes == [b"abc", b"de"]


def test_a_large_body_is_written_at_the_high_water_mark_so_a_slow_reader_still_holds_the_app_back() -> None:
    """uvicorn pauses the app's `send` only when the transport's own buffer passes its high-water mark: held bytes
    reaching that mark are written at once, so that pause still comes, instead of the whole body piling up here."""
    inner = _Recorder()

    async def main() -> None:
        corked = _CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        piece = b"x" * 4096
        for _ in range(HIGH_WATER_LIMIT // len(piece) * 3):
            corked.write(piece)
        assert len(inner.writes) == 3 and all(len(written) == HIGH_WATER_LIMIT for written in inner.writes)
        assert corked.get_write_buffer_size() == 0

    asyncio.run(main())


@pytest.mark.parametrize("ending", ["close", "abort", "write_eof"])
def test_what_is_held_is_written_before_the_connection_ends(ending: str) -> None:
    inner = _Recorder()

    async def main() -> None:
        corked = _CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        corked.write(b"last events")
        getattr(corked, ending)()
        assert inner.writes == [b"last events"] and inner.closed
        await asyncio.sleep(0)  # the flush scheduled by the write finds nothing left

    asyncio.run(main())
    assert inner.writes == [b"last events"]


def test_nothing_is_written_to_a_connection_the_peer_closed() -> None:
    inner = _Recorder()

    async def main() -> None:
        corked = _CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        corked.write(b"too late")
        inner.closed = "lost"
        await asyncio.sleep(0)

    asyncio.run(main())
    assert inner.writes == []


def _chat_body() -> bytes:
    message = {"role": "user", "content": "hello", "content_type": "text"}
    return json.dumps({"bot_id": ECHO_BOT, "user_id": "u", "stream": True, "additional_messages": [message]}).encode()


def test_a_chat_stream_is_written_at_once_by_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The echo bot's events are all made at once: the server writes them in one go, not one syscall (and one
    wake-up of the reader) per event."""
    flushed: list[int] = []
    flush = _CorkedTransport.flush

    def counting(self: _CorkedTransport) -> None:
        flushed.append(len(self._held))
        flush(self)

    monkeypatch.setattr(_CorkedTransport, "flush", counting)
    with running(create_app()) as sim, httpx.Client(base_url=sim.base_url, timeout=_WAIT) as client:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Content-Type": "application/json"}
        response = client.post("/v3/chat", content=_chat_body(), headers=headers)
    events = response.text.count("\n\n")
    assert response.status_code == 200 and events >= 5
    assert max(flushed) >= events  # every event's chunk (and the end) held, then written together


def _raw_chat(base_url: str) -> bytes:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    body = _chat_body()
    head = (
        f"POST /v3/chat HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {DEFAULT_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=_WAIT) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        for _ in range(10_000):  # bounded: the server closes after the response (Connection: close)
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def _http_chunks(raw: bytes) -> list[bytes]:
    """The chunks of a `Transfer-Encoding: chunked` body, as framed on the wire."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        body = rest[size + 2 :]
    return chunks


def test_each_event_is_still_its_own_http_chunk_on_the_wire() -> None:
    """Writing together changes only how TCP carries the bytes: the HTTP framing is one chunk per event, as a
    server that flushes every event frames it."""
    with running(create_app()) as sim:
        raw = _raw_chat(sim.base_url)
    chunks = _http_chunks(raw)
    assert len(chunks) >= 5
    for chunk in chunks:
        assert chunk.startswith(b"event:") and chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1, chunk
