"""The fast paths of the SSE encoder give the same bytes as the plain ones: `encode_data` (a message's
JSON reused around a new `content`) is `dumps`, and a `Frame` parses back what it was made from."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.coze.envelope import dumps
from simulators.coze.profiles import load_profile
from simulators.coze.sse import Frame, Variant, chat_end, chat_frame, encode_data, workflow_frame

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

_DELTA = {
    "id": "7390000000000012345",
    "conversation_id": "7390000000000012346",
    "bot_id": "7390000000000000900",
    "role": "assistant",
    "type": "answer",
    "content": "x",
    "content_type": "text",
    "chat_id": "7390000000000012347",
    "section_id": "7390000000000012348",
}


@pytest.mark.parametrize(
    "data",
    [
        _DELTA,
        {**_DELTA, "content": 'é \u2028 \u2029 \u0085 \n " \\ \x00 \U0001f600'},
        {**_DELTA, "id": "another"},  # same keys, another value: the cached parts must not be reused
        {"content": "only"},
        {"content": "", "b": "1", "a": "2"},
        {"a": "2", "content": "", "b": "1"},  # same items, another order
        {**_DELTA, "created_at": 1},  # not all strings: plain dumps
        {**_DELTA, "content": 1},
        {"content": "x", "meta": {"b": "1", "a": "2"}},
        {"content": "x", "meta": {"a": "2", "b": "1"}},
        {"content": "x", "id": "\x00coze-harness-content\x00"},  # a value holding the internal mark
        {"content": "\x00coze-harness-content\x00", "id": "1"},
        {"no_content": "x"},
        [1, "two", None],
        "text",
        None,
    ],
)
def test_encode_data_is_dumps(data: Any) -> None:
    assert encode_data(data) == dumps(data)
    assert encode_data(data) == dumps(data)  # a second time, from the cached parts


def test_encode_data_follows_a_run_of_deltas_and_its_changes() -> None:
    messages = [{**_DELTA, "content": piece} for piece in "héllo\u2028"]
    messages += [{**_DELTA, "id": "2", "content": piece} for piece in "ab"]
    messages += [{**_DELTA, "content": "done", "created_at": 5}]
    assert [encode_data(m) for m in messages] == [dumps(m) for m in messages]


def test_variants_encode_like_dicts_across_bases_and_interleaved_messages() -> None:
    """A run of Variants of one base, then of another, with plain dicts and non-string bases between."""
    base, other, numeric = dict(_DELTA), {**_DELTA, "id": "2"}, {**_DELTA, "id": 2}  # numeric: same keys
    messages: list[Any] = [Variant(base, piece) for piece in "héllo\u2028"]
    messages += [{**_DELTA, "content": "plain"}, Variant(other, "a"), Variant(base, "b"), Variant(other, "c")]
    messages += [Variant(numeric, "n"), Variant(numeric, "m"), Variant(base, "\x00coze-harness-content\x00")]
    assert [encode_data(m) for m in messages] == [dumps(dict(m)) for m in messages]
    assert all(dict(m) == m for m in messages)


def test_frames_parse_back_what_they_encode() -> None:
    chat = chat_frame("conversation.message.delta", _DELTA)
    assert isinstance(chat, Frame)
    assert bytes(chat) == f"event:conversation.message.delta\ndata:{dumps(_DELTA)}\n\n".encode()
    assert (chat.kind, chat.event, chat.data, chat.position) == (
        "chat",
        "conversation.message.delta",
        dumps(_DELTA),
        -1,
    )
    done = chat_end(load_profile("cloud").chat_end)
    assert isinstance(done, Frame) and (done.event, done.data) == ("done", '"[DONE]"')
    studio_done = chat_end(load_profile("studio").chat_end)
    assert bytes(studio_done) == b"event:conversation.stream.done\ndata:\n\n"
    assert (studio_done.event, studio_done.data) == ("conversation.stream.done", "")
    flow = workflow_frame(12, "Message", {"content": "a: b\u0085", "node_title": "End"})
    assert isinstance(flow, Frame)
    assert (flow.kind, flow.event, flow.data, flow.position) == (
        "workflow",
        "Message",
        dumps({"content": "a: b\u0085", "node_title": "End"}),
        12,
    )


def test_a_data_value_must_be_one_line() -> None:
    with pytest.raises(ValueError):
        chat_frame("x", "a\nb")
