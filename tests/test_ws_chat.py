"""Websocket chat (`/v1/chat`): the wire as a plain websocket client sees it, and the local-plugin loop
with the real cozepy websocket client (sync and async) over TLS on loopback."""

from __future__ import annotations

import functools
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Literal

import anyio
import cozepy
import pytest
from conftest import ECHO_BOT, RESEARCH_BOT, WEATHER_BOT, wss_clients

from harness import local_plugin_ws, sdk
from harness.local_plugin import LocalPluginError, LocalPluginResult
from harness.local_plugin_ws import AsyncWebsocketLocalPluginRunner, WebsocketLocalPluginRunner
from harness.tools import TOOL_ERROR, UNKNOWN_TOOL, ToolRegistry
from harness.trust import trusting
from simulators.coze import DEFAULT_TOKEN, LocalTls, RunningServer, create_app, running

websockets_sync = pytest.importorskip("websockets.sync.client", reason="the websockets package is too old")

pytestmark = pytest.mark.e2e

GAP = sdk.websocket_chat_gap()
needs_ws_sdk = pytest.mark.skipif(GAP is not None, reason=str(GAP))


def _ws_url(server: RunningServer, query: str) -> str:
    return server.base_url.replace("https://", "wss://") + "/v1/chat" + query


def _connect(server: RunningServer, tls: LocalTls, query: str, token: str | None = DEFAULT_TOKEN) -> Any:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return websockets_sync.connect(_ws_url(server, query), ssl=context, additional_headers=headers, open_timeout=5)


def _recv(connection: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(connection.recv(timeout=5))
    return message


def _send(connection: Any, event_type: str, data: Any = None) -> None:
    message: dict[str, Any] = {"id": "client-1", "event_type": event_type}
    if data is not None:
        message["data"] = data
    connection.send(json.dumps(message))


def _until(connection: Any, *names: str) -> list[dict[str, Any]]:
    seen = []
    for _ in range(50):
        message = _recv(connection)
        seen.append(message)
        if message["event_type"] in names:
            return seen
    raise AssertionError(f"none of {names} within 50 events: {[m['event_type'] for m in seen]}")


# --- the wire, read with a plain websocket client ---------------------------------------------------


def test_envelope_and_local_plugin_round_trip_on_the_wire(wss: RunningServer, tls: LocalTls) -> None:
    with _connect(wss, tls, f"?bot_id={WEATHER_BOT}") as connection:
        assert connection.response.headers["x-tt-logid"]
        created = _recv(connection)
        assert created["event_type"] == "chat.created" and set(created) == {"id", "event_type", "detail"}
        logid = created["detail"]["logid"]
        assert logid == connection.response.headers["x-tt-logid"]
        _send(connection, "chat.update", {"chat_config": {"user_id": "u1"}})
        updated = _recv(connection)
        assert updated["event_type"] == "chat.updated" and updated["data"] == {"chat_config": {"user_id": "u1"}}
        _send(connection, "conversation.message.create", {"role": "user", "content_type": "text", "content": "Rome"})
        first = _until(connection, "conversation.chat.requires_action")
        names = [m["event_type"] for m in first]
        assert names[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
        action = first[-1]["data"]
        assert action["status"] == "requires_action"
        calls = action["required_action"]["submit_tool_outputs"]["tool_calls"]
        assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
        assert all(isinstance(c["function"]["arguments"], str) for c in calls)
        for message in first:
            assert set(message) == {"id", "event_type", "data", "detail"} and message["detail"] == {"logid": logid}
        assert len({m["id"] for m in first}) == len(first)
        outputs = [{"tool_call_id": c["id"], "output": f"out-{c['function']['name']}"} for c in calls]
        _send(connection, "conversation.chat.submit_tool_outputs", {"chat_id": action["id"], "tool_outputs": outputs})
        rest = _until(connection, "conversation.chat.completed")
        answers = [m["data"]["content"] for m in rest if m["event_type"] == "conversation.message.completed"]
        assert "Weather: out-get_weather. Local time: out-get_time." in answers
        assert rest[-1]["data"]["status"] == "completed" and rest[-1]["data"]["id"] == action["id"]
        assert "done" not in [m["event_type"] for m in rest]  # websocket chat has no SSE-style done


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        ("{not json", 4000, "not valid JSON"),
        ('{"event_type": "bogus.event"}', 4000, "unknown event_type 'bogus.event'"),
        ('{"event_type": "input_audio_buffer.append", "data": {"delta": ""}}', 4000, "audio is not modelled"),
        ('{"event_type": "conversation.message.create", "data": {"role": "user"}}', 4000, "content_type"),
        (
            '{"event_type": "conversation.chat.submit_tool_outputs", "data": {"chat_id": "1", "tool_outputs": []}}',
            4200,
            "not the chat of this connection",
        ),
    ],
)
def test_a_bad_message_gets_an_error_event_and_the_socket_stays_open(
    wss: RunningServer, tls: LocalTls, raw: str, code: int, says: str
) -> None:
    with _connect(wss, tls, f"?bot_id={ECHO_BOT}") as connection:
        assert _recv(connection)["event_type"] == "chat.created"
        connection.send(raw)
        error = _recv(connection)
        assert error["event_type"] == "error"
        assert error["data"]["code"] == code and says in error["data"]["msg"], error
        assert error["detail"]["origin_message"] == raw
        _send(connection, "conversation.message.create", {"role": "user", "content_type": "text", "content": "hi"})
        assert _until(connection, "conversation.chat.completed")[-1]["data"]["status"] == "completed"


@pytest.mark.parametrize(
    ("query", "token", "status", "code"),
    [
        (f"?bot_id={ECHO_BOT}", None, 401, 4100),
        (f"?bot_id={ECHO_BOT}", "wrong-token", 401, 4100),
        ("?bot_id=7390000000000000999", DEFAULT_TOKEN, 404, 4200),
        ("", DEFAULT_TOKEN, 400, 4000),
    ],
)
def test_a_refused_handshake_is_an_http_envelope(
    wss: RunningServer, tls: LocalTls, query: str, token: str | None, status: int, code: int
) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        _connect(wss, tls, query, token)
    response = refused.value.response
    assert response.status_code == status
    body = json.loads(response.body)
    assert body["code"] == code and body["msg"] and body["detail"]["logid"] == response.headers["x-tt-logid"]


# --- the real cozepy websocket client --------------------------------------------------------------


@pytest.fixture
def coze_wss(wss: RunningServer, tls: LocalTls) -> Iterator[tuple[Any, Any]]:
    with wss_clients(wss.base_url, tls.ca_file) as clients:
        yield clients


async def _drive(
    mode: Literal["sync", "async"], clients: tuple[Any, Any], registry: ToolRegistry, bot: str, text: str
) -> LocalPluginResult:
    with anyio.fail_after(60):
        if mode == "sync":
            runner = WebsocketLocalPluginRunner(clients[0], registry, chat_timeout=20)
            return await anyio.to_thread.run_sync(functools.partial(runner.run, bot, text))
        return await AsyncWebsocketLocalPluginRunner(clients[1], registry, chat_timeout=20).run(bot, text)


def _weather_tools(fail: bool = False, only: str | None = None) -> ToolRegistry:
    registry = ToolRegistry()

    def get_weather(city: str, unit: str) -> str:
        if fail:
            raise RuntimeError(f"sensor offline in {city}")
        return f"{city}: 21 {unit}, light rain"

    def get_time(timezone: str) -> str:
        return f"14:05 in {timezone}"

    for fn in (get_weather, get_time):
        if only in (None, fn.__name__):
            registry.tool(fn)
    return registry


MODES = [pytest.param("sync", marks=needs_ws_sdk), pytest.param("async", marks=needs_ws_sdk)]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_one_round_two_calls(mode: Literal["sync", "async"], coze_wss: tuple[Any, Any]) -> None:
    result = await _drive(mode, coze_wss, _weather_tools(), WEATHER_BOT, "Paris")
    assert (result.status, result.rounds) == ("completed", 1)
    weather, clock = result.tool_calls
    assert weather.output == "Paris: 21 celsius, light rain" and clock.output == "14:05 in Asia/Shanghai"
    assert result.answer == f"Weather: {weather.output}. Local time: {clock.output}."
    assert result.chat_id.isdigit() and result.conversation_id.isdigit()


@needs_ws_sdk
def test_close_later_returns_before_the_sdk_closes_and_settle_waits(coze_wss: tuple[Any, Any]) -> None:
    """`close_later`: chats run back to back on one runner while each close goes on in the background;
    `settle()` waits for all of them (bounded) and reports none stuck."""
    runner = WebsocketLocalPluginRunner(coze_wss[0], _weather_tools(), chat_timeout=20, close_later=True)
    results = [runner.run(WEATHER_BOT, city) for city in ("Paris", "Oslo")]
    assert [result.status for result in results] == ["completed", "completed"]
    closers = [closing.closer for closing in runner._closing]
    assert len(closers) == 2
    assert runner.settle() == [] and runner.close_issues == []
    assert not any(closer.is_alive() for closer in closers) and runner._closing == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_two_rounds(mode: Literal["sync", "async"], coze_wss: tuple[Any, Any]) -> None:
    registry = ToolRegistry()

    @registry.tool
    def search_files(query: str, limit: int) -> str:
        return f"/docs/{query}-{limit}.md"

    @registry.tool
    def read_file(path: str) -> str:
        return f"contents of {path}"

    result = await _drive(mode, coze_wss, registry, RESEARCH_BOT, "notes")
    assert (result.status, result.rounds) == ("completed", 2)
    assert [(c.round, c.name) for c in result.tool_calls] == [(1, "search_files"), (2, "read_file")]
    assert result.answer == "Found /docs/notes-3.md; it says: contents of /docs/notes-3.md"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_raising_tool_and_an_unknown_tool_still_get_outputs(
    mode: Literal["sync", "async"], coze_wss: tuple[Any, Any]
) -> None:
    result = await _drive(mode, coze_wss, _weather_tools(fail=True, only="get_weather"), WEATHER_BOT, "Oslo")
    assert result.status == "completed"
    weather, clock = result.tool_calls
    assert weather.error is not None and weather.error.code == TOOL_ERROR
    assert clock.error is not None and clock.error.code == UNKNOWN_TOOL
    assert result.answer == f"Weather: {weather.output}. Local time: {clock.output}."


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_disconnect_mid_chat_is_a_clear_error_not_a_hang(mode: Literal["sync", "async"], tls: LocalTls) -> None:
    """The server goes away while the runner is running round 1's tools: the runner says so, bounded."""
    stack = ExitStack()
    server = stack.enter_context(running(create_app(), tls=tls))
    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str, unit: str) -> str:
        stack.close()  # stops the server: its sockets close under the client
        return "too late"

    @registry.tool
    def get_time(timezone: str) -> str:
        return "never submitted"

    try:
        with trusting(tls.ca_file):
            auth_class = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)
            clients = (
                cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=server.base_url),
                cozepy.AsyncCoze(auth=auth_class(DEFAULT_TOKEN), base_url=server.base_url),
            )
            with pytest.raises(LocalPluginError) as failed:
                await _drive(mode, clients, registry, WEATHER_BOT, "Paris")
    finally:
        stack.close()
    assert failed.value.result is not None and failed.value.result.status == "incomplete"
    assert "websocket" in str(failed.value)


def test_the_runner_refuses_an_sdk_without_websocket_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.local_plugin import UnsupportedSDKError

    monkeypatch.setattr(sdk, "websocket_chat_gap", lambda: "cozepy 0.9.0 has no cozepy.websockets.chat")
    with pytest.raises(UnsupportedSDKError, match=r"no cozepy\.websockets\.chat"):
        WebsocketLocalPluginRunner(object(), ToolRegistry()).run(ECHO_BOT, "hi")


class _HangingClose:
    """A connection whose close() blocks, as cozepy 0.14 and 0.15's sync client's does, until the socket
    under it is closed (what the runner's rescue does)."""

    def __init__(self) -> None:
        self.socket_closed = threading.Event()
        self._ws = self  # the runner closes `client._ws` under a close that hangs

    def close(self) -> None:
        self.socket_closed.set()

    def __exit__(self, *_: object) -> None:
        self.socket_closed.wait(10)


def test_settle_rescues_every_hanging_close_after_one_shared_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closes that never return are all rescued (socket closed under them, issue recorded), and `settle`
    gives them one `CLOSE_TIMEOUT` together: every close is waited for before the first rescue, and every
    rescue is made before the next wait, instead of one wait and rescue per close in turn (a hanging
    release cost 15 s per report with three chats)."""
    monkeypatch.setattr(local_plugin_ws, "CLOSE_TIMEOUT", 0.2)
    runner = WebsocketLocalPluginRunner(object(), _weather_tools(), close_later=True)
    log: list[str] = []

    class Closer(threading.Thread):
        def join(self, timeout: float | None = None) -> None:
            log.append(f"wait {self.name}")
            super().join(timeout)

    hanging = [_HangingClose() for _ in range(3)]
    for number, connection in enumerate(hanging):
        closer = Closer(target=connection.__exit__, args=(None, None, None), name=str(number), daemon=True)
        closer.start()
        result = LocalPluginResult(
            bot_id="1",
            chat_id="1",
            conversation_id="1",
            status="completed",
            answer="",
            rounds=0,
            tool_calls=[],
            sdk_version=sdk.version(),
        )
        nudge = functools.partial(log.append, f"rescue {number}")
        runner._closing.append(local_plugin_ws._Closing(closer, connection, nudge, result))
    assert runner.settle() == []  # rescued: each close returned once its socket was closed
    assert all(connection.socket_closed.is_set() for connection in hanging)
    assert len(runner.close_issues) == 3 and all("did not return within 0.2 s" in i for i in runner.close_issues)
    assert log[:6] == ["wait 0", "wait 1", "wait 2", "rescue 0", "rescue 1", "rescue 2"]
