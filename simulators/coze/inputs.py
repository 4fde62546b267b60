"""Reading requests: JSON bodies into pydantic models, and ids that moved between query and body.

cozepy releases disagree on where ids go (`conversation_id` in the body up to 0.6, in the query
after; `cancel` ids in the query up to 0.7, in the body after), so every id is looked up in both.
A body that does not fit becomes a 4000 envelope naming the field, never FastAPI's 422.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from .envelope import Code, CozeError, bad_request

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
"""Arrays and objects inside one another; deeper bodies are refused before any model sees them."""
MAX_INT_DIGITS = 1000
"""Digits in one JSON integer; ids are 19 and no Coze field needs more than a few dozen."""
DEFAULT_BODY_TIMEOUT = 10.0
"""Seconds a client has to send a whole body once it started; a trickling sender gets a 408."""


def _too_deep(what: str) -> CozeError:
    return bad_request(f"{what} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; flatten it")


def _too_large(size: int | str) -> CozeError:
    return CozeError(Code.BAD_REQUEST, f"request body is {size} bytes; the limit is {MAX_BODY_BYTES}", status=413)


async def _read_bounded(request: Request, timeout: float | None) -> bytes:
    """The body, refused as soon as it is known to exceed MAX_BODY_BYTES: by its Content-Length before a
    byte is read, else while it streams in; and refused (408) if it has not all arrived within `timeout`
    seconds, so a client that never finishes its body cannot hold a connection. Later `request.body()`
    calls get the same bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(declared)

    async def read() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large(f"more than {size}")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        raw = await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise CozeError(
            Code.BAD_REQUEST, f"the request body did not arrive within {timeout:g} s; send it whole", status=408
        ) from None
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


class NotJson(CozeError):
    """A 4000 for text that is not JSON at all, which a caller may answer with a message of its own; a
    text that is JSON but breaks a limit stays a plain 4000 naming the limit."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(Code.BAD_REQUEST, f"{what} is not valid JSON ({reason})")


class _Refused(ValueError):
    """Raised from inside the decoder's hooks: a literal that decodes but must not be accepted."""


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise _Refused(f"holds an integer of {len(text)} digits; the limit is {MAX_INT_DIGITS}")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {text[:40]}, which is out of range for a double")
    return value


def _no_constant(text: str) -> Any:
    raise _Refused(f"holds {text}, which is not JSON")


def parse_json(raw: str | bytes, what: str = "request body", max_bytes: int = MAX_BODY_BYTES) -> Any:
    """JSON text decoded with limits, or a 4000 naming `what` and the limit it broke.

    The one decoding path for every body, websocket message and JSON embedded in a field (an
    `object_string` content, `parameters` sent as a string, `resume_data`): at most `max_bytes`,
    `MAX_JSON_DEPTH` levels, `MAX_INT_DIGITS` digits per integer (Python refuses more than 4,300 with a
    plain ValueError, which would otherwise surface as a 500), and no NaN, Infinity or out-of-range
    number, which no JSON peer can read back.
    """
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise bad_request(f"{what} is {size} bytes of JSON; the limit is {max_bytes}")
    try:
        value = json.loads(raw, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except _Refused as exc:
        raise bad_request(f"{what} {exc}; send smaller numbers (as strings if they are ids)") from None
    except RecursionError:  # far deeper than the limit: the decoder gave up first
        raise _too_deep(what) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError and anything else the decoder refuses
        raise NotJson(what, str(exc)) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise _too_deep(what)
    return value


def parse_json_object(raw: str | bytes, what: str) -> dict[str, Any]:
    """`parse_json` for a field that must hold a JSON object: a 4000 naming the field otherwise."""
    value = parse_json(raw, what)
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object. Call it only after the token was checked: an unauthenticated caller
    never gets as far as having its body read or decoded."""
    timeout = request.app.state.simulator.config.body_timeout_seconds
    raw = await _read_bounded(request, timeout)
    if not raw.strip():
        return {}
    return parse_json_object(raw, "request body")


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


# --- messages a client sends (chat, chatflow, websocket) ----------------------------------------


class InputMessage(Lenient):
    role: Literal["user", "assistant"]
    content: str = ""
    content_type: Literal["text", "object_string", "card"] = "text"
    type: str | None = None
    meta_data: dict[str, str] | None = None  # kept with the message in the conversation's history


def _text_of(message: InputMessage, index: int) -> str:
    """Plain text, or the text parts of an object_string (a JSON array of typed parts)."""
    if message.content_type != "object_string":
        return message.content
    parts = parse_json(message.content, f"additional_messages[{index}].content (an object_string)")
    if not isinstance(parts, list):
        raise bad_request(
            f"additional_messages[{index}].content must be a JSON array of parts when content_type is object_string"
        )
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")


def user_text(messages: Sequence[InputMessage]) -> str:
    """What the bot or chatflow reads as `{{ user }}`: the last user message; every message is validated."""
    text = ""
    for index, message in enumerate(messages):
        content = _text_of(message, index)
        if message.role == "user":
            text = content
    return text
