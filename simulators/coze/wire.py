"""The JSON shape of every object the simulator sends (Chat, Message, run history), in one place.

Records in the store hold state; this module turns them into what a client reads, in the platform
profile's spellings and with keys in the platform's order (the golden wire tests compare bytes).
Nothing else serialises these objects, so a field changes here or nowhere.
"""

from __future__ import annotations

from typing import Any

from .profiles import Profile
from .store import CONNECTOR_ID_API, ChatflowChat, ChatRecord, ChatStatus, ExecutionRecord, PendingCall


def _required_action(calls: list[PendingCall]) -> dict[str, Any]:
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ]
        },
    }


def _chat_object(
    profile: Profile,
    *,
    chat_id: str,
    conversation_id: str,
    bot_id: str | None,
    created_at: int,
    completed_at: int | None,
    failed_at: int | None,
    last_error: tuple[int, str] | None,
    status: ChatStatus,
    required_action: dict[str, Any] | None,
    usage: dict[str, int],
    section_id: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": chat_id, "conversation_id": conversation_id}
    if bot_id is not None:
        body["bot_id"] = bot_id
    body["created_at"] = created_at
    if completed_at is not None:
        body["completed_at"] = completed_at
    if failed_at is not None:
        body["failed_at"] = failed_at
    if last_error is not None:
        body["last_error"] = {"code": last_error[0], "msg": last_error[1]}
    body["status"] = profile.status(status)
    if required_action is not None:
        body["required_action"] = required_action
    body["usage"] = usage
    body["section_id"] = section_id
    return body


def chat(record: ChatRecord, profile: Profile) -> dict[str, Any]:
    """A bot chat's Chat object (in events, retrieve, cancel and non-stream answers)."""
    rules = profile.chat
    waiting = record.status == "requires_action" and rules.required_action_field
    return _chat_object(
        profile,
        chat_id=record.id,
        conversation_id=record.conversation_id,
        bot_id=record.bot_id,
        created_at=record.created_at,
        completed_at=record.completed_at,
        failed_at=record.failed_at,
        last_error=record.last_error if rules.last_error_field else None,
        status=record.status,
        required_action=_required_action(record.pending) if waiting else None,
        usage=record.usage.wire(),
        section_id=record.section_id,
    )


def chatflow_chat(record: ChatflowChat, profile: Profile, status: ChatStatus, usage: dict[str, int]) -> dict[str, Any]:
    """A chatflow's Chat object: `bot_id` only when the request named one (the platform's published
    capture has none, and cozepy accepts that from 0.9, the first release with chatflows), `last_error`
    always, never `required_action` (a chatflow takes no tool outputs)."""
    return _chat_object(
        profile,
        chat_id=record.id,
        conversation_id=record.conversation_id,
        bot_id=record.bot_id,
        created_at=record.created_at,
        completed_at=record.completed_at,
        failed_at=record.failed_at,
        last_error=record.last_error,
        status=status,
        required_action=None,
        usage=usage,
        section_id=record.section_id,
    )


def chatflow_paused(record: ChatflowChat, execute_id: str) -> dict[str, Any]:
    """The Chat of a chatflow paused at a question or input node: no `required_action` object."""
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "section_id": record.section_id,
        "status": "requires_action",
        "execute_id": execute_id,
    }


def message(
    *,
    message_id: str,
    conversation_id: str,
    bot_id: str | None,
    chat_id: str,
    section_id: str,
    kind: str,
    content: str,
    now: int | None,
) -> dict[str, Any]:
    """A Message the assistant sends (a delta has no timestamps: `now` is None)."""
    body: dict[str, Any] = {"id": message_id, "conversation_id": conversation_id}
    if bot_id is not None:
        body["bot_id"] = bot_id
    body.update(role="assistant", type=kind, content=content, content_type="text", chat_id=chat_id)
    body["section_id"] = section_id
    if now is not None:
        body["created_at"] = now
        body["updated_at"] = now
    return body


def run_history(execution: ExecutionRecord) -> dict[str, Any]:
    """The run history entry (`WorkflowRunHistory`): every field cozepy 0.7 to 0.20 requires.

    A paused execution reports `Running`: the enum has no other in-between state.
    """
    return {
        "execute_id": execution.id,
        "execute_status": "Running" if execution.status == "Interrupted" else execution.status,
        "bot_id": execution.bot_id,
        "connector_id": CONNECTOR_ID_API,
        "connector_uid": execution.connector_uid,
        "run_mode": execution.run_mode,
        "logid": execution.logid,
        "create_time": execution.create_time,
        "update_time": execution.update_time,
        "output": execution.output,
        "error_code": execution.error[0],
        "error_message": execution.error[1],
        "debug_url": execution.debug_url,
        "is_output_trimmed": False,
        "usage": execution.usage.wire(),
    }
