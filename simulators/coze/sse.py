"""Server-sent event framing, byte-exact per CONTRACT.md.

Chat streams and workflow streams are framed differently and clients count lines, so the two
framings are separate functions rather than one function with options: a chat event is exactly
`event:NAME` and `data:JSON`; a workflow event is exactly `id: N`, `event: NAME`, `data: JSON`.
Every event ends with a blank line, the last one included. Which stream uses which framing, and
from which id, is the platform profile's to say (`framed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from json.encoder import encode_basestring
from typing import Any

from starlette.responses import StreamingResponse

from .envelope import dumps
from .profiles import ChatEnd, StreamStyle

CONTENT_TYPE = "text/event-stream"


class Frame(bytes):
    """The canonical bytes of one event, which can say what they encode.

    To every reader a frame is just its bytes; framing variants and faults
    (`simulators.coze.faults`) read `kind`, `event`, `data` and `position` to re-encode it. Those are
    parsed back from the bytes when asked (rarely: only a stream with faults or framing asks), so that
    making a frame costs no more than making its bytes.
    """

    __slots__ = ()

    @property
    def kind(self) -> str:
        """`chat` (`event:NAME` / `data:JSON`) or `workflow` (`id: N` / `event: NAME` / `data: JSON`)."""
        return "workflow" if self.startswith(b"id: ") else "chat"

    def _lines(self) -> list[str]:
        # The last line is data (one line, checked when made); the others cannot hold a newline either.
        return self[:-2].decode().split("\n", 2 if self.kind == "workflow" else 1)

    @property
    def event(self) -> str:
        if self.kind == "workflow":
            return self._lines()[1][len("event: ") :]
        return self._lines()[0][len("event:") :]

    @property
    def data(self) -> str:
        if self.kind == "workflow":
            return self._lines()[2][len("data: ") :]
        return self._lines()[1][len("data:") :]

    @property
    def position(self) -> int:
        """The id a workflow frame carries; -1 on chat frames."""
        return int(self._lines()[0][len("id: ") :]) if self.kind == "workflow" else -1


def _one_line(data: str) -> str:
    if "\n" in data or "\r" in data:
        raise ValueError("an SSE data value must be one line; encode newlines inside the JSON")
    return data


class Variant(dict[str, Any]):
    """A message made as `{**base, "content": text}` and never changed after: it keeps `base`, so a run of
    them (a stream's deltas) encodes the shared part once, checked by identity instead of by value."""

    __slots__ = ("base",)

    def __init__(self, base: dict[str, Any], content: str) -> None:
        super().__init__(base, content=content)
        self.base = base


_CONTENT_MARK = "\x00coze-harness-content\x00"
_ENCODED_MARK = dumps(_CONTENT_MARK)

# The last message shape encoded: (its keys in order, the message with `content` blanked, JSON before the
# content, JSON after it). One tuple, replaced whole, so that threads running other simulators read a
# consistent one.
_template: tuple[tuple[str, ...], dict[str, Any], str, str] | None = None
_ONLY_STR = {str}
_variant: tuple[dict[str, Any], str, str] | None = None  # the last Variant base, JSON before and after content


def _encode_text(text: str) -> str:
    """`dumps(text)` for a string, without the encoder's dispatch (the encoder calls the same function)."""
    encoded: str = encode_basestring(text)
    if "\u2028" in encoded or "\u2029" in encoded:
        return dumps(text)
    return encoded


def encode_data(data: Any) -> str:
    """`dumps(data)`, faster for a run of messages that differ only in `content` (a stream of deltas).

    A dict of strings only, with a string `content`, encodes as the JSON before its content, the
    content's JSON and the JSON after it; when the other keys (in order) and values equal the last such
    message's, the two outer parts are reused. Strings only, because equal values of other types may
    encode differently (`1 == 1.0 == True`, key order inside nested dicts); a value equal to a string is a
    string, so the check runs only when the parts are made. Same text as `dumps` (tests/test_sse.py).
    A `Variant` of the last base skips even that comparison.
    """
    global _template, _variant
    if type(data) is Variant:
        variant = _variant
        if variant is None or variant[0] is not data.base:
            plain = dict(data)
            text = encode_data(plain)
            template = _template  # the parts of `plain`, if the dict path could make them
            if template is not None and template[0] == tuple(plain) and template[1] == {**plain, "content": ""}:
                _variant = (data.base, template[2], template[3])
            return text
        return variant[1] + _encode_text(data["content"]) + variant[2]
    if type(data) is dict and type(data.get("content")) is str:
        keys, blank = tuple(data), {**data, "content": ""}
        template = _template
        if template is None or template[0] != keys or template[1] != blank:
            if set(map(type, data.values())) != _ONLY_STR:
                return dumps(data)
            whole = dumps({**data, "content": _CONTENT_MARK})
            if whole.count(_ENCODED_MARK) != 1:
                return dumps(data)
            before, after = whole.split(_ENCODED_MARK)
            template = _template = (keys, blank, before, after)
        return template[2] + _encode_text(data["content"]) + template[3]
    return dumps(data)


def chat_frame(event: str, data: Any) -> bytes:
    """`event:NAME\\ndata:JSON\\n\\n`; `data` may be pre-encoded JSON text or a value to encode."""
    text = _one_line(data) if isinstance(data, str) else encode_data(data)  # JSON is always one line
    return Frame(f"event:{event}\ndata:{text}\n\n".encode())


def chat_end(end: ChatEnd) -> bytes:
    """The closing event of a `/v3/chat` stream: cloud's `done` / `"[DONE]"`, or studio's with empty data."""
    return chat_frame(end.event, end.data)


def workflow_frame(index: int, event: str, data: Any) -> bytes:
    """`id: N\\nevent: NAME\\ndata: JSON\\n\\n`; ids count from 0 within one stream."""
    text = _one_line(data if isinstance(data, str) else dumps(data))
    return Frame(f"id: {index}\nevent: {event}\ndata: {text}\n\n".encode())


def framed(style: StreamStyle, index: int, event: str, data: Any) -> bytes:
    """Event number `index` (from 0) of a stream, in the framing the profile gives that kind of stream."""
    if style.framing == "plain":
        return chat_frame(event, data)
    return workflow_frame(style.first_id + index, event, data)


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


def stream_response(frames: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    """An event-stream response with the profile's headers, closed after the last frame (clients from
    cozepy 0.17 read to EOF).

    The headers are set by hand because Starlette would append `; charset=utf-8` to a `text/` type, and
    cloud Coze sends the bare type (studio's workflow streams do send the charset; their profile says so).
    """
    response = StreamingResponse(frames, status_code=200)
    for name, value in headers.items():
        response.headers[name] = value
    return response
