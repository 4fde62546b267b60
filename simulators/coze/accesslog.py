"""An access log for the servers `serve` and `running` start: one line per request, on stderr.

Off by default (`--access-log` on `coze-harness serve` and `coze-harness bridge serve`). A line reads

    access 127.0.0.1:53412 "POST /v3/chat?conversation_id=7390000000000000123" 200 4.2 ms

the client's address, the method, the path and query, the status, and the time from the request's
arrival to the end of its response (a stream's last byte; a websocket's close). It never holds a
credential: headers are not logged at all, and a query value stays only when it is a decimal id under
a key ending in `id` (`conversation_id=7390...`); every other value is written `REDACTED`, since a
token in a query string (`?token=...`, `?access_token=...`) is a thing clients do. Websocket
handshakes are logged with method `WS`: 101 when accepted, the refusal's status otherwise.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REDACTED = "REDACTED"
_DECIMAL_ID = re.compile(r"^[0-9]{1,20}$")


def redacted_query(query: bytes | str) -> str:
    """The query string with every value that is not a decimal id under an `*id` key replaced by REDACTED."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    parts: list[str] = []
    for key, value in parse_qsl(text, keep_blank_values=True):
        kept = key.lower().endswith("id") and _DECIMAL_ID.match(value) is not None
        shown = value if kept or value == "" else REDACTED
        parts.append(f"{quote(key, safe='')}={quote(shown, safe='')}")
    return "&".join(parts)


def _stderr(line: str) -> None:
    stream = sys.stderr  # looked up per line: a test's capture, or a redirected stderr, gets it
    stream.write(line + "\n")
    stream.flush()


class AccessLog:
    """ASGI middleware writing one access line per HTTP request or websocket handshake."""

    def __init__(self, app: ASGIApp, write: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.write = write or _stderr

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []
        websocket = scope["type"] == "websocket"

        async def recording_send(message: Message) -> None:
            kind = message["type"]
            if not status:
                if kind in ("http.response.start", "websocket.http.response.start"):
                    status.append(int(message["status"]))
                elif kind == "websocket.accept":
                    status.append(101)
                elif kind == "websocket.close":
                    status.append(403)  # a handshake closed before it was accepted is refused with 403
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except BaseException:
            if not status:
                status.append(500)
            raise
        finally:
            self.write(self.line(scope, status[0] if status else 0, time.perf_counter() - started, websocket))

    @staticmethod
    def line(scope: Scope, status: int, seconds: float, websocket: bool = False) -> str:
        client = scope.get("client")
        who = f"{client[0]}:{client[1]}" if client else "-"
        method = "WS" if websocket else str(scope.get("method", "-"))
        target = quote(str(scope.get("path", "")), safe="/:@!$&'()*+,;=-._~")
        query = redacted_query(scope.get("query_string", b""))
        if query:
            target += f"?{query}"
        return f'access {who} "{method} {target}" {status or "-"} {seconds * 1000:.1f} ms'
