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

Safe by default, because every route runs local code:

- No call runs without the bearer token (401 `unauthorized`). Serving without one takes an explicit
  `insecure_no_auth=True`.
- A request whose `Host` is not a loopback name (`localhost`, `127.0.0.1`, `::1`), the public URL's
  host or an allowed host is refused with 421 `host_not_allowed` (a DNS-rebinding page sends its own
  name), and so is one carrying a browser `Origin` that is not allowed (403 `origin_not_allowed`).
  The bridge sends no CORS headers, so no web page can read an answer either.
- A tool call's body must be `application/json` (415 `unsupported_media_type`): a page can POST
  `text/plain` across origins without a preflight, but not JSON.
- At most `max_concurrent_tools` calls run at once, counting tools that overran their timeout and
  still run; one more is answered 503 `busy` with `Retry-After`.
- An async tool that blocks the event loop freezes every other call; a watchdog thread notices
  when the loop has not ticked for `loop_stall_seconds`, logs a warning naming the async tools
  running, and the blocking call's answer carries an `X-Bridge-Warning` header.
- Only a `ToolError`'s message reaches the caller; anything else is a generic message with an error
  id, logged locally in full.
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .tools import (
    BUSY,
    DEFAULT_TOOL_TIMEOUT,
    INVALID_ARGUMENTS,
    TIMEOUT,
    UNKNOWN_TOOL,
    ErrorMode,
    LocalTool,
    ToolRegistry,
    ToolResult,
    ToolSlots,
)

__all__ = [
    "DEFAULT_LOOP_STALL_SECONDS",
    "DEFAULT_MAX_CONCURRENT_TOOLS",
    "LOOPBACK_HOSTS",
    "OPENAPI_VERSION",
    "TOKEN_ENV",
    "BridgeAnswer",
    "create_bridge_app",
    "is_loopback_host",
    "openapi_schema",
    "plugin_spec",
    "tool_path",
]

_log = logging.getLogger("harness.bridge")

OPENAPI_VERSION = "3.0.1"
"""Coze imports OpenAPI 3.0.x plugin documents (pydantic writes JSON Schema 2020-12, hence `openapi_schema`)."""

UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not_found"
TOO_LARGE = "too_large"
BODY_TIMEOUT = "body_timeout"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
HOST_NOT_ALLOWED = "host_not_allowed"
ORIGIN_NOT_ALLOWED = "origin_not_allowed"
INTERNAL_ERROR = "internal_error"
_STATUS = {INVALID_ARGUMENTS: 422, UNKNOWN_TOOL: 404, TIMEOUT: 504, UNAUTHORIZED: 401, NOT_FOUND: 404}

TOKEN_ENV = "COZE_HARNESS_BRIDGE_TOKEN"
"""The environment variable `bridge serve` reads its token from when none is given otherwise."""
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""`Host` names the bridge always answers; any other must be allowed (a tunnel's name, the public URL's)."""
DEFAULT_MAX_CONCURRENT_TOOLS = 16
"""Tool calls running at once (threads that overran their timeout included); one more is a 503."""
DEFAULT_LOOP_STALL_SECONDS = 2.0
"""How long the bridge's event loop may go without a tick before the watchdog reports a blocking tool."""
_RETRY_AFTER_SECONDS = 1

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
    if error.code == BUSY:  # nothing ran: a real status in both modes, so a client retries
        return _json(answer, 503, {"Retry-After": str(_RETRY_AFTER_SECONDS)})
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


def _not_json() -> Response:
    message = "a tool call's body must be JSON, sent with 'Content-Type: application/json'"
    return _json(BridgeAnswer(success=False, error_code=UNSUPPORTED_MEDIA_TYPE, message=message), 415)


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address (no port) is this machine's loopback: `localhost`, 127.0.0.0/8, ::1."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(value: str) -> str:
    """The name in a `Host` header (no port, no brackets, lower case); '' when it cannot be one."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, _ = value[1:].partition("]")
        return name if bracket else ""
    name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return name.rstrip(".")


def _normal_host(host: str) -> str:
    name = host.strip().lower().rstrip(".")
    if "://" in name:
        name = urlsplit(name).hostname or ""
    return name.strip("[]")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _check_public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"public_url must be an http:// or https:// URL without a query, like https://x.example, not {url!r}"
        )
    return url.rstrip("/")


class _Guard:
    """ASGI middleware: the `Host` and `Origin` checks, before any route (the plugin document included)."""

    def __init__(self, app: Any, hosts: frozenset[str], origins: frozenset[str]) -> None:
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self._refusal({key.lower(): value for key, value in scope.get("headers", [])})
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, headers: dict[bytes, bytes]) -> Response | None:
        host = _host_name(headers.get(b"host", b"").decode("latin-1"))
        if not host or (host not in self.hosts and not is_loopback_host(host)):
            message = (
                "this bridge does not answer for that Host; start it with --allowed-host NAME (or --public-url) "
                "for the name it is reached by"
            )
            return _json(BridgeAnswer(success=False, error_code=HOST_NOT_ALLOWED, message=message), 421)
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").strip().lower() not in self.origins:
            message = "requests from web pages are refused unless their Origin is allowed (--allowed-origin)"
            return _json(BridgeAnswer(success=False, error_code=ORIGIN_NOT_ALLOWED, message=message), 403)
        return None


class _Stall:
    def __init__(self, started: float, tools: list[str]) -> None:
        self.started, self.tools, self.seconds = started, tools, 0.0


class LoopWatchdog:
    """Notices when the bridge's event loop stops ticking (an async tool that blocks) and says so.

    The loop sets a heartbeat every `threshold / 4` seconds; a daemon thread checks it. When the last
    beat is older than `threshold`, the thread logs a warning naming the async tools that are running
    (the loop cannot: it is the thing blocked) and records a stall; when the beat resumes it logs how
    long the stall lasted. The thread ends soon after the loop closes.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.stalls: list[_Stall] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._beat = time.monotonic()
        self._running: dict[int, str] = {}
        self._next = 0

    def ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is loop:
                return
            self._loop, self._beat = loop, time.monotonic()
        interval = self.threshold / 4

        def beat() -> None:
            self._beat = time.monotonic()
            if not loop.is_closed():
                loop.call_later(interval, beat)

        loop.call_soon(beat)
        threading.Thread(target=self._watch, args=(loop, interval), name="coze-bridge-watchdog", daemon=True).start()

    def enter(self, name: str) -> int:
        with self._lock:
            self._next += 1
            self._running[self._next] = name
            return self._next

    def leave(self, key: int) -> None:
        with self._lock:
            self._running.pop(key, None)

    def stalls_since(self, count: int, name: str) -> list[_Stall]:
        with self._lock:
            return [stall for stall in self.stalls[count:] if name in stall.tools]

    def _watch(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        current: _Stall | None = None
        while not loop.is_closed() and self._loop is loop:
            time.sleep(interval)
            lag = time.monotonic() - self._beat
            if current is None and lag > self.threshold:
                with self._lock:
                    tools = sorted(set(self._running.values()))
                    current = _Stall(self._beat, tools)
                    self.stalls.append(current)
                _log.warning(
                    "the bridge's event loop has been blocked for %.1f s; async tools running: %s. Every other "
                    "call waits. An async tool must await, not block: make it a plain def (it then runs in a "
                    "thread, with a timeout) or move the blocking work to asyncio.to_thread",
                    lag,
                    ", ".join(tools) or "none (the block is elsewhere)",
                )
            elif current is not None and lag <= self.threshold:
                current.seconds = self._beat - current.started
                _log.warning("the bridge's event loop ran again after a %.1f s stall", current.seconds)
                current = None
            elif current is not None:
                current.seconds = lag


def create_bridge_app(
    registry: ToolRegistry,
    *,
    token: str | None = None,
    insecure_no_auth: bool = False,
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
    public_url: str | None = None,
    errors: ErrorMode = "http",
    tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
    max_concurrent_tools: int = DEFAULT_MAX_CONCURRENT_TOOLS,
    loop_stall_seconds: float | None = DEFAULT_LOOP_STALL_SECONDS,
    slow_tools: Mapping[str, float] | None = None,
    title: str = "coze-harness local tools",
    description: str = "Local Python functions served over HTTP for Coze workflows and plugins.",
    version: str = "1.0.0",
) -> FastAPI:
    """The bridge app for `registry` (see the module's notes for what it refuses, and with which status).

    `token` is the bearer token every tool call must send; without one the app is refused (ValueError)
    unless `insecure_no_auth=True` says, on purpose, that anyone who reaches it may run its tools. The
    OpenAPI document stays public (no token), so Coze can import it by URL. `public_url` is the URL the
    document advertises (a tunnel's address); without it, the address the request came in on (never the
    caller's `Host`). Its host, and `allowed_hosts`, are answered besides the loopback names;
    `allowed_origins` (`scheme://host[:port]`) are the browser origins allowed to call. `errors` is how
    failures are reported for tools that do not choose themselves. `max_body_bytes` and `body_timeout`
    bound what a caller may send and how slowly (413 and 408, before any tool runs);
    `max_concurrent_tools` caps the calls running at once (503 beyond); `loop_stall_seconds` is the
    watchdog's threshold (None: no watchdog). `slow_tools` (tool name -> seconds) is a fault for tests:
    the bridge waits that long before running the tool, outside its timeout, to stand for a slow local
    tool that a workflow's http node gives up on.
    """
    if token is not None and not token.strip():
        raise ValueError("token must be a non-empty string or None")
    if token is None and not insecure_no_auth:
        raise ValueError(
            "the bridge runs local code for whoever calls it: give it a token, or pass insecure_no_auth=True "
            "to serve without one on purpose"
        )
    if token is not None and insecure_no_auth:
        raise ValueError("pass a token or insecure_no_auth=True, not both")
    if max_concurrent_tools < 1:
        raise ValueError(f"max_concurrent_tools must be at least 1, not {max_concurrent_tools!r}")
    if loop_stall_seconds is not None and not loop_stall_seconds > 0:
        raise ValueError(f"loop_stall_seconds must be above 0 or None, not {loop_stall_seconds!r}")
    advertised = _check_public_url(public_url) if public_url is not None else None
    hosts = {_normal_host(host) for host in allowed_hosts} - {""}
    if advertised is not None:
        hosts.add(_normal_host(advertised))
    origins = {_origin_of(origin) for origin in allowed_origins}
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.registry = registry
    slots = ToolSlots(max_concurrent_tools)
    watchdog = LoopWatchdog(loop_stall_seconds) if loop_stall_seconds is not None else None
    app.state.tool_slots, app.state.watchdog = slots, watchdog
    app.state.allowed_hosts, app.state.allowed_origins = frozenset(hosts), frozenset(origins)

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
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_body_bytes:  # refused by its size before its type
                message = f"the body is {declared} bytes; the bridge takes at most {max_body_bytes}"
                return _json(BridgeAnswer(success=False, error_code=TOO_LARGE, message=message), 413)
            typed = "content-type" in request.headers
            if typed and not _is_json(request):
                return _not_json()
            try:
                body = await _bounded_body(request, max_body_bytes, body_timeout)
            except _BodyRefused as refused:
                answer = BridgeAnswer(success=False, error_code=refused.code, message=refused.message)
                return _json(answer, refused.status)  # not a tool failure: a real status in both modes
            if not typed and body:  # no body at all needs no type (a tool without arguments); any other does
                return _not_json()
            try:
                return await run(item, mode, body)
            except Exception as exc:  # the bridge's own failure: never a plain-text 500 with a traceback
                error_id = secrets.token_hex(6)
                _log.error("the bridge failed on a call to %s (error id %s)", item.name, error_id, exc_info=exc)
                message = f"the bridge could not handle the call (error id {error_id}; the details are in its log)"
                return _json(BridgeAnswer(success=False, error_code=INTERNAL_ERROR, message=message), 500)

        call_tool.__name__ = f"call_{item.name}"
        return call_tool

    async def run(item: LocalTool[Any, Any], mode: ErrorMode, body: bytes) -> Response:
        delay = (slow_tools or {}).get(item.name, 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if watchdog is None or not item.is_async:
            result = await item.ainvoke(body, timeout=tool_timeout, slots=slots, max_bytes=max_body_bytes)
            return _answer(result, mode)
        watchdog.ensure_started()
        seen, key = len(watchdog.stalls), watchdog.enter(item.name)
        try:
            result = await item.ainvoke(body, timeout=tool_timeout, slots=slots, max_bytes=max_body_bytes)
        finally:
            watchdog.leave(key)
        response = _answer(result, mode)
        stalls = watchdog.stalls_since(seen, item.name)
        if stalls:
            response.headers["X-Bridge-Warning"] = (
                f"{item.name} blocked the bridge's event loop for over {watchdog.threshold:g} s; "
                "an async tool must not block"
            )
        return response

    for item in registry:
        app.add_api_route(tool_path(item.name), route(item), methods=["POST"], include_in_schema=False)

    async def spec(request: Request) -> Response:
        url = advertised or _own_url(request)
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
    app.add_middleware(_Guard, hosts=frozenset(hosts), origins=frozenset(origins))
    return app


def _own_url(request: Request) -> str:
    """The address the request came in on (the listening socket's), never the Host the caller named."""
    server = request.scope.get("server")
    scheme = request.url.scheme
    if not server:
        return f"{scheme}://127.0.0.1"
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in str(host) else str(host)
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


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
    responses["503"] = {"description": "too many tool calls are running; retry after Retry-After", "content": failure}
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
