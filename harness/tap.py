"""Record exchanges on the server's side of the socket, for SDKs whose HTTP client we cannot wrap.

cozepy's traffic is recorded on its own httpx transport (`harness.recorder`). An SDK running in
another process (@coze/api in Node) has no such seam, so the report wraps the ASGI app it serves
with `RecordingApp`: the request as it arrived and the response bytes as they left, in the same
`Exchange` shape, so the same evidence, grammar checks and normalisation apply to every SDK. The
app itself is untouched; lifespan traffic passes through unrecorded. A websocket connection is one
exchange too (method `WEBSOCKET`, status 101 once accepted, or the status it was refused with): the
client's frames one per line in the request body, the server's in the response body, as the socket
carried them. Bodies are cut at the recorder's `MAX_BODY_CHARS`, secret headers are masked as the
client-side recorder masks them, and at most `max_exchanges` are kept (the oldest go first).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .recorder import MAX_BODY_CHARS, REDACTED, Exchange

_SECRET = {"authorization", "cookie", "set-cookie", "x-api-key"}
MAX_EXCHANGES = 2000
SETTLE_SECONDS = 2.0
"""The longest `take()` waits for app calls still running (a stream left open, say); within it, every
response the simulator writes at once is whole."""


_RANDOM = {"sec-websocket-key": "(random per handshake)", "sec-websocket-accept": "(derived from the key)"}
"""Headers a client or server makes afresh every time: shown as what they are, so a recording is the same
from run to run."""


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = REDACTED if name in _SECRET else _RANDOM.get(name) or value.decode("latin-1")
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
        self._lock = threading.Condition()
        self._exchanges: deque[Exchange] = deque(maxlen=max_exchanges)
        self._serving: set[int] = set()  # id() of the HTTP exchanges whose app call has not returned yet

    def take(self, settle_seconds: float = SETTLE_SECONDS) -> list[Exchange]:
        """The exchanges so far, oldest first, each as the app left it: an SDK that stops reading at the event it
        wanted (a pause, an error) has its answer while the app may still be writing the rest, so this waits up to
        `settle_seconds` for the HTTP app calls still running to return, and what is recorded does not depend on
        when it was taken. A websocket exchange is not waited for: its frames are in once its chat is over, and it
        is complete once the client has closed it (the caller waits for that where it matters)."""
        with self._lock:
            self._lock.wait_for(lambda: not self._serving, timeout=settle_seconds)
            taken = list(self._exchanges)
            self._exchanges.clear()
        return taken

    def __getattr__(self, name: str) -> Any:  # `running()` and tests reach the app's state through the wrapper
        return getattr(self.app, name)

    def _begin(self, scope: Scope, method: str, awaited: bool = True) -> Exchange:
        headers = _headers(list(scope.get("headers", [])))
        query = scope.get("query_string", b"").decode("latin-1")
        scheme = scope.get("scheme", "http")
        url = f"{scheme}://{headers.get('host', '')}{scope.get('path', '')}" + (f"?{query}" if query else "")
        exchange = Exchange(method=method, url=url, request_headers=headers)
        with self._lock:
            self._exchanges.append(exchange)
            if awaited:
                self._serving.add(id(exchange))
        return exchange

    async def _run(self, exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        """The app on one connection, recording what it raised; the exchange is over when it returns."""
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._lock:
                self._serving.discard(id(exchange))
                self._lock.notify_all()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = self._begin(scope, scope.get("method", "GET"))
        request, response = _Body(), _Body()

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

        await self._run(exchange, scope, receive_recorded, send_recorded)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = self._begin(scope, "WEBSOCKET", awaited=False)
        sent, received = _Frames(), _Frames()

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                received.add_frame(message)
                exchange.request_body = received.text()
            elif message["type"] == "websocket.disconnect":
                exchange.complete = True
            return message

        async def send_recorded(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                exchange.status = 101
            elif kind == "websocket.send":
                sent.add_frame(message)
                exchange.response_body = sent.text()
            elif kind == "websocket.http.response.start":  # refused with an HTTP response (ASGI denial)
                exchange.status = int(message["status"])
                exchange.response_headers = _headers(list(message.get("headers", [])))
            elif kind == "websocket.http.response.body":
                sent.add_frame({"bytes": message.get("body", b"")}, separate=False)
                exchange.response_body = sent.text()
            elif kind == "websocket.close":
                if exchange.status is None:  # closed before the handshake: the server refuses it with 403
                    exchange.status = 403
                exchange.complete = True
            await send(message)

        await self._run(exchange, scope, receive_recorded, send_recorded)


class _Frames(_Body):
    """Websocket frames one per line (a frame is JSON text on this API; a binary one is shown decoded)."""

    __slots__ = ()

    def add_frame(self, message: Message, separate: bool = True) -> None:
        chunk = message.get("text")
        data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(message.get("bytes") or b"")
        if separate and self.size:
            data = b"\n" + data
        _Body.add(self, data)
