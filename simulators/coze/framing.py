"""Spec-legal SSE framing variants the real server may start sending, as a simulator option.

The canonical framing (CONTRACT.md, "SSE framing") is what `sse.chat_frame` and
`sse.workflow_frame` write. A `Framing` block (in a scenario file, or `SimConfig.framing` for every
stream) re-encodes each event another way the SSE specification allows: comment keep-alives,
`retry:` lines, CRLF or CR line ends, `id:` lines on chat events, a space after the colon or not,
`data:` spread over several lines, an event of an unknown name, the chat `done` data spelled
differently, and a response left open for a while after its last event. A spec-following parser
reads every variant as the same events; the framing probe (`harness/probes/`) shows which
variants each SDK release survives.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .sse import Frame

EventName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]+$")]

_EOL = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


class Framing(BaseModel):
    """How events are framed on the wire; every field at its default is the canonical framing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str | None = Field(
        None, pattern=r"^[^\r\n]*$", description="a ': TEXT' comment block (a keep-alive) before every event"
    )
    retry_ms: int | None = Field(None, ge=0, description="a 'retry: N' block opening the stream")
    line_ending: Literal["lf", "crlf", "cr"] = "lf"
    event_ids: bool = Field(False, description="'id: N' lines on chat events too (workflow events always have them)")
    space_after_colon: bool | None = Field(
        None, description="force 'field: value' (true) or 'field:value' (false); default: as the framing has it"
    )
    multiline_data: bool = Field(False, description="each JSON data value pretty-printed over several data: lines")
    unknown_event: EventName | None = Field(
        None, description="an extra event of this name, with data {}, after the first event"
    )
    done_data: str | None = Field(
        None, pattern=r"^[^\r\n]*$", description='chat streams: the done event\'s data instead of "[DONE]"'
    )
    linger_seconds: float | None = Field(
        None,
        gt=0,
        le=60,
        description="the response stays open this long after the last event before the server ends it "
        "(SSE does not require the server to close; a client that reads to EOF waits that long)",
    )

    @property
    def canonical(self) -> bool:
        return self == CANONICAL


CANONICAL = Framing()

LINGER_SECONDS = 3.0
"""How long the `open-after-done` variant keeps a finished response open."""


def _data_lines(data: str, multiline: bool) -> list[str]:
    if not multiline:
        return [data]
    try:
        value = json.loads(data)
    except ValueError:
        return [data]  # not JSON (a malformed-JSON fault): one line, so the bytes stay what the fault made
    return json.dumps(value, ensure_ascii=False, indent=1).split("\n")


class Framer:
    """Encodes the events of one stream with a `Framing`; ids count the events it writes, from 0."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        self._eol = _EOL[framing.line_ending]
        self._written = 0

    def _field(self, name: str, value: str, kind: str) -> str:
        space = self.framing.space_after_colon
        if space is None:
            space = kind == "workflow"
        return f"{name}:{' ' if space else ''}{value}{self._eol}"

    def _event(self, kind: str, event: str, data: str) -> str:
        text = ""
        if kind == "workflow" or self.framing.event_ids:
            text += self._field("id", str(self._written), kind)
        text += self._field("event", event, kind)
        for line in _data_lines(data, self.framing.multiline_data):
            text += self._field("data", line, kind)
        self._written += 1
        return text + self._eol

    def encode(self, frame: Frame, data: str | None = None) -> bytes:
        """One chunk for one event: what the framing adds before it, the event, and what follows it.

        `data` replaces the frame's data (a fault that corrupts it); the frame's kind and name stay.
        """
        framing = self.framing
        first = self._written == 0
        text = ""
        if first and framing.retry_ms is not None:
            text += f"retry:{' ' if framing.space_after_colon else ''}{framing.retry_ms}{self._eol}{self._eol}"
        if framing.comment is not None:
            text += f": {framing.comment}{self._eol}{self._eol}"
        value = frame.data if data is None else data
        if frame.kind == "chat" and frame.event == "done" and value == '"[DONE]"' and framing.done_data is not None:
            value = framing.done_data
        text += self._event(frame.kind, frame.event, value)
        if first and framing.unknown_event is not None:
            text += self._event(frame.kind, framing.unknown_event, "{}")
        return text.encode()

    def extra(self, kind: str, event: str, data: str) -> bytes:
        """An event the stream's own events do not include (an injected `error`), in this framing."""
        return self._event(kind, event, data).encode()


class Variant(BaseModel):
    """A named framing variant: what `coze-harness serve --framing NAME` and the framing probe use."""

    model_config = ConfigDict(frozen=True)

    name: str
    framing: Framing
    description: str
    kinds: tuple[Literal["chat", "workflow"], ...] = ("chat", "workflow")


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(name="comment-keepalive", framing=Framing(comment="ping"), description="': ping' before every event"),
        Variant(
            name="retry-line", framing=Framing(retry_ms=3000), description="a 'retry: 3000' block opens the stream"
        ),
        Variant(name="crlf", framing=Framing(line_ending="crlf"), description="CRLF line ends"),
        Variant(name="cr", framing=Framing(line_ending="cr"), description="CR line ends"),
        Variant(
            name="chat-id-lines",
            framing=Framing(event_ids=True),
            description="an 'id: N' line on every chat event",
            kinds=("chat",),
        ),
        Variant(
            name="space-after-colon",
            framing=Framing(space_after_colon=True),
            description="'event: NAME' and 'data: JSON' on chat streams",
            kinds=("chat",),
        ),
        Variant(
            name="no-space-after-colon",
            framing=Framing(space_after_colon=False),
            description="'id:N', 'event:NAME' and 'data:JSON' on workflow streams",
            kinds=("workflow",),
        ),
        Variant(
            name="multiline-data",
            framing=Framing(multiline_data=True),
            description="JSON data pretty-printed over several data: lines (the spec joins them with newlines)",
        ),
        Variant(
            name="unknown-event",
            framing=Framing(unknown_event="coze.unknown"),
            description="an event named 'coze.unknown' (data {}) after the first event",
        ),
        Variant(
            name="workflow-ping",
            framing=Framing(unknown_event="PING"),
            description="a PING event (data {}) after the first event: the keep-alive coze-go knows on workflow "
            "streams (WorkflowEventTypePing), which cozepy has no member for",
            kinds=("workflow",),
        ),
        Variant(
            name="open-after-done",
            framing=Framing(linger_seconds=LINGER_SECONDS),
            description=f"the response stays open {LINGER_SECONDS:g} s after the done event before the server "
            "closes it (a client that reads to EOF waits for the close)",
            kinds=("chat",),
        ),
        Variant(
            name="done-unquoted",
            framing=Framing(done_data="[DONE]"),
            description='the chat done event\'s data is [DONE], not the JSON string "[DONE]"',
            kinds=("chat",),
        ),
    )
}


def combined(names: list[str]) -> Framing:
    """The framing of several named variants at once (later names win where they set the same field)."""
    fields: dict[str, object] = {}
    for name in names:
        if name not in VARIANTS:
            raise ValueError(f"unknown framing variant {name!r}; choose from {', '.join(VARIANTS)}")
        fields.update(VARIANTS[name].framing.model_dump(exclude_defaults=True))
    return Framing.model_validate(fields)
