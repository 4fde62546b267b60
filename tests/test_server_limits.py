"""`ServerLimits` on a real socket: the header timeout, the idle (keep-alive) timeout and the connection cap
that `serve` and `running` apply to both servers (the simulator and the bridge)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from simulators.coze import ServerLimits, running
from simulators.coze._uvicorn import config_for as _config
from simulators.coze.server import DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

_WAIT = 10.0


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=_WAIT)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (reads until EOF), or None if it stayed open that long."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return time.monotonic() - started
    except TimeoutError:
        return None
    except ConnectionResetError:
        return time.monotonic() - started


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    sock.settimeout(_WAIT)
    data = b""
    while b'{"ok":true}' not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def server() -> Iterator[str]:
    limits = ServerLimits(header_timeout=0.5, idle_timeout=0.5, max_connections=3)
    with running(_app(), limits=limits) as served:
        yield served.base_url


def test_the_defaults_are_safe() -> None:
    limits = ServerLimits()
    assert limits.header_timeout == DEFAULT_HEADER_TIMEOUT <= 30
    assert limits.idle_timeout == DEFAULT_IDLE_TIMEOUT <= 30
    assert 1 <= limits.max_connections == DEFAULT_MAX_CONNECTIONS <= 1024
    config = _config(_app())
    config.load()
    assert config.timeout_keep_alive == DEFAULT_IDLE_TIMEOUT
    assert config.http_protocol_class.__name__ == "LimitedH11Protocol"  # never httptools, even if installed


@pytest.mark.parametrize(
    "values", [{"header_timeout": 0}, {"idle_timeout": -1}, {"max_connections": 0}, {"header_timeout": float("inf")}]
)
def test_nonsense_limits_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ServerLimits.model_validate(values)


def test_a_half_sent_header_line_is_cut_off_within_the_header_timeout(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.")
        elapsed = _closed_within(sock, 5.0)
    assert elapsed is not None and elapsed < 3.0


def test_a_silent_connection_is_cut_off_within_the_header_timeout(server: str) -> None:
    with _connect(server) as sock:
        elapsed = _closed_within(sock, 5.0)
    assert elapsed is not None and elapsed < 3.0


def test_a_trickled_second_request_on_a_kept_alive_connection_is_cut_off(server: str) -> None:
    """uvicorn cancels its keep-alive timer on the first byte; the header timer must take over."""
    with _connect(server) as sock:
        assert b"200 OK" in _get(sock)
        sock.sendall(b"GET /pi")
        started = time.monotonic()
        for piece in (b"n", b"g", b" H", b"TTP"):  # a byte now and then, never a whole head
            time.sleep(0.2)
            try:
                sock.sendall(piece)
            except OSError:
                break
        elapsed = _closed_within(sock, 5.0)
    assert elapsed is not None and time.monotonic() - started < 3.0


def test_an_idle_keep_alive_connection_is_closed(server: str) -> None:
    with _connect(server) as sock:
        assert b"200 OK" in _get(sock)
        elapsed = _closed_within(sock, 5.0)
    assert elapsed is not None and elapsed < 3.0


def test_a_slow_but_complete_head_is_served(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\n")
        time.sleep(0.2)
        assert b"200 OK" in _get_rest(sock, b"Host: 127.0.0.1\r\n\r\n")


def _get_rest(sock: socket.socket, rest: bytes) -> bytes:
    sock.sendall(rest)
    sock.settimeout(_WAIT)
    data = b""
    while b'{"ok":true}' not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_connections_over_the_cap_get_503_not_a_hang(server: str) -> None:
    held = [_connect(server) for _ in range(3)]
    try:
        time.sleep(0.1)
        with _connect(server) as extra:
            extra.settimeout(_WAIT)
            answer = extra.recv(4096)
            assert answer.startswith(b"HTTP/1.1 503"), answer
            assert b"retry-after: 1" in answer.lower()
            assert _closed_within(extra, 2.0) is not None
    finally:
        for sock in held:
            sock.close()


def test_idle_sockets_cannot_lock_the_server_out(server: str) -> None:
    """The cap's slots held by silent sockets come back once the header timeout closes them."""
    held = [_connect(server) for _ in range(3)]
    try:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with _connect(server) as sock:
                    answer = _get(sock)
            except OSError:  # refused with a 503 and closed before our request was read
                answer = b""
            if b"200 OK" in answer or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert b"200 OK" in answer
    finally:
        for sock in held:
            sock.close()


def test_the_cap_fits_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda _which: (64, 64))
    assert ServerLimits(max_connections=256).effective_max_connections() == 48
    assert ServerLimits(max_connections=10).effective_max_connections() == 10
