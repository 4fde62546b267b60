"""The server-side recorder: what an SDK in another process sent and received, in the client recorder's shape."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from harness.recorder import MAX_BODY_CHARS
from harness.tap import RecordingApp
from simulators.coze import DEFAULT_TOKEN, Catalogue, SimConfig, create_app, running

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ECHO_BOT = "7390000000000000001"


def test_a_stream_is_recorded_whole_with_its_secrets_masked() -> None:
    tap = RecordingApp(create_app(Catalogue.builtin(), SimConfig()))
    with running(tap) as sim:
        body = {"bot_id": ECHO_BOT, "user_id": "u", "stream": True, "additional_messages": []}
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Cookie": "c=1"}
        with httpx.Client(base_url=sim.base_url) as client:
            answer = client.post("/v3/chat", json=body, headers=headers)
            refused = client.post("/v3/chat", json=body)
    [stream, unauthorised] = tap.take()
    assert tap.take() == []  # taken once
    assert (stream.method, stream.status, stream.complete) == ("POST", 200, True)
    assert stream.url == f"{sim.base_url}/v3/chat"
    assert stream.response_body == answer.text and "event:conversation.chat.completed" in stream.response_body
    assert ECHO_BOT in stream.request_body
    assert stream.request_headers["authorization"] == stream.request_headers["cookie"] == "***"
    assert DEFAULT_TOKEN not in stream.model_dump_json()
    assert stream.response_headers["content-type"].startswith("text/event-stream")
    assert unauthorised.status == refused.status_code == 401 and unauthorised.response_body == refused.text


async def _app(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for _ in range(3):
        await send({"type": "http.response.body", "body": b"x" * MAX_BODY_CHARS, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def test_bodies_and_the_record_are_bounded_and_other_traffic_passes_through() -> None:
    tap = RecordingApp(_app, max_exchanges=2)
    transport = httpx.ASGITransport(app=tap)

    async def three() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for number in range(3):
                await client.get(f"/{number}")

    asyncio.run(three())
    kept = tap.take()
    assert [exchange.url for exchange in kept] == ["http://test/1", "http://test/2"]  # the oldest went first
    body = kept[0].response_body
    assert body.startswith("x" * 100) and body.endswith(f"... [{3 * MAX_BODY_CHARS} bytes]")
    assert len(body) < MAX_BODY_CHARS + 50

    seen: list[str] = []

    async def other(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def lifespan() -> None:
        await RecordingApp(other)({"type": "lifespan"}, None, None)
        await RecordingApp(other)({"type": "websocket"}, None, None)

    asyncio.run(lifespan())
    assert seen == ["lifespan", "websocket"]


async def _slow_end(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"first|", "more_body": True})
    await asyncio.sleep(0.3)
    await send({"type": "http.response.body", "body": b"rest"})


def test_a_take_waits_for_what_the_app_still_writes() -> None:
    """A client that has what it wanted (a pause, an error) stops reading while the app writes on: what is
    recorded must not depend on when the exchanges were taken."""
    tap = RecordingApp(_slow_end)
    with running(tap) as server, httpx.stream("GET", f"{server.base_url}/slow", timeout=5) as answer:  # type: ignore[arg-type]
        assert next(answer.iter_raw()) == b"first|"
        [exchange] = tap.take()  # the app is still sleeping before its last chunk
        assert (exchange.response_body, exchange.complete) == ("first|rest", True)


def test_a_websocket_is_one_exchange_with_the_frames_both_ways() -> None:
    import websockets.sync.client
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        for _ in range(2):
            text = await socket.receive_text()
            await socket.send_text(f'{{"echo":{text}}}')
        await socket.close()

    tap = RecordingApp(Starlette(routes=[WebSocketRoute("/v1/chat", echo)]))
    with running(tap) as server:  # type: ignore[arg-type]
        url = server.base_url.replace("http://", "ws://") + "/v1/chat?bot_id=1"
        with websockets.sync.client.connect(url, additional_headers={"Authorization": "Bearer secret"}) as socket:
            for number in (1, 2):
                socket.send(str(number))
                socket.recv(timeout=5)
        [exchange] = tap.take()
    assert (exchange.method, exchange.url, exchange.status) == ("WEBSOCKET", url, 101)
    assert exchange.request_body == "1\n2" and exchange.response_body == '{"echo":1}\n{"echo":2}'
    assert exchange.complete and exchange.request_headers["authorization"] == "***"
    assert exchange.request_headers["sec-websocket-key"] == "(random per handshake)"  # the same in every run
