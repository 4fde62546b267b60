"""Every client mistake on the chat endpoints gets a Coze envelope with the right code, never a 500."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, WEATHER_BOT, user_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, RunningServer, SimConfig, TokenGrant, create_app, running

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
needs_required_action = pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))


@pytest.fixture(scope="module")
def http(sim: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


def _envelope(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-tt-logid"]
    body = response.json()
    assert body["detail"]["logid"] == response.headers["x-tt-logid"]
    return body


def _requires_action(coze: cozepy.Coze, city: str = "Lima") -> cozepy.Chat:
    events = list(coze.chat.stream(bot_id=WEATHER_BOT, user_id="u", additional_messages=[user_message(city)]))
    assert events[-1].event.value == "conversation.chat.requires_action"
    return events[-1].chat


def _api_error_code(call: object) -> int:
    with pytest.raises(cozepy.CozeAPIError) as raised:
        result = call()  # type: ignore[operator]
        list(result) if not isinstance(result, cozepy.Chat) else None
    return int(raised.value.code)


def test_unknown_bot_is_4200(coze: cozepy.Coze) -> None:
    code = _api_error_code(
        lambda: coze.chat.create(bot_id="1234", user_id="u", additional_messages=[user_message("x")])
    )
    assert code == 4200


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic abc", "Bearer"])
def test_bad_or_missing_token_is_401_4100(http: httpx.Client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = http.post("/v3/chat", headers=headers, json={"bot_id": ECHO_BOT, "user_id": "u"})
    assert response.status_code == 401
    body = _envelope(response)
    assert body["code"] == 4100
    assert "Bearer" in str(body["msg"])


def test_bad_token_raises_through_cozepy(sim: RunningServer) -> None:
    coze = cozepy.Coze(auth=cozepy.TokenAuth("not-the-token"), base_url=sim.base_url)
    assert _api_error_code(lambda: coze.chat.create(bot_id=ECHO_BOT, user_id="u", additional_messages=[])) == 4100


def test_token_without_permission_is_4101() -> None:
    grants = [TokenGrant(token="narrow", bots=frozenset({ECHO_BOT}))]
    with running(create_app(config=SimConfig(tokens=grants))) as server:
        coze = cozepy.Coze(auth=cozepy.TokenAuth("narrow"), base_url=server.base_url)
        assert (
            _api_error_code(lambda: coze.chat.create(bot_id=WEATHER_BOT, user_id="u", additional_messages=[])) == 4101
        )
        chat = coze.chat.create(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("ok")])
        assert chat.bot_id == ECHO_BOT


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"user_id": "u"}).encode(), "bot_id is required"),
        (json.dumps({"bot_id": ECHO_BOT}).encode(), "user_id is required"),
        (json.dumps({"bot_id": 7390000000000000001, "user_id": "u"}).encode(), "bot_id is invalid"),
        (
            json.dumps({"bot_id": ECHO_BOT, "user_id": "u", "additional_messages": [{"role": "robot"}]}).encode(),
            "additional_messages[0].role",
        ),
        (
            json.dumps({"bot_id": ECHO_BOT, "user_id": "u", "additional_messages": "hi"}).encode(),
            "additional_messages",
        ),
    ],
)
def test_malformed_chat_body_is_4000_naming_the_field(http: httpx.Client, body: bytes, fragment: str) -> None:
    response = http.post("/v3/chat", headers={**AUTH, "content-type": "application/json"}, content=body)
    assert response.status_code == 400
    envelope = _envelope(response)
    assert envelope["code"] == 4000
    assert fragment in str(envelope["msg"])


def test_unknown_route_and_method_are_envelopes(http: httpx.Client) -> None:
    missing = http.get("/v3/nothing", headers=AUTH)
    assert (missing.status_code, _envelope(missing)["code"]) == (404, 4000)
    wrong = http.delete("/v3/chat", headers=AUTH)
    assert (wrong.status_code, _envelope(wrong)["code"]) == (405, 4000)
    slash = http.post("/v3/chat/", headers=AUTH, json={}, follow_redirects=False)  # not a redirect to /v3/chat
    assert (slash.status_code, _envelope(slash)["code"]) == (404, 4000)


def test_unknown_chat_is_4200(coze: cozepy.Coze) -> None:
    assert _api_error_code(lambda: coze.chat.retrieve(conversation_id="1", chat_id="2")) == 4200


def test_stream_request_error_is_json_not_a_stream(http: httpx.Client) -> None:
    response = http.post("/v3/chat", headers=AUTH, json={"bot_id": "42", "user_id": "u", "stream": True})
    assert _envelope(response)["code"] == 4200


@needs_required_action
def test_submit_errors_name_what_to_fix(coze: cozepy.Coze) -> None:
    chat = _requires_action(coze)
    calls = chat.required_action.submit_tool_outputs.tool_calls

    def submit(outputs: list[tuple[str, str]]) -> object:
        return lambda: coze.chat.submit_tool_outputs(
            conversation_id=chat.conversation_id,
            chat_id=chat.id,
            stream=False,
            tool_outputs=[cozepy.ToolOutput(tool_call_id=i, output=o) for i, o in outputs],
        )

    with pytest.raises(cozepy.CozeAPIError, match="not a pending tool call") as unknown:
        submit([("999", "x"), (calls[1].id, "y")])()
    assert unknown.value.code == 4000
    with pytest.raises(cozepy.CozeAPIError, match="no output for pending") as missing:
        submit([(calls[0].id, "x")])()
    assert missing.value.code == 4000
    with pytest.raises(cozepy.CozeAPIError, match="more than once"):
        submit([(calls[0].id, "x"), (calls[0].id, "x"), (calls[1].id, "y")])()
    submit([(calls[0].id, "x"), (calls[1].id, "y")])()
    with pytest.raises(cozepy.CozeAPIError, match="not waiting for tool outputs") as again:
        submit([(calls[0].id, "x"), (calls[1].id, "y")])()
    assert again.value.code == 4000


def test_submit_to_a_chat_that_never_asked(coze: cozepy.Coze) -> None:
    events = list(coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")]))
    chat = events[0].chat
    with pytest.raises(cozepy.CozeAPIError, match="not waiting for tool outputs") as raised:
        coze.chat.submit_tool_outputs(
            conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=[], stream=False
        )
    assert raised.value.code == 4000


def _submit_racing(base_url: str, chat: cozepy.Chat, barrier: threading.Barrier, results: list[object]) -> None:
    client = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=base_url)
    outputs = [
        cozepy.ToolOutput(tool_call_id=c.id, output="o") for c in chat.required_action.submit_tool_outputs.tool_calls
    ]
    barrier.wait()
    try:
        stream = client.chat.submit_tool_outputs(
            conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs, stream=True
        )
        results.append(list(stream))
    except cozepy.CozeAPIError as exc:
        results.append(exc)


@needs_required_action
def test_racing_submits_yield_one_continuation(coze: cozepy.Coze, sim: RunningServer) -> None:
    for attempt in range(5):
        chat = _requires_action(coze, f"city{attempt}")
        barrier = threading.Barrier(2, timeout=10)
        results: list[object] = []
        threads = [
            threading.Thread(target=_submit_racing, args=(sim.base_url, chat, barrier, results)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        errors = [r for r in results if isinstance(r, cozepy.CozeAPIError)]
        streams = [r for r in results if isinstance(r, list)]
        assert len(errors) == 1 and errors[0].code == 4000
        assert len(streams) == 1
        completions = [e for e in streams[0] if e.event.value == "conversation.chat.completed"]
        assert len(completions) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["bot_id", "user_id", "stream", "additional_messages", "role", "content", "x"]),
                inner,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_no_chat_body_yields_a_server_error(http: httpx.Client, body: object) -> None:
    for path in ("/v3/chat", "/v3/chat/submit_tool_outputs?conversation_id=1&chat_id=2", "/v3/chat/cancel"):
        response = http.post(path, headers=AUTH, json=body)
        assert response.status_code < 500, response.text
        if response.headers["content-type"] == "application/json":
            envelope = response.json()
            assert envelope["code"] == 0 or envelope["msg"]
