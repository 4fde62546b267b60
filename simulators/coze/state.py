"""Conversations, chats and their messages, behind one lock.

Every transition is made whole under the lock and the lock is never held while bytes go out, so a
client may submit tool outputs while the first stream is still open (both official examples do),
and two racing submits for one round yield one continuation and one error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

ChatStatus = Literal["created", "in_progress", "completed", "failed", "requires_action", "canceled"]


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


@dataclass
class Conversation:
    id: str
    section_id: str
    created_at: int
    messages: list[dict[str, Any]] = field(default_factory=list)


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

    def wire(self) -> dict[str, Any]:
        """The Chat object as the platform sends it (in events, retrieve and cancel)."""
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
        body["last_error"] = {"code": self.last_error[0], "msg": self.last_error[1]}
        body["status"] = self.status
        if self.status == "requires_action":
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


class Store:
    """All mutable simulator state. Hold `lock` for every read-modify-write, and only for that."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.conversations: dict[str, Conversation] = {}
        self.chats: dict[str, ChatRecord] = {}
