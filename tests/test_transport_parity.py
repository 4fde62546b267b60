"""Transport parity: the same flows through a real loopback socket, the in-process transport, respx and
cassette replay must look the same to the SDK: the same events with the same parsed payloads, the
same results, the same exceptions with the same codes. Any difference is a bug in a transport.

Cassette replay: each flow is first recorded from a fresh seeded simulator over a socket with
`harness.cassettes.CassetteRecorder`, written to `tmp_path`, read back, and replayed with no server
(faithful chunks, then adversarially rechunked). The recording redacts only the token: the default
rules would also turn log ids into pseudonyms, which the SDK then quotes in its exceptions (that
redaction is tested in test_cassettes.py). Every recording must be played.

Each run gets a fresh simulator with the same seed, so ids, log ids and timestamps match too and the
comparison is exact. Flows are compared within one client kind (sync with sync, async with async).
A flow the installed cozepy cannot run at all is skipped by capability; one it runs badly (an SDK
bug) still has to fail the same way everywhere.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, FAILING_BOT, WEATHER_BOT, weather_tools

from harness import sdk
from harness.cassettes import (
    SIMULATOR_BASE_URL,
    AsyncCassetteTransport,
    CassetteRecorder,
    CassetteTransport,
    RedactionRules,
)
from harness.clients import async_coze_client_and_http, coze_client_and_http
from harness.inprocess import (
    INPROCESS_BASE_URL,
    AsyncInProcessTransport,
    InProcessTransport,
    async_http_client,
    sync_http_client,
)
from harness.local_plugin import AsyncLocalPluginRunner, LocalPluginResult, LocalPluginRunner
from harness.sdk import event_name
from simulators.coze import DEFAULT_TOKEN, SimConfig, create_app, running

respx = pytest.importorskip("respx", reason="respx is not installed")

from harness.respx_routes import mock_coze  # noqa: E402  (needs respx)

pytestmark = pytest.mark.e2e

SEED = 7
QUESTION_WORKFLOW = "7440000000000000002"
FAILING_WORKFLOW = "7440000000000000004"
UNKNOWN_BOT = "7390000000000009999"
RESPX_BASE = "https://api.coze.com"
TRANSPORTS = ("socket", "inprocess", "respx", "cassette", "cassette-rechunked")
_RECORD_ONLY_THE_TOKEN = RedactionRules(headers={"authorization": "TOKEN"}, keys={})
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


# --- what the SDK saw -----------------------------------------------------------------------------


@dataclass
class Seen:
    """Everything a flow observed through the SDK, in order; two transports agree when these are equal."""

    steps: list[tuple[Any, ...]] = field(default_factory=list)

    def event(self, event: Any) -> None:
        self.steps.append(("event", event_name(event), _plain(event)))

    def raised(self, exc: BaseException) -> None:
        self.steps.append(("raised", f"{type(exc).__module__}.{type(exc).__qualname__}", _code(exc), str(exc)))

    def result(self, value: Any) -> None:
        self.steps.append(("result", _plain(value)))

    def names(self) -> list[str]:
        return [step[1] for step in self.steps if step[0] == "event"]

    def exceptions(self) -> list[tuple[Any, ...]]:
        return [step[1:3] for step in self.steps if step[0] == "raised"]


def _plain(value: Any) -> Any:
    """A pydantic model (cozepy's events, the runner's result) as JSON data; anything else as repr."""
    if isinstance(value, LocalPluginResult):
        # Tool durations are wall time, the one thing that may differ between two runs.
        return value.model_dump(mode="json", exclude={"tool_calls": {"__all__": {"duration_seconds"}}})
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return json.loads(json.dumps(dump(mode="json"), default=repr))
    return repr(value)


def _code(exc: BaseException) -> Any:
    return getattr(exc, "code", None)


def _message(text: str) -> Any:
    return cozepy.Message(role="user", type="question", content=text, content_type="text")


# --- spies: the runner drives cozepy, the spy records what cozepy yields --------------------------


class _ChatSpy:
    def __init__(self, chat: Any, seen: Seen) -> None:
        self._chat = chat
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chat, name)

    def _tee(self, events: Any) -> Iterator[Any]:
        for event in events:
            self._seen.event(event)
            yield event

    def stream(self, **options: Any) -> Iterator[Any]:
        return self._tee(self._chat.stream(**options))

    def submit_tool_outputs(self, **options: Any) -> Any:
        answer = self._chat.submit_tool_outputs(**options)
        return self._tee(answer) if options.get("stream") else answer


class _AsyncChatSpy(_ChatSpy):
    async def _atee(self, events: Any) -> AsyncIterator[Any]:
        async for event in await _maybe_await(events):
            self._seen.event(event)
            yield event

    async def stream(self, **options: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        return self._atee(self._chat.stream(**options))

    async def submit_tool_outputs_stream(self, **options: Any) -> AsyncIterator[Any]:
        return self._atee(self._chat.submit_tool_outputs_stream(**options))


class _CozeSpy:
    def __init__(self, coze: Any, chat: _ChatSpy) -> None:
        self._coze = coze
        self.chat = chat

    def __getattr__(self, name: str) -> Any:
        return getattr(self._coze, name)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


# --- the flows, sync -----------------------------------------------------------------------------


def chat_local_plugin(coze: Any, seen: Seen) -> None:
    """A chat stopping on requires_action, answered by the real LocalPluginRunner with local tools."""
    result = LocalPluginRunner(_CozeSpy(coze, _ChatSpy(coze.chat, seen)), weather_tools()).run(WEATHER_BOT, "Paris")
    seen.result(result)


def workflow_interrupt_resume(coze: Any, seen: Seen) -> None:
    """A workflow stream stopping on a question Interrupt, then `resume` with the answer."""
    interrupts = []
    for event in coze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW):
        seen.event(event)
        if event_name(event) == "Interrupt":
            interrupts.append(event.interrupt.interrupt_data)
    for data in interrupts:
        stream = coze.workflows.runs.resume(
            workflow_id=QUESTION_WORKFLOW, event_id=data.event_id, resume_data="Oslo", interrupt_type=data.type
        )
        for event in stream:
            seen.event(event)


def workflow_error(coze: Any, seen: Seen) -> None:
    for event in coze.workflows.runs.stream(workflow_id=FAILING_WORKFLOW):
        seen.event(event)


def chat_failed(coze: Any, seen: Seen) -> None:
    for event in coze.chat.stream(bot_id=FAILING_BOT, user_id="u", additional_messages=[_message("hi")]):
        seen.event(event)


def unknown_bot(coze: Any, seen: Seen) -> None:
    """The error envelope, streamed and not: both calls must raise the same way on every transport."""
    for stream in (True, False):
        try:
            if stream:
                for event in coze.chat.stream(bot_id=UNKNOWN_BOT, user_id="u", additional_messages=[_message("hi")]):
                    seen.event(event)
            else:
                seen.result(coze.chat.create(bot_id=UNKNOWN_BOT, user_id="u", additional_messages=[_message("hi")]))
        except Exception as exc:
            seen.raised(exc)


def chat_completed(coze: Any, seen: Seen) -> None:
    for event in coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[_message("hello")]):
        seen.event(event)


SyncFlow = Callable[[Any, Seen], None]

_needs_tool_calls = pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))

SYNC_FLOWS = [
    pytest.param(chat_local_plugin, id="chat-local-plugin", marks=_needs_tool_calls),
    pytest.param(workflow_interrupt_resume, id="workflow-interrupt-resume"),
    pytest.param(workflow_error, id="workflow-error"),
    pytest.param(chat_failed, id="chat-failed"),
    pytest.param(unknown_bot, id="unknown-bot"),
    pytest.param(chat_completed, id="chat-completed"),
]


def _record_sync(flow: SyncFlow, path: Any) -> Any:
    """Record `flow` from a fresh seeded simulator over a socket; the cassette file."""
    inner = httpx.HTTPTransport()
    recorder = CassetteRecorder(inner, rules=_RECORD_ONLY_THE_TOKEN, secrets=[DEFAULT_TOKEN])
    with running(create_app(config=SimConfig(seed=SEED))) as sim:
        coze, http = coze_client_and_http(
            recorder.transport, base_url=sim.base_url, token=DEFAULT_TOKEN, timeout=_TIMEOUT
        )
        # An exception is recorded like everything else; the replay must raise it again.
        with http, contextlib.suppress(Exception):
            flow(coze, Seen())
    cassette = recorder.cassette(
        source="simulator", base_url=sim.base_url, written_base_url=SIMULATOR_BASE_URL, simulator_seed=SEED
    )
    return cassette.save(path)


def _replay_mode(transport: str) -> str:
    return "rechunked" if transport == "cassette-rechunked" else "faithful"


@contextmanager
def sync_coze(transport: str, cassette: Any = None) -> Iterator[Any]:
    """A `cozepy.Coze` on a fresh, seeded simulator, reached through `transport` (or replaying `cassette`)."""
    app = create_app(config=SimConfig(seed=SEED))
    auth = cozepy.TokenAuth(DEFAULT_TOKEN)
    if transport == "socket":
        with running(app) as sim, sync_http_client(timeout=_TIMEOUT) as http:
            yield cozepy.Coze(auth=auth, base_url=sim.base_url, http_client=http)
    elif transport == "inprocess":
        with sync_http_client(InProcessTransport(app), timeout=_TIMEOUT) as http:
            yield cozepy.Coze(auth=auth, base_url=INPROCESS_BASE_URL, http_client=http)
    elif transport.startswith("cassette"):
        replay = CassetteTransport(cassette, mode=_replay_mode(transport))
        coze, http = coze_client_and_http(replay, base_url=SIMULATOR_BASE_URL, token="replayed", timeout=_TIMEOUT)
        with http:
            yield coze
        replay.assert_all_played()
    else:
        with mock_coze(app, base_url=RESPX_BASE), sync_http_client(timeout=_TIMEOUT) as http:
            yield cozepy.Coze(auth=auth, base_url=RESPX_BASE, http_client=http)


def _run_sync(flow: SyncFlow, transport: str, cassette: Any = None) -> Seen:
    seen = Seen()
    with sync_coze(transport, cassette) as coze:
        try:
            flow(coze, seen)
        except Exception as exc:
            seen.raised(exc)
    return seen


def _assert_agree(outcomes: dict[str, Seen]) -> None:
    baseline = outcomes["socket"]
    for transport, seen in outcomes.items():
        assert seen.names() == baseline.names(), f"{transport}: other events than over a socket"
        assert seen.exceptions() == baseline.exceptions(), f"{transport}: other exceptions than over a socket"
        assert seen.steps == baseline.steps, f"{transport}: other payloads than over a socket"


def _assert_meaningful(flow: str, seen: Seen, *, asynchronous: bool = False) -> None:
    """Parity of nothing proves nothing: the flows must do what they are for where the SDK can."""
    names = seen.names()
    if flow == "chat_local_plugin":
        assert "conversation.chat.requires_action" in names
        assert names[-1] in ("conversation.chat.completed", "done")
        assert seen.steps[-1][0] == "result"
        assert seen.steps[-1][1]["status"] == "completed"
    elif flow == "workflow_interrupt_resume":
        assert "Interrupt" in names
        if sdk.workflow_resume_sends_event_id():
            assert names.count("Message") >= 1
    elif flow == "workflow_error":
        assert "Error" in names
    elif flow == "chat_failed":
        assert "conversation.chat.failed" in names
    elif flow == "unknown_bot":
        assert len(seen.exceptions()) == 2
        assert seen.exceptions()[1] == ("cozepy.exception.CozeAPIError", 4200)
        raises = sdk.async_stream_error_envelopes_raise() if asynchronous else sdk.stream_error_envelopes_raise()
        if raises:
            assert seen.exceptions()[0] == ("cozepy.exception.CozeAPIError", 4200)
    elif flow == "chat_completed":
        assert "conversation.chat.completed" in names


@pytest.mark.parametrize("flow", SYNC_FLOWS)
def test_sync_transports_agree(flow: SyncFlow, tmp_path: Any) -> None:
    cassette = _record_sync(flow, tmp_path / f"{flow.__name__}.yaml")
    outcomes = {transport: _run_sync(flow, transport, cassette) for transport in TRANSPORTS}
    _assert_meaningful(flow.__name__, outcomes["socket"])
    _assert_agree(outcomes)


# --- the flows, async -----------------------------------------------------------------------------


async def _events(stream: Any) -> AsyncIterator[Any]:
    async for event in await _maybe_await(stream):
        yield event


async def async_chat_local_plugin(coze: Any, seen: Seen) -> None:
    spy = _CozeSpy(coze, _AsyncChatSpy(coze.chat, seen))
    seen.result(await AsyncLocalPluginRunner(spy, weather_tools()).run(WEATHER_BOT, "Paris"))


async def async_workflow_interrupt_resume(coze: Any, seen: Seen) -> None:
    interrupts = []
    async for event in _events(coze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW)):
        seen.event(event)
        if event_name(event) == "Interrupt":
            interrupts.append(event.interrupt.interrupt_data)
    for data in interrupts:
        resumed = coze.workflows.runs.resume(
            workflow_id=QUESTION_WORKFLOW, event_id=data.event_id, resume_data="Oslo", interrupt_type=data.type
        )
        async for event in _events(resumed):
            seen.event(event)


async def async_chat_failed(coze: Any, seen: Seen) -> None:
    async for event in _events(coze.chat.stream(bot_id=FAILING_BOT, user_id="u", additional_messages=[_message("hi")])):
        seen.event(event)


async def async_unknown_bot(coze: Any, seen: Seen) -> None:
    for stream in (True, False):
        try:
            if stream:
                async for event in _events(
                    coze.chat.stream(bot_id=UNKNOWN_BOT, user_id="u", additional_messages=[_message("hi")])
                ):
                    seen.event(event)
            else:
                chat = await coze.chat.create(bot_id=UNKNOWN_BOT, user_id="u", additional_messages=[_message("hi")])
                seen.result(chat)
        except Exception as exc:
            seen.raised(exc)


AsyncFlow = Callable[[Any, Seen], Awaitable[None]]

_needs_async_tool_calls = pytest.mark.skipif(
    sdk.async_tool_call_gap() is not None, reason=str(sdk.async_tool_call_gap())
)
_needs_async_workflows = pytest.mark.skipif(
    not sdk.has_async_workflow_resume(), reason=f"cozepy {sdk.version()} has no async workflow stream/resume"
)
_needs_async = pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")

ASYNC_FLOWS = [
    pytest.param(async_chat_local_plugin, id="chat-local-plugin", marks=_needs_async_tool_calls),
    pytest.param(async_workflow_interrupt_resume, id="workflow-interrupt-resume", marks=_needs_async_workflows),
    pytest.param(async_chat_failed, id="chat-failed", marks=_needs_async),
    pytest.param(async_unknown_bot, id="unknown-bot", marks=_needs_async),
]


async def _record_async(flow: AsyncFlow, path: Any) -> Any:
    """Record async `flow` (through the recorder's async face) from a fresh seeded simulator over a socket."""
    inner = httpx.HTTPTransport()
    recorder = CassetteRecorder(inner, rules=_RECORD_ONLY_THE_TOKEN, secrets=[DEFAULT_TOKEN])
    with running(create_app(config=SimConfig(seed=SEED))) as sim:
        coze, http = async_coze_client_and_http(
            recorder.async_transport(), base_url=sim.base_url, token=DEFAULT_TOKEN, timeout=_TIMEOUT
        )
        try:
            await flow(coze, Seen())
        except Exception:  # recorded like everything else; the replay must raise it again
            pass
        finally:
            await http.aclose()
            inner.close()
    cassette = recorder.cassette(
        source="simulator", base_url=sim.base_url, written_base_url=SIMULATOR_BASE_URL, simulator_seed=SEED
    )
    return cassette.save(path)


def async_coze(transport: str, cassette: Any = None) -> AbstractContextManager[tuple[Any, Any]]:
    """(AsyncCoze, its httpx client to close) on a fresh, seeded simulator, through `transport`."""

    @contextmanager
    def build() -> Iterator[tuple[Any, Any]]:
        app = create_app(config=SimConfig(seed=SEED))
        auth = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)(DEFAULT_TOKEN)
        if transport == "socket":
            with running(app) as sim:
                http = async_http_client(timeout=_TIMEOUT)
                yield cozepy.AsyncCoze(auth=auth, base_url=sim.base_url, http_client=http), http
        elif transport == "inprocess":
            http = async_http_client(AsyncInProcessTransport(app), timeout=_TIMEOUT)
            yield cozepy.AsyncCoze(auth=auth, base_url=INPROCESS_BASE_URL, http_client=http), http
        elif transport.startswith("cassette"):
            replay = AsyncCassetteTransport(cassette, mode=_replay_mode(transport))
            yield async_coze_client_and_http(replay, base_url=SIMULATOR_BASE_URL, token="replayed", timeout=_TIMEOUT)
            replay.assert_all_played()
        else:
            with mock_coze(app, base_url=RESPX_BASE):
                http = async_http_client(timeout=_TIMEOUT)
                yield cozepy.AsyncCoze(auth=auth, base_url=RESPX_BASE, http_client=http), http

    return build()


async def _run_async(flow: AsyncFlow, transport: str, cassette: Any = None) -> Seen:
    seen = Seen()
    with async_coze(transport, cassette) as (coze, http):
        try:
            await flow(coze, seen)
        except Exception as exc:
            seen.raised(exc)
        finally:
            await http.aclose()
    return seen


@pytest.mark.anyio
@pytest.mark.parametrize("flow", ASYNC_FLOWS)
async def test_async_transports_agree(flow: AsyncFlow, tmp_path: Any) -> None:
    cassette = await _record_async(flow, tmp_path / f"{flow.__name__}.yaml")
    outcomes = {transport: await _run_async(flow, transport, cassette) for transport in TRANSPORTS}
    _assert_meaningful(flow.__name__.removeprefix("async_"), outcomes["socket"], asynchronous=True)
    _assert_agree(outcomes)
