"""Conversations, chats and their messages, and workflow executions, behind one lock.

Every transition is made whole under the lock and the lock is never held while bytes go out, so a
client may submit tool outputs while the first stream is still open (both official examples do),
and two racing submits for one round yield one continuation and one error.

The store is bounded, so a long-running simulator (or a hostile client) cannot grow it without end:
each kind of record is kept up to a count and, optionally, an age; past either the oldest go first,
finished ones before those still in progress, and an evicted id answers as unknown (4200). A
conversation keeps its latest messages only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

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
    chat_id: str = ""  # the chat that paused: an end-side plugin's tool outputs are refused by this id


MAX_MESSAGES_PER_CONVERSATION = 1000
"""A conversation keeps this many of its latest messages; older ones are dropped as new ones arrive."""

CONNECTOR_ID_API = "1024"  # "Agent as API": the connector that open API runs and conversations report


@dataclass
class MessageRecord:
    """One message of a conversation's history, as stored (`wire.message_object` shows it).

    `bot_id` and `chat_id` are empty for a message a client wrote itself (conversation or message create):
    the platform fills them only for messages a chat produced (reference/coze-openapi list_message.md)."""

    id: str
    conversation_id: str
    section_id: str
    role: str
    type: str
    content: str
    content_type: str
    created_at: int
    updated_at: int
    bot_id: str = ""
    chat_id: str = ""
    meta_data: dict[str, str] = field(default_factory=dict)
    feedback: str | None = None  # "like" / "unlike" once a client gave feedback


class _Messages(list[MessageRecord]):
    """A conversation's messages, oldest first, the oldest dropped past MAX_MESSAGES_PER_CONVERSATION."""

    def append(self, message: MessageRecord) -> None:
        super().append(message)
        self._trim()

    def extend(self, messages: Any) -> None:
        super().extend(messages)
        self._trim()

    def _trim(self) -> None:
        if len(self) > MAX_MESSAGES_PER_CONVERSATION:
            del self[: len(self) - MAX_MESSAGES_PER_CONVERSATION]

    def find(self, message_id: str) -> MessageRecord | None:
        for message in self:
            if message.id == message_id:
                return message
        return None


@dataclass
class Conversation:
    """`bot_id` / `workflow_id`: what created it, which decides the scoped tokens that may use it.

    `section_id` is the current context section (`last_section_id` on the wire): a clear starts a new one,
    and a chat sees only the messages of the section it runs in. `creator_id` is who created it through
    /v1/conversation/create (an id standing for the token), so a scoped token may use a conversation it made."""

    id: str
    section_id: str
    created_at: int
    bot_id: str | None = None
    workflow_id: str | None = None
    messages: _Messages = field(default_factory=_Messages)
    paused_chatflow: BoundInterrupt | None = None
    name: str = ""
    meta_data: dict[str, str] = field(default_factory=dict)
    connector_id: str = CONNECTOR_ID_API
    updated_at: int = 0
    creator_id: str | None = None

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    @property
    def last_section_id(self) -> str:
        return self.section_id

    def section_messages(self) -> list[MessageRecord]:
        """The messages a chat in this conversation sees as its context: those of the current section."""
        return [message for message in self.messages if message.section_id == self.section_id]


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
    meta_data: dict[str, str] | None = None
    auto_save_history: bool = True
    saved: int = 0  # how many of `messages` were looked at for the conversation's history
    history: list[MessageRecord] = field(default_factory=list)  # the context the chat saw when it started
    files: list[dict[str, Any]] = field(default_factory=list)  # quotes of the uploads its messages name


@dataclass
class ChatflowChat:
    """The chat of one chatflow turn: the Chat object its stream reports (`wire.chatflow_chat`)."""

    id: str
    conversation_id: str
    section_id: str
    bot_id: str | None
    created_at: int
    completed_at: int | None = None
    failed_at: int | None = None
    last_error: tuple[int, str] = (0, "")


@dataclass
class NodeRun:
    """One run of one node (the run history's node_execute_status, the execute_nodes endpoint)."""

    node_id: str
    node_title: str
    node_execute_uuid: str
    is_finish: bool
    update_time: int
    output: str = ""  # the node's output as a JSON string


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
    node_runs: dict[str, NodeRun] = field(default_factory=dict)  # by node_execute_uuid; one per node run
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # file parameters' quotes, by name

    @property
    def finished(self) -> bool:
        return self.status in ("Success", "Fail")


class StoreLimits(BaseModel):
    """How much state the simulator keeps; past it, the oldest records are forgotten."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_records: int = Field(
        10_000, ge=1, description="chats, conversations and executions kept, each kind counted apart"
    )
    max_age_seconds: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="forget a record this long after it was created (None: never)"
    )


K = TypeVar("K")
V = TypeVar("V")


class BoundedRecords(OrderedDict[K, V], Generic[K, V]):
    """A dict of records that evicts as it grows: past `max_age_seconds` first, then past `max_records`
    the oldest finished record (or, if none has finished, the oldest of all). Insertion order is age
    order, so both checks look at the front only: constant work per insert."""

    def __init__(self, limits: StoreLimits, finished: Callable[[V], bool]) -> None:
        super().__init__()
        self._limits = limits
        self._finished = finished
        self._born: dict[K, float] = {}

    def __setitem__(self, key: K, value: V) -> None:
        fresh = key not in self
        super().__setitem__(key, value)
        if fresh:
            self._born[key] = time.monotonic()
            self._evict()

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self._born.pop(key, None)

    def _evict(self) -> None:
        age = self._limits.max_age_seconds
        if age is not None:
            cutoff = time.monotonic() - age
            while self and self._born[next(iter(self))] < cutoff:
                del self[next(iter(self))]
        over = len(self) - self._limits.max_records
        if over <= 0:
            return
        # Finished records are the ones nobody waits on; scan a bounded stretch of the oldest for them.
        for key in [k for _, k in zip(range(over + 64), self, strict=False) if self._finished(self[k])][:over]:
            del self[key]
            over -= 1
        while over > 0:
            del self[next(iter(self))]
            over -= 1


def _chat_finished(chat: ChatRecord) -> bool:
    return chat.status in ("completed", "failed", "canceled")


def _execution_finished(execution: ExecutionRecord) -> bool:
    return execution.finished


class Store:
    """All mutable simulator state. Hold `lock` for every read-modify-write, and only for that."""

    def __init__(self, limits: StoreLimits | None = None) -> None:
        limits = limits or StoreLimits()
        self.limits = limits
        self.lock = threading.RLock()
        self.conversations: BoundedRecords[str, Conversation] = BoundedRecords(
            limits, lambda c: c.paused_chatflow is None
        )
        self.chats: BoundedRecords[str, ChatRecord] = BoundedRecords(limits, _chat_finished)
        self.executions: BoundedRecords[str, ExecutionRecord] = BoundedRecords(limits, _execution_finished)
