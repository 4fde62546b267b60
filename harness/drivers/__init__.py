"""SDK drivers: one per SDK, behind one protocol: run a flow, return what was observed.

A driver runs a *flow* (a bot chat with tool rounds, a polled chat, a workflow run, a stream, a
stream and resume, a chatflow, the bridge workflow) with the real, unmodified SDK against a base URL
and returns an `Observation`: what the SDK did, in the SDK's own terms (the events it parsed in
order, what each SDK call returned, the tool calls it handed over, the errors it raised, which
methods it has). Probes judge observations into cells; they import neither an SDK nor the
simulator. The models here are SDK-neutral, so the cozepy driver can return the same ones.

`harness.drivers.coze_js` runs @coze/api in a Node subprocess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field

SDKS = ("cozepy", "coze-js")
"""The SDKs the harness runs: cozepy in this process, @coze/api (coze-js) in Node."""

FlowName = Literal[
    "chat-stream",
    "chat-poll",
    "workflow-run",
    "workflow-stream",
    "workflow-resume",
    "chatflow",
    "workflow-bridge",
    "websocket-chat",
    "chat-submit",
    "workflow-history",
]
FLOWS: tuple[FlowName, ...] = get_args(FlowName)

TEXT_WEBSOCKET_CHAT = "websockets.chat text messages"
"""`Observation.fields` key: False when the SDK's websocket chat starts a chat only with audio."""

MethodKind = Literal["absent", "function", "async-function", "async-generator", "generator"]
"""What an SDK offers under a method name: nothing, or a callable of this kind. An async generator
function (coze-js `submitToolOutputs`, `resume` in later releases) hands its result over as a stream
even when asked for a value."""

CallOutcome = Literal["stream", "value", "raised", "timeout", "pending"]


class DriverUnavailable(RuntimeError):
    """The driver cannot run here; the message says exactly what is missing and how to get it."""


class FlowRequest(BaseModel):
    """One flow for a driver to run: where, as whom, on what, with which answers, within how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flow: FlowName
    base_url: str
    ws_base_url: str | None = Field(None, description="the websocket base URL (wss://...) of websocket-chat")
    token: str
    bot_id: str | None = Field(None, description="the bot of a chat flow")
    conversation_id: str | None = Field(None, description="the conversation of the chat chat-submit names")
    chat_id: str | None = Field(None, description="the chat chat-submit submits to")
    workflow_id: str | None = Field(None, description="the workflow or chatflow of a workflow flow")
    user_id: str = "coze-harness-driver"
    message: str = Field("Paris", description="the user's message of a chat or chatflow")
    parameters: dict[str, Any] = Field(default_factory=dict, description="workflow parameters")
    tool_outputs: dict[str, str] = Field(
        default_factory=dict, description="the answer to a tool call, by tool name (the local code's output)"
    )
    host_tools: bool = Field(
        False, description="the caller's local code answers tool calls (set by a driver given a ToolAnswerer)"
    )
    resume_data: list[str] = Field(
        default_factory=list,
        description="answers to a workflow's interrupts, or to a chatflow's questions (the next message), in order",
    )
    max_rounds: int = Field(5, ge=0, le=50, description="tool rounds answered before the flow stops answering")
    timeout_seconds: float = Field(20.0, gt=0, le=600, description="the whole flow's time limit")


class SdkEvent(BaseModel):
    """One event as the SDK handed it to its caller."""

    name: str
    data: Any = None
    id: Any = None
    call: int = Field(description="index into Observation.calls of the SDK call that delivered it")


class SdkCall(BaseModel):
    """One SDK method call of the flow and what came back from it."""

    method: str = Field(description="dotted, as the SDK spells it: chat.submitToolOutputs, workflows.runs.resume")
    returned: CallOutcome = Field(
        description="a stream (iterated to its end), a value, an exception, or no end in time"
    )
    events: int = 0
    value: Any = Field(None, description="the returned value (JSON-safe), when it was one")
    seconds: float = 0.0


class SdkError(BaseModel):
    type: str = Field(description="the exception's class name")
    message: str
    code: int | None = Field(None, description="the API error code the SDK read, if any")
    status: int | None = Field(None, description="the HTTP status the SDK's error carries, if any")


class ToolCallSeen(BaseModel):
    id: str
    name: str
    arguments: Any = None


class Observation(BaseModel):
    """What an SDK did in one flow: its parsed events in order, its calls, its errors, its surface."""

    sdk: str = Field(description="cozepy, coze-js...")
    sdk_version: str
    flow: FlowName
    events: list[SdkEvent] = Field(default_factory=list)
    calls: list[SdkCall] = Field(default_factory=list)
    tool_rounds: list[list[ToolCallSeen]] = Field(default_factory=list, description="tool calls read, per round")
    result: Any = Field(None, description="the flow's final result as the SDK gave it (answer, run data, status)")
    errors: list[SdkError] = Field(default_factory=list)
    methods: dict[str, MethodKind] = Field(default_factory=dict, description="SDK methods by dotted name")
    fields: dict[str, bool] = Field(
        default_factory=dict,
        description="whether the SDK's models have a field (Chat.required_action), where its types say so; an "
        "untyped SDK leaves this empty",
    )
    timed_out: bool = False
    seconds: float = 0.0
    seconds_after_last_event: float | None = Field(
        None, description="time from the last event delivered to the end of the flow (a client reading to EOF waits)"
    )

    def event_names(self, call: int | None = None) -> list[str]:
        return [event.name for event in self.events if call is None or event.call == call]

    @property
    def answer(self) -> str:
        """The final answer text the flow read, if it has one."""
        if isinstance(self.result, dict):
            answer = self.result.get("answer")
            return answer if isinstance(answer, str) else ""
        return ""


ToolAnswerer = Callable[[ToolCallSeen], str]
"""Local code answering one tool call the SDK handed over: the output to submit."""


class Driver(Protocol):
    """Runs flows with one SDK. Use as a context manager: whatever it started is stopped at the end."""

    sdk: str

    @property
    def sdk_version(self) -> str: ...

    def run(self, request: FlowRequest, tools: ToolAnswerer | None = None) -> Observation:
        """Run one flow; with `tools`, tool calls are answered by that local code (else `request.tool_outputs`)."""
        ...

    def settle(self) -> list[str]:
        """Wait (bounded) for what earlier flows left finishing in the background (cozepy closes a websocket
        chat's connection on a thread of its own while the next chat runs); the problems found there, such as
        a close() that hung. A driver that leaves nothing behind returns []."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Driver: ...

    def __exit__(self, *exc: object) -> None: ...


__all__ = [
    "FLOWS",
    "SDKS",
    "TEXT_WEBSOCKET_CHAT",
    "CallOutcome",
    "Driver",
    "DriverUnavailable",
    "FlowName",
    "FlowRequest",
    "MethodKind",
    "Observation",
    "SdkCall",
    "SdkError",
    "SdkEvent",
    "ToolAnswerer",
    "ToolCallSeen",
]
