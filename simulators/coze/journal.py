"""The stream journal: per HTTP response, when it opened, sent its first byte, how much, and who closed it.

Tests read it to assert what clients do with a connection (does the SDK close a stream the caller
stopped reading? does the runner leave one open?) and that the simulator lets go of a stream when its
client goes away. It is kept by an ASGI middleware, so no route knows about it; it is served at
`GET /_sim/journal`, a path no Coze API has, and `app.state.simulator.journal` holds it in process.

`closed_by` is `server` when the response was sent to its end (or the server broke it off, a reset
fault: then `complete` is false and `error` says why) and `client` when the client went away first.
Times are seconds on a monotonic clock since the journal started.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import StreamAborted

ADMIN_PREFIX = "/_sim/"
MAX_ENTRIES = 2000


class JournalEntry(BaseModel):
    id: int
    method: str
    path: str
    client: str = Field(description="the client's address and port: one TCP connection")
    status: int | None = None
    stream: bool = Field(False, description="a text/event-stream response")
    opened_at: float
    first_byte_at: float | None = None
    closed_at: float | None = None
    bytes_sent: int = 0
    chunks_sent: int = Field(0, description="non-empty body chunks: one per event on a stream")
    closed_by: Literal["server", "client"] | None = None
    complete: bool = Field(False, description="the body was sent to its end")
    error: str | None = None
    faults: list[str] = Field(default_factory=list, description="the faults and framing this stream ran with")
    delays: list[float] = Field(default_factory=list, description="latencies drawn for this stream, in order")

    @property
    def open(self) -> bool:
        return self.closed_at is None


class _Live:
    """One response as it is recorded: plain attributes, so that counting a chunk costs two additions.

    `Journal` hands out `JournalEntry` snapshots built from these only when asked.
    """

    __slots__ = (
        "bytes_sent",
        "chunks_sent",
        "client",
        "closed_at",
        "closed_by",
        "complete",
        "delays",
        "error",
        "faults",
        "first_byte_at",
        "id",
        "method",
        "opened_at",
        "path",
        "status",
        "stream",
    )

    def __init__(self, id: int, method: str, path: str, client: str, opened_at: float) -> None:
        self.id = id
        self.method = method
        self.path = path
        self.client = client
        self.status: int | None = None
        self.stream = False
        self.opened_at = opened_at
        self.first_byte_at: float | None = None
        self.closed_at: float | None = None
        self.bytes_sent = 0
        self.chunks_sent = 0
        self.closed_by: Literal["server", "client"] | None = None
        self.complete = False
        self.error: str | None = None
        self.faults: list[str] = []
        self.delays: list[float] = []

    def view(self) -> JournalEntry:
        return JournalEntry.model_construct(
            id=self.id,
            method=self.method,
            path=self.path,
            client=self.client,
            status=self.status,
            stream=self.stream,
            opened_at=self.opened_at,
            first_byte_at=self.first_byte_at,
            closed_at=self.closed_at,
            bytes_sent=self.bytes_sent,
            chunks_sent=self.chunks_sent,
            closed_by=self.closed_by,
            complete=self.complete,
            error=self.error,
            faults=list(self.faults),
            delays=list(self.delays),
        )


class Journal:
    """The last `MAX_ENTRIES` responses, and the ones still open. Safe to read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._next = 0
        self._entries: deque[_Live] = deque(maxlen=MAX_ENTRIES)
        self._open: dict[int, _Live] = {}

    def now(self) -> float:
        return round(time.monotonic() - self._started, 6)

    def open(self, scope: Scope) -> _Live:
        client = scope.get("client") or ("", 0)
        with self._lock:
            entry = _Live(self._next, scope["method"], scope["path"], f"{client[0]}:{client[1]}", self.now())
            self._next += 1
            self._entries.append(entry)
            self._open[entry.id] = entry
        return entry

    def close(self, entry: _Live, by: Literal["server", "client"], error: str | None = None) -> None:
        with self._lock:
            if entry.closed_at is not None:
                return
            entry.closed_at = self.now()
            entry.closed_by = by
            entry.error = error
            if self._open.get(entry.id) is entry:  # not a newer entry with this id, after a reset
                del self._open[entry.id]

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return [entry.view() for entry in self._entries]

    def streams(self) -> list[JournalEntry]:
        return [entry for entry in self.entries() if entry.stream]

    def open_entries(self) -> list[JournalEntry]:
        """Responses not closed yet: after a client is done, there should be none."""
        with self._lock:
            return [entry.view() for entry in self._open.values()]

    def wait_closed(self, timeout: float = 5.0) -> list[JournalEntry]:
        """Wait (bounded) until no response is open; the ones still open when the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            still = self.open_entries()
            if not still or time.monotonic() >= deadline:
                return still
            time.sleep(0.01)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._entries.extend(self._open.values())

    def reset(self) -> None:
        """Start again: no entries (responses still open included, so they are not recorded when they close),
        ids from 0, times from now."""
        with self._lock:
            self._entries.clear()
            self._open.clear()
            self._next = 0
            self._started = time.monotonic()

    def wire(self) -> dict[str, Any]:
        return {"entries": [entry.model_dump() for entry in self.entries()]}


class JournalMiddleware:
    """Records every HTTP response in the journal; admin paths (`/_sim/...`) are left out."""

    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        journal = self.journal
        entry = journal.open(scope)
        scope.setdefault("state", {})["journal_entry"] = entry

        async def watch_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and not entry.complete:
                journal.close(entry, "client")
            return message

        async def watch_send(message: Message) -> None:
            # Per chunk: plain attribute updates only (the pydantic view is built when someone reads).
            if message["type"] == "http.response.body":
                body = message.get("body")
                if body:
                    if entry.first_byte_at is None:
                        entry.first_byte_at = journal.now()
                    entry.bytes_sent += len(body)
                    entry.chunks_sent += 1
                await send(message)
                if not message.get("more_body", False):
                    entry.complete = True
                    journal.close(entry, "server")
                return
            if message["type"] == "http.response.start":
                entry.status = int(message["status"])
                for key, value in message.get("headers", ()):
                    if key == b"content-type":
                        entry.stream = value.startswith(b"text/event-stream")
            await send(message)

        try:
            await self.app(scope, watch_receive, watch_send)
        except StreamAborted as exc:
            journal.close(entry, "server", f"reset: {exc}")
            raise
        except BaseException as exc:
            journal.close(entry, "server", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            # The app returned without finishing the body and without an error: the client went away
            # (Starlette cancels the stream when it sees the disconnect).
            journal.close(entry, "client")
