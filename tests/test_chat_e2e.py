"""The local-plugin flow end to end: the unmodified cozepy client against the simulator over loopback."""

from __future__ import annotations

import json

import cozepy
import pytest
from conftest import ECHO_BOT, FAILING_BOT, RESEARCH_BOT, WEATHER_BOT, user_message

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, RunningServer

pytestmark = pytest.mark.e2e

needs_required_action = pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))


def _events(stream: object) -> list[object]:
    return list(stream)  # type: ignore[call-overload]


def _fake_tool(name: str, arguments: str) -> str:
    args = json.loads(arguments)
    return f"{name}({','.join(f'{k}={v}' for k, v in sorted(args.items()))})"


def test_plain_bot_streams_answer_quoting_the_user(coze: cozepy.Coze) -> None:
    events = _events(coze.chat.stream(bot_id=ECHO_BOT, user_id="u1", additional_messages=[user_message("héllo 世界")]))
    names = [e.event.value for e in events]
    assert names[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
    assert names[-1] == "conversation.chat.completed"
    deltas = "".join(e.message.content for e in events if e.event.value == "conversation.message.delta")
    assert deltas == "You said: héllo 世界"
    completed = next(e for e in events if e.event.value == "conversation.chat.completed")
    assert completed.chat.status.value == "completed"


@needs_required_action
@pytest.mark.parametrize("stream_submit", [True, False], ids=["submit-stream", "submit-nonstream"])
def test_two_tools_one_round(coze: cozepy.Coze, stream_submit: bool) -> None:
    events = _events(coze.chat.stream(bot_id=WEATHER_BOT, user_id="u1", additional_messages=[user_message("Paris")]))
    action = events[-1]
    assert action.event.value == "conversation.chat.requires_action"
    calls = action.chat.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    outputs = [
        cozepy.ToolOutput(tool_call_id=c.id, output=_fake_tool(c.function.name, c.function.arguments)) for c in calls
    ]
    chat = action.chat
    if stream_submit:
        after = _events(
            coze.chat.submit_tool_outputs(
                conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs, stream=True
            )
        )
        final = after[-1]
        assert final.event.value == "conversation.chat.completed"
        assert final.chat.id == chat.id
        answer = [
            e for e in after if e.event.value == "conversation.message.completed" and e.message.type.value == "answer"
        ]
        text = answer[0].message.content
    else:
        resumed = coze.chat.submit_tool_outputs(
            conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs, stream=False
        )
        assert resumed.id == chat.id
        assert coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id).status.value == "completed"
        messages = coze.chat.messages.list(conversation_id=chat.conversation_id, chat_id=chat.id)
        text = next(m for m in messages if m.type.value == "answer").content
    assert text == ("Weather: get_weather(city=Paris,unit=celsius). Local time: get_time(timezone=Asia/Shanghai).")


@needs_required_action
def test_two_rounds_chain_outputs(coze: cozepy.Coze) -> None:
    events = _events(coze.chat.stream(bot_id=RESEARCH_BOT, user_id="u1", additional_messages=[user_message("notes")]))
    rounds: list[list[str]] = []
    for _ in range(5):
        last = events[-1]
        if last.event.value != "conversation.chat.requires_action":
            break
        calls = last.chat.required_action.submit_tool_outputs.tool_calls
        rounds.append([c.function.name for c in calls])
        outputs = []
        for call in calls:
            args = json.loads(call.function.arguments)
            output = (
                f"/docs/{args['query']}.md" if call.function.name == "search_files" else f"contents of {args['path']}"
            )
            outputs.append(cozepy.ToolOutput(tool_call_id=call.id, output=output))
        events = _events(
            coze.chat.submit_tool_outputs(
                conversation_id=last.chat.conversation_id,
                chat_id=last.chat.id,
                tool_outputs=outputs,
                stream=True,
            )
        )
    assert rounds == [["search_files"], ["read_file"]]
    assert events[-1].event.value == "conversation.chat.completed"
    answer = "".join(e.message.content for e in events if e.event.value == "conversation.message.delta")
    assert answer == "Found /docs/notes.md; it says: contents of /docs/notes.md"


@pytest.mark.skipif("last_error" not in sdk.chat_fields(), reason="this cozepy's Chat has no last_error")
def test_failing_bot_delivers_chat_failed(coze: cozepy.Coze) -> None:
    events = _events(coze.chat.stream(bot_id=FAILING_BOT, user_id="u1", additional_messages=[user_message("hi")]))
    failed = events[-1]
    assert failed.event.value == "conversation.chat.failed"
    assert (failed.chat.last_error.code, failed.chat.last_error.msg) == (5000, "event interval error")


@pytest.mark.skipif(not sdk.has_create_and_poll(), reason=f"cozepy {sdk.version()} has no chat.create_and_poll")
def test_create_and_poll_non_stream(coze: cozepy.Coze) -> None:
    poll = coze.chat.create_and_poll(bot_id=ECHO_BOT, user_id="u1", additional_messages=[user_message("poll me")])
    assert poll.chat.status.value == "completed"
    answers = [m.content for m in poll.messages if m.type.value == "answer"]
    assert answers == ["You said: poll me"]


@pytest.mark.skipif("canceled" not in sdk.chat_status_values(), reason="this cozepy cannot parse status 'canceled'")
@needs_required_action
def test_cancel_a_chat_waiting_for_tools(coze: cozepy.Coze) -> None:
    events = _events(coze.chat.stream(bot_id=WEATHER_BOT, user_id="u1", additional_messages=[user_message("Oslo")]))
    chat = events[-1].chat
    canceled = coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert canceled.status.value == "canceled"
    with pytest.raises(cozepy.CozeAPIError) as raised:
        coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert raised.value.code == 4000


def test_conversation_is_reused(coze: cozepy.Coze) -> None:
    first = _events(coze.chat.stream(bot_id=ECHO_BOT, user_id="u1", additional_messages=[user_message("one")]))
    conversation_id = first[0].chat.conversation_id
    second = _events(
        coze.chat.stream(
            bot_id=ECHO_BOT,
            user_id="u1",
            conversation_id=conversation_id,
            additional_messages=[user_message("two")],
        )
    )
    assert second[0].chat.conversation_id == conversation_id
    assert second[0].chat.id != first[0].chat.id


@pytest.mark.anyio
@pytest.mark.skipif(not sdk.has_async_submit_stream(), reason="this cozepy has no async submit_tool_outputs_stream")
@needs_required_action
async def test_async_client_local_plugin_flow(sim: RunningServer) -> None:
    client = cozepy.AsyncCoze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url)
    events = [
        e
        async for e in await _maybe_await(
            client.chat.stream(bot_id=WEATHER_BOT, user_id="u1", additional_messages=[user_message("Rome")])
        )
    ]
    chat = events[-1].chat
    calls = chat.required_action.submit_tool_outputs.tool_calls
    outputs = [cozepy.ToolOutput(tool_call_id=c.id, output=c.function.name.upper()) for c in calls]
    after = [
        e
        async for e in await _maybe_await(
            client.chat.submit_tool_outputs_stream(
                conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs
            )
        )
    ]
    assert after[-1].event.value == "conversation.chat.completed"
    answer = "".join(e.message.content for e in after if e.event.value == "conversation.message.delta")
    assert answer == "Weather: GET_WEATHER. Local time: GET_TIME."


async def _maybe_await(value: object) -> object:
    """Async stream methods are coroutines returning a stream in some releases, generators in others."""
    import inspect

    return await value if inspect.isawaitable(value) else value  # type: ignore[misc]
