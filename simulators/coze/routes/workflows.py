"""Workflows: run, stream_run, stream_resume, resume, run histories and node runs, list, retrieve, versions.

Everything a client can get wrong (token, body, workflow id, parameters, resume) is checked before a
stream starts, so it is answered with a JSON envelope, which clients branch on by content type.
Once streaming, failures are events: a workflow `Error`, a `conversation.chat.failed`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from .. import openapi_doc as doc
from .. import wire
from ..auth import TokenGrant
from ..engines.flows import (
    Failed,
    Finished,
    FlowEvent,
    Interrupted,
    NodeMessage,
    RawEvent,
    interrupt_not_supported,
    settle_in_background,
)
from ..envelope import Code, CozeError, bad_request, logid_of, not_found, ok
from ..files import parameter_files
from ..inputs import Lenient, json_body, validate
from ..openapi_doc import documented
from ..profiles import Profile
from ..scenarios import WorkflowScenario
from ..simulator import Simulator, simulator_of
from ..sse import framed
from ..store import ExecutionRecord

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


def one_owner(bot_id: str | None, app_id: str | None) -> None:
    """A run names the bot or the app it runs in, never both (workflow_stream_run.md and workflow_chat.md:
    "请勿同时指定 bot_id 和 app_id" ... "4000")."""
    if bot_id and app_id:
        raise bad_request(
            "bot_id and app_id cannot both be given: name app_id for a workflow of an app, bot_id for one the "
            "bot runs, neither for one of the space's library"
        )


def runnable(
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
    one_owner(req.bot_id, req.app_id)
    workflow = runnable(sim, grant, req.workflow_id, "workflow")
    sim.check_request(workflow)
    parameters = sim.flows.check_parameters(workflow, req.parameters)
    files = parameter_files(sim.files, grant, workflow, parameters)
    run_mode = RUN_MODE_STREAM if stream else RUN_MODE_ASYNC if req.is_async else RUN_MODE_SYNC
    execution = sim.flows.start(
        workflow, parameters=parameters, run_mode=run_mode, logid=logid_of(request), bot_id=req.bot_id, ext=req.ext
    )
    execution.files = files  # before any node runs: the run has not been streamed or polled yet
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


@router.post(
    "/v1/workflow/run",
    **documented("run a workflow", request=RunRequest, top_level=doc.WorkflowRunResult, source="workflow_run.md"),
)
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


@router.post(
    "/v1/workflow/stream_run",
    **documented(
        "run a workflow, streamed",
        request=RunRequest,
        stream_event=doc.WorkflowEventData,
        source="workflow_stream_run.md",
    ),
)
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


@router.post(
    "/v1/workflow/stream_resume",
    **documented(
        "resume an interrupted workflow, streamed",
        request=ResumeRequest,
        stream_event=doc.WorkflowEventData,
        source="workflow_resume.md",
    ),
)
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


@router.get(
    "/v1/workflows/{workflow_id}/run_histories/{execute_id}",
    **documented("an execution's run history", data=list[doc.RunHistory], source="workflow_history.md"),
)
async def run_history(request: Request, workflow_id: str, execute_id: str) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    workflow = _workflow(sim, grant, workflow_id)
    return ok(request, [sim.flows.history(workflow.id, execute_id)])


@router.post(
    "/v1/workflows/resume",
    **documented(
        "resume an interrupted workflow",
        request=ResumeRequest,
        top_level=doc.WorkflowRunResult,
        source="resume_workflow.md",
    ),
)
async def resume_workflow(request: Request) -> Response:
    """The non-stream resume (api-markdown/resume_workflow.md): the same body as stream_resume, answered like
    /v1/workflow/run: the output (sync), the execute_id (a run started async), or `interrupt_data` with the
    execute_id when the run pauses again."""
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    req = validate(ResumeRequest, await json_body(request))
    workflow = _workflow(sim, grant, req.workflow_id)
    sim.check_request(workflow)
    execution = sim.flows.claim_resume(workflow, req.event_id, req.interrupt_type, req.resume_data)
    if execution.run_mode == RUN_MODE_ASYNC:
        sim.flows.spawn(settle_in_background(sim.flows, workflow, execution))
        return ok(request, execute_id=execution.id, debug_url=execution.debug_url)
    outcome = await sim.flows.outcome(workflow, execution)
    if isinstance(outcome, Finished):
        return ok(request, outcome.output, debug_url=execution.debug_url, usage=execution.usage.wire())
    if isinstance(outcome, Interrupted):
        interrupt = {"event_id": outcome.event_id, "type": outcome.type, "data": outcome.data}
        return ok(request, execute_id=execution.id, debug_url=execution.debug_url, interrupt_data=interrupt)
    raise CozeError(outcome.code, outcome.message, debug_url=execution.debug_url)


@router.get(
    "/v1/workflows/{workflow_id}/run_histories/{execute_id}/execute_nodes/{node_execute_uuid}",
    **documented("one node run of an execution", data=doc.NodeExecuteHistory),
)
async def node_execute_history(request: Request, workflow_id: str, execute_id: str, node_execute_uuid: str) -> Response:
    """One node's run (cozepy 0.17+ `run_histories.execute_nodes.retrieve`); uuids come from the run
    history's `node_execute_status`."""
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    workflow = _workflow(sim, grant, workflow_id)
    return ok(request, sim.flows.node_history(workflow.id, execute_id, node_execute_uuid))


class _ListQuery(Lenient):
    workspace_id: str | None = None
    page_num: int = Field(1, ge=1)
    page_size: int = Field(10, ge=1, le=100)
    workflow_mode: Literal["workflow", "chatflow"] | None = None
    app_id: str | None = None
    publish_status: Literal["all", "published_online", "published_draft", "unpublished_draft"] | None = None


def _published(workflow: WorkflowScenario, status: str | None) -> bool:
    """Whether a workflow shows under a publish_status filter (published_online when none is given)."""
    if status in (None, "published_online", "published_draft"):
        return workflow.published
    return status == "all" or not workflow.published


@router.get("/v1/workflows", **documented("the workflows", data=doc.WorkflowList, source="get_workflow_list.md"))
async def list_workflows(request: Request) -> Response:
    """The catalogue's workflows and chatflows the token may use (api-markdown/get_workflow_list.md),
    paged by page_num/page_size with has_more; workflows outside an app only (app_id "0")."""
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    query = validate(_ListQuery, dict(request.query_params))
    found = [
        w
        for _, w in sorted(sim.catalogue.workflows.items())
        if grant.may_use_workflow(w.id)
        and (query.workflow_mode is None or w.kind == query.workflow_mode)
        and _published(w, query.publish_status)
        and query.app_id in (None, "", "0")
    ]
    start = (query.page_num - 1) * query.page_size
    page = found[start : start + query.page_size]
    items = [wire.workflow_basic(w, sim.config.clock_start) for w in page]
    return ok(request, {"items": items, "has_more": start + query.page_size < len(found)})


@router.get(
    "/v1/workflows/{workflow_id}", **documented("one workflow", data=doc.WorkflowInfo, source="get_workflow_info.md")
)
async def retrieve_workflow(request: Request, workflow_id: str) -> Response:
    """One workflow (api-markdown/get_workflow_info.md); `include_input_output=true` adds its start node's
    parameters and its output."""
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    workflow = _workflow(sim, grant, workflow_id)
    info: dict[str, Any] = {"workflow_detail": wire.workflow_basic(workflow, sim.config.clock_start)}
    if request.query_params.get("include_input_output") == "true":
        info["input"] = {"parameters": wire.workflow_parameters(workflow)}
        info["output"] = {"parameters": {}}
    return ok(request, info)


class _VersionsQuery(Lenient):
    publish_status: Literal["all", "published_online", "unpublished_draft"] | None = None
    page_size: int = Field(10, ge=1, le=30)
    page_token: str | None = None


@router.get("/v1/workflows/{workflow_id}/versions", **documented("a workflow's versions", data=doc.WorkflowVersionList))
async def list_versions(request: Request, workflow_id: str) -> Response:
    """A workflow's versions (cozepy 0.20 `workflows.versions.list`): a published workflow has one, v0.0.1;
    the catalogue keeps no history, so there is never a next page."""
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    workflow = _workflow(sim, grant, workflow_id)
    query = validate(_VersionsQuery, dict(request.query_params))
    if query.page_token not in (None, ""):
        raise bad_request(f"page_token {query.page_token!r} is not one this server gave; omit it for the first page")
    shown = workflow.published if query.publish_status in (None, "published_online", "all") else False
    items = [wire.workflow_version(workflow, "v0.0.1", sim.config.clock_start)] if shown else []
    return ok(request, {"items": items, "has_more": False, "next_page_token": ""})
