"""Server-sent event framing, byte-exact per CONTRACT.md.

Chat streams and workflow streams are framed differently and clients count lines, so the two
framings are separate functions rather than one function with options: a chat event is exactly
`event:NAME` and `data:JSON`; a workflow event is exactly `id: N`, `event: NAME`, `data: JSON`.
Every event ends with a blank line, the last one included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.responses import StreamingResponse

from .envelope import dumps

CONTENT_TYPE = "text/event-stream"

CHAT_DONE_DATA = '"[DONE]"'


class Frame(bytes):
    """The canonical bytes of one event, remembering what they encode.

    To every reader a frame is just its bytes; framing variants and faults
    (`simulators.coze.faults`) read `kind`, `event`, `data` and `position` to re-encode it.
    """

    kind: str  # "chat" or "workflow"
    event: str
    data: str
    position: int  # the id a workflow frame carries; -1 on chat frames

    @classmethod
    def of(cls, encoded: bytes, kind: str, event: str, data: str, index: int) -> Frame:
        frame = cls(encoded)
        frame.kind, frame.event, frame.data, frame.position = kind, event, data, index
        return frame


def _one_line(data: str) -> str:
    if "\n" in data or "\r" in data:
        raise ValueError("an SSE data value must be one line; encode newlines inside the JSON")
    return data


def chat_frame(event: str, data: Any) -> bytes:
    """`event:NAME\\ndata:JSON\\n\\n`; `data` may be pre-encoded JSON text or a value to encode."""
    text = _one_line(data if isinstance(data, str) else dumps(data))
    return Frame.of(f"event:{event}\ndata:{text}\n\n".encode(), "chat", event, text, -1)


def chat_done() -> bytes:
    return chat_frame("done", CHAT_DONE_DATA)


def workflow_frame(index: int, event: str, data: Any) -> bytes:
    """`id: N\\nevent: NAME\\ndata: JSON\\n\\n`; ids count from 0 within one stream."""
    text = _one_line(data if isinstance(data, str) else dumps(data))
    return Frame.of(f"id: {index}\nevent: {event}\ndata: {text}\n\n".encode(), "workflow", event, text, index)


async def paced(frames: Iterable[bytes], delay: float) -> AsyncIterator[bytes]:
    """Yield precomputed frames with `delay` seconds between them (0: as fast as the socket takes them)."""
    if not delay:
        for frame in frames:
            yield frame
        return
    for position, frame in enumerate(frames):
        if delay and position:
            await asyncio.sleep(delay)
        yield frame


def stream_response(frames: AsyncIterator[bytes]) -> StreamingResponse:
    """A `text/event-stream` response, closed after the last frame (clients from cozepy 0.17 read to EOF).

    The header is set by hand because Starlette would append `; charset=utf-8` to a `text/` type and
    the platform sends the bare type.
    """
    response = StreamingResponse(frames, status_code=200)
    response.headers["content-type"] = CONTENT_TYPE
    response.headers["cache-control"] = "no-cache"
    return response
