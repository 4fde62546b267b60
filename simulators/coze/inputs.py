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

from .envelope import bad_request

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY_BYTES = 1 << 20


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise bad_request(f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"request body is not valid JSON ({exc}); send a JSON object") from None
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
