"""`harness.respx_routes`: respx routes answered by the simulator app, a whole new stream on every call,
for sync and async clients alike."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, WEATHER_BOT, user_message, weather_tools

from harness import sdk
from harness.inprocess import async_http_client, sync_http_client
from harness.local_plugin import AsyncLocalPluginRunner, LocalPluginRunner
from harness.sdk import event_name
from simulators.coze import DEFAULT_TOKEN, Catalogue, create_app

respx = pytest.importorskip("respx", reason="respx is not installed")

from harness.respx_routes import ROUTE_NAME, mock_coze  # noqa: E402  (needs respx)

BASE = "https://api.coze.com"
_AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
_WAIT = 10.0
_TIMEOUT = httpx.Timeout(_WAIT)
"""Bounds every wait well below cozepy's default 600 s read timeout."""
_CHAT = {
    "bot_id": ECHO_BOT,
    "user_id": "u",
    "stream": True,
    "additional_messages": [{"role": "user", "content": "hello", "content_type": "text"}],
}
_END = b'event:done\ndata:"[DONE]"\n\n'


def _events(body: bytes) -> list[str]:
    return [line[len("event:") :] for line in body.decode().splitlines() if line.startswith("event:")]


def test_a_static_iterator_route_is_spent_after_one_call() -> None:
    """The respx limit this module exists for, measured: the second call of the route gets nothing."""
    with respx.mock(base_url=BASE) as router:
        router.post("/v3/chat").mock(return_value=httpx.Response(200, content=iter([b"event:a\n", b"data:{}\n\n"])))
        with httpx.Client(base_url=BASE) as client:
            first = client.post("/v3/chat").content
            second = client.post("/v3/chat").content
    assert (first, second) == (b"event:a\ndata:{}\n\n", b"")


def test_the_same_route_streams_in_full_on_every_call() -> None:
    with mock_coze(create_app(), base_url=BASE) as router, httpx.Client(base_url=BASE, timeout=_WAIT) as client:
        bodies = [client.post("/v3/chat", json=_CHAT, headers=_AUTH).content for _ in range(3)]
        assert router[ROUTE_NAME].call_count == 3
    for body in bodies:
        assert body.endswith(_END)
        assert _events(body)[0] == "conversation.chat.created"
        assert "conversation.chat.completed" in _events(body)
    assert bodies[0] != bodies[1], "each call reaches the app: new chat ids, not a replayed body"


@pytest.mark.anyio
async def test_the_same_route_serves_an_async_client_in_full_every_time() -> None:
    with mock_coze(create_app(), base_url=BASE):
        async with httpx.AsyncClient(base_url=BASE, timeout=_WAIT) as client:
            bodies = [(await client.post("/v3/chat", json=_CHAT, headers=_AUTH)).content for _ in range(2)]
    assert all(body.endswith(_END) for body in bodies)
    assert _events(bodies[0]) == _events(bodies[1])


@pytest.mark.anyio
async def test_one_router_serves_sync_and_async_clients_side_by_side() -> None:
    with mock_coze(create_app(), base_url=BASE) as router:
        with httpx.Client(base_url=BASE, timeout=_WAIT) as sync_client:
            sync_body = sync_client.post("/v3/chat", json=_CHAT, headers=_AUTH).content
        async with httpx.AsyncClient(base_url=BASE, timeout=_WAIT) as async_client:
            async_body = (await async_client.post("/v3/chat", json=_CHAT, headers=_AUTH)).content
        assert router[ROUTE_NAME].call_count == 2
    assert _events(sync_body) == _events(async_body)


def test_the_body_streams_as_the_app_sends_it() -> None:
    """The route's response is not read up front: the caller has the first chunk while the app is held."""
    gate = threading.Event()
    finished = threading.Event()
    app = create_app()

    async def held(scope: Any, receive: Any, send: Any) -> None:
        sent = 0

        async def send_and_hold(message: Any) -> None:
            nonlocal sent
            await send(message)
            if message["type"] == "http.response.body" and message.get("body"):
                sent += 1
                if sent == 1:
                    for _ in range(int(_WAIT * 100)):
                        if gate.is_set():
                            return
                        await asyncio.sleep(0.01)

        try:
            await app(scope, receive, send_and_hold)
        finally:
            finished.set()

    with (
        mock_coze(held, base_url=BASE),
        httpx.Client(base_url=BASE, timeout=_WAIT) as client,
        client.stream("POST", "/v3/chat", json=_CHAT, headers=_AUTH) as response,
    ):
        chunks = response.iter_raw()
        assert next(chunks).startswith(b"event:conversation.chat.created")
        assert not finished.is_set()
        gate.set()
        assert b"".join(chunks).endswith(_END)


def test_other_hosts_are_refused_not_sent() -> None:
    with (
        mock_coze(base_url=BASE),
        httpx.Client() as client,
        pytest.raises(respx.models.AllMockedAssertionError),
    ):
        client.get("http://127.0.0.1:9/not-the-simulator")


def test_a_catalogue_or_nothing_gives_a_simulator() -> None:
    for source in (None, Catalogue.builtin()):
        with mock_coze(source, base_url=BASE) as router, httpx.Client(base_url=BASE, timeout=_WAIT) as client:
            assert client.post("/v3/chat", json=_CHAT, headers=_AUTH).content.endswith(_END)
            assert router.app is not None
    with pytest.raises(TypeError, match="Catalogue"):
        mock_coze("not an app")


def test_a_router_can_be_entered_again() -> None:
    """Leaving the block stops the sync transport's loop; entering again (a decorator does) starts a new one."""
    router = mock_coze(create_app(), base_url=BASE)
    for _ in range(2):
        with router, httpx.Client(base_url=BASE, timeout=_WAIT) as client:
            assert client.post("/v3/chat", json=_CHAT, headers=_AUTH).content.endswith(_END)


@pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))
def test_cozepy_runs_the_local_plugin_loop_through_respx() -> None:
    tools = weather_tools()

    with mock_coze(create_app(), base_url=BASE) as router:
        coze = cozepy.Coze(
            auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=BASE, http_client=sync_http_client(timeout=_TIMEOUT)
        )
        result = LocalPluginRunner(coze, tools).run(WEATHER_BOT, "Paris")
        assert router[ROUTE_NAME].call_count == 2  # the chat, then submit_tool_outputs
    assert result.status == "completed"
    assert "20 degrees celsius in Paris" in result.answer


@pytest.mark.skipif(sdk.async_tool_call_gap() is not None, reason=str(sdk.async_tool_call_gap()))
@pytest.mark.anyio
async def test_async_cozepy_runs_the_local_plugin_loop_through_respx() -> None:
    tools = weather_tools()

    with mock_coze(create_app(), base_url=BASE):
        auth = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)(DEFAULT_TOKEN)
        coze = cozepy.AsyncCoze(auth=auth, base_url=BASE, http_client=async_http_client(timeout=_TIMEOUT))
        result = await AsyncLocalPluginRunner(coze, tools).run(WEATHER_BOT, "Paris")
    assert result.status == "completed"
    assert "noon in Asia/Shanghai" in result.answer


def test_cozepy_sees_each_event_of_repeated_streams() -> None:
    with mock_coze(create_app(), base_url=BASE):
        coze = cozepy.Coze(
            auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=BASE, http_client=sync_http_client(timeout=_TIMEOUT)
        )
        runs = [
            [
                event_name(event)
                for event in coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")])
            ]
            for _ in range(2)
        ]
    assert runs[0] == runs[1]
    assert runs[0][0] == "conversation.chat.created"
