"""What bot chats and chatflows share: the messages a client sends, and the conversation they join."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from .context import Simulator
from .envelope import bad_request, not_found
from .inputs import Lenient
from .state import Conversation


class InputMessage(Lenient):
    role: Literal["user", "assistant"]
    content: str = ""
    content_type: Literal["text", "object_string", "card"] = "text"
    type: str | None = None


def _text_of(message: InputMessage, index: int) -> str:
    """Plain text, or the text parts of an object_string (a JSON array of typed parts)."""
    if message.content_type != "object_string":
        return message.content
    try:
        parts = json.loads(message.content)
    except json.JSONDecodeError:
        parts = None
    if not isinstance(parts, list):
        raise bad_request(
            f"additional_messages[{index}].content must be a JSON array of parts when content_type is object_string"
        )
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")


def user_text(messages: Sequence[InputMessage]) -> str:
    """What the bot or chatflow reads as `{{ user }}`: the last user message; every message is validated."""
    text = ""
    for index, message in enumerate(messages):
        content = _text_of(message, index)
        if message.role == "user":
            text = content
    return text


def open_conversation(sim: Simulator, conversation_id: str | None) -> Conversation:
    """The named conversation (4200 if unknown) or a new one. Hold the store lock."""
    if conversation_id is None:
        conversation = Conversation(id=sim.ids.new_id(), section_id=sim.ids.new_id(), created_at=sim.clock.now())
        sim.store.conversations[conversation.id] = conversation
    else:
        found = sim.store.conversations.get(conversation_id)
        if found is None:
            raise not_found(f"conversation {conversation_id} does not exist; omit it to start a new one")
        conversation = found
    return conversation
