"""The workflow endpoints the spec has beside run and stream: non-stream resume, node runs in the run
history, list, retrieve and versions; and what each cozepy release makes of the recorded run-history shape.

The cozepy tests do what the official examples of coze-py v0.20.0 do (examples/workflow_execute_node.py,
workflow_retrieve.py, workflow_version_list.py), each skipped on a release that lacks the call.
"""

from __future__ import annotations

import json
import time

import cozepy
import httpx
import pytest
from packaging.version import Version

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, RunningServer
from tests.spec_cases import sse_events

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
JOKE = "7440000000000000001"
QUESTION = "7440000000000000002"
FORECAST = "7440000000000000010"
UNPUBLISHED = "7440000000000000009"
ECHO_CHATFLOW = "7440000000000000006"
SDK = Version(sdk.version())


_WORKFLOWS = cozepy.Coze(auth=cozepy.TokenAuth("x"), base_url="http://127.0.0.1:9").workflows
"""A client that never connects: only its surface is read, to skip what a release lacks."""


def _has(owner: object, name: str) -> bool:
    return hasattr(owner, name)


def _async_run_history(coze: cozepy.Coze, workflow_id: str) -> tuple[str, object]:
    """workflow_execute_node.py's first half: an async run polled until it leaves Running (bounded)."""
    started = coze.workflows.runs.create(workflow_id=workflow_id, is_async=True)
    deadline = time.monotonic() + 10
    while True:
        history = coze.workflows.runs.run_histories.retrieve(workflow_id=workflow_id, execute_id=started.execute_id)
        if sdk.enum_value(history.execute_status) != "Running" or time.monotonic() > deadline:
            return started.execute_id, history
        time.sleep(0.05)


@pytest.mark.skipif(not sdk.has_run_histories(), reason="this cozepy cannot read run histories")
def test_each_release_meets_the_recorded_run_history_shape(coze: cozepy.Coze) -> None:
    """error_code is "" on success (recorded); cozepy 0.14+ reads it as 0, 0.7 to 0.13 type it int and fail."""
    if Version("0.14.0") <= SDK:
        _, history = _async_run_history(coze, JOKE)
        assert sdk.enum_value(history.execute_status) == "Success" and history.error_code == 0
    else:
        with pytest.raises(Exception, match="error_code"):
            _async_run_history(coze, JOKE)


@pytest.mark.skipif(
    not (sdk.has_run_histories() and Version("0.17.0") <= SDK), reason="this cozepy has no execute_nodes.retrieve"
)
def test_workflow_execute_node_example(coze: cozepy.Coze) -> None:
    execute_id, history = _async_run_history(coze, JOKE)
    uuids = [status.node_execute_uuid for status in history.node_execute_status.values()]
    assert len(uuids) == 2  # the message node and the end node
    outputs = [
        coze.workflows.runs.run_histories.execute_nodes.retrieve(
            workflow_id=JOKE, execute_id=execute_id, node_execute_uuid=uuid
        )
        for uuid in uuids
    ]
    assert all(node.is_finish for node in outputs)
    assert json.loads(outputs[-1].node_output) == {"output": "A joke about rulers", "topic": "rulers"}


@pytest.mark.skipif(not _has(_WORKFLOWS, "retrieve"), reason="no retrieve")
def test_workflow_retrieve_example(coze: cozepy.Coze) -> None:
    info = coze.workflows.retrieve(workflow_id=FORECAST)
    assert info.workflow_detail.workflow_id == FORECAST and info.workflow_detail.workflow_name == "forecast-workflow"
    assert info.response.logid


@pytest.mark.skipif(not _has(_WORKFLOWS, "versions"), reason="no versions")
def test_workflow_version_list_example(coze: cozepy.Coze) -> None:
    versions = list(coze.workflows.versions.list(workflow_id=FORECAST))
    assert [(v.version, v.creator.name) for v in versions] == [("v0.0.1", "coze-harness")]
    assert int(versions[0].created_at) > 0


@pytest.mark.skipif(not _has(_WORKFLOWS, "list"), reason="no workflows.list")
def test_workflows_list_pages_through_the_catalogue(coze: cozepy.Coze) -> None:
    listed = list(coze.workflows.list(workspace_id="7439000000000000001", page_size=5))
    ids = [w.workflow_id for w in listed]
    assert JOKE in ids and ECHO_CHATFLOW in ids and UNPUBLISHED not in ids and len(ids) == len(set(ids))
    chatflows = list(coze.workflows.list(workspace_id="7439000000000000001", workflow_mode="chatflow"))
    assert ECHO_CHATFLOW in [w.workflow_id for w in chatflows] and JOKE not in [w.workflow_id for w in chatflows]


def test_retrieve_shows_inputs_on_request(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        plain = http.get(f"/v1/workflows/{FORECAST}").json()["data"]
        full = http.get(f"/v1/workflows/{FORECAST}", params={"include_input_output": "true"}).json()["data"]
        unknown = http.get("/v1/workflows/7999999999999999999")
    assert set(plain) == {"workflow_detail"}
    assert full["input"]["parameters"]["city"] == {
        "type": "string",
        "required": True,
        "description": "the city to forecast",
    }
    assert unknown.status_code == 404 and unknown.json()["code"] == 4200


def test_non_stream_resume_answers_like_a_run(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        events = sse_events(http.post("/v1/workflow/stream_run", json={"workflow_id": QUESTION}).text)
        interrupt = next(e.json() for e in events if e.event == "Interrupt")["interrupt_data"]
        body = {"workflow_id": QUESTION, "event_id": interrupt["event_id"], "resume_data": "Paris"}
        resumed = http.post("/v1/workflows/resume", json={**body, "interrupt_type": interrupt["type"]}).json()
        again = http.post("/v1/workflows/resume", json={**body, "interrupt_type": interrupt["type"]}).json()
    assert list(resumed) == ["code", "msg", "data", "debug_url", "usage", "detail"]
    assert json.loads(resumed["data"]) == {"output": "It is sunny in Paris.", "city": "Paris"}
    assert again["code"] == 4000 and "already resumed" in again["msg"]


def test_node_runs_of_a_paused_run_show_the_pause(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        events = sse_events(http.post("/v1/workflow/stream_run", json={"workflow_id": QUESTION}).text)
        execute_id = next(e.json() for e in events if e.event == "Interrupt")["interrupt_data"]["event_id"].split("/")[
            0
        ]
        history = http.get(f"/v1/workflows/{QUESTION}/run_histories/{execute_id}").json()["data"][0]
        missing = http.get(f"/v1/workflows/{QUESTION}/run_histories/{execute_id}/execute_nodes/7999999999999999999")
    assert history["execute_status"] == "Running"
    assert [status["is_finish"] for status in history["node_execute_status"].values()] == [False]
    assert missing.status_code == 404 and "node_execute_status" in missing.json()["msg"]


def test_a_run_names_a_bot_or_an_app_never_both(sim: RunningServer) -> None:
    app, bot = "7442086830000000001", "7390000000000000001"
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        in_app = http.post("/v1/workflow/run", json={"workflow_id": JOKE, "app_id": app}).json()
        both = http.post("/v1/workflow/run", json={"workflow_id": JOKE, "app_id": app, "bot_id": bot}).json()
        chat = {"workflow_id": ECHO_CHATFLOW, "app_id": app, "bot_id": bot, "additional_messages": []}
        chatflow = http.post("/v1/workflows/chat", json=chat).json()
    assert in_app["code"] == 0
    assert both["code"] == 4000 and "bot_id and app_id" in both["msg"]
    assert chatflow["code"] == 4000 and "bot_id and app_id" in chatflow["msg"]
