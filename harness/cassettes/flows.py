"""The flows `coze-harness record` runs: small functions that drive the real `cozepy` client.

A flow takes a cozepy client, the ids it should use (by role: `bot_id`, `workflow_id`) and its
input, and returns its outcome: what the client saw, as plain JSON. The outcome is stored in the
cassette, so replaying the flow from the cassette must give it again; it is kept to what any
supported cozepy release reports the same way (event names as strings, answers, error codes).

Each flow names the simulator scenario it uses by default and the environment variable that gives
the id on a real Coze account; `gap()` says why the installed cozepy cannot run it, if it cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from .. import sdk
from ..sdk import event_name

WEATHER_BOT = "7390000000000000002"
UNKNOWN_BOT = "7390000000000009999"
JOKE_WORKFLOW = "7440000000000000001"
QUESTION_WORKFLOW = "7440000000000000002"


class FlowInput(BaseModel):
    user_id: str = Field("coze-harness-user", description="the user id the client sends (redacted in cassettes)")
    text: str | None = Field(None, description="the user's message, workflow topic or resume answer")


Outcome = dict[str, Any]


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    roles: Mapping[str, str]
    """role -> the simulator's id for it."""
    env: Mapping[str, str]
    """role -> the environment variable giving the id on a real account (roles not listed keep the default)."""
    default_text: str
    run: Callable[[Any, Mapping[str, str], str, str], Outcome]
    """(coze, ids by role, user id, text) -> outcome."""
    gap: Callable[[], str | None] = lambda: None


def _user_message(text: str) -> Any:
    import cozepy

    return cozepy.Message(role="user", type="question", content=text, content_type="text")


def _error(exc: Exception) -> Outcome:
    """An exception as an outcome: its type and, for API errors, the code (the message holds a log id)."""
    code = getattr(exc, "code", None)
    return {"error": type(exc).__name__, "code": code if isinstance(code, int) else None}


# --- chat-local-plugin --------------------------------------------------------------------------


def _chat_local_plugin(coze: Any, ids: Mapping[str, str], user_id: str, text: str) -> Outcome:
    from ..local_plugin import LocalPluginRunner
    from ..probes.demo_tools import registry

    result = LocalPluginRunner(coze, registry, user_id=user_id).run(ids["bot_id"], text)
    return {
        "status": result.status,
        "answer": result.answer,
        "rounds": result.rounds,
        "tool_calls": [
            {"name": call.name, "arguments": call.arguments, "output": call.output, "ok": call.ok}
            for call in result.tool_calls
        ],
    }


# --- workflow-stream ----------------------------------------------------------------------------


def _messages(events: list[Any]) -> list[str]:
    return [str(event.message.content) for event in events if event_name(event) == "Message"]


def _workflow_stream(coze: Any, ids: Mapping[str, str], user_id: str, text: str) -> Outcome:
    events = list(coze.workflows.runs.stream(workflow_id=ids["workflow_id"], parameters={"topic": text}))
    return {"events": [event_name(event) for event in events], "messages": _messages(events)}


# --- workflow-interrupt-resume ------------------------------------------------------------------


def _workflow_interrupt_resume(coze: Any, ids: Mapping[str, str], user_id: str, text: str) -> Outcome:
    workflow_id = ids["workflow_id"]
    first = list(coze.workflows.runs.stream(workflow_id=workflow_id))
    interrupts = [event for event in first if event_name(event) == "Interrupt"]
    if not interrupts:
        return {"first": [event_name(event) for event in first], "interrupted": False}
    data = interrupts[0].interrupt.interrupt_data
    second = list(
        coze.workflows.runs.resume(
            workflow_id=workflow_id,
            event_id=data.event_id,
            resume_data=text,
            interrupt_type=data.type,
        )
    )
    return {
        "first": [event_name(event) for event in first],
        "interrupt_type": int(data.type),
        "second": [event_name(event) for event in second],
        "messages": _messages(second),
    }


def _resume_gap() -> str | None:
    if sdk.workflow_resume_sends_event_id():
        return None
    return f"cozepy {sdk.version()}'s resume sends 'id' instead of 'event_id' (coze-py#196): resume cannot work"


# --- chat-error ---------------------------------------------------------------------------------


def _chat_error(coze: Any, ids: Mapping[str, str], user_id: str, text: str) -> Outcome:
    names: list[str] = []
    try:
        for event in coze.chat.stream(bot_id=ids["bot_id"], user_id=user_id, additional_messages=[_user_message(text)]):
            names.append(event_name(event))
    except Exception as exc:  # the error is the point of this flow
        return {"events": names, **_error(exc)}
    return {"events": names, "error": None, "code": None}


FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (
        Flow(
            name="chat-local-plugin",
            description="weather bot: requires_action with two tool calls, answered by the LocalPluginRunner",
            roles={"bot_id": WEATHER_BOT},
            env={"bot_id": "COZE_BOT_ID"},
            default_text="São Paulo",
            run=_chat_local_plugin,
            gap=sdk.tool_call_gap,
        ),
        Flow(
            name="workflow-interrupt-resume",
            description="question workflow: a stream ending in an Interrupt (type 2), then stream_resume",
            roles={"workflow_id": QUESTION_WORKFLOW},
            env={"workflow_id": "COZE_WORKFLOW_ID"},
            default_text="Zürich",
            run=_workflow_interrupt_resume,
            gap=_resume_gap,
        ),
        Flow(
            name="workflow-stream",
            description="joke workflow: a message node streamed in chunks, then the end node's output",
            roles={"workflow_id": JOKE_WORKFLOW},
            env={"workflow_id": "COZE_WORKFLOW_ID"},
            default_text="猫 and café ☕",
            run=_workflow_stream,
        ),
        Flow(
            name="chat-error",
            description="a chat stream for a bot that does not exist: an error envelope instead of a stream",
            roles={"bot_id": UNKNOWN_BOT},
            env={},
            default_text="hello",
            run=_chat_error,
        ),
    )
}


def run_flow(name: str, coze: Any, ids: Mapping[str, str] | None = None, given: FlowInput | None = None) -> Outcome:
    """Run flow `name` with `coze`; ids default to the simulator's, the text to the flow's own."""
    flow = FLOWS[name]
    given = given or FlowInput()
    text = given.text if given.text is not None else flow.default_text
    return flow.run(coze, {**flow.roles, **(ids or {})}, given.user_id, text)
