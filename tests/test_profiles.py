"""Platform profiles: the studio profile's bytes, pinned, and the real cozepy against both platforms.

The cloud profile's bytes are pinned by test_chat_wire.py and test_workflow_wire.py (unchanged by
profiles). Here every difference reference/coze-studio.md lists is asserted on the wire, then the
installed cozepy is run against it to show what a client meets there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, WEATHER_BOT, user_message, weather_tools
from packaging.version import Version

from harness import sdk
from harness.local_plugin import AsyncLocalPluginRunner, LocalPluginRunner, PlatformUnsupportedError
from simulators.coze import (
    DEFAULT_TOKEN,
    Catalogue,
    RunningServer,
    SimConfig,
    create_app,
    load_profile,
    local_tls,
    running,
)
from simulators.coze.profiles import PLATFORMS, ProfileError
from simulators.coze.scenarios import BUILTIN_DIR

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
QUESTION_WORKFLOW = "7440000000000000002"
ECHO_CHATFLOW = "7440000000000000006"
QUESTION_CHATFLOW = "7440000000000000017"
RELEASE = Version(sdk.version())


@pytest.fixture
def studio() -> Iterator[RunningServer]:
    with running(create_app(config=SimConfig(profile="studio"))) as server:
        yield server


@pytest.fixture
def http(studio: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio.base_url, timeout=10) as client:
        yield client


def _chat(http: httpx.Client, bot_id: str, **extra: Any) -> httpx.Response:
    body = {"bot_id": bot_id, "user_id": "u", "additional_messages": [{"role": "user", "content": "Paris"}], **extra}
    return http.post("/v3/chat", params={"conversation_id": ""}, headers=AUTH, json=body)


def _frames(raw: str) -> list[dict[str, str]]:
    """Events split at blank lines into their fields, exactly as sent (no stripping of spaces)."""
    events = []
    for block in raw.split("\n\n"):
        if block:
            events.append({line.split(":", 1)[0]: line.split(":", 1)[1] for line in block.split("\n")})
    return events


# --- the profiles are data ----------------------------------------------------------------------


def test_both_profiles_load_and_an_unknown_one_is_refused() -> None:
    assert [load_profile(name).name for name in PLATFORMS] == ["cloud", "studio"]
    with pytest.raises(ProfileError, match="unknown platform profile 'coze-cn'; choose one of: cloud, studio"):
        load_profile("coze-cn")


def test_cloud_is_the_default() -> None:
    assert SimConfig().profile == "cloud"


# --- studio on the wire ---------------------------------------------------------------------------


def test_studio_chat_stream_ends_with_stream_done_and_empty_data(http: httpx.Client) -> None:
    response = _chat(http, ECHO_BOT, stream=True)
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-accel-buffering"] == "no"
    raw = response.text
    assert raw.startswith("event:conversation.chat.created\ndata:{")
    assert raw.endswith("}\n\nevent:conversation.stream.done\ndata:\n\n")
    lines = raw.split("\n")
    assert not any(line.startswith("id:") for line in lines) and "event:done" not in lines and "[DONE]" not in raw
    chats = [f["data"] for f in _frames(raw) if f["event"].startswith("conversation.chat.")]
    assert chats and all('"last_error"' not in data and '"required_action"' not in data for data in chats)


def test_studio_never_sends_requires_action_a_tool_round_is_a_verbose_interrupt(http: httpx.Client) -> None:
    raw = _chat(http, WEATHER_BOT, stream=True).text
    events = [f["event"] for f in _frames(raw)]
    assert events == [
        "conversation.chat.created",
        "conversation.chat.in_progress",
        "conversation.message.completed",
        "conversation.stream.done",
    ]
    assert '"type":"verbose","content":"{\\"msg_type\\":\\"interrupt\\",\\"data\\":\\"\\"}"' in raw
    assert "requires_action" not in raw and "tool_calls" not in raw
    ids = re.search(r'"id":"(\d+)","conversation_id":"(\d+)"', raw)
    assert ids is not None
    chat_id, conversation_id = ids.groups()
    query = {"conversation_id": conversation_id, "chat_id": chat_id}
    retrieved = http.get("/v3/chat/retrieve", params=query, headers=AUTH).json()
    assert retrieved["data"]["status"] == "required_action" and "required_action" not in retrieved["data"]
    assert "detail" not in retrieved
    canceled = http.post("/v3/chat/cancel", json=query, headers=AUTH).json()
    assert canceled["data"]["status"] == "cancelled"


def test_studio_has_no_submit_tool_outputs_and_answers_unknown_routes_like_its_router(http: httpx.Client) -> None:
    for method, path, status, body in (
        ("POST", "/v3/chat/submit_tool_outputs?conversation_id=1&chat_id=2", 404, "404 page not found"),
        ("GET", "/v1/workflows/7440000000000000002/run_histories/1", 404, "404 page not found"),
        ("GET", "/v3/no/such/thing", 404, "404 page not found"),
        ("DELETE", "/v3/chat", 404, "404 page not found"),  # hertz answers a wrong method as a 404
    ):
        response = http.request(method, path, headers=AUTH, json={})
        assert (response.status_code, response.text) == (status, body), path
        assert response.headers["content-type"].startswith("text/plain")


def test_studio_auth_failure_is_http_200_with_its_own_code(http: httpx.Client) -> None:
    cases = {
        None: b'{"code":700012006,"msg":"authentication failed: missing authorization in header"}',
        "Basic x": b'{"code":700012006,"msg":"authentication failed: missing api_key in request"}',
        "Bearer wrong": b'{"code":700012006,"msg":"authentication failed: api key invalid"}',
    }
    for header, body in cases.items():
        headers = {"Authorization": header} if header else {}
        response = http.post("/v3/chat", headers=headers, json={})
        assert (response.status_code, response.content) == (200, body)


def test_studio_message_list_is_under_messages_and_sync_chat_answers_at_the_end(http: httpx.Client) -> None:
    chat = _chat(http, ECHO_BOT).json()
    assert chat["data"]["status"] == "completed"  # OpenapiAgentRunSync answers after the stream completes
    query = {"conversation_id": chat["data"]["conversation_id"], "chat_id": chat["data"]["id"]}
    listed = http.get("/v3/chat/message/list", params=query, headers=AUTH)
    assert listed.content.startswith(b'{"code":0,"msg":"","Messages":[{')
    assert "data" not in listed.json()


def test_studio_workflow_stream_has_no_node_title_on_interrupt(http: httpx.Client) -> None:
    response = http.post("/v1/workflow/stream_run", headers=AUTH, json={"workflow_id": QUESTION_WORKFLOW})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    raw = response.text
    assert raw.startswith("id: 0\nevent: Message\ndata: {")
    interrupt = raw.split("\n\n")[1]
    assert interrupt.startswith('id: 1\nevent: Interrupt\ndata: {"debug_url":"')
    assert '"interrupt_data":{"event_id":"' in interrupt and "node_title" not in interrupt


def test_studio_chatflow_has_id_lines_from_1(http: httpx.Client) -> None:
    body = {"workflow_id": ECHO_CHATFLOW, "additional_messages": [{"role": "user", "content": "hi"}]}
    raw = http.post("/v1/workflows/chat", headers=AUTH, json=body).text
    frames = _frames(raw)
    assert [f["id"] for f in frames] == [f" {n}" for n in range(1, len(frames) + 1)]
    assert raw.startswith("id: 1\nevent: conversation.chat.created\ndata: {")
    assert frames[-1]["event"] == " done"


def test_studio_chatflow_question_pauses_with_requires_action_and_the_next_message_resumes(http: httpx.Client) -> None:
    body = {"workflow_id": QUESTION_CHATFLOW, "additional_messages": [{"role": "user", "content": "hi"}]}
    first = http.post("/v1/workflows/chat", headers=AUTH, json=body).text
    events = [f["event"].strip() for f in _frames(first)]
    assert events[-2:] == ["conversation.chat.requires_action", "done"]
    paused = _frames(first)[-2]["data"]
    assert '"status":"requires_action","execute_id":"' in paused and "required_action" not in paused
    assert "Which city?" in first
    conversation = re.search(r'"conversation_id":"(\d+)"', first)
    assert conversation is not None
    answer = {"workflow_id": QUESTION_CHATFLOW, "additional_messages": [{"role": "user", "content": "Oslo"}]}
    second = http.post(
        "/v1/workflows/chat", params={"conversation_id": conversation.group(1)}, headers=AUTH, json=answer
    ).text
    assert [f["event"].strip() for f in _frames(second)][-2:] == ["conversation.chat.completed", "done"]
    assert '"content":"It is sunny in Oslo."' in second


def test_studio_has_no_websocket_chat() -> None:
    import ssl

    import websockets.sync.client

    app = create_app(config=SimConfig(profile="studio"))
    with local_tls() as tls, running(app, tls=tls) as secure:
        url = secure.base_url.replace("https://", "wss://") + f"/v1/chat?bot_id={ECHO_BOT}"
        context = ssl.create_default_context(cafile=str(tls.ca_file))
        with pytest.raises(websockets.InvalidStatus) as refused:
            websockets.sync.client.connect(url, ssl=context, additional_headers=AUTH, open_timeout=5)
        assert refused.value.response.status_code == 404
        assert refused.value.response.body == b"404 page not found"


@pytest.mark.skipif(sdk.websocket_chat_gap() is not None, reason=str(sdk.websocket_chat_gap()))
def test_websocket_runner_says_the_platform_has_no_websocket_chat() -> None:
    from harness.local_plugin_ws import WebsocketLocalPluginRunner
    from harness.trust import trusting

    app = create_app(config=SimConfig(profile="studio"))
    with local_tls() as tls, running(app, tls=tls) as secure, trusting(tls.ca_file):
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=secure.base_url)
        runner = WebsocketLocalPluginRunner(coze, weather_tools(), chat_timeout=10)
        with pytest.raises(PlatformUnsupportedError, match=r"no websocket chat: .* HTTP 404; local plugins need"):
            runner.run(WEATHER_BOT, "Paris")


# --- the real cozepy against studio ---------------------------------------------------------------


def test_cozepy_reads_studio_auth_failure_as_its_code(studio: RunningServer) -> None:
    coze = cozepy.Coze(auth=cozepy.TokenAuth("wrong"), base_url=studio.base_url)
    with pytest.raises(cozepy.CozeAPIError) as raised:
        coze.chat.create(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")])
    assert raised.value.code == 700012006


def test_cozepy_on_studio_chat_stream_end(studio: RunningServer) -> None:
    """The closing `conversation.stream.done`: an unknown event, tolerated from 0.16.2 and fatal before."""
    coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
    stream = coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")])
    if Version("0.16.2") <= RELEASE:
        names = [sdk.event_name(event) for event in stream]
        assert names[-2:] == ["conversation.chat.completed", "unknown"]
    else:
        with pytest.raises(ValueError, match=r"conversation\.stream\.done"):
            list(stream)


def test_cozepy_cannot_read_studio_message_list(studio: RunningServer) -> None:
    coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
    chat = coze.chat.create(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")])
    assert sdk.enum_value(chat.status) == "completed"
    with pytest.raises(Exception) as raised:
        list(coze.chat.messages.list(conversation_id=chat.conversation_id, chat_id=chat.id))
    assert "validation error" in str(raised.value).lower()


def test_cozepy_fails_to_parse_studio_workflow_interrupt(studio: RunningServer) -> None:
    coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
    seen: list[str] = []
    with pytest.raises(Exception, match="node_title") as raised:
        for event in coze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW):
            seen.append(sdk.event_name(event))
    assert seen == ["Message"] and "WorkflowEventInterrupt" in str(raised.value)


@pytest.mark.skipif(Version("0.9.0") > RELEASE, reason="chatflows arrived in cozepy 0.9.0")
def test_cozepy_fails_to_parse_studio_chatflow_id_lines(studio: RunningServer) -> None:
    coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
    with pytest.raises(cozepy.CozeInvalidEventError, match="id: 1"):
        list(coze.workflows.chat.stream(workflow_id=ECHO_CHATFLOW, additional_messages=[user_message("hi")]))


def test_runner_says_the_platform_has_no_local_plugins(studio: RunningServer) -> None:
    if sdk.tool_call_gap() is not None:
        pytest.skip(f"this cozepy cannot run local plugins anywhere: {sdk.tool_call_gap()}")
    coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
    with pytest.raises(PlatformUnsupportedError) as raised:
        LocalPluginRunner(coze, weather_tools()).run(WEATHER_BOT, "Paris")
    message = str(raised.value)
    assert "sent no tool calls" in message and "coze-studio" in message and "cloud Coze" in message
    assert raised.value.result is not None and raised.value.result.rounds == 0


@pytest.mark.anyio
async def test_async_runner_says_the_platform_has_no_local_plugins(studio: RunningServer) -> None:
    if sdk.async_tool_call_gap() is not None:
        pytest.skip(f"this cozepy cannot run local plugins with the async client: {sdk.async_tool_call_gap()}")
    coze = cozepy.AsyncCoze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=studio.base_url)
    with pytest.raises(PlatformUnsupportedError, match="sent no tool calls"):
        await AsyncLocalPluginRunner(coze, weather_tools()).run(WEATHER_BOT, "Paris")


def test_runner_names_a_missing_submit_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that sends tool calls but has no submit_tool_outputs: a platform error, not a bare 404."""
    if sdk.tool_call_gap() is not None:
        pytest.skip(f"this cozepy cannot run local plugins anywhere: {sdk.tool_call_gap()}")
    import simulators.coze.simulator as simulator_module

    cloud = load_profile("cloud")
    go_router = cloud.envelope.model_copy(update={"missing_route": "plain-text"})
    no_submit = cloud.model_copy(update={"absent_endpoints": ["/v3/chat/submit_tool_outputs"], "envelope": go_router})
    monkeypatch.setattr(simulator_module, "load_profile", lambda name: no_submit)
    with running(create_app()) as server:
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=server.base_url)
        with pytest.raises(PlatformUnsupportedError, match="answered 404 to submit_tool_outputs") as raised:
            LocalPluginRunner(coze, weather_tools()).run(WEATHER_BOT, "Paris")
    assert raised.value.result is not None and raised.value.result.rounds == 1


INPUT_CHATFLOW = """\
kind: chatflow
id: "7449000000000000021"
name: form-chatflow
description: asks for a form in a chatflow
nodes:
  - kind: input
    title: Form
    fields:
      - {name: name, type: string}
      - {name: age, type: integer}
    save_as: form
  - kind: end
    answer: "{{ answer.form.name }} is {{ answer.form.age }}"
    output: {age: "{{ answer.form.age }}"}
"""


def test_studio_chatflow_input_node_takes_typed_lines_and_keeps_the_pause_after_a_bad_answer(
    tmp_path: Path,
) -> None:
    (tmp_path / "form.yaml").write_text(INPUT_CHATFLOW, encoding="utf-8")
    app = create_app(Catalogue.load(BUILTIN_DIR, tmp_path), SimConfig(profile="studio"))
    with running(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as http:

        def say(text: str, conversation: str = "") -> httpx.Response:
            body = {"workflow_id": "7449000000000000021", "additional_messages": [{"role": "user", "content": text}]}
            return http.post("/v1/workflows/chat", params={"conversation_id": conversation}, headers=AUTH, json=body)

        first = say("hi").text
        assert [f["event"].strip() for f in _frames(first)][-2:] == ["conversation.chat.requires_action", "done"]
        assert "form_schema" in first  # the form is sent as the answer the user reads
        found = re.search(r'"conversation_id":"(\d+)"', first)
        assert found is not None
        refused = say("name: Ada\nage: old", found.group(1)).json()
        assert refused["code"] == 4000 and "age" in refused["msg"] and "integer" in refused["msg"]
        done = say("name: Ada\nage: 36", found.group(1)).text  # the pause was kept for a right answer
        assert '"content":"Ada is 36"' in done
        assert [f["event"].strip() for f in _frames(done)][-2:] == ["conversation.chat.completed", "done"]
