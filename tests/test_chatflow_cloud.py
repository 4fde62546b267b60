"""Chatflows on cloud, as workflow_chat.md and coze-py#303 show them, met by the real cozepy.

- a question node pauses the chatflow with `conversation.chat.requires_action` (the whole Chat, no
  tool call), and the next `/v1/workflows/chat` call on the conversation continues it;
- an end-side plugin pauses it with `requires_action` carrying the tool call, and
  `chat.submit_tool_outputs` on that chat fails with an `error` event (a chatflow takes no local-plugin
  results), after which the next message starts a new run instead of resuming;
- the chatflow probe turns both into verdicts, never counting a question pause as tool-call support.
"""

from __future__ import annotations

import json

import cozepy
import httpx
import pytest
from conftest import user_message

from harness import sdk
from harness.matrix import Capability, Verdict
from harness.reporting import run_report
from simulators.coze import DEFAULT_TOKEN, RunningServer, SimConfig, create_app, running
from tests.spec_cases import sse_events

QUESTION_CHATFLOW = "7440000000000000017"
LOCAL_PLUGIN_CHATFLOW = "7440000000000000034"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}

needs_chatflow = pytest.mark.skipif(not sdk.has_workflow_chat(), reason="this cozepy has no workflows.chat")
needs_required_action = pytest.mark.skipif(
    not sdk.chat_has_required_action(), reason="this cozepy's Chat has no required_action"
)


def _turn(coze: cozepy.Coze, workflow_id: str, text: str, conversation_id: str | None = None) -> list[cozepy.ChatEvent]:
    kwargs = {"conversation_id": conversation_id} if conversation_id else {}
    return list(coze.workflows.chat.stream(workflow_id=workflow_id, additional_messages=[user_message(text)], **kwargs))


def _body(text: str, **extra: str) -> dict[str, object]:
    return {
        "additional_messages": [{"role": "user", "content": text, "content_type": "text"}],
        "parameters": {},
        **extra,
    }


@needs_chatflow
def test_a_question_pauses_with_requires_action_and_the_next_message_continues(coze: cozepy.Coze) -> None:
    first = _turn(coze, QUESTION_CHATFLOW, "weather please")
    names = [sdk.event_name(e) for e in first]
    assert names[-1] == "conversation.chat.requires_action"
    paused = first[-1].chat
    assert sdk.enum_value(paused.status) == "requires_action"
    assert getattr(paused, "required_action", None) is None  # a question is not a tool call
    verbose = [e.message.content for e in first if sdk.event_name(e) == "conversation.message.completed"]
    assert any('"msg_type":"interrupt"' in content for content in verbose)  # workflow_chat.md's example
    second = _turn(coze, QUESTION_CHATFLOW, "Paris", str(paused.conversation_id))
    assert sdk.event_name(second[-1]) == "conversation.chat.completed"
    answers = [e.message.content for e in second if sdk.event_name(e) == "conversation.message.completed"]
    assert "It is sunny in Paris." in answers


@needs_chatflow
@needs_required_action
def test_an_end_side_plugin_gives_a_tool_call_whose_outputs_are_refused(coze: cozepy.Coze) -> None:
    first = _turn(coze, LOCAL_PLUGIN_CHATFLOW, "Paris")
    paused = first[-1].chat
    calls = paused.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    outputs = [cozepy.ToolOutput(tool_call_id=calls[0].id, output="sunny")]
    with pytest.raises(Exception, match="error event") as raised:
        list(
            coze.chat.submit_tool_outputs(
                conversation_id=paused.conversation_id, chat_id=paused.id, tool_outputs=outputs, stream=True
            )
        )
    assert "对话流中不支持提交端插件结果" in str(raised.value)
    # the pause is gone: the same submit is now an unknown chat, and the next message starts a new run
    with pytest.raises(cozepy.CozeAPIError) as again:
        coze.chat.submit_tool_outputs(
            conversation_id=paused.conversation_id, chat_id=paused.id, tool_outputs=outputs, stream=False
        )
    assert again.value.code == 4200
    rerun = _turn(coze, LOCAL_PLUGIN_CHATFLOW, "Oslo", str(paused.conversation_id))
    assert sdk.event_name(rerun[-1]) == "conversation.chat.requires_action" and rerun[-1].chat.id != paused.id


def test_the_refusal_without_a_stream_is_an_envelope(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        events = sse_events(
            http.post("/v1/workflows/chat", json={"workflow_id": LOCAL_PLUGIN_CHATFLOW, **_body("x")}).text
        )
        chat = next(e.json() for e in events if e.event == "conversation.chat.requires_action")
        call = chat["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        response = http.post(
            "/v3/chat/submit_tool_outputs",
            params={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]},
            json={"stream": False, "tool_outputs": [{"tool_call_id": call, "output": "y"}]},
        )
    assert response.status_code == 400 and response.json()["code"] == 4000
    assert "does not accept local-plugin results" in response.json()["msg"]


def test_a_question_pause_is_not_answered_through_submit_tool_outputs(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        events = sse_events(http.post("/v1/workflows/chat", json={"workflow_id": QUESTION_CHATFLOW, **_body("x")}).text)
        chat = next(e.json() for e in events if e.event == "conversation.chat.requires_action")
        assert "required_action" not in chat
        response = http.post(
            "/v3/chat/submit_tool_outputs",
            params={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]},
            json={"stream": True, "tool_outputs": [{"tool_call_id": "1", "output": "y"}]},
        )
    assert response.json()["code"] == 4200  # not a bot chat, and not a tool call either


def test_studio_refuses_an_end_side_plugin_chatflow_before_streaming() -> None:
    with running(create_app(config=SimConfig(profile="studio"))) as server:
        response = httpx.post(
            f"{server.base_url}/v1/workflows/chat",
            headers=AUTH,
            json={"workflow_id": LOCAL_PLUGIN_CHATFLOW, **_body("x")},
            timeout=10,
        )
    assert response.json()["code"] == 4000 and "serve --profile cloud" in response.json()["msg"]


@needs_chatflow
@needs_required_action
def test_the_chatflow_probe_judges_cloud_cells_with_evidence() -> None:
    matrix = run_report(["chatflow"])
    cells = {cell.capability: cell for cell in matrix.cells}
    assert {c.value for c in cells} >= {"tool-call-event", "submit-method", "interrupt-resume", "local-code-reachable"}
    assert cells[Capability.INTERRUPT_RESUME].verdict is Verdict.SUPPORTED
    for capability in (Capability.TOOL_CALL_EVENT, Capability.SUBMIT_METHOD, Capability.OUTPUTS_IN_ANSWER):
        cell = cells[capability]
        assert cell.verdict is Verdict.ABSENT, cell
        assert "get_weather" in cell.reason and "error event" in cell.reason
    assert not [c for c in matrix.cells if c.verdict is Verdict.UNKNOWN]
    assert matrix.evidence["chatflow"].exchanges  # the verdicts rest on recorded traffic
