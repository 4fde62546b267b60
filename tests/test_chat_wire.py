"""The chat stream on the wire: exact bytes, framing rules, a spec-following parser, and views that agree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cozepy
import httpx
import httpx_sse
import pytest
from conftest import ECHO_BOT, RESEARCH_BOT, WEATHER_BOT, user_message

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, RunningServer, create_app, running

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
GOLDEN = Path(__file__).parent / "data" / "echo_chat_stream.sse"
CHAT_BODY = {
    "bot_id": ECHO_BOT,
    "user_id": "u",
    "stream": True,
    "additional_messages": [{"role": "user", "content": "Hi, 世界!", "content_type": "text"}],
}


@pytest.fixture
def fresh_sim() -> Iterator[RunningServer]:
    """A new simulator: ids and timestamps start from the seed, so bytes are reproducible."""
    with running(create_app()) as server:
        yield server


def _raw_stream(base_url: str, body: dict[str, object]) -> tuple[httpx.Headers, bytes]:
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("POST", "/v3/chat", params={"conversation_id": ""}, headers=AUTH, json=body) as response,
    ):
        return response.headers, b"".join(response.iter_raw())


def test_canonical_chat_stream_bytes(fresh_sim: RunningServer) -> None:
    headers, raw = _raw_stream(fresh_sim.base_url, CHAT_BODY)
    assert headers["content-type"] == "text/event-stream"
    assert raw == GOLDEN.read_bytes()


def test_stream_is_reproducible_from_the_seed() -> None:
    runs = []
    for _ in range(2):
        with running(create_app()) as server:
            runs.append(_raw_stream(server.base_url, CHAT_BODY)[1])
    assert runs[0] == runs[1]


def test_chat_framing_rules(fresh_sim: RunningServer) -> None:
    _, raw = _raw_stream(fresh_sim.base_url, {**CHAT_BODY, "bot_id": WEATHER_BOT})
    text = raw.decode("utf-8")
    assert text.endswith("\n\n") and "\r" not in text
    blocks = text[:-2].split("\n\n")
    for block in blocks:
        lines = block.split("\n")
        assert len(lines) == 2, block
        assert lines[0].startswith("event:") and not lines[0].startswith("event: ")
        assert lines[1].startswith("data:") and not lines[1].startswith("data: ")
        data = lines[1][len("data:") :]
        assert json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")) == data
    assert blocks[-1] == 'event:done\ndata:"[DONE]"'
    assert blocks[-2].startswith("event:conversation.chat.requires_action\n")


def _spec_events(base_url: str, body: dict[str, object]) -> list[tuple[str, object]]:
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        httpx_sse.connect_sse(client, "POST", "/v3/chat", headers=AUTH, json=body) as source,
    ):
        return [(event.event, json.loads(event.data)) for event in source.iter_sse()]


@pytest.mark.parametrize(
    "bot",
    [
        ECHO_BOT,
        pytest.param(
            WEATHER_BOT,
            marks=pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap())),
        ),
    ],
)
def test_spec_parser_and_cozepy_agree(fresh_sim: RunningServer, bot: str) -> None:
    body = {**CHAT_BODY, "bot_id": bot}
    spec = _spec_events(fresh_sim.base_url, body)
    assert spec[-1] == ("done", "[DONE]")
    with running(create_app()) as again:  # same seed, so the same ids
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=again.base_url)
        parsed = list(coze.chat.stream(bot_id=bot, user_id="u", additional_messages=[user_message("Hi, 世界!")]))
    assert [e.event.value for e in parsed] == [name for name, _ in spec[:-1]]
    for event, (_, data) in zip(parsed, spec[:-1], strict=True):
        model = event.chat if event.chat is not None else event.message
        assert model.id == data["id"]


@pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))
def test_views_agree(coze: cozepy.Coze) -> None:
    """Deltas == message.completed == message/list; chat.completed usage == retrieve usage; ids stable."""
    events = list(coze.chat.stream(bot_id=RESEARCH_BOT, user_id="u", additional_messages=[user_message("q")]))
    streamed_messages = [e.message for e in events if e.message is not None and e.event.value.endswith("completed")]
    chat_id = events[0].chat.id
    while events[-1].event.value == "conversation.chat.requires_action":
        chat = events[-1].chat
        assert chat.id == chat_id
        outputs = [
            cozepy.ToolOutput(tool_call_id=c.id, output=f"out-{c.function.name}")
            for c in chat.required_action.submit_tool_outputs.tool_calls
        ]
        events = list(
            coze.chat.submit_tool_outputs(
                conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs, stream=True
            )
        )
        streamed_messages += [
            e.message for e in events if e.message is not None and e.event.value.endswith("completed")
        ]
    final = events[-1].chat
    assert final.id == chat_id and final.status.value == "completed"
    deltas = "".join(e.message.content for e in events if e.event.value == "conversation.message.delta")
    answer = [m for m in streamed_messages if m.type.value == "answer"]
    assert len(answer) == 1 and answer[0].content == deltas
    assert {e.message.id for e in events if e.event.value == "conversation.message.delta"} == {answer[0].id}

    listed = coze.chat.messages.list(conversation_id=final.conversation_id, chat_id=chat_id)
    assert [(m.id, m.type.value, m.content) for m in listed] == [
        (m.id, m.type.value, m.content) for m in streamed_messages
    ]
    assert [m.type.value for m in listed] == [
        "function_call",
        "tool_response",
        "function_call",
        "tool_response",
        "answer",
        "verbose",
    ]
    retrieved = coze.chat.retrieve(conversation_id=final.conversation_id, chat_id=chat_id)
    assert retrieved.usage == final.usage
    assert retrieved.usage.token_count == retrieved.usage.input_count + retrieved.usage.output_count > 0


def test_old_request_forms_are_accepted(sim: RunningServer) -> None:
    """What cozepy <= 0.7 sends: conversation_id in the body, cancel ids in the query, list by POST."""
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        first = http.post(
            "/v3/chat",
            json={
                "bot_id": WEATHER_BOT,
                "user_id": "u",
                "stream": False,
                "conversation_id": None,
                "custom_variables": None,
                "meta_data": None,
                "auto_save_history": True,
                "additional_messages": [{"role": "user", "content": "Kyiv", "content_type": "text", "meta_data": None}],
            },
        ).json()["data"]
        second = http.post(
            "/v3/chat",
            json={
                "bot_id": ECHO_BOT,
                "user_id": "u",
                "stream": False,
                "conversation_id": first["conversation_id"],
                "additional_messages": [],
            },
        ).json()["data"]
        assert second["conversation_id"] == first["conversation_id"]
        ids = {"conversation_id": first["conversation_id"], "chat_id": first["id"]}
        assert http.post("/v3/chat/message/list", params=ids).json()["code"] == 0
        assert http.get("/v3/chat/retrieve", params=ids).json()["data"]["status"] == "requires_action"
        canceled = http.post("/v3/chat/cancel", params=ids).json()
        assert canceled["data"]["status"] == "canceled"
