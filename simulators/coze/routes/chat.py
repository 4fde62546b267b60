"""Bot chat v3: /v3/chat and the endpoints that follow a chat (retrieve, messages, cancel, tool outputs)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from .. import openapi_doc as doc
from .. import wire
from ..auth import TokenGrant
from ..engines.bots import Event
from ..envelope import bad_request, not_found, ok
from ..files import attachments
from ..inputs import InputMessage, Lenient, json_body, optional_id, required_id, user_text, validate
from ..openapi_doc import documented
from ..profiles import ChatEnd
from ..scenarios import BotScenario
from ..simulator import Simulator, simulator_of
from ..sse import chat_end, chat_frame, paced
from ..store import ChatRecord
from .chatflow_pause import handle_tool_outputs
from .conversations import open_conversation, save_chat_history, save_inputs

router = APIRouter()


class ChatRequest(Lenient):
    bot_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    additional_messages: list[InputMessage] | None = None
    stream: bool | None = False
    custom_variables: dict[str, str] | None = None
    parameters: dict[str, Any] | None = None
    auto_save_history: bool | None = True
    meta_data: dict[str, str] | None = None


class ToolOutput(Lenient):
    tool_call_id: str = Field(min_length=1)
    output: str


class SubmitRequest(Lenient):
    tool_outputs: list[ToolOutput]
    stream: bool | None = False


def _frames(events: list[Event], end: ChatEnd) -> Iterator[bytes]:
    """Encoded one at a time as the socket takes them: the first byte leaves before the last is built."""
    for name, data in events:
        yield chat_frame(name, data)
    yield chat_end(end)


def _stream(request: Request, sim: Simulator, bot: BotScenario, events: list[Event]) -> Response:
    return sim.stream(request, paced(_frames(events, sim.profile.chat_end), sim.config.event_delay_seconds), bot)


def bot_of(sim: Simulator, grant: TokenGrant, bot_id: str) -> BotScenario:
    """A bot the token may use: the grant first (4101, known or not), then the catalogue (4200)."""
    sim.auth.require_bot(grant, bot_id)
    bot = sim.catalogue.bots.get(bot_id)
    if bot is None:
        raise not_found(f"bot {bot_id} does not exist or is not published; check bot_id")
    return bot


def start_chat(
    sim: Simulator,
    grant: TokenGrant,
    bot: BotScenario,
    conversation_id: str | None,
    messages: Sequence[InputMessage],
    variables: dict[str, str] | None,
    parameters: dict[str, Any] | None,
    *,
    meta_data: dict[str, str] | None = None,
    auto_save_history: bool = True,
) -> tuple[ChatRecord, list[Event]]:
    """A new chat in a new or named conversation, and the events of its first step (HTTP and websocket).

    The chat sees the conversation's current section as its history; with `auto_save_history` the
    messages sent and the answers given join the conversation, in that order."""
    text = user_text(messages)
    files = attachments(sim.files, grant, messages)  # before the lock: it reads the files' first bytes
    with sim.store.lock:
        conversation = open_conversation(sim, grant, conversation_id, bot_id=bot.id)
        chat = ChatRecord(
            id=sim.ids.new_id(),
            conversation_id=conversation.id,
            section_id=conversation.section_id,
            bot_id=bot.id,
            created_at=sim.clock.now(),
            user_message=text,
            variables=dict(variables or {}),
            parameters=dict(parameters or {}),
            meta_data=meta_data,
            auto_save_history=auto_save_history,
            history=conversation.section_messages(),
            files=files,
        )
        events = sim.bots.start(bot, chat)
        sim.store.chats[chat.id] = chat
        if auto_save_history:
            save_inputs(sim, conversation, messages, chat)
        save_chat_history(sim, chat)
    return chat, events


def _chat(sim: Simulator, grant: TokenGrant, conversation_id: str, chat_id: str) -> ChatRecord:
    """The chat, if the token may see it: another bot's chat answers exactly as an unknown one."""
    chat = sim.store.chats.get(chat_id)
    if chat is None or chat.conversation_id != conversation_id or not grant.may_use_bot(chat.bot_id):
        raise not_found(f"chat {chat_id} was not found in conversation {conversation_id}; check both ids")
    return chat


def _authenticated(request: Request) -> tuple[Simulator, TokenGrant]:
    """The first step of every route: the token, before a byte of the body is read."""
    sim = simulator_of(request)
    return sim, sim.auth.authenticate(request)


async def _authorized_chat(
    request: Request, *, body_methods: tuple[str, ...] = ("POST",)
) -> tuple[Simulator, ChatRecord, dict[str, Any]]:
    sim, grant = _authenticated(request)
    body = await json_body(request) if request.method in body_methods else {}
    chat = _chat(sim, grant, required_id(request, body, "conversation_id"), required_id(request, body, "chat_id"))
    return sim, chat, body


@router.post(
    "/v3/chat",
    **documented(
        "chat with a bot", request=ChatRequest, data=doc.Chat, stream_event=doc.ChatEventData, source="chat_v3.md"
    ),
)
async def create_chat(request: Request) -> Response:
    sim, grant = _authenticated(request)
    body = await json_body(request)
    req = validate(ChatRequest, body)
    conversation_id = optional_id(request, body, "conversation_id")
    if not req.stream and req.auto_save_history is False:
        raise bad_request(
            "auto_save_history must be true when stream is false: the answer is read back from the saved "
            "history (chat_v3.md); stream the chat to leave it unsaved"
        )
    bot = bot_of(sim, grant, req.bot_id)
    sim.check_request(bot)
    chat, events = start_chat(
        sim,
        grant,
        bot,
        conversation_id,
        req.additional_messages or [],
        req.custom_variables,
        req.parameters,
        meta_data=req.meta_data,
        auto_save_history=req.auto_save_history is not False,
    )
    if req.stream:
        return _stream(request, sim, bot, events)
    return ok(request, _snapshot(sim, chat, events))


def _snapshot(sim: Simulator, chat: ChatRecord, events: list[Event]) -> dict[str, Any]:
    """The Chat as the non-stream answer shows it: on cloud still in progress (polling reveals the rest),
    on studio as the step ended (its sync handler answers after the stream completes)."""
    if sim.profile.chat.sync_answer == "final":
        with sim.store.lock:
            return wire.chat(chat, sim.profile)
    for name, data in events:
        if name == "conversation.chat.in_progress":
            return data
    raise AssertionError("a chat step always passes through in_progress")


@router.api_route(
    "/v3/chat/retrieve", methods=["GET", "POST"], **documented("a chat", data=doc.Chat, source="retrieve_chat.md")
)
async def retrieve_chat(request: Request) -> Response:
    sim, chat, _ = await _authorized_chat(request)
    with sim.store.lock:
        return ok(request, wire.chat(chat, sim.profile))


@router.api_route(
    "/v3/chat/message/list",
    methods=["GET", "POST"],
    **documented("a chat's messages", data=list[doc.Message], source="list_chat_messages.md"),
)
async def list_messages(request: Request) -> Response:
    sim, chat, _ = await _authorized_chat(request)
    with sim.store.lock:
        messages = list(chat.messages)
    key = sim.profile.chat.message_list_key
    return ok(request, messages) if key == "data" else ok(request, **{key: messages})


@router.post("/v3/chat/cancel", **documented("cancel a chat", data=doc.Chat, source="chat_cancel.md"))
async def cancel_chat(request: Request) -> Response:
    sim, chat, _ = await _authorized_chat(request)
    with sim.store.lock:
        sim.bots.cancel(chat)
        return ok(request, wire.chat(chat, sim.profile))


@router.post(
    "/v3/chat/submit_tool_outputs",
    **documented(
        "submit tool outputs",
        request=SubmitRequest,
        data=doc.Chat,
        stream_event=doc.ChatEventData,
        source="chat_submit_tool_outputs.md",
    ),
)
async def submit_tool_outputs(request: Request) -> Response:
    sim, grant = _authenticated(request)
    body = await json_body(request)
    refused = handle_tool_outputs(request, sim, grant, body)  # a chatflow's end-side plugin (coze-py#303)
    if refused is not None:
        return refused
    chat = _chat(sim, grant, required_id(request, body, "conversation_id"), required_id(request, body, "chat_id"))
    req = validate(SubmitRequest, body)
    bot = sim.catalogue.bots.get(chat.bot_id)
    if bot is None:  # the catalogue changed under the chat (a runtime scenario was replaced)
        raise not_found(f"bot {chat.bot_id} of chat {chat.id} no longer exists")
    sim.check_request(bot)
    with sim.store.lock:
        events = sim.bots.submit(bot, chat, [(item.tool_call_id, item.output) for item in req.tool_outputs])
        save_chat_history(sim, chat)
    if req.stream:
        return _stream(request, sim, bot, events)
    return ok(request, _snapshot(sim, chat, events))
