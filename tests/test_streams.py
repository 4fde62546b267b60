"""The stream grammar and the evidence parser, on hand-made streams."""

from __future__ import annotations

import pytest

from harness.streams import CHAT, CHAT_AFTER_SUBMIT, WORKFLOW, parse_sse

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)


def test_parse_sse_follows_the_spec() -> None:
    text = ': comment\nevent:a\ndata:{"x":1}\n\nid: 3\nevent: b\ndata: line1\ndata: line2\n\r\ndata:plain\n\n'
    events = parse_sse(text)
    assert [(e.event, e.data, e.id) for e in events] == [
        ("a", '{"x":1}', None),
        ("b", "line1\nline2", "3"),
        ("message", "plain", None),
    ]


def test_parse_sse_drops_an_unterminated_last_event() -> None:
    assert [e.event for e in parse_sse("event:a\ndata:1\n\nevent:b\ndata:2")] == ["a"]


@pytest.mark.parametrize(
    "names",
    [
        [
            "conversation.chat.created",
            "conversation.chat.in_progress",
            "conversation.message.delta",
            "conversation.message.completed",
            "conversation.chat.completed",
            "done",
        ],
        [
            "conversation.chat.created",
            "conversation.chat.in_progress",
            "conversation.message.completed",
            "conversation.chat.requires_action",
            "done",
        ],
        ["conversation.chat.created", "conversation.chat.in_progress", "conversation.chat.failed", "done"],
    ],
)
def test_chat_grammar_accepts_the_three_endings(names: list[str]) -> None:
    transitions, violation = CHAT.check(names)
    assert violation is None
    assert transitions[-1] == "done -> (end)"
    assert set(transitions) <= CHAT.all_transitions


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        (["conversation.chat.in_progress", "done"], "cannot follow '(start)'"),
        (["conversation.chat.created", "conversation.chat.in_progress", "done"], "'done' cannot follow"),
        (
            ["conversation.chat.created", "conversation.chat.in_progress", "conversation.chat.completed"],
            "cannot end after",
        ),
        (
            [
                "conversation.chat.created",
                "conversation.chat.in_progress",
                "conversation.chat.completed",
                "done",
                "conversation.chat.completed",
            ],
            "cannot follow 'done'",
        ),
    ],
)
def test_chat_grammar_names_the_first_violation(names: list[str], fragment: str) -> None:
    _, violation = CHAT.check(names)
    assert violation is not None and fragment in violation


def test_continuation_starts_in_progress() -> None:
    assert CHAT_AFTER_SUBMIT.check(["conversation.chat.in_progress", "conversation.chat.completed", "done"])[1] is None
    assert CHAT_AFTER_SUBMIT.check(["conversation.chat.created"])[1] is not None


def test_workflow_grammar() -> None:
    assert WORKFLOW.check(["Message", "Message", "Done"])[1] is None
    assert WORKFLOW.check(["Message", "Interrupt", "Done"])[1] is None
    assert WORKFLOW.check(["Message", "Error"])[1] is None
    assert WORKFLOW.check(["Done", "Message"])[1] is not None


def test_a_prefix_is_judged_without_its_end() -> None:
    prefix = ["conversation.chat.created", "conversation.chat.in_progress", "conversation.chat.requires_action"]
    assert CHAT.check(prefix)[1] is not None
    assert CHAT.check(prefix, whole=False)[1] is None
    assert CHAT.check(["conversation.chat.in_progress"], whole=False)[1] is not None
