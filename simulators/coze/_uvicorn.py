"""The uvicorn side of `server`: imported only when a server starts, so code that builds the app and
serves it in process (the pytest plugin's in-process mode, cassette replay) never pays for uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from typing import Any, ClassVar

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.h11_impl import H11Protocol

from .accesslog import AccessLog
from .server import _STOP_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS, ServerLimits, _log
from .tls import LocalTls

_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"content-length: 41\r\n\r\n"
    b"too many open connections; try again soon"
)


class _CorkedTransport:
    """A connection's transport whose writes within one turn of the event loop leave in one `write`.

    uvicorn writes each `send` of the app at once: a chat stream's eleven events were eleven syscalls, and
    eleven wake-ups of a client reading in another thread of the same process (the pytest plugin's socket
    mode), each fighting the server for the GIL. Here they are joined and written when the loop next turns, so
    the bytes on the wire are the same, HTTP chunk for HTTP chunk; only how TCP carries them changes, which
    depends on timing on any network. A paced or stalled stream still leaves event by event (the loop turns
    while it waits). Closing, aborting and `write_eof` write what is held first, as a socket would have sent it;
    so does reaching uvicorn's high-water mark, so that a client that reads slowly still holds the app back
    (uvicorn pauses `send` when the transport's own buffer passes that mark) instead of the server holding it all.
    """

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = inner
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))
        self._size += len(data)
        if self._size >= HIGH_WATER_LIMIT:  # written now: the transport's buffer then pauses the app as before
            self.flush()

    def flush(self) -> None:
        if not self._held:
            return
        data = b"".join(self._held)
        self._held.clear()
        self._size = 0
        if not self.inner.is_closing():  # the peer is gone: nothing to send it (asyncio would warn of each write)
            self.inner.write(data)

    def close(self) -> None:
        self.flush()
        self.inner.close()

    def abort(self) -> None:
        self.flush()
        self.inner.abort()

    def write_eof(self) -> None:
        self.flush()
        self.inner.write_eof()

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self.inner, name)


class _LimitedH11(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection cap (see `ServerLimits`), writing through a
    `_CorkedTransport` (a websocket upgrade hands the connection's own transport on).

    The header timer is armed when the connection opens and again when the first byte of each later
    request arrives (uvicorn cancels its keep-alive timer on any byte, so a trickled header line after a
    keep-alive pause was never timed). It is disarmed once h11 has parsed the whole request head.
    """

    limits: ClassVar[ServerLimits] = ServerLimits()
    cap: ClassVar[int] = DEFAULT_MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CorkedTransport(transport, self.loop))  # type: ignore[arg-type]  # a transport
        if len(self.connections) > self.cap:
            self.refused = True
            self.connections.discard(self)
            _log.warning("refused a connection: %d open, the limit is %d", len(self.connections), self.cap)
            transport.write(_BUSY_RESPONSE)
            transport.close()
            return
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # a new request on a kept-alive connection starts now
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        """The websocket protocol gets the connection's own transport, what was held written first."""
        corked = self.transport
        if isinstance(corked, _CorkedTransport):
            corked.flush()
            self.transport = corked.inner
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if self.refused:
            return
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is not h11.IDLE:  # a pipelined request's head was already parsed
            self._disarm_header_timer()

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            _log.info("closed a connection that sent no complete request head within %g s", self.limits.header_timeout)
            self.transport.close()


def _protocol_for(limits: ServerLimits) -> type[H11Protocol]:
    """The protocol class for one server: h11 always (never httptools, which has no such hooks)."""
    attributes = {"limits": limits, "cap": limits.effective_max_connections()}
    return type("LimitedH11Protocol", (_LimitedH11,), attributes)


def config_for(
    app: FastAPI, tls: LocalTls | None = None, limits: ServerLimits | None = None, access_log: bool = False
) -> uvicorn.Config:
    limits = limits or ServerLimits()
    config = uvicorn.Config(
        AccessLog(app) if access_log else app,  # ours, not uvicorn's: it redacts query values
        http=_protocol_for(limits),
        timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]  # uvicorn's call_later takes a float
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=2,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )
    if tls is not None:
        # Measured here: over TLS 1.3, about one websocket handshake in twenty-five to uvicorn stalls until
        # the client's open timeout (either uvicorn websocket implementation; plain HTTP and TLS 1.2 never
        # do). The cause is not isolated, so the loopback listener speaks TLS 1.2, which every client has.
        config.load()
        assert config.ssl is not None
        config.ssl.maximum_version = ssl.TLSVersion.TLSv1_2
    return config


_STOP_POLL_SECONDS = 0.005


class PromptServer(uvicorn.Server):
    """A uvicorn server that stops as soon as it is told to, instead of at its next 0.1 s tick.

    uvicorn's main loop sleeps 0.1 s between looks at `should_exit`, and its shutdown sleeps 0.1 s more
    before looking at the connections, then polls them every 0.1 s: stopping a server that served a test
    took about 0.2 s. Here the main loop waits on an event that `stop()` sets from any thread (and wakes
    once a second for the Date header, as uvicorn's tick does), and shutdown polls every 5 ms, within the
    same graceful-shutdown bound.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick refreshes the Date header when counter % 10 == 0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    def stop(self) -> None:
        """Ask the server to exit now (from any thread)."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()
        deadline = time.monotonic() + float(self.config.timeout_graceful_shutdown or 0)
        while (state.connections or state.tasks) and not self.force_exit and time.monotonic() < deadline:
            await asyncio.sleep(_STOP_POLL_SECONDS)
        for task in list(state.tasks):
            task.cancel()
        for server in getattr(self, "servers", []):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), _STOP_TIMEOUT_SECONDS)
        if not self.force_exit:
            await self.lifespan.shutdown()
