"""What the installed `cozepy` offers, read from the package itself.

Tests and probes ask these questions instead of comparing version numbers: a release that lacks a
field or a method is then skipped (or reported) for the reason that matters, and a backport or a
patched fork is judged by what it is.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache
from importlib import metadata
from typing import Any


@cache
def version() -> str:
    return metadata.version("cozepy")


def enum_value(member: Any) -> str:
    """An enum member's value, or a plain string, as a string: releases differ in which enums they use
    (strict `str, Enum` before 0.17, `DynamicStrEnum` after), so compare values, never members."""
    return str(getattr(member, "value", member) or "")


def event_name(event: Any) -> str:
    """An SDK stream event's name (`conversation.chat.completed`, `Message`, ...)."""
    return enum_value(getattr(event, "event", None))


def _chat_module() -> Any:
    import cozepy.chat

    return cozepy.chat


def _model_fields(model: Any) -> set[str]:
    return set(getattr(model, "model_fields", {}))


def chat_fields() -> set[str]:
    """The fields of `cozepy.Chat` (0.2.0 has no `last_error`, `required_action` or `usage`)."""
    return _model_fields(_chat_module().Chat)


def chat_has_required_action() -> bool:
    """Can a client read tool calls from a chat event? (`Chat.required_action`, 0.6.0+)."""
    return "required_action" in _model_fields(_chat_module().Chat)


def tool_call_gap() -> str | None:
    """Why this cozepy cannot read the tool calls the platform sends, or None when it can.

    Two gaps are known: no `Chat.required_action` before 0.6.0, and 0.6.x naming the function's
    field `argument` while the platform sends `arguments`, so its requires_action events fail to parse.
    """
    if not chat_has_required_action():
        return f"cozepy {version()} has no Chat.required_action: a client cannot read tool calls"
    function_fields = _model_fields(_chat_module().ChatToolCallFunction)
    if "arguments" not in function_fields:
        return (
            f"cozepy {version()}'s ChatToolCallFunction has fields {sorted(function_fields)}, not 'arguments' "
            "as the platform sends: requires_action events fail to parse"
        )
    return None


def chat_status_values() -> set[str]:
    return {member.value for member in _chat_module().ChatStatus}


def has_create_and_poll() -> bool:
    import cozepy

    return hasattr(cozepy.Coze(auth=cozepy.TokenAuth("x"), base_url="http://127.0.0.1:9").chat, "create_and_poll")


def has_async_client() -> bool:
    import cozepy

    return hasattr(cozepy, "AsyncCoze")


def has_async_submit_stream() -> bool:
    import cozepy

    if not has_async_client():
        return False
    chat = cozepy.AsyncCoze(auth=cozepy.TokenAuth("x"), base_url="http://127.0.0.1:9").chat
    return hasattr(chat, "submit_tool_outputs_stream")


def method_parameters(owner: Any, name: str) -> list[str]:
    method = getattr(owner, name, None)
    if method is None:
        return []
    return list(inspect.signature(method).parameters)


def async_tool_call_gap() -> str | None:
    """`tool_call_gap` for the async client, which also needs `AsyncCoze` (0.3.0+) and an async
    `submit_tool_outputs_stream` (0.4.0+)."""
    gap = tool_call_gap()
    if gap is not None:
        return gap
    if not has_async_client():
        return f"cozepy {version()} has no AsyncCoze"
    if not has_async_submit_stream():
        return f"cozepy {version()}'s async chat client has no submit_tool_outputs_stream"
    return None


# --- workflows ----------------------------------------------------------------------------------


def _workflow_runs_module() -> Any:
    import cozepy.workflows.runs

    return cozepy.workflows.runs


def _sync_workflow_runs() -> Any:
    import cozepy

    return cozepy.Coze(auth=cozepy.TokenAuth("x"), base_url="http://127.0.0.1:9").workflows.runs


def workflow_run_has_is_async() -> bool:
    """Can `workflows.runs.create` start an async run (`is_async`, 0.7.0+)?"""
    return "is_async" in method_parameters(_sync_workflow_runs(), "create")


def has_run_histories() -> bool:
    """Can a client read an async run's result (`workflows.runs.run_histories.retrieve`, 0.7.0+)?"""
    return hasattr(_sync_workflow_runs(), "run_histories")


def run_history_gap() -> str | None:
    """Why this cozepy cannot read a run history as the platform sends it, or None when it can.

    The spec, its docs and a recorded history send `error_code` as a string (`""` on success); 0.7.0 to
    0.13.1 type it `int` with no coercion, so every history they read fails to parse."""
    if not has_run_histories():
        return f"cozepy {version()} has no run_histories.retrieve"
    import pydantic
    from cozepy.workflows.runs import run_histories

    try:
        run_histories.WorkflowRunHistory.model_validate({"error_code": ""})
    except pydantic.ValidationError as exc:
        if any(error["loc"][:1] == ("error_code",) for error in exc.errors()):
            return f"cozepy {version()} types the run history's error_code as an int; the platform sends a string"
    return None


def has_workflow_chat() -> bool:
    """Can a client run a chatflow (`workflows.chat.stream`, 0.9.0+)?"""
    import cozepy

    return hasattr(cozepy.Coze(auth=cozepy.TokenAuth("x"), base_url="http://127.0.0.1:9").workflows, "chat")


def has_async_workflow_resume() -> bool:
    """Does the async client stream and resume workflows (`AsyncCoze.workflows.runs.resume`)?"""
    import cozepy

    if not has_async_client():
        return False
    auth = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)("x")
    runs = cozepy.AsyncCoze(auth=auth, base_url="http://127.0.0.1:9").workflows.runs
    return hasattr(runs, "stream") and hasattr(runs, "resume")


def workflow_event_types() -> set[str]:
    return {member.value for member in _workflow_runs_module().WorkflowEventType}


def workflow_tolerates_unknown_events() -> bool:
    """Does a workflow stream deliver an unknown event (such as `PING`) as UNKNOWN instead of raising
    `ValueError` (`WorkflowEventType.UNKNOWN`, 0.16.2+)?"""
    return "unknown" in workflow_event_types()


def workflow_message_has_usage() -> bool:
    """Does a workflow `Message` event expose `usage` (0.20.0+)?"""
    return "usage" in _model_fields(_workflow_runs_module().WorkflowEventMessage)


def workflow_run_result_fields() -> set[str]:
    return _model_fields(_workflow_runs_module().WorkflowRunResult)


def stream_error_envelopes_raise() -> bool:
    """Does a JSON error envelope answering a stream call raise `CozeAPIError` (0.7.0+)?

    Up to 0.5 the JSON body goes to the SSE parser, which fails on its first line; 0.6 dispatches on
    the content type but reads the JSON of an unread streaming response (`httpx.ResponseNotRead`).
    Read from the request module: the releases that work dispatch on `event-stream` and `read()` first.
    """
    import cozepy.request

    source = inspect.getsource(cozepy.request)
    return "event-stream" in source and "response.read()" in source


def async_stream_error_envelopes_raise() -> bool:
    """The same for the async client, which lagged: it reads the unread body (`aread()`) only from 0.17.0;
    before, a JSON error answering an async stream call raises `httpx.ResponseNotRead`."""
    import cozepy.request

    source = inspect.getsource(cozepy.request)
    return "event-stream" in source and "response.aread()" in source


def workflow_resume_sends_event_id() -> bool:
    """Does `workflows.runs.resume` send the interrupt's id as `event_id`?

    Some releases (0.12.0 among them) send it as `id`, which the platform does not read, so resume
    cannot work with them (coze-py#196, fixed by coze-py#213). Read from the method's source.
    """
    return '"event_id"' in inspect.getsource(type(_sync_workflow_runs()).resume)


# --- websocket chat ---------------------------------------------------------------------------


def _websocket_chat_module() -> Any | None:
    try:
        return importlib.import_module("cozepy.websockets.chat")
    except ImportError:
        return None


def websocket_chat_gap() -> str | None:
    """Why this cozepy cannot run the local-plugin loop over websocket chat, or None when it can.

    The loop needs the client (`coze.websockets.chat`), the server's requires_action event and the
    client's submit_tool_outputs event; releases before 0.10.0 have no websockets at all.
    """
    module = _websocket_chat_module()
    if module is None:
        return f"cozepy {version()} has no cozepy.websockets.chat: no websocket chat client"
    missing = [
        name
        for name in ("WebsocketsChatClient", "ConversationChatSubmitToolOutputsEvent", "ConversationMessageCreateEvent")
        if not hasattr(module, name)
    ]
    if not missing and not hasattr(module.WebsocketsChatClient, "conversation_chat_submit_tool_outputs"):
        missing.append("WebsocketsChatClient.conversation_chat_submit_tool_outputs")
    if missing:
        return f"cozepy {version()}'s websocket chat lacks {', '.join(missing)}"
    return tool_call_gap()


def websocket_chat_is_audio_only() -> bool:
    """True for releases whose websocket chat can answer tool calls but start a chat only with audio.

    0.10 to 0.13 have requires_action and submit_tool_outputs on the socket but no
    `conversation.message.create`: a chat begins with `input_audio_buffer.*`, which the simulator
    does not model, so their loop can be neither shown working nor shown broken here.
    """
    module = _websocket_chat_module()
    client = getattr(module, "WebsocketsChatClient", None)
    return (
        client is not None
        and hasattr(client, "conversation_chat_submit_tool_outputs")
        and not hasattr(module, "ConversationMessageCreateEvent")
        and "conversation.chat.requires_action" in websocket_event_types()
    )


def websocket_event_types() -> set[str]:
    """The event names the installed websocket client knows (empty before websockets existed)."""
    try:
        ws = importlib.import_module("cozepy.websockets.ws")
    except ImportError:
        return set()
    return {member.value for member in ws.WebsocketsEventType}


# --- streaming ----------------------------------------------------------------------------------


def sync_stream_is_incremental() -> bool:
    """Does the sync client hand over a stream's events as they arrive (0.6.0+)?

    Before 0.6 the sync client sends every request with `stream=False`: httpx reads the whole body
    before the first event is parsed, so a stalled stream blocks the call itself and a caller cannot
    stop reading early. Read from the request module's source.
    """
    import cozepy.request

    return "sync_client.send(request.as_httpx, stream=False)" not in inspect.getsource(cozepy.request)
