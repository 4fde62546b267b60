"""The in-process transports: the app's body reaches the caller chunk by chunk while the app still runs,
closing early disconnects the app, failures look like a server's, and every wait is bounded."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, user_message
from starlette.responses import StreamingResponse

from harness import sdk
from harness.inprocess import (
    INPROCESS_BASE_URL,
    QUEUE_CHUNKS,
    AsyncInProcessTransport,
    InProcessTransport,
    async_coze_over,
    coze_over,
)
from harness.sdk import event_name
from simulators.coze import SimConfig, create_app

QUESTION_WORKFLOW = "7440000000000000002"
_WAIT = 10.0
"""Bound on every wait in these tests; none is a timing assertion."""

needs_async = pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")


class Watched:
    """Wraps an ASGI app and records what happened to it, readable from any thread."""

    def __init__(self, app: Any, *, gate: threading.Event | None = None) -> None:
        self.app = app
        self.gate = gate  # when set up, the app's send blocks after the first body chunk until it is set
        self.finished = threading.Event()
        self.cancelled = threading.Event()
        self.received: list[str] = []
        self.chunks_sent = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def watched_receive() -> Any:
            message = await receive()
            self.received.append(message["type"])
            return message

        async def watched_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and message.get("body"):
                self.chunks_sent += 1
                if self.gate is not None and self.chunks_sent == 1:
                    for _ in range(int(_WAIT * 100)):
                        if self.gate.is_set():
                            break
                        await asyncio.sleep(0.01)

        try:
            await self.app(scope, watched_receive, watched_send)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.finished.set()


@pytest.fixture
def transports() -> Iterator[list[InProcessTransport]]:
    """Sync transports made by a test, closed after it."""
    made: list[InProcessTransport] = []
    yield made
    for transport in made:
        transport.close()


def _sync(app: Any, made: list[InProcessTransport]) -> InProcessTransport:
    transport = InProcessTransport(app)
    made.append(transport)
    return transport


def _client(transport: httpx.BaseTransport) -> httpx.Client:
    return httpx.Client(transport=transport, base_url=INPROCESS_BASE_URL, timeout=_WAIT)


def _chat_body(bot_id: str) -> dict[str, Any]:
    return {
        "bot_id": bot_id,
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "Paris", "content_type": "text"}],
    }


_AUTH = {"Authorization": "Bearer coze-harness-dev-token"}


# --- streaming as the app sends -------------------------------------------------------------------


def test_the_first_chunk_arrives_while_the_app_is_held_mid_stream(transports: list[InProcessTransport]) -> None:
    """The app cannot finish until the caller has its first chunk: a buffering transport would hang here."""
    gate = threading.Event()
    app = Watched(create_app(), gate=gate)
    with (
        _client(_sync(app, transports)) as client,
        client.stream("POST", "/v3/chat", json=_chat_body(ECHO_BOT), headers=_AUTH) as response,
    ):
        chunks = response.iter_raw()
        first = next(chunks)
        assert first.startswith(b"event:conversation.chat.created\n")
        assert not app.finished.is_set()
        gate.set()
        rest = b"".join(chunks)
    assert rest.endswith(b'event:done\ndata:"[DONE]"\n\n')
    assert app.finished.wait(_WAIT)


@pytest.mark.anyio
async def test_async_first_chunk_arrives_while_the_app_is_held_mid_stream() -> None:
    gate = threading.Event()
    app = Watched(create_app(), gate=gate)
    transport = AsyncInProcessTransport(app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=INPROCESS_BASE_URL, timeout=_WAIT) as client,
        client.stream("POST", "/v3/chat", json=_chat_body(ECHO_BOT), headers=_AUTH) as response,
    ):
        chunks = response.aiter_raw()
        first = await chunks.__anext__()
        assert first.startswith(b"event:conversation.chat.created\n")
        assert not app.finished.is_set()
        gate.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert rest.endswith(b'event:done\ndata:"[DONE]"\n\n')
    assert app.finished.wait(_WAIT)


@pytest.mark.skipif(not sdk.sync_stream_is_incremental(), reason="this cozepy reads a whole stream before parsing")
def test_cozepy_sees_the_first_event_while_a_paced_stream_is_still_running(
    transports: list[InProcessTransport],
) -> None:
    """With `event_delay_seconds`, the app sleeps between events; the SDK must not wait for the end."""
    app = Watched(create_app(config=SimConfig(event_delay_seconds=0.1)))
    coze = coze_over(_sync(app, transports))
    seen_before_end: list[bool] = []
    names = []
    for event in coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("Paris")]):
        seen_before_end.append(not app.finished.is_set())
        names.append(event_name(event))
    assert seen_before_end[0], "the first event arrived only after the app had finished: the body was buffered"
    assert names[0] == "conversation.chat.created"
    assert "conversation.chat.completed" in names


@needs_async
@pytest.mark.anyio
async def test_async_cozepy_sees_the_first_event_while_a_paced_stream_is_still_running() -> None:
    app = Watched(create_app(config=SimConfig(event_delay_seconds=0.1)))
    coze = async_coze_over(AsyncInProcessTransport(app))
    stream: Any = coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")])
    if not hasattr(stream, "__aiter__"):  # a coroutine before some releases
        stream = await stream
    seen_before_end = []
    async for _event in stream:
        seen_before_end.append(not app.finished.is_set())
    assert seen_before_end[0]
    assert len(seen_before_end) > 2


def test_a_slow_reader_holds_the_app_back(transports: list[InProcessTransport]) -> None:
    """The queue is bounded: an app with much to send waits for the reader instead of running ahead."""

    async def chatty(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(QUEUE_CHUNKS * 4):
            await send({"type": "http.response.body", "body": b"%d\n" % index, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    app = Watched(chatty)
    with _client(_sync(app, transports)) as client, client.stream("GET", "/") as response:
        chunks = response.iter_raw()
        first = next(chunks)
        stable_since, count = time.monotonic(), app.chunks_sent
        deadline = time.monotonic() + _WAIT
        while time.monotonic() - stable_since < 0.2 and time.monotonic() < deadline:
            time.sleep(0.01)
            if app.chunks_sent != count:
                stable_since, count = time.monotonic(), app.chunks_sent
        assert count <= QUEUE_CHUNKS + 2, f"the app sent {count} chunks while the reader had taken one"
        assert (first + b"".join(chunks)).count(b"\n") == QUEUE_CHUNKS * 4
    assert app.finished.wait(_WAIT)


def test_the_end_of_a_body_is_not_lost_when_the_queue_is_full(transports: list[InProcessTransport]) -> None:
    """Regression: Starlette cancels a streaming response's last `send` when `receive` reports a
    disconnect; if the response counted as finished before its end was queued, a full queue lost the
    end and the caller waited for its read timeout on a body that was complete."""

    async def chunks() -> Any:
        for index in range(QUEUE_CHUNKS):
            yield b"%d\n" % index

    app = Watched(StreamingResponse(chunks()))
    with (
        _client(_sync(app, transports)) as client,
        client.stream("GET", "/", timeout=httpx.Timeout(_WAIT, read=2.0)) as response,
    ):
        for _ in range(int(_WAIT * 100)):  # the app has filled the queue and waits to send the end
            if app.chunks_sent == QUEUE_CHUNKS:
                break
            time.sleep(0.01)
        time.sleep(0.1)
        body = b"".join(response.iter_raw())
    assert body.count(b"\n") == QUEUE_CHUNKS


def test_a_request_made_while_a_stream_is_open_is_served(transports: list[InProcessTransport]) -> None:
    """One loop serves all requests of a transport: a resume sent with the first stream still open works."""
    if not sdk.workflow_resume_sends_event_id():
        pytest.skip(f"cozepy {sdk.version()}'s resume sends 'id' instead of 'event_id' (coze-py#196)")
    coze = coze_over(_sync(create_app(), transports))
    outputs = []
    for event in coze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW):
        if event_name(event) == "Interrupt":
            data = event.interrupt.interrupt_data
            for later in coze.workflows.runs.resume(
                workflow_id=QUESTION_WORKFLOW, event_id=data.event_id, resume_data="Oslo", interrupt_type=data.type
            ):
                if event_name(later) == "Message" and later.message.node_title == "End":
                    outputs.append(later.message.content)
    assert len(outputs) == 1
    assert "Oslo" in outputs[0]


# --- closing early and bounded waits --------------------------------------------------------------


def test_closing_a_response_early_disconnects_the_app(transports: list[InProcessTransport]) -> None:
    app = Watched(create_app(config=SimConfig(event_delay_seconds=0.5)))
    with _client(_sync(app, transports)) as client:
        with client.stream("POST", "/v3/chat", json=_chat_body(ECHO_BOT), headers=_AUTH) as response:
            next(response.iter_raw())
        # close() waits (bounded) for the app to see the disconnect and stop, so this holds at once
        assert app.finished.is_set()
        assert "http.disconnect" in app.received
        assert app.chunks_sent < 8
        # the transport still serves the next request
        assert client.post("/v3/chat", json={"bot_id": "1", "user_id": "u"}, headers=_AUTH).json()["code"] == 4200


@pytest.mark.anyio
async def test_async_closing_a_response_early_disconnects_the_app() -> None:
    app = Watched(create_app(config=SimConfig(event_delay_seconds=0.5)))
    async with httpx.AsyncClient(transport=AsyncInProcessTransport(app), base_url=INPROCESS_BASE_URL) as client:
        async with client.stream("POST", "/v3/chat", json=_chat_body(ECHO_BOT), headers=_AUTH) as response:
            await response.aiter_raw().__anext__()
        assert app.finished.is_set()
        assert "http.disconnect" in app.received


def test_an_app_that_sends_nothing_times_out_like_a_socket_and_is_cancelled(
    transports: list[InProcessTransport],
) -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(_WAIT * 3)

    app = Watched(silent)
    with _client(_sync(app, transports)) as client, pytest.raises(httpx.ReadTimeout, match=r"sent nothing for 0\.2 s"):
        client.get("/", timeout=httpx.Timeout(_WAIT, read=0.2))
    assert app.finished.wait(_WAIT)
    assert app.cancelled.is_set()


@pytest.mark.anyio
async def test_async_read_timeout_mid_body() -> None:
    async def stalls(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await asyncio.sleep(_WAIT * 3)

    app = Watched(stalls)
    async with httpx.AsyncClient(transport=AsyncInProcessTransport(app), base_url=INPROCESS_BASE_URL) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/", timeout=httpx.Timeout(_WAIT, read=0.2))
    with anyio.fail_after(_WAIT):
        while not app.finished.is_set():
            await anyio.sleep(0.01)
    assert app.cancelled.is_set()


# --- failures look like a server's ----------------------------------------------------------------


async def _fails_at_once(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("boom before the response")


async def _fails_midway(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise RuntimeError("boom midway")


def test_an_app_failing_before_it_answers_gives_a_500(transports: list[InProcessTransport]) -> None:
    with _client(_sync(_fails_at_once, transports)) as client:
        response = client.get("/")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_an_app_failing_midway_breaks_the_body_off(transports: list[InProcessTransport]) -> None:
    with (
        _client(_sync(_fails_midway, transports)) as client,
        client.stream("GET", "/") as response,
        pytest.raises(httpx.RemoteProtocolError, match="boom midway"),
    ):
        response.read()


@pytest.mark.anyio
async def test_async_failures_look_like_a_servers() -> None:
    async with httpx.AsyncClient(transport=AsyncInProcessTransport(_fails_at_once), base_url="http://x") as client:
        response = await client.get("/")
        assert response.status_code == 500
    async with httpx.AsyncClient(transport=AsyncInProcessTransport(_fails_midway), base_url="http://x") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/")


# --- the request reaches the app as sent; the transport's own lifecycle ---------------------------


def test_the_scope_carries_method_path_query_headers_and_body(transports: list[InProcessTransport]) -> None:
    seen: dict[str, Any] = {}

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)
        seen["body"] = (await receive())["body"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with _client(_sync(echo, transports)) as client:
        client.post("/v3/a%20b%2525?conversation_id=12&x=%2F", content=b"payload", headers={"X-Test": "1"})
    assert (seen["method"], seen["path"], seen["raw_path"]) == ("POST", "/v3/a b%25", b"/v3/a%20b%2525")
    assert seen["query_string"] == b"conversation_id=12&x=%2F"
    assert (b"x-test", b"1") in seen["headers"]
    assert seen["body"] == b"payload"
    assert seen["server"] == ("inprocess.coze-simulator.invalid", 80)


def test_closing_the_transport_stops_its_thread_and_refuses_requests() -> None:
    before = set(threading.enumerate())
    transport = InProcessTransport(create_app())
    with _client(transport) as client:
        assert client.post("/v3/chat", json={"bot_id": "1"}, headers=_AUTH).json()["code"] == 4000
        started = [thread for thread in set(threading.enumerate()) - before if "in-process" in thread.name]
        assert len(started) == 1
    started[0].join(_WAIT)
    assert not started[0].is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        transport.handle_request(httpx.Request("GET", "http://x/"))


def test_cozepy_error_envelopes_come_through(transports: list[InProcessTransport]) -> None:
    coze = coze_over(_sync(create_app(), transports))
    with pytest.raises(cozepy.CozeAPIError) as caught:
        coze.chat.create(bot_id="1", user_id="u", additional_messages=[user_message("hi")])
    assert caught.value.code == 4200


def test_an_app_still_running_after_a_read_response_is_kept_until_the_transport_closes() -> None:
    """A response read to the end is closed without a hop to the app's loop: the app winds down there on its
    own. One that lingers on something only it holds is neither lost to the garbage collector nor left
    running: closing the transport cancels it."""
    lingering = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done", "more_body": False})
        lingering.set()
        await asyncio.Event().wait()  # nothing else holds this event

    watched = Watched(app)
    transport = InProcessTransport(watched)
    with _client(transport) as client:
        assert client.get("/").content == b"done"
        assert lingering.wait(_WAIT)
        gc.collect()
        assert not watched.finished.is_set()
    assert watched.cancelled.wait(_WAIT)
    assert watched.finished.is_set()


class _SlowSetter:
    """An app whose `/set` answers after a while and changes what every later request reads: a request that
    overtook it would read "old". It notes the threads it ran on."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.value = "old"
        self.seconds = seconds
        self.threads: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.threads.add(threading.current_thread().name)
        if scope["path"] == "/set":
            await asyncio.sleep(self.seconds)
            self.value = "new"
        body = self.value.encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


@pytest.mark.cozepy_free
def test_a_request_sent_without_waiting_is_answered_before_the_next_one_starts() -> None:
    """`send_nowait` (the plugin's reset before each test): its answer comes in the future, and a request made
    after it starts only once it is answered, even when it takes a while (no hop to wait for it)."""
    transport = InProcessTransport(_SlowSetter())
    try:
        sent = transport.send_nowait(httpx.Request("POST", f"{INPROCESS_BASE_URL}/set"))
        with httpx.Client(transport=transport, base_url=INPROCESS_BASE_URL) as client:
            assert client.get("/get").text == "new"
        assert sent.result(5.0) == (200, b"new")
    finally:
        transport.close()


@pytest.mark.cozepy_free
def test_a_socket_server_on_the_transports_loop_lets_a_request_in_after_what_was_sent_without_waiting() -> None:
    """`after_sent` behind a server started on the transport's loop (the plugin's socket mode): a request over the
    socket, made right after a slow `send_nowait`, starts only once that one is answered, and the app runs on the
    transport's one thread whichever way a request came. The client does not wait for anything first."""
    from simulators.coze import running

    app = _SlowSetter()
    transport = InProcessTransport(app)
    try:
        with running(transport.after_sent(app), loop=transport.loop) as server:  # type: ignore[arg-type]
            sent = transport.send_nowait(httpx.Request("POST", f"{INPROCESS_BASE_URL}/set"))
            with httpx.Client(base_url=server.base_url, timeout=_WAIT) as client:
                assert client.get("/get").text == "new"
            assert sent.result(_WAIT) == (200, b"new")
        assert app.threads == {"coze-harness in-process app"}
        simulator = create_app()  # what `running()` releases when it stops (uploads) it reaches through the wrapper
        assert transport.after_sent(simulator).state is simulator.state
    finally:
        transport.close()


@pytest.mark.cozepy_free
def test_a_request_waiting_on_a_send_nowait_that_is_cancelled_is_served() -> None:
    """What was sent without waiting is its sender's business: cancelled while a request waits on it (the plugin
    gives up on a reset after RESET_SECONDS), the request goes ahead instead of failing with CancelledError."""
    transport = InProcessTransport(_SlowSetter(seconds=_WAIT * 3))
    try:
        sent = transport.send_nowait(httpx.Request("POST", f"{INPROCESS_BASE_URL}/set"))
        answers: list[Any] = []

        def get() -> None:
            try:
                with httpx.Client(transport=transport, base_url=INPROCESS_BASE_URL, timeout=_WAIT) as client:
                    answers.append(client.get("/get").text)
            except BaseException as exc:  # what the request raised is what this test looks at
                answers.append(exc)

        waiting = threading.Thread(target=get)
        waiting.start()
        for _ in range(int(_WAIT * 100)):  # until the request waits on the loop: the sent one's task and its own
            if sum(task.get_name() != "coze-harness in-process request" for task in _tasks(transport)) >= 2:
                break
            time.sleep(0.01)
        assert sent.cancel()
        waiting.join(_WAIT)
        assert answers == ["old"]
    finally:
        transport.close()


def _tasks(transport: InProcessTransport) -> set[asyncio.Task[Any]]:
    loop = transport.loop
    return asyncio.run_coroutine_threadsafe(_all_tasks(), loop).result(_WAIT)


async def _all_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current}


@pytest.mark.cozepy_free
def test_serving_on_a_loop_that_is_not_running_is_refused_at_once() -> None:
    from simulators.coze import running

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="running in another thread"), running(create_app(), loop=loop):
            pass
    finally:
        loop.close()


@pytest.mark.cozepy_free
def test_a_server_that_fails_to_start_on_a_loop_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulators.coze import _uvicorn, running

    async def refuse(self: Any, sockets: Any = None) -> None:
        raise OSError("no room for this server")

    monkeypatch.setattr(_uvicorn.PromptServer, "startup", refuse)
    transport = InProcessTransport(create_app())
    try:
        with (
            pytest.raises(RuntimeError, match="did not start: OSError: no room"),
            running(create_app(), loop=transport.loop),
        ):
            pass
    finally:
        transport.close()


@pytest.mark.cozepy_free
def test_serving_in_process_imports_no_server_and_no_tls() -> None:
    """Building the app and serving it through the transport (the plugin's in-process mode) leaves uvicorn and
    trustme (with `cryptography`) unimported: about 100 ms of a small suite's start, which only a socket needs."""
    import subprocess
    import sys

    code = (
        "import sys, httpx\n"
        "from simulators.coze import create_app\n"
        "from harness.transports.inprocess import INPROCESS_BASE_URL, InProcessTransport\n"
        "transport = InProcessTransport(create_app())\n"
        "with httpx.Client(transport=transport, base_url=INPROCESS_BASE_URL) as client:\n"
        "    assert client.get('/v1/bots').status_code == 401\n"
        "print(sorted(name for name in ('uvicorn', 'trustme', 'cryptography') if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
