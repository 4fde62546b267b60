"""Workflows end to end: the unmodified cozepy client (sync and async) against the simulator over loopback."""

from __future__ import annotations

import inspect
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cozepy
import pytest
from conftest import user_message
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, Catalogue, RunningServer, create_app, running

pytestmark = pytest.mark.e2e

JOKE = "7440000000000000001"
QUESTION = "7440000000000000002"
INPUT = "7440000000000000003"
FAILING = "7440000000000000004"
HTTP_BRIDGE = "7440000000000000005"
CHATFLOW = "7440000000000000006"
SLOW = "7440000000000000007"
TIMEOUT = "7440000000000000008"

needs_async_runs = pytest.mark.skipif(
    not sdk.workflow_run_has_is_async() or sdk.run_history_gap() is not None,
    reason=f"cozepy {sdk.version()} has no is_async runs, or cannot read a run history: {sdk.run_history_gap()}",
)
needs_chatflow = pytest.mark.skipif(
    not sdk.has_workflow_chat(), reason=f"cozepy {sdk.version()} has no workflows.chat.stream"
)
needs_async_workflows = pytest.mark.skipif(
    not sdk.has_async_workflow_resume(), reason=f"cozepy {sdk.version()} has no async workflow stream/resume"
)
needs_working_resume = pytest.mark.skipif(
    not sdk.workflow_resume_sends_event_id(),
    reason=f"cozepy {sdk.version()}'s resume sends 'id' instead of 'event_id' (coze-py#196): resume cannot work",
)


def _events(stream: object) -> list[Any]:
    return list(stream)  # type: ignore[call-overload]


def _kind(event: Any) -> str:
    return str(event.event.value)


def _messages(events: list[Any]) -> list[Any]:
    return [e.message for e in events if _kind(e) == "Message"]


def _poll_history(coze: cozepy.Coze, workflow_id: str, execute_id: str) -> tuple[list[str], Any]:
    """Retrieve until the run leaves Running (bounded: 10 s); returns every status seen and the last history."""
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while True:
        history = coze.workflows.runs.run_histories.retrieve(workflow_id=workflow_id, execute_id=execute_id)
        seen.append(history.execute_status.value)
        if history.execute_status.value != "Running" or time.monotonic() > deadline:
            return seen, history
        time.sleep(0.05)


# --- runs -------------------------------------------------------------------------------------


def test_sync_run_returns_the_output_as_a_json_string(coze: cozepy.Coze) -> None:
    result = coze.workflows.runs.create(workflow_id=JOKE, parameters={"topic": "cats"})
    assert json.loads(result.data) == {"output": "A joke about cats", "topic": "cats"}
    assert f"workflow_id={JOKE}" in result.debug_url and "execute_id=" in result.debug_url
    if "usage" in sdk.workflow_run_result_fields():
        assert result.usage.token_count == result.usage.input_count + result.usage.output_count > 0


def test_sync_run_uses_parameter_defaults(coze: cozepy.Coze) -> None:
    result = coze.workflows.runs.create(workflow_id=JOKE)
    assert json.loads(result.data)["topic"] == "rulers"


@needs_async_runs
def test_async_run_moves_from_running_to_success(coze: cozepy.Coze) -> None:
    started = coze.workflows.runs.create(workflow_id=SLOW, is_async=True)
    assert started.execute_id and started.execute_id.isdigit()
    assert started.execute_id in started.debug_url
    seen, history = _poll_history(coze, SLOW, started.execute_id)
    assert seen[0] == "Running" and seen[-1] == "Success"
    assert history.execute_id == started.execute_id
    assert json.loads(history.output) == {"output": "done"}
    assert int(history.run_mode) == 2
    assert history.error_code == 0
    assert history.debug_url == started.debug_url
    assert history.update_time >= history.create_time


@needs_async_runs
def test_async_run_that_fails_reports_fail(coze: cozepy.Coze) -> None:
    started = coze.workflows.runs.create(workflow_id=FAILING, is_async=True)
    _, history = _poll_history(coze, FAILING, started.execute_id)
    assert history.execute_status.value == "Fail"
    assert history.error_code == 720701002
    assert "division by zero" in history.error_message


@needs_working_resume
@needs_async_runs
def test_interrupted_stream_run_is_running_until_resumed(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.runs.stream(workflow_id=QUESTION))
    data = events[-1].interrupt.interrupt_data
    execute_id = data.event_id.split("/")[0]
    paused = coze.workflows.runs.run_histories.retrieve(workflow_id=QUESTION, execute_id=execute_id)
    assert (paused.execute_status.value, int(paused.run_mode), paused.output) == ("Running", 1, "")
    _events(
        coze.workflows.runs.resume(
            workflow_id=QUESTION, event_id=data.event_id, resume_data="Kyiv", interrupt_type=data.type
        )
    )
    done = coze.workflows.runs.run_histories.retrieve(workflow_id=QUESTION, execute_id=execute_id)
    assert done.execute_status.value == "Success"
    assert json.loads(done.output)["city"] == "Kyiv"


# --- streams ----------------------------------------------------------------------------------


def test_message_node_streams_in_chunks_then_the_end_output(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.runs.stream(workflow_id=JOKE, parameters={"topic": "cats"}))
    assert [e.id for e in events] == list(range(len(events)))
    messages = _messages(events)
    chunks = [m for m in messages if m.node_title == "Message"]
    assert [m.node_seq_id for m in chunks] == [str(i) for i in range(len(chunks))]
    assert [m.node_is_finish for m in chunks] == [False] * (len(chunks) - 1) + [True]
    assert "".join(m.content for m in chunks) == (
        "Why did the boy take cats to the movies? Because he heard the film was long!"
    )
    end = messages[-1]
    assert (end.node_title, end.node_seq_id, end.node_is_finish) == ("End", "0", True)
    assert json.loads(end.content) == {"output": "A joke about cats", "topic": "cats"}
    if sdk.workflow_message_has_usage():
        assert end.usage.token_count > 0


@needs_working_resume
def test_question_interrupts_and_resume_carries_the_answer(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.runs.stream(workflow_id=QUESTION))
    assert [_kind(e) for e in events] == ["Message", "Interrupt"]
    assert events[0].message.content == "Which city's weather do you want?"
    interrupt = events[1].interrupt
    assert interrupt.node_title == "Question"
    assert interrupt.interrupt_data.type == 2
    assert re.fullmatch(r"\d{19}/\d{19}", interrupt.interrupt_data.event_id)

    resumed = _events(
        coze.workflows.runs.resume(
            workflow_id=QUESTION,
            event_id=interrupt.interrupt_data.event_id,
            resume_data="Paris",
            interrupt_type=interrupt.interrupt_data.type,
        )
    )
    assert [e.id for e in resumed] == list(range(len(resumed)))
    assert {_kind(e) for e in resumed} == {"Message"}
    said = "".join(m.content for m in _messages(resumed) if m.node_title == "Message")
    assert said == "Looking up the weather in Paris..."
    assert json.loads(_messages(resumed)[-1].content) == {"output": "It is sunny in Paris.", "city": "Paris"}


@needs_working_resume
def test_input_node_interrupts_with_a_form_and_takes_json(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.runs.stream(workflow_id=INPUT))
    assert [_kind(e) for e in events] == ["Interrupt"]
    data = events[0].interrupt.interrupt_data
    assert data.type == 5
    resumed = _events(
        coze.workflows.runs.resume(
            workflow_id=INPUT,
            event_id=data.event_id,
            resume_data=json.dumps({"name": "Ada", "age": 36}),
            interrupt_type=data.type,
        )
    )
    output = json.loads(_messages(resumed)[-1].content)
    assert output == {"output": "Hello Ada!", "form": {"name": "Ada", "age": 36}}


@needs_working_resume
def test_resume_while_the_first_stream_is_still_open(coze: cozepy.Coze) -> None:
    """What both official examples do: resume from inside the loop over the interrupted stream."""
    outputs: list[str] = []
    for event in coze.workflows.runs.stream(workflow_id=QUESTION):
        if _kind(event) == "Interrupt":
            data = event.interrupt.interrupt_data
            for later in coze.workflows.runs.resume(
                workflow_id=QUESTION, event_id=data.event_id, resume_data="Oslo", interrupt_type=data.type
            ):
                if _kind(later) == "Message" and later.message.node_title == "End":
                    outputs.append(later.message.content)
    assert [json.loads(o)["city"] for o in outputs] == ["Oslo"]


@pytest.mark.skipif(sdk.workflow_resume_sends_event_id(), reason="this cozepy's resume sends event_id")
def test_resume_that_sends_id_is_refused_with_a_clear_4000(coze: cozepy.Coze) -> None:
    """The evidence for releases whose resume sends `id`: the platform cannot tell which interrupt is meant."""
    data = _events(coze.workflows.runs.stream(workflow_id=QUESTION))[-1].interrupt.interrupt_data
    with pytest.raises(cozepy.CozeAPIError) as raised:
        _events(
            coze.workflows.runs.resume(
                workflow_id=QUESTION, event_id=data.event_id, resume_data="x", interrupt_type=data.type
            )
        )
    assert raised.value.code == 4000
    assert "event_id is required" in raised.value.msg and "coze-py#196" in raised.value.msg


def test_error_node_is_an_error_event_not_an_exception(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.runs.stream(workflow_id=FAILING))
    assert [_kind(e) for e in events][-1] == "Error"
    assert set(_kind(e) for e in events[:-1]) == {"Message"}
    error = events[-1].error
    assert error.error_code == 720701002
    assert error.error_message == "node 'Code' failed: division by zero"


def test_time_limit_is_a_6023_error_event(coze: cozepy.Coze) -> None:
    started = time.monotonic()
    events = _events(coze.workflows.runs.stream(workflow_id=TIMEOUT))
    assert time.monotonic() - started < 5
    assert _kind(events[-1]) == "Error" and events[-1].error.error_code == 6023
    assert "time limit" in events[-1].error.error_message


def test_ping_keepalives_on_a_long_run(coze: cozepy.Coze) -> None:
    """PING is no cozepy event type: releases with WorkflowEventType.UNKNOWN deliver it, older ones raise."""
    stream = coze.workflows.runs.stream(workflow_id=SLOW)
    if not sdk.workflow_tolerates_unknown_events():
        with pytest.raises(ValueError, match="PING"):
            _events(stream)
        return
    events = _events(stream)
    pings = [e for e in events if _kind(e) == "unknown"]
    assert len(pings) >= 1
    assert all(e.unknown["event"] == "PING" and e.unknown["data"] == "{}" for e in pings)
    assert json.loads(_messages(events)[-1].content) == {"output": "done"}


# --- chatflows --------------------------------------------------------------------------------


@needs_chatflow
def test_chatflow_streams_chat_events(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.chat.stream(workflow_id=CHATFLOW, additional_messages=[user_message("héllo 世界")]))
    names = [_kind(e) for e in events]
    assert names[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
    assert names[-1] == "conversation.chat.completed"
    assert set(names[2:-1]) == {"conversation.message.delta", "conversation.message.completed"}
    completed = [e.message for e in events if _kind(e) == "conversation.message.completed"]
    answers = [m.content for m in completed if m.type.value == "answer"]
    assert answers == ["Hi! ", "You said: héllo 世界"]
    deltas = "".join(e.message.content for e in events if _kind(e) == "conversation.message.delta")
    assert deltas == "Hi! You said: héllo 世界"
    final = events[-1].chat
    assert final.status.value == "completed"
    assert final.usage.token_count > 0
    assert len({e.chat.id for e in events if e.chat is not None}) == 1


@needs_chatflow
def test_chatflow_continues_a_conversation(coze: cozepy.Coze) -> None:
    first = _events(coze.workflows.chat.stream(workflow_id=CHATFLOW, additional_messages=[user_message("one")]))
    conversation_id = first[0].chat.conversation_id
    second = _events(
        coze.workflows.chat.stream(
            workflow_id=CHATFLOW, conversation_id=conversation_id, additional_messages=[user_message("two")]
        )
    )
    assert second[0].chat.conversation_id == conversation_id
    assert second[0].chat.id != first[0].chat.id


# --- the http node: a real request to a server the test runs ---------------------------------


class _Bridge:
    """A tiny HTTP bridge on 127.0.0.1: tools as routes, every request recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.app = FastAPI()
        self.app.add_api_route("/tools/{name}", self.tool, methods=["POST"])

    async def tool(self, request: Request, name: str) -> Response:
        body = await request.json()
        with self.lock:
            self.calls.append((name, body))
        if name == "get_weather":
            return JSONResponse({"city": body["city"], "forecast": "sunny", "celsius": 21})
        if name == "plugin_error":
            return JSONResponse({"success": False, "error_code": 1001, "message": f"no such city: {body['city']}"})
        if name == "crash":
            return PlainTextResponse("upstream exploded", status_code=500)
        if name == "not_json":
            return PlainTextResponse("<html>hello</html>")
        if name == "slow":
            import asyncio

            await asyncio.sleep(2)
            return JSONResponse({})
        return JSONResponse({"error": f"unknown tool {name}"}, status_code=404)


@pytest.fixture(scope="module")
def bridge() -> Iterator[tuple[str, _Bridge]]:
    tools = _Bridge()
    with running(tools.app) as server:
        yield server.base_url, tools


def test_http_node_calls_the_url_given_at_run_time(coze: cozepy.Coze, bridge: tuple[str, _Bridge]) -> None:
    base, tools = bridge
    result = coze.workflows.runs.create(
        workflow_id=HTTP_BRIDGE, parameters={"url": f"{base}/tools/get_weather", "arguments": {"city": "Paris"}}
    )
    assert json.loads(result.data) == {"output": {"city": "Paris", "forecast": "sunny", "celsius": 21}}
    with tools.lock:
        assert ("get_weather", {"city": "Paris"}) in tools.calls


def test_http_node_output_on_the_stream(coze: cozepy.Coze, bridge: tuple[str, _Bridge]) -> None:
    base, _ = bridge
    events = _events(
        coze.workflows.runs.stream(
            workflow_id=HTTP_BRIDGE, parameters={"url": f"{base}/tools/get_weather", "arguments": {"city": "Rome"}}
        )
    )
    assert [_kind(e) for e in events] == ["Message"]
    assert json.loads(events[0].message.content)["output"]["city"] == "Rome"


def test_plugin_style_error_answer_fails_the_node_with_its_code(coze: cozepy.Coze, bridge: tuple[str, _Bridge]) -> None:
    base, _ = bridge
    parameters = {"url": f"{base}/tools/plugin_error", "arguments": {"city": "Atlantis"}}
    events = _events(coze.workflows.runs.stream(workflow_id=HTTP_BRIDGE, parameters=parameters))
    assert [_kind(e) for e in events] == ["Error"]
    assert (events[0].error.error_code, events[0].error.error_message) == (1001, "no such city: Atlantis")
    with pytest.raises(cozepy.CozeAPIError) as raised:
        coze.workflows.runs.create(workflow_id=HTTP_BRIDGE, parameters=parameters)
    assert raised.value.code == 1001


@pytest.mark.parametrize(("tool", "fragment"), [("crash", "HTTP 500"), ("not_json", "not JSON"), ("nope", "HTTP 404")])
def test_http_failures_are_error_events(
    coze: cozepy.Coze, bridge: tuple[str, _Bridge], tool: str, fragment: str
) -> None:
    base, _ = bridge
    events = _events(coze.workflows.runs.stream(workflow_id=HTTP_BRIDGE, parameters={"url": f"{base}/tools/{tool}"}))
    assert [_kind(e) for e in events] == ["Error"]
    assert events[0].error.error_code == 720701004
    assert fragment in events[0].error.error_message


def test_unreachable_url_is_an_error_event(coze: cozepy.Coze) -> None:
    events = _events(coze.workflows.runs.stream(workflow_id=HTTP_BRIDGE, parameters={"url": "http://127.0.0.1:9/x"}))
    assert [_kind(e) for e in events] == ["Error"]
    assert "http node 'HTTP request'" in events[0].error.error_message


def test_http_timeout_is_an_error_event(tmp_path: Path, bridge: tuple[str, _Bridge]) -> None:
    base, _ = bridge
    (tmp_path / "timeout.yaml").write_text(
        f"""
kind: workflow
id: "7449000000000000001"
name: impatient
description: an http node with a short timeout
nodes:
  - {{kind: http, title: Slow call, url: "{base}/tools/slow", body: {{}}, timeout_seconds: 0.3, save_as: r,
      error_code: 720701005}}
  - {{kind: end, output: {{output: "{{{{ node.r }}}}"}}}}
""",
        encoding="utf-8",
    )
    with running(create_app(Catalogue.load(tmp_path))) as server:
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=server.base_url)
        started = time.monotonic()
        events = _events(coze.workflows.runs.stream(workflow_id="7449000000000000001"))
        assert time.monotonic() - started < 2
    assert [_kind(e) for e in events] == ["Error"]
    assert events[0].error.error_code == 720701005
    assert "timed out after 0.3 s" in events[0].error.error_message


# --- the async client ---------------------------------------------------------------------------


async def _maybe_await(value: object) -> Any:
    """Async stream methods are coroutines returning a stream in some releases, generators in others."""
    return await value if inspect.isawaitable(value) else value


def _async_client(sim: RunningServer) -> Any:
    auth = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)(DEFAULT_TOKEN)
    return cozepy.AsyncCoze(auth=auth, base_url=sim.base_url)


@pytest.mark.anyio
@needs_async_workflows
@needs_working_resume
async def test_async_client_stream_interrupt_resume(sim: RunningServer) -> None:
    client = _async_client(sim)
    events = [e async for e in await _maybe_await(client.workflows.runs.stream(workflow_id=QUESTION))]
    assert [_kind(e) for e in events] == ["Message", "Interrupt"]
    data = events[-1].interrupt.interrupt_data
    resumed = [
        e
        async for e in await _maybe_await(
            client.workflows.runs.resume(
                workflow_id=QUESTION, event_id=data.event_id, resume_data="Lima", interrupt_type=data.type
            )
        )
    ]
    assert json.loads(_messages(resumed)[-1].content)["city"] == "Lima"


@pytest.mark.anyio
@pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")
async def test_async_client_sync_run(sim: RunningServer) -> None:
    client = _async_client(sim)
    result = await client.workflows.runs.create(workflow_id=JOKE, parameters={"topic": "owls"})
    assert json.loads(result.data)["topic"] == "owls"


@pytest.mark.anyio
@needs_async_runs
@pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")
async def test_async_client_async_run_and_history(sim: RunningServer) -> None:
    import anyio

    client = _async_client(sim)
    started = await client.workflows.runs.create(workflow_id=SLOW, is_async=True)
    statuses: list[str] = []
    with anyio.fail_after(10):
        while not statuses or statuses[-1] == "Running":
            history = await client.workflows.runs.run_histories.retrieve(
                workflow_id=SLOW, execute_id=started.execute_id
            )
            statuses.append(history.execute_status.value)
            await anyio.sleep(0.05)
    assert statuses[0] == "Running" and statuses[-1] == "Success"
    assert json.loads(history.output) == {"output": "done"}


@pytest.mark.anyio
@needs_chatflow
@pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")
async def test_async_client_chatflow(sim: RunningServer) -> None:
    client = _async_client(sim)
    stream = await _maybe_await(
        client.workflows.chat.stream(workflow_id=CHATFLOW, additional_messages=[user_message("async")])
    )
    events = [e async for e in stream]
    assert _kind(events[-1]) == "conversation.chat.completed"
    deltas = "".join(e.message.content for e in events if _kind(e) == "conversation.message.delta")
    assert deltas == "Hi! You said: async"
