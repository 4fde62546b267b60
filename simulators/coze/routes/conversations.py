"""Conversations: the one a chat or chatflow joins (or starts), and who may use it."""

from __future__ import annotations

from ..auth import TokenGrant
from ..envelope import not_found
from ..simulator import Simulator
from ..store import Conversation


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
