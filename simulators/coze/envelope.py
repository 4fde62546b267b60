"""The `{code, msg, data, detail: {logid}}` envelope, error codes, and the `x-tt-logid` header.

Clients branch on the envelope's `code`, not on the HTTP status, so every error, including the ones
Starlette would raise itself (unknown route, wrong method), leaves here as an envelope.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

LOGID_HEADER = "x-tt-logid"


class Code(IntEnum):
    """Error codes of the Coze open API (CONTRACT.md, 'Common' and 'Workflows')."""

    OK = 0
    BAD_REQUEST = 4000
    RATE_LIMITED = 4013
    AUTH_FAILED = 4100
    NO_PERMISSION = 4101
    NOT_FOUND = 4200
    INTERNAL = 5000
    WORKFLOW_TIMEOUT = 6023
    WORKFLOW_NOT_PUBLISHED = 6031
    WORKFLOW_INTERRUPT_IN_SYNC_RUN = 6039


_DEFAULT_STATUS: dict[int, int] = {
    Code.BAD_REQUEST: 400,
    Code.RATE_LIMITED: 429,
    Code.AUTH_FAILED: 401,
    Code.NO_PERMISSION: 401,
    Code.NOT_FOUND: 404,
    Code.INTERNAL: 500,
}


class CozeError(Exception):
    """A client-visible failure. Raised anywhere in a route; rendered as an envelope by the app."""

    def __init__(self, code: int, msg: str, *, status: int | None = None, **top_level: Any) -> None:
        super().__init__(msg)
        self.code = int(code)
        self.msg = msg
        self.status = status if status is not None else _DEFAULT_STATUS.get(self.code, 200)
        self.top_level = top_level


def bad_request(msg: str) -> CozeError:
    return CozeError(Code.BAD_REQUEST, msg)


def not_found(msg: str) -> CozeError:
    return CozeError(Code.NOT_FOUND, msg)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for every call: `json.dumps` with options builds a new one each time (a stream of 20,000
deltas encodes 20,000 times, so that alone cost about a fifth of the encoding)."""


def dumps(value: Any) -> str:
    """Compact, UTF-8 JSON on one line: the form Coze sends and SSE `data:` lines require.

    U+2028 and U+2029 are escaped, as Go's encoding/json (the open-source server's) does: raw, they
    end lines for readers that split like `str.splitlines` (httpx's `iter_lines`, hence cozepy).
    U+0085, which Go sends raw, is sent raw here too: that finding stays visible.
    """
    text = _ENCODER.encode(value)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


LOGID_DETAIL_KEY = "logid_detail"
"""Scope state set by the app from its profile: whether envelopes carry `detail: {logid}` (cloud does,
studio's `{"code","msg"}` does not). Read from the request so that this module needs no simulator."""


def logid_of(request: Request) -> str:
    logid: str = request.scope["state"]["logid"]
    return logid


def _with_detail(request: Request, body: dict[str, Any], logid: str) -> None:
    if request.scope["state"].get(LOGID_DETAIL_KEY, True):
        body["detail"] = {"logid": logid}


def _json_response(body: dict[str, Any], status: int, logid: str) -> Response:
    response = Response(dumps(body).encode("utf-8"), status_code=status, media_type="application/json")
    response.headers[LOGID_HEADER] = logid
    return response


def ok(request: Request, data: Any = None, **top_level: Any) -> Response:
    """A success envelope; `top_level` carries fields some endpoints put beside `data` (workflow runs)."""
    body: dict[str, Any] = {"code": 0, "msg": ""}
    if data is not None:
        body["data"] = data
    body.update(top_level)
    logid = logid_of(request)
    _with_detail(request, body, logid)
    return _json_response(body, 200, logid)


def error(request: Request, err: CozeError) -> Response:
    body: dict[str, Any] = {"code": err.code, "msg": err.msg}
    body.update(err.top_level)
    logid = logid_of(request)
    _with_detail(request, body, logid)
    return _json_response(body, err.status, logid)
