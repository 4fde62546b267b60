"""A conversation's messages: create, list (cursor paged), retrieve, modify, delete, and feedback.

Sources: coze-openapi.yaml and api-markdown/{create,list,retrieve,modify,delete}_message.md; feedback
create is read from cozepy 0.20 (`conversations/message/feedback`), its delete from the spec. Every
route names the conversation too, and a message of another conversation answers as an unknown one.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from .. import wire
from ..auth import TokenGrant
from ..envelope import bad_request, not_found, ok
from ..inputs import Lenient, json_body, optional_id, required_id, validate
from ..simulator import Simulator
from ..store import ChatRecord, Conversation, MessageRecord
from .conversations import (
    MAX_PAGE_SIZE,
    authenticated,
    check_content,
    check_meta_data,
    default_type,
    find_conversation,
    new_message,
    path_id,
    studio_shapes,
)

router = APIRouter()


class CreateMessageRequest(Lenient):
    role: Literal["user", "assistant"]
    content: str
    content_type: Literal["text", "object_string"]
    meta_data: dict[str, str] | None = None


class ModifyMessageRequest(Lenient):
    content: str | None = None
    content_type: Literal["text", "object_string"] | None = None
    meta_data: dict[str, str] | None = None


class ListMessagesRequest(Lenient):
    """cozepy sends every key, `null` for what the caller left out (`before_id` / `after_id` mostly)."""

    order: Literal["desc", "asc"] | None = None
    chat_id: str | None = Field(None, pattern=r"^[0-9]*$")
    before_id: str | None = Field(None, pattern=r"^[0-9]*$")
    after_id: str | None = Field(None, pattern=r"^[0-9]*$")
    limit: int | None = Field(None, ge=1, le=MAX_PAGE_SIZE)


class FeedbackRequest(Lenient):
    feedback_type: Literal["like", "unlike"]
    reason_types: list[str] | None = Field(None, max_length=16)
    comment: str | None = Field(None, max_length=1000)


def _message(conversation: Conversation, message_id: str) -> MessageRecord:
    found = conversation.messages.find(message_id)
    if found is None:
        raise not_found(f"message {message_id} was not found in conversation {conversation.id}; check both ids")
    return found


async def _located(request: Request) -> tuple[Simulator, TokenGrant, str, str]:
    """Token first, then the two ids from the query string (where every cozepy release sends them)."""
    sim, grant = authenticated(request)
    return sim, grant, required_id(request, {}, "conversation_id"), required_id(request, {}, "message_id")


@router.post("/v1/conversation/message/create")
async def create_message(request: Request) -> Response:
    sim, grant = authenticated(request)
    conversation_id = required_id(request, {}, "conversation_id")
    req = validate(CreateMessageRequest, await json_body(request))
    check_meta_data(req.meta_data, "meta_data")
    check_content(req.content, req.content_type, "body")
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        # `type`: question from a user, answer from an assistant. The docs' examples show "", which the spec's
        # enum (OpenMessageApi.type) does not allow; the spec decides (docs/contract-notes.md).
        message = new_message(
            sim,
            conversation,
            role=req.role,
            kind=default_type(req.role, None),
            content=req.content,
            content_type=req.content_type,
            meta_data=req.meta_data,
        )
        conversation.messages.append(message)
        conversation.updated_at = message.created_at
        return ok(request, wire.message_object(message))


def page(
    messages: list[MessageRecord], order: str, before_id: str | None, after_id: str | None, limit: int
) -> tuple[list[MessageRecord], bool]:
    """One page of `messages` (oldest first) in `order`, and whether more lie beyond it.

    The cursors are positions in the listing's own order, as the docs' paging reads (`after_id` = the
    last_id of a page: the next page; `before_id` = its first_id: the page before), and as cozepy walks
    pages (after_id = last_id while has_more). For the default `desc` that is what coze-studio's source
    does (after_id: older messages, before_id: newer ones)."""
    listing = messages[::-1] if order == "desc" else list(messages)
    ids = [m.id for m in listing]
    if after_id:
        rest = listing[ids.index(after_id) + 1 :]
        return rest[:limit], len(rest) > limit
    if before_id:
        rest = listing[: ids.index(before_id)]
        return rest[-limit:], len(rest) > limit
    return listing[:limit], len(listing) > limit


@router.post("/v1/conversation/message/list")
async def list_messages(request: Request) -> Response:
    """`data` with `has_more`, `first_id` and `last_id` beside it: the top-level `first_id` is what switches
    cozepy into its paged reading (never sent by /v3/chat/message/list)."""
    sim, grant = authenticated(request)
    body = await json_body(request)
    conversation_id = optional_id(request, body, "conversation_id")
    if conversation_id is None:
        raise bad_request("conversation_id is required in the query string")
    req = validate(ListMessagesRequest, body)
    before_id = req.before_id if req.before_id not in (None, "", "0") else None
    after_id = req.after_id if req.after_id not in (None, "", "0") else None
    if before_id is not None and after_id is not None:
        raise bad_request("give before_id or after_id, not both: one page is read from one cursor")
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        messages = [m for m in conversation.messages if req.chat_id in (None, "") or m.chat_id == req.chat_id]
        known = {m.id for m in messages}
        for name, cursor in (("before_id", before_id), ("after_id", after_id)):
            if cursor is not None and cursor not in known:
                raise bad_request(
                    f"{name} {cursor} is not a message of conversation {conversation_id}"
                    f"{' and chat ' + str(req.chat_id) if req.chat_id else ''}; use a first_id or last_id of a page"
                )
        items, has_more = page(messages, req.order or "desc", before_id, after_id, req.limit or MAX_PAGE_SIZE)
        data = [wire.message_object(m, sim.profile) for m in items]
    if studio_shapes(sim):  # ListMessageApiResponse: `data` omitempty, the cursors int64 ("0" for none)
        first, last = (items[0].id, items[-1].id) if items else ("0", "0")
        return ok(request, data or None, has_more=has_more, first_id=first, last_id=last)
    first_id = items[0].id if items else ""
    last_id = items[-1].id if items else ""
    return ok(request, data, has_more=has_more, first_id=first_id, last_id=last_id)


@router.get("/v1/conversation/message/retrieve")
async def retrieve_message(request: Request) -> Response:
    sim, grant, conversation_id, message_id = await _located(request)
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        return ok(request, wire.message_object(_message(conversation, message_id)))


@router.post("/v1/conversation/message/modify")
async def modify_message(request: Request) -> Response:
    """The answer carries the message under `message`, not `data` (the spec; cozepy reads `message`)."""
    sim, grant, conversation_id, message_id = await _located(request)
    req = validate(ModifyMessageRequest, await json_body(request))
    if req.content is None and not req.meta_data:
        raise bad_request("content and meta_data cannot both be empty; send the new content or meta_data")
    if req.content is not None and req.content_type is None:
        raise bad_request("content_type is required with content (text or object_string)")
    check_meta_data(req.meta_data, "meta_data")
    if req.content is not None and req.content_type is not None:
        check_content(req.content, req.content_type, "body")
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        message = _message(conversation, message_id)
        if req.content is not None and req.content_type is not None:
            message.content, message.content_type = req.content, req.content_type
        if req.meta_data:
            message.meta_data = dict(req.meta_data)
        message.updated_at = sim.clock.now()
        return ok(request, message=wire.message_object(message))


@router.post("/v1/conversation/message/delete")
async def delete_message(request: Request) -> Response:
    """Answers with the deleted message; it is gone from the list, from retrieve and from the context, and
    from its chat's /v3/chat/message/list too, with the chat's intermediate messages when it is an answer
    (delete_message.md: deleting a type=answer message deletes its verbose, function_call... messages)."""
    sim, grant, conversation_id, message_id = await _located(request)
    with sim.store.lock:
        conversation = find_conversation(sim, grant, conversation_id)
        message = _message(conversation, message_id)
        conversation.messages.remove(message)
        chat = sim.store.chats.get(message.chat_id) if message.chat_id else None
        if chat is not None:
            _forget_in_chat(chat, message)
        return ok(request, wire.message_object(message))


INTERMEDIATE_TYPES = frozenset({"function_call", "tool_response", "tool_output", "verbose", "follow_up"})


def _forget_in_chat(chat: ChatRecord, message: MessageRecord) -> None:
    """Drop the message (and, for an answer, the chat's intermediate messages) from the chat's own list,
    keeping `chat.saved` pointing past the same messages it did."""

    def gone(item: dict[str, Any]) -> bool:
        return item.get("id") == message.id or (message.type == "answer" and item.get("type") in INTERMEDIATE_TYPES)

    kept_before = [item for item in chat.messages[: chat.saved] if not gone(item)]
    kept_after = [item for item in chat.messages[chat.saved :] if not gone(item)]
    chat.messages[:] = kept_before + kept_after
    chat.saved = len(kept_before)


def _feedback_target(sim: Simulator, grant: TokenGrant, conversation_id: str, message_id: str) -> MessageRecord:
    message = _message(find_conversation(sim, grant, conversation_id), message_id)
    if message.type != "answer":
        raise bad_request(
            f"message {message_id} is a {message.type or 'client-written'} message; feedback is only for a bot's "
            "answer (type answer)"
        )
    return message


@router.api_route("/v1/conversations/{conversation_id}/messages/{message_id}/feedback", methods=["POST", "DELETE"])
async def feedback(request: Request, conversation_id: str, message_id: str) -> Response:
    """POST rates a bot's answer (`like` / `unlike`), DELETE takes the rating back; both answer no `data`."""
    sim, grant = authenticated(request)
    conversation_id = path_id(conversation_id, "conversation_id")
    message_id = path_id(message_id, "message_id")
    req: FeedbackRequest | None = None
    if request.method == "POST":
        req = validate(FeedbackRequest, await json_body(request))
    with sim.store.lock:
        message = _feedback_target(sim, grant, conversation_id, message_id)
        message.feedback = req.feedback_type if req is not None else None
    return ok(request)
