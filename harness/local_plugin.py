"""Driving a bot chat whose tools run locally, with the real `cozepy` client: the local-plugin flow.

The runner streams a chat; when the bot stops on `conversation.chat.requires_action` it runs every
tool call of that round against a `ToolRegistry` and answers them all in one `submit_tool_outputs`,
round after round, until the chat completes or fails. Every call gets an output, even one that names
an unknown tool, fails validation, raises or overruns: the platform waits for an answer to every
pending call, so a missing one would leave the chat hanging.

The same code must work on every cozepy release the project supports, and releases differ in how
they name and type things (strict enums before 0.17, events that are enum members or strings, async
stream methods that are coroutines or async generators). So the runner reads events by the string
value of their name and reads objects with `getattr`, and asks `harness.sdk` what the installed
release can do before it sends anything.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import sdk
from .sdk import enum_value, event_name
from .tools import DEFAULT_TOOL_TIMEOUT, ToolErrorInfo, ToolRegistry, ToolResult

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "AsyncLocalPluginRunner",
    "ChatError",
    "LocalPluginError",
    "LocalPluginResult",
    "LocalPluginRunner",
    "PlatformUnsupportedError",
    "RoundLimitExceeded",
    "StreamBrokenError",
    "StreamEndedError",
    "ToolCallRecord",
    "UnsupportedSDKError",
]

_log = logging.getLogger("harness.local_plugin")

DEFAULT_MAX_ROUNDS = 8
"""Tool-call rounds answered before the runner gives up on a bot that keeps asking."""

REQUIRES_ACTION = "conversation.chat.requires_action"
COMPLETED = "conversation.chat.completed"
FAILED = "conversation.chat.failed"
_CHAT_EVENTS = ("conversation.chat.created", "conversation.chat.in_progress", REQUIRES_ACTION, COMPLETED, FAILED)
_DELTA = "conversation.message.delta"
_MESSAGE_COMPLETED = "conversation.message.completed"
UNSUPPORTED_CALL = "unsupported_call"
_INTERRUPT_MARK = '"msg_type":"interrupt"'  # the verbose message of an agent paused with no tool calls (studio)


# --- the result -------------------------------------------------------------------------------


class ToolCallRecord(BaseModel):
    """One tool call the bot asked for, and exactly what was submitted back for it."""

    model_config = ConfigDict(frozen=True)

    round: int = Field(ge=1, description="1 for the first requires_action of the chat")
    call_id: str
    name: str
    arguments: str = Field(description="the arguments as the bot sent them (a JSON string)")
    output: str = Field(description="the output submitted for this call")
    ok: bool
    error: ToolErrorInfo | None = None
    duration_seconds: float = Field(ge=0)


class ChatError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: int
    msg: str


class LocalPluginResult(BaseModel):
    """How a chat ended, what it answered, and every tool call along the way."""

    model_config = ConfigDict(frozen=True)

    bot_id: str
    chat_id: str
    conversation_id: str
    status: Literal["completed", "failed", "incomplete"] = Field(
        description="incomplete only in the partial result a LocalPluginError carries"
    )
    answer: str = Field(description="the final answer; for a failed chat, the text streamed before it failed")
    rounds: int = Field(ge=0, description="requires_action rounds answered")
    tool_calls: list[ToolCallRecord]
    last_error: ChatError | None = None
    usage: dict[str, int] | None = None
    sdk_version: str

    @property
    def ok(self) -> bool:
        return self.status == "completed"


class LocalPluginError(Exception):
    """The flow could not run to an end; `result` holds what happened up to then, when anything did."""

    def __init__(self, message: str, result: LocalPluginResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class UnsupportedSDKError(LocalPluginError):
    """The installed cozepy cannot take part in the flow at all (it cannot read tool calls, say)."""


class RoundLimitExceeded(LocalPluginError):
    """The bot asked for more rounds of tool calls than `max_rounds`; the chat was canceled."""


class StreamEndedError(LocalPluginError):
    """A chat stream ended without saying whether the chat completed, failed or needs tool outputs."""


class PlatformUnsupportedError(LocalPluginError):
    """The server has no local-plugin path: it paused the chat for a tool without sending the tool calls
    (the open-source Coze server does this), or it has no `submit_tool_outputs` endpoint."""


NO_LOCAL_PLUGINS = (
    "local plugins need cloud Coze (api.coze.com / api.coze.cn); the open-source Coze server (coze-studio) "
    "never sends conversation.chat.requires_action and has no /v3/chat/submit_tool_outputs"
)


class StreamBrokenError(LocalPluginError):
    """A chat stream broke midway: the connection dropped or timed out, a frame did not parse, or the
    server sent an `error` event. The original exception is the `__cause__`."""


# --- reading events the same way on every release ----------------------------------------------


class _Call(BaseModel):
    id: str
    type: str
    name: str
    arguments: str


def _pending_calls(chat: Any) -> list[_Call]:
    action = getattr(chat, "required_action", None)
    submit = getattr(action, "submit_tool_outputs", None)
    tool_calls = getattr(submit, "tool_calls", None)
    if not tool_calls:
        raise LocalPluginError(
            "the chat requires action but carries no tool calls (required_action.submit_tool_outputs.tool_calls "
            "is empty): there is nothing to run or submit"
        )
    calls = []
    for item in tool_calls:
        function = getattr(item, "function", None)
        calls.append(
            _Call(
                id=str(item.id),
                type=enum_value(getattr(item, "type", "")),
                name=str(getattr(function, "name", "") or ""),
                arguments=str(getattr(function, "arguments", "") or ""),
            )
        )
    return calls


def _usage(chat: Any) -> dict[str, int] | None:
    usage = getattr(chat, "usage", None)
    if usage is None:
        return None
    return {key: int(value) for key, value in usage.model_dump().items() if isinstance(value, int)}


class _Progress:
    """What the streams of one chat have shown so far; the sync and async runners share it."""

    def __init__(self, bot_id: str) -> None:
        self.bot_id = bot_id
        self.chat_id = ""
        self.conversation_id = ""
        self.rounds = 0
        self.records: list[ToolCallRecord] = []
        self.terminal: str | None = None
        self.chat: Any = None
        self.events = 0
        self.paused_silently = False
        self._answers: list[str] = []
        self._deltas: dict[str, list[str]] = {}

    def start_stream(self) -> None:
        """Only the last stream's answer is the chat's answer; earlier rounds may have said things too."""
        self.terminal = None
        self.chat = None
        self.events = 0
        self._answers = []
        self._deltas = {}

    def feed(self, event: Any) -> None:
        self.events += 1
        name = event_name(event)
        if name in _CHAT_EVENTS:
            self.observe(name, event.chat)
        elif name in (_DELTA, _MESSAGE_COMPLETED):
            self.observe(name, event.message)

    def observe(self, name: str, payload: Any) -> None:
        """One event by name with its Chat or Message, however the transport delivered it."""
        if name in _CHAT_EVENTS:
            chat = payload
            self.chat_id = str(getattr(chat, "id", "") or self.chat_id)
            self.conversation_id = str(getattr(chat, "conversation_id", "") or self.conversation_id)
            if name in (REQUIRES_ACTION, COMPLETED, FAILED):
                self.terminal, self.chat = name, chat
        elif name in (_DELTA, _MESSAGE_COMPLETED):
            message = payload
            kind = enum_value(getattr(message, "type", ""))
            if kind == "verbose" and _INTERRUPT_MARK in str(getattr(message, "content", "") or ""):
                self.paused_silently = True
            if kind != "answer":
                return
            if name == _DELTA:
                self._deltas.setdefault(str(getattr(message, "id", "") or ""), []).append(message.content or "")
            else:
                self._answers.append(message.content or "")

    def answer(self) -> str:
        if self._answers:
            return "\n\n".join(self._answers)
        return "".join(piece for pieces in self._deltas.values() for piece in pieces)

    def result(self, status: Literal["completed", "failed", "incomplete"]) -> LocalPluginResult:
        last_error = None
        error = getattr(self.chat, "last_error", None)
        if status == "failed" and error is not None:
            last_error = ChatError(code=int(getattr(error, "code", 0) or 0), msg=str(getattr(error, "msg", "") or ""))
        return LocalPluginResult(
            bot_id=self.bot_id,
            chat_id=self.chat_id,
            conversation_id=self.conversation_id,
            status=status,
            answer=self.answer(),
            rounds=self.rounds,
            tool_calls=list(self.records),
            last_error=last_error,
            usage=_usage(self.chat) if self.chat is not None else None,
            sdk_version=sdk.version(),
        )

    def partial(self) -> LocalPluginResult:
        return self.result("incomplete")

    def no_local_plugins(self) -> PlatformUnsupportedError:
        return PlatformUnsupportedError(
            f"bot {self.bot_id} paused chat {self.chat_id or '(unknown)'} for a tool, but the server sent no "
            f"tool calls (a verbose 'interrupt' message, no conversation.chat.requires_action): {NO_LOCAL_PLUGINS}",
            self.partial(),
        )

    def missing_submit(self, exc: Exception) -> PlatformUnsupportedError | None:
        """A 404 from submit_tool_outputs: the server has no such endpoint (the client asked correctly)."""
        import cozepy

        if not (isinstance(exc, cozepy.CozeAPIError) and getattr(exc, "code", None) == 404):
            return None
        return PlatformUnsupportedError(
            f"the server answered 404 to submit_tool_outputs for chat {self.chat_id}: {NO_LOCAL_PLUGINS}",
            self.partial(),
        )

    def broken(self, exc: Exception) -> LocalPluginError | None:
        """The error to raise for an exception out of a stream: None for API errors (an envelope, with
        its code), which are raised as they are; else a StreamBrokenError saying where it broke."""
        import cozepy

        if self.paused_silently:  # releases before 0.16.2 raise on the closing event that follows
            return self.no_local_plugins()
        missing = self.missing_submit(exc) if self.rounds else None
        if missing is not None:  # releases that send the submit request when the stream is first read
            return missing
        if isinstance(exc, cozepy.CozeAPIError):
            return None
        text = str(exc).splitlines()[0] if str(exc) else ""
        return StreamBrokenError(
            f"the chat stream of chat {self.chat_id or '(not started)'} broke after {self.events} event(s) "
            f"(round {self.rounds}): {type(exc).__name__}: {text}"[:600],
            self.partial(),
        )

    def after_stream(self, max_rounds: int) -> LocalPluginResult | list[_Call]:
        """The chat's result, or the calls of the next round; raises when the flow cannot go on."""
        if self.terminal == COMPLETED:
            return self.result("completed")
        if self.terminal == FAILED:
            return self.result("failed")
        if self.terminal is None and self.paused_silently:
            raise self.no_local_plugins()
        if self.terminal != REQUIRES_ACTION:
            raise StreamEndedError(
                f"the chat stream of chat {self.chat_id or '(unknown)'} ended without "
                "conversation.chat.completed, .failed or .requires_action: the server closed it early",
                self.partial(),
            )
        if self.rounds >= max_rounds:
            raise RoundLimitExceeded(
                f"bot {self.bot_id} asked for round {self.rounds + 1} of tool calls, past the limit of "
                f"{max_rounds} (max_rounds); chat {self.chat_id} was canceled",
                self.partial(),
            )
        self.rounds += 1
        return _pending_calls(self.chat)

    def record(self, call: _Call, result: ToolResult) -> None:
        self.records.append(
            ToolCallRecord(
                round=self.rounds,
                call_id=call.id,
                name=call.name,
                arguments=call.arguments,
                output=result.output,
                ok=result.ok,
                error=result.error,
                duration_seconds=result.duration_seconds,
            )
        )


def _unsupported_call(call: _Call) -> ToolResult | None:
    """Calls that are not functions (`reply_message`, ...) are answered, never run."""
    if call.type in ("function", "") and call.name:
        return None
    info = ToolErrorInfo(
        code=UNSUPPORTED_CALL,
        message=f"tool call {call.id} of type {call.type!r} names no function this client can run",
        tool=call.name,
    )
    return ToolResult(tool=call.name, ok=False, output=info.as_output(), error=info, duration_seconds=0.0)


def _tool_outputs(pairs: Iterable[tuple[_Call, ToolResult]]) -> list[Any]:
    import cozepy

    return [cozepy.ToolOutput(tool_call_id=call.id, output=result.output) for call, result in pairs]


def _messages(message: str | Any | Sequence[Any]) -> list[Any]:
    """A text becomes one user question, built the way every release accepts; messages pass through."""
    import cozepy

    if isinstance(message, str):
        return [cozepy.Message(role="user", type="question", content=message, content_type="text")]
    if isinstance(message, Sequence):
        return list(message)
    return [message]


def _chat_options(
    bot_id: str,
    user_id: str,
    message: str | Any | Sequence[Any],
    conversation_id: str | None,
    custom_variables: dict[str, str] | None,
) -> dict[str, Any]:
    """Keyword arguments for `chat.stream`: only those given, since old releases lack some parameters."""
    options: dict[str, Any] = {"bot_id": bot_id, "user_id": user_id, "additional_messages": _messages(message)}
    if conversation_id is not None:
        options["conversation_id"] = conversation_id
    if custom_variables is not None:
        options["custom_variables"] = custom_variables
    return options


async def _maybe_await(value: Any) -> Any:
    """Async stream methods return a coroutine (of a stream) in some releases, an async generator in others."""
    return await value if inspect.isawaitable(value) else value


def _check_max_rounds(max_rounds: int) -> int:
    if max_rounds < 0:
        raise ValueError(f"max_rounds must be 0 or more, not {max_rounds}")
    return max_rounds


# --- the runners -------------------------------------------------------------------------------


class LocalPluginRunner:
    """Runs bot chats with a sync `cozepy.Coze` client, answering tool calls from `registry`.

    `tool_timeout` bounds each call that sets no timeout of its own (None: no bound); `max_rounds`
    bounds how many rounds of tool calls one chat may ask for.
    """

    def __init__(
        self,
        coze: Any,
        registry: ToolRegistry,
        *,
        user_id: str = "coze-harness",
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        self.coze = coze
        self.registry = registry
        self.user_id = user_id
        self.max_rounds = _check_max_rounds(max_rounds)
        self.tool_timeout = tool_timeout

    def run(
        self,
        bot_id: str,
        message: str | Any | Sequence[Any],
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        custom_variables: dict[str, str] | None = None,
    ) -> LocalPluginResult:
        """Chat with `bot_id` until the chat completes or fails; a failed chat is a result, not an error."""
        gap = sdk.tool_call_gap()
        if gap is not None:
            raise UnsupportedSDKError(f"cannot run local plugins: {gap}")
        progress = _Progress(bot_id)
        options = _chat_options(bot_id, user_id or self.user_id, message, conversation_id, custom_variables)
        stream = self.coze.chat.stream(**options)
        while True:
            progress.start_stream()
            try:
                for event in stream:
                    progress.feed(event)
            except Exception as exc:
                broken = progress.broken(exc)
                if broken is None:
                    raise
                raise broken from exc
            try:
                step = progress.after_stream(self.max_rounds)
            except RoundLimitExceeded:
                self._cancel(progress)
                raise
            if isinstance(step, LocalPluginResult):
                return step
            answered = [(call, self._run(call)) for call in step]
            for call, result in answered:
                progress.record(call, result)
            try:
                stream = self.coze.chat.submit_tool_outputs(
                    conversation_id=progress.conversation_id,
                    chat_id=progress.chat_id,
                    tool_outputs=_tool_outputs(answered),
                    stream=True,
                )
            except Exception as exc:
                missing = progress.missing_submit(exc)
                if missing is None:
                    raise
                raise missing from exc

    def _run(self, call: _Call) -> ToolResult:
        refused = _unsupported_call(call)
        if refused is not None:
            return refused
        return self.registry.invoke(call.name, call.arguments, timeout=self.tool_timeout)

    def _cancel(self, progress: _Progress) -> None:
        """Leave no chat waiting for outputs that will never come; a failure here must not hide the real one."""
        try:
            self.coze.chat.cancel(conversation_id=progress.conversation_id, chat_id=progress.chat_id)
        except Exception:
            _log.warning("could not cancel chat %s", progress.chat_id, exc_info=True)


class AsyncLocalPluginRunner:
    """`LocalPluginRunner` for a `cozepy.AsyncCoze` client; the calls of one round run concurrently."""

    def __init__(
        self,
        coze: Any,
        registry: ToolRegistry,
        *,
        user_id: str = "coze-harness",
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        self.coze = coze
        self.registry = registry
        self.user_id = user_id
        self.max_rounds = _check_max_rounds(max_rounds)
        self.tool_timeout = tool_timeout

    async def run(
        self,
        bot_id: str,
        message: str | Any | Sequence[Any],
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        custom_variables: dict[str, str] | None = None,
    ) -> LocalPluginResult:
        """Chat with `bot_id` until the chat completes or fails; a failed chat is a result, not an error."""
        gap = sdk.async_tool_call_gap()
        if gap is not None:
            raise UnsupportedSDKError(f"cannot run local plugins with the async client: {gap}")
        progress = _Progress(bot_id)
        options = _chat_options(bot_id, user_id or self.user_id, message, conversation_id, custom_variables)
        stream: AsyncIterator[Any] = await _maybe_await(self.coze.chat.stream(**options))
        while True:
            progress.start_stream()
            try:
                async for event in stream:
                    progress.feed(event)
            except Exception as exc:
                broken = progress.broken(exc)
                if broken is None:
                    raise
                raise broken from exc
            try:
                step = progress.after_stream(self.max_rounds)
            except RoundLimitExceeded:
                await self._cancel(progress)
                raise
            if isinstance(step, LocalPluginResult):
                return step
            results = await asyncio.gather(*(self._run(call) for call in step))
            answered = list(zip(step, results, strict=True))
            for call, result in answered:
                progress.record(call, result)
            try:
                stream = await _maybe_await(
                    self.coze.chat.submit_tool_outputs_stream(
                        conversation_id=progress.conversation_id,
                        chat_id=progress.chat_id,
                        tool_outputs=_tool_outputs(answered),
                    )
                )
            except Exception as exc:
                missing = progress.missing_submit(exc)
                if missing is None:
                    raise
                raise missing from exc

    async def _run(self, call: _Call) -> ToolResult:
        refused = _unsupported_call(call)
        if refused is not None:
            return refused
        return await self.registry.ainvoke(call.name, call.arguments, timeout=self.tool_timeout)

    async def _cancel(self, progress: _Progress) -> None:
        try:
            await self.coze.chat.cancel(conversation_id=progress.conversation_id, chat_id=progress.chat_id)
        except Exception:
            _log.warning("could not cancel chat %s", progress.chat_id, exc_info=True)
