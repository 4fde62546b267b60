"""The cozepy driver: the installed cozepy, run in this process, behind the same protocol as @coze/api's.

The cozepy report comes from it (`coze-harness report`). Each flow returns an `Observation` in the protocol's
terms, so the judges read a cozepy run exactly as they read a JavaScript one. Method names are the protocol's
(`chat.submitToolOutputs`, the spelling the runner of @coze/api reports); the cozepy name each stands for is
in `METHODS`.

Every wait is bounded: each HTTP read by the flow's time limit, each loop by `max_rounds` or a poll
deadline. `websocket-chat` runs through the harness's websocket local-plugin runner, over wss:// to the
simulator's TLS listener, trusting the authority the driver is given.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from .. import sdk
from ..clients import coze_client_and_http
from ..recorder import default_transport
from ..sdk import enum_value, event_name
from ..tools import ToolResult
from ..trust import trusting
from . import (
    TEXT_WEBSOCKET_CHAT,
    FlowRequest,
    MethodKind,
    Observation,
    SdkCall,
    SdkError,
    SdkEvent,
    ToolAnswerer,
    ToolCallSeen,
)

SDK_NAME = "cozepy"
POLL_INTERVAL_SECONDS = 0.05

METHODS: dict[str, str] = {
    "chat.stream": "chat.stream",
    "chat.create": "chat.create",
    "chat.retrieve": "chat.retrieve",
    "chat.submitToolOutputs": "chat.submit_tool_outputs",
    "chat.messages.list": "chat.messages.list",
    "workflows.runs.create": "workflows.runs.create",
    "workflows.runs.stream": "workflows.runs.stream",
    "workflows.runs.resume": "workflows.runs.resume",
    "workflows.runs.history": "workflows.runs.run_histories.retrieve",
    "workflows.chat.stream": "workflows.chat.stream",
    "websockets.chat.create": "websockets.chat.create",
}
"""Protocol name -> cozepy's dotted name on a `Coze` client."""


def _lookup(root: Any, dotted: str) -> Any:
    """The attribute at `dotted`, or None (cozepy builds some clients on first access, and its websocket
    client refuses an http:// base URL there: not a method this client can use)."""
    value = root
    for part in dotted.split("."):
        try:
            value = getattr(value, part, None)
        except Exception:
            return None
        if value is None:
            return None
    return value


def surface(coze: Any) -> dict[str, MethodKind]:
    """The protocol's methods this cozepy offers (a cozepy method returns a stream object: a `function`), and
    every public method of `coze.workflows.runs`, under `workflows.runs.NAME`, for the judges to look for a
    way to hand back a tool's output."""
    methods: dict[str, MethodKind] = {
        name: ("function" if callable(_lookup(coze, dotted)) else "absent") for name, dotted in METHODS.items()
    }
    runs = _lookup(coze, "workflows.runs")
    for name in dir(runs) if runs is not None else []:
        if not name.startswith("_") and callable(getattr(runs, name, None)):
            methods.setdefault(f"workflows.runs.{name}", "function")
    return methods


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return json.loads(json.dumps(dump(mode="json"), default=str))
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def _error(exc: BaseException) -> SdkError:
    code = getattr(exc, "code", None)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return SdkError(
        type=type(exc).__name__,
        message=str(exc)[:1000],  # whole: a validation error says which field and why on the lines after the first
        code=code if isinstance(code, int) else None,
        status=status if isinstance(status, int) else (404 if code == 404 else None),
    )


class _Record:
    """One flow's observation as it is built."""

    def __init__(self, request: FlowRequest, version: str, methods: dict[str, MethodKind]) -> None:
        self.observation = Observation(sdk=SDK_NAME, sdk_version=version, flow=request.flow, methods=methods)
        self.started = time.monotonic()
        self.last_event: float | None = None
        self.closing: list[Any] = []  # websocket runners whose connection is still closing (CozepyDriver.settle)

    def call(self, method: str) -> int:
        self.observation.calls.append(SdkCall(method=method, returned="pending"))
        return len(self.observation.calls) - 1

    def settle(self, index: int, returned: str, value: Any = None, began: float | None = None) -> None:
        call = self.observation.calls[index]
        call.returned = returned  # type: ignore[assignment]
        call.value = value
        if began is not None:
            call.seconds = time.monotonic() - began

    def event(self, index: int, name: str, data: Any) -> None:
        self.observation.events.append(SdkEvent(name=name, data=data, call=index))
        self.observation.calls[index].events += 1
        self.last_event = time.monotonic()

    def drain(self, method: str, function: Callable[..., Iterable[Any]], **arguments: Any) -> list[Any]:
        """Call a streaming method and read its stream to the end, recording each event."""
        index, began = self.call(method), time.monotonic()
        events: list[Any] = []
        try:
            for item in function(**arguments):
                self.event(index, event_name(item), _jsonable(_payload(item)))
                events.append(item)
        except BaseException:
            self.settle(index, "raised", began=began)
            raise
        self.settle(index, "stream", began=began)
        return events

    def value(self, method: str, function: Callable[..., Any], **arguments: Any) -> Any:
        index, began = self.call(method), time.monotonic()
        try:
            returned = function(**arguments)
        except BaseException:
            self.settle(index, "raised", began=began)
            raise
        self.settle(index, "value", _jsonable(returned), began)
        return returned

    def done(self) -> Observation:
        now = time.monotonic()
        self.observation.seconds = now - self.started
        if self.last_event is not None:
            self.observation.seconds_after_last_event = now - self.last_event
        for call in self.observation.calls:
            if call.returned == "pending":
                call.returned = "raised"
        return self.observation


def _payload(event: Any) -> Any:
    """What an SDK event carries: its chat, message, interrupt or error, whichever it has."""
    for name in ("chat", "message", "interrupt", "error"):
        value = getattr(event, name, None)
        if value is not None:
            return value
    return None


def _message(text: str) -> Any:
    import cozepy

    return cozepy.Message(role="user", type="question", content=text, content_type="text")


def _tool_calls(chat: Any) -> list[Any]:
    action = getattr(chat, "required_action", None)
    outputs = getattr(action, "submit_tool_outputs", None)
    return list(getattr(outputs, "tool_calls", None) or [])


def _answer(record: _Record, calls: list[Any], tools: ToolAnswerer | None, request: FlowRequest) -> list[Any]:
    """One round: every call answered by local code (or the request's canned outputs), as cozepy ToolOutputs.
    A pause whose tool calls the SDK did not hand over ends the flow: there is nothing to answer."""
    import cozepy

    if not calls:
        raise LookupError("the chat paused for tool calls, and the SDK handed over none (no required_action read)")

    seen, outputs = [], []
    for call in calls:
        function = getattr(call, "function", None)
        name = str(getattr(function, "name", None))
        arguments = getattr(function, "arguments", None)
        found = ToolCallSeen(id=str(call.id), name=name, arguments=arguments)
        seen.append(found)
        if tools is not None:
            try:
                output = tools(found)
            except Exception as exc:  # local code failing is an answer too
                output = f"error: {type(exc).__name__}: {exc}"
        else:
            output = request.tool_outputs.get(name, f"no local tool named {name}")
        outputs.append(cozepy.ToolOutput(tool_call_id=str(call.id), output=output))
    record.observation.tool_rounds.append(seen)
    return outputs


def _chat_answer(events: list[Any]) -> str:
    completed = [
        str(e.message.content)
        for e in events
        if event_name(e) == "conversation.message.completed" and enum_value(getattr(e.message, "type", "")) == "answer"
    ]
    if completed:
        return "".join(completed)
    return "".join(
        str(e.message.content)
        for e in events
        if event_name(e) == "conversation.message.delta" and enum_value(getattr(e.message, "type", "")) == "answer"
    )


def _submit_streaming(record: _Record, coze: Any, chat: Any, outputs: list[Any]) -> list[Any]:
    return record.drain(
        "chat.submitToolOutputs",
        coze.chat.submit_tool_outputs,
        conversation_id=chat.conversation_id,
        chat_id=chat.id,
        tool_outputs=outputs,
        stream=True,
    )


def _last_chat_status(record: _Record) -> Any:
    """The status of the last Chat an event carried."""
    chats = [e for e in record.observation.events if e.name.startswith("conversation.chat.")]
    return chats[-1].data.get("status") if chats and isinstance(chats[-1].data, dict) else None


def _chat_stream(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    events = record.drain(
        "chat.stream",
        coze.chat.stream,
        bot_id=request.bot_id,
        user_id=request.user_id,
        additional_messages=[_message(request.message)],
    )
    answer = _chat_answer(events)
    for _ in range(request.max_rounds):
        action = next((e for e in events if event_name(e) == "conversation.chat.requires_action"), None)
        if action is None:
            break
        chat = action.chat
        outputs = _answer(record, _tool_calls(chat), tools, request)
        if not hasattr(coze.chat, "submit_tool_outputs"):
            break
        events = _submit_streaming(record, coze, chat, outputs)
        answer = _chat_answer(events) or answer
    record.observation.result = {"status": _last_chat_status(record), "answer": answer}


def _chat_poll(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    deadline = time.monotonic() + request.timeout_seconds

    def settled(chat: Any) -> Any:
        polls = 0
        while enum_value(chat.status) in ("created", "in_progress"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the chat was still in progress after {request.timeout_seconds:g} s")
            if polls:  # the first retrieve goes at once: the simulator has usually settled the step by then
                time.sleep(POLL_INTERVAL_SECONDS)
            polls += 1
            chat = record.value(
                "chat.retrieve", coze.chat.retrieve, conversation_id=chat.conversation_id, chat_id=chat.id
            )
        return chat

    chat = record.value(
        "chat.create",
        coze.chat.create,
        bot_id=request.bot_id,
        user_id=request.user_id,
        additional_messages=[_message(request.message)],
    )
    chat = settled(chat)
    for _ in range(request.max_rounds):
        if enum_value(chat.status) != "requires_action" or not hasattr(coze.chat, "submit_tool_outputs"):
            break
        outputs = _answer(record, _tool_calls(chat), tools, request)
        paused = chat
        chat = record.value(
            "chat.submitToolOutputs",
            coze.chat.submit_tool_outputs,
            conversation_id=paused.conversation_id,
            chat_id=paused.id,
            tool_outputs=outputs,
            stream=False,
        )
        chat = settled(chat)
    record.observation.result = {"status": enum_value(chat.status), "answer": ""}
    messages = record.value(
        "chat.messages.list",
        coze.chat.messages.list,
        conversation_id=chat.conversation_id,
        chat_id=chat.id,
    )
    answer = "".join(str(m.content) for m in list(messages) if enum_value(m.type) == "answer")
    record.observation.result = {"status": enum_value(chat.status), "answer": answer}


def _chat_submit(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    import cozepy

    if not hasattr(coze.chat, "submit_tool_outputs"):
        record.observation.result = {"absent": "chat.submitToolOutputs"}
        return
    chat = record.value(
        "chat.submitToolOutputs",
        coze.chat.submit_tool_outputs,
        conversation_id=request.conversation_id,
        chat_id=request.chat_id,
        tool_outputs=[cozepy.ToolOutput(tool_call_id="0", output="")],
        stream=False,
    )
    record.observation.result = {"status": enum_value(getattr(chat, "status", None))}


def _workflow_answer(events: list[Any]) -> str:
    return "".join(str(e.message.content) for e in events if event_name(e) == "Message" and e.message is not None)


def _workflow_run(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    result = record.value(
        "workflows.runs.create",
        coze.workflows.runs.create,
        workflow_id=request.workflow_id,
        parameters=request.parameters,
    )
    record.observation.result = {"data": _jsonable(getattr(result, "data", result))}


HISTORY_POLLS = 100
"""Reads of an async run's history before the flow stops waiting for it to leave Running (20 ms apart)."""


def _workflow_history(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    """An async run read back from its run history (polled, bounded): whether this release can read the history
    the platform sends (error_code "" on success, as recorded), not only whether it asks. cozepy has
    `run_histories` from 0.7.0, and `is_async` on runs.create from then too."""
    histories = _lookup(coze, "workflows.runs.run_histories.retrieve")
    if histories is None or not sdk.workflow_run_has_is_async():
        record.observation.result = {"absent": "workflows.runs.history"}
        return
    started = record.value(
        "workflows.runs.create",
        coze.workflows.runs.create,
        workflow_id=request.workflow_id,
        parameters=request.parameters,
        is_async=True,
    )
    history: Any = None
    for poll in range(HISTORY_POLLS):
        if poll:
            time.sleep(0.02)
        history = record.value(
            "workflows.runs.history", histories, workflow_id=request.workflow_id, execute_id=started.execute_id
        )
        if enum_value(history.execute_status) != "Running":
            break
    record.observation.result = {
        "execute_status": enum_value(history.execute_status),
        "error_code": _jsonable(history.error_code),
        "output": _jsonable(history.output),
    }


def _workflow_stream(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    events = record.drain(
        "workflows.runs.stream",
        coze.workflows.runs.stream,
        workflow_id=request.workflow_id,
        parameters=request.parameters,
    )
    record.observation.result = {"answer": _workflow_answer(events)}


def _workflow_resume(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    events = record.drain(
        "workflows.runs.stream",
        coze.workflows.runs.stream,
        workflow_id=request.workflow_id,
        parameters=request.parameters,
    )
    answer = _workflow_answer(events)
    for resume_data in request.resume_data:
        interrupt = next((e for e in events if event_name(e) == "Interrupt"), None)
        data = getattr(getattr(interrupt, "interrupt", None), "interrupt_data", None)
        if data is None:
            break
        events = record.drain(
            "workflows.runs.resume",
            coze.workflows.runs.resume,
            workflow_id=request.workflow_id,
            event_id=data.event_id,
            resume_data=resume_data,
            interrupt_type=data.type,
        )
        answer = _workflow_answer(events)
    record.observation.result = {"answer": answer}


def _chatflow(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    client = getattr(coze.workflows, "chat", None)
    if client is None:
        record.observation.result = {"answer": "", "absent": "workflows.chat.stream"}
        return

    def turn(text: str, conversation_id: str | None = None) -> list[Any]:
        extra = {"conversation_id": conversation_id} if conversation_id else {}
        return record.drain(
            "workflows.chat.stream",
            client.stream,
            workflow_id=request.workflow_id,
            additional_messages=[_message(text)],
            parameters=request.parameters,
            **extra,
        )

    events = turn(request.message)
    answer = _chat_answer(events)
    answers = list(request.resume_data)
    for _ in range(request.max_rounds):
        action = next((e for e in events if event_name(e) == "conversation.chat.requires_action"), None)
        if action is None:
            break
        chat = action.chat
        calls = _tool_calls(chat)
        if calls:
            outputs = _answer(record, calls, tools, request)
            events = _submit_streaming(record, coze, chat, outputs)
        elif answers:
            events = turn(answers.pop(0), str(chat.conversation_id))
        else:
            break
        answer = _chat_answer(events) or answer
    record.observation.result = {"status": _last_chat_status(record), "answer": answer}


class _Answers:
    """The runner's tool registry, answered by the driver's local code (`ToolAnswerer`) or canned outputs."""

    def __init__(self, tools: ToolAnswerer | None, request: FlowRequest) -> None:
        self.tools, self.request = tools, request

    def invoke(self, name: str, arguments: Any, timeout: float | None = None) -> ToolResult:
        call = ToolCallSeen(id="", name=name, arguments=arguments)
        try:
            output = (
                self.tools(call)
                if self.tools is not None
                else self.request.tool_outputs.get(name, f"no local tool named {name}")
            )
        except Exception as exc:  # local code failing is an answer too
            output = f"error: {type(exc).__name__}: {exc}"
        return ToolResult(tool=name, ok=True, output=output, duration_seconds=0.0)


def _websocket_chat(coze: Any, request: FlowRequest, record: _Record, tools: ToolAnswerer | None) -> None:
    """websockets.chat over the simulator's TLS listener, through the harness's websocket local-plugin runner
    (which answers conversation.chat.requires_action on the socket); every event the SDK dispatched is kept."""
    from ..local_plugin import LocalPluginError
    from ..local_plugin_ws import WebsocketLocalPluginRunner

    if sdk.websocket_chat_gap() is not None and sdk.websocket_chat_is_audio_only():
        record.observation.fields[TEXT_WEBSOCKET_CHAT] = False  # a chat starts only with audio here
        record.observation.result = {"answer": "", "absent": "a text message on websockets.chat"}
        return
    if _lookup(coze, "websockets.chat.create") is None:
        record.observation.result = {"answer": "", "absent": "websockets.chat.create"}
        return
    index, began = record.call("websockets.chat.create"), time.monotonic()
    runner = WebsocketLocalPluginRunner(
        coze,
        _Answers(tools, request),  # duck-typed: the runner only invokes its tools
        max_rounds=request.max_rounds,
        chat_timeout=request.timeout_seconds,
        observer=lambda name, event: record.event(index, name, _jsonable(getattr(event, "data", None))),
        close_later=True,  # cozepy's close() takes up to half a second: the driver's settle() waits for it
    )
    record.closing.append(runner)
    try:
        result = runner.run(request.bot_id or "", request.message, user_id=request.user_id)
    except LocalPluginError as exc:
        record.settle(index, "raised", began=began)
        if exc.result is not None:
            _rounds(record, exc.result.tool_calls)
        raise
    record.settle(index, "stream", began=began)
    _rounds(record, result.tool_calls)
    record.observation.result = {"status": result.status, "answer": result.answer}


def _rounds(record: _Record, calls: list[Any]) -> None:
    rounds: dict[int, list[ToolCallSeen]] = {}
    for call in calls:
        rounds.setdefault(call.round, []).append(
            ToolCallSeen(id=call.call_id, name=call.name, arguments=call.arguments)
        )
    record.observation.tool_rounds = [rounds[number] for number in sorted(rounds)]


_Flow = Callable[[Any, FlowRequest, _Record, "ToolAnswerer | None"], None]
_FLOWS: dict[str, _Flow] = {
    "chat-stream": _chat_stream,
    "chat-poll": _chat_poll,
    "chat-submit": _chat_submit,
    "workflow-run": _workflow_run,
    "workflow-history": _workflow_history,
    "workflow-stream": _workflow_stream,
    "workflow-bridge": _workflow_stream,
    "workflow-resume": _workflow_resume,
    "chatflow": _chatflow,
    "websocket-chat": _websocket_chat,
}


class CozepyDriver:
    """Runs flows with the cozepy installed in this process. Use as a context manager (nothing to start or stop:
    each flow makes its own client and closes it)."""

    sdk = SDK_NAME
    runtime = ""

    def __init__(self, ca_file: Path | None = None) -> None:
        """`ca_file`: the authority cozepy trusts for a websocket chat over wss:// (the simulator's own)."""
        self.ca_file = ca_file
        self._closing: list[Any] = []

    @property
    def sdk_version(self) -> str:
        return sdk.version()

    def __enter__(self) -> CozepyDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def settle(self) -> list[str]:
        """Wait for the websocket connections still closing (they close side by side, so they share one
        bounded wait); the closes that hung, and the ones the runner had to rescue, described."""
        from ..local_plugin_ws import CLOSE_TIMEOUT

        runners: list[Any] = self._closing
        self._closing = []
        deadline = time.monotonic() + CLOSE_TIMEOUT
        issues: list[str] = []
        for runner in runners:
            issues += [f"{type(stuck).__name__}: {stuck}" for stuck in runner.settle(deadline)]
            issues += runner.close_issues
        return issues

    def close(self) -> None:
        self.settle()

    def run(self, request: FlowRequest, tools: ToolAnswerer | None = None) -> Observation:
        timeout = httpx.Timeout(request.timeout_seconds)
        base_url = request.base_url
        if request.flow == "websocket-chat" and request.ws_base_url:  # cozepy derives wss:// from https://
            base_url = "https://" + request.ws_base_url.removeprefix("wss://")
        # httpx's own transport, with the process's one default SSL context: making one per flow loads the
        # certificate bundle each time (about 50 ms; a report runs some 30 flows, nearly all over plain HTTP)
        coze, http = coze_client_and_http(default_transport(), base_url=base_url, token=request.token, timeout=timeout)
        record = _Record(request, self.sdk_version, surface(coze))
        record.observation.fields = {"Chat.required_action": sdk.chat_has_required_action()}
        flow = _FLOWS.get(request.flow)
        try:
            if flow is None:
                raise NotImplementedError(f"the cozepy driver has no {request.flow} flow")
            with trusting(self.ca_file) if self.ca_file is not None else contextlib.nullcontext():
                flow(coze, request, record, tools)
        except (httpx.TimeoutException, TimeoutError) as exc:
            record.observation.timed_out = True
            record.observation.errors.append(_error(exc))
        except Exception as exc:  # what the SDK raised is the observation, not a failure of the driver
            record.observation.errors.append(_error(exc))
        finally:
            http.close()
            self._closing += record.closing
        return record.done()


__all__ = ["METHODS", "CozepyDriver", "surface"]
