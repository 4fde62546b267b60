"""The @coze/api driver: the official JavaScript SDK run in Node against the simulator over loopback.

Tests that need Node or an installed release skip (fail under CI) as tests/coze_js_support.py says.
Nothing here installs anything or leaves loopback.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from coze_js_support import LATEST, OLD, node, sdk_folder

from harness import _drive_cli
from harness.drivers import DriverUnavailable, FlowRequest, Observation, ToolCallSeen, coze_js
from harness.probes import demo_tools
from simulators.coze import DEFAULT_TOKEN, Catalogue, SimConfig, create_app, local_tls, running

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

IDS = {entry["name"]: entry["id"] for entry in Catalogue.builtin().entries()}
_node = node
_sdk = sdk_folder


def _local(call: ToolCallSeen) -> str:
    return demo_tools.registry.invoke(call.name, call.arguments).output


@pytest.fixture(scope="module")
def cloud() -> Iterator[str]:
    with running(create_app(Catalogue.builtin(), SimConfig())) as sim:
        yield sim.base_url


@pytest.fixture(scope="module")
def studio() -> Iterator[str]:
    with running(create_app(Catalogue.builtin(), SimConfig(profile="studio"))) as sim:
        yield sim.base_url


@pytest.fixture(scope="module")
def latest() -> Iterator[coze_js.CozeJsDriver]:
    with coze_js.CozeJsDriver(_sdk(LATEST)) as driver:
        yield driver


@pytest.fixture(scope="module")
def old() -> Iterator[coze_js.CozeJsDriver]:
    with coze_js.CozeJsDriver(_sdk(OLD)) as driver:
        yield driver


def _request(flow: str, base_url: str, **fields: object) -> FlowRequest:
    return FlowRequest.model_validate({"flow": flow, "base_url": base_url, "token": DEFAULT_TOKEN, **fields})


def _ok(observation: Observation) -> Observation:
    assert not observation.errors, observation.errors
    assert not observation.timed_out
    return observation


# --- without Node: specs, the cache, and what a missing tool says -----------------------------------


def test_sdk_specs() -> None:
    assert coze_js.parse_sdk("coze-js") is None
    assert coze_js.parse_sdk("coze-js@1.3.9") == "1.3.9"
    for bad in ("coze-js@latest", "coze-js@1.3", "coze-js@1.3.9 --global", "cozepy@0.20.0", "coze-js@"):
        with pytest.raises(ValueError):
            coze_js.parse_sdk(bad)


def test_cache_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(coze_js.CACHE_ENV, str(tmp_path))
    assert coze_js.cache_root() == tmp_path / "coze-js"
    assert coze_js.cached("1.3.9") is None
    monkeypatch.delenv(coze_js.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert coze_js.cache_root() == tmp_path / "xdg" / "coze-harness" / "coze-js"


def test_a_release_that_is_not_installed_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(coze_js.CACHE_ENV, str(tmp_path))
    with pytest.raises(DriverUnavailable, match=r"python -m harness\.drivers\.coze_js install 1\.3\.9"):
        coze_js.locate("1.3.9")


def test_without_a_version_the_sdk_installed_at_or_above_the_current_folder_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    monkeypatch.chdir(project / "src")
    with pytest.raises(DriverUnavailable, match=r"no @coze/api in a node_modules folder.*npm install @coze/api"):
        coze_js.locate(None)
    package = project / "node_modules" / "@coze" / "api"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "@coze/api", "version": "1.2.0"}))
    assert coze_js.locate(None) == project.resolve()


def test_without_node_and_npm_the_driver_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no node, no npm
    monkeypatch.setenv(coze_js.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(DriverUnavailable) as caught:
        coze_js.find_node(need_npm=True)
    assert "node and npm not found on PATH" in str(caught.value)
    assert "apt-get install nodejs npm" in str(caught.value)
    with pytest.raises(DriverUnavailable, match="node and npm not found"):
        coze_js.install("1.3.9")
    assert not (tmp_path / "cache" / "coze-js" / "1.3.9").exists()


def test_drive_without_node_exits_3_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(coze_js.CACHE_ENV, str(tmp_path / "cache"))
    from harness.cli import main

    assert main(["drive", "--sdk", "coze-js@1.3.9", "--flow", "chat-stream"]) == _drive_cli.EXIT_UNAVAILABLE
    assert "node and npm not found on PATH" in capsys.readouterr().err


# --- the runner's bounds, with a stand-in SDK (Node needed, no npm) ------------------------------------

_FAKE_SDK = """
export class CozeAPI {
  constructor(config) {
    this.config = config;
    this.chat = {
      // never ends, whatever signal it is given
      stream: async function* () {
        yield { event: 'conversation.chat.created', data: {} };
        await new Promise(() => {});
      },
      submitToolOutputs: async function* () {},
    };
    this.workflows = {
      runs: {
        // blocks the event loop: the runner itself cannot answer, so the host must end it
        create: async () => { for (;;) {} },
        stream: async function* () { yield { id: 0, event: 'Done' }; },
      },
    };
  }
}
"""


@pytest.fixture
def fake_sdk(tmp_path: Path) -> Path:
    package = tmp_path / "node_modules" / "@coze" / "api"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "@coze/api", "version": "0.0.0-fake", "main": "i.mjs"}))
    (package / "i.mjs").write_text(textwrap.dedent(_FAKE_SDK))
    return tmp_path


def test_a_flow_that_never_ends_times_out_and_the_next_flow_runs_in_a_fresh_runner(fake_sdk: Path) -> None:
    with coze_js.CozeJsDriver(fake_sdk, _node()) as driver:
        assert driver.sdk_version == "0.0.0-fake"
        assert driver.methods["chat.stream"] == "async-generator"
        assert driver.methods["workflows.runs.resume"] == "absent"
        hung = driver.run(_request("chat-stream", "http://127.0.0.1:9", bot_id="1", timeout_seconds=0.5))
        assert hung.timed_out
        assert hung.event_names() == ["conversation.chat.created"]
        assert [(call.method, call.returned) for call in hung.calls] == [("chat.stream", "timeout")]
        assert hung.errors[0].type == "TimedOut"
        after = driver.run(_request("workflow-stream", "http://127.0.0.1:9", workflow_id="1"))
        assert not after.errors
        assert after.event_names() == ["Done"]


def test_a_runner_that_stops_answering_is_killed(fake_sdk: Path) -> None:
    driver = coze_js.CozeJsDriver(fake_sdk, _node(), grace_seconds=0.5)
    with driver:
        stuck = driver.run(_request("workflow-run", "http://127.0.0.1:9", workflow_id="1", timeout_seconds=0.5))
        assert stuck.timed_out
        assert stuck.errors[0].type == "DriverTimeout"
        assert "killed" in stuck.errors[0].message
        assert driver.run(_request("workflow-stream", "http://127.0.0.1:9", workflow_id="1")).event_names() == ["Done"]
    assert driver._proc is None


def test_a_release_whose_import_entry_is_missing_is_loaded_with_require_and_says_so(tmp_path: Path) -> None:
    """@coze/api 1.1.1 points `exports["."].import` at dist/esm/index.js and ships dist/esm/index.mjs."""
    package = tmp_path / "node_modules" / "@coze" / "api"
    (package / "dist").mkdir(parents=True)
    exports = {".": {"import": "./dist/esm/index.js", "require": "./dist/index.cjs"}}
    (package / "package.json").write_text(json.dumps({"name": "@coze/api", "version": "1.1.1", "exports": exports}))
    (package / "dist" / "index.cjs").write_text(
        "class CozeAPI { constructor() { this.chat = {}; } }\nmodule.exports = { CozeAPI };\n"
    )
    with coze_js.CozeJsDriver(tmp_path, _node()) as driver:
        assert driver.sdk_version == "1.1.1"
        assert driver.loading is not None and "./dist/esm/index.js is missing" in driver.loading
        assert "loaded with require" in driver.loading
    (package / "dist" / "esm").mkdir()
    (package / "dist" / "esm" / "index.js").write_text("export class CozeAPI { constructor() { this.chat = {}; } }\n")
    with coze_js.CozeJsDriver(tmp_path, _node()) as driver:
        assert driver.loading is None


def test_a_folder_without_the_sdk_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(DriverUnavailable, match="cannot load @coze/api"):
        coze_js.CozeJsDriver(tmp_path, _node()).__enter__()


# --- the real SDK against the simulator (an installed release needed) ---------------------------------


def test_latest_release_surface(latest: coze_js.CozeJsDriver) -> None:
    assert latest.sdk_version == LATEST
    assert latest.methods["chat.submitToolOutputs"] == "async-generator"
    assert latest.methods["workflows.runs.resume"] == "async-generator"
    assert latest.methods["workflows.chat.stream"] == "async-generator"


def test_chat_stream_answers_tool_calls_with_local_code(latest: coze_js.CozeJsDriver, cloud: str) -> None:
    seen = _ok(latest.run(_request("chat-stream", cloud, bot_id=IDS["weather-bot"]), tools=_local))
    assert [(call.method, call.returned) for call in seen.calls] == [
        ("chat.stream", "stream"),
        ("chat.submitToolOutputs", "stream"),
    ]
    assert seen.event_names(0)[-2:] == ["conversation.chat.requires_action", "done"]
    assert seen.event_names(1)[-2:] == ["conversation.chat.completed", "done"]
    assert [[call.name for call in calls] for calls in seen.tool_rounds] == [["get_weather", "get_time"]]
    assert json.loads(seen.tool_rounds[0][0].arguments)["city"] == "Paris"
    assert seen.result["status"] == "completed"
    assert demo_tools.get_weather("Paris") in seen.answer
    assert demo_tools.get_time("Asia/Shanghai") in seen.answer


def test_two_rounds_of_tool_calls(latest: coze_js.CozeJsDriver, cloud: str) -> None:
    seen = _ok(latest.run(_request("chat-stream", cloud, bot_id=IDS["research-bot"], message="coze"), tools=_local))
    assert [[call.name for call in calls] for calls in seen.tool_rounds] == [["search_files"], ["read_file"]]
    assert demo_tools.read_file(demo_tools.search_files("coze")) in seen.answer


def test_canned_outputs_when_no_local_code_is_given(latest: coze_js.CozeJsDriver, cloud: str) -> None:
    request = _request(
        "chat-stream", cloud, bot_id=IDS["weather-bot"], tool_outputs={"get_weather": "W-OUT", "get_time": "T-OUT"}
    )
    seen = _ok(latest.run(request))
    assert "W-OUT" in seen.answer and "T-OUT" in seen.answer


def test_chat_poll_submits_without_a_stream(latest: coze_js.CozeJsDriver, cloud: str) -> None:
    seen = _ok(latest.run(_request("chat-poll", cloud, bot_id=IDS["weather-bot"]), tools=_local))
    methods = [(call.method, call.returned) for call in seen.calls]
    assert methods[:2] == [("chat.createAndPoll", "value"), ("chat.submitToolOutputs", "value")]
    assert seen.calls[0].value["chat"]["status"] == "requires_action"
    assert seen.result["status"] == "completed"
    assert demo_tools.get_weather("Paris") in seen.answer


def test_workflow_run_stream_and_resume(latest: coze_js.CozeJsDriver, cloud: str) -> None:
    run = _ok(
        latest.run(
            _request(
                "workflow-run", cloud, workflow_id=IDS["forecast-workflow"], parameters={"city": "Oslo", "days": 3}
            )
        )
    )
    assert json.loads(run.result["data"])["city"] == "Oslo"
    stream = _ok(
        latest.run(_request("workflow-stream", cloud, workflow_id=IDS["joke-workflow"], parameters={"topic": "owls"}))
    )
    assert stream.event_names()[-1] == "Done" and set(stream.event_names()[:-1]) == {"Message"}
    assert "owls" in stream.answer
    resume = _ok(
        latest.run(_request("workflow-resume", cloud, workflow_id=IDS["question-workflow"], resume_data=["Lima"]))
    )
    assert resume.event_names(0) == ["Message", "Interrupt"]
    assert resume.events[1].data["interrupt_data"]["type"] == 2
    assert [(call.method, call.returned) for call in resume.calls][1] == ("workflows.runs.resume", "stream")
    assert resume.result["resumed"] == ["stream"]
    assert "Lima" in resume.answer


def test_an_async_run_is_read_back_from_its_history(
    latest: coze_js.CozeJsDriver, old: coze_js.CozeJsDriver, cloud: str
) -> None:
    request = _request("workflow-history", cloud, workflow_id=IDS["joke-workflow"], parameters={"topic": "owls"})
    history = _ok(latest.run(request))
    assert [call.method for call in history.calls][:2] == ["workflows.runs.create", "workflows.runs.history"]
    assert history.result["execute_status"] == "Success" and history.result["error_code"] == ""  # as recorded
    assert "owls" in history.result["output"]
    assert old.run(request).result == {"absent": "workflows.runs.history"}  # 1.1.0 added it


def test_chatflow_and_the_bridge_workflow(latest: coze_js.CozeJsDriver, cloud: str) -> None:
    from harness.bridge import create_bridge_app

    chatflow = _ok(latest.run(_request("chatflow", cloud, workflow_id=IDS["echo-chatflow"], message="hello there")))
    assert chatflow.event_names()[-2:] == ["conversation.chat.completed", "done"]
    assert "hello there" in chatflow.answer
    bridge_app = create_bridge_app(demo_tools.bridged, token=None, insecure_no_auth=True, errors="body")
    with running(bridge_app) as bridge:
        parameters = {"url": f"{bridge.base_url}/tools/get_weather", "arguments": {"city": "Quito"}}
        seen = _ok(
            latest.run(
                _request("workflow-bridge", cloud, workflow_id=IDS["http-bridge-workflow"], parameters=parameters)
            )
        )
    assert demo_tools.get_weather("Quito") in seen.answer


def test_studio_chat_stream_end_is_not_json_to_the_sdk(latest: coze_js.CozeJsDriver, studio: str) -> None:
    """coze-studio ends a chat stream with `conversation.stream.done` and an empty data line (its profile);
    @coze/api special-cases only `done` and JSON-parses every other data, so the stream raises at its end."""
    seen = latest.run(_request("chat-stream", studio, bot_id=IDS["echo-bot"], message="hi"), tools=_local)
    assert "conversation.chat.completed" in seen.event_names()
    assert [(error.type, error.message) for error in seen.errors] == [
        ("CozeError", "Could not parse message into JSON:")
    ]
    assert seen.calls[0].returned == "raised"


def test_old_release_resume_is_one_response_and_chatflow_is_absent(old: coze_js.CozeJsDriver, cloud: str) -> None:
    assert old.sdk_version == OLD
    assert old.methods["workflows.runs.resume"] == "async-function"
    assert old.methods["workflows.chat.stream"] == "absent"
    resume = _ok(
        old.run(_request("workflow-resume", cloud, workflow_id=IDS["question-workflow"], resume_data=["Lima"]))
    )
    assert [(call.method, call.returned) for call in resume.calls] == [
        ("workflows.runs.stream", "stream"),
        ("workflows.runs.resume", "value"),
    ]
    body = resume.calls[1].value
    assert isinstance(body, str) and "event: Message" in body and "Lima" in body  # the SSE body, unparsed
    assert resume.result == {"answer": "", "resumed": ["value"]}
    chatflow = _ok(old.run(_request("chatflow", cloud, workflow_id=IDS["echo-chatflow"])))
    assert chatflow.calls == [] and chatflow.result["absent"] == "workflows.chat.stream"


def test_old_release_answers_tool_calls_too(old: coze_js.CozeJsDriver, cloud: str) -> None:
    seen = _ok(old.run(_request("chat-stream", cloud, bot_id=IDS["weather-bot"]), tools=_local))
    assert seen.result["status"] == "completed"
    assert demo_tools.get_weather("Paris") in seen.answer


def test_drive_command_prints_the_observation(capsys: pytest.CaptureFixture[str]) -> None:
    _sdk(LATEST)
    from harness.cli import main

    code = main(["drive", "--sdk", f"coze-js@{LATEST}", "--flow", "chat-stream", "--no-install", "--json"])
    out = capsys.readouterr().out
    assert code == _drive_cli.EXIT_OK, out
    observation = Observation.model_validate_json(out)
    assert observation.sdk_version == LATEST
    assert demo_tools.get_weather("Paris") in observation.answer


def test_drive_command_reads_a_framing_variant(capsys: pytest.CaptureFixture[str]) -> None:
    _sdk(LATEST)
    from harness.cli import main

    code = main(["drive", "--sdk", f"coze-js@{LATEST}", "--flow", "workflow-stream", "--framing", "crlf", "--json"])
    observation = Observation.model_validate_json(capsys.readouterr().out)
    assert code == _drive_cli.EXIT_OK
    assert observation.event_names()[-1] == "Done"


def test_errors_on_streamed_calls(latest: coze_js.CozeJsDriver, old: coze_js.CozeJsDriver, cloud: str) -> None:
    """A refused stream request: with HTTP 401 the SDK raises, but the envelope's code and msg are not read
    (the body is still a stream); with HTTP 200 and a JSON envelope 1.3.9 hands it over as an `error` event
    and 1.0.4 ends the stream with no event and no exception."""
    refused = latest.run(_request("chat-stream", cloud, bot_id=IDS["echo-bot"], token="not-the-token"))
    assert [(error.type, error.status, error.code) for error in refused.errors] == [("AuthenticationError", 401, None)]
    assert refused.errors[0].message.startswith("logid: ")
    unpublished = _request("workflow-stream", cloud, workflow_id=IDS["unpublished-workflow"])
    latest_seen = _ok(latest.run(unpublished))
    assert latest_seen.event_names() == ["error"]
    assert latest_seen.events[0].data["code"] == 6031
    old_seen = _ok(old.run(unpublished))
    assert [(call.method, call.returned, call.events) for call in old_seen.calls] == [
        ("workflows.runs.stream", "stream", 0)
    ]


MIDDLE = os.environ.get("COZE_JS_MIDDLE", "1.1.0")  # websockets.chat.create(botId), before create({bot_id})


@pytest.fixture(scope="module")
def secure() -> Iterator[tuple[str, Path]]:
    """The simulator's websocket listener (TLS only) and the authority Node must trust for it."""
    with local_tls() as tls, running(create_app(Catalogue.builtin(), SimConfig()), tls=tls) as server:
        yield "wss://" + server.base_url.removeprefix("https://"), Path(tls.ca_file)


@pytest.mark.parametrize(
    ("version", "create"),
    [(LATEST, "websockets.chat.create({bot_id})"), (MIDDLE, "websockets.chat.create(botId)")],
)
def test_websocket_chat_answers_tool_calls_under_node(
    version: str, create: str, secure: tuple[str, Path], cloud: str
) -> None:
    ws_base_url, ca_file = secure
    with coze_js.CozeJsDriver(_sdk(version), extra_ca_file=ca_file) as driver:
        request = _request("websocket-chat", cloud, ws_base_url=ws_base_url, bot_id=IDS["research-bot"], message="coze")
        seen = _ok(driver.run(request, tools=_local))
    assert [(call.method, call.returned) for call in seen.calls] == [(create, "stream")]
    assert seen.event_names()[0] == "chat.created"
    assert seen.event_names().count("conversation.chat.requires_action") == 2
    assert [[call.name for call in calls] for calls in seen.tool_rounds] == [["search_files"], ["read_file"]]
    assert seen.result["status"] == "completed"
    assert demo_tools.read_file(demo_tools.search_files("coze")) in seen.answer


def test_websocket_chat_is_absent_from_the_old_release(old: coze_js.CozeJsDriver, cloud: str) -> None:
    assert old.methods["websockets.chat.create"] == "absent"
    seen = _ok(old.run(_request("websocket-chat", cloud, ws_base_url="wss://127.0.0.1:9", bot_id=IDS["weather-bot"])))
    assert seen.calls == [] and seen.result["absent"] == "websockets.chat.create"


def test_a_connection_reset_mid_stream_ends_the_stream_quietly(
    latest: coze_js.CozeJsDriver, old: coze_js.CozeJsDriver
) -> None:
    """The server drops the connection after three events (no Done): Node's fetch raises `terminated`, and
    @coze/api's stream reader catches it and ends the stream as if it had finished."""
    from simulators.coze.faults import Faults

    config = SimConfig(faults=Faults(reset_after_events=3))
    with running(create_app(Catalogue.builtin(), config)) as sim:
        for driver in (latest, old):
            request = _request("workflow-stream", sim.base_url, workflow_id=IDS["joke-workflow"])
            seen = _ok(driver.run(request))
            assert seen.event_names() == ["Message", "Message", "Message"], driver.sdk_version
            assert seen.calls[0].returned == "stream"
