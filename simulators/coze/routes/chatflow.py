"""Chatflows: /v1/workflows/chat, a workflow run as a chat, in chat framing and chat event names.

Everything a client can get wrong is checked before the stream starts (an envelope); once streaming,
a failure is `conversation.chat.failed`. A question or input node pauses the chat, and the next
message on the conversation answers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from .. import openapi_doc as doc
from .. import wire
from ..engines.bots import VERBOSE_FINISH
from ..engines.flows import (
    INTERRUPT_INPUT,
    Finished,
    FlowEvent,
    Interrupted,
    NodeMessage,
    Ping,
    RawEvent,
)
from ..envelope import CozeError, bad_request, dumps, logid_of
from ..files import parameter_files
from ..inputs import InputMessage, Lenient, NotJson, json_body, optional_id, parse_json, user_text, validate
from ..openapi_doc import documented
from ..scenarios import InputNode, WorkflowScenario
from ..simulator import Simulator, simulator_of
from ..sse import framed
from ..store import BoundInterrupt, ChatflowChat, Conversation, ExecutionRecord
from .chatflow_pause import pause_frames, refusal, resumable
from .conversations import new_message, open_conversation, save_inputs
from .workflows import RUN_MODE_STREAM, one_owner, runnable

router = APIRouter()


class ChatflowRequest(Lenient):
    workflow_id: str = Field(min_length=1)
    additional_messages: list[InputMessage] | None = None
    parameters: Any = None
    app_id: str | None = None
    bot_id: str | None = None
    conversation_id: str | None = None
    ext: dict[str, Any] | None = None


async def _chatflow_frames(
    sim: Simulator,
    execution: ExecutionRecord,
    chat: ChatflowChat,
    conversation: Conversation,
    events: AsyncGenerator[FlowEvent, None],
) -> AsyncIterator[bytes]:
    """Chat event names in the profile's chatflow framing: created, in_progress, a delta per chunk and a
    completed message per node, then chat.completed (or chat.failed), then `done` carrying the debug_url.
    A question or input node (studio) ends the turn with requires_action instead. PINGs are not sent."""
    delay = sim.config.event_delay_seconds
    style = sim.profile.streams.chatflow
    count = 0

    def usage() -> dict[str, int]:
        with sim.store.lock:
            return execution.usage.wire()

    async def emit(name: str, data: dict[str, Any]) -> bytes:
        nonlocal count
        if delay and count:
            await asyncio.sleep(delay)
        count += 1
        return framed(style, count - 1, name, data)

    def completed(message_id: str, kind: str, content: str) -> dict[str, Any]:
        message = wire.message(chat, message_id, kind, content, sim.clock.now())
        if kind == "answer":  # the history keeps answers, not verbose messages
            with sim.store.lock:
                saved = new_message(
                    sim,
                    conversation,
                    role="assistant",
                    kind=kind,
                    content=content,
                    chat_id=chat.id,
                    bot_id=chat.bot_id or "",
                    message_id=message_id,
                )
                conversation.messages.append(saved)
        return message

    yield await emit("conversation.chat.created", wire.chatflow_chat(chat, sim.profile, "created", usage()))
    yield await emit("conversation.chat.in_progress", wire.chatflow_chat(chat, sim.profile, "in_progress", usage()))
    message_id: str | None = None
    parts: list[str] = []
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, Ping | RawEvent):
                continue
            if isinstance(event, NodeMessage):
                if message_id is None:
                    message_id, parts = sim.ids.new_id(), []
                parts.append(event.content)
                if event.content:
                    delta = wire.message(chat, message_id, "answer", event.content, None)
                    yield await emit("conversation.message.delta", delta)
                if event.is_finish:
                    message = completed(message_id, "answer", "".join(parts))
                    yield await emit("conversation.message.completed", message)
                    message_id = None
                continue
            if isinstance(event, Finished):
                finish = completed(sim.ids.new_id(), "verbose", VERBOSE_FINISH)
                yield await emit("conversation.message.completed", finish)
                chat.completed_at = sim.clock.now()
                yield await emit(
                    "conversation.chat.completed", wire.chatflow_chat(chat, sim.profile, "completed", usage())
                )
            elif isinstance(event, Interrupted):
                async for frame in pause_frames(sim, execution, chat, conversation, event, emit, completed):
                    yield frame
            else:
                chat.failed_at = sim.clock.now()
                chat.last_error = (event.code, event.message)
                yield await emit("conversation.chat.failed", wire.chatflow_chat(chat, sim.profile, "failed", usage()))
            break
    yield await emit("done", {"debug_url": execution.debug_url})


def _chatflow_answer(workflow: WorkflowScenario, paused: BoundInterrupt, text: str) -> str:
    """The next user message as resume data: a question's answer as is; an input node's `key:value` lines
    (studio's chat form) as the JSON object stream_resume would carry, each value of its field's type
    (a value that is not of it is left a string, which the resume then refuses naming the field)."""
    if paused.type != INTERRUPT_INPUT:
        return text
    node = workflow.nodes[paused.node_index]
    types = {spec.name: spec.type for spec in node.fields} if isinstance(node, InputNode) else {}
    answer: dict[str, Any] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            answer[key.strip()] = _typed(value.strip(), types.get(key.strip(), "string"))
    return dumps(answer)


def _typed(value: str, kind: str) -> Any:
    if kind == "string":
        return value
    try:
        return parse_json(value, "the answer")
    except NotJson:  # left a string, which the resume refuses naming the field
        return value


@router.post(
    "/v1/workflows/chat",
    **documented("run a chatflow", request=ChatflowRequest, stream_event=doc.ChatEventData, source="workflow_chat.md"),
)
async def chatflow(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    body = await json_body(request)
    req = validate(ChatflowRequest, body)
    conversation_id = optional_id(request, body, "conversation_id")
    one_owner(req.bot_id, req.app_id)
    workflow = runnable(sim, grant, req.workflow_id, "chatflow")
    refused = refusal(sim.profile, workflow)
    if refused is not None:
        raise bad_request(refused)
    sim.check_request(workflow)
    parameters = sim.flows.check_parameters(workflow, req.parameters)
    files = parameter_files(sim.files, grant, workflow, parameters)
    messages = req.additional_messages or []
    text = user_text(messages)
    with sim.store.lock:
        conversation = open_conversation(sim, grant, conversation_id, workflow_id=workflow.id)
        paused, conversation.paused_chatflow = conversation.paused_chatflow, None
        save_inputs(sim, conversation, messages)
    if paused is not None and paused.workflow_id == workflow.id and resumable(paused):
        try:
            answer = _chatflow_answer(workflow, paused, text)
            execution = sim.flows.claim_resume(workflow, paused.event_id, paused.type, answer)
        except CozeError:
            with sim.store.lock:  # a refused answer keeps the pause: the next message may answer it right
                conversation.paused_chatflow = paused
            raise
    else:
        execution = sim.flows.start(
            workflow,
            parameters=parameters,
            run_mode=RUN_MODE_STREAM,
            logid=logid_of(request),
            bot_id=req.bot_id,
            ext=req.ext,
            user_message=text,
        )
        execution.files = files  # before any node runs
    chat = ChatflowChat(
        id=sim.ids.new_id(),
        conversation_id=conversation.id,
        section_id=conversation.section_id,
        bot_id=req.bot_id,
        created_at=sim.clock.now(),
    )
    frames = _chatflow_frames(sim, execution, chat, conversation, sim.flows.run(workflow, execution))
    style = sim.profile.streams.chatflow
    headers = sim.profile.headers.workflow if style.framing == "numbered" else sim.profile.headers.chat
    return sim.stream(request, frames, workflow, lambda code, msg: sim.flows.fail(execution, code, msg), headers)
