"""Conversations, chats and their messages, and workflow executions, behind one lock.

Every transition is made whole under the lock and the lock is never held while bytes go out, so a
client may submit tool outputs while the first stream is still open (both official examples do),
and two racing submits for one round yield one continuation and one error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from .profiles import Profile

ChatStatus = Literal["created", "in_progress", "completed", "failed", "requires_action", "canceled"]
ExecutionStatus = Literal["Running", "Interrupted", "Success", "Fail"]


@dataclass
class PendingCall:
    id: str
    name: str
    key: str
    arguments: str


@dataclass
class Usage:
    input_count: int = 0
    output_count: int = 0

    def wire(self) -> dict[str, int]:
        return {
            "token_count": self.input_count + self.output_count,
            "output_count": self.output_count,
            "input_count": self.input_count,
        }


@dataclass(frozen=True)
class BoundInterrupt:
    """A chatflow paused on this conversation (studio): the next user message resumes it."""

    workflow_id: str
    event_id: str
    type: int
    node_index: int


@dataclass
class Conversation:
    """`bot_id` / `workflow_id`: what created it, which decides the scoped tokens that may use it."""

    id: str
    section_id: str
    created_at: int
    bot_id: str | None = None
    workflow_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    paused_chatflow: BoundInterrupt | None = None


@dataclass
class ChatRecord:
    """One chat: the bot's progress through its scenario and everything it said."""

    id: str
    conversation_id: str
    section_id: str
    bot_id: str
    created_at: int
    user_message: str
    variables: dict[str, Any]
    parameters: dict[str, Any]
    status: ChatStatus = "created"
    completed_at: int | None = None
    failed_at: int | None = None
    last_error: tuple[int, str] = (0, "")
    usage: Usage = field(default_factory=Usage)
    next_round: int = 0
    pending: list[PendingCall] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def wire(self, profile: Profile) -> dict[str, Any]:
        """The Chat object as the platform sends it (in events, retrieve and cancel), in its spellings."""
        rules = profile.chat
        body: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "bot_id": self.bot_id,
            "created_at": self.created_at,
        }
        if self.completed_at is not None:
            body["completed_at"] = self.completed_at
        if self.failed_at is not None:
            body["failed_at"] = self.failed_at
        if rules.last_error_field:
            body["last_error"] = {"code": self.last_error[0], "msg": self.last_error[1]}
        body["status"] = profile.status(self.status)
        if self.status == "requires_action" and rules.required_action_field:
            body["required_action"] = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in self.pending
                    ]
                },
            }
        body["usage"] = self.usage.wire()
        body["section_id"] = self.section_id
        return body


CONNECTOR_ID_API = "1024"  # "Agent as API": the connector that open API runs report


@dataclass
class PendingInterrupt:
    """The question or input node a paused execution waits on; `event_id` is `EXEC/EVENT` as sent."""

    event_id: str
    type: int
    node_index: int


@dataclass
class ExecutionRecord:
    """One run of a workflow or chatflow, from start to Success or Fail, across any resumes.

    `segment` counts start and resumes: only the stream that owns the current segment may settle the
    run, so a finished first stream cannot clobber the state a concurrent resume has moved on.
    """

    id: str
    workflow_id: str
    space_id: str
    run_mode: int  # 0 sync, 1 stream, 2 async (WorkflowRunMode)
    bot_id: str
    connector_uid: str
    logid: str
    debug_url: str
    create_time: int
    update_time: int
    parameters: dict[str, Any]
    user_message: str = ""
    status: ExecutionStatus = "Running"
    next_node: int = 0
    segment: int = 0
    answers: dict[str, Any] = field(default_factory=dict)
    node_outputs: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    error: tuple[int, str] = (0, "")
    usage: Usage = field(default_factory=Usage)
    pending: PendingInterrupt | None = None
    resumed_events: set[str] = field(default_factory=set)

    @property
    def finished(self) -> bool:
        return self.status in ("Success", "Fail")

    def wire_history(self) -> dict[str, Any]:
        """The run history entry (`WorkflowRunHistory`): every field cozepy 0.7 to 0.20 requires.

        A paused execution reports `Running`: the enum has no other in-between state.
        """
        return {
            "execute_id": self.id,
            "execute_status": "Running" if self.status == "Interrupted" else self.status,
            "bot_id": self.bot_id,
            "connector_id": CONNECTOR_ID_API,
            "connector_uid": self.connector_uid,
            "run_mode": self.run_mode,
            "logid": self.logid,
            "create_time": self.create_time,
            "update_time": self.update_time,
            "output": self.output,
            "error_code": self.error[0],
            "error_message": self.error[1],
            "debug_url": self.debug_url,
            "is_output_trimmed": False,
            "usage": self.usage.wire(),
        }


class Store:
    """All mutable simulator state. Hold `lock` for every read-modify-write, and only for that."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.conversations: dict[str, Conversation] = {}
        self.chats: dict[str, ChatRecord] = {}
        self.executions: dict[str, ExecutionRecord] = {}
