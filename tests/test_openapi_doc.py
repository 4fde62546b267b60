"""The simulator's own /openapi.json describes what it serves: no operation with an empty schema, and the
chat, workflow and chatflow operations with their real request bodies, answers and stream events."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from simulators.coze import create_app
from tests.asgi_driver import Sim

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

DOCUMENTED = {
    ("post", "/v3/chat"): ("bot_id", True),
    ("post", "/v3/chat/submit_tool_outputs"): ("tool_outputs", True),
    ("post", "/v1/workflow/run"): ("workflow_id", False),
    ("post", "/v1/workflow/stream_run"): ("workflow_id", True),
    ("post", "/v1/workflow/stream_resume"): ("event_id", True),
    ("post", "/v1/workflows/resume"): ("event_id", False),
    ("post", "/v1/workflows/chat"): ("workflow_id", True),
}
"""(method, path) -> (a required request field, whether a text/event-stream answer is described)."""


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    sim = Sim(create_app())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FastAPI: duplicate operation ids of routes with two methods
            response = sim.request("GET", "/openapi.json")
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data
    finally:
        sim.close()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_no_operation_is_described_by_an_empty_schema(doc: dict[str, Any]) -> None:
    operations = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 30
    for method, path, operation in operations:
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert _resolve(doc, schema).get("properties"), (method, path)
        if method in ("post", "put"):
            assert operation["requestBody"]["content"]["application/json"]["schema"], (method, path)


@pytest.mark.parametrize(("method", "path"), sorted(DOCUMENTED))
def test_chat_and_workflow_operations_have_their_real_schemas(doc: dict[str, Any], method: str, path: str) -> None:
    field, streams = DOCUMENTED[(method, path)]
    operation = doc["paths"][path][method]
    assert not operation.get("x-generic")
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert field in body["properties"] and field in body.get("required", [])
    content = operation["responses"]["200"]["content"]
    assert ("text/event-stream" in content) is streams
    if streams:
        assert content["text/event-stream"]["schema"]["x-event-data"]


def test_the_run_history_is_described_with_error_code_a_string(doc: dict[str, Any]) -> None:
    operation = doc["paths"]["/v1/workflows/{workflow_id}/run_histories/{execute_id}"]["get"]
    envelope = _resolve(doc, operation["responses"]["200"]["content"]["application/json"]["schema"])
    items = envelope["properties"]["data"]["anyOf"][0]["items"]
    history = _resolve(doc, items)
    assert history["properties"]["error_code"]["type"] == "string"
