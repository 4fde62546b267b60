"""The local-plugin runner end to end: the real cozepy client (sync and async) against the simulator
over loopback, with tools from a registry answering the bots' tool calls."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any, Literal

import anyio
import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, FAILING_BOT, RESEARCH_BOT, WEATHER_BOT

from harness import sdk
from harness.local_plugin import (
    AsyncLocalPluginRunner,
    LocalPluginError,
    LocalPluginResult,
    LocalPluginRunner,
    RoundLimitExceeded,
    StreamEndedError,
    UnsupportedSDKError,
)
from harness.sdk import event_name
from harness.tools import INVALID_ARGUMENTS, TIMEOUT, TOOL_ERROR, UNKNOWN_TOOL, ToolRegistry
from simulators.coze import DEFAULT_TOKEN, RunningServer

pytestmark = pytest.mark.e2e

_HTTP_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
"""Every request is bounded well below cozepy's default 600 s read timeout."""


def _sync_client(sim: RunningServer) -> Any:
    return cozepy.Coze(
        auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url, http_client=httpx.Client(timeout=_HTTP_TIMEOUT)
    )


def _async_client(sim: RunningServer) -> Any:
    auth_class = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)
    return cozepy.AsyncCoze(
        auth=auth_class(DEFAULT_TOKEN), base_url=sim.base_url, http_client=httpx.AsyncClient(timeout=_HTTP_TIMEOUT)
    )


Drive = Callable[..., Awaitable[LocalPluginResult]]


@pytest.fixture(
    params=[
        pytest.param(
            "sync", marks=pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))
        ),
        pytest.param(
            "async",
            marks=pytest.mark.skipif(sdk.async_tool_call_gap() is not None, reason=str(sdk.async_tool_call_gap())),
        ),
    ]
)
def drive(request: pytest.FixtureRequest, sim: RunningServer) -> Drive:
    """Run one chat with the sync runner (in a worker thread) or the async runner, same arguments."""

    async def run(registry: ToolRegistry, bot_id: str, message: str, **options: Any) -> LocalPluginResult:
        if request.param == "sync":
            runner = LocalPluginRunner(_sync_client(sim), registry, **options)
            with anyio.fail_after(60):
                return await anyio.to_thread.run_sync(functools.partial(runner.run, bot_id, message))
        async_runner = AsyncLocalPluginRunner(_async_client(sim), registry, **options)
        with anyio.fail_after(60):
            return await async_runner.run(bot_id, message)

    return run


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets blocked sync tools finish when the test ends, so no thread outlives it by long."""
    event = threading.Event()
    yield event
    event.set()


def _weather_tools(*, only: str | None = None) -> ToolRegistry:
    registry = ToolRegistry()

    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"]) -> str:
        """Current weather of a city."""
        return f"{city}: 21 {unit}, light rain"

    async def get_time(timezone: str) -> dict[str, str]:
        """Local time in a timezone."""
        await asyncio.sleep(0)
        return {"timezone": timezone, "time": "14:05"}

    for fn in (get_weather, get_time):
        if only is None or fn.__name__ == only:
            registry.tool(fn)
    return registry


def _research_tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def search_files(query: str, limit: int) -> str:
        return f"/docs/{query}-{limit}.md"

    @registry.tool
    async def read_file(path: str) -> str:
        return f"contents of {path}"

    return registry


def _check_ids(result: LocalPluginResult, bot_id: str) -> None:
    assert result.bot_id == bot_id
    assert result.chat_id.isdigit() and result.conversation_id.isdigit()
    assert result.sdk_version == sdk.version()


# --- the flows --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_two_tools_one_round_outputs_quoted_exactly(drive: Drive) -> None:
    result = await drive(_weather_tools(), WEATHER_BOT, "Paris")
    _check_ids(result, WEATHER_BOT)
    assert (result.status, result.rounds, result.last_error) == ("completed", 1, None)
    weather, clock = result.tool_calls
    assert (weather.round, weather.name, json.loads(weather.arguments)) == (
        1,
        "get_weather",
        {"city": "Paris", "unit": "celsius"},
    )
    assert weather.output == "Paris: 21 celsius, light rain"
    assert (clock.round, clock.name, json.loads(clock.arguments)) == (1, "get_time", {"timezone": "Asia/Shanghai"})
    assert clock.output == '{"timezone":"Asia/Shanghai","time":"14:05"}'
    assert all(call.ok and call.error is None and call.duration_seconds >= 0 for call in result.tool_calls)
    assert weather.call_id != clock.call_id
    assert result.answer == f"Weather: {weather.output}. Local time: {clock.output}."


@pytest.mark.anyio
async def test_two_rounds_feed_the_first_output_to_the_second_call(drive: Drive) -> None:
    result = await drive(_research_tools(), RESEARCH_BOT, "notes")
    _check_ids(result, RESEARCH_BOT)
    assert (result.status, result.rounds) == ("completed", 2)
    search, read = result.tool_calls
    assert (search.round, search.name, search.output) == (1, "search_files", "/docs/notes-3.md")
    assert (read.round, read.name, json.loads(read.arguments)) == (2, "read_file", {"path": "/docs/notes-3.md"})
    assert read.output == "contents of /docs/notes-3.md"
    assert result.answer == "Found /docs/notes-3.md; it says: contents of /docs/notes-3.md"


@pytest.mark.anyio
async def test_plain_bot_needs_no_tools(drive: Drive) -> None:
    result = await drive(ToolRegistry(), ECHO_BOT, "hello")
    assert (result.status, result.rounds, result.tool_calls, result.answer) == ("completed", 0, [], "You said: hello")


@pytest.mark.anyio
async def test_a_raising_tool_answers_with_an_error_the_bot_reads(drive: Drive) -> None:
    registry = _weather_tools(only="get_time")

    @registry.tool
    def get_weather(city: str, unit: str) -> str:
        raise RuntimeError(f"sensor offline in {city}")

    result = await drive(registry, WEATHER_BOT, "Oslo")
    assert result.status == "completed"
    failed, fine = result.tool_calls
    assert not failed.ok and failed.error is not None
    assert failed.error.code == TOOL_ERROR and failed.error.error_id
    assert failed.error.message == (
        f"get_weather failed with an unexpected error (error id {failed.error.error_id}; "
        "the details are in the local log)"
    )
    assert json.loads(failed.output)["error"]["code"] == TOOL_ERROR
    assert "sensor offline" not in failed.output  # the exception text stays local; the bot gets the id
    assert fine.ok
    assert result.answer == f"Weather: {failed.output}. Local time: {fine.output}."


@pytest.mark.anyio
async def test_an_unknown_tool_is_refused_not_run(drive: Drive) -> None:
    result = await drive(_weather_tools(only="get_weather"), WEATHER_BOT, "Lima")
    assert result.status == "completed"
    weather, clock = result.tool_calls
    assert weather.ok
    assert clock.error is not None and clock.error.code == UNKNOWN_TOOL
    assert "registered: get_weather" in clock.error.message
    assert result.answer == f"Weather: {weather.output}. Local time: {clock.output}."


@pytest.mark.anyio
async def test_arguments_failing_validation_never_reach_the_tool(drive: Drive) -> None:
    registry = _weather_tools(only="get_time")
    called: list[str] = []

    @registry.tool
    def get_weather(city: str, unit: Literal["kelvin"]) -> str:
        called.append(city)
        return "never"

    result = await drive(registry, WEATHER_BOT, "Cairo")
    assert result.status == "completed"
    weather = result.tool_calls[0]
    assert weather.error is not None and weather.error.code == INVALID_ARGUMENTS
    assert weather.error.details is not None and weather.error.details[0]["loc"] == ["unit"]
    assert called == []
    assert f"Weather: {weather.output}." in result.answer


@pytest.mark.anyio
async def test_a_tool_that_overruns_its_timeout_gets_a_timeout_output(drive: Drive, release: threading.Event) -> None:
    registry = _weather_tools(only="get_weather")

    @registry.tool(timeout=0.3)
    def get_time(timezone: str) -> str:
        release.wait(30)
        return "too late"

    started = time.monotonic()
    result = await drive(registry, WEATHER_BOT, "Kyiv")
    assert time.monotonic() - started < 15
    clock = result.tool_calls[1]
    assert clock.error is not None
    assert (clock.error.code, clock.error.message) == (TIMEOUT, "get_time did not finish within 0.3 s")
    assert 0.3 <= clock.duration_seconds < 10
    assert result.status == "completed" and f"Local time: {clock.output}." in result.answer


@pytest.mark.anyio
async def test_the_runners_tool_timeout_bounds_tools_without_one(drive: Drive) -> None:
    registry = _weather_tools(only="get_weather")

    @registry.tool
    async def get_time(timezone: str) -> str:
        await asyncio.sleep(30)
        return "too late"

    result = await drive(registry, WEATHER_BOT, "Quito", tool_timeout=0.2)
    assert result.tool_calls[1].error is not None and result.tool_calls[1].error.code == TIMEOUT


@pytest.mark.anyio
@pytest.mark.parametrize(("bot_id", "limit"), [(RESEARCH_BOT, 1), (WEATHER_BOT, 0)])
async def test_round_limit_stops_and_cancels_the_chat(
    drive: Drive, sim: RunningServer, bot_id: str, limit: int
) -> None:
    registry = _research_tools() if bot_id == RESEARCH_BOT else _weather_tools()
    with pytest.raises(RoundLimitExceeded, match=rf"past the limit of {limit} \(max_rounds\)") as raised:
        await drive(registry, bot_id, "notes", max_rounds=limit)
    partial = raised.value.result
    assert partial is not None
    assert (partial.status, partial.rounds, len(partial.tool_calls)) == ("incomplete", limit, limit)
    status = await _chat_status(sim, partial.conversation_id, partial.chat_id)
    assert status == "canceled"


async def _chat_status(sim: RunningServer, conversation_id: str, chat_id: str) -> str:
    """Read the chat's state straight from the wire, whatever the installed cozepy can parse."""
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=_HTTP_TIMEOUT) as client:
        response = await client.get(
            "/v3/chat/retrieve",
            params={"conversation_id": conversation_id, "chat_id": chat_id},
            headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
        )
    status: str = response.json()["data"]["status"]
    return status


@pytest.mark.anyio
async def test_chat_failed_is_a_result_with_the_error(drive: Drive) -> None:
    result = await drive(_weather_tools(), FAILING_BOT, "hi")
    _check_ids(result, FAILING_BOT)
    assert (result.status, result.ok, result.rounds, result.tool_calls) == ("failed", False, 0, [])
    assert result.last_error is not None
    assert (result.last_error.code, result.last_error.msg) == (5000, "event interval error")
    assert result.answer == "Let me think about "


# --- releases that cannot take part -----------------------------------------------------------


@pytest.mark.skipif(sdk.tool_call_gap() is None, reason=f"cozepy {sdk.version()} can read tool calls")
def test_sync_runner_fails_fast_when_this_cozepy_cannot_read_tool_calls(sim: RunningServer) -> None:
    runner = LocalPluginRunner(_sync_client(sim), _weather_tools())
    started = time.monotonic()
    with pytest.raises(UnsupportedSDKError, match="cannot run local plugins") as raised:
        runner.run(WEATHER_BOT, "Paris")
    assert time.monotonic() - started < 5
    assert str(sdk.tool_call_gap()) in str(raised.value)


@pytest.mark.anyio
@pytest.mark.skipif(sdk.async_tool_call_gap() is None, reason=f"cozepy {sdk.version()}'s async client can do it")
async def test_async_runner_fails_fast_when_this_cozepy_cannot(sim: RunningServer) -> None:
    client = _async_client(sim) if sdk.has_async_client() else SimpleNamespace()
    with anyio.fail_after(5), pytest.raises(UnsupportedSDKError, match="with the async client"):
        await AsyncLocalPluginRunner(client, _weather_tools()).run(WEATHER_BOT, "Paris")


# --- the runner's reading of events, with stand-in objects --------------------------------------


class _Kind:
    """An enum-like member: compared by its value, as events of every release are."""

    def __init__(self, value: str) -> None:
        self.value = value


def _event(name: str, kind: str = "enum", **fields: Any) -> SimpleNamespace:
    return SimpleNamespace(event=_Kind(name) if kind == "enum" else name, **fields)


def test_event_names_read_from_enum_members_and_strings() -> None:
    assert event_name(_event("conversation.chat.completed")) == "conversation.chat.completed"
    assert event_name(_event("done", kind="str")) == "done"
    assert event_name(SimpleNamespace()) == ""


class _FakeChat:
    """A chat client whose streams are scripted, for paths the simulator does not take."""

    def __init__(self, streams: list[list[SimpleNamespace]]) -> None:
        self.streams = streams
        self.submitted: list[list[Any]] = []
        self.canceled: list[str] = []

    def stream(self, **_: Any) -> list[SimpleNamespace]:
        return self.streams.pop(0)

    def submit_tool_outputs(self, *, tool_outputs: list[Any], **_: Any) -> list[SimpleNamespace]:
        self.submitted.append(tool_outputs)
        return self.streams.pop(0)

    def cancel(self, *, chat_id: str, **_: Any) -> None:
        self.canceled.append(chat_id)


def _chat(status: str, calls: list[SimpleNamespace] | None = None) -> SimpleNamespace:
    action = None
    if calls is not None:
        action = SimpleNamespace(type="submit_tool_outputs", submit_tool_outputs=SimpleNamespace(tool_calls=calls))
    return SimpleNamespace(id="11", conversation_id="22", status=status, required_action=action)


needs_tool_calls = pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))


@needs_tool_calls
def test_a_stream_that_ends_without_a_verdict_is_an_error() -> None:
    chat = _FakeChat([[_event("conversation.chat.created", chat=_chat("created"))]])
    with pytest.raises(StreamEndedError, match="ended without") as raised:
        LocalPluginRunner(SimpleNamespace(chat=chat), ToolRegistry()).run("1", "hi")
    assert raised.value.result is not None and raised.value.result.chat_id == "11"


@needs_tool_calls
def test_calls_that_are_not_functions_are_answered_not_run() -> None:
    reply = SimpleNamespace(id="c1", type=_Kind("reply_message"), function=None)
    chat = _FakeChat(
        [
            [_event("conversation.chat.requires_action", chat=_chat("requires_action", [reply]))],
            [_event("conversation.chat.completed", chat=_chat("completed"))],
        ]
    )
    result = LocalPluginRunner(SimpleNamespace(chat=chat), ToolRegistry()).run("1", "hi")
    assert result.tool_calls[0].error is not None and result.tool_calls[0].error.code == "unsupported_call"
    assert [output.tool_call_id for output in chat.submitted[0]] == ["c1"]


@needs_tool_calls
def test_requires_action_without_calls_is_an_error_not_a_hang() -> None:
    chat = _FakeChat([[_event("conversation.chat.requires_action", chat=_chat("requires_action", []))]])
    with pytest.raises(LocalPluginError, match="carries no tool calls"):
        LocalPluginRunner(SimpleNamespace(chat=chat), ToolRegistry()).run("1", "hi")


def test_negative_round_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        LocalPluginRunner(SimpleNamespace(), ToolRegistry(), max_rounds=-1)
