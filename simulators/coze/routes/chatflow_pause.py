"""A chatflow's pauses, as the platform profile describes them: question and input nodes, and end-side plugins.

Cloud (reference/coze-openapi/api-markdown/workflow_chat.md): a question or input node pauses the chatflow
with `conversation.chat.requires_action` (after a verbose `{"msg_type":"interrupt"}` message, as the page's
stream example shows), and the next `/v1/workflows/chat` call on the conversation continues it. An end-side
(local) plugin node also ends the turn with `requires_action`, this one carrying the tool call; but "对话流中不支持
提交端插件结果" (a chatflow does not accept local-plugin results), and a user's report from cloud
(coze-dev/coze-py#303) shows `chat.submit_tool_outputs` on such a chat failing with an `error` event in
the stream. Studio: a question or input node pauses without a `required_action` object (the profile's
`pause_chat: minimal`), and end-side plugins are not modelled there (refused before streaming).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import wire
from ..auth import TokenGrant
from ..engines.flows import INTERRUPT_INPUT, Interrupted
from ..envelope import LOGID_HEADER, Code, CozeError, dumps, logid_of
from ..inputs import optional_id
from ..profiles import Profile
from ..scenarios import ToolInterruptNode, WorkflowScenario
from ..simulator import Simulator
from ..sse import chat_frame
from ..store import BoundInterrupt, ChatflowChat, Conversation, ExecutionRecord

LOCAL_PLUGIN_TYPES = (1, 6)
"""Interrupt types of an end-side plugin (the IDL's LocalPlugin and WorkflowLocalPlugin)."""

VERBOSE_INTERRUPT = dumps({"msg_type": "interrupt", "data": "", "from_module": None, "from_unit": None})
"""The verbose message a chatflow completes when it pauses (workflow_chat.md, the stream example)."""

TOOL_OUTPUTS_REFUSED = (
    "chat {chat_id} is a chatflow's: a chatflow does not accept local-plugin results (workflow_chat.md: "
    "对话流中不支持提交端插件结果); run the plugin's code behind an HTTP plugin or an HTTP node instead"
)

Emit = Callable[[str, dict[str, Any]], Awaitable[bytes]]
Completed = Callable[[str, str, str], dict[str, Any]]


def refusal(profile: Profile, workflow: WorkflowScenario) -> str | None:
    """Why this platform cannot run the chatflow at all (checked before streaming), or None."""
    if workflow.asks and profile.chatflow.interrupts == "refused":
        return (
            f"chatflow {workflow.id} ({workflow.name}) has a question or input node, which {profile.title} "
            "does not model in a chatflow; run it with `serve --profile cloud`"
        )
    if profile.chatflow.local_plugin == "refused" and any(isinstance(n, ToolInterruptNode) for n in workflow.nodes):
        return (
            f"chatflow {workflow.id} ({workflow.name}) has an end-side plugin node, which {profile.title} does not "
            "model in a chatflow (its server has no /v3/chat/submit_tool_outputs); run it with `serve --profile cloud`"
        )
    return None


def resumable(paused: BoundInterrupt) -> bool:
    """Whether the next user message continues the pause: question and input nodes yes; an end-side plugin
    no (its results cannot be submitted, so the next message starts a new run)."""
    return paused.type not in LOCAL_PLUGIN_TYPES


def _tool_calls(data: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = json.loads(data)["tool_calls"]
    return calls


async def pause_frames(
    sim: Simulator,
    execution: ExecutionRecord,
    chat: ChatflowChat,
    conversation: Conversation,
    event: Interrupted,
    emit: Emit,
    completed: Completed,
) -> AsyncIterator[bytes]:
    """The events that end a chatflow turn at a pause, and the pause bound to the conversation.

    An input node's form is sent as an answer (a question node has just streamed its question); then, where
    the profile says so, the verbose interrupt message; then `conversation.chat.requires_action` with the
    whole Chat (cloud; `required_action` only for an end-side plugin's tool call) or studio's minimal one."""
    rules = sim.profile.chatflow
    required_action = None
    if event.type in LOCAL_PLUGIN_TYPES:
        required_action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": _tool_calls(event.data)},
        }
    elif event.type == INTERRUPT_INPUT:
        message_id = sim.ids.new_id()
        delta = wire.message(chat, message_id, "answer", event.data, None)
        yield await emit("conversation.message.delta", delta)
        yield await emit("conversation.message.completed", completed(message_id, "answer", event.data))
    if rules.interrupt_message:
        yield await emit("conversation.message.completed", completed(sim.ids.new_id(), "verbose", VERBOSE_INTERRUPT))
    with sim.store.lock:
        assert execution.pending is not None  # the engine set it with the Interrupted event
        node = execution.pending.node_index
        conversation.paused_chatflow = BoundInterrupt(execution.workflow_id, event.event_id, event.type, node, chat.id)
        usage = execution.usage.wire()
    if rules.pause_chat == "chat":
        data = wire.chatflow_chat(chat, sim.profile, "requires_action", usage, required_action=required_action)
    else:
        data = wire.chatflow_paused(chat, execution.id)
    yield await emit("conversation.chat.requires_action", data)


def refuse_tool_outputs(
    sim: Simulator, grant: TokenGrant, conversation_id: str | None, chat_id: str | None, stream: bool
) -> Response | None:
    """`/v3/chat/submit_tool_outputs` for a chatflow chat paused at an end-side plugin: a stream whose only
    event is `error` (coze-py#303), or the same refusal as an envelope when no stream was asked for. None
    when the ids name no such chat (the route goes on to look up a bot chat). The execution fails."""
    if not conversation_id or not chat_id:
        return None
    with sim.store.lock:
        conversation = sim.store.conversations.get(conversation_id)
        paused = conversation.paused_chatflow if conversation is not None else None
        if paused is None or paused.chat_id != chat_id or not grant.may_use_workflow(paused.workflow_id):
            return None
        if resumable(paused):
            return None  # a question or input pause: not a tool call; the bot-chat lookup answers 4200
        assert conversation is not None
        conversation.paused_chatflow = None
        execution = sim.store.executions.get(paused.event_id.partition("/")[0])
    message = TOOL_OUTPUTS_REFUSED.format(chat_id=chat_id)
    if execution is not None:
        sim.flows.fail(execution, Code.BAD_REQUEST, message)
    return _refusal_response(sim, message, stream)


def _refusal_response(sim: Simulator, message: str, stream: bool) -> Response:
    """The stream holds the `error` event alone, as the report shows it raised (cozepy raises on `error`)."""
    if not stream:
        raise CozeError(Code.BAD_REQUEST, message)
    body = chat_frame("error", {"code": int(Code.BAD_REQUEST), "msg": message})
    return Response(body, headers=dict(sim.profile.headers.chat))


def handle_tool_outputs(request: Request, sim: Simulator, grant: TokenGrant, body: dict[str, Any]) -> Response | None:
    """The hook `/v3/chat/submit_tool_outputs` calls after the token and body, before its bot-chat lookup."""
    stream = body.get("stream") is True
    response = refuse_tool_outputs(
        sim, grant, optional_id(request, body, "conversation_id"), optional_id(request, body, "chat_id"), stream
    )
    if response is not None:
        response.headers[LOGID_HEADER] = logid_of(request)
    return response
