"""What the installed `cozepy` offers, read from the package itself.

Tests and probes ask these questions instead of comparing version numbers: a release that lacks a
field or a method is then skipped (or reported) for the reason that matters, and a backport or a
patched fork is judged by what it is.
"""

from __future__ import annotations

import inspect
from functools import cache
from importlib import metadata
from typing import Any


@cache
def version() -> str:
    return metadata.version("cozepy")


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
