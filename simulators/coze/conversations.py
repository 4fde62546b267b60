"""What bot chats and chatflows share: the messages a client sends, and the conversation they join."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .auth import TokenGrant
from .context import Simulator
from .envelope import bad_request, not_found
from .inputs import Lenient, parse_json
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
    parts = parse_json(message.content, f"additional_messages[{index}].content (an object_string)")
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


def may_use(grant: TokenGrant, conversation: Conversation) -> bool:
    """Whether a token may read or extend a conversation: any token, unless it is scoped, when the
    conversation must have been started by a bot or workflow of its grant."""
    if grant.unrestricted:
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
    if found is None or not may_use(grant, found):
        raise not_found(f"conversation {conversation_id} does not exist; omit it to start a new one")
    return found
