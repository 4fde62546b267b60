"""Workflows and chatflows: run, stream_run, stream_resume, run histories, and /v1/workflows/chat.

Everything a client can get wrong (token, body, workflow id, parameters, resume) is checked before a
stream starts, so it is answered with a JSON envelope, which clients branch on by content type.
Once streaming, failures are events: a workflow `Error`, a `conversation.chat.failed`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from .auth import TokenGrant
from .bots import VERBOSE_FINISH
from .context import Simulator, simulator_of
from .conversations import InputMessage, open_conversation, user_text
from .envelope import Code, CozeError, bad_request, dumps, logid_of, not_found, ok
from .flows import (
    INTERRUPT_INPUT,
    Failed,
    Finished,
    FlowEvent,
    Interrupted,
    NodeMessage,
    Ping,
    RawEvent,
    interrupt_not_supported,
    settle_in_background,
)
from .inputs import Lenient, NotJson, json_body, optional_id, parse_json, validate
from .profiles import Profile
from .scenarios import InputNode, WorkflowScenario
from .sse import framed
from .state import BoundInterrupt, Conversation, ExecutionRecord

router = APIRouter()

RUN_MODE_SYNC = 0
RUN_MODE_STREAM = 1
RUN_MODE_ASYNC = 2


class RunRequest(Lenient):
    """`/v1/workflow/run` and `/v1/workflow/stream_run` (which has no `is_async`)."""

    workflow_id: str = Field(min_length=1)
    parameters: Any = None  # an object, or the object JSON-encoded; checked against the scenario
    bot_id: str | None = None
    app_id: str | None = None
    is_async: bool | None = False
    ext: dict[str, Any] | None = None


class ResumeRequest(Lenient):
    workflow_id: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    resume_data: str
    interrupt_type: int


class ChatflowRequest(Lenient):
    workflow_id: str = Field(min_length=1)
    additional_messages: list[InputMessage] | None = None
    parameters: Any = None
    app_id: str | None = None
    bot_id: str | None = None
    conversation_id: str | None = None
    ext: dict[str, Any] | None = None


# --- lookups ----------------------------------------------------------------------------------


def _workflow(sim: Simulator, grant: TokenGrant, workflow_id: str) -> WorkflowScenario:
    """A workflow the token may use: the grant first (4101, known or not), then the catalogue (4200)."""
    if not workflow_id.isdigit():
        raise bad_request(f"workflow_id must be a decimal id string, got {workflow_id!r}")
    sim.auth.require_workflow(grant, workflow_id)
    workflow = sim.catalogue.workflows.get(workflow_id)
    if workflow is None:
        raise not_found(f"workflow {workflow_id} does not exist; check workflow_id (coze-harness catalogue lists them)")
    return workflow


def _runnable(
    sim: Simulator, grant: TokenGrant, workflow_id: str, kind: Literal["workflow", "chatflow"]
) -> WorkflowScenario:
    """A workflow the caller may run: known (4200), permitted (4101), published (6031), of the right kind."""
    workflow = _workflow(sim, grant, workflow_id)
    if not workflow.published:
        raise CozeError(
            Code.WORKFLOW_NOT_PUBLISHED,
            f"workflow {workflow.id} ({workflow.name}) is not published; publish it before running it through the API",
        )
    if workflow.kind != kind:
        if kind == "chatflow":
            raise bad_request(
                f"workflow {workflow.id} ({workflow.name}) is a workflow, not a chatflow; run it with "
                "/v1/workflow/run or /v1/workflow/stream_run"
            )
        raise bad_request(f"workflow {workflow.id} ({workflow.name}) is a chatflow; run it with /v1/workflows/chat")
    return workflow


async def _start(request: Request, *, stream: bool) -> tuple[WorkflowScenario, ExecutionRecord, RunRequest]:
    """Everything a run checks before it starts, then the new execution (run_mode as history reports it)."""
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    req = validate(RunRequest, await json_body(request))
    workflow = _runnable(sim, grant, req.workflow_id, "workflow")
    sim.check_request(workflow)
    parameters = sim.flows.check_parameters(workflow, req.parameters)
    run_mode = RUN_MODE_STREAM if stream else RUN_MODE_ASYNC if req.is_async else RUN_MODE_SYNC
    execution = sim.flows.start(
        workflow, parameters=parameters, run_mode=run_mode, logid=logid_of(request), bot_id=req.bot_id, ext=req.ext
    )
    return workflow, execution, req


# --- workflow framing -------------------------------------------------------------------------


def _workflow_event(event: FlowEvent, debug_url: str, profile: Profile) -> tuple[str, dict[str, Any]]:
    """An engine event as a workflow SSE event name and data (CONTRACT.md, 'Workflows')."""
    if isinstance(event, NodeMessage):
        data: dict[str, Any] = {
            "content": event.content,
            "content_type": "text",
            "node_title": event.node_title,
            "node_seq_id": str(event.seq),
            "node_id": event.node_id,
            "node_type": event.node_type,
            "node_is_finish": event.is_finish,
        }
        if event.usage is not None:
            data["usage"] = event.usage
        return "Message", data
    if isinstance(event, Interrupted):
        interrupt = {"event_id": event.event_id, "type": event.type, "data": event.data}
        if profile.workflow.interrupt_node_title:
            return "Interrupt", {"interrupt_data": interrupt, "node_title": event.node_title, "debug_url": debug_url}
        return "Interrupt", {"debug_url": debug_url, "interrupt_data": interrupt}
    if isinstance(event, Failed):
        return "Error", {"error_code": event.code, "error_message": event.message, "debug_url": debug_url}
    if isinstance(event, Finished):
        return "Done", {"debug_url": debug_url}
    if isinstance(event, RawEvent):
        return event.event, json.loads(event.data)
    return "PING", {}


async def _workflow_frames(
    sim: Simulator, execution: ExecutionRecord, events: AsyncGenerator[FlowEvent, None]
) -> AsyncIterator[bytes]:
    """`id: N` / `event: NAME` / `data: JSON` frames, ids from 0; the stream ends with Done, Error or Interrupt."""
    delay = sim.config.event_delay_seconds
    style = sim.profile.streams.workflow
    async with aclosing(events) as stream:
        index = 0
        async for event in stream:
            if delay and index:
                await asyncio.sleep(delay)
            name, data = _workflow_event(event, execution.debug_url, sim.profile)
            yield framed(style, index, name, data)
            index += 1


# --- routes -----------------------------------------------------------------------------------


@router.post("/v1/workflow/run")
async def run_workflow(request: Request) -> Response:
    sim = simulator_of(request)
    workflow, execution, req = await _start(request, stream=False)
    if req.is_async:
        sim.flows.spawn(settle_in_background(sim.flows, workflow, execution))
        return ok(request, execute_id=execution.id, debug_url=execution.debug_url)
    outcome = await sim.flows.outcome(workflow, execution)
    if isinstance(outcome, Finished):
        return ok(request, outcome.output, debug_url=execution.debug_url, usage=execution.usage.wire())
    if isinstance(outcome, Interrupted):
        message = interrupt_not_supported(workflow, outcome)
        sim.flows.fail(execution, Code.WORKFLOW_INTERRUPT_IN_SYNC_RUN, message)
        raise CozeError(Code.WORKFLOW_INTERRUPT_IN_SYNC_RUN, message, debug_url=execution.debug_url)
    raise CozeError(outcome.code, outcome.message, debug_url=execution.debug_url)


@router.post("/v1/workflow/stream_run")
async def stream_run(request: Request) -> Response:
    sim = simulator_of(request)
    workflow, execution, _ = await _start(request, stream=True)
    return _workflow_stream(request, sim, workflow, execution)


def _workflow_stream(
    request: Request, sim: Simulator, workflow: WorkflowScenario, execution: ExecutionRecord
) -> Response:
    """A workflow stream; an injected `Error` fault fails the execution with the fault's code."""
    frames = _workflow_frames(sim, execution, sim.flows.run(workflow, execution))
    return sim.stream(
        request, frames, workflow, lambda code, msg: sim.flows.fail(execution, code, msg), sim.profile.headers.workflow
    )


@router.post("/v1/workflow/stream_resume")
async def stream_resume(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    body = await json_body(request)
    if "event_id" not in body and "id" in body:
        raise bad_request(
            "event_id is required; this body has 'id' instead, which some cozepy releases send by mistake "
            "(coze-py#196, fixed in coze-py#213): send the interrupt's event_id as 'event_id'"
        )
    req = validate(ResumeRequest, body)
    workflow = _workflow(sim, grant, req.workflow_id)
    sim.check_request(workflow)
    execution = sim.flows.claim_resume(workflow, req.event_id, req.interrupt_type, req.resume_data)
    return _workflow_stream(request, sim, workflow, execution)


@router.get("/v1/workflows/{workflow_id}/run_histories/{execute_id}")
async def run_history(request: Request, workflow_id: str, execute_id: str) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    workflow = _workflow(sim, grant, workflow_id)
    return ok(request, [sim.flows.history(workflow.id, execute_id)])


# --- chatflows --------------------------------------------------------------------------------


@dataclass
class _ChatflowChat:
    """The Chat object of a chatflow stream; `bot_id` only when the request named one (the platform's
    published capture has none, and cozepy accepts that from 0.9, the first release with chatflows)."""

    id: str
    conversation_id: str
    section_id: str
    bot_id: str | None
    created_at: int
    completed_at: int | None = None
    failed_at: int | None = None
    last_error: tuple[int, str] = (0, "")

    def wire(self, status: str, usage: dict[str, int]) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "conversation_id": self.conversation_id}
        if self.bot_id is not None:
            body["bot_id"] = self.bot_id
        body["created_at"] = self.created_at
        if self.completed_at is not None:
            body["completed_at"] = self.completed_at
        if self.failed_at is not None:
            body["failed_at"] = self.failed_at
        body["last_error"] = {"code": self.last_error[0], "msg": self.last_error[1]}
        body["status"] = status
        body["usage"] = usage
        body["section_id"] = self.section_id
        return body

    def message(self, message_id: str, kind: str, content: str, now: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"id": message_id, "conversation_id": self.conversation_id}
        if self.bot_id is not None:
            body["bot_id"] = self.bot_id
        body.update(role="assistant", type=kind, content=content, content_type="text", chat_id=self.id)
        body["section_id"] = self.section_id
        if now is not None:
            body["created_at"] = now
            body["updated_at"] = now
        return body


async def _chatflow_frames(
    sim: Simulator,
    execution: ExecutionRecord,
    chat: _ChatflowChat,
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
        message = chat.message(message_id, kind, content, sim.clock.now())
        with sim.store.lock:
            conversation.messages.append(message)
        return message

    yield await emit("conversation.chat.created", chat.wire("created", usage()))
    yield await emit("conversation.chat.in_progress", chat.wire("in_progress", usage()))
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
                    delta = chat.message(message_id, "answer", event.content, None)
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
                yield await emit("conversation.chat.completed", chat.wire("completed", usage()))
            elif isinstance(event, Interrupted):
                async for frame in _chatflow_pause(sim, execution, chat, conversation, event, emit, completed):
                    yield frame
            else:
                chat.failed_at = sim.clock.now()
                chat.last_error = (event.code, event.message)
                yield await emit("conversation.chat.failed", chat.wire("failed", usage()))
            break
    yield await emit("done", {"debug_url": execution.debug_url})


async def _chatflow_pause(
    sim: Simulator,
    execution: ExecutionRecord,
    chat: _ChatflowChat,
    conversation: Conversation,
    event: Interrupted,
    emit: Callable[[str, dict[str, Any]], Awaitable[bytes]],
    completed: Callable[[str, str, str], dict[str, Any]],
) -> AsyncIterator[bytes]:
    """A question or input node in a chatflow, as studio answers it: the node's prompt as an answer (a
    question node has just streamed its own), `conversation.chat.requires_action` with no
    `required_action` object, and the interrupt bound to the conversation for the next user message."""
    if event.type == INTERRUPT_INPUT:
        message_id = sim.ids.new_id()
        yield await emit("conversation.message.delta", chat.message(message_id, "answer", event.data, None))
        yield await emit("conversation.message.completed", completed(message_id, "answer", event.data))
    with sim.store.lock:
        assert execution.pending is not None  # the engine set it with the Interrupted event
        node = execution.pending.node_index
        conversation.paused_chatflow = BoundInterrupt(execution.workflow_id, event.event_id, event.type, node)
    paused = {
        "id": chat.id,
        "conversation_id": chat.conversation_id,
        "section_id": chat.section_id,
        "status": "requires_action",
        "execute_id": execution.id,
    }
    yield await emit("conversation.chat.requires_action", paused)


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


@router.post("/v1/workflows/chat")
async def chatflow(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    body = await json_body(request)
    req = validate(ChatflowRequest, body)
    conversation_id = optional_id(request, body, "conversation_id")
    workflow = _runnable(sim, grant, req.workflow_id, "chatflow")
    if workflow.asks and sim.profile.chatflow.interrupts == "refused":
        raise bad_request(
            f"chatflow {workflow.id} ({workflow.name}) has a question or input node, and how {sim.profile.title} "
            "surfaces one in a chatflow is not documented; run it with `serve --profile studio`"
        )
    sim.check_request(workflow)
    parameters = sim.flows.check_parameters(workflow, req.parameters)
    messages = req.additional_messages or []
    text = user_text(messages)
    with sim.store.lock:
        conversation = open_conversation(sim, grant, conversation_id, workflow_id=workflow.id)
        paused, conversation.paused_chatflow = conversation.paused_chatflow, None
        conversation.messages.extend(m.model_dump(exclude_none=True) for m in messages)
    if paused is not None and paused.workflow_id == workflow.id:
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
    chat = _ChatflowChat(
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
