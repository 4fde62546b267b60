"""What `/openapi.json` says about each route: its request body and its answer, as schemas.

The routes read the `Request` themselves (the token is checked before any body is read, and bodies are
decoded with limits in one place), so FastAPI cannot see their bodies or answers. A route passes
`**documented(...)` to its decorator instead: the request model it validates with, the model of the
envelope's `data` (or of the top-level fields), and for streams the model of each event's data. These
models only document; `wire.py` stays the one place that builds what is sent, and the spec-conformance
test (tests/test_spec_conformance.py) holds the bytes against the official spec.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

T = TypeVar("T")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow")


class Detail(_Doc):
    logid: str = Field(description="the request's log id, also in the x-tt-logid header")


class Envelope(_Doc, Generic[T]):
    """`{code, msg, data, detail}`: code 0 on success; an error has no data and a message saying what to fix."""

    code: int = Field(description="0 on success; 4000 bad request, 4100/4101 auth, 4200 not found, 6xxx workflow")
    msg: str
    data: T | None = None
    detail: Detail | None = None


class Usage(_Doc):
    token_count: int
    output_count: int
    input_count: int


class LastError(_Doc):
    code: int
    msg: str


class ToolCallFunction(_Doc):
    name: str
    arguments: str = Field(description="a JSON document encoded as a string")


class ToolCall(_Doc):
    id: str
    type: str
    function: ToolCallFunction


class SubmitToolOutputs(_Doc):
    tool_calls: list[ToolCall]


class RequiredAction(_Doc):
    type: str = Field(description="submit_tool_outputs")
    submit_tool_outputs: SubmitToolOutputs


class Chat(_Doc):
    id: str
    conversation_id: str
    bot_id: str | None = None
    created_at: int
    completed_at: int | None = None
    failed_at: int | None = None
    last_error: LastError | None = None
    status: str = Field(description="created, in_progress, completed, failed, requires_action, canceled")
    required_action: RequiredAction | None = None
    usage: Usage | None = None
    section_id: str | None = None


class Message(_Doc):
    id: str
    conversation_id: str
    bot_id: str | None = None
    chat_id: str
    role: str
    type: str
    content: str
    content_type: str
    created_at: int | None = None
    updated_at: int | None = None
    section_id: str | None = None


class StreamEvent(_Doc):
    """One server-sent event, as its fields: chat streams have no `id`, workflow streams count it from 0."""

    id: str | None = Field(None, description="workflow streams only: the event's index, from 0")
    event: str
    data: str = Field(description='one line of compact JSON (chat `done`: the string "[DONE]")')


ChatEventData = Chat | Message
"""A chat stream event's data: a Chat in conversation.chat.*, a Message in conversation.message.*."""


class Interrupt(_Doc):
    event_id: str = Field(description="EXECUTE_ID/EVENT_ID")
    type: int = Field(description="2 question node, 5 input node")
    data: str


class WorkflowEventData(_Doc):
    """A workflow stream event's data: Message, Interrupt, Error or Done fields (the event name says which)."""

    content: str | None = None
    content_type: str | None = None
    node_title: str | None = None
    node_seq_id: str | None = None
    node_id: str | None = None
    node_type: str | None = None
    node_is_finish: bool | None = None
    interrupt_data: Interrupt | None = None
    error_code: int | None = None
    error_message: str | None = None
    debug_url: str | None = None
    usage: Usage | None = None


class WorkflowRunResult(_Doc):
    """`/v1/workflow/run` and `/v1/workflows/resume`: the result beside the envelope's fields, not under data."""

    code: int
    msg: str
    data: str | None = Field(None, description="the end node's output as a JSON string (a sync run)")
    execute_id: str | None = Field(None, description="an async run's execution, for its run history")
    debug_url: str
    usage: Usage | None = None
    detail: Detail | None = None


class NodeExecuteStatus(_Doc):
    node_id: str
    is_finish: bool
    loop_index: int | None = None
    batch_index: int | None = None
    update_time: int
    sub_execute_id: str | None = None
    node_execute_uuid: str


class RunHistory(_Doc):
    execute_id: str
    execute_status: str = Field(description="Running, Success or Fail")
    bot_id: str | None = None
    connector_id: str
    connector_uid: str
    run_mode: int = Field(description="0 sync, 1 stream, 2 async")
    logid: str
    create_time: int
    update_time: int
    output: str
    error_code: str = Field(description='a string: "" on success (the spec, its docs, a recorded history)')
    error_message: str
    debug_url: str
    is_output_trimmed: bool
    usage: Usage | None = None
    node_execute_status: dict[str, NodeExecuteStatus] | None = None


class NodeExecuteHistory(_Doc):
    is_finish: bool
    node_output: str = Field(description="the node's output as a JSON string")


class WorkflowBasic(_Doc):
    workflow_id: str
    workflow_name: str
    description: str
    icon_url: str
    app_id: str
    created_at: int | None = None
    updated_at: int | None = None


class WorkflowList(_Doc):
    items: list[WorkflowBasic]
    has_more: bool


class WorkflowInfo(_Doc):
    workflow_detail: WorkflowBasic


class WorkflowVersion(_Doc):
    version: str
    description: str
    created_at: str
    updated_at: str
    workflow_id: str


class WorkflowVersionList(_Doc):
    items: list[WorkflowVersion]
    has_more: bool
    next_page_token: str | None = None


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` substituted in place (request models are not recursive)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.rsplit("/", 1)[1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def documented(
    summary: str,
    *,
    request: type[BaseModel] | None = None,
    data: Any = None,
    top_level: type[BaseModel] | None = None,
    stream_event: Any = None,
    source: str = "",
) -> dict[str, Any]:
    """Keyword arguments for a route decorator that document it in `/openapi.json`.

    `data` is the envelope's `data` type (a model, `list[Model]`...); `top_level` replaces the envelope for
    answers whose fields sit beside `code` (workflow runs); `stream_event` adds a `text/event-stream` answer
    whose events carry that model as JSON in `data`. `source` names the public page that defines the route.
    """
    model: Any = top_level if top_level is not None else Envelope[data] if data is not None else Envelope[Any]
    response: dict[str, Any] = {"model": model, "description": source or summary}
    extra: dict[str, Any] = {}
    if stream_event is not None:
        event_schema = _inline(StreamEvent.model_json_schema())
        event_schema["x-event-data"] = _inline(TypeAdapter(stream_event).json_schema())
        response["content"] = {"text/event-stream": {"schema": event_schema}}
    if request is not None:
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _inline(request.model_json_schema())}},
        }
    return {"summary": summary, "responses": {200: response}, "openapi_extra": extra or None}


def describe(app: FastAPI) -> None:
    """`/openapi.json` from FastAPI's generator, then every operation a route did not document with
    `documented(...)` given the generic envelope as its answer (and a JSON object body when it takes a POST),
    marked `x-generic: true`, so that no operation is described by an empty schema."""

    def generate() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Envelope", _inline(Envelope[Any].model_json_schema()))
        for item in schema.get("paths", {}).values():
            for method, operation in item.items():
                _fill_generic(method, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = generate  # type: ignore[method-assign]


def _fill_generic(method: str, operation: dict[str, Any]) -> None:
    ok = operation.setdefault("responses", {}).setdefault("200", {"description": "a Coze envelope"})
    json_answer = ok.setdefault("content", {}).setdefault("application/json", {})
    if not json_answer.get("schema"):
        json_answer["schema"] = {"$ref": "#/components/schemas/Envelope"}
        operation["x-generic"] = True
    if method in ("post", "put") and "requestBody" not in operation:
        operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
        operation["x-generic"] = True
