"""The HTTP bridge over a real loopback socket: tool calls, validation, both error modes, auth, the
OpenAPI plugin document, and the `coze-harness bridge` commands."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from harness.bridge import OPENAPI_VERSION, create_bridge_app, openapi_schema, plugin_spec
from harness.cli import main
from harness.tools import ToolError, ToolRegistry, load_registry
from simulators.coze import RunningServer, running

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

TOKEN = "bridge-secret"
_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class Place(BaseModel):
    city: str = Field(description="city name")
    country: str | None = Field(None, description="ISO country code")


def _registry(release: threading.Event) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: Annotated[int, Field(description="the second addend")] = 1) -> int:
        """Add two integers.

        Args:
            a: the first addend
        """
        return a + b

    @registry.tool
    def forecast(place: Place, days: Literal[1, 3] = 1) -> dict[str, Any]:
        """Forecast for a place."""
        return {"city": place.city, "days": days, "high": 21.5}

    @registry.tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("kaboom")

    @registry.tool(errors="body")
    def lookup(key: str) -> str:
        """Look a key up; reports a missing key in the body."""
        raise ToolError(f"no entry for {key}", code="not_found")

    @registry.tool(timeout=0.2)
    def stall() -> str:
        """Takes too long."""
        release.wait(10)
        return "late"

    return registry


@pytest.fixture(scope="module")
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture(scope="module")
def registry(release: threading.Event) -> ToolRegistry:
    return _registry(release)


@pytest.fixture(scope="module")
def bridge(registry: ToolRegistry) -> Iterator[RunningServer]:
    with running(create_bridge_app(registry, token=TOKEN)) as server:
        yield server


@pytest.fixture(scope="module")
def body_bridge(registry: ToolRegistry) -> Iterator[RunningServer]:
    """No auth, and every failure reported as 200 with success=false."""
    with running(create_bridge_app(registry, insecure_no_auth=True, errors="body")) as server:
        yield server


@pytest.fixture
def client(bridge: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.base_url, timeout=_TIMEOUT, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


# --- calls ------------------------------------------------------------------------------------


def test_valid_call_answers_success_with_data(client: httpx.Client) -> None:
    response = client.post("/tools/add", json={"a": 2, "b": 40})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"success": True, "error_code": "", "message": "", "data": 42}


def test_nested_model_arguments_and_defaults(client: httpx.Client) -> None:
    response = client.post("/tools/forecast", json={"place": {"city": "Oslo"}})
    assert response.json()["data"] == {"city": "Oslo", "days": 1, "high": 21.5}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": "two"}', "a: Input should be a valid integer"),
        (b'{"b": 1}', "a: Field required"),
        (b'{"a": 1, "c": 2}', "c: Extra inputs are not permitted"),
        (b"{not json", "arguments are not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
def test_validation_error_is_422_with_code_message_and_details(client: httpx.Client, body: bytes, message: str) -> None:
    response = client.post("/tools/add", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    answer = response.json()
    assert (answer["success"], answer["error_code"], answer["data"]) == (False, "invalid_arguments", None)
    assert message in answer["message"]


def test_tool_error_in_http_mode_is_500(client: httpx.Client) -> None:
    response = client.post("/tools/explode", json={})
    assert response.status_code == 500
    answer = response.json()
    assert (answer["success"], answer["error_code"], answer["data"]) == (False, "tool_error", None)
    assert answer["message"].startswith("explode failed with an unexpected error (error id ")
    assert "kaboom" not in response.text and "RuntimeError" not in response.text


def test_tool_choosing_body_mode_answers_200_with_success_false(client: httpx.Client) -> None:
    response = client.post("/tools/lookup", json={"key": "k1"})
    assert response.status_code == 200
    assert response.json() == {"success": False, "error_code": "not_found", "message": "no entry for k1", "data": None}


def test_timeout_in_http_mode_is_504(client: httpx.Client) -> None:
    response = client.post("/tools/stall")
    assert response.status_code == 504
    assert response.json()["error_code"] == "timeout"


@pytest.mark.parametrize(
    ("tool", "body", "code"),
    [("explode", {}, "tool_error"), ("add", {"a": "x"}, "invalid_arguments"), ("stall", {}, "timeout")],
)
def test_global_body_mode_answers_every_failure_with_200(
    body_bridge: RunningServer, tool: str, body: dict[str, Any], code: str
) -> None:
    response = httpx.post(f"{body_bridge.base_url}/tools/{tool}", json=body, timeout=_TIMEOUT)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["success"], answer["error_code"]) == (False, code)
    assert answer["message"]


def test_unknown_tool_route_is_a_json_404(client: httpx.Client) -> None:
    response = client.post("/tools/os.system", json={})
    assert response.status_code == 404
    answer = response.json()
    assert (answer["success"], answer["error_code"]) == (False, "unknown_tool")
    assert "tools: add, forecast" in answer["message"]


def test_tool_routes_take_post_only(client: httpx.Client) -> None:
    response = client.get("/tools/add")
    assert response.status_code == 405
    assert response.json()["success"] is False


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_tool_calls_need_the_bearer_token(bridge: RunningServer, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = httpx.post(f"{bridge.base_url}/tools/add", json={"a": 1}, headers=headers, timeout=_TIMEOUT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error_code"] == "unauthorized"


def test_auth_is_checked_before_the_body_is_read(bridge: RunningServer) -> None:
    response = httpx.post(f"{bridge.base_url}/tools/add", content=b"{not json", timeout=_TIMEOUT)
    assert response.status_code == 401  # before the body, and before its content type


def test_the_plugin_document_is_public(bridge: RunningServer) -> None:
    assert httpx.get(f"{bridge.base_url}/openapi.json", timeout=_TIMEOUT).status_code == 200


# --- the OpenAPI plugin document ----------------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_openapi_document_is_a_coze_importable_plugin(bridge: RunningServer, registry: ToolRegistry) -> None:
    spec = httpx.get(f"{bridge.base_url}/openapi.json", timeout=_TIMEOUT).json()
    assert spec["openapi"] == OPENAPI_VERSION and spec["openapi"].startswith("3.0.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["servers"] == [{"url": bridge.base_url}]
    assert sorted(spec["paths"]) == sorted(f"/tools/{name}" for name in registry.names)
    for name in registry.names:
        ((method, operation),) = spec["paths"][f"/tools/{name}"].items()
        assert method == "post"
        assert operation["operationId"] == name
        assert operation["summary"]
        assert operation["security"] == [{"bearerAuth": []}]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema["type"] == "object"
        for prop in schema.get("properties", {}).values():
            assert prop["description"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert set(answer["properties"]) == {"success", "error_code", "message", "data"}
        assert "401" in operation["responses"]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    for node in _walk(spec):
        assert not {"$ref", "$defs", "const", "prefixItems"} & set(node), node
        assert node.get("type") != "null" and not isinstance(node.get("type"), list), node

    add = spec["paths"]["/tools/add"]["post"]
    assert add["summary"] == "Add two integers"
    props = add["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["a"] == {"type": "integer", "description": "the first addend"}
    assert props["b"]["description"] == "the second addend"
    assert add["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["type"] == "integer"
    assert {"422", "500", "504"} <= set(add["responses"])
    assert {"422", "500"}.isdisjoint(spec["paths"]["/tools/lookup"]["post"]["responses"])  # body mode: 200 only


def test_nested_and_optional_schemas_in_openapi_30_form(bridge: RunningServer) -> None:
    spec = httpx.get(f"{bridge.base_url}/openapi.json", timeout=_TIMEOUT).json()
    schema = spec["paths"]["/tools/forecast"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    place = schema["properties"]["place"]
    assert place["type"] == "object"
    assert place["properties"]["city"] == {"type": "string", "description": "city name"}
    assert place["properties"]["country"]["nullable"] is True
    assert place["properties"]["country"]["type"] == "string"
    assert schema["properties"]["days"]["enum"] == [1, 3]


def test_openapi_schema_rewrites_2020_12_keywords() -> None:
    class Bounds(BaseModel):
        kind: Literal["only"]
        ratio: float = Field(gt=0, lt=1)
        pair: tuple[int]
        note: int | None = None

    converted = openapi_schema(Bounds.model_json_schema())
    props = converted["properties"]
    assert props["kind"]["enum"] == ["only"]
    assert (props["ratio"]["minimum"], props["ratio"]["exclusiveMinimum"]) == (0, True)
    assert (props["ratio"]["maximum"], props["ratio"]["exclusiveMaximum"]) == (1, True)
    assert props["pair"]["items"] == {"type": "integer"}
    assert props["note"] == {"type": "integer", "nullable": True, "default": None, "description": "Note"}


def test_recursive_models_do_not_loop() -> None:
    class Node(BaseModel):
        value: int
        children: list[Node] = []

    converted = openapi_schema(Node.model_json_schema())
    assert converted["properties"]["value"]["type"] == "integer"
    assert converted["properties"]["children"]["items"] == {"type": "object", "description": "Node"}


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def tool_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"bridge_tools_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from harness import tool

            @tool
            def greet(name: str) -> str:
                '''Say hello to someone.

                Args:
                    name: who to greet
                '''
                return f"hello {name}"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def test_export_plugin_writes_the_document(
    tool_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plugin.json"
    code = main(
        [
            "bridge",
            "export-plugin",
            "--module",
            tool_module,
            "--out",
            str(out),
            "--server-url",  # the old name of --public-url
            "https://tools.example/",
            "--no-auth",
        ]
    )
    assert code == 0
    assert "1 tools" in capsys.readouterr().out
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == plugin_spec(load_registry(tool_module), server_url="https://tools.example")
    assert written["servers"] == [{"url": "https://tools.example"}]
    operation = written["paths"]["/tools/greet"]["post"]
    assert (operation["operationId"], operation["summary"]) == ("greet", "Say hello to someone")
    assert "components" not in written and "security" not in operation


def test_export_plugin_declares_bearer_auth(tool_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://tools.example"
    assert main(["bridge", "export-plugin", "--module", tool_module, "--out", "-", "--public-url", url]) == 0
    document = json.loads(capsys.readouterr().out)  # bearer auth by default: serve always asks for a token
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["paths"]["/tools/greet"]["post"]["security"] == [{"bearerAuth": []}]
    assert (
        main(["bridge", "export-plugin", "--module", tool_module, "--out", "-", "--public-url", url, "--bearer"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == document


def test_export_plugin_explains_a_module_without_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--public-url", "https://tools.example"]
    assert main(["bridge", "export-plugin", "--module", "json", "--out", str(tmp_path / "x.json"), *url]) == 2
    assert "cannot load tools from 'json'" in capsys.readouterr().err
    assert main(["bridge", "export-plugin", "--module", "no_such_module_xyz", "--out", "x.json", *url]) == 2
    assert "No module named 'no_such_module_xyz'" in capsys.readouterr().err


def test_bridge_serve_command_serves_the_module(tool_module: str, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "bridge", "serve", "--module", tool_module, "--token", TOKEN],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = _read_line(process, timeout=30)
        assert first_line.startswith("Tool bridge listening on http://127.0.0.1:"), first_line
        base_url = first_line.rsplit(" ", 1)[-1].strip()
        response = httpx.post(
            f"{base_url}/tools/greet",
            json={"name": "Ada"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=_TIMEOUT,
        )
        assert response.json() == {"success": True, "error_code": "", "message": "", "data": "hello Ada"}
        assert httpx.post(f"{base_url}/tools/greet", json={"name": "Ada"}, timeout=_TIMEOUT).status_code == 401
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line of output, or a failure after `timeout` seconds (never a blocked test)."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"`coze-harness bridge serve` printed nothing within {timeout} s")
