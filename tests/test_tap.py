"""The server-side recorder: what an SDK in another process sent and received, in the client recorder's shape."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from harness.recorder import MAX_BODY_CHARS
from harness.tap import RecordingApp
from simulators.coze import DEFAULT_TOKEN, Catalogue, SimConfig, create_app, running

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
