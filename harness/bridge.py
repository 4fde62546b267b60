"""The HTTP bridge: the tools of a `ToolRegistry` served over HTTP, for workflows to call.

A workflow stream has no tool-call event and no way to submit outputs, so a workflow cannot call
local code the way a bot chat can. What works is the documented workaround: the workflow's HTTP
node (or a plugin imported from this bridge's OpenAPI document) calls a URL, and this app runs the
tool behind it. Each tool gets one `POST /tools/{name}` route whose JSON body is the tool's
arguments, validated against the same schema the local-plugin runner uses.

Every answer has the same shape, `{success, error_code, message, data}`. Coze's plugin runner turns
a non-2xx answer into a failed node and drops the body, so a tool whose errors the workflow should
see can answer failures with 200 and `success: false` (`errors="body"`); the default (`"http"`)
uses the status codes an ordinary HTTP client expects. The choice is made per tool (`@tool(errors=)`)
or for the whole app.
"""

from __future__ import annotations

import asyncio
import copy
import hmac
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .tools import (
    DEFAULT_TOOL_TIMEOUT,
    INVALID_ARGUMENTS,
    TIMEOUT,
    UNKNOWN_TOOL,
    ErrorMode,
    LocalTool,
    ToolRegistry,
    ToolResult,
)

__all__ = ["OPENAPI_VERSION", "BridgeAnswer", "create_bridge_app", "openapi_schema", "plugin_spec", "tool_path"]

OPENAPI_VERSION = "3.0.1"
"""Coze imports OpenAPI 3.0.x plugin documents (pydantic writes JSON Schema 2020-12, hence `openapi_schema`)."""

UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not_found"
TOO_LARGE = "too_large"
BODY_TIMEOUT = "body_timeout"
_STATUS = {INVALID_ARGUMENTS: 422, UNKNOWN_TOOL: 404, TIMEOUT: 504, UNAUTHORIZED: 401, NOT_FOUND: 404}

DEFAULT_MAX_BODY_BYTES = 1 << 20
"""Tool arguments larger than this are refused (413) before they are parsed."""
DEFAULT_BODY_TIMEOUT = 10.0
"""Seconds a caller has to send the whole body; a trickling sender gets a 408 instead of a held worker."""
_TOOL_FAILURE_STATUS = 500
_SECURITY_SCHEME = "bearerAuth"


class BridgeAnswer(BaseModel):
    """The body of every bridge response, success or not, so a workflow reads one shape."""

    model_config = ConfigDict(frozen=True)

    success: bool
    error_code: str = Field("", description="empty on success; otherwise invalid_arguments, tool_error, timeout, ...")
    message: str = ""
    data: Any = None
    details: list[dict[str, Any]] | None = None


def tool_path(name: str) -> str:
    return f"/tools/{name}"


def _json(answer: BridgeAnswer, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = answer.model_dump(exclude={"details"} if answer.details is None else set())
    return JSONResponse(body, status_code=status, headers=headers)


def _answer(result: ToolResult, mode: ErrorMode) -> Response:
    if result.ok:
        return _json(BridgeAnswer(success=True, data=result.value))
    assert result.error is not None
    error = result.error
    answer = BridgeAnswer(success=False, error_code=error.code, message=error.message, details=error.details)
    return _json(answer, 200 if mode == "body" else _STATUS.get(error.code, _TOOL_FAILURE_STATUS))


class _BodyRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def _bounded_body(request: Request, max_bytes: int, timeout: float | None) -> bytes:
    """The request body, refused early: by Content-Length before reading, by size while reading, by time."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _BodyRefused(413, TOO_LARGE, f"the body is {declared} bytes; the bridge takes at most {max_bytes}")

    async def read() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _BodyRefused(413, TOO_LARGE, f"the body is over {max_bytes} bytes, the most the bridge takes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise _BodyRefused(408, BODY_TIMEOUT, f"the body did not arrive within {timeout:g} s") from None


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def create_bridge_app(
    registry: ToolRegistry,
    *,
    token: str | None = None,
    errors: ErrorMode = "http",
    tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
    slow_tools: Mapping[str, float] | None = None,
    server_url: str | None = None,
    title: str = "coze-harness local tools",
    description: str = "Local Python functions served over HTTP for Coze workflows and plugins.",
    version: str = "1.0.0",
) -> FastAPI:
    """The bridge app for `registry`.

    `token` turns on bearer-token auth for the tool routes (the OpenAPI document stays public, so
    Coze can import it by URL). `errors` is how failures are reported for tools that do not choose
    themselves. `max_body_bytes` and `body_timeout` bound what a caller may send and how slowly
    (413 and 408, before any tool runs). `server_url` is the URL the OpenAPI document advertises; by
    default, the URL the document was fetched from. `slow_tools` (tool name -> seconds) is a fault
    for tests: the bridge waits that long before running the tool, outside its timeout, to stand
    for a slow local tool that a workflow's http node gives up on.
    """
    if token is not None and not token.strip():
        raise ValueError("token must be a non-empty string or None")
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.registry = registry

    def route(item: LocalTool[Any, Any]) -> Any:
        mode: ErrorMode = item.errors or errors

        async def call_tool(request: Request) -> Response:
            if not _authorized(request, token):
                answer = BridgeAnswer(
                    success=False,
                    error_code=UNAUTHORIZED,
                    message="send 'Authorization: Bearer <token>' with the bridge's token",
                )
                return _json(answer, 401, {"WWW-Authenticate": "Bearer"})
            try:
                body = await _bounded_body(request, max_body_bytes, body_timeout)
            except _BodyRefused as refused:
                answer = BridgeAnswer(success=False, error_code=refused.code, message=refused.message)
                return _json(answer, refused.status)  # not a tool failure: a real status in both modes
            delay = (slow_tools or {}).get(item.name, 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
            return _answer(await item.ainvoke(body, timeout=tool_timeout), mode)

        call_tool.__name__ = f"call_{item.name}"
        return call_tool

    for item in registry:
        app.add_api_route(tool_path(item.name), route(item), methods=["POST"], include_in_schema=False)

    async def spec(request: Request) -> Response:
        url = server_url or str(request.base_url).rstrip("/")
        document = plugin_spec(
            registry,
            server_url=url,
            bearer=token is not None,
            errors=errors,
            title=title,
            description=description,
            version=version,
        )
        return JSONResponse(document)

    app.add_api_route("/openapi.json", spec, methods=["GET"], include_in_schema=False)

    async def http_error(request: Request, exc: Exception) -> Response:
        """Unknown paths and wrong methods answer in the bridge's shape too, never Starlette's plain text."""
        assert isinstance(exc, HTTPException)
        code = NOT_FOUND if exc.status_code == 404 else "bad_request"
        message = f"{request.method} {request.url.path}: {exc.detail}"
        if exc.status_code == 404 and request.url.path.startswith("/tools/"):
            code = UNKNOWN_TOOL
            known = ", ".join(registry.names) or "none"
            message = f"no local tool is served at {request.url.path} (tools: {known})"
        return _json(BridgeAnswer(success=False, error_code=code, message=message), exc.status_code)

    app.add_exception_handler(HTTPException, http_error)
    return app


# --- the OpenAPI document ---------------------------------------------------------------------


def openapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic (JSON Schema 2020-12) schema rewritten for OpenAPI 3.0: references inlined, `null` as
    `nullable`, `const` as `enum`, numeric `exclusiveMinimum` as the 3.0 boolean form, a description on
    every property (Coze shows it to the model that fills the parameter)."""
    converted: dict[str, Any] = _convert(schema, schema.get("$defs", {}), ())
    return converted


def _convert(node: Any, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_convert(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in seen or name not in definitions:
            return {"type": "object", "description": node.get("description", name)}
        merged = {**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, definitions, (*seen, name))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$defs", "$schema"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _property(prop, name, definitions, seen) for name, prop in value.items()}
        elif key in ("additionalProperties", "items", "not") and isinstance(value, dict):
            out[key] = _convert(value, definitions, seen)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            out[key] = [_convert(item, definitions, seen) for item in value]
        else:
            out[key] = copy.deepcopy(value)
    return _to_30(out)


def _property(prop: Any, name: str, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    converted = _convert(prop, definitions, seen)
    if isinstance(converted, dict):
        title = converted.pop("title", None)
        converted.setdefault("description", str(title or name))
    return converted


def _to_30(node: dict[str, Any]) -> dict[str, Any]:
    """The keyword-level differences between JSON Schema 2020-12 and OpenAPI 3.0's schema dialect."""
    kind = node.get("type")
    if isinstance(kind, list):
        non_null = [item for item in kind if item != "null"]
        if len(non_null) < len(kind):
            node["nullable"] = True
        if len(non_null) == 1:
            node["type"] = non_null[0]
        else:
            del node["type"]  # OpenAPI 3.0 has no list of types: leave it open
    for union in ("anyOf", "oneOf"):
        options = node.get(union)
        if not isinstance(options, list):
            continue
        kept = [item for item in options if item not in ({"type": "null"}, {"nullable": True})]
        if len(kept) == len(options):
            continue
        node["nullable"] = True
        if len(kept) == 1 and isinstance(kept[0], dict):
            del node[union]
            for key, value in kept[0].items():
                node.setdefault(key, value)
        else:
            node[union] = kept
    if node.get("type") == "null":
        node.pop("type")
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[plain] = value
            node[bound] = True
    if "examples" in node:
        examples = node.pop("examples")
        if isinstance(examples, list) and examples:
            node.setdefault("example", examples[0])
    if "prefixItems" in node:
        items = node.pop("prefixItems")
        node.setdefault("items", items[0] if isinstance(items, list) and len(items) == 1 else {})
    return node


def _answer_schema(data: dict[str, Any] | None, *, success: bool) -> dict[str, Any]:
    data_schema = openapi_schema(data) if data is not None else {}
    data_schema.setdefault("description", "the tool's return value" if success else "always null on failure")
    return {
        "type": "object",
        "required": ["success", "error_code", "message"],
        "properties": {
            "success": {"type": "boolean", "description": "whether the tool ran and returned a value"},
            "error_code": {
                "type": "string",
                "description": "empty on success; invalid_arguments, tool_error, timeout, or the tool's own code",
            },
            "message": {"type": "string", "description": "empty on success; what went wrong otherwise"},
            "data": data_schema,
        },
    }


def _operation(item: LocalTool[Any, Any], mode: ErrorMode, bearer: bool) -> dict[str, Any]:
    summary = item.description.split(". ")[0].rstrip(".")[:120] or item.name
    ok_description = "the tool ran" if mode == "http" else "the tool ran, or failed with success=false"
    responses: dict[str, Any] = {
        "200": {
            "description": ok_description,
            "content": {"application/json": {"schema": _answer_schema(item.return_schema, success=True)}},
        }
    }
    failure = {"application/json": {"schema": _answer_schema(None, success=False)}}
    if mode == "http":
        responses["422"] = {"description": "the arguments do not match the schema", "content": failure}
        responses["500"] = {"description": "the tool raised an error", "content": failure}
        responses["504"] = {"description": "the tool did not finish in time", "content": failure}
    if bearer:
        responses["401"] = {"description": "missing or wrong bearer token", "content": failure}
    operation: dict[str, Any] = {
        "operationId": item.name,
        "summary": summary,
        "description": item.description,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": openapi_schema(item.json_schema())}},
        },
        "responses": responses,
    }
    if bearer:
        operation["security"] = [{_SECURITY_SCHEME: []}]
    return operation


def plugin_spec(
    registry: ToolRegistry,
    *,
    server_url: str,
    bearer: bool = False,
    errors: ErrorMode = "http",
    title: str = "coze-harness local tools",
    description: str = "Local Python functions served over HTTP for Coze workflows and plugins.",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """An OpenAPI 3.0 document Coze can import as a plugin: one operation per tool, at `server_url`."""
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "description": description, "version": version},
        "servers": [{"url": server_url.rstrip("/")}],
        "paths": {tool_path(item.name): {"post": _operation(item, item.errors or errors, bearer)} for item in registry},
    }
    if bearer:
        document["components"] = {"securitySchemes": {_SECURITY_SCHEME: {"type": "http", "scheme": "bearer"}}}
    return document
