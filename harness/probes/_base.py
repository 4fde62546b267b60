"""What every probe shares: where the simulator is, recorded clients, and the result type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..matrix import DEFAULT_PLATFORM, Cell, Evidence, FramingResult, PlatformName
from ..recorder import Exchange
from ..streams import GRAMMARS, parse_sse


@dataclass(frozen=True)
class FramingVariant:
    """One framing the framing probe has the SDK read, as the run that serves it describes it."""

    name: str
    description: str
    kinds: tuple[str, ...]  # the streams served in it: "chat", "workflow"
    linger_seconds: float | None  # how long the response stays open after its last event, if it does
    bot_id: str  # the echo bot, in this framing
    workflow_id: str  # the joke workflow, in this framing


@dataclass(frozen=True)
class FramingTarget:
    """Where the framing probe reads: a simulator serving the echo bot and the joke workflow once per framing (the
    canonical one first), recorded on its side. The run starts it (`harness.reporting`); the probe only reads."""

    base_url: str
    tap: Any  # its harness.tap.RecordingApp
    variants: tuple[FramingVariant, ...]


@dataclass
class ProbeContext:
    """Where the probes point the SDK. Both URLs are loopback servers the report started."""

    base_url: str
    token: str
    bridge_url: str | None = None
    bridge_token: str | None = None
    scenario_ids: dict[str, str] = field(default_factory=dict)
    secure_url: str | None = None  # the same simulator over TLS (https/wss), for websocket chat
    ca_file: Path | None = None  # the authority that signed secure_url's certificate
    platform: PlatformName = DEFAULT_PLATFORM  # the profile the simulator speaks; only another may lack a path
    driver: Any = None  # a harness.drivers.Driver: the SDK the probes run
    tap: Any = None  # the simulator's harness.tap.RecordingApp: the wire evidence, taken on the server's side
    framing: FramingTarget | None = None  # where the framing probe reads (the run starts it beside the simulator)


class StreamCheck(BaseModel):
    grammar: str
    events: list[str]
    transitions: list[str]
    violation: str | None = None


class ProbeResult(BaseModel):
    cells: list[Cell] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    streams: list[StreamCheck] = Field(default_factory=list)
    framing: list[FramingResult] = Field(default_factory=list)


Probe = Callable[[ProbeContext], ProbeResult]


def _check(grammar: str, exchange: Exchange) -> StreamCheck:
    names = [event.event for event in parse_sse(exchange.response_body)]
    transitions, violation = GRAMMARS[grammar].check(names, whole=exchange.complete)
    return StreamCheck(grammar=grammar, events=names, transitions=transitions, violation=violation)


def _grammar_of(url: str) -> str:
    """Which kind of stream an endpoint answers with (CONTRACT.md: chat framing or workflow framing)."""
    if "/v3/chat/submit_tool_outputs" in url:
        return "chat after submit"
    if "/v3/chat" in url:
        return "chat"
    if "/v1/workflows/chat" in url:
        return "chatflow"
    return "workflow after resume" if "stream_resume" in url else "workflow"


def check_streams(exchanges: list[Exchange]) -> list[StreamCheck]:
    """Check every recorded SSE response against the grammar of its kind."""
    return [
        _check(_grammar_of(exchange.url), exchange)
        for exchange in exchanges
        if "event-stream" in exchange.response_headers.get("content-type", "")
    ]
