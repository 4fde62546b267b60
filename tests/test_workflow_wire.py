"""Workflow streams and run envelopes on the wire: exact bytes, framing rules, a spec parser, envelope shapes."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cozepy
import httpx
import httpx_sse
import pytest
from conftest import user_message

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, Catalogue, RunningServer, SimConfig, create_app, running

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
DATA = Path(__file__).parent / "data"
UPDATE = os.environ.get("COZE_HARNESS_UPDATE_GOLDEN") == "1"  # rewrite the golden files instead of comparing

JOKE = "7440000000000000001"
QUESTION = "7440000000000000002"
INPUT = "7440000000000000003"
FAILING = "7440000000000000004"
CHATFLOW = "7440000000000000006"
SLOW = "7440000000000000007"
TIMEOUT = "7440000000000000008"
# A topic with a quote, a newline and non-ASCII text: the data line must stay one line of compact UTF-8 JSON.
JOKE_BODY = {"workflow_id": JOKE, "parameters": {"topic": 'the "big"\nscreen, 世界'}}
TERMINAL = {"Done", "Error", "Interrupt"}
HISTORY_TYPES = {
    "execute_id": str,
    "execute_status": str,
    "bot_id": str,
    "connector_id": str,
    "connector_uid": str,
    "run_mode": int,
    "logid": str,
    "create_time": int,
    "update_time": int,
    "output": str,
    "error_code": str,  # "" on success: the spec, workflow_history.md, coze-py's recorded history
    "error_message": str,
    "debug_url": str,
    "is_output_trimmed": bool,
    "usage": dict,
    "node_execute_status": dict,
}


@pytest.fixture
def fresh_sim() -> Iterator[RunningServer]:
    """A new simulator: ids start from the seed, so bytes are reproducible."""
    with running(create_app()) as server:
        yield server


def _raw(base_url: str, path: str, body: dict[str, Any]) -> tuple[httpx.Headers, bytes]:
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("POST", path, headers=AUTH, json=body) as response,
    ):
        return response.headers, b"".join(response.iter_raw())


def _golden(name: str, raw: bytes) -> None:
    path = DATA / name
    if UPDATE:
        path.write_bytes(raw)
    assert raw == path.read_bytes(), f"{name} differs; rerun with COZE_HARNESS_UPDATE_GOLDEN=1 if intended"


def _blocks(raw: bytes) -> list[tuple[int, str, Any]]:
    """Check the workflow framing of a whole stream and return its events as (id, event, data)."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n") and "\r" not in text
    events = []
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        assert len(lines) == 3, block
        id_line, event_line, data_line = lines
        assert re.fullmatch(r"id: (0|[1-9][0-9]*)", id_line), id_line
        assert re.fullmatch(r"event: [A-Za-z]+", event_line), event_line
        assert data_line.startswith("data: ") and not data_line.startswith("data:  ")
        data = data_line[len("data: ") :]
        value = json.loads(data)
        assert json.dumps(value, ensure_ascii=False, separators=(",", ":")) == data
        events.append((int(id_line[len("id: ") :]), event_line[len("event: ") :], value))
    assert [index for index, _, _ in events] == list(range(len(events)))
    return events


def _interrupt_of(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = _blocks(raw)[-1][2]
    return data


# --- exact bytes ------------------------------------------------------------------------------


def test_canonical_workflow_stream_bytes(fresh_sim: RunningServer) -> None:
    headers, raw = _raw(fresh_sim.base_url, "/v1/workflow/stream_run", JOKE_BODY)
    assert headers["content-type"] == "text/event-stream"
    _golden("joke_workflow_stream.sse", raw)


def test_canonical_interrupt_and_resume_bytes(fresh_sim: RunningServer) -> None:
    _, first = _raw(fresh_sim.base_url, "/v1/workflow/stream_run", {"workflow_id": QUESTION})
    _golden("question_workflow_interrupt.sse", first)
    interrupt = _interrupt_of(first)["interrupt_data"]
    headers, resumed = _raw(
        fresh_sim.base_url,
        "/v1/workflow/stream_resume",
        {"workflow_id": QUESTION, "event_id": interrupt["event_id"], "resume_data": "Paris", "interrupt_type": 2},
    )
    assert headers["content-type"] == "text/event-stream"
    _golden("question_workflow_resume.sse", resumed)


def test_workflow_stream_is_reproducible_from_the_seed() -> None:
    runs = []
    for _ in range(2):
        with running(create_app()) as server:
            runs.append(_raw(server.base_url, "/v1/workflow/stream_run", {"workflow_id": QUESTION})[1])
    assert runs[0] == runs[1]


# --- framing rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow_id", "last"),
    [
        (JOKE, "Done"),
        (QUESTION, "Interrupt"),
        (INPUT, "Interrupt"),
        (FAILING, "Error"),
        (SLOW, "Done"),
        (TIMEOUT, "Error"),
    ],
)
@pytest.mark.cozepy_free
def test_workflow_framing_rules(sim: RunningServer, workflow_id: str, last: str) -> None:
    headers, raw = _raw(sim.base_url, "/v1/workflow/stream_run", {"workflow_id": workflow_id})
    assert headers["content-type"] == "text/event-stream"
    assert headers["x-tt-logid"]
    events = _blocks(raw)
    names = [name for _, name, _ in events]
    assert names[-1] == last and not TERMINAL & set(names[:-1])
    debug_url = events[-1][2]["debug_url"]
    assert re.fullmatch(
        rf"https://www\.coze\.com/work_flow\?execute_id=\d{{19}}&space_id=\d{{19}}&workflow_id={workflow_id}", debug_url
    )
    seqs: dict[str, int] = {}
    for _, name, data in events:
        if name == "Message":
            assert list(data)[:7] == [
                "content",
                "content_type",
                "node_title",
                "node_seq_id",
                "node_id",
                "node_type",
                "node_is_finish",
            ]
            assert data["node_seq_id"] == str(seqs.get(data["node_id"], 0))
            seqs[data["node_id"]] = seqs.get(data["node_id"], 0) + 1
        elif name == "PING":
            assert data == {}
        elif name == "Error":
            assert list(data) == ["error_code", "error_message", "debug_url"]
        elif name == "Interrupt":
            assert list(data) == ["interrupt_data", "node_title", "debug_url"]
            assert list(data["interrupt_data"]) == ["event_id", "type", "data"]
            assert isinstance(data["interrupt_data"]["data"], str)
        else:
            assert data == {"debug_url": debug_url}
    if workflow_id == SLOW:
        assert names.count("PING") >= 1


def test_interrupt_data_payloads(sim: RunningServer) -> None:
    question = _interrupt_of(_raw(sim.base_url, "/v1/workflow/stream_run", {"workflow_id": QUESTION})[1])
    assert question["interrupt_data"]["type"] == 2
    assert json.loads(question["interrupt_data"]["data"]) == {
        "messages": [
            {
                "type": "question",
                "content_type": "text",
                "content": "Which city's weather do you want?",
                "id": "100002_0",
            }
        ]
    }
    form = _interrupt_of(_raw(sim.base_url, "/v1/workflow/stream_run", {"workflow_id": INPUT})[1])
    assert form["interrupt_data"]["type"] == 5
    data = json.loads(form["interrupt_data"]["data"])
    assert data["content_type"] == "form_schema"
    assert [f["name"] for f in json.loads(data["content"])] == ["name", "age"]


def test_resumed_stream_counts_ids_from_zero_and_quotes_the_answer(sim: RunningServer) -> None:
    interrupt = _interrupt_of(_raw(sim.base_url, "/v1/workflow/stream_run", {"workflow_id": QUESTION})[1])
    body = {
        "workflow_id": QUESTION,
        "event_id": interrupt["interrupt_data"]["event_id"],
        "resume_data": "Zürich",
        "interrupt_type": 2,
    }
    events = _blocks(_raw(sim.base_url, "/v1/workflow/stream_resume", body)[1])
    assert events[0][0] == 0 and events[-1][1] == "Done"
    end = [data for _, name, data in events if name == "Message"][-1]
    assert (end["node_type"], end["node_id"], end["node_is_finish"]) == ("End", "900001", True)
    assert json.loads(end["content"])["city"] == "Zürich"
    assert set(end["usage"]) == {"token_count", "output_count", "input_count"}


def test_chatflow_uses_chat_framing(sim: RunningServer) -> None:
    body = {
        "workflow_id": CHATFLOW,
        "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
        "parameters": {},
    }
    headers, raw = _raw(sim.base_url, "/v1/workflows/chat", body)
    assert headers["content-type"] == "text/event-stream"
    text = raw.decode("utf-8")
    assert text.endswith("\n\n")
    names = []
    for block in text[:-2].split("\n\n"):
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event:") and data_line.startswith("data:")
        names.append(event_line[len("event:") :])
        data = json.loads(data_line[len("data:") :])
        if names[-1].startswith("conversation.chat."):
            assert {"id", "conversation_id", "status", "usage"} <= set(data)
    assert names[0] == "conversation.chat.created" and names[-2] == "conversation.chat.completed"
    assert names[-1] == "done"
    assert re.fullmatch(
        r'data:\{"debug_url":"https://www\.coze\.com/work_flow\?execute_id=\d+&space_id=\d+&workflow_id=\d+"\}',
        text[:-2].split("\n\n")[-1].split("\n")[1],
    )


def test_chatflow_error_node_is_chat_failed(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "kind: chatflow\nid: '7449000000000000002'\nname: broken\ndescription: fails\nnodes:\n"
        "  - {kind: message, title: M, content: 'partial '}\n"
        "  - {kind: error, title: LLM, code: 5000, message: model overloaded}\n",
        encoding="utf-8",
    )
    with running(create_app(Catalogue.load(tmp_path))) as server:
        _, raw = _raw(server.base_url, "/v1/workflows/chat", {"workflow_id": "7449000000000000002"})
    blocks = raw.decode("utf-8")[:-2].split("\n\n")
    assert blocks[-2].startswith("event:conversation.chat.failed\n")
    failed = json.loads(blocks[-2].split("\n")[1][len("data:") :])
    assert failed["status"] == "failed" and failed["last_error"] == {"code": 5000, "msg": "model overloaded"}
    assert blocks[-1].startswith('event:done\ndata:{"debug_url":')


# --- a spec-following parser reads what cozepy reads ------------------------------------------


def _spec_events(base_url: str, path: str, body: dict[str, Any]) -> list[tuple[str, str, Any]]:
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        httpx_sse.connect_sse(client, "POST", path, headers=AUTH, json=body) as source,
    ):
        return [(event.id, event.event, json.loads(event.data)) for event in source.iter_sse()]


@pytest.mark.parametrize("body", [JOKE_BODY, {"workflow_id": QUESTION}, {"workflow_id": FAILING}])
def test_spec_parser_and_cozepy_agree(body: dict[str, Any]) -> None:
    with running(create_app()) as server:
        spec = _spec_events(server.base_url, "/v1/workflow/stream_run", body)
    with running(create_app()) as again:  # same seed, same ids
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=again.base_url)
        parsed = list(coze.workflows.runs.stream(workflow_id=body["workflow_id"], parameters=body.get("parameters")))
    expected = [(int(i), name, data) for i, name, data in spec if name != "Done"]  # cozepy skips Done
    assert [(e.id, e.event.value) for e in parsed] == [(i, name) for i, name, _ in expected]
    for event, (_, name, data) in zip(parsed, expected, strict=True):
        if name == "Message":
            assert (event.message.content, event.message.node_seq_id) == (data["content"], data["node_seq_id"])
        elif name == "Interrupt":
            assert event.interrupt.interrupt_data.event_id == data["interrupt_data"]["event_id"]
        else:
            assert event.error.error_code == data["error_code"]


@pytest.mark.skipif(not sdk.has_workflow_chat(), reason=f"cozepy {sdk.version()} has no workflows.chat.stream")
def test_spec_parser_and_cozepy_agree_on_chatflows() -> None:
    body = {"workflow_id": CHATFLOW, "additional_messages": [{"role": "user", "content": "x", "content_type": "text"}]}
    with running(create_app()) as server:
        spec = _spec_events(server.base_url, "/v1/workflows/chat", body)
    with running(create_app()) as again:
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=again.base_url)
        parsed = list(coze.workflows.chat.stream(workflow_id=CHATFLOW, additional_messages=[user_message("x")]))
    assert spec[-1][1] == "done"
    assert [e.event.value for e in parsed] == [name for _, name, _ in spec[:-1]]
    for event, (_, _, data) in zip(parsed, spec[:-1], strict=True):
        model = event.chat if event.chat is not None else event.message
        assert model.id == data["id"]


# --- run envelopes ----------------------------------------------------------------------------


def test_sync_run_envelope_is_flat(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        response = http.post("/v1/workflow/run", json={"workflow_id": JOKE, "parameters": {"topic": "x"}})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["code", "msg", "data", "debug_url", "usage", "detail"]
    assert (body["code"], body["msg"]) == (0, "")
    assert json.loads(body["data"]) == {"output": "A joke about x", "topic": "x"}
    assert body["detail"]["logid"] == response.headers["x-tt-logid"]
    assert body["usage"]["token_count"] == body["usage"]["input_count"] + body["usage"]["output_count"]


@pytest.mark.cozepy_free
def test_async_run_envelope_and_history_shape(sim: RunningServer) -> None:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        started = http.post("/v1/workflow/run", json={"workflow_id": SLOW, "is_async": True}).json()
        assert list(started) == ["code", "msg", "execute_id", "debug_url", "detail"]
        url = f"/v1/workflows/{SLOW}/run_histories/{started['execute_id']}"
        deadline = time.monotonic() + 10
        statuses = []
        while True:
            response = http.get(url)
            body = response.json()
            assert body["code"] == 0 and isinstance(body["data"], list) and len(body["data"]) == 1
            history = body["data"][0]
            assert {key: type(history[key]) for key in HISTORY_TYPES} == HISTORY_TYPES
            statuses.append(history["execute_status"])
            if history["execute_status"] != "Running" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert statuses[0] == "Running" and statuses[-1] == "Success"
    assert history["run_mode"] == 2 and history["debug_url"] == started["debug_url"]
    assert history["logid"] and history["is_output_trimmed"] is False
    assert history["error_code"] == ""
    assert {status["node_id"] for status in history["node_execute_status"].values()} == {"100002", "900001"}


def test_old_and_odd_request_forms_are_accepted(sim: RunningServer) -> None:
    """What cozepy < 0.12 sends (nulls), unknown keys, and parameters JSON-encoded as a string."""
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        nulls = http.post(
            "/v1/workflow/run",
            json={"workflow_id": JOKE, "parameters": None, "bot_id": None, "ext": None, "app_id": None, "x": 1},
        ).json()
        assert nulls["code"] == 0
        encoded = http.post(
            "/v1/workflow/run", json={"workflow_id": JOKE, "parameters": json.dumps({"topic": "s"})}
        ).json()
        assert json.loads(encoded["data"])["topic"] == "s"
        with http.stream(
            "POST", "/v1/workflow/stream_run", json={"workflow_id": JOKE, "parameters": None, "bot_id": None}
        ) as response:
            assert response.headers["content-type"] == "text/event-stream"
            assert _blocks(response.read())[-1][1] == "Done"


@pytest.mark.cozepy_free
def test_closing_a_stream_early_fails_the_execution(sim: RunningServer) -> None:
    """A client that hangs up mid-run leaves no execution Running forever."""
    with (
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http,
        http.stream("POST", "/v1/workflow/stream_run", json={"workflow_id": SLOW, "bot_id": "7"}) as response,
    ):
        first = next(response.iter_lines())
        assert first == "id: 0"
    # The stream names its execution only in its last event, so look it up (by the marker bot_id) in the store.
    simulator = sim.app.state.simulator
    with simulator.store.lock:
        (execute_id,) = [e.id for e in simulator.store.executions.values() if e.bot_id == "7"]
    url = f"/v1/workflows/{SLOW}/run_histories/{execute_id}"
    deadline = time.monotonic() + 5
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        while True:
            history = http.get(url).json()["data"][0]
            if history["execute_status"] != "Running" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert history["execute_status"] == "Fail" and history["error_code"] == "5000"
    assert "closed the stream" in history["error_message"]


@pytest.mark.cozepy_free
def test_event_delay_paces_but_does_not_change_the_bytes(fresh_sim: RunningServer) -> None:
    _, plain = _raw(fresh_sim.base_url, "/v1/workflow/stream_run", JOKE_BODY)
    with running(create_app(config=SimConfig(event_delay_seconds=0.03))) as slow:
        started = time.monotonic()
        _, paced = _raw(slow.base_url, "/v1/workflow/stream_run", JOKE_BODY)
        assert time.monotonic() - started >= 0.03 * (len(_blocks(paced)) - 1)
    assert paced == plain
