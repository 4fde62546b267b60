"""`--access-log` (issue 22): one line per request served, with no credential in it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.bridge import create_bridge_app
from harness.tools import ToolRegistry
from simulators.coze import DEFAULT_TOKEN, create_app, running
from simulators.coze.accesslog import AccessLog, redacted_query

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-query-secret-0123456789"


def _access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("access ")]


def test_a_served_request_is_logged_without_its_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    with running(create_app(), access_log=True) as sim:
        response = httpx.get(
            f"{sim.base_url}/v3/chat/retrieve",
            params={"conversation_id": "7390000000000000123", "chat_id": "nope", "access_token": SECRET},
            headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
            timeout=10,
        )
    assert response.status_code > 0
    err = capsys.readouterr().err
    lines = _access_lines(err)
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("access 127.0.0.1:")
    assert '"GET /v3/chat/retrieve?conversation_id=7390000000000000123&chat_id=REDACTED&access_token=REDACTED"' in line
    assert f" {response.status_code} " in line and line.endswith(" ms")
    assert SECRET not in err and DEFAULT_TOKEN not in err


def test_a_stream_is_logged_once_when_it_ends(capsys: pytest.CaptureFixture[str]) -> None:
    with running(create_app(), access_log=True) as sim:
        with httpx.stream(
            "POST",
            f"{sim.base_url}/v3/chat",
            headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
            json={
                "bot_id": "7390000000000000001",
                "user_id": "u",
                "stream": True,
                "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
            },
            timeout=10,
        ) as response:
            body = response.read()
        assert b"[DONE]" in body
    lines = _access_lines(capsys.readouterr().err)
    assert len(lines) == 1 and '"POST /v3/chat" 200 ' in lines[0]


def test_off_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with running(create_app()) as sim:
        httpx.get(f"{sim.base_url}/v3/chat/retrieve", timeout=10)
    assert _access_lines(capsys.readouterr().err) == []


def test_the_bridge_logs_through_the_same_runner(capsys: pytest.CaptureFixture[str]) -> None:
    tools = ToolRegistry()

    @tools.tool
    def echo(text: str) -> str:
        return text

    with running(create_bridge_app(tools, token="bridge-token-secret"), access_log=True) as bridge:
        response = httpx.post(
            f"{bridge.base_url}/tools/echo?key={SECRET}",
            json={"text": "hello"},
            headers={"Authorization": "Bearer bridge-token-secret"},
            timeout=10,
        )
    assert response.status_code == 200
    err = capsys.readouterr().err
    lines = _access_lines(err)
    assert len(lines) == 1 and '"POST /tools/echo?key=REDACTED" 200 ' in lines[0]
    assert SECRET not in err and "bridge-token-secret" not in err


def test_query_redaction_keeps_only_decimal_ids() -> None:
    assert redacted_query(b"bot_id=7390000000000000001&token=abc&workflow_id=x1&id=12&q=") == (
        "bot_id=7390000000000000001&token=REDACTED&workflow_id=REDACTED&id=12&q="
    )
    assert redacted_query(b"") == ""


def test_a_websocket_handshake_line() -> None:
    scope = {"type": "websocket", "client": ("127.0.0.1", 5), "path": "/v1/chat", "query_string": b"bot_id=1"}
    assert AccessLog.line(scope, 101, 0.0021, websocket=True) == 'access 127.0.0.1:5 "WS /v1/chat?bot_id=1" 101 2.1 ms'


def _wait_for_access_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if line.startswith("access "):
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError("no access line on stderr")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("command", "banner"),
    [
        (["serve", "--access-log"], "Coze simulator listening on "),
        (
            ["bridge", "serve", "--access-log", "--module", "examples.draft_tools", "--insecure-no-auth"],
            "Tool bridge listening on ",
        ),
    ],
    ids=["serve", "bridge-serve"],
)
def test_both_commands_take_access_log(command: list[str], banner: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(banner), first
        base_url = first.split(banner, 1)[1].strip()
        httpx.get(f"{base_url}/openapi.json", params={"token": SECRET}, timeout=10)
        line = _wait_for_access_line(process, time.monotonic() + 20)
        assert '"GET /openapi.json?token=REDACTED" ' in line and SECRET not in line
    finally:
        process.terminate()
        process.wait(10)


def test_websocket_handshakes_are_logged_accepted_and_refused(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    import websockets

    async def connect(url: str, headers: dict[str, str]) -> str:
        try:
            async with websockets.connect(url, additional_headers=headers) as socket:
                return str(await socket.recv())
        except websockets.InvalidStatus as refused:
            return f"refused {refused.response.status_code}"

    with running(create_app(), access_log=True) as sim:
        base = sim.base_url.replace("http://", "ws://")
        accepted = asyncio.run(
            connect(
                f"{base}/v1/chat?bot_id=7390000000000000001&token={SECRET}",
                {"Authorization": f"Bearer {DEFAULT_TOKEN}"},
            )
        )
        refused = asyncio.run(connect(f"{base}/v1/chat?bot_id=7390000000000000001", {}))
    assert "chat.created" in accepted and refused == "refused 401"
    err = capsys.readouterr().err
    lines = _access_lines(err)
    assert len(lines) == 2, err
    assert '"WS /v1/chat?bot_id=7390000000000000001&token=REDACTED" 101 ' in lines[0]
    assert '"WS /v1/chat?bot_id=7390000000000000001" 401 ' in lines[1]
    assert SECRET not in err and DEFAULT_TOKEN not in err
