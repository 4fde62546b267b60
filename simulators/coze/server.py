"""Serving the simulator (and the harness's HTTP bridge) with uvicorn on a socket we bind first.

Binding before uvicorn starts is what makes `--port 0` useful: the real port is known (and printed)
before the first request, with no race and no log scraping.

Every server runs with `ServerLimits`: a connection must finish each request's headers within
`header_timeout` seconds (uvicorn has no such timeout, so a client trickling a header line held its
socket for ever), an idle keep-alive connection is closed after `idle_timeout` seconds, and a
connection over `max_connections` is answered 503 and closed at once instead of being held. The
header timeout is what keeps the cap from becoming a lock-out: idle sockets are reaped, so they
cannot hold every slot (or every file descriptor) for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from uvicorn.protocols.http.h11_impl import H11Protocol

from .accesslog import AccessLog
from .tls import LocalTls

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0
_log = logging.getLogger("simulators.coze.server")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 5.0
DEFAULT_MAX_CONNECTIONS = 256
_FDS_KEPT_FREE = 16
"""File descriptors left to the process beyond the connection cap (logs, files a tool opens, the listener)."""


class ServerLimits(BaseModel):
    """How long and how many: the limits every server `serve` and `running` start applies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    header_timeout: float = Field(
        DEFAULT_HEADER_TIMEOUT,
        gt=0,
        allow_inf_nan=False,
        description="seconds a connection has to send a request's complete headers, from its first byte "
        "(or from the connection's start); then it is closed",
    )
    idle_timeout: float = Field(
        DEFAULT_IDLE_TIMEOUT,
        gt=0,
        allow_inf_nan=False,
        description="seconds an idle keep-alive connection is kept open between requests",
    )
    max_connections: int = Field(
        DEFAULT_MAX_CONNECTIONS,
        ge=1,
        description="open connections at most; one more is answered 503 and closed. Lowered to fit the "
        "process's open-file limit when that is smaller",
    )

    def effective_max_connections(self) -> int:
        """`max_connections`, lowered so that the connections cannot use up the process's file descriptors."""
        try:
            import resource  # POSIX only
        except ImportError:  # pragma: no cover - Windows has no such limit to fit
            return self.max_connections
        try:
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        except (OSError, ValueError):  # pragma: no cover - no such limit on this platform
            return self.max_connections
        if soft == resource.RLIM_INFINITY or soft <= 0:
            return self.max_connections
        return max(1, min(self.max_connections, soft - _FDS_KEPT_FREE))


_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"content-length: 41\r\n\r\n"
    b"too many open connections; try again soon"
)


class _LimitedH11(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection cap (see `ServerLimits`).

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
        super().connection_made(transport)
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


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket. Its protocol is named (not left 0) because asyncio turns Nagle's algorithm off
    (`TCP_NODELAY`) only on connections whose socket says `IPPROTO_TCP`; without it every response written
    in two parts (headers, then body) waited for the client's delayed ACK: 40 ms a request on Linux."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket, tls: bool = False) -> str:
    host, port = sock.getsockname()[:2]
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _config(
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


class _PromptServer(uvicorn.Server):
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


def serve(
    app: FastAPI,
    sock: socket.socket,
    tls: LocalTls | None = None,
    limits: ServerLimits | None = None,
    access_log: bool = False,
) -> None:
    """Run in the foreground until interrupted (Ctrl-C / SIGTERM), with `limits` (safe defaults if None).

    `access_log` writes one line per request to stderr (`accesslog.AccessLog`: no headers, query values
    other than decimal ids redacted)."""
    previous = _exit_on_sigterm()
    try:
        uvicorn.Server(_config(app, tls, limits, access_log)).run(sockets=[sock])
    except SystemExit:
        pass  # our SIGTERM handler, re-raised by uvicorn after its graceful shutdown
    finally:
        _release(app)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm() -> Any:
    """uvicorn re-raises the SIGTERM it caught once it has shut down; with the default action that kills the
    process on the spot, before any `finally` or atexit hook (the uploads' folder would stay). A handler that
    raises SystemExit lets `serve` release what it holds first. Signals belong to the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _exit(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, _exit)


def _release(app: FastAPI) -> None:
    """What a stopped server leaves behind: a simulator's uploaded files (uvicorn runs with the lifespan
    off, so this is where shutdown happens). Other apps (the bridge) have nothing to release."""
    close = getattr(getattr(getattr(app, "state", None), "simulator", None), "close", None)
    if callable(close):
        close()


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    app: FastAPI


@contextmanager
def running(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: LocalTls | None = None,
    limits: ServerLimits | None = None,
    access_log: bool = False,
) -> Iterator[RunningServer]:
    """Serve `app` from a background thread for the duration of the block, then stop it (bounded).

    With `tls` the server speaks HTTPS and WSS only, and `base_url` starts with `https://`. `limits`
    are the connection limits (`ServerLimits()`, safe defaults, if None); `access_log` as for `serve`.
    """
    sock = bind(host, port)
    server = _PromptServer(_config(app, tls, limits, access_log))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="coze-simulator", daemon=True)
    thread.start()
    try:
        waited = 0.0
        while not server.started:
            if not thread.is_alive() or waited >= _START_TIMEOUT_SECONDS:
                raise RuntimeError(f"the simulator did not start within {_START_TIMEOUT_SECONDS} s")
            thread.join(0.01)
            waited += 0.01
        yield RunningServer(base_url=base_url_of(sock, tls is not None), app=app)
    finally:
        server.stop()
        thread.join(_STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_SECONDS)
        sock.close()
        _release(app)
