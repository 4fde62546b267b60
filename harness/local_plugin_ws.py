"""The local-plugin loop over websocket chat (`coze.websockets.chat`, cozepy 0.10 and later).

Same contract as `harness.local_plugin`: every tool call gets an output, a chat that fails is a
result, anything that stops the flow is a `LocalPluginError` carrying what happened so far. What
differs is the shape: events arrive on the SDK's receive thread (or task) through handlers, the
answer to `conversation.chat.requires_action` is a `conversation.chat.submit_tool_outputs` message
on the same socket, and there is no end-of-stream, so the runner waits for completed or failed
with a bound (`chat_timeout`). It never calls the SDK's own `wait()`: in cozepy 0.20.0 the sync
client's `wait()` compares every event type seen so far with the awaited set and so never returns
once any other event has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from . import sdk
from .local_plugin import (
    COMPLETED,
    DEFAULT_MAX_ROUNDS,
    FAILED,
    NO_LOCAL_PLUGINS,
    REQUIRES_ACTION,
    LocalPluginError,
    LocalPluginResult,
    PlatformUnsupportedError,
    RoundLimitExceeded,
    StreamEndedError,
    UnsupportedSDKError,
    _Call,
    _check_max_rounds,
    _Progress,
    _tool_outputs,
    _unsupported_call,
)
from .sdk import enum_value
from .tools import DEFAULT_TOOL_TIMEOUT, ToolRegistry, ToolResult

_log = logging.getLogger("harness.local_plugin_ws")

__all__ = [
    "CLOSE_TIMEOUT",
    "DEFAULT_CHAT_TIMEOUT",
    "AsyncWebsocketLocalPluginRunner",
    "CloseTimeout",
    "WebsocketLocalPluginRunner",
]

DEFAULT_CHAT_TIMEOUT = 60.0
"""Seconds a whole chat may take, tool calls included, before the runner gives up and closes."""

CLOSE_TIMEOUT = 5.0
"""Seconds the SDK's close() may take before the runner stops waiting for it."""


class CloseTimeout(LocalPluginError):
    """The chat ran (its result is attached) but the SDK's connection could not be closed at all."""


_OBSERVED = (
    "chat.created",
    "chat.updated",
    "conversation.chat.created",
    "conversation.chat.in_progress",
    "conversation.message.delta",
    "conversation.message.completed",
    REQUIRES_ACTION,
    COMPLETED,
    FAILED,
)
_ERROR = "error"
_CLIENT_ERROR = "client_error"
_CLOSED = "closed"


def _close_timeout(result: LocalPluginResult) -> CloseTimeout:
    return CloseTimeout(
        f"chat {result.chat_id} {result.status}, but the SDK's close() did not return within "
        f"{2 * CLOSE_TIMEOUT} s even after the socket was closed under it; its threads are left behind",
        result,
    )


def _classes() -> Any:
    import cozepy.websockets.chat as chat

    return chat


def _event_types() -> Any:
    from cozepy.websockets.ws import WebsocketsEventType

    return WebsocketsEventType


def _handlers(types: Any, on_event: Any, on_error: Any, on_closed: Any) -> dict[Any, Any]:
    """Handlers keyed by the release's own enum members, for the event types it has.

    Releases differ in which events they know (0.14 to 0.16 have no `conversation.chat.failed`);
    an event a release cannot name is one it cannot dispatch, so there is nothing to subscribe to.
    """
    wanted = {name: on_event for name in _OBSERVED}
    wanted.update({_ERROR: on_error, _CLIENT_ERROR: on_error, _CLOSED: on_closed})
    return {member: wanted[member.value] for member in types if member.value in wanted}


def _describe(error: Any) -> str:
    """A server `error` event carries a CozeAPIError in `data`; a client failure is the exception itself."""
    data = getattr(error, "data", None)
    if isinstance(error, BaseException) or data is None:
        return f"{type(error).__name__}: {error}"
    return f"the server sent an error event: code {getattr(data, 'code', '?')}, {getattr(data, 'msg', data)}"


def _refusal(exc: BaseException) -> BaseException:
    """A refused handshake with the server's envelope put back (a 404: the platform has no websocket
    chat, a `PlatformUnsupportedError`); any other exception as it is.

    cozepy turns a refused websocket handshake into `CozeAPIError(None, "server rejected WebSocket
    connection: HTTP 429")` and drops the body, so the code and msg the server gave (a rate limit, a
    5xx) are lost. They are read back from the websockets `InvalidStatus` it chains, so the error says
    what the HTTP runner's would: the envelope's code, msg and logid.
    """
    import cozepy

    response = getattr(exc.__cause__, "response", None)
    body = getattr(response, "body", None)
    if isinstance(exc, cozepy.CozeAPIError) and getattr(response, "status_code", None) == 404:
        return PlatformUnsupportedError(
            f"the server has no websocket chat: it answered the /v1/chat handshake with HTTP 404; {NO_LOCAL_PLUGINS}"
        )
    if not isinstance(exc, cozepy.CozeAPIError) or not body:
        return exc
    try:
        envelope = json.loads(bytes(body))
    except (TypeError, ValueError):
        return exc
    code = envelope.get("code") if isinstance(envelope, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or code <= 0:
        return exc
    detail = envelope.get("detail")
    logid = detail.get("logid") if isinstance(detail, dict) else None
    if not isinstance(logid, str) or not logid:
        logid = getattr(exc, "logid", None)
    return cozepy.CozeAPIError(code, str(envelope.get("msg") or ""), logid)


class _Chat:
    """One chat's progress and how it ended; shared by the sync and async runners."""

    def __init__(self, bot_id: str, max_rounds: int) -> None:
        self.progress = _Progress(bot_id)
        self.progress.start_stream()
        self.max_rounds = max_rounds
        self.result: LocalPluginResult | None = None
        self.error: LocalPluginError | None = None

    @property
    def over(self) -> bool:
        return self.result is not None or self.error is not None

    def step(self, name: str, data: Any) -> list[_Call] | None:
        """Feed one event; the calls to answer when it asks for tool outputs, else None."""
        self.progress.observe(name, data)
        if name not in (REQUIRES_ACTION, COMPLETED, FAILED) or self.over:
            return None
        try:
            outcome = self.progress.after_stream(self.max_rounds)
        except LocalPluginError as exc:
            self.error = exc
            return None
        if isinstance(outcome, LocalPluginResult):
            self.result = outcome
            return None
        return outcome

    def answered(self, pairs: list[tuple[_Call, ToolResult]]) -> list[Any]:
        for call, result in pairs:
            self.progress.record(call, result)
        self.progress.start_stream()
        return _tool_outputs(pairs)

    def fail(self, message: str) -> None:
        if not self.over:
            self.error = LocalPluginError(message, self.progress.partial())

    def closed(self) -> None:
        if not self.over:
            self.error = StreamEndedError(
                f"the websocket of chat {self.progress.chat_id or '(not started)'} closed before "
                "conversation.chat.completed or .failed",
                self.progress.partial(),
            )

    def timed_out(self, timeout: float) -> None:
        """The runner stopped waiting: said before it closes the socket, so the close it causes (which the
        SDK reports as `closed`) is not mistaken for the server ending the chat."""
        if not self.over:
            self.error = LocalPluginError(
                f"chat {self.progress.chat_id or '(not started)'} did not complete or fail within {timeout} s "
                "(chat_timeout); the connection was closed",
                self.progress.partial(),
            )

    def outcome(self, timeout: float) -> LocalPluginResult:
        self.timed_out(timeout)  # a no-op unless nothing ended the chat
        if self.result is not None:
            return self.result
        assert self.error is not None
        raise self.error


def _opening(
    chat_module: Any, message: str, user_id: str, conversation_id: str | None, custom_variables: dict[str, str] | None
) -> tuple[Any, Any]:
    config: dict[str, Any] = {"user_id": user_id}
    if conversation_id is not None:
        config["conversation_id"] = conversation_id
    if custom_variables is not None:
        config["custom_variables"] = custom_variables
    update = chat_module.ChatUpdateEvent.Data.model_validate({"chat_config": config})
    create = chat_module.ConversationMessageCreateEvent.Data(role="user", content_type="text", content=message)
    return update, create


class _Base:
    def __init__(
        self,
        coze: Any,
        registry: ToolRegistry,
        *,
        user_id: str = "coze-harness",
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        chat_timeout: float = DEFAULT_CHAT_TIMEOUT,
        observer: Callable[[str, Any], None] | None = None,
    ) -> None:
        """`observer(event_type, event)` sees every event the SDK dispatched, in order (for logs, evidence)."""
        if chat_timeout <= 0:
            raise ValueError(f"chat_timeout must be positive, not {chat_timeout}")
        self.coze = coze
        self.registry = registry
        self.user_id = user_id
        self.max_rounds = _check_max_rounds(max_rounds)
        self.tool_timeout = tool_timeout
        self.chat_timeout = chat_timeout
        self.observer = observer
        self.close_issues: list[str] = []  # SDK close() hangs the runner had to work around

    def _observe(self, event: Any) -> str:
        name = enum_value(event.event_type)
        if self.observer is not None:
            self.observer(name, event)
        return name

    @staticmethod
    def _check_sdk() -> None:
        gap = sdk.websocket_chat_gap()
        if gap is not None:
            raise UnsupportedSDKError(f"cannot run local plugins over websocket chat: {gap}")


class _Closing:
    """A chat whose connection is being closed on a helper thread (`WebsocketLocalPluginRunner.settle`)."""

    def __init__(
        self, closer: threading.Thread, client: Any, nudge: Callable[[], None], result: LocalPluginResult
    ) -> None:
        self.closer, self.client, self.nudge, self.result = closer, client, nudge, result


class WebsocketLocalPluginRunner(_Base):
    """Runs a bot chat over `coze.websockets.chat` (sync client), answering tool calls from `registry`.

    With `close_later=True`, a chat that completed or failed returns without waiting for the SDK's
    close() (cozepy's threads poll with 0.5 s timeouts, so it takes up to half a second): the close goes
    on in the background, bounded as usual, and `settle()` waits for every pending one, recording hangs
    in `close_issues` and returning what `run` would have raised as `CloseTimeout`.
    """

    def __init__(self, *args: Any, close_later: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_later = close_later
        self._closing: list[_Closing] = []

    def run(
        self,
        bot_id: str,
        message: str,
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        custom_variables: dict[str, str] | None = None,
    ) -> LocalPluginResult:
        self._check_sdk()
        chat_module, types = _classes(), _event_types()
        chat = _Chat(bot_id, self.max_rounds)
        done = threading.Event()

        def on_event(client: Any, event: Any) -> None:
            try:
                calls = chat.step(self._observe(event), getattr(event, "data", None))
                if calls is not None:
                    outputs = chat.answered([(call, self._run(call)) for call in calls])
                    data = chat_module.ConversationChatSubmitToolOutputsEvent.Data(
                        chat_id=chat.progress.chat_id, tool_outputs=outputs
                    )
                    client.conversation_chat_submit_tool_outputs(data)
                elif isinstance(chat.error, RoundLimitExceeded):
                    client.conversation_chat_cancel()
            except Exception as exc:  # a handler must not die silently on the SDK's thread
                chat.fail(f"the runner failed while handling {enum_value(event.event_type)}: {exc!r}")
            if chat.over:
                done.set()

        def on_error(client: Any, error: Any) -> None:
            chat.fail(f"websocket chat failed: {_describe(error)}")
            done.set()

        def on_closed(*_: Any) -> None:
            chat.closed()
            done.set()

        handlers = _handlers(types, on_event, on_error, on_closed)
        update, create = _opening(chat_module, message, user_id or self.user_id, conversation_id, custom_variables)
        client = self.coze.websockets.chat.create(bot_id=bot_id, on_event=handlers)
        session = client()
        try:
            connection = session.__enter__()
        except Exception as exc:
            refused = _refusal(exc)
            if refused is exc:
                raise
            raise refused from exc
        deferred: threading.Thread | None = None
        try:
            connection.chat_update(update)
            connection.conversation_message_create(create)
            if not done.wait(self.chat_timeout):
                chat.timed_out(self.chat_timeout)
        finally:
            if self.close_later and chat.result is not None:  # settled: closing cannot change the outcome
                deferred = self._start_close(session)
                closed = True
            else:
                closed = self._close(session, client, lambda: connection.chat_update(update))
        result = chat.outcome(self.chat_timeout)
        if deferred is not None:
            self._closing.append(_Closing(deferred, client, lambda: connection.chat_update(update), result))
        if not closed:
            raise _close_timeout(result)
        return result

    def settle(self, deadline: float | None = None) -> list[CloseTimeout]:
        """Wait (bounded) for the closes `close_later` left running; the ones that never returned.

        The closes run side by side, so they share one wait: `CLOSE_TIMEOUT` from now, or until `deadline`
        (a `time.monotonic()` value several runners' closes can share); then every stuck one is rescued and
        they share one more wait. A release whose close() hangs then costs two timeouts, not two per chat."""
        pending, self._closing = self._closing, []
        if deadline is None:
            deadline = time.monotonic() + CLOSE_TIMEOUT
        for closing in pending:
            closing.closer.join(max(0.0, deadline - time.monotonic()))
        hung = [closing for closing in pending if closing.closer.is_alive()]
        for closing in hung:  # every rescue first, then one more shared wait
            self._rescue(closing.client, closing.nudge)
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for closing in hung:
            closing.closer.join(max(0.0, deadline - time.monotonic()))
        return [_close_timeout(closing.result) for closing in hung if closing.closer.is_alive()]

    @staticmethod
    def _start_close(session: Any) -> threading.Thread:
        closer = threading.Thread(
            target=session.__exit__, args=(None, None, None), name="cozepy-websocket-close", daemon=True
        )
        closer.start()
        return closer

    def _close(self, session: Any, client: Any, nudge: Callable[[], None]) -> bool:
        """Close on a helper thread, bounded, and rescue the releases whose close() never returns.

        cozepy 0.14 to 0.16's sync client joins a send thread blocked on a queue with no timeout.
        After `CLOSE_TIMEOUT` the runner closes the socket under the SDK and sends one more event:
        the send thread wakes, fails on the closed socket and ends, and so does close(). This reads
        the client's private `_ws`; the hang is recorded in `close_issues` and logged.
        """
        return self._finish_close(self._start_close(session), client, nudge)

    def _finish_close(self, closer: threading.Thread, client: Any, nudge: Callable[[], None]) -> bool:
        closer.join(CLOSE_TIMEOUT)
        if not closer.is_alive():
            return True
        self._rescue(client, nudge)
        closer.join(CLOSE_TIMEOUT)
        return not closer.is_alive()

    def _rescue(self, client: Any, nudge: Callable[[], None]) -> None:
        """Close the socket under a close() that hangs, and wake its send thread with one more event."""
        issue = (
            f"cozepy {sdk.version()}'s sync websocket close() did not return within {CLOSE_TIMEOUT} s "
            "(it joins threads that block without a timeout); the runner closed the socket under it"
        )
        self.close_issues.append(issue)
        _log.warning(issue)
        socket = getattr(client, "_ws", None)
        if socket is not None:
            with contextlib.suppress(Exception):
                socket.close()
        with contextlib.suppress(Exception):
            nudge()

    def _run(self, call: _Call) -> ToolResult:
        refused = _unsupported_call(call)
        if refused is not None:
            return refused
        return self.registry.invoke(call.name, call.arguments, timeout=self.tool_timeout)


class AsyncWebsocketLocalPluginRunner(_Base):
    """`WebsocketLocalPluginRunner` for `cozepy.AsyncCoze`; the calls of one round run concurrently."""

    async def run(
        self,
        bot_id: str,
        message: str,
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        custom_variables: dict[str, str] | None = None,
    ) -> LocalPluginResult:
        self._check_sdk()
        chat_module, types = _classes(), _event_types()
        chat = _Chat(bot_id, self.max_rounds)
        done = asyncio.Event()

        async def on_event(client: Any, event: Any) -> None:
            try:
                calls = chat.step(self._observe(event), getattr(event, "data", None))
                if calls is not None:
                    results = await asyncio.gather(*(self._run(call) for call in calls))
                    outputs = chat.answered(list(zip(calls, results, strict=True)))
                    data = chat_module.ConversationChatSubmitToolOutputsEvent.Data(
                        chat_id=chat.progress.chat_id, tool_outputs=outputs
                    )
                    await client.conversation_chat_submit_tool_outputs(data)
                elif isinstance(chat.error, RoundLimitExceeded):
                    await client.conversation_chat_cancel()
            except Exception as exc:
                chat.fail(f"the runner failed while handling {enum_value(event.event_type)}: {exc!r}")
            if chat.over:
                done.set()

        async def on_error(client: Any, error: Any) -> None:
            chat.fail(f"websocket chat failed: {_describe(error)}")
            done.set()

        async def on_closed(*_: Any) -> None:
            chat.closed()
            done.set()

        handlers = _handlers(types, on_event, on_error, on_closed)
        update, create = _opening(chat_module, message, user_id or self.user_id, conversation_id, custom_variables)
        client = self.coze.websockets.chat.create(bot_id=bot_id, on_event=handlers)
        try:
            async with client() as connection:
                await connection.chat_update(update)
                await connection.conversation_message_create(create)
                try:
                    await asyncio.wait_for(done.wait(), self.chat_timeout)
                except asyncio.TimeoutError:
                    chat.timed_out(self.chat_timeout)
        except Exception as exc:
            refused = _refusal(exc)  # only a refused handshake is rewritten
            if refused is exc:
                raise
            raise refused from exc
        return chat.outcome(self.chat_timeout)

    async def _run(self, call: _Call) -> ToolResult:
        refused = _unsupported_call(call)
        if refused is not None:
            return refused
        return await self.registry.ainvoke(call.name, call.arguments, timeout=self.tool_timeout)
