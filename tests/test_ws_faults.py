"""Faults on websocket chat (`/v1/chat`): the same `faults:` data as the SSE streams, applied to each chat
step's events (latency, reset, stall, malformed JSON, an `error` event) or to the handshake (http_error,
rate_limit). Each one is shown on the wire with a plain websocket client, and on the real cozepy
websocket client through the local-plugin runner, which ends with a clear error and never hangs. Every
wait is bounded (receive timeouts, `chat_timeout`, anyio.fail_after)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import anyio
import cozepy
import pytest
from conftest import ECHO_BOT, weather_tools, with_faults, wss_clients

from harness import sdk
from harness.local_plugin import LocalPluginError, LocalPluginResult
from harness.local_plugin_ws import AsyncWebsocketLocalPluginRunner, WebsocketLocalPluginRunner
from simulators.coze import (
    DEFAULT_TOKEN,
    Catalogue,
    LocalTls,
    RunningServer,
    SimConfig,
    create_app,
    running,
)
from simulators.coze.faults import FaultInjector, Faults, StreamAborted
from simulators.coze.routes import ws_chat
from simulators.coze.scenarios import BUILTIN_DIR

websockets_sync = pytest.importorskip("websockets.sync.client", reason="the websockets package is too old")

pytestmark = pytest.mark.e2e

GAP = sdk.websocket_chat_gap()
needs_ws_sdk = pytest.mark.skipif(GAP is not None, reason=str(GAP))
MODES = [pytest.param("sync", marks=needs_ws_sdk), pytest.param("async", marks=needs_ws_sdk)]

_RECV = 10.0
"""The longest a wire test waits for one message (every stall here is shorter, or is ended by the client)."""
_BOUND = 60.0
_CHAT_TIMEOUT = 20.0

# One copy of the weather bot per fault. Its first step is 5 events (conversation.chat.created,
# in_progress, two verbose message.completed, requires_action); the step after submit_tool_outputs is 10.
FAULTS: dict[str, str] = {
    "reset": "reset_after_events: 3",
    "stall": "stall: {after_events: 2, seconds: 1}",
    "long-stall": "stall: {after_events: 2, seconds: 60}",
    "malformed": "malformed_json: {event: 1}",
    "error-event": "error_event: {after_events: 3, code: 5001, msg: boom midway}",
    "late-error": "error_event: {after_events: 6, code: 5002, msg: broke in round two}",
    "http-error": "http_error: {status: 503, code: 5000, msg: upstream unavailable}",
    "rate-limit": "rate_limit: {}",
    "latency": "latency: {first_byte: 0.02, between_events: {uniform: [0, 0.005]}}",
    "truncate": "truncate_final_frame: {keep_bytes: 9}",
}
FAULT_BOT = {name: str(7392000000000000001 + number) for number, name in enumerate(FAULTS)}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    folder = tmp_path_factory.mktemp("ws-fault-scenarios")
    weather = (BUILTIN_DIR / "weather_bot.yaml").read_text(encoding="utf-8")
    for name, block in FAULTS.items():
        (folder / f"bot-{name}.yaml").write_text(with_faults(weather, FAULT_BOT[name], f"ws-weather-{name}", block))
    return Catalogue.load(BUILTIN_DIR, folder)


@pytest.fixture(scope="module")
def wss(catalogue: Catalogue, tls: LocalTls) -> Iterator[RunningServer]:
    """One simulator over TLS serving every faulty bot (the handshake faults refuse every connection)."""
    with running(create_app(catalogue), tls=tls) as server:
        yield server


# --- the wire, read with a plain websocket client ---------------------------------------------------


def _connect(server: RunningServer, tls: LocalTls, bot_id: str) -> Any:
    url = server.base_url.replace("https://", "wss://") + f"/v1/chat?bot_id={bot_id}"
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    return websockets_sync.connect(url, ssl=context, additional_headers=headers, open_timeout=5)


def _send(connection: Any, event_type: str, data: Any = None) -> None:
    message: dict[str, Any] = {"id": "client-1", "event_type": event_type}
    if data is not None:
        message["data"] = data
    connection.send(json.dumps(message))


def _ask(connection: Any, text: str = "Rome") -> None:
    _send(connection, "conversation.message.create", {"role": "user", "content_type": "text", "content": text})


def _texts_until(connection: Any, *names: str, limit: int = 30) -> list[str]:
    """Raw message texts up to one whose event_type is in `names` (text search: some may not parse)."""
    seen: list[str] = []
    for _ in range(limit):
        text = connection.recv(timeout=_RECV)
        seen.append(text)
        if any(f'"event_type":"{name}"' in text for name in names):
            return seen
    raise AssertionError(f"none of {names} within {limit} messages: {seen}")


def _opened(connection: Any) -> None:
    assert json.loads(connection.recv(timeout=_RECV))["event_type"] == "chat.created"


def _dropped(connection: Any, before: int) -> list[str]:
    """Reads until the connection ends; it must end without a close frame (1006), after `before` messages."""
    from websockets.exceptions import ConnectionClosedError

    received: list[str] = []
    with pytest.raises(ConnectionClosedError) as closed:
        for _ in range(before + 1):
            received.append(connection.recv(timeout=_RECV))
    assert closed.value.rcvd is None, "the server sent a close frame: a crash sends none"
    assert len(received) == before, received
    return received


def _names(texts: list[str]) -> list[str]:
    return [json.loads(text)["event_type"] for text in texts]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_reset_drops_the_connection_after_n_events_with_no_close_frame(wss: RunningServer, tls: LocalTls) -> None:
    server_log = logging.getLogger("uvicorn.error")  # where uvicorn reports an exception out of the app
    records = _Records()
    server_log.addHandler(records)
    try:
        with _connect(wss, tls, FAULT_BOT["reset"]) as connection:
            _opened(connection)
            _ask(connection)
            received = _dropped(connection, before=3)
        # The same connection's end, seen from the server: another client is served after it.
        with _connect(wss, tls, ECHO_BOT) as other:
            _opened(other)
    finally:
        server_log.removeHandler(records)
    assert _names(received) == [
        "conversation.chat.created",
        "conversation.chat.in_progress",
        "conversation.message.completed",
    ]
    logged = [r.getMessage() for r in records.records if r.levelno >= logging.WARNING]
    assert logged == [], f"a deliberate reset must not be logged as a bug: {logged}"


@pytest.mark.cozepy_free
def test_stall_sends_nothing_then_drops_the_connection(wss: RunningServer, tls: LocalTls) -> None:
    with _connect(wss, tls, FAULT_BOT["stall"]) as connection:
        _opened(connection)
        _ask(connection)
        received = _dropped(connection, before=2)
    assert _names(received) == ["conversation.chat.created", "conversation.chat.in_progress"]


def test_a_client_that_leaves_ends_a_long_stall(
    wss: RunningServer, tls: LocalTls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stops stalling when the client goes away, so a 60 s stall holds nothing for 60 s."""
    ended = threading.Event()
    stalled = ws_chat._Session._stalled

    async def watched(self: ws_chat._Session, seconds: float) -> None:
        await stalled(self, seconds)
        ended.set()

    monkeypatch.setattr(ws_chat._Session, "_stalled", watched)
    with _connect(wss, tls, FAULT_BOT["long-stall"]) as connection:
        _opened(connection)
        _ask(connection)
        assert _names([connection.recv(timeout=_RECV) for _ in range(2)])[-1] == "conversation.chat.in_progress"
        _send(connection, "conversation.chat.cancel")  # dropped unread: the server is stalled
    assert ended.wait(_RECV), "the stall went on after the client had gone"
    with _connect(wss, tls, ECHO_BOT) as other:
        _opened(other)
        _ask(other, "still there?")
        assert '"status":"completed"' in _texts_until(other, "conversation.chat.completed")[-1]


def test_malformed_json_breaks_one_message_and_the_step_goes_on(wss: RunningServer, tls: LocalTls) -> None:
    with _connect(wss, tls, FAULT_BOT["malformed"]) as connection:
        _opened(connection)
        _ask(connection)
        texts = _texts_until(connection, "conversation.chat.requires_action")
    assert len(texts) == 5
    with pytest.raises(json.JSONDecodeError):
        json.loads(texts[1])
    repaired = json.loads(texts[1] + "}")  # the message with its last character missing
    assert repaired["event_type"] == "conversation.chat.in_progress"
    assert _names(texts[:1] + texts[2:]) == [
        "conversation.chat.created",
        "conversation.message.completed",
        "conversation.message.completed",
        "conversation.chat.requires_action",
    ]


def test_error_event_replaces_the_rest_of_the_step_and_the_socket_stays_open(wss: RunningServer, tls: LocalTls) -> None:
    with _connect(wss, tls, FAULT_BOT["error-event"]) as connection:
        _opened(connection)
        _ask(connection)
        texts = _texts_until(connection, "error")
        _send(connection, "conversation.clear")  # the step's other events were dropped, not delayed
        after = json.loads(connection.recv(timeout=_RECV))
    messages = [json.loads(text) for text in texts]
    assert [m["event_type"] for m in messages] == [
        "conversation.chat.created",
        "conversation.chat.in_progress",
        "conversation.message.completed",
        "error",
    ]
    error = messages[-1]
    assert error["data"] == {"code": 5001, "msg": "boom midway"}
    assert error["detail"]["logid"] == messages[0]["detail"]["logid"] and "origin_message" not in error["detail"]
    assert after["event_type"] == "conversation.cleared"


def test_faults_count_events_per_step(wss: RunningServer, tls: LocalTls) -> None:
    """`after_events: 6` is past the first step (5 events): it strikes in the step after submit_tool_outputs."""
    with _connect(wss, tls, FAULT_BOT["late-error"]) as connection:
        _opened(connection)
        _ask(connection)
        first = [json.loads(text) for text in _texts_until(connection, "conversation.chat.requires_action")]
        action = first[-1]["data"]
        calls = action["required_action"]["submit_tool_outputs"]["tool_calls"]
        outputs = [{"tool_call_id": call["id"], "output": "ok"} for call in calls]
        _send(connection, "conversation.chat.submit_tool_outputs", {"chat_id": action["id"], "tool_outputs": outputs})
        second = [json.loads(text) for text in _texts_until(connection, "error")]
    assert len(first) == 5 and len(second) == 7
    assert second[-1]["data"] == {"code": 5002, "msg": "broke in round two"}


@pytest.mark.parametrize(("fault", "status", "code"), [("http-error", 503, 5000), ("rate-limit", 429, 4013)])
def test_request_faults_refuse_the_handshake_with_the_envelope(
    wss: RunningServer, tls: LocalTls, fault: str, status: int, code: int
) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        _connect(wss, tls, FAULT_BOT[fault])
    response = refused.value.response
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    body = json.loads(response.body)
    assert body["code"] == code and body["msg"] and body["detail"]["logid"] == response.headers["x-tt-logid"]


def test_a_rate_limit_for_the_first_connection_only_then_clears(tmp_path: Path, tls: LocalTls) -> None:
    """`times` counts handshakes the same way it counts HTTP requests: per scenario."""
    from websockets.exceptions import InvalidStatus

    echo = (BUILTIN_DIR / "echo_bot.yaml").read_text(encoding="utf-8")
    (tmp_path / "bot.yaml").write_text(
        with_faults(echo, "7392000000000000099", "ws-echo-once", "rate_limit: {times: 1}")
    )
    with running(create_app(Catalogue.load(tmp_path)), tls=tls) as server:
        with pytest.raises(InvalidStatus) as refused:
            _connect(server, tls, "7392000000000000099")
        assert refused.value.response.status_code == 429
        with _connect(server, tls, "7392000000000000099") as connection:
            _opened(connection)
            _ask(connection, "hi")
            assert '"status":"completed"' in _texts_until(connection, "conversation.chat.completed")[-1]


@pytest.mark.parametrize("fault", ["latency", "truncate"])
def test_latency_and_truncation_leave_the_messages_whole(wss: RunningServer, tls: LocalTls, fault: str) -> None:
    """Latency only delays; a truncated final SSE frame has no websocket meaning (a message is whole or lost)."""
    with _connect(wss, tls, FAULT_BOT[fault]) as connection:
        _opened(connection)
        _ask(connection)
        texts = _texts_until(connection, "conversation.chat.requires_action")
    assert _names(texts) == [
        "conversation.chat.created",
        "conversation.chat.in_progress",
        "conversation.message.completed",
        "conversation.message.completed",
        "conversation.chat.requires_action",
    ]


def _wire_run(catalogue: Catalogue, tls: LocalTls, bot_id: str, seed: int) -> tuple[list[str], str | None]:
    received: list[str] = []
    with running(create_app(catalogue, SimConfig(seed=seed)), tls=tls) as server:
        try:
            with _connect(server, tls, bot_id) as connection:
                received.append(connection.recv(timeout=_RECV))
                _ask(connection)
                for _ in range(6):
                    received.append(connection.recv(timeout=_RECV))
                    if '"event_type":"conversation.chat.requires_action"' in received[-1]:
                        break
                    if '"event_type":"error"' in received[-1]:
                        break
        except Exception as exc:
            return received, type(exc).__name__
    return received, None


@pytest.mark.parametrize("fault", ["reset", "malformed", "error-event"])
def test_websocket_faults_replay_identically_with_the_same_seed(
    catalogue: Catalogue, tls: LocalTls, fault: str
) -> None:
    first = _wire_run(catalogue, tls, FAULT_BOT[fault], seed=11)
    again = _wire_run(catalogue, tls, FAULT_BOT[fault], seed=11)
    assert first == again


def test_global_faults_apply_to_websocket_chat(tls: LocalTls) -> None:
    config = SimConfig(faults=Faults.model_validate({"error_event": {"after_events": 1, "msg": "global"}}))
    with running(create_app(config=config), tls=tls) as server, _connect(server, tls, ECHO_BOT) as connection:
        _opened(connection)
        _ask(connection, "hi")
        texts = _texts_until(connection, "error")
    assert _names(texts) == ["conversation.chat.created", "error"]
    assert json.loads(texts[-1])["data"]["msg"] == "global"


# --- the plan, without a socket ---------------------------------------------------------------------


async def _source(texts: list[str]) -> AsyncIterator[str]:
    for text in texts:
        yield text


def _error_text(code: int, msg: str) -> str:
    return json.dumps({"event_type": "error", "data": {"code": code, "msg": msg}})


async def _shaped(faults: Faults, seed: int = 3, idle: Any = None) -> tuple[list[str], str | None, list[float]]:
    plan = FaultInjector(None, None, seed).websocket_plan(faults)
    assert plan is not None
    texts = [json.dumps({"event_type": f"e{n}"}) for n in range(5)]
    out: list[str] = []
    try:
        async for text in plan.messages(_source(texts), _error_text, idle or asyncio.sleep):
            out.append(text)
    except StreamAborted as exc:
        return out, str(exc), plan.delays
    return out, None, plan.delays


@pytest.mark.anyio
async def test_the_plan_draws_seeded_latencies_for_every_message() -> None:
    faults = Faults.model_validate({"latency": {"first_byte": 0.001, "between_events": {"uniform": [0, 0.002]}}})
    out, aborted, delays = await _shaped(faults)
    assert aborted is None and len(out) == 5 and len(delays) == 5 and delays[0] == 0.001
    assert (await _shaped(faults))[2] == delays
    assert (await _shaped(faults, seed=4))[2][1:] != delays[1:]


@pytest.mark.anyio
async def test_the_plan_stalls_through_idle_then_aborts() -> None:
    waited: list[float] = []

    async def idle(seconds: float) -> None:
        waited.append(seconds)

    out, aborted, _ = await _shaped(Faults.model_validate({"stall": {"after_events": 2, "seconds": 45}}), idle=idle)
    assert len(out) == 2 and waited == [45] and aborted is not None and "stalled" in aborted


def test_no_plan_without_a_fault_that_shapes_messages() -> None:
    injector = FaultInjector(None, None, 1)
    assert injector.websocket_plan(None) is None
    assert injector.websocket_plan(Faults.model_validate({"rate_limit": {}})) is None


# --- the real cozepy websocket client, through the local-plugin runner --------------------------


@pytest.fixture
def clients(wss: RunningServer, tls: LocalTls) -> Iterator[tuple[Any, Any]]:
    with wss_clients(wss.base_url, tls.ca_file) as clients:
        yield clients


async def _drive(
    mode: Literal["sync", "async"], clients: tuple[Any, Any], bot_id: str, chat_timeout: float = _CHAT_TIMEOUT
) -> LocalPluginResult:
    with anyio.fail_after(_BOUND):
        if mode == "sync":
            runner = WebsocketLocalPluginRunner(clients[0], weather_tools(), chat_timeout=chat_timeout)
            result = await anyio.to_thread.run_sync(functools.partial(runner.run, bot_id, "Paris"))
            assert runner.close_issues == []
            return result
        return await AsyncWebsocketLocalPluginRunner(clients[1], weather_tools(), chat_timeout=chat_timeout).run(
            bot_id, "Paris"
        )


# What the runner ends with: a LocalPluginError mentioning a text, tool calls answered before it broke.
RUNNER_BREAKS: dict[str, tuple[str, int]] = {
    "reset": ("ConnectionClosed", 0),  # no close frame: the SDK's receive loop fails
    "stall": ("ConnectionClosed", 0),  # the close that ends the stall
    "malformed": ("JSONDecodeError", 0),  # the SDK cannot parse event 1 and stops reading
    "error-event": ("code 5001, boom midway", 0),
    "late-error": ("code 5002, broke in round two", 2),  # round 1's two calls were answered first
}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(RUNNER_BREAKS))
async def test_the_runner_ends_a_broken_chat_with_a_clear_error(
    mode: Literal["sync", "async"], clients: tuple[Any, Any], fault: str
) -> None:
    mention, answered = RUNNER_BREAKS[fault]
    with pytest.raises(LocalPluginError) as failed:
        await _drive(mode, clients, FAULT_BOT[fault])
    assert "websocket chat failed" in str(failed.value) and mention in str(failed.value), str(failed.value)
    result = failed.value.result
    assert result is not None and result.status == "incomplete" and len(result.tool_calls) == answered


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_stall_longer_than_chat_timeout_ends_at_the_bound(
    mode: Literal["sync", "async"], clients: tuple[Any, Any]
) -> None:
    with pytest.raises(LocalPluginError) as failed:
        await _drive(mode, clients, FAULT_BOT["long-stall"], chat_timeout=1.0)
    assert "chat_timeout" in str(failed.value)
    assert failed.value.result is not None and failed.value.result.status == "incomplete"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("fault", "code", "msg"), [("http-error", 5000, "upstream unavailable"), ("rate-limit", 4013, "")]
)
async def test_a_refused_handshake_is_the_envelope_as_an_api_error(
    mode: Literal["sync", "async"], clients: tuple[Any, Any], fault: str, code: int, msg: str
) -> None:
    """As with the HTTP runner, an envelope is raised as cozepy's API error, with its code, msg and logid."""
    with pytest.raises(cozepy.CozeAPIError) as refused:
        await _drive(mode, clients, FAULT_BOT[fault])
    assert refused.value.code == code and refused.value.logid
    assert msg in refused.value.msg and refused.value.msg
    assert isinstance(refused.value.__cause__, cozepy.CozeAPIError)  # cozepy's own, without the envelope


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", ["latency", "truncate"])
async def test_the_runner_completes_through_latency_and_truncation(
    mode: Literal["sync", "async"], clients: tuple[Any, Any], fault: str
) -> None:
    result = await _drive(mode, clients, FAULT_BOT[fault])
    assert result.ok and result.rounds == 1 and "20 degrees celsius in Paris" in result.answer
