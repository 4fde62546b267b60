"""The admin API under /_sim/: reset, the requests received, runtime scenarios; token-protected like every route."""

from __future__ import annotations

import json
from collections.abc import Iterator

import cozepy
import httpx
import pytest

from harness.inprocess import InProcessTransport, coze_over
from harness.sdk import event_name
from simulators.coze import DEFAULT_TOKEN, SimConfig, TokenGrant, create_app
from simulators.coze.admin import MAX_RUNTIME_SCENARIOS, MAX_SCENARIO_BYTES
from simulators.coze.requestlog import MAX_BODY_CHARS, RequestLog

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
ECHO_BOT = "7390000000000000001"
INLINE_BOT = "7390000000000055555"


def _chat(text: str = "hello", bot: str = ECHO_BOT, stream: bool = False) -> dict[str, object]:
    return {
        "bot_id": bot,
        "user_id": "u",
        "stream": stream,
        "additional_messages": [{"role": "user", "content": text, "content_type": "text"}],
    }


def _inline_bot(answer: str = "inline answer") -> dict[str, object]:
    return {"kind": "bot", "id": INLINE_BOT, "name": "inline", "description": "defined by a test", "answer": answer}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(transport=InProcessTransport(create_app()), base_url="http://sim") as http:
        yield http


def _data(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0, response.text
    data: dict[str, object] = body["data"]
    return data


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/_sim/reset"), ("GET", "/_sim/requests"), ("GET", "/_sim/scenarios"), ("POST", "/_sim/scenarios")],
)
def test_every_admin_route_takes_a_token(client: httpx.Client, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        # a body that breaks every limit: refused for the token, so it was never read
        response = client.request(method, path, headers=headers, content=b"{" * (MAX_SCENARIO_BYTES + 10))
        assert response.status_code == 401
        assert response.json()["code"] == 4100


def test_the_requests_received_with_the_token_redacted(client: httpx.Client) -> None:
    client.post("/v3/chat?conversation_id=7&x=a&x=b", json=_chat("first"), headers=AUTH)
    client.post("/v3/chat", json=_chat("refused"))  # no token: refused before its body was read
    client.get("/_sim/journal", headers=AUTH)  # admin paths are not logged
    response = client.get("/_sim/requests", headers=AUTH)
    assert DEFAULT_TOKEN not in response.text
    first, refused = _data(response)["requests"]  # type: ignore[misc]
    assert (first["id"], first["method"], first["path"]) == (0, "POST", "/v3/chat")
    assert first["query"] == {"conversation_id": ["7"], "x": ["a", "b"]}
    assert first["headers"]["authorization"] == "Bearer <redacted>"
    assert json.loads(first["body"])["additional_messages"][0]["content"] == "first"
    assert first["body_read"] is True and first["body_truncated"] is False
    assert refused["body"] is None and refused["body_read"] is False
    only = _data(client.get("/_sim/requests", params={"method": "post", "path": "/v3/chat"}, headers=AUTH))
    assert [entry["id"] for entry in only["requests"]] == [0, 1]  # type: ignore[attr-defined]
    assert _data(client.get("/_sim/requests", params={"path": "/v1/nothing"}, headers=AUTH))["requests"] == []


def test_other_credentials_are_redacted_and_a_token_in_any_form_is_never_stored() -> None:
    app = create_app(config=SimConfig(tokens=[TokenGrant(token="s3cret-token")]))
    with httpx.Client(transport=InProcessTransport(app), base_url="http://sim") as http:
        http.get("/v1/workspaces", headers={"Authorization": "s3cret-token", "Cookie": "session=s3cret-token"})
        http.get("/v1/workspaces", headers={"Authorization": "Bearer s3cret-token", "X-Api-Key": "s3cret-token"})
        text = http.get("/_sim/requests", headers={"Authorization": "Bearer s3cret-token"}).text
    assert "s3cret" not in text
    first, second = json.loads(text)["data"]["requests"]
    assert first["headers"]["authorization"] == "<redacted>" and first["headers"]["cookie"] == "<redacted>"
    assert second["headers"]["x-api-key"] == "<redacted>"


def test_the_request_log_is_bounded_in_count_and_body_size(client: httpx.Client) -> None:
    log = RequestLog(max_requests=3)
    for index in range(5):
        log.open({"method": "GET", "path": f"/{index}", "headers": [], "query_string": b""})
    assert [entry.path for entry in log.entries()] == ["/2", "/3", "/4"]
    big = "x" * (MAX_BODY_CHARS + 100)
    client.post("/v3/chat", json=_chat(big), headers=AUTH)
    (entry,) = _data(client.get("/_sim/requests", headers=AUTH))["requests"]  # type: ignore[misc]
    assert entry["body_truncated"] is True and len(entry["body"]) == MAX_BODY_CHARS


def test_reset_gives_the_simulator_as_it_started(client: httpx.Client) -> None:
    fresh = client.post("/v3/chat", json=_chat(), headers=AUTH).json()
    _data(client.post("/_sim/scenarios", json=_inline_bot(), headers=AUTH))
    second = client.post("/v3/chat", json=_chat(bot=INLINE_BOT), headers=AUTH).json()["data"]
    _data(client.post("/_sim/reset", headers=AUTH))
    assert _data(client.get("/_sim/requests", headers=AUTH))["requests"] == []
    assert client.get("/_sim/journal", headers=AUTH).json() == {"entries": []}
    again = client.post("/v3/chat", json=_chat(), headers=AUTH).json()
    assert again["data"] == fresh["data"]  # the same seeded ids and the same clock
    # the store is new: the second chat made before the reset is unknown; the runtime bot is gone
    ids = {"conversation_id": second["conversation_id"], "chat_id": second["id"]}
    assert client.get("/v3/chat/retrieve", params=ids, headers=AUTH).json()["code"] == 4200
    missing = client.post("/v3/chat", json=_chat(bot=INLINE_BOT), headers=AUTH).json()
    assert missing["code"] != 0 and INLINE_BOT in missing["msg"]
    (entry,) = client.get("/_sim/journal", headers=AUTH).json()["entries"][:1]
    assert entry["id"] == 0


def test_a_stream_open_during_a_reset_finishes_on_the_simulator_it_started_on() -> None:
    config = SimConfig(event_delay_seconds=0.02)  # the stream is still producing events while the reset runs
    with (
        httpx.Client(transport=InProcessTransport(create_app(config=config)), base_url="http://sim") as client,
        client.stream("POST", "/v3/chat", json=_chat("streamed", stream=True), headers=AUTH) as response,
    ):
        chunks = response.iter_bytes()
        first = next(chunks)
        _data(client.post("/_sim/reset", headers=AUTH))
        after = client.post("/v3/chat", json=_chat(), headers=AUTH).json()
        rest = b"".join(chunks)
    assert b"conversation.chat.created" in first and b"conversation.chat.completed" not in first
    assert b"conversation.chat.completed" in rest and rest.rstrip().endswith(b'"[DONE]"')
    # the chat made after the reset has the ids of the first chat of a fresh simulator: the stream that
    # kept running drew its ids from the simulator it started on
    with httpx.Client(transport=InProcessTransport(create_app(config=config)), base_url="http://sim") as other:
        assert other.post("/v3/chat", json=_chat(), headers=AUTH).json()["data"] == after["data"]


def test_a_bot_registered_at_runtime_is_served(client: httpx.Client) -> None:
    added = _data(client.post("/_sim/scenarios", json=_inline_bot("hi from the test"), headers=AUTH))
    assert added == {"id": INLINE_BOT, "kind": "bot", "replaced": False}
    rows = _data(client.get("/_sim/scenarios", headers=AUTH))["scenarios"]
    assert {"id": INLINE_BOT, "runtime": True}.items() <= next(r for r in rows if r["id"] == INLINE_BOT).items()  # type: ignore[union-attr]
    coze = coze_over(client._transport)  # the same app, through the real SDK
    message = cozepy.Message(role="user", type="question", content="hello", content_type="text")
    events = list(coze.chat.stream(bot_id=INLINE_BOT, user_id="u", additional_messages=[message]))
    assert event_name(events[-1]) == "conversation.chat.completed"
    answer = "".join(e.message.content for e in events if event_name(e) == "conversation.message.delta")
    assert answer == "hi from the test"
    replaced = _data(client.post("/_sim/scenarios", json=_inline_bot("second"), headers=AUTH))
    assert replaced["replaced"] is True


@pytest.mark.parametrize(
    ("scenario", "problem"),
    [
        ({"kind": "bot", "id": "x", "name": "n", "description": "d"}, "at id"),
        ({"kind": "bot", "id": INLINE_BOT, "name": "n"}, "at description: Field required"),
        ({"kind": "robot", "id": INLINE_BOT}, "kind"),
        ([1, 2], "JSON object"),
    ],
)
def test_an_invalid_scenario_is_refused_naming_the_problem(
    client: httpx.Client, scenario: object, problem: str
) -> None:
    body = client.post("/_sim/scenarios", json=scenario, headers=AUTH).json()
    assert body["code"] == 4000 and problem in body["msg"]


def test_runtime_scenarios_are_bounded_in_size_and_count(client: httpx.Client) -> None:
    huge = {**_inline_bot(), "description": "d" * MAX_SCENARIO_BYTES}
    body = client.post("/_sim/scenarios", json=huge, headers=AUTH).json()
    assert body["code"] == 4000 and str(MAX_SCENARIO_BYTES) in body["msg"]
    for index in range(MAX_RUNTIME_SCENARIOS):
        _data(
            client.post("/_sim/scenarios", json={**_inline_bot(), "id": str(7390000000000060000 + index)}, headers=AUTH)
        )
    over = client.post("/_sim/scenarios", json=_inline_bot(), headers=AUTH).json()
    assert over["code"] == 4000 and "limit" in over["msg"]
    # replacing one already registered is not a new one
    _data(client.post("/_sim/scenarios", json={**_inline_bot(), "id": "7390000000000060000"}, headers=AUTH))
    _data(client.post("/_sim/reset", headers=AUTH))
    _data(client.post("/_sim/scenarios", json=_inline_bot(), headers=AUTH))
