"""Every client mistake on the workflow endpoints is a Coze envelope with the right code, before any stream."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import cozepy
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import sdk
from simulators.coze import DEFAULT_TOKEN, RunningServer, SimConfig, TokenGrant, create_app, running

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}

JOKE = "7440000000000000001"
QUESTION = "7440000000000000002"
INPUT = "7440000000000000003"
CHATFLOW = "7440000000000000006"
TIMEOUT = "7440000000000000008"
UNPUBLISHED = "7440000000000000009"
FORECAST = "7440000000000000010"
UNKNOWN = "7449999999999999999"


@pytest.fixture(scope="module")
def http(sim: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as client:
        yield client


def _envelope(response: httpx.Response) -> dict[str, Any]:
    """An error answered before streaming: JSON (not an event stream), a log id, code and msg."""
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-tt-logid"]
    body: dict[str, Any] = response.json()
    assert body["detail"]["logid"] == response.headers["x-tt-logid"]
    assert isinstance(body["code"], int) and isinstance(body["msg"], str)
    assert body["code"] == 0 or body["msg"], "an error envelope must say what to fix"
    return body


def _error(response: httpx.Response, code: int, *fragments: str) -> dict[str, Any]:
    body = _envelope(response)
    assert body["code"] == code, body
    for fragment in fragments:
        assert fragment in body["msg"], body["msg"]
    return body


def _interrupt(http: httpx.Client, workflow_id: str = QUESTION) -> dict[str, Any]:
    with http.stream("POST", "/v1/workflow/stream_run", json={"workflow_id": workflow_id}) as response:
        last = [line for line in response.iter_lines() if line.startswith("data: ")][-1]
    data: dict[str, Any] = json.loads(last[len("data: ") :])["interrupt_data"]
    return data


def _resume(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/workflow/stream_resume", json=body)


RUN_ENDPOINTS = ["/v1/workflow/run", "/v1/workflow/stream_run"]
ALL_POSTS = [*RUN_ENDPOINTS, "/v1/workflow/stream_resume", "/v1/workflows/chat"]


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*ALL_POSTS, f"/v1/workflows/{JOKE}/run_histories/7400000000000000000"])
@pytest.mark.parametrize("header", [None, "Bearer wrong-token"])
def test_bad_or_missing_token_is_401_4100(sim: RunningServer, path: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        method = "GET" if "run_histories" in path else "POST"
        response = client.request(method, path, headers=headers, json={"workflow_id": JOKE})
    assert response.status_code == 401
    _error(response, 4100, "Bearer")


def test_token_without_permission_is_4101() -> None:
    grants = [TokenGrant(token="narrow", workflows=frozenset({JOKE}))]
    with (
        running(create_app(config=SimConfig(tokens=grants))) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer narrow"}, timeout=10) as client,
    ):
        assert client.post("/v1/workflow/run", json={"workflow_id": JOKE}).json()["code"] == 0
        for path in ALL_POSTS:
            body = {"workflow_id": QUESTION, "event_id": "1/2", "resume_data": "", "interrupt_type": 2}
            _error(client.post(path, json=body), 4101, QUESTION)
        _error(client.get(f"/v1/workflows/{QUESTION}/run_histories/1"), 4101)


# --- unknown things: 4200 ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_POSTS)
def test_unknown_workflow_is_4200(http: httpx.Client, path: str) -> None:
    body = {"workflow_id": UNKNOWN, "event_id": "1/2", "resume_data": "", "interrupt_type": 2}
    response = http.post(path, json=body)
    assert response.status_code == 404
    _error(response, 4200, UNKNOWN, "does not exist")


def test_unknown_run_history_is_4200(http: httpx.Client) -> None:
    _error(http.get(f"/v1/workflows/{UNKNOWN}/run_histories/7400000000000000000"), 4200, UNKNOWN)
    _error(http.get(f"/v1/workflows/{JOKE}/run_histories/7400000000000000000"), 4200, "7400000000000000000")
    debug_url = http.post("/v1/workflow/run", json={"workflow_id": JOKE}).json()["debug_url"]
    execute_id = re.search(r"execute_id=(\d+)", debug_url).group(1)  # type: ignore[union-attr]
    assert http.get(f"/v1/workflows/{JOKE}/run_histories/{execute_id}").json()["code"] == 0
    _error(http.get(f"/v1/workflows/{QUESTION}/run_histories/{execute_id}"), 4200, "does not exist")


# --- bad bodies and parameters: 4000 ----------------------------------------------------------


@pytest.mark.parametrize("path", ALL_POSTS)
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        ({}, "workflow_id is required"),
        ({"workflow_id": 7440000000000000001}, "workflow_id is invalid"),
        ({"workflow_id": "joke"}, "decimal id"),
    ],
)
def test_bad_body_is_4000_naming_the_field(
    http: httpx.Client, path: str, content: bytes | dict[str, Any], fragment: str
) -> None:
    if isinstance(content, dict):
        resume_fields = {"event_id": "1/2", "resume_data": "x", "interrupt_type": 2} if "resume" in path else {}
        response = http.post(path, json={**resume_fields, **content})
    else:
        response = http.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    _error(response, 4000, fragment)


@pytest.mark.parametrize("path", RUN_ENDPOINTS)
@pytest.mark.parametrize(
    ("parameters", "fragments"),
    [
        ({}, ["parameters.city is required", FORECAST]),
        ({"days": 2}, ["parameters.city is required"]),
        ({"city": "Oslo", "days": "2"}, ["parameters.days", "integer", "str"]),
        ({"city": 5}, ["parameters.city", "string", "int"]),
        ({"city": "Oslo", "days": True}, ["parameters.days", "integer", "bool"]),
        ([1, 2], ["parameters must be a JSON object"]),
        ("{oops", ["parameters", "not valid JSON"]),
    ],
)
def test_bad_parameters_are_4000_naming_the_parameter(
    http: httpx.Client, path: str, parameters: Any, fragments: list[str]
) -> None:
    _error(http.post(path, json={"workflow_id": FORECAST, "parameters": parameters}), 4000, *fragments)


def test_kind_mismatch_is_4000_saying_which_endpoint(http: httpx.Client) -> None:
    _error(http.post("/v1/workflow/stream_run", json={"workflow_id": CHATFLOW}), 4000, "/v1/workflows/chat")
    _error(http.post("/v1/workflows/chat", json={"workflow_id": JOKE}), 4000, "/v1/workflow/stream_run")


def test_chatflow_bad_messages_and_conversation(http: httpx.Client) -> None:
    bad_role = {"workflow_id": CHATFLOW, "additional_messages": [{"role": "robot", "content": "x"}]}
    _error(http.post("/v1/workflows/chat", json=bad_role), 4000, "additional_messages[0].role")
    bad_parts = {
        "workflow_id": CHATFLOW,
        "additional_messages": [{"role": "user", "content": "{", "content_type": "object_string"}],
    }
    _error(http.post("/v1/workflows/chat", json=bad_parts), 4000, "object_string")
    unknown = {"workflow_id": CHATFLOW, "conversation_id": "7400000000000000001"}
    _error(http.post("/v1/workflows/chat", json=unknown), 4200, "conversation 7400000000000000001")


# --- workflow states: 6031, 6039, 6023 --------------------------------------------------------


@pytest.mark.parametrize("path", [*RUN_ENDPOINTS, "/v1/workflows/chat"])
def test_unpublished_workflow_is_6031(http: httpx.Client, path: str) -> None:
    _error(http.post(path, json={"workflow_id": UNPUBLISHED}), 6031, "not published")


def test_sync_run_reaching_an_interrupt_is_6039(http: httpx.Client) -> None:
    body = _error(http.post("/v1/workflow/run", json={"workflow_id": QUESTION}), 6039, "stream_run", "Question")
    execute_id = re.search(r"execute_id=(\d+)", body["debug_url"]).group(1)  # type: ignore[union-attr]
    history = http.get(f"/v1/workflows/{QUESTION}/run_histories/{execute_id}").json()["data"][0]
    assert (history["execute_status"], history["error_code"], history["run_mode"]) == ("Fail", "6039", 0)


def test_async_run_reaching_an_interrupt_fails_with_6039(http: httpx.Client) -> None:
    started = http.post("/v1/workflow/run", json={"workflow_id": INPUT, "is_async": True}).json()
    url = f"/v1/workflows/{INPUT}/run_histories/{started['execute_id']}"
    for _ in range(100):
        history = http.get(url).json()["data"][0]
        if history["execute_status"] != "Running":
            break
        threading.Event().wait(0.02)
    assert (history["execute_status"], history["error_code"]) == ("Fail", "6039")


def test_sync_run_past_its_time_limit_is_6023(http: httpx.Client) -> None:
    body = _error(http.post("/v1/workflow/run", json={"workflow_id": TIMEOUT}), 6023, "time limit")
    assert f"workflow_id={TIMEOUT}" in body["debug_url"]


# --- resume -----------------------------------------------------------------------------------


@pytest.mark.parametrize("event_id", ["abc", "123", "1/x", "/", "1/2/3"])
def test_resume_with_a_malformed_event_id(http: httpx.Client, event_id: str) -> None:
    response = _resume(http, workflow_id=QUESTION, event_id=event_id, resume_data="x", interrupt_type=2)
    _error(response, 4000, "EXECUTE_ID/EVENT_ID", "interrupt_data.event_id")


def test_resume_with_an_unknown_event_id(http: httpx.Client) -> None:
    response = _resume(http, workflow_id=QUESTION, event_id="7400000000000000000/1", resume_data="x", interrupt_type=2)
    _error(response, 4000, "does not exist")
    interrupt = _interrupt(http)
    execute_id = interrupt["event_id"].split("/")[0]
    wrong = _resume(http, workflow_id=QUESTION, event_id=f"{execute_id}/1", resume_data="x", interrupt_type=2)
    _error(wrong, 4000, "is not the interrupt", "latest Interrupt")


def test_resume_under_another_workflow(http: httpx.Client) -> None:
    interrupt = _interrupt(http)
    response = _resume(http, workflow_id=INPUT, event_id=interrupt["event_id"], resume_data="x", interrupt_type=2)
    _error(response, 4000, f"belongs to workflow {QUESTION}")


def test_resume_with_the_wrong_interrupt_type_then_the_right_one(http: httpx.Client) -> None:
    interrupt = _interrupt(http)
    wrong = _resume(http, workflow_id=QUESTION, event_id=interrupt["event_id"], resume_data="x", interrupt_type=5)
    _error(wrong, 4000, "interrupt_type 5", "type 2", "unchanged")
    right = _resume(http, workflow_id=QUESTION, event_id=interrupt["event_id"], resume_data="x", interrupt_type=2)
    assert right.headers["content-type"] == "text/event-stream"


def test_resume_twice_and_resume_a_finished_execution(http: httpx.Client) -> None:
    interrupt = _interrupt(http)
    body = {"workflow_id": QUESTION, "event_id": interrupt["event_id"], "resume_data": "x", "interrupt_type": 2}
    assert _resume(http, **body).headers["content-type"] == "text/event-stream"
    _error(_resume(http, **body), 4000, "already resumed", "once")
    execute_id = interrupt["event_id"].split("/")[0]
    other = {**body, "event_id": f"{execute_id}/7400000000000000001"}
    _error(_resume(http, **other), 4000, "already finished (Success)", "stream_run")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"event_id": "1/2", "resume_data": "x"}, "interrupt_type is required"),
        ({"event_id": "1/2", "interrupt_type": 2}, "resume_data is required"),
        ({"event_id": "1/2", "resume_data": 5, "interrupt_type": 2}, "resume_data is invalid"),
        ({"event_id": "1/2", "resume_data": "x", "interrupt_type": "two"}, "interrupt_type is invalid"),
        ({"id": "1/2", "resume_data": "x", "interrupt_type": 2}, "coze-py#196"),
    ],
)
def test_resume_body_mistakes(http: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    _error(_resume(http, workflow_id=QUESTION, **body), 4000, fragment)


@pytest.mark.parametrize(
    ("resume_data", "fragment"),
    [
        ("Ada", "must be a JSON object string"),
        ("[]", "must be a JSON object string"),
        ('{"age": 3}', "resume_data.name is required"),
        ('{"name": "Ada", "age": "old"}', "resume_data.age must be of type integer"),
    ],
)
def test_input_resume_data_is_checked_and_the_interrupt_survives(
    http: httpx.Client, resume_data: str, fragment: str
) -> None:
    interrupt = _interrupt(http, INPUT)
    body = {"workflow_id": INPUT, "event_id": interrupt["event_id"], "interrupt_type": 5}
    _error(_resume(http, **body, resume_data=resume_data), 4000, fragment)
    fixed = _resume(http, **body, resume_data='{"name": "Ada"}')
    assert fixed.headers["content-type"] == "text/event-stream"
    assert "Hello Ada!" in fixed.text


def test_racing_resumes_give_one_stream_and_one_4000(sim: RunningServer, http: httpx.Client) -> None:
    for _ in range(5):
        interrupt = _interrupt(http)
        body = {"workflow_id": QUESTION, "event_id": interrupt["event_id"], "resume_data": "x", "interrupt_type": 2}
        barrier = threading.Barrier(2)
        results: list[tuple[str, str]] = []

        def resume(
            body: dict[str, Any] = body,
            barrier: threading.Barrier = barrier,
            results: list[tuple[str, str]] = results,
        ) -> None:
            with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as client:
                barrier.wait(5)
                response = client.post("/v1/workflow/stream_resume", json=body)
                results.append((response.headers["content-type"], response.text))

        threads = [threading.Thread(target=resume) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        kinds = sorted(content_type for content_type, _ in results)
        assert kinds == ["application/json", "text/event-stream"]
        error = next(text for content_type, text in results if content_type == "application/json")
        assert json.loads(error)["code"] == 4000


# --- through cozepy ---------------------------------------------------------------------------


def _api_error(call: Any) -> cozepy.CozeAPIError:
    with pytest.raises(cozepy.CozeAPIError) as raised:
        result = call()
        if not hasattr(result, "debug_url"):
            list(result)
    return raised.value


def test_cozepy_raises_the_run_errors(coze: cozepy.Coze) -> None:
    assert _api_error(lambda: coze.workflows.runs.create(workflow_id=UNKNOWN)).code == 4200
    missing = _api_error(lambda: coze.workflows.runs.create(workflow_id=FORECAST, parameters={"days": 1}))
    assert missing.code == 4000 and "parameters.city" in missing.msg
    assert _api_error(lambda: coze.workflows.runs.create(workflow_id=UNPUBLISHED)).code == 6031
    assert _api_error(lambda: coze.workflows.runs.create(workflow_id=QUESTION)).code == 6039
    assert _api_error(lambda: coze.workflows.runs.create(workflow_id=TIMEOUT)).code == 6023


@pytest.mark.skipif(not sdk.has_run_histories(), reason=f"cozepy {sdk.version()} has no run_histories.retrieve")
def test_cozepy_raises_for_an_unknown_execution(coze: cozepy.Coze) -> None:
    error = _api_error(
        lambda: coze.workflows.runs.run_histories.retrieve(workflow_id=JOKE, execute_id="7400000000000000000")
    )
    assert error.code == 4200


@pytest.mark.skipif(
    not sdk.stream_error_envelopes_raise(),
    reason=f"cozepy {sdk.version()} does not raise CozeAPIError for a JSON error answering a stream call",
)
def test_cozepy_raises_the_stream_errors(coze: cozepy.Coze) -> None:
    assert _api_error(lambda: coze.workflows.runs.stream(workflow_id=UNPUBLISHED)).code == 6031
    assert _api_error(lambda: coze.workflows.runs.stream(workflow_id=FORECAST)).code == 4000
    bad = _api_error(
        lambda: coze.workflows.runs.resume(
            workflow_id=QUESTION, event_id="7400000000000000000/1", resume_data="x", interrupt_type=2
        )
    )
    assert bad.code == 4000


# --- nothing a client sends yields a 500 ------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parameters=_json | st.dictionaries(st.sampled_from(["city", "days", "x"]), _json, max_size=3),
    path=st.sampled_from(ALL_POSTS),
)
def test_any_parameters_get_an_answer_never_a_500(http: httpx.Client, parameters: Any, path: str) -> None:
    body = {"workflow_id": FORECAST, "parameters": parameters, "event_id": parameters, "resume_data": parameters}
    response = http.post(path, json=body)
    if response.headers["content-type"] == "text/event-stream":
        assert response.text.endswith("\n\n")
        return
    assert _envelope(response)["code"] in (0, 4000, 4200)
