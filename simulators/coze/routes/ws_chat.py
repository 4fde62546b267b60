"""Websocket chat (`/v1/chat`): the same bot scenarios as `/v3/chat`, with events as JSON messages.

Every message, both ways, is one JSON object `{id, event_type, data?, detail?}`; the server's carry
`detail.logid`. The local-plugin pair is `conversation.chat.requires_action` (server) and
`conversation.chat.submit_tool_outputs` (client). A client mistake is answered with an `error`
event (`data: {code, msg}`, the offending message in `detail.origin_message`) and the socket stays
open, so one bad message never costs the conversation. Audio is not modelled: its events are
refused with an error that says so, never ignored.

Faults (`simulators.coze.faults`, the scenario's `faults:` block or `SimConfig.faults`) apply to each
chat step's events, and `http_error` / `rate_limit` refuse the handshake; the faults module's
docstring says which fault does what here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..auth import TokenGrant
from ..engines.bots import Event
from ..envelope import LOGID_HEADER, Code, CozeError, bad_request, dumps
from ..inputs import InputMessage, Lenient, parse_json, validate
from ..scenarios import BotScenario
from ..simulator import Simulator
from ..store import ChatRecord
from .chat import ToolOutput, bot_of, start_chat
from .conversations import open_conversation, save_chat_history, save_inputs

router = APIRouter()

MAX_MESSAGE_BYTES = 1 << 20
# Close codes: 1000 normal; 1008 policy (refused handshake when the server cannot answer with HTTP).
_POLICY_VIOLATION = 1008

AUDIO_EVENTS = frozenset(
    {
        "input_audio_buffer.append",
        "input_audio_buffer.complete",
        "input_audio_buffer.clear",
        "input_text.generate_audio",
    }
)


class ChatConfig(Lenient):
    conversation_id: str | None = None
    user_id: str | None = None
    meta_data: dict[str, str] | None = None
    custom_variables: dict[str, str] | None = None
    extra_params: dict[str, str] | None = None
    auto_save_history: bool | None = None
    parameters: dict[str, Any] | None = None


class ChatUpdateData(Lenient):
    chat_config: ChatConfig | None = None


class MessageCreateData(Lenient):
    """All three fields are required here, unlike `additional_messages` on /v3/chat."""

    role: Literal["user", "assistant"]
    content_type: Literal["text", "object_string", "card"]
    content: str

    def as_input(self) -> InputMessage:
        return InputMessage(role=self.role, content_type=self.content_type, content=self.content)


class SubmitData(Lenient):
    chat_id: str = Field(min_length=1)
    tool_outputs: list[ToolOutput]


def _denial(err: CozeError, logid: str) -> Response:
    body = dumps({"code": err.code, "msg": err.msg, "detail": {"logid": logid}}).encode("utf-8")
    response = Response(body, status_code=err.status if err.status >= 400 else 400, media_type="application/json")
    response.headers[LOGID_HEADER] = logid
    return response


class _Session:
    """One socket: its chat configuration, the chat in progress, and the events it has sent."""

    def __init__(self, sim: Simulator, grant: TokenGrant, bot: BotScenario, socket: WebSocket, logid: str) -> None:
        self.sim = sim
        self.grant = grant
        self.bot = bot
        self.socket = socket
        self.logid = logid
        self.config = ChatConfig()
        self.conversation_id: str | None = None
        self.chat: ChatRecord | None = None

    def message(self, event_type: str, data: Any = None, origin: str | None = None) -> str:
        message: dict[str, Any] = {"id": self.sim.ids.new_id(), "event_type": event_type}
        if data is not None:
            message["data"] = data
        detail: dict[str, str] = {"logid": self.logid}
        if origin is not None:
            detail["origin_message"] = origin
        message["detail"] = detail
        return dumps(message)

    async def send(self, event_type: str, data: Any = None, origin: str | None = None) -> None:
        await self.socket.send_text(self.message(event_type, data, origin))

    async def _texts(self, events: list[Event]) -> AsyncGenerator[str, None]:
        delay = self.sim.config.event_delay_seconds
        for name, data in events:
            if delay:
                await asyncio.sleep(delay)
            yield self.message(name, data)

    def _error_text(self, code: int, msg: str) -> str:
        return self.message("error", {"code": code, "msg": msg})

    async def _stalled(self, seconds: float) -> None:
        """A stalled server: nothing is answered for `seconds`, or until the client goes away.

        Client messages that arrive meanwhile are dropped, as a hung server would never act on them.
        """

        async def until_gone() -> None:
            while (await self.socket.receive())["type"] != "websocket.disconnect":
                pass

        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(until_gone(), seconds)

    async def send_events(self, events: list[Event]) -> None:
        """One chat step's events, with the faults in force.

        A reset raises StreamAborted out of the route on purpose: uvicorn (each of its websocket
        implementations) then closes the transport without a close frame, which is the crash modelled.
        """
        texts = self._texts(events)
        plan = self.sim.faults.websocket_plan(self.bot.faults)
        if plan is not None:
            texts = plan.messages(texts, self._error_text, self._stalled)
        async with contextlib.aclosing(texts):
            async for text in texts:
                await self.socket.send_text(text)

    async def run(self) -> None:
        await self.send("chat.created")
        while True:
            try:
                raw = await self.socket.receive_text()
            except WebSocketDisconnect:
                return
            try:
                await self.handle(raw)
            except CozeError as err:
                await self.send("error", {"code": err.code, "msg": err.msg}, origin=raw[:4096])

    async def handle(self, raw: str) -> None:
        if len(raw.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise bad_request(f"message is larger than {MAX_MESSAGE_BYTES} bytes; send smaller messages")
        message = parse_json(raw, "message")  # not JSON, or nested too deeply: a 4000 error event
        if not isinstance(message, dict) or not isinstance(message.get("event_type"), str):
            raise bad_request("message must be a JSON object with a string event_type")
        event_type: str = message["event_type"]
        data = message.get("data") or {}
        if not isinstance(data, dict):
            raise bad_request(f"{event_type}: data must be a JSON object")
        if event_type == "chat.update":
            await self.update(validate(ChatUpdateData, data), data)
        elif event_type == "conversation.message.create":
            await self.create_message(validate(MessageCreateData, data).as_input())
        elif event_type == "conversation.chat.submit_tool_outputs":
            await self.submit(validate(SubmitData, data))
        elif event_type == "conversation.chat.cancel":
            await self.cancel()
        elif event_type == "conversation.clear":
            self.clear()
            await self.send("conversation.cleared")
        elif event_type in AUDIO_EVENTS:
            raise bad_request(f"{event_type}: audio is not modelled by the simulator; send text messages")
        else:
            raise bad_request(
                f"unknown event_type {event_type!r}; send chat.update, conversation.message.create, "
                "conversation.chat.submit_tool_outputs, conversation.chat.cancel or conversation.clear"
            )

    def clear(self) -> None:
        """A new context section in the connection's conversation, which stays the same (cozepy's
        ConversationClear: "会在当前 conversation 下新增一个 section"); the next chat sees no earlier message."""
        with self.sim.store.lock:
            self.chat = None
            if self.conversation_id is None:
                return
            conversation = open_conversation(self.sim, self.grant, self.conversation_id)
            conversation.section_id = self.sim.ids.new_id()
            conversation.updated_at = self.sim.clock.now()

    async def update(self, update: ChatUpdateData, raw: dict[str, Any]) -> None:
        if update.chat_config is not None:
            self.config = update.chat_config
            if update.chat_config.conversation_id:
                self.conversation_id = update.chat_config.conversation_id
        await self.send("chat.updated", raw)

    async def create_message(self, message: InputMessage) -> None:
        if message.role != "user":  # context only: the platform answers user messages
            with self.sim.store.lock:
                if self.conversation_id is not None:
                    conversation = open_conversation(self.sim, self.grant, self.conversation_id)
                    save_inputs(self.sim, conversation, [message])
            return
        if self.chat is not None and self.chat.status in ("created", "in_progress", "requires_action"):
            raise bad_request(
                f"chat {self.chat.id} is still {self.chat.status}; submit its tool outputs or cancel it first"
            )
        chat, events = start_chat(
            self.sim,
            self.grant,
            self.bot,
            self.conversation_id,
            [message],
            self.config.custom_variables,
            self.config.parameters,
            meta_data=self.config.meta_data,
            auto_save_history=self.config.auto_save_history is not False,
        )
        self.chat = chat
        self.conversation_id = chat.conversation_id
        await self.send_events(events)

    async def submit(self, submit: SubmitData) -> None:
        chat = self.chat
        if chat is None or chat.id != submit.chat_id:
            raise CozeError(
                Code.NOT_FOUND,
                f"chat {submit.chat_id} is not the chat of this connection; use the id from requires_action",
            )
        with self.sim.store.lock:
            events = self.sim.bots.submit(self.bot, chat, [(o.tool_call_id, o.output) for o in submit.tool_outputs])
            save_chat_history(self.sim, chat)
        await self.send_events(events)

    async def cancel(self) -> None:
        chat = self.chat
        if chat is None:
            raise bad_request("there is no chat to cancel on this connection")
        with self.sim.store.lock:
            self.sim.bots.cancel(chat)
        await self.send("conversation.chat.canceled", {"code": 2, "msg": "canceled by the client"})


@router.websocket("/v1/chat")
async def chat_socket(socket: WebSocket) -> None:
    sim: Simulator = socket.app.state.simulator
    logid = sim.logids.logid(sim.log_clock.now())
    try:
        grant = sim.auth.authenticate(socket)
        bot_id = socket.query_params.get("bot_id") or ""
        if not bot_id:
            raise bad_request("bot_id is required in the query string: /v1/chat?bot_id=...")
        bot = bot_of(sim, grant, bot_id)
        sim.check_request(bot)  # an http_error or rate_limit fault: the handshake is refused with it
    except CozeError as err:
        if "websocket.http.response" in socket.scope.get("extensions", {}):
            await socket.send_denial_response(_denial(err, logid))
        else:
            await socket.close(code=_POLICY_VIOLATION, reason=f"{err.code}: {err.msg}"[:120])
        return
    await socket.accept(headers=[(LOGID_HEADER.encode(), logid.encode())])
    await _Session(sim, grant, bot, socket, logid).run()
