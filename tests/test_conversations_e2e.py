"""Conversations and messages end to end: the real cozepy client (sync and async) over a loopback socket doing
what cozepy's official examples at v0.20.0 do (examples/conversation.py, conversation_create.py,
conversation_list.py, conversation_update.py, conversation_delete.py, chat_conversation_stream.py), then
reading the saved history back. Each step the installed release lacks is skipped by capability."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import cozepy
import pytest

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, RunningServer, SimConfig, create_app, running

ECHO_BOT, HISTORY_BOT = "7390000000000000001", "7390000000000000020"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running(create_app()) as started:
        yield started


@pytest.fixture
def coze(server: RunningServer) -> cozepy.Coze:
    return cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=server.base_url)


def _probe() -> cozepy.Coze:
    return cozepy.Coze(auth=cozepy.TokenAuth("x"), base_url="http://127.0.0.1:9")


def _has(owner: Any, name: str) -> bool:
    return hasattr(owner, name)


def _user(text: str) -> Any:
    """A user question, built as the release builds one (`user_text_message` until 0.5)."""
    build = getattr(cozepy.Message, "build_user_question_text", None) or cozepy.Message.user_text_message
    return build(text)


def _assistant(text: str) -> Any:
    build = getattr(cozepy.Message, "build_assistant_answer", None) or cozepy.Message.assistant_text_message
    return build(text)


def _create_parameters() -> list[str]:
    return sdk.method_parameters(_probe().conversations, "create")


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _stream_answer(coze: cozepy.Coze, conversation_id: str, text: str) -> str:
    """chat_conversation_stream.py: the first completed message of a stream in the conversation."""
    for event in coze.chat.stream(
        bot_id=HISTORY_BOT,
        user_id="fake user id",
        additional_messages=[_user(text)],
        conversation_id=conversation_id,
    ):
        if sdk.event_name(event) == "conversation.message.completed":
            content: str = event.message.content
            return content
    raise AssertionError("the stream had no completed message")


def test_conversation_example_create_retrieve_message_clear(coze: cozepy.Coze) -> None:
    """examples/conversation.py."""
    conversation = coze.conversations.create()
    retrieved = coze.conversations.retrieve(conversation_id=conversation.id)
    assert retrieved.id == conversation.id and retrieved.meta_data == {} and retrieved.created_at > 0
    message = coze.conversations.messages.create(
        conversation_id=conversation.id,
        role=cozepy.MessageRole.USER,
        content="hi",
        content_type=cozepy.MessageContentType.TEXT,
    )
    assert message.content == "hi" and message.conversation_id == conversation.id
    if not _has(coze.conversations, "clear"):
        pytest.skip(f"cozepy {sdk.version()} has no conversations.clear")
    section = coze.conversations.clear(conversation_id=conversation.id)
    assert section.conversation_id == conversation.id and section.id != retrieved.last_section_id
    assert coze.conversations.retrieve(conversation_id=conversation.id).last_section_id == section.id


@pytest.mark.skipif("name" not in _create_parameters(), reason=f"cozepy {sdk.version()}'s create takes no name")
def test_conversation_create_example_every_argument(coze: cozepy.Coze) -> None:
    """examples/conversation_create.py: empty, named, with a bot, with messages, with meta_data, with a connector."""
    assert coze.conversations.create().name == ""
    assert coze.conversations.create(name="my test").name == "my test"
    assert coze.conversations.create(bot_id=ECHO_BOT, name="bound").name == "bound"
    with_messages = coze.conversations.create(messages=[_user("hello"), _assistant("hi!")], name="with messages")
    listed = coze.conversations.messages.list(conversation_id=with_messages.id)
    assert [(m.role, m.content) for m in listed.items] == [("assistant", "hi!"), ("user", "hello")]
    meta = {"source": "example_script", "user_type": "developer"}
    assert coze.conversations.create(name="with meta", meta_data=meta).meta_data == meta
    assert coze.conversations.create(name="api", connector_id="1024").connector_id == "1024"


@pytest.mark.skipif(not _has(_probe().conversations, "list"), reason=f"cozepy {sdk.version()} has no list")
def test_conversation_list_example_pages(coze: cozepy.Coze) -> None:
    """examples/conversation_list.py: every conversation of a bot, two a page, by item and by page."""
    made = [coze.conversations.create(bot_id=HISTORY_BOT).id for _ in range(5)]
    conversations = coze.conversations.list(bot_id=HISTORY_BOT, page_size=2)
    seen = [conversation.id for conversation in conversations]
    assert seen[: len(made)] == made[::-1]  # newest first; any earlier test's come after
    pages = [page.items for page in conversations.iter_pages()]
    assert all(len(items) <= 2 for items in pages) and [c.id for items in pages for c in items] == seen
    assert all(c.last_section_id for items in pages for c in items)


@pytest.mark.skipif(not _has(_probe().conversations, "update"), reason=f"cozepy {sdk.version()} has no update")
def test_conversation_update_and_delete_examples(coze: cozepy.Coze) -> None:
    """examples/conversation_update.py and conversation_delete.py; a deleted conversation is gone for chat too."""
    conversation = coze.conversations.create(bot_id=HISTORY_BOT, name="old")
    updated = coze.conversations.update(conversation_id=conversation.id, name="新的会话名称")
    assert updated.id == conversation.id and updated.name == "新的会话名称" and updated.updated_at
    resp = coze.conversations.delete(conversation_id=conversation.id)
    assert resp.response.logid
    for call in (
        lambda: coze.conversations.retrieve(conversation_id=conversation.id),
        lambda: _stream_answer(coze, conversation.id, "still there?"),
    ):
        with pytest.raises(cozepy.CozeAPIError) as raised:
            call()
        assert raised.value.code == 4200


def test_chat_conversation_stream_example_sees_and_saves_history(coze: cozepy.Coze) -> None:
    """examples/chat_conversation_stream.py, then messages.list shows the saved history, paged one by one."""
    conversation = coze.conversations.create(
        messages=[_user("You need to translate the Chinese to English."), _assistant("OK.")]
    )
    answer = _stream_answer(coze, conversation.id, "地球与宇宙")
    assert answer.startswith("I see 2 earlier message(s)") and "You said: 地球与宇宙" in answer
    again = _stream_answer(coze, conversation.id, "second")
    assert again.startswith("I see 4 earlier message(s)")

    newest_first = coze.conversations.messages.list(conversation_id=conversation.id)
    contents = [m.content for m in newest_first.items]
    assert contents == [again, "second", answer, "地球与宇宙", "OK.", "You need to translate the Chinese to English."]
    if _has(newest_first, "iter_pages"):  # 0.6+: the client walks the pages by after_id = last_id
        one_by_one = coze.conversations.messages.list(conversation_id=conversation.id, limit=1)
        assert [m.content for m in one_by_one] == contents

    if _has(coze.conversations, "clear"):
        coze.conversations.clear(conversation_id=conversation.id)
        assert _stream_answer(coze, conversation.id, "fresh").startswith("I see 0 earlier message(s)")


def test_message_retrieve_update_delete(coze: cozepy.Coze) -> None:
    conversation = coze.conversations.create()
    message = coze.conversations.messages.create(
        conversation_id=conversation.id,
        role=cozepy.MessageRole.USER,
        content="draft",
        content_type=cozepy.MessageContentType.TEXT,
        meta_data={"k": "v"},
    )
    retrieved = coze.conversations.messages.retrieve(conversation_id=conversation.id, message_id=message.id)
    assert retrieved.content == "draft" and retrieved.meta_data == {"k": "v"}
    updated = coze.conversations.messages.update(
        conversation_id=conversation.id,
        message_id=message.id,
        content="final",
        content_type=cozepy.MessageContentType.TEXT,
    )
    assert updated.id == message.id and updated.content == "final"
    deleted = coze.conversations.messages.delete(conversation_id=conversation.id, message_id=message.id)
    assert deleted.id == message.id
    assert coze.conversations.messages.list(conversation_id=conversation.id).items == []
    with pytest.raises(cozepy.CozeAPIError) as raised:
        coze.conversations.messages.retrieve(conversation_id=conversation.id, message_id=message.id)
    assert raised.value.code == 4200


@pytest.mark.skipif(
    not _has(_probe().conversations.messages, "feedback"), reason=f"cozepy {sdk.version()} has no feedback"
)
def test_message_feedback(coze: cozepy.Coze) -> None:
    conversation = coze.conversations.create(bot_id=HISTORY_BOT)
    _stream_answer(coze, conversation.id, "rate this")
    answer = coze.conversations.messages.list(conversation_id=conversation.id).items[0]
    from cozepy.conversations.message.feedback import FeedbackType

    feedback = coze.conversations.messages.feedback
    feedback.create(conversation_id=conversation.id, message_id=answer.id, feedback_type=FeedbackType.LIKE)
    feedback.delete(conversation_id=conversation.id, message_id=answer.id)


@pytest.mark.anyio
@pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")
async def test_async_client_conversations_and_messages(server: RunningServer) -> None:
    auth = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)(DEFAULT_TOKEN)
    coze = cozepy.AsyncCoze(auth=auth, base_url=server.base_url)
    conversation = await coze.conversations.create(messages=[_user("context"), _assistant("noted")])
    retrieved = await coze.conversations.retrieve(conversation_id=conversation.id)
    assert retrieved.id == conversation.id
    message = await coze.conversations.messages.create(
        conversation_id=conversation.id,
        role=cozepy.MessageRole.USER,
        content="more",
        content_type=cozepy.MessageContentType.TEXT,
    )
    listed = await _maybe_await(coze.conversations.messages.list(conversation_id=conversation.id))
    assert [m.content for m in listed.items] == ["more", "noted", "context"]
    got = await coze.conversations.messages.retrieve(conversation_id=conversation.id, message_id=message.id)
    assert got.content == "more"
    await coze.conversations.messages.delete(conversation_id=conversation.id, message_id=message.id)

    stream = await _maybe_await(
        coze.chat.stream(
            bot_id=HISTORY_BOT, user_id="u", additional_messages=[_user("hello")], conversation_id=conversation.id
        )
    )
    answers = [e.message.content async for e in stream if sdk.event_name(e) == "conversation.message.completed"]
    assert answers[0].startswith("I see 2 earlier message(s)")
    if _has(coze.conversations, "clear"):
        section = await coze.conversations.clear(conversation_id=conversation.id)
        assert section.conversation_id == conversation.id
    if _has(coze.conversations, "delete"):
        await coze.conversations.delete(conversation_id=conversation.id)
        with pytest.raises(cozepy.CozeAPIError):
            await coze.conversations.retrieve(conversation_id=conversation.id)


def test_against_the_studio_profile_cozepy_reads_create_only_with_meta_data_and_never_retrieve() -> None:
    """What coze-studio's shapes do to cozepy (every release: `Conversation.meta_data` is a required dict): a
    create without meta_data answers `meta_data: null`, which the client refuses; retrieve answers under
    `ConversationData`, so the client finds no conversation in it."""
    with running(create_app(config=SimConfig(profile="studio"))) as studio:
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
        with pytest.raises(Exception) as refused:
            coze.conversations.create()
        assert type(refused.value).__name__ == "ValidationError" and "meta_data" in str(refused.value)
        conversation = coze.conversations.create(meta_data={"k": "v"})
        assert conversation.meta_data == {"k": "v"}
        with pytest.raises(Exception) as unread:
            coze.conversations.retrieve(conversation_id=conversation.id)
        assert type(unread.value).__name__ == "ValidationError"
