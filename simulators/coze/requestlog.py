"""The requests the simulator received, for a test to verify (`GET /_sim/requests`), as WireMock keeps them.

Each entry is the method, path, query, the headers with every credential redacted (a token is never
stored), and the body as far as the route read it: a request refused before its body was read (a bad
token, say) is logged with `body_read` false and no body, because the body is captured as the route
receives it, never read ahead of the route. The log is bounded: the latest `MAX_REQUESTS` entries, each
body cut at `MAX_BODY_CHARS` characters (`body_truncated` then says so). Admin paths (`/_sim/...`) are
not logged.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .journal import ADMIN_PREFIX

MAX_REQUESTS = 1000
MAX_BODY_CHARS = 64 * 1024
REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"})
"""Headers whose values are replaced by REDACTED (an Authorization header keeps its scheme: `Bearer <redacted>`)."""


class LoggedRequest(BaseModel):
    id: int = Field(description="0 for the first request since the simulator started or was reset")
    method: str
    path: str
    query: dict[str, list[str]] = Field(default_factory=dict, description="the query string's parameters")
    headers: dict[str, str] = Field(default_factory=dict, description="lower-case names; credentials redacted")
    body: str | None = Field(None, description="the body as text (UTF-8, undecodable bytes replaced)")
    body_read: bool = Field(False, description="the route read the body (false: refused before it, or no body)")
    body_truncated: bool = False


def redact_header(name: str, value: str) -> str:
    if name not in SECRET_HEADERS:
        return value
    scheme, space, _ = value.partition(" ")
    if name in ("authorization", "proxy-authorization") and space and scheme.isalpha() and len(scheme) <= 16:
        return f"{scheme} {REDACTED}"
    return REDACTED


class _Pending:
    __slots__ = ("chunks", "entry", "size", "truncated")

    def __init__(self, entry: LoggedRequest) -> None:
        self.entry = entry
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False


class RequestLog:
    """The latest MAX_REQUESTS requests. Safe to use from any thread."""

    def __init__(self, max_requests: int = MAX_REQUESTS) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=max_requests)
        self._next = 0

    def open(self, scope: Scope) -> LoggedRequest:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower()
            value = redact_header(name, raw_value.decode("latin-1"))
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        with self._lock:
            entry = LoggedRequest.model_construct(
                id=self._next,
                method=scope["method"],
                path=scope["path"],
                query=query,
                headers=headers,
                body=None,
                body_read=False,
                body_truncated=False,
            )
            self._next += 1
            self._entries.append(entry)
        return entry

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._next = 0

    def wire(self, method: str | None = None, path: str | None = None) -> dict[str, Any]:
        chosen = [
            entry.model_dump()
            for entry in self.entries()
            if (method is None or entry.method == method.upper()) and (path is None or entry.path == path)
        ]
        return {"requests": chosen}


def _finish(pending: _Pending) -> None:
    entry = pending.entry
    text = b"".join(pending.chunks).decode("utf-8", errors="replace")
    if len(text) > MAX_BODY_CHARS:
        text, pending.truncated = text[:MAX_BODY_CHARS], True
    entry.body = text
    entry.body_read = True
    entry.body_truncated = pending.truncated


class RequestLogMiddleware:
    """Logs every HTTP request but admin ones; the body is copied as the app receives it (bounded), so
    nothing is read that the route did not read itself."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        pending = _Pending(self.log.open(scope))
        limit = MAX_BODY_CHARS * 4 + 4  # bytes enough for MAX_BODY_CHARS characters of UTF-8, and one more

        async def logged_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and pending.entry.body_read is False:
                chunk = message.get("body", b"")
                if pending.size < limit:
                    pending.chunks.append(chunk[: limit - pending.size])
                if pending.size + len(chunk) > limit:
                    pending.truncated = True
                pending.size += len(chunk)
                if not message.get("more_body", False):
                    _finish(pending)
            return message

        await self.app(scope, logged_receive, send)
