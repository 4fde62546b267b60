"""The capability matrix: what a client can do, per integration mode, with the evidence for each cell.

One model feeds every report format. A verdict is never typed in by hand: probes build cells from
what ran (requests, raw bytes, parsed SDK events) and from facts read off the installed SDK.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from simulators.coze import DEFAULT_PLATFORM as DEFAULT_PLATFORM  # the platform names, for the probes too
from simulators.coze import PLATFORMS as PLATFORMS
from simulators.coze import PlatformName as PlatformName
from simulators.coze import load_profile

from .recorder import Exchange, Normaliser

CONTRACT_VERSION = "2026-11"
SCHEMA_VERSION = 4  # 3: cells, evidence and crashes per platform (cloud, studio); 4: each cell names its SDK
READABLE_SCHEMA_VERSIONS = (3, 4)  # a schema 3 matrix is read as cozepy's (the only SDK it could hold)

PLATFORM_TITLES: dict[str, str] = {name: load_profile(name).title for name in PLATFORMS}


class Verdict(str, Enum):
    SUPPORTED = "supported"  # the flow ran end to end and its output came back
    ABSENT = "absent"  # the SDK or the platform offers no way: no event, no field, no method, no endpoint
    WORKAROUND = "workaround"  # works only through the HTTP bridge
    BROKEN = "broken"  # the SDK surface exists but the flow fails
    UNKNOWN = "unknown"  # the platform's real behaviour is not known
    NOT_APPLICABLE = "not-applicable"


# Worse verdicts rank lower; used to flag regressions between SDK releases.
VERDICT_RANK = {
    Verdict.SUPPORTED: 4,
    Verdict.WORKAROUND: 3,
    Verdict.UNKNOWN: 2,
    Verdict.NOT_APPLICABLE: 2,
    Verdict.BROKEN: 1,
    Verdict.ABSENT: 0,
}


class Mode(str, Enum):
    CHAT_STREAM = "chat-stream"
    CHAT_POLL = "chat-poll"
    WEBSOCKET_CHAT = "websocket-chat"
    WORKFLOW_RUN = "workflow-run"
    WORKFLOW_STREAM = "workflow-stream"
    WORKFLOW_RESUME = "workflow-resume"
    CHATFLOW = "chatflow"
    WORKFLOW_BRIDGE = "workflow-bridge"


MODE_TITLES = {
    Mode.CHAT_STREAM: "bot chat (stream)",
    Mode.CHAT_POLL: "bot chat (non-stream, polled)",
    Mode.WEBSOCKET_CHAT: "bot chat (websocket)",
    Mode.WORKFLOW_RUN: "workflow run (sync)",
    Mode.WORKFLOW_STREAM: "workflow stream",
    Mode.WORKFLOW_RESUME: "workflow stream + resume",
    Mode.CHATFLOW: "chatflow",
    Mode.WORKFLOW_BRIDGE: "workflow via HTTP bridge",
}


class Capability(str, Enum):
    TOOL_CALL_EVENT = "tool-call-event"
    TOOL_CALL_FIELDS = "tool-call-fields"
    SUBMIT_METHOD = "submit-method"
    OUTPUTS_IN_ANSWER = "outputs-in-answer"
    CALLS_PER_ROUND = "several-calls-per-round"
    ROUNDS = "several-rounds"
    TOOL_ERRORS = "tool-errors-reported"
    INTERRUPT_RESUME = "interrupt-resume"
    LOCAL_CODE = "local-code-reachable"


CAPABILITY_TITLES = {
    Capability.TOOL_CALL_EVENT: "a tool-call event exists",
    Capability.TOOL_CALL_FIELDS: "tool calls carry name, arguments and a call id",
    Capability.SUBMIT_METHOD: "a method to submit tool outputs exists",
    Capability.OUTPUTS_IN_ANSWER: "tool outputs flow back into the answer",
    Capability.CALLS_PER_ROUND: "several tool calls per round",
    Capability.ROUNDS: "several rounds of tool calls",
    Capability.TOOL_ERRORS: "tool errors are reported back",
    Capability.INTERRUPT_RESUME: "interrupt and resume",
    Capability.LOCAL_CODE: "local code reachable at all",
}


LOADING_FACT = "loading the release"
"""The SDK fact of a release that could not be loaded the way its package says (a finding in `compat`)."""


class SdkFact(BaseModel):
    """Something read off the installed SDK (not off the wire)."""

    subject: str
    value: Any
    note: str = ""


class Evidence(BaseModel):
    id: str
    platform: PlatformName = DEFAULT_PLATFORM
    probe: str = Field(description="the probe that produced it: rerun with `coze-harness report --probe NAME`")
    summary: str
    exchanges: list[Exchange] = Field(default_factory=list)
    sdk_events: list[str] = Field(default_factory=list, description="events as the SDK parsed them")
    sdk_facts: list[SdkFact] = Field(default_factory=list)
    simulated: str = Field("", description="which parts are simulated platform behaviour, not SDK facts")
    error: str | None = None
    sdk_warnings: list[str] = Field(
        default_factory=list, description="what the SDK warned or logged (WARNING or worse) while the probe ran"
    )


class Cell(BaseModel):
    sdk: str = Field("", description="the SDK whose run decided it (cozepy, coze-js): the matrix's, set as it is added")
    capability: Capability
    mode: Mode
    platform: PlatformName = DEFAULT_PLATFORM
    verdict: Verdict
    reason: str
    evidence: list[str] = Field(default_factory=list, description="ids into Matrix.evidence")


class ProbeCrash(BaseModel):
    """A probe that raised instead of returning cells: a bug in the harness or the simulator, not a verdict."""

    probe: str
    platform: PlatformName = DEFAULT_PLATFORM
    error: str
    traceback: str


class CoverageNote(BaseModel):
    """One line of the coverage ceiling: a part of the platform the simulator does or does not model."""

    area: str
    detail: str
    modelled: bool
    modes: list[str] = Field(default_factory=list, description="columns whose verdicts this limits")


FramingOutcome = Literal["survives", "fails", "misreads", "not-run"]


class FramingResult(BaseModel):
    """One spec-legal SSE framing variant on one kind of stream, read by the installed SDK."""

    variant: str
    stream: Literal["chat", "workflow"]
    description: str
    outcome: FramingOutcome = Field(
        description="survives: the same events and text as the canonical framing; fails: the SDK raised; "
        "misreads: no error, but events or text differ; not-run: the canonical stream itself failed"
    )
    error: str | None = None
    events: list[str] = Field(default_factory=list, description="events as the SDK parsed them")
    detail: str = ""
    sample: str = Field("", description="the start of the stream as received (CR shown as \\r)")


class Matrix(BaseModel):
    schema_version: int = SCHEMA_VERSION
    sdk: str = "cozepy"
    sdk_version: str
    sdk_label: str = Field("", description="a name for this run chosen by the user, e.g. a lock file or CI job")
    python_version: str = Field(default_factory=platform.python_version)
    runtime: str = Field("", description="what ran the SDK when not this Python (an SDK in Node: `Node 20.20.2`)")

    @property
    def runtime_line(self) -> str:
        return self.runtime or f"Python {self.python_version}"

    contract_version: str = CONTRACT_VERSION
    platforms: list[PlatformName] = Field(default_factory=lambda: [DEFAULT_PLATFORM], description="in run order")
    generated_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    cells: list[Cell] = Field(default_factory=list)
    evidence: dict[str, Evidence] = Field(default_factory=dict)
    grammar: dict[str, list[str]] = Field(
        default_factory=dict, description="stream kind -> transitions the run covered ('a -> b')"
    )
    crashes: list[ProbeCrash] = Field(default_factory=list, description="probes that raised: their cells are missing")
    coverage: list[CoverageNote] = Field(default_factory=list, description="the simulator's coverage ceiling")
    framing: list[FramingResult] = Field(
        default_factory=list, description="framing robustness: each SSE framing variant, survived or not"
    )

    @model_validator(mode="after")
    def _cells_of_this_sdk(self) -> Matrix:
        """A cell made without naming its SDK is the matrix's; one naming another SDK is refused."""
        for cell in self.cells:
            if not cell.sdk:
                cell.sdk = self.sdk
        others = sorted({cell.sdk for cell in self.cells if cell.sdk != self.sdk})
        if others:
            raise ValueError(f"cells of SDK {others} in a matrix of {self.sdk!r}: one matrix holds one SDK's run")
        return self

    @classmethod
    def read(cls, data: object) -> Matrix:
        """A matrix from its JSON (a dict), of this schema or of one still readable: schema 3 held one SDK's
        cells without naming it, and each cell gets the matrix's SDK. Any other schema is a `ValueError` that
        says what to do."""
        if not isinstance(data, dict):
            raise ValueError("not a capability matrix (a JSON object was expected)")
        found = data.get("schema_version")
        if found not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(
                f"has schema_version {found}; this coze-harness reads {', '.join(map(str, READABLE_SCHEMA_VERSIONS))}: "
                "regenerate it with `coze-harness report --format json`"
            )
        if found == 3:
            sdk = data.get("sdk", "cozepy")
            cells = data.get("cells")
            data = {
                **data,
                "schema_version": SCHEMA_VERSION,
                "cells": [{**cell, "sdk": sdk} if isinstance(cell, dict) else cell for cell in cells]
                if isinstance(cells, list)
                else cells,
            }
        return cls.model_validate(data)

    def normalised(self, normaliser: Normaliser) -> Matrix:
        """This matrix as any run of the same SDK against the same simulator records it (see `Normaliser`):
        no ports, wall-clock dates or log ids of this run, in the evidence, reasons, framing and crashes alike.
        Log ids are named in the order the JSON report shows them. `generated_at` is the one field left."""
        data = self.model_dump(mode="json")
        normaliser.learn(data)
        for evidence in data["evidence"].values():
            for exchange in evidence["exchanges"]:
                exchange["request_headers"] = normaliser.headers(exchange["request_headers"])
                exchange["response_headers"] = normaliser.headers(exchange["response_headers"])
        stamp = data.pop("generated_at")
        normalised = Matrix.model_validate(normaliser.value(data))
        normalised.generated_at = stamp
        return normalised

    def cell(self, capability: Capability, mode: Mode, platform: str = DEFAULT_PLATFORM) -> Cell | None:
        for cell in self.cells:
            if cell.capability == capability and cell.mode == mode and cell.platform == platform:
                return cell
        return None

    def modes(self, platform: str | None = None) -> list[Mode]:
        """The columns with at least one cell (on `platform`, or on any), in enum order."""
        return [m for m in Mode if any(c.mode == m and platform in (None, c.platform) for c in self.cells)]

    def add(self, cells: list[Cell], evidence: list[Evidence], platform: PlatformName = DEFAULT_PLATFORM) -> None:
        """One probe's result, run against `platform`: evidence ids are prefixed with any other platform's
        name, so that the same probe run on both platforms keeps both."""
        prefix = "" if platform == DEFAULT_PLATFORM else f"{platform}/"
        for item in evidence:
            self.evidence[prefix + item.id] = item.model_copy(update={"id": prefix + item.id, "platform": platform})
        for new in cells:
            if self.cell(new.capability, new.mode, platform) is not None:
                raise ValueError(f"two probes decided {new.capability.value} x {new.mode.value} on {platform}")
            self.cells.append(
                new.model_copy(
                    update={"sdk": self.sdk, "platform": platform, "evidence": [prefix + ref for ref in new.evidence]}
                )
            )
