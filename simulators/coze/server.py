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
import concurrent.futures
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

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
    import uvicorn

    from ._uvicorn import config_for

    previous = _exit_on_sigterm()
    try:
        uvicorn.Server(config_for(app, tls, limits, access_log)).run(sockets=[sock])
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
    loop: asyncio.AbstractEventLoop | None = None,
) -> Iterator[RunningServer]:
    """Serve `app` from a background thread for the duration of the block, then stop it (bounded).

    With `tls` the server speaks HTTPS and WSS only, and `base_url` starts with `https://`. `limits`
    are the connection limits (`ServerLimits()`, safe defaults, if None); `access_log` as for `serve`.
    `loop`: an event loop already running in another thread to serve on, instead of a thread of the server's
    own (one thread then runs everything that reaches the app, whichever way it comes).
    """
    from ._uvicorn import PromptServer, config_for

    if loop is not None:
        _check_loop(loop)
    sock = bind(host, port)
    serving: _Serving | None = None
    try:
        server = PromptServer(config_for(app, tls, limits, access_log))
        serving = _Serving(server, sock, loop)
        waited = 0.0
        while not server.started:
            if serving.ended(0.01) or waited >= _START_TIMEOUT_SECONDS:
                failure = serving.failure()
                serving.abandon()
                why = f": {type(failure).__name__}: {failure}" if failure else f" within {_START_TIMEOUT_SECONDS} s"
                raise RuntimeError(f"the simulator did not start{why}") from failure
            waited += 0.01
        yield RunningServer(base_url=base_url_of(sock, tls is not None), app=app)
    finally:
        if serving is not None:
            serving.stop()
        sock.close()
        _release(app)


def _check_loop(loop: asyncio.AbstractEventLoop) -> None:
    """`running(loop=...)` waits for the server from the calling thread, so the loop must run in another one."""
    if loop.is_closed() or not loop.is_running():
        raise RuntimeError("running(loop=...) serves on an event loop running in another thread; this one is not")
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is loop:
        raise RuntimeError("running(loop=...) cannot be called from the loop's own thread: it would wait on itself")


class _Serving:
    """One server running: on a thread of its own, or as a task on an event loop already running in another thread."""

    def __init__(self, server: Any, sock: socket.socket, loop: asyncio.AbstractEventLoop | None) -> None:
        self.server = server
        self._thread: threading.Thread | None = None
        self._task: concurrent.futures.Future[None] | None = None
        if loop is None:
            self._thread = threading.Thread(
                target=server.run, kwargs={"sockets": [sock]}, name="coze-simulator", daemon=True
            )
            self._thread.start()
        else:
            self._task = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), loop)

    def ended(self, seconds: float) -> bool:
        """Wait at most `seconds` for the server to end; has it?"""
        if self._thread is not None:
            self._thread.join(seconds)
            return not self._thread.is_alive()
        assert self._task is not None
        with contextlib.suppress(Exception):  # still running (TimeoutError), cancelled, or failed: `failure` says
            self._task.result(seconds)
        return self._task.done()

    def failure(self) -> BaseException | None:
        """What ended a server on a loop before it started (one on a thread prints its own error)."""
        task = self._task
        return task.exception() if task is not None and task.done() and not task.cancelled() else None

    def abandon(self) -> None:
        """Cancel a server on a loop that did not start or stop in time; a thread cannot be, and is a daemon."""
        if self._task is not None:
            self._task.cancel()

    def stop(self) -> None:
        self.server.stop()
        if not self.ended(_STOP_TIMEOUT_SECONDS):
            self.server.force_exit = True
            if not self.ended(_STOP_TIMEOUT_SECONDS):
                self.abandon()
