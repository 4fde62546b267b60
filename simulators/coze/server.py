"""Serving the simulator with uvicorn on a socket we bind first.

Binding before uvicorn starts is what makes `--port 0` useful: the real port is known (and printed)
before the first request, with no race and no log scraping.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from .tls import LocalTls

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0


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


def _config(app: FastAPI, tls: LocalTls | None = None) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
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


def serve(app: FastAPI, sock: socket.socket, tls: LocalTls | None = None) -> None:
    """Run in the foreground until interrupted (Ctrl-C / SIGTERM)."""
    uvicorn.Server(_config(app, tls)).run(sockets=[sock])


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    app: FastAPI


@contextmanager
def running(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, tls: LocalTls | None = None
) -> Iterator[RunningServer]:
    """Serve `app` from a background thread for the duration of the block, then stop it (bounded).

    With `tls` the server speaks HTTPS and WSS only, and `base_url` starts with `https://`.
    """
    sock = bind(host, port)
    server = uvicorn.Server(_config(app, tls))
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
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_SECONDS)
        sock.close()
