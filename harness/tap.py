"""Record exchanges on the server's side of the socket, for SDKs whose HTTP client we cannot wrap.

cozepy's traffic is recorded on its own httpx transport (`harness.recorder`). An SDK running in
another process (@coze/api in Node) has no such seam, so the report wraps the ASGI app it serves
with `RecordingApp`: the request as it arrived and the response bytes as they left, in the same
`Exchange` shape, so the same evidence, grammar checks and normalisation apply to every SDK. The
app itself is untouched; websocket and lifespan traffic pass through unrecorded. Bodies are cut at
the recorder's `MAX_BODY_CHARS`, secret headers are masked as the client-side recorder masks them,
and at most `max_exchanges` are kept (the oldest go first).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .recorder import MAX_BODY_CHARS, REDACTED, Exchange

_SECRET = {"authorization", "cookie", "set-cookie", "x-api-key"}
MAX_EXCHANGES = 2000


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = REDACTED if name in _SECRET else value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


class _Body:
    """A body kept as bytes up to the cut (a multi-byte character is never split mid-way when shown)."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data = bytearray()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = MAX_BODY_CHARS * 4 - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if len(text) > MAX_BODY_CHARS or self.size > len(self.data):
            return text[:MAX_BODY_CHARS] + f"... [{self.size} bytes]"
        return text


class RecordingApp:
    """Wraps an ASGI app; `take()` returns (and forgets) the HTTP exchanges it served so far, in order."""

    def __init__(self, app: ASGIApp, max_exchanges: int = MAX_EXCHANGES) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._exchanges: deque[Exchange] = deque(maxlen=max_exchanges)

    def take(self) -> list[Exchange]:
        with self._lock:
            taken = list(self._exchanges)
            self._exchanges.clear()
        return taken

    def __getattr__(self, name: str) -> Any:  # `running()` and tests reach the app's state through the wrapper
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(list(scope.get("headers", [])))
        query = scope.get("query_string", b"").decode("latin-1")
        scheme = scope.get("scheme", "http")
        url = f"{scheme}://{headers.get('host', '')}{scope.get('path', '')}" + (f"?{query}" if query else "")
        exchange = Exchange(method=scope.get("method", "GET"), url=url, request_headers=headers)
        request, response = _Body(), _Body()
        with self._lock:
            self._exchanges.append(exchange)

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.add(message.get("body", b""))
                exchange.request_body = request.text()
            return message

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
                exchange.response_headers = _headers(list(message.get("headers", [])))
            elif message["type"] == "http.response.body":
                response.add(message.get("body", b""))
                exchange.response_body = response.text()
                if not message.get("more_body", False):
                    exchange.complete = True
            await send(message)

        try:
            await self.app(scope, receive_recorded, send_recorded)
        except BaseException as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise
