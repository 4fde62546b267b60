"""Reading requests: JSON bodies into pydantic models, and ids that moved between query and body.

cozepy releases disagree on where ids go (`conversation_id` in the body up to 0.6, in the query
after; `cancel` ids in the query up to 0.7, in the body after), so every id is looked up in both.
A body that does not fit becomes a 4000 envelope naming the field, never FastAPI's 422.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from .envelope import Code, CozeError, bad_request

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
"""Arrays and objects inside one another; deeper bodies are refused before any model sees them."""


def _too_large(size: int | str) -> CozeError:
    return CozeError(Code.BAD_REQUEST, f"request body is {size} bytes; the limit is {MAX_BODY_BYTES}", status=413)


async def _read_bounded(request: Request) -> bytes:
    """The body, refused as soon as it is known to exceed MAX_BODY_BYTES: by its Content-Length before a
    byte is read, else while it streams in. Later `request.body()` calls get the same bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(f"more than {size}")
        chunks.append(chunk)
    raw = b"".join(chunks)
    request._body = raw  # what Starlette's request.body() returns from now on
    return raw


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a decoded JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _too_deep() -> CozeError:
    return bad_request(f"request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; flatten it")


def parse_json(raw: str | bytes, what: str = "request body") -> Any:
    """JSON text decoded, or a 4000 naming the problem: not JSON, or nested more than MAX_JSON_DEPTH."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"{what} is not valid JSON ({exc}); send a JSON object") from None
    except RecursionError:  # far deeper than the limit: the decoder gave up first
        raise _too_deep() from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise _too_deep()
    return value


async def json_body(request: Request) -> dict[str, Any]:
    raw = await _read_bounded(request)
    if not raw.strip():
        return {}
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise bad_request(f"request body must be a JSON object, not {type(value).__name__}")
    return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for item in loc:
        path += f"[{item}]" if isinstance(item, int) else (f".{item}" if path else str(item))
    return path or "body"


def validate(model: type[Model], body: dict[str, Any]) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(first["loc"])
        if first["type"] == "missing":
            raise bad_request(f"{field} is required") from None
        raise bad_request(f"{field} is invalid: {first['msg']}") from None


def optional_id(request: Request, body: dict[str, Any], name: str) -> str | None:
    """An id from the query string, else from the body; empty values count as absent (0.7+ sends `?x=`)."""
    value: Any = request.query_params.get(name) or body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.isdigit():
        raise bad_request(f"{name} must be a decimal id string, got {value!r}")
    return value


def required_id(request: Request, body: dict[str, Any], name: str) -> str:
    value = optional_id(request, body, name)
    if value is None:
        raise bad_request(f"{name} is required (in the query string or the JSON body)")
    return value


class Lenient(BaseModel):
    """Request models ignore keys they do not know and accept nulls: releases add fields
    (`enable_card`, `section_id`...) and cozepy before 0.12 sends `null` for what it leaves out."""

    model_config = ConfigDict(extra="ignore")
