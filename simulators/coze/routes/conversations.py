"""Conversations: create, retrieve, list per bot, update, delete and clear (a new context section), and
the conversation a chat or chatflow joins (or starts), and who may use it.

A conversation is one state shared with chat: a chat with `auto_save_history` appends its messages here
(`save_inputs`, `save_chat_history`), a clear starts the section the next chat sees as its context, and
a deleted conversation (with its chats) answers as unknown everywhere. Sources: coze-openapi.yaml and
api-markdown/{create,retrieve,list,edit,delete}_conversation.md, clear_conversation_context.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field, ValidationInfo, field_validator
from starlette.requests import Request
from starlette.responses import Response

from .. import wire
from ..auth import TokenGrant
from ..envelope import bad_request, not_found, ok
from ..inputs import InputMessage, Lenient, json_body, parse_json, required_id, validate
from ..simulator import Simulator, simulator_of
from ..store import CONNECTOR_ID_API, ChatRecord, Conversation, MessageRecord

router = APIRouter()

MAX_META_PAIRS = 16
MAX_META_KEY = 64
MAX_META_VALUE = 512
MAX_NAME = 100
MAX_CREATE_MESSAGES = 16  # the spec's `messages`: "校验最多16个"
MAX_PAGE_SIZE = 50
HISTORY_TYPES = frozenset({"question", "answer"})
"""The message types a conversation keeps: the docs' message list holds what clients wrote, the users'
queries and the bots' answers, never function_call, tool_response, follow_up or verbose messages."""


CREATOR_ID_BASE = 7_410_000_000_000_000_000


def creator_of(sim: Simulator, grant: TokenGrant) -> str:
    """The `creator_id` a token's conversations report: a 19-digit id from the token's place among the
    simulator's tokens, so it is stable across runs and says nothing about the token itself."""
    index = next((i for i, known in enumerate(sim.config.tokens) if known.token == grant.token), 0)
    return str(CREATOR_ID_BASE + index)


def may_use(grant: TokenGrant, conversation: Conversation, creator_id: str | None = None) -> bool:
    """Whether a token may read or extend a conversation: any token, unless it is scoped, when the
    conversation must have been started by a bot or workflow of its grant, or created by the token itself
    (`creator_id`: the token's, `creator_of`)."""
    if grant.unrestricted:
        return True
    if conversation.creator_id is not None and conversation.creator_id == creator_id:
        return True
    if conversation.bot_id is not None and grant.bots is not None:
        return conversation.bot_id in grant.bots
    if conversation.workflow_id is not None and grant.workflows is not None:
        return conversation.workflow_id in grant.workflows
    return False


def open_conversation(
    sim: Simulator,
    grant: TokenGrant,
    conversation_id: str | None,
    *,
    bot_id: str | None = None,
    workflow_id: str | None = None,
) -> Conversation:
    """The named conversation or a new one started by `bot_id` or `workflow_id`. Hold the store lock.

    An unknown id and one the token may not use get the same 4200, so a scoped token cannot probe ids."""
    if conversation_id is None:
        conversation = Conversation(
            id=sim.ids.new_id(),
            section_id=sim.ids.new_id(),
            created_at=sim.clock.now(),
            bot_id=bot_id,
            workflow_id=workflow_id,
        )
        sim.store.conversations[conversation.id] = conversation
        return conversation
    found = sim.store.conversations.get(conversation_id)
    if found is None or not may_use(grant, found, creator_of(sim, grant)):
        raise not_found(f"conversation {conversation_id} does not exist; omit it to start a new one")
    return found


def find_conversation(sim: Simulator, grant: TokenGrant, conversation_id: str) -> Conversation:
    """A conversation the token may use (hold the store lock); an unknown id and another bot's answer alike."""
    found = sim.store.conversations.get(conversation_id)
    if found is None or not may_use(grant, found, creator_of(sim, grant)):
        raise not_found(f"conversation {conversation_id} does not exist; check conversation_id")
    return found


# --- the history a conversation keeps -------------------------------------------------------------


def new_message(
    sim: Simulator,
    conversation: Conversation,
    *,
    role: str,
    kind: str,
    content: str,
    content_type: str = "text",
    meta_data: dict[str, str] | None = None,
    chat_id: str = "",
    bot_id: str = "",
    message_id: str | None = None,
) -> MessageRecord:
    """A message in the conversation's current section (not yet appended)."""
    now = sim.clock.now()
    return MessageRecord(
        id=message_id or sim.ids.new_id(),
        conversation_id=conversation.id,
        section_id=conversation.section_id,
        role=role,
        type=kind,
        content=content,
        content_type=content_type,
        created_at=now,
        updated_at=now,
        bot_id=bot_id,
        chat_id=chat_id,
        meta_data=dict(meta_data or {}),
    )


def default_type(role: str, kind: str | None) -> str:
    """EnterMessage's `type` defaults to question, which only a user may send: an assistant's is an answer."""
    if kind:
        return kind
    return "question" if role == "user" else "answer"


def save_inputs(
    sim: Simulator, conversation: Conversation, messages: Sequence[InputMessage], chat: ChatRecord | None = None
) -> None:
    """Append the messages a client sent with a chat (or a context message) to the history. Hold the lock."""
    for message in messages:
        kind = default_type(message.role, message.type)
        if kind not in HISTORY_TYPES:
            continue
        conversation.messages.append(
            new_message(
                sim,
                conversation,
                role=message.role,
                kind=kind,
                content=message.content,
                content_type=message.content_type,
                meta_data=message.meta_data,
                chat_id=chat.id if chat is not None else "",
                bot_id=chat.bot_id if chat is not None else "",
            )
        )
    conversation.updated_at = sim.clock.now()


def save_chat_history(sim: Simulator, chat: ChatRecord) -> None:
    """Append the answers a chat produced since the last call to its conversation, in order, when the chat
    saves its history and the conversation still exists. Hold the store lock."""
    fresh, chat.saved = chat.messages[chat.saved :], len(chat.messages)
    conversation = sim.store.conversations.get(chat.conversation_id)
    if not chat.auto_save_history or conversation is None:
        return
    for message in fresh:
        if message.get("type") != "answer":
            continue
        conversation.messages.append(
            MessageRecord(
                id=message["id"],
                conversation_id=conversation.id,
                section_id=chat.section_id,
                role=message["role"],
                type="answer",
                content=message["content"],
                content_type=message["content_type"],
                created_at=message.get("created_at", sim.clock.now()),
                updated_at=message.get("updated_at", sim.clock.now()),
                bot_id=chat.bot_id,
                chat_id=chat.id,
            )
        )
        conversation.updated_at = sim.clock.now()


# --- request bodies ----------------------------------------------------------------------------------


def check_meta_data(meta_data: dict[str, str] | None, what: str) -> dict[str, str] | None:
    """The docs' limits: at most 16 pairs, keys of 1 to 64 characters, values of at most 512."""
    if meta_data is None:
        return None
    if len(meta_data) > MAX_META_PAIRS:
        raise bad_request(f"{what} has {len(meta_data)} pairs; the limit is {MAX_META_PAIRS}")
    for key, value in meta_data.items():
        if not 1 <= len(key) <= MAX_META_KEY:
            raise bad_request(f"{what} keys must be 1 to {MAX_META_KEY} characters, got {len(key)}")
        if len(value) > MAX_META_VALUE:
            raise bad_request(f"{what}[{key[:64]!r}] is {len(value)} characters; the limit is {MAX_META_VALUE}")
    return meta_data


def check_content(content: str, content_type: str, what: str) -> None:
    """An object_string content must be a JSON array of parts (decoded with the simulator's limits)."""
    if content_type != "object_string":
        return
    parts = parse_json(content, f"{what}.content (an object_string)")
    if not isinstance(parts, list):
        raise bad_request(f"{what}.content must be a JSON array of parts when content_type is object_string")


class EnterMessage(InputMessage):
    """A message a client writes into a conversation (`EnterMessage`): question only from a user."""

    content_type: Literal["text", "object_string"] = "text"
    type: Literal["question", "answer", "function_call", "tool_output", "tool_response", ""] | None = None

    @field_validator("type")
    @classmethod
    def _question_is_a_users(cls, kind: str | None, info: ValidationInfo) -> str | None:
        if kind == "question" and info.data.get("role") == "assistant":
            raise ValueError("type question can only go with role user")
        return kind


class CreateConversationRequest(Lenient):
    bot_id: str | None = Field(None, pattern=r"^[0-9]{1,25}$")
    name: str | None = Field(None, max_length=MAX_NAME)
    messages: list[EnterMessage] | None = Field(None, max_length=MAX_CREATE_MESSAGES)
    connector_id: str | None = Field(None, pattern=r"^[0-9]{1,25}$")
    meta_data: dict[str, str] | None = None


class UpdateConversationRequest(Lenient):
    name: str = Field(min_length=1, max_length=MAX_NAME)


def authenticated(request: Request) -> tuple[Simulator, TokenGrant]:
    """The first step of every route: the token, before a byte of the body is read."""
    sim = simulator_of(request)
    return sim, sim.auth.authenticate(request)


def studio_shapes(sim: Simulator) -> bool:
    """Whether answers take coze-studio's shapes (the profile's `conversations.shape`)."""
    return sim.profile.conversations.shape == "studio"


def answer(request: Request, sim: Simulator, data: Any = None, **top_level: Any) -> Response:
    """`ok()`, plus the `BaseResp: null` that coze-studio's response structs carry (nil, not omitempty)."""
    if studio_shapes(sim):
        top_level["BaseResp"] = None
    return ok(request, data, **top_level)


def path_id(value: str, name: str) -> str:
    if not value.isdigit() or len(value) > 25:
        raise bad_request(f"{name} must be a decimal id string, got {value[:40]!r}")
    return value


# --- the endpoints -----------------------------------------------------------------------------------


@router.post("/v1/conversation/create")
async def create_conversation(request: Request) -> Response:
    """cozepy 0.2 sends `{"messages": [every Message field, nulls too], "meta_data": null}`, 0.12 adds
    `bot_id` when given, 0.20 `name` and `connector_id` and leaves out what is None: all are accepted."""
    sim, grant = authenticated(request)
    req = validate(CreateConversationRequest, await json_body(request))
    meta_data = check_meta_data(req.meta_data, "meta_data")
    messages = req.messages or []
    for index, message in enumerate(messages):
        check_meta_data(message.meta_data, f"messages[{index}].meta_data")
        check_content(message.content, message.content_type, f"messages[{index}]")
    if req.bot_id is not None:
        sim.auth.require_bot(grant, req.bot_id)
        if req.bot_id not in sim.catalogue.bots:
            raise not_found(f"bot {req.bot_id} does not exist or is not published; check bot_id")
    with sim.store.lock:
        conversation = Conversation(
            id=sim.ids.new_id(),
            section_id=sim.ids.new_id(),
            created_at=sim.clock.now(),
            bot_id=req.bot_id,
            name=req.name or "",
            meta_data=dict(meta_data or {}),
            connector_id=req.connector_id or CONNECTOR_ID_API,
            creator_id=creator_of(sim, grant),
        )
        if not studio_shapes(sim):  # coze-studio's CreateConversation never reads `messages`
            save_inputs(sim, conversation, messages)
        conversation.updated_at = conversation.created_at  # created with its messages, not updated since
        sim.store.conversations[conversation.id] = conversation
        return ok(request, wire.conversation_object(conversation, sim.profile, "create"))


@router.get("/v1/conversation/retrieve")
async def retrieve_conversation(request: Request) -> Response:
    sim, grant = authenticated(request)
    conversation_id = required_id(request, {}, "conversation_id")
    with sim.store.lock:
        found = wire.conversation_object(find_conversation(sim, grant, conversation_id), sim.profile, "retrieve")
    if studio_shapes(sim):  # RetrieveConversationApiResponse's json tag is "ConversationData", not "data"
        return answer(request, sim, ConversationData=found)
    return ok(request, found)


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    if not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise bad_request(f"{name} must be an integer from {low} to {high}, got {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise bad_request(f"{name} must be from {low} to {high}, got {value}")
    return value


@router.get("/v1/conversations")
async def list_conversations(request: Request) -> Response:
    """A bot's conversations, a page at a time (`page_num` from 1, `page_size` 1 to 50, `sort_order` ASC or
    DESC by creation, the API connector 1024 unless `connector_id` says otherwise), with `has_more`."""
    sim, grant = authenticated(request)
    bot_id = required_id(request, {}, "bot_id")
    page_num = _int_query(request, "page_num", 1, 1, 1_000_000)
    page_size = _int_query(request, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    order = request.query_params.get("sort_order", "") or "DESC"
    if order.upper() not in ("ASC", "DESC"):
        raise bad_request(f"sort_order must be ASC or DESC, got {order[:40]!r}")
    connector_id = request.query_params.get("connector_id", "") or CONNECTOR_ID_API
    sim.auth.require_bot(grant, bot_id)
    if bot_id not in sim.catalogue.bots:
        raise not_found(f"bot {bot_id} does not exist or is not published; check bot_id")
    creator = creator_of(sim, grant)
    with sim.store.lock:
        found = [
            c
            for c in sim.store.conversations.values()
            if c.bot_id == bot_id and c.connector_id == connector_id and may_use(grant, c, creator)
        ]
        if order.upper() == "DESC":
            found.reverse()  # the store keeps creation order
        start = (page_num - 1) * page_size
        page = found[start : start + page_size]
        body = {
            "has_more": len(found) > start + page_size,
            "conversations": [wire.conversation_object(c, sim.profile, "list") for c in page],
        }
    if studio_shapes(sim):
        body = {"conversations": body["conversations"], "has_more": body["has_more"]}  # its struct's order
    return answer(request, sim, body)


@router.put("/v1/conversations/{conversation_id}")
async def update_conversation(request: Request, conversation_id: str) -> Response:
    sim, grant = authenticated(request)
    conversation_id = path_id(conversation_id, "conversation_id")
    req = validate(UpdateConversationRequest, await json_body(request))
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        conversation.name = req.name
        conversation.updated_at = sim.clock.now()
        return answer(request, sim, wire.conversation_object(conversation, sim.profile, "update"))


@router.delete("/v1/conversations/{conversation_id}")
async def delete_conversation(request: Request, conversation_id: str) -> Response:
    """The conversation, its messages and its chats are gone: every later call naming them answers 4200."""
    sim, grant = authenticated(request)
    conversation_id = path_id(conversation_id, "conversation_id")
    with sim.store.lock:
        find_conversation(sim, grant, conversation_id)
        del sim.store.conversations[conversation_id]
        for chat_id in [key for key, chat in sim.store.chats.items() if chat.conversation_id == conversation_id]:
            del sim.store.chats[chat_id]
    return answer(request, sim)


@router.post("/v1/conversations/{conversation_id}/clear")
async def clear_conversation(request: Request, conversation_id: str) -> Response:
    """A new context section: the messages stay listed, and the next chat sees none of them."""
    sim, grant = authenticated(request)
    conversation_id = path_id(conversation_id, "conversation_id")
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        conversation.section_id = sim.ids.new_id()
        conversation.updated_at = sim.clock.now()
        return answer(request, sim, wire.section(conversation))
