"""Security: scoped tokens on every endpoint family (websocket included), the bridge's refusals (no token,
names outside its registry, oversized or slow bodies, loopback by default), the draft tool's sandbox
against any name and a planted symlink, and no secret in anything the harness writes or logs: the
report, a recorded cassette, the bridge's and the simulator's logs and output."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from asgi_driver import Sim, SocketRun
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples import draft_tools
from examples.draft_tools import DRAFT_DIR_ENV
from harness.bridge import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, create_bridge_app
from harness.cli import build_parser, main
from harness.tools import DEFAULT_TOOL_TIMEOUT, UNKNOWN_TOOL, ToolRegistry, load_registry
from simulators.coze import SimConfig, TokenGrant, create_app, running
from simulators.coze.server import bind

ROOT = Path(__file__).resolve().parent.parent
WEATHER_BOT, ECHO_BOT = "7390000000000000002", "7390000000000000001"
JOKE, QUESTION, FORECAST, CHATFLOW = (
    "7440000000000000001",
    "7440000000000000002",
    "7440000000000000010",
    "7440000000000000006",
)

FULL = "security-full-token"
ECHO_ONLY = "security-echo-bot-only"  # the echo bot, no workflow
JOKE_ONLY = "security-joke-workflow-only"  # the joke workflow, no bot

DRAFT = {"name": "episode-1", "clips": [{"text": "Hello.", "start": 0.0, "duration": 1.0}]}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- scoped tokens ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoped() -> Iterator[Sim]:
    grants = [
        TokenGrant(token=FULL),
        TokenGrant(token=ECHO_ONLY, bots=frozenset({ECHO_BOT}), workflows=frozenset()),
        TokenGrant(token=JOKE_ONLY, bots=frozenset(), workflows=frozenset({JOKE})),
    ]
    sim = Sim(create_app(config=SimConfig(tokens=grants)))
    yield sim
    sim.close()


def _denied(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, response.text
    envelope = response.json()
    assert envelope["code"] == 4101, envelope
    assert what in envelope["msg"] and envelope["detail"]["logid"]
    for token in (FULL, ECHO_ONLY, JOKE_ONLY):
        assert token not in response.text


def _chat(sim: Sim, token: str, bot: str) -> dict[str, Any]:
    body = {"bot_id": bot, "user_id": "u", "additional_messages": [{"role": "user", "content": "Paris"}]}
    response = sim.request("POST", "/v3/chat", headers=_auth(token), json=body)
    assert response.json()["code"] == 0, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _hidden(response: httpx.Response, unknown: httpx.Response, real_id: str, unknown_id: str) -> None:
    """A foreign object answers exactly as an unknown one: a scoped token cannot tell which ids exist."""
    assert response.status_code == unknown.status_code == 404, response.text
    got, expected = response.json(), unknown.json()
    assert got["code"] == expected["code"] == 4200, got
    assert got["msg"].replace(real_id, "ID") == expected["msg"].replace(unknown_id, "ID")
    assert WEATHER_BOT not in response.text


def test_a_bot_token_gets_4101_on_other_bots_and_cannot_see_their_chats(scoped: Sim) -> None:
    body = {"bot_id": WEATHER_BOT, "user_id": "u", "stream": True}
    _denied(scoped.request("POST", "/v3/chat", headers=_auth(ECHO_ONLY), json=body), WEATHER_BOT)
    _chat(scoped, ECHO_ONLY, ECHO_BOT)  # its own bot works

    chat = _chat(scoped, FULL, WEATHER_BOT)  # somebody else's chat, waiting for tool outputs
    ids = {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
    unknown_id = "1" * 19
    unknown_ids = {**ids, "chat_id": unknown_id}
    submit = {"tool_outputs": [{"tool_call_id": "x", "output": "y"}], "stream": True}
    for method, path in [
        ("POST", "/v3/chat/retrieve"),
        ("GET", "/v3/chat/retrieve"),
        ("GET", "/v3/chat/message/list"),
        ("POST", "/v3/chat/message/list"),
        ("POST", "/v3/chat/cancel"),
        ("POST", "/v3/chat/submit_tool_outputs"),
    ]:
        extra = submit if path.endswith("submit_tool_outputs") else {}
        call = scoped.request(method, path, headers=_auth(ECHO_ONLY), params=ids, json={**ids, **extra})
        unknown = scoped.request(
            method, path, headers=_auth(ECHO_ONLY), params=unknown_ids, json={**unknown_ids, **extra}
        )
        _hidden(call, unknown, chat["id"], unknown_id)
    # nothing the refused calls did reached the chat: it still waits, and its owner can read it
    retrieved = scoped.request("GET", "/v3/chat/retrieve", headers=_auth(FULL), params=ids).json()["data"]
    assert retrieved["status"] == "requires_action"


def test_a_scoped_token_gets_the_same_4101_for_unknown_and_foreign_ids(scoped: Sim) -> None:
    """Was: 4200 for an unknown bot or workflow and 4101 for a known one, which told a stranger which ids exist."""
    for bot in (WEATHER_BOT, "7390000000000009999"):
        body = {"bot_id": bot, "user_id": "u"}
        _denied(scoped.request("POST", "/v3/chat", headers=_auth(ECHO_ONLY), json=body), bot)
    for workflow in (FORECAST, "7440000000000009999"):
        body = {"workflow_id": workflow, "parameters": {"city": "Paris"}}
        _denied(scoped.request("POST", "/v1/workflow/run", headers=_auth(JOKE_ONLY), json=body), workflow)
        path = f"/v1/workflows/{workflow}/run_histories/7000000000000000001"
        _denied(scoped.request("GET", path, headers=_auth(JOKE_ONLY)), workflow)


def test_a_scoped_token_cannot_join_another_bots_conversation(scoped: Sim) -> None:
    """Was: a token for the echo bot could name the weather bot's conversation and append messages to it."""
    theirs = _chat(scoped, FULL, WEATHER_BOT)["conversation_id"]
    body = {
        "bot_id": ECHO_BOT,
        "user_id": "u",
        "additional_messages": [{"role": "user", "content": "injected"}],
    }
    joined = scoped.request("POST", "/v3/chat", headers=_auth(ECHO_ONLY), params={"conversation_id": theirs}, json=body)
    unknown = scoped.request(
        "POST", "/v3/chat", headers=_auth(ECHO_ONLY), params={"conversation_id": "1" * 19}, json=body
    )
    assert joined.status_code == unknown.status_code == 404
    assert joined.json()["msg"].replace(theirs, "ID") == unknown.json()["msg"].replace("1" * 19, "ID")
    sim_state = scoped.app.state.simulator.store
    assert all(m.content != "injected" for m in sim_state.conversations[theirs].messages)
    # its own conversations still work, and a full token may still use any conversation
    mine = _chat(scoped, ECHO_ONLY, ECHO_BOT)["conversation_id"]
    again = scoped.request("POST", "/v3/chat", headers=_auth(ECHO_ONLY), params={"conversation_id": mine}, json=body)
    assert again.json()["code"] == 0
    full = scoped.request("POST", "/v3/chat", headers=_auth(FULL), params={"conversation_id": theirs}, json=body)
    assert full.json()["code"] == 0

    # over the websocket: a context message into a foreign conversation is an error event, not an append
    socket = SocketRun(scoped, f"bot_id={ECHO_BOT}", _auth(ECHO_ONLY))
    assert socket.next()["type"] == "websocket.accept"
    assert socket.event()["event_type"] == "chat.created"
    update = {"id": "1", "event_type": "chat.update", "data": {"chat_config": {"conversation_id": theirs}}}
    socket.send_text(json.dumps(update))
    assert socket.event()["event_type"] == "chat.updated"
    message = {"role": "assistant", "content": "ws-injected", "content_type": "text"}
    socket.send_text(json.dumps({"id": "2", "event_type": "conversation.message.create", "data": message}))
    error = socket.event()
    assert error["event_type"] == "error" and error["data"]["code"] == 4200, error
    socket.finish()
    assert all(m.content != "ws-injected" for m in sim_state.conversations[theirs].messages)


def test_a_bot_token_reaches_no_workflow(scoped: Sim) -> None:
    for path in ("/v1/workflow/run", "/v1/workflow/stream_run"):
        _denied(scoped.request("POST", path, headers=_auth(ECHO_ONLY), json={"workflow_id": JOKE}), JOKE)
    body = {"workflow_id": CHATFLOW, "additional_messages": [{"role": "user", "content": "hi"}]}
    _denied(scoped.request("POST", "/v1/workflows/chat", headers=_auth(ECHO_ONLY), json=body), CHATFLOW)


def test_a_workflow_token_gets_4101_on_other_workflows_and_every_workflow_endpoint(scoped: Sim) -> None:
    for path in ("/v1/workflow/run", "/v1/workflow/stream_run"):
        body = {"workflow_id": FORECAST, "parameters": {"city": "Paris"}}
        _denied(scoped.request("POST", path, headers=_auth(JOKE_ONLY), json=body), FORECAST)
        assert scoped.request("POST", path, headers=_auth(JOKE_ONLY), json={"workflow_id": JOKE}).status_code == 200
    body = {"workflow_id": CHATFLOW, "additional_messages": [{"role": "user", "content": "hi"}]}
    _denied(scoped.request("POST", "/v1/workflows/chat", headers=_auth(JOKE_ONLY), json=body), CHATFLOW)

    stream = scoped.request("POST", "/v1/workflow/stream_run", headers=_auth(FULL), json={"workflow_id": QUESTION})
    [event_id] = re.findall(r'"event_id":"([0-9/]+)"', stream.text)
    resume = {"workflow_id": QUESTION, "event_id": event_id, "resume_data": "Paris", "interrupt_type": 2}
    _denied(scoped.request("POST", "/v1/workflow/stream_resume", headers=_auth(JOKE_ONLY), json=resume), QUESTION)
    resumed = scoped.request("POST", "/v1/workflow/stream_resume", headers=_auth(FULL), json=resume)
    assert "Paris" in resumed.text  # the refused resume did not use the interrupt up

    run = scoped.request(
        "POST",
        "/v1/workflow/run",
        headers=_auth(FULL),
        json={"workflow_id": FORECAST, "is_async": True, "parameters": {"city": "Oslo"}},
    ).json()
    path = f"/v1/workflows/{FORECAST}/run_histories/{run['execute_id']}"
    _denied(scoped.request("GET", path, headers=_auth(JOKE_ONLY)), FORECAST)
    assert scoped.request("GET", path, headers=_auth(FULL)).json()["code"] == 0
    _denied(scoped.request("GET", path, headers=_auth(ECHO_ONLY)), FORECAST)


def test_a_workflow_token_reaches_no_bot(scoped: Sim) -> None:
    body = {"bot_id": ECHO_BOT, "user_id": "u"}
    _denied(scoped.request("POST", "/v3/chat", headers=_auth(JOKE_ONLY), json=body), ECHO_BOT)


@pytest.mark.parametrize(
    ("token", "bot", "code"),
    [(ECHO_ONLY, WEATHER_BOT, 4101), (JOKE_ONLY, ECHO_BOT, 4101), ("not-a-token", ECHO_BOT, 4100)],
)
def test_the_websocket_handshake_is_scoped_too(scoped: Sim, token: str, bot: str, code: int) -> None:
    socket = SocketRun(scoped, f"bot_id={bot}", _auth(token))
    start = socket.next()
    assert start["type"] == "websocket.http.response.start" and start["status"] == 401
    envelope = json.loads(socket.next()["body"])
    assert envelope["code"] == code and token not in envelope["msg"]
    scoped.run(socket.task)

    allowed = SocketRun(scoped, f"bot_id={ECHO_BOT}", _auth(ECHO_ONLY))
    assert allowed.next()["type"] == "websocket.accept"
    assert allowed.event()["event_type"] == "chat.created"
    allowed.finish()


def test_a_wrong_token_is_never_echoed(scoped: Sim) -> None:
    guess = f"guessed-{uuid.uuid4().hex}"
    for path in ("/v3/chat", "/v1/workflow/run", "/v1/workflows/chat", "/v3/chat/cancel"):
        response = scoped.request("POST", path, headers=_auth(guess), json={"token": "x"})
        assert response.json()["code"] == 4100 and guess not in response.text


# --- the bridge -----------------------------------------------------------------------------------------

BRIDGE_TOKEN = "security-bridge-token"


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []


@pytest.fixture(scope="module")
def calls() -> Calls:
    return Calls()


@pytest.fixture(scope="module")
def bridge(calls: Calls) -> Iterator[tuple[Sim, httpx.AsyncClient]]:
    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str) -> str:
        """Weather."""
        calls.names.append("get_weather")
        return f"sunny in {city}"

    @registry.tool
    def slow(seconds: float = 5.0) -> str:
        """Sleeps."""
        calls.names.append("slow")
        time.sleep(seconds)
        return "late"

    def not_registered() -> str:  # in the same module, never registered: must stay unreachable
        calls.names.append("not_registered")
        return "reached"

    assert not_registered.__name__ not in registry.names
    app = create_bridge_app(registry, token=BRIDGE_TOKEN, tool_timeout=0.3)
    sim = Sim()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    yield sim, client
    sim.run(client.aclose())
    sim.close()


def _post(bridge: tuple[Sim, httpx.AsyncClient], path: str, **kwargs: Any) -> httpx.Response:
    sim, client = bridge
    response: httpx.Response = sim.run(client.post(path, **kwargs))
    return response


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({}, {}),
        ({"Authorization": BRIDGE_TOKEN}, {}),
        ({"Authorization": f"Basic {BRIDGE_TOKEN}"}, {}),
        ({"Authorization": f"Bearer {BRIDGE_TOKEN[:-1]}"}, {}),
        ({"Authorization": f"Bearer {BRIDGE_TOKEN} x"}, {}),
        ({"X-Api-Key": BRIDGE_TOKEN}, {"token": BRIDGE_TOKEN, "access_token": BRIDGE_TOKEN}),
    ],
    ids=["none", "no-scheme", "basic", "prefix", "suffix", "elsewhere"],
)
def test_the_bridge_runs_nothing_without_its_token(
    bridge: tuple[Sim, httpx.AsyncClient], calls: Calls, headers: dict[str, str], params: dict[str, str]
) -> None:
    before = list(calls.names)
    response = _post(bridge, "/tools/get_weather", headers=headers, params=params, json={"city": "Paris"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error_code"] == "unauthorized" and BRIDGE_TOKEN not in response.text
    assert calls.names == before


def test_the_bridge_runs_a_tool_with_its_token(bridge: tuple[Sim, httpx.AsyncClient], calls: Calls) -> None:
    response = _post(bridge, "/tools/get_weather", headers=_auth(BRIDGE_TOKEN), json={"city": "Paris"})
    assert response.json()["data"] == "sunny in Paris" and calls.names[-1] == "get_weather"


OUTSIDE = [
    "__import__",
    "os.system",
    "eval",
    "exec",
    "subprocess.run",
    "builtins.open",
    "not_registered",
    "get_weather.__globals__",
    quote("get_weather/../slow", safe=""),  # encoded, so no client normalises it away
    quote("../x", safe=""),
    quote("../../etc/passwd", safe=""),
    "%2e%2e",
    quote("harness.tools:load_registry", safe=""),
    "GET_WEATHER",
    "get_weather%00",
]


@pytest.mark.parametrize("name", OUTSIDE)
def test_the_bridge_never_runs_a_name_outside_its_registry(
    bridge: tuple[Sim, httpx.AsyncClient], calls: Calls, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    ran: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: ran.append(a))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: ran.append(a))
    before = list(calls.names)
    response = _post(bridge, f"/tools/{name}", headers=_auth(BRIDGE_TOKEN), json={"command": "touch /tmp/pwned"})
    assert response.status_code in (404, 405), response.text
    answer = response.json()
    assert answer["success"] is False and answer["error_code"] in (UNKNOWN_TOOL, "not_found", "bad_request")
    assert ran == [] and calls.names == before


@pytest.mark.parametrize("name", ["__import__", "os.system", "../x", "eval", "not_registered"])
def test_the_registry_looks_names_up_and_never_imports_them(name: str) -> None:
    """The runner's path (and the bridge's): an unknown name is an unknown_tool answer, nothing is run."""
    registry = ToolRegistry()
    result = registry.invoke(name, '{"command": "touch /tmp/pwned"}')
    assert not result.ok and result.error is not None and result.error.code == UNKNOWN_TOOL


def test_the_bridge_bounds_tool_time(bridge: tuple[Sim, httpx.AsyncClient]) -> None:
    started = time.monotonic()
    response = _post(bridge, "/tools/slow", headers=_auth(BRIDGE_TOKEN), json={"seconds": 5})
    assert response.status_code == 504 and response.json()["error_code"] == "timeout"
    assert time.monotonic() - started < 3


def test_the_bridge_limits_are_on_by_default() -> None:
    """Size and time limits need no option: a bridge started plainly has them (fuzzing checks they hold)."""
    import inspect

    parameters = inspect.signature(create_bridge_app).parameters
    assert parameters["max_body_bytes"].default == DEFAULT_MAX_BODY_BYTES <= 1 << 20
    assert parameters["body_timeout"].default == DEFAULT_BODY_TIMEOUT is not None
    assert parameters["tool_timeout"].default == DEFAULT_TOOL_TIMEOUT is not None


def test_servers_bind_loopback_unless_told_otherwise() -> None:
    parser = build_parser()
    assert parser.parse_args(["bridge", "serve", "--module", "x"]).host == "127.0.0.1"
    assert parser.parse_args(["serve"]).host == "127.0.0.1"
    sock = bind()
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
    with running(create_bridge_app(ToolRegistry(), token=BRIDGE_TOKEN)) as server:
        assert server.base_url.startswith("http://127.0.0.1:")


# --- the draft tool's sandbox ---------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "a" / "b" / "drafts"
    folder.mkdir(parents=True)
    monkeypatch.setenv(DRAFT_DIR_ENV, str(folder))
    draft_tools.configure(None)
    yield folder
    draft_tools.configure(None)


def _written(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if not path.is_dir()}


names = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["..", ".", "/", "\\", "a", "C:", "\x00", "%2e", "\u2215", "\uff0f", " ", "~"]), max_size=8
    ).map("".join),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names)
def test_a_draft_lands_directly_in_the_sandbox_or_nowhere(sandbox: Path, name: str) -> None:
    """Whatever name a caller sends, a draft is a file directly inside the sandbox, or nothing is written."""
    outside = sandbox.parent.parent.parent  # tmp_path: any escape would land somewhere under it
    before = _written(outside)
    result = draft_tools.tools.invoke("make_draft", {**DRAFT, "name": name, "overwrite": True})
    new = _written(outside) - before
    if result.ok:
        assert [path.parent for path in new] in ([sandbox], []), new  # [] when overwriting the same name
        assert result.value["path"] == f"{name}.json"
    else:
        assert new == set() and result.error is not None


def test_a_symlink_planted_in_the_sandbox_is_replaced_not_followed(sandbox: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me", encoding="utf-8")
    (sandbox / "episode-1.json").symlink_to(target)

    refused = draft_tools.tools.invoke("make_draft", DRAFT)
    assert refused.error is not None and refused.error.code == "draft_exists"

    replaced = draft_tools.tools.invoke("make_draft", {**DRAFT, "overwrite": True})
    assert replaced.ok, replaced.output
    assert target.read_text(encoding="utf-8") == "keep me"
    assert not (sandbox / "episode-1.json").is_symlink()


# --- no secret in artifacts -------------------------------------------------------------------------------


def _secret(kind: str) -> str:
    return f"sekrit-{kind}-{uuid.uuid4().hex}"


def _hits(secrets: list[str], where: str, text: str) -> list[str]:
    return [f"{where}: {secret}" for secret in secrets if secret in text]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record from every logger at DEBUG, the uvicorn and asyncio ones included."""
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore", "asyncio", "simulators"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


@contextmanager
def _bridge_with_access_log(app: Any) -> Iterator[str]:
    """The bridge under uvicorn at debug level with its access log on, as a user might run it."""
    sock = bind()
    config = uvicorn.Config(app, log_level="debug", access_log=True, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_no_secret_in_reports_cassettes_logs_or_output(
    tmp_path: Path, logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cassettes import FLOWS

    sim_token, record_token, bridge_token = _secret("report"), _secret("record"), _secret("bridge")
    secrets = [sim_token, record_token, bridge_token]
    out = tmp_path / "artifacts"
    out.mkdir()

    # 1. the report, with the simulator's token chosen on the command line
    assert main(["report", "--out", str(out / "report"), "--token", sim_token]) in (0, 1)

    # 2. cassettes recorded "for real": a server that wants the token, the token from the environment
    config = SimConfig(tokens=[TokenGrant(token=record_token)])
    monkeypatch.setenv("COZE_API_TOKEN", record_token)
    recorded = 0
    with running(create_app(config=config)) as server:
        for name in ("chat-local-plugin", "workflow-interrupt-resume", "chat-error"):
            flow = FLOWS[name]
            if flow.gap() is not None:
                continue
            ids = [f"--{role.replace('_', '-')}={value}" for role, value in flow.roles.items()]
            status = main(
                ["record", "--flow", name, "--out", str(out / f"{name}.yaml"), "--base-url", server.base_url, *ids]
            )
            assert status == 0, name
            recorded += 1
    assert recorded >= 1

    # 3. the bridge, logging everything: right and wrong tokens, a refused body, a tool that fails
    monkeypatch.setenv(DRAFT_DIR_ENV, str(tmp_path))
    draft_tools.configure(None)
    app = create_bridge_app(load_registry("examples.draft_tools"), token=bridge_token, max_body_bytes=4096)
    with _bridge_with_access_log(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.post("/tools/make_draft", headers=_auth(bridge_token), json=DRAFT).status_code == 200
        assert client.post("/tools/make_draft", headers=_auth(bridge_token), json=DRAFT).status_code == 500
        assert client.post("/tools/make_draft", headers=_auth(bridge_token + "x"), json=DRAFT).status_code == 401
        assert client.post("/tools/split_script", headers=_auth(bridge_token), content=b"x" * 5000).status_code == 413
        assert client.get("/openapi.json").status_code == 200

    # 4. both servers from the command line, as a user starts them
    for command in (
        ["serve", "--token", sim_token, "--port", "0"],
        ["bridge", "serve", "--module", "examples.draft_tools", "--token", bridge_token],
    ):
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))", *command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            first = process.stdout.readline() if process.stdout else ""
            assert "127.0.0.1" in first, first
        finally:
            process.terminate()
            output = first + process.communicate(timeout=10)[0]
        (out / f"{command[0]}-{command[1]}.txt").write_text(output, encoding="utf-8")

    hits: list[str] = []
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) >= 6, files
    for path in files:
        hits += _hits(secrets, str(path.relative_to(out)), path.read_text(encoding="utf-8", errors="replace"))
    for record in logs.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        hits += _hits(secrets, f"log {record.name}", text)
    captured = capfd.readouterr()
    hits += _hits(secrets, "stdout", captured.out) + _hits(secrets, "stderr", captured.err)
    assert hits == []
    assert logs.records, "the logs were captured (an empty capture would prove nothing)"
