"""`coze-harness serve` safe by default: tokens it can actually match, no public token off loopback,
scoped tokens from a file (kept out of `ps`), http nodes that reach loopback only, and state that
stays bounded however many chats a client starts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from asgi_driver import Sim
from fastapi import FastAPI
from starlette.requests import Request

from harness.cli import main
from simulators.coze import DEFAULT_TOKEN, SimConfig, StoreLimits, create_app, running
from simulators.coze.store import MAX_MESSAGES_PER_CONVERSATION

ECHO_BOT, WEATHER_BOT = "7390000000000000001", "7390000000000000002"
JOKE, HTTP_BRIDGE = "7440000000000000001", "7440000000000000005"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


# --- tokens on the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--token", ""], "--token number 1 cannot be used"),
        (["--token", "ok", "--token", "trailing "], "--token number 2 cannot be used: a token must be"),
        (["--token", "tab\tinside"], "no spaces"),
        (["--host", "0.0.0.0"], f"the default token {DEFAULT_TOKEN} is public"),
        (["--host", "0.0.0.0", "--token", DEFAULT_TOKEN], "is public"),
        (["--host", "::", "--token", "mine", "--token", DEFAULT_TOKEN], "is public"),
    ],
)
def test_serve_refuses_tokens_that_protect_nothing(
    options: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: `--token ""` crashed with a traceback; a token with a trailing space was accepted and could never
    match (HTTP trims header values); `--host 0.0.0.0` served everyone holding the README's token."""
    assert main(["serve", "--port", "0", *options]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err, err


def _grants_file(tmp_path: Path, text: str, name: str = "grants.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tokens: []", "tokens"),
        ("tokens: [{token: 'a b'}]", "no spaces"),
        ("tokens: [{token: t, bot: ['1']}]", "bot"),
        ("[not: yaml", "not valid YAML"),
    ],
)
def test_a_bad_grants_file_is_a_usage_error_naming_it(
    tmp_path: Path, text: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _grants_file(tmp_path, text)
    assert main(["serve", "--port", "0", "--grants", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and fragment in err and "Traceback" not in err, err


@contextmanager
def _serving(*options: str) -> Iterator[tuple[str, IO[str], list[str]]]:
    command = [sys.executable, "-m", "harness.cli", "serve", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Coze simulator listening on http://127.0.0.1:"), first
        yield first.rsplit(" ", 1)[1].strip(), process.stdout, command
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.e2e
def test_serve_takes_scoped_tokens_from_a_grants_file(tmp_path: Path) -> None:
    secret = "grants-file-secret-7f3a"
    path = _grants_file(
        tmp_path, json.dumps({"tokens": [{"token": secret, "bots": [ECHO_BOT], "workflows": []}]}), "grants.json"
    )
    with _serving("--grants", str(path)) as (base_url, stdout, command):
        assert secret not in " ".join(command), "the token is in the file, not on the command line"
        stdout.readline()  # Platform
        assert stdout.readline().startswith("Tokens: 1 accepted (1 scoped")
        headers = {"Authorization": f"Bearer {secret}"}
        body = {"bot_id": ECHO_BOT, "user_id": "u", "additional_messages": []}
        assert httpx.post(f"{base_url}/v3/chat", headers=headers, json=body, timeout=10).json()["code"] == 0
        other = httpx.post(f"{base_url}/v3/chat", headers=headers, json={**body, "bot_id": WEATHER_BOT}, timeout=10)
        assert other.json()["code"] == 4101
        run = httpx.post(f"{base_url}/v1/workflow/run", headers=headers, json={"workflow_id": JOKE}, timeout=10)
        assert run.json()["code"] == 4101
        default = httpx.post(f"{base_url}/v3/chat", headers=AUTH, json=body, timeout=10)
        assert default.json()["code"] == 4100, "a grants file replaces the default token"


# --- http nodes -------------------------------------------------------------------------------------


@contextmanager
def _tool_server() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for a bridge tool on 127.0.0.1: records the hosts it was called through."""
    seen: list[str] = []
    app = FastAPI()

    @app.post("/tools/echo")
    async def echo(request: Request) -> dict[str, Any]:
        seen.append(request.headers.get("host", ""))
        return {"success": True, "data": await request.json()}

    with running(app) as server:
        yield server.base_url, seen


def _run_http_node(sim: Sim, url: str) -> dict[str, Any]:
    body = {"workflow_id": HTTP_BRIDGE, "parameters": {"url": url, "arguments": {"city": "Paris"}}}
    answer: dict[str, Any] = sim.request("POST", "/v1/workflow/run", headers=AUTH, json=body).json()
    return answer


def test_http_nodes_call_loopback_only_unless_a_host_is_allowed() -> None:
    """Was: the http-bridge workflow POSTed to any URL its caller named and returned the answer: an open
    proxy into the network the simulator runs in. `0.0.0.0` reaches this machine's listeners on Linux
    but is not a loopback address, so it stands for "any other host" without traffic leaving the machine."""
    with _tool_server() as (base_url, seen):
        port = base_url.rsplit(":", 1)[1]
        default = Sim()
        try:
            assert _run_http_node(default, f"{base_url}/tools/echo")["code"] == 0, "loopback works"
            assert _run_http_node(default, f"http://localhost:{port}/tools/echo")["code"] == 0
            refused = _run_http_node(default, f"http://0.0.0.0:{port}/tools/echo")
            assert refused["code"] != 0
            assert "loopback addresses only" in refused["msg"] and "--allow-http-host 0.0.0.0" in refused["msg"]
            assert not [host for host in seen if host.startswith("0.0.0.0")], "the refused call was never sent"
        finally:
            default.close()
        allowed = Sim(create_app(config=SimConfig(allow_http_hosts=frozenset({"0.0.0.0"}))))
        try:
            assert _run_http_node(allowed, f"http://0.0.0.0:{port}/tools/echo")["code"] == 0
            assert any(host.startswith("0.0.0.0") for host in seen)
        finally:
            allowed.close()


# --- bounded state ----------------------------------------------------------------------------------


def _chat(sim: Sim, bot: str, text: str = "hi", conversation_id: str | None = None) -> dict[str, Any]:
    body = {"bot_id": bot, "user_id": "u", "additional_messages": [{"role": "user", "content": text}]}
    params = {"conversation_id": conversation_id} if conversation_id else {}
    data: dict[str, Any] = sim.request("POST", "/v3/chat", headers=AUTH, json=body, params=params).json()["data"]
    return data


def _retrieve(sim: Sim, chat: dict[str, Any]) -> dict[str, Any]:
    params = {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
    answer: dict[str, Any] = sim.request("GET", "/v3/chat/retrieve", headers=AUTH, params=params).json()
    return answer


def test_the_store_forgets_the_oldest_finished_records_past_its_cap() -> None:
    """Was: every chat, conversation and execution kept forever (10,000 chats grew the server by 30 MB)."""
    sim = Sim(create_app(config=SimConfig(store=StoreLimits(max_records=5))))
    try:
        waiting = _chat(sim, WEATHER_BOT)  # requires_action: somebody will submit outputs to it
        chats = [_chat(sim, ECHO_BOT, f"m{i}") for i in range(20)]
        store = sim.app.state.simulator.store
        assert len(store.chats) <= 5 and len(store.conversations) <= 5
        gone = _retrieve(sim, chats[0])
        assert gone["code"] == 4200 and "was not found" in gone["msg"], "an evicted id answers as unknown"
        assert _retrieve(sim, chats[-1])["data"]["status"] == "completed"
        assert _retrieve(sim, waiting)["data"]["status"] == "requires_action", "unfinished chats go last"
        for _ in range(8):
            sim.request("POST", "/v1/workflow/run", headers=AUTH, json={"workflow_id": JOKE, "is_async": True})
        assert len(store.executions) <= 5
    finally:
        sim.close()


def test_the_store_forgets_records_past_their_age(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulators.coze.store as store_module

    now = [1000.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: now[0])
    sim = Sim(create_app(config=SimConfig(store=StoreLimits(max_age_seconds=60))))
    try:
        old = _chat(sim, ECHO_BOT)
        now[0] += 61
        _chat(sim, ECHO_BOT)  # any new record sweeps the expired ones from the front
        assert _retrieve(sim, old)["code"] == 4200
    finally:
        sim.close()


def test_a_conversation_keeps_its_latest_messages_only() -> None:
    sim = Sim()
    try:
        first = _chat(sim, ECHO_BOT)
        conversation = sim.app.state.simulator.store.conversations[first["conversation_id"]]
        for i in range(MAX_MESSAGES_PER_CONVERSATION + 10):
            conversation.messages.append({"role": "user", "content": str(i)})
        assert len(conversation.messages) == MAX_MESSAGES_PER_CONVERSATION
        assert conversation.messages[-1]["content"] == str(MAX_MESSAGES_PER_CONVERSATION + 9)
    finally:
        sim.close()


def test_the_id_source_remembers_a_bounded_number_of_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: every id ever issued stayed in a set (about 80 MB after 100,000 chats); the sequence itself is
    unchanged, so seeded runs give the same ids as before."""
    import simulators.coze.ids as ids_module

    unbounded = ids_module.IdSource(7)
    expected = [unbounded.new_id() for _ in range(300)]
    monkeypatch.setattr(ids_module, "RECENT_IDS", 100)
    bounded = ids_module.IdSource(7)
    assert [bounded.new_id() for _ in range(300)] == expected
    assert len(bounded._issued) == 100 and len(bounded._order) == 100
