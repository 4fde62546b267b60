"""Faults: each one, given as scenario data, ends the runner and the SDK with a clear error and no hang,
and replays byte for byte with the same seed. Every wait is bounded (client timeouts, anyio.fail_after)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, WEATHER_BOT, user_message, weather_tools, with_faults

from harness import sdk
from harness._fault_cli import faults_of, framing_of
from harness.bridge import create_bridge_app
from harness.cli import build_parser
from harness.cli import main as cli_main
from harness.local_plugin import LocalPluginRunner, StreamBrokenError
from harness.tools import ToolRegistry
from simulators.coze import DEFAULT_TOKEN, Catalogue, RunningServer, ScenarioFileError, SimConfig, create_app, running
from simulators.coze.faults import ExponentialDelay, Faults, UniformDelay, draw
from simulators.coze.scenarios import BUILTIN_DIR

pytestmark = pytest.mark.e2e

READ_TIMEOUT = 1.0
"""The clients' read timeout: a stall (3 s) is longer, so a stalled stream trips it. A plain `httpx.Client`
under httpx 0.24 (cozepy 0.2-0.5) never applies it, because cozepy builds its requests itself and only
httpx 0.27 gives those the client's timeout (encode/httpx#3116): such a client sees the close that ends
the stall instead. The harness's own clients fill it in (tests/test_client_timeout.py)."""
_TIMEOUT = httpx.Timeout(READ_TIMEOUT, connect=5.0)
_BOUND = 20.0

# One bot per fault: a copy of the weather bot (two tools, then an answer) with a `faults:` block.
FAULTS: dict[str, str] = {
    "reset": "reset_after_events: 3",
    "stall": "stall: {after_events: 2, seconds: 3}",
    "truncate": "truncate_final_frame: {keep_bytes: 9}",
    "malformed": "malformed_json: {event: 1}",
    "error-event": "error_event: {after_events: 3, code: 5001, msg: boom midway}",
    "http-error": "http_error: {status: 503, code: 5000, msg: upstream unavailable}",
    "rate-limit": "rate_limit: {}",
    "latency": "latency: {first_byte: 0.02, between_events: {uniform: [0, 0.005]}}",
}
FAULT_BOT = {name: str(7391000000000000001 + number) for number, name in enumerate(FAULTS)}
FAULT_WORKFLOW = {name: str(7441000000000000001 + number) for number, name in enumerate(FAULTS)}
BRIDGE_WORKFLOW = "7441000000000000100"


def write_fault_scenarios(folder: Path) -> Path:
    weather = (BUILTIN_DIR / "weather_bot.yaml").read_text(encoding="utf-8")
    joke = (BUILTIN_DIR / "joke_workflow.yaml").read_text(encoding="utf-8")
    for name, block in FAULTS.items():
        (folder / f"bot-{name}.yaml").write_text(with_faults(weather, FAULT_BOT[name], f"weather-{name}", block))
        (folder / f"wf-{name}.yaml").write_text(with_faults(joke, FAULT_WORKFLOW[name], f"joke-{name}", block))
    (folder / "bridge-timeout.yaml").write_text(
        f"""kind: workflow
id: "{BRIDGE_WORKFLOW}"
name: slow-bridge
description: an http node with a short timeout, for a slow tool behind the bridge
parameters:
  url: {{type: string}}
nodes:
  - kind: http
    title: HTTP request
    url: "{{{{ param.url }}}}"
    body: {{}}
    timeout_seconds: 0.3
    save_as: bridge
  - kind: end
    output: {{output: "{{{{ node.bridge }}}}"}}
""",
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def fault_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fault_scenarios(tmp_path_factory.mktemp("fault-scenarios"))


@pytest.fixture(scope="module")
def catalogue(fault_dir: Path) -> Catalogue:
    return Catalogue.load(BUILTIN_DIR, fault_dir)


@pytest.fixture(scope="module")
def fresh(catalogue: Catalogue) -> Iterator[RunningServer]:
    """One simulator serving every faulty scenario (the request faults here refuse every request)."""
    with running(create_app(catalogue)) as server:
        yield server


def _coze(sim: RunningServer) -> Any:
    return cozepy.Coze(
        auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url, http_client=httpx.Client(timeout=_TIMEOUT)
    )


# --- the runner ------------------------------------------------------------------------------

# What the runner ends with: an exception type and a text it must mention, or "ok".
RUNNER_OUTCOMES: dict[str, tuple[str, str]] = {
    "reset": ("broken", "RemoteProtocolError"),
    "stall": ("broken", "ReadTimeout"),
    "truncate": ("ok", ""),  # only the final `done` is cut: every SDK stops reading there anyway
    "malformed": ("broken", "after 1 event"),
    "error-event": ("broken", "boom midway"),
    "http-error": ("api", "5000"),
    "rate-limit": ("api", "4013"),
    "latency": ("ok", ""),
}


@pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))
@pytest.mark.skipif(not sdk.stream_error_envelopes_raise(), reason="this cozepy does not raise stream envelopes")
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.anyio
async def test_runner_ends_every_fault_with_a_clear_error(fresh: RunningServer, fault: str) -> None:
    runner = LocalPluginRunner(_coze(fresh), weather_tools())
    kind, mention = RUNNER_OUTCOMES[fault]
    with anyio.fail_after(_BOUND):
        try:
            result = await anyio.to_thread.run_sync(functools.partial(runner.run, FAULT_BOT[fault], "Paris"))
        except StreamBrokenError as exc:
            assert kind == "broken", f"{fault}: unexpected {exc}"
            assert mention in str(exc), str(exc)
            assert exc.result is not None and exc.result.status == "incomplete"
            assert exc.__cause__ is not None
        except cozepy.CozeAPIError as exc:
            assert kind == "api", f"{fault}: unexpected {exc}"
            assert str(exc.code) == mention and exc.logid
        else:
            assert kind == "ok", f"{fault}: the runner succeeded: {result}"
            assert result.ok and "20 degrees celsius in Paris" in result.answer
    journal = fresh.app.state.simulator.journal
    assert journal.wait_closed(5.0) == [], "the runner left a stream open"


# --- the SDK on a workflow stream --------------------------------------------------------------


def _stream_workflow(coze: Any, workflow_id: str) -> tuple[list[str], list[Any], str | None]:
    names: list[str] = []
    events: list[Any] = []
    try:
        for event in coze.workflows.runs.stream(workflow_id=workflow_id, parameters={"topic": "faults"}):
            names.append(sdk.event_name(event))
            events.append(event)
    except Exception as exc:
        return names, events, f"{type(exc).__name__}: {exc}"
    return names, events, None


@pytest.mark.parametrize("fault", ["reset", "stall", "malformed", "error-event", "http-error", "rate-limit"])
@pytest.mark.anyio
async def test_sdk_workflow_stream_ends_every_fault_with_a_clear_error(fresh: RunningServer, fault: str) -> None:
    with anyio.fail_after(_BOUND):
        names, events, error = await anyio.to_thread.run_sync(_stream_workflow, _coze(fresh), FAULT_WORKFLOW[fault])
    if fault == "error-event":
        # `Error` mid-workflow: delivered as an event after the partial messages, not raised.
        assert error is None and names[-1] == "Error" and names.count("Message") == 3
        assert events[-1].error.error_code == 5001 and events[-1].error.error_message == "boom midway"
    else:
        assert error is not None, f"{fault}: the SDK read {names} and raised nothing"
    assert fresh.app.state.simulator.journal.wait_closed(5.0) == []


@pytest.mark.skipif(not sdk.has_run_histories(), reason="this cozepy cannot read run histories")
def test_error_mid_workflow_fails_the_execution(fresh: RunningServer) -> None:
    coze = _coze(fresh)
    _stream_workflow(coze, FAULT_WORKFLOW["error-event"])
    store = fresh.app.state.simulator.store
    executions = [e for e in store.executions.values() if e.workflow_id == FAULT_WORKFLOW["error-event"]]
    history = coze.workflows.runs.run_histories.retrieve(
        workflow_id=FAULT_WORKFLOW["error-event"], execute_id=executions[-1].id
    )
    assert sdk.enum_value(history.execute_status) == "Fail"
    assert history.error_code == "5001" or int(history.error_code) == 5001


# --- request faults ---------------------------------------------------------------------------


def _chat_body(bot_id: str) -> dict[str, Any]:
    return {
        "bot_id": bot_id,
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "Paris", "content_type": "text"}],
    }


_HEADERS = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def test_rate_limit_is_the_real_envelope_then_clears(fault_dir: Path) -> None:
    (fault_dir / "once").mkdir(exist_ok=True)
    echo = (BUILTIN_DIR / "echo_bot.yaml").read_text(encoding="utf-8")
    (fault_dir / "once" / "bot.yaml").write_text(
        with_faults(echo, "7391000000000000099", "echo-once", "rate_limit: {times: 1}")
    )
    with running(create_app(Catalogue.load(fault_dir / "once"))) as sim, httpx.Client(timeout=_TIMEOUT) as client:
        first = client.post(f"{sim.base_url}/v3/chat", json=_chat_body("7391000000000000099"), headers=_HEADERS)
        assert first.status_code == 429 and first.headers["content-type"] == "application/json"
        body = first.json()
        assert body["code"] == 4013 and body["msg"] and body["detail"]["logid"] == first.headers["x-tt-logid"]
        second = client.post(f"{sim.base_url}/v3/chat", json=_chat_body("7391000000000000099"), headers=_HEADERS)
        assert second.status_code == 200 and second.headers["content-type"] == "text/event-stream"
        assert second.text.endswith('event:done\ndata:"[DONE]"\n\n')


def test_http_error_comes_before_any_state(fresh: RunningServer) -> None:
    with httpx.Client(timeout=_TIMEOUT) as client:
        answer = client.post(f"{fresh.base_url}/v3/chat", json=_chat_body(FAULT_BOT["http-error"]), headers=_HEADERS)
    assert answer.status_code == 503
    assert answer.json()["code"] == 5000 and answer.json()["msg"] == "upstream unavailable"
    chats = fresh.app.state.simulator.store.chats.values()
    assert not [chat for chat in chats if chat.bot_id == FAULT_BOT["http-error"]], "a refused request started a chat"


# --- replay -----------------------------------------------------------------------------------


Outcome = tuple[int, bytes, str | None, list[float]]


def _raw_runs(catalogue: Catalogue, bots: list[str], seed: int = 7) -> list[Outcome]:
    """Each bot's chat stream, read raw, from one fresh simulator: (status, bytes, error, drawn delays)."""
    app = create_app(catalogue, SimConfig(seed=seed))
    outcomes: list[Outcome] = []
    with running(app) as sim, httpx.Client(timeout=_TIMEOUT) as client:
        journal = app.state.simulator.journal
        for bot in bots:
            received, error, status = b"", None, 0
            try:
                with client.stream("POST", f"{sim.base_url}/v3/chat", json=_chat_body(bot), headers=_HEADERS) as answer:
                    status = answer.status_code
                    for chunk in answer.iter_raw():
                        received += chunk
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            assert journal.wait_closed(5.0) == []
            delays = journal.entries()[-1].delays
            outcomes.append((status, received, error, list(delays)))
    return outcomes


@pytest.mark.cozepy_free
def test_every_fault_replays_identically_with_the_same_seed(catalogue: Catalogue) -> None:
    """Two fresh simulators with the same seed, the same requests: the same bytes, errors and delays."""
    bots = [FAULT_BOT[name] for name in FAULTS]
    first = dict(zip(FAULTS, _raw_runs(catalogue, bots), strict=True))
    again = dict(zip(FAULTS, _raw_runs(catalogue, bots), strict=True))
    for fault in FAULTS:
        assert first[fault] == again[fault], f"{fault} did not replay identically"
    status, received, error, _ = first["reset"]
    assert status == 200 and error == "RemoteProtocolError" and received.count(b"\n\n") == 3
    _, received, error, _ = first["stall"]
    assert error == "ReadTimeout" and received.count(b"\n\n") == 2
    _, received, error, _ = first["truncate"]
    assert error is None and received.endswith(b"\n\nevent:don")
    _, received, _, _ = first["malformed"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(received.split(b"\n\n")[1].split(b"data:", 1)[1])
    _, received, _, _ = first["error-event"]
    assert received.endswith(b'event:error\ndata:{"code":5001,"msg":"boom midway"}\n\n')
    assert received.count(b"\n\n") == 4
    for fault, code in (("http-error", 503), ("rate-limit", 429)):
        status, received, _, _ = first[fault]
        assert status == code and received.startswith(b'{"code":')
    _, received, _, delays = first["latency"]
    assert delays[0] == 0.02 and len(delays) == received.count(b"\n\n")
    assert all(0 <= d <= 0.005 for d in delays[1:])
    ((_, _, _, other),) = _raw_runs(catalogue, [FAULT_BOT["latency"]], seed=8)
    assert other[1:] != delays[1:], "another seed should draw other latencies"


def test_delay_distributions_are_seeded() -> None:
    import random

    uniform, exponential = UniformDelay(uniform=(0.1, 0.2)), ExponentialDelay(exponential=0.5, max=1.0)
    one, two = random.Random("s"), random.Random("s")
    assert [draw(uniform, one) for _ in range(5)] == [draw(uniform, two) for _ in range(5)]
    assert all(0 <= draw(exponential, one) <= 1.0 for _ in range(50))
    assert draw(0.3, one) == 0.3


# --- the bridge: a slow tool ------------------------------------------------------------------


@pytest.mark.anyio
async def test_slow_tool_in_the_bridge_fails_the_workflow_node_without_a_hang(fresh: RunningServer) -> None:
    tools = ToolRegistry()

    @tools.tool
    def lookup(city: str = "Paris") -> str:
        return city

    bridge = create_bridge_app(tools, insecure_no_auth=True, slow_tools={"lookup": 1.0})
    with running(bridge) as served:
        coze = _coze(fresh)

        def run() -> tuple[list[str], list[Any], str | None]:
            names: list[str] = []
            events: list[Any] = []
            try:
                stream = coze.workflows.runs.stream(
                    workflow_id=BRIDGE_WORKFLOW, parameters={"url": f"{served.base_url}/tools/lookup"}
                )
                for event in stream:
                    names.append(sdk.event_name(event))
                    events.append(event)
            except Exception as exc:
                return names, events, repr(exc)
            return names, events, None

        with anyio.fail_after(_BOUND):
            names, events, error = await anyio.to_thread.run_sync(run)
    assert error is None and names == ["Error"]
    assert events[0].error.error_code == 720701004 and "timed out" in events[0].error.error_message.lower()


# --- validation and the command line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "where"),
    [
        ("reset_after_events: -1", "faults.reset_after_events"),
        ("latency: {between_events: {uniform: [0.5, 0.1]}}", "faults.latency"),
        ("http_error: {status: 404}", "faults.http_error.status"),
        ("stall: {after_events: 1}", "faults.stall.seconds"),
        ("explode: true", "faults.explode"),
    ],
)
def test_bad_fault_blocks_name_the_place(tmp_path: Path, block: str, where: str) -> None:
    echo = (BUILTIN_DIR / "echo_bot.yaml").read_text(encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(with_faults(echo, ECHO_BOT, "bad", block))
    with pytest.raises(ScenarioFileError) as info:
        Catalogue.load(tmp_path)
    assert "bad.yaml: " in str(info.value) and f"at {where}" in str(info.value)


def test_serve_flags_become_global_faults() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--reset-after",
            "4",
            "--latency",
            "uniform:0.1,0.2",
            "--first-byte-delay",
            "exp:0.5",
            "--stall-after",
            "2",
            "--rate-limit",
            "--http-error",
            "502",
            "--framing",
            "crlf,comment-keepalive",
        ]
    )
    faults = faults_of(args)
    assert faults == Faults.model_validate(
        {
            "reset_after_events": 4,
            "latency": {"first_byte": {"exponential": 0.5}, "between_events": {"uniform": [0.1, 0.2]}},
            "stall": {"after_events": 2, "seconds": 30.0},
            "rate_limit": {},
            "http_error": {"status": 502},
        }
    )
    framing = framing_of(args)
    assert framing is not None and framing.line_ending == "crlf" and framing.comment == "ping"
    assert faults_of(build_parser().parse_args(["serve"])) is None


def test_serve_refuses_bad_fault_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["serve", "--http-error", "404"]) == 2
    assert "http_error.status" in capsys.readouterr().err
    assert cli_main(["serve", "--framing", "sideways"]) == 2
    assert "unknown framing variant 'sideways'" in capsys.readouterr().err


@pytest.mark.anyio
async def test_global_faults_apply_to_every_stream() -> None:
    app = create_app(config=SimConfig(faults=Faults(reset_after_events=1)))
    with running(app) as sim:
        coze = _coze(sim)

        def read() -> str | None:
            try:
                list(coze.chat.stream(bot_id=WEATHER_BOT, user_id="u", additional_messages=[user_message("x")]))
            except Exception as exc:
                return type(exc).__name__
            return None

        with anyio.fail_after(_BOUND):
            error = await anyio.to_thread.run_sync(read)
    assert error is not None
    (entry,) = app.state.simulator.journal.streams()
    assert entry.chunks_sent == 1 and entry.complete is False and entry.error and "reset" in entry.error
