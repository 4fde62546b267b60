"""The bridge, hardened: no call without a token, no answer for a foreign Host or browser Origin, JSON
bodies only, a spec Coze can reach, a bounded tool pool, a watchdog for a blocked event loop, exception
text that stays local, and crafted JSON that is an answer, never a crash. Real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples import draft_tools
from examples.draft_tools import DRAFT_DIR_ENV
from harness._bridge_cli import build_serve_app
from harness.bridge import DEFAULT_MAX_CONCURRENT_TOOLS, TOKEN_ENV, create_bridge_app
from harness.cli import build_parser, main
from harness.tools import BUSY, ToolRegistry, ToolSlots, load_registry
from simulators.coze import ServerLimits, running

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

TOKEN = "hardening-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DRAFT = {"name": "episode-1", "clips": [{"text": "Hello.", "start": 0.0, "duration": 1.0}]}


def _post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, timeout=_TIMEOUT, **kwargs)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "drafts"
    folder.mkdir()
    monkeypatch.setenv(DRAFT_DIR_ENV, str(folder))
    draft_tools.configure(None)
    yield folder
    draft_tools.configure(None)


# --- 1. open by default, callable from any web page ------------------------------------------------


def test_an_app_without_a_token_must_say_so_on_purpose() -> None:
    with pytest.raises(ValueError, match="insecure_no_auth=True"):
        create_bridge_app(ToolRegistry())
    with pytest.raises(ValueError, match="not both"):
        create_bridge_app(ToolRegistry(), token=TOKEN, insecure_no_auth=True)
    create_bridge_app(ToolRegistry(), insecure_no_auth=True)  # the explicit way


@pytest.mark.parametrize("auth", ["token", "insecure"])
def test_the_browser_attack_from_the_issue_writes_nothing(sandbox: Path, auth: str) -> None:
    """A `text/plain` POST (no CORS preflight) with a foreign Host and Origin ran make_draft and wrote a file."""
    options: dict[str, Any] = {"token": TOKEN} if auth == "token" else {"insecure_no_auth": True}
    app = create_bridge_app(load_registry("examples.draft_tools"), **options)
    page = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example"}
    with running(app) as server:
        url = f"{server.base_url}/tools/make_draft"
        rebinding = _post(url, content=json.dumps(DRAFT), headers={**page, "Host": "evil.example"})
        cross_site = _post(url, content=json.dumps(DRAFT), headers=page)
        plain_text = _post(url, content=json.dumps(DRAFT), headers={"Content-Type": "text/plain", **AUTH})
        spec = httpx.get(f"{server.base_url}/openapi.json", headers={"Host": "evil.example"}, timeout=_TIMEOUT)
    assert (rebinding.status_code, rebinding.json()["error_code"]) == (421, "host_not_allowed")
    assert (cross_site.status_code, cross_site.json()["error_code"]) == (403, "origin_not_allowed")
    assert (plain_text.status_code, plain_text.json()["error_code"]) == (415, "unsupported_media_type")
    assert (spec.status_code, spec.json()["error_code"]) == (421, "host_not_allowed")
    for answer in (rebinding, cross_site, plain_text, spec):
        assert answer.json()["success"] is False and answer.json()["message"]
        assert "access-control-allow-origin" not in answer.headers
    assert list(sandbox.iterdir()) == []


def test_a_proper_call_still_writes_the_draft(sandbox: Path) -> None:
    app = create_bridge_app(load_registry("examples.draft_tools"), token=TOKEN)
    with running(app) as server:
        unauthorised = _post(f"{server.base_url}/tools/make_draft", json=DRAFT)
        answer = _post(f"{server.base_url}/tools/make_draft", json=DRAFT, headers=AUTH)
    assert unauthorised.status_code == 401
    assert answer.status_code == 200 and answer.json()["success"] is True
    assert [path.name for path in sandbox.iterdir()] == ["episode-1.json"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "127.0.0.1", "[::1]:8080", "127.0.0.1:1"])
def test_loopback_names_are_answered(host: str) -> None:
    app = create_bridge_app(ToolRegistry(), token=TOKEN)
    with running(app) as server:
        assert httpx.get(f"{server.base_url}/openapi.json", headers={"Host": host}, timeout=_TIMEOUT).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example", ""])
def test_other_names_are_refused(host: str) -> None:
    app = create_bridge_app(ToolRegistry(), token=TOKEN, allowed_hosts=["tunnel.example"])
    with running(app) as server:
        response = httpx.get(f"{server.base_url}/openapi.json", headers={"Host": host}, timeout=_TIMEOUT)
    assert response.status_code == 421 and response.json()["error_code"] == "host_not_allowed"


def test_allowed_hosts_and_origins_and_the_public_urls_host_are_answered() -> None:
    registry = ToolRegistry()

    @registry.tool
    def ping() -> str:
        return "pong"

    app = create_bridge_app(
        registry,
        token=TOKEN,
        allowed_hosts=["tunnel.example"],
        allowed_origins=["https://app.example"],
        public_url="https://public.example/bridge",
    )
    with running(app) as server:
        url = f"{server.base_url}/tools/ping"
        for host in ("tunnel.example", "public.example", "Tunnel.Example:443"):
            assert _post(url, json={}, headers={**AUTH, "Host": host}).json()["data"] == "pong"
        assert _post(url, json={}, headers={**AUTH, "Origin": "https://app.example"}).status_code == 200
        for origin in ("https://evil.example", "null", "https://app.example.evil.example"):
            assert _post(url, json={}, headers={**AUTH, "Origin": origin}).status_code == 403


def test_the_spec_never_copies_the_callers_host() -> None:
    app = create_bridge_app(ToolRegistry(), token=TOKEN, allowed_hosts=["tunnel.example"])
    with running(app) as server:
        spec = httpx.get(f"{server.base_url}/openapi.json", headers={"Host": "tunnel.example"}, timeout=_TIMEOUT)
    assert spec.json()["servers"] == [{"url": server.base_url}]  # the listening address, not the Host


def _tool_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    name = f"hardening_tools_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return name


@pytest.fixture
def greet_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = _tool_module(
        tmp_path,
        monkeypatch,
        """
        from harness import tool

        @tool
        def greet(name: str) -> str:
            '''Say hello.'''
            return f"hello {name}"
        """,
    )
    yield name
    sys.modules.pop(name, None)


def _serve_args(module: str, *flags: str) -> Any:
    return build_parser().parse_args(["bridge", "serve", "--module", module, *flags])


class _Serve:
    """`coze-harness bridge serve` in a subprocess: its output lines, read with a bound on each wait."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "harness.cli", "bridge", "serve", *args]
        environment = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        environment.update(env or {})
        self.process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                self.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def line(self, timeout: float = 30.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"`bridge serve` printed nothing more within {timeout} s")

    def until(self, prefix: str) -> str:
        for _ in range(20):
            text = self.line()
            if text.strip().startswith(prefix):
                return text
        pytest.fail(f"no line starting {prefix!r}")

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
        return err


def test_serve_without_a_token_makes_one_and_prints_the_header_once(greet_module: str, tmp_path: Path) -> None:
    served = _Serve(["--module", greet_module], tmp_path)
    try:
        base_url = served.line().rsplit(" ", 1)[-1].strip()
        header = served.until("Authorization: Bearer ").strip()
        token = header.removeprefix("Authorization: Bearer ")
        assert len(token) >= 32
        assert _post(f"{base_url}/tools/greet", json={"name": "Ada"}).status_code == 401
        answer = _post(f"{base_url}/tools/greet", json={"name": "Ada"}, headers={"Authorization": f"Bearer {token}"})
        assert answer.json()["data"] == "hello Ada"
    finally:
        err = served.stop()
    assert token not in err


def test_serve_takes_the_token_from_the_environment_not_the_command_line(greet_module: str, tmp_path: Path) -> None:
    served = _Serve(["--module", greet_module], tmp_path, env={TOKEN_ENV: TOKEN})
    try:
        base_url = served.line().rsplit(" ", 1)[-1].strip()
        cmdline = Path(f"/proc/{served.process.pid}/cmdline").read_bytes()
        assert TOKEN.encode() not in cmdline  # what `ps` shows
        assert _post(f"{base_url}/tools/greet", json={"name": "Ada"}, headers=AUTH).json()["data"] == "hello Ada"
        assert _post(f"{base_url}/tools/greet", json={"name": "Ada"}).status_code == 401
    finally:
        served.stop()


def test_serve_takes_the_token_from_a_file(greet_module: str, tmp_path: Path) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text(f"{TOKEN}\n")
    app = build_serve_app(_serve_args(greet_module, "--token-file", str(secret)))
    assert app is not None
    with running(app) as server:
        assert _post(f"{server.base_url}/tools/greet", json={"name": "A"}, headers=AUTH).status_code == 200
        assert _post(f"{server.base_url}/tools/greet", json={"name": "A"}).status_code == 401


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--insecure-no-auth", "--host", "0.0.0.0"], "only allowed on a loopback address"),
        (["--insecure-no-auth", "--host", "192.0.2.1"], "only allowed on a loopback address"),
        (["--insecure-no-auth", "--token", TOKEN], "serves without a token"),
        (["--token", TOKEN, "--token-file", "x"], "one way"),
        (["--token-file", "no-such-file"], "cannot read --token-file"),
    ],
)
def test_serve_refuses_unsafe_or_conflicting_auth(
    greet_module: str, capsys: pytest.CaptureFixture[str], flags: list[str], says: str
) -> None:
    assert main(["bridge", "serve", "--module", greet_module, *flags]) == 2
    assert says in capsys.readouterr().err


def test_an_empty_token_file_is_refused(greet_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").write_text("\n")
    assert main(["bridge", "serve", "--module", greet_module, "--token-file", str(tmp_path / "empty")]) == 2
    assert "must hold one token" in capsys.readouterr().err


# --- 2. a spec Coze can reach ------------------------------------------------------------------------


def test_serve_advertises_and_answers_the_public_url(greet_module: str) -> None:
    args = _serve_args(greet_module, "--token", TOKEN, "--public-url", "https://abc.tunnel.example/")
    app = build_serve_app(args)
    assert app is not None
    with running(app) as server:
        spec = httpx.get(f"{server.base_url}/openapi.json", timeout=_TIMEOUT).json()
        via_tunnel = _post(
            f"{server.base_url}/tools/greet", json={"name": "A"}, headers={**AUTH, "Host": "abc.tunnel.example"}
        )
    assert spec["servers"] == [{"url": "https://abc.tunnel.example"}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert spec["paths"]["/tools/greet"]["post"]["security"] == [{"bearerAuth": []}]
    assert via_tunnel.json()["data"] == "hello A"


def test_export_needs_the_public_url(greet_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bridge", "export-plugin", "--module", greet_module, "--out", "-"])
    assert "--public-url" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bridge", "export-plugin", "--module", greet_module, "--out", "-", "--public-url", "ftp://x"])


# --- 3. tools that outlive their timeout -------------------------------------------------------------


def test_the_pool_is_bounded_and_answers_503_with_retry_after() -> None:
    release = threading.Event()
    registry = ToolRegistry()

    @registry.tool
    def sleepy() -> str:
        release.wait(20)
        return "awake"

    app = create_bridge_app(registry, token=TOKEN, tool_timeout=0.1, max_concurrent_tools=3)
    before = threading.active_count()
    try:
        with running(app) as server:
            url = f"{server.base_url}/tools/sleepy"
            answers = [_post(url, json={}, headers=AUTH) for _ in range(40)]
            threads = threading.active_count() - before
            timed_out = [a for a in answers if a.status_code == 504]
            busy = [a for a in answers if a.status_code == 503]
            assert len(timed_out) == 3 and len(busy) == 37
            assert all(a.json()["error_code"] == BUSY and a.headers["retry-after"] == "1" for a in busy)
            assert threads <= 3 + 3  # the three overrunning tools, plus the server's own thread or two
            release.set()
            deadline = time.monotonic() + 10
            while app.state.tool_slots.live and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _post(url, json={}, headers=AUTH).json()["data"] == "awake"  # slots came back
    finally:
        release.set()


def test_busy_is_a_503_in_body_mode_too() -> None:
    release = threading.Event()
    registry = ToolRegistry()

    @registry.tool
    def sleepy() -> str:
        release.wait(20)
        return "awake"

    app = create_bridge_app(registry, insecure_no_auth=True, errors="body", tool_timeout=0.1, max_concurrent_tools=1)
    try:
        with running(app) as server:
            first = _post(f"{server.base_url}/tools/sleepy", json={})
            second = _post(f"{server.base_url}/tools/sleepy", json={})
    finally:
        release.set()
    assert first.status_code == 200 and first.json()["error_code"] == "timeout"
    assert second.status_code == 503 and second.json()["error_code"] == BUSY


def test_an_overrunning_thread_keeps_its_slot_until_it_ends() -> None:
    release = threading.Event()
    registry = ToolRegistry()

    @registry.tool
    def sleepy() -> str:
        release.wait(20)
        return "awake"

    slots = ToolSlots(1)
    assert registry.invoke("sleepy", "{}", timeout=0.05, slots=slots).error.code == "timeout"  # type: ignore[union-attr]
    assert slots.live == 1 and slots.running() == {"sleepy": 1}
    refused = registry.invoke("sleepy", "{}", timeout=0.05, slots=slots)
    assert refused.error is not None and refused.error.code == BUSY
    release.set()
    deadline = time.monotonic() + 10
    while slots.live and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slots.live == 0 and registry.invoke("sleepy", "{}", slots=slots).value == "awake"


@pytest.mark.anyio
async def test_an_async_tool_that_ignores_cancellation_keeps_its_slot() -> None:
    release = asyncio.Event()
    registry = ToolRegistry()

    @registry.tool
    async def stubborn() -> str:
        while not release.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue  # a tool that swallows cancellation
        return "done"

    slots = ToolSlots(1)
    result = await registry.ainvoke("stubborn", "{}", timeout=0.05, slots=slots)
    assert result.error is not None and result.error.code == "timeout"
    assert slots.live == 1
    release.set()
    for _ in range(200):
        if not slots.live:
            break
        await asyncio.sleep(0.01)
    assert slots.live == 0


def test_a_blocked_event_loop_is_detected_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    registry = ToolRegistry()

    @registry.tool
    async def blocker() -> str:
        time.sleep(1.2)  # blocks the bridge's loop: the mistake the watchdog is for
        return "done"

    @registry.tool
    async def polite() -> str:
        await asyncio.sleep(0)
        return "fine"

    app = create_bridge_app(registry, token=TOKEN, loop_stall_seconds=0.3)
    with caplog.at_level(logging.WARNING, logger="harness.bridge"), running(app) as server:
        ok = _post(f"{server.base_url}/tools/polite", json={}, headers=AUTH)
        blocked = _post(f"{server.base_url}/tools/blocker", json={}, headers=AUTH)
        time.sleep(0.3)
    assert "x-bridge-warning" not in ok.headers
    assert blocked.json()["data"] == "done"
    assert "blocker blocked the bridge's event loop" in blocked.headers["x-bridge-warning"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "harness.bridge"]
    assert any("event loop has been blocked" in text and "blocker" in text for text in warnings), warnings
    assert [stall.tools for stall in app.state.watchdog.stalls] == [["blocker"]]


def test_the_cli_flags_for_the_pool_and_the_server_limits(greet_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _serve_args(greet_module)
    assert args.max_concurrent_tools == DEFAULT_MAX_CONCURRENT_TOOLS
    assert (
        ServerLimits(
            header_timeout=args.header_timeout, idle_timeout=args.idle_timeout, max_connections=args.max_connections
        )
        == ServerLimits()
    )
    seen: dict[str, Any] = {}

    def fake_serve(
        app: Any, sock: Any, tls: Any = None, limits: ServerLimits | None = None, access_log: bool = False
    ) -> None:
        seen.update(app=app, limits=limits, access_log=access_log)
        sock.close()

    monkeypatch.setattr("harness._bridge_cli.serve", fake_serve)
    flags = ["--max-concurrent-tools", "2", "--header-timeout", "3", "--idle-timeout", "4", "--max-connections", "9"]
    assert main(["bridge", "serve", "--module", greet_module, "--token", TOKEN, *flags]) == 0
    assert seen["limits"] == ServerLimits(header_timeout=3, idle_timeout=4, max_connections=9)
    assert seen["app"].state.tool_slots.limit == 2
    assert seen["access_log"] is False, "the access log is off unless asked for"


# --- 4. exception text stays local -----------------------------------------------------------------


def test_exception_text_never_reaches_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    registry = ToolRegistry()

    @registry.tool
    def connect() -> str:
        raise ConnectionError("postgres://admin:hunter2@db.internal:5432/prod at /home/me/secret.cfg")

    app = create_bridge_app(registry, token=TOKEN)
    with caplog.at_level(logging.ERROR, logger="harness.tools"), running(app) as server:
        answer = _post(f"{server.base_url}/tools/connect", json={}, headers=AUTH)
    assert answer.status_code == 500 and answer.json()["error_code"] == "tool_error"
    for secret in ("hunter2", "db.internal", "/home/me", "ConnectionError"):
        assert secret not in answer.text
    error_id = answer.json()["message"].split("error id ", 1)[1].split(";", 1)[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None and "hunter2" in str(logged[0].exc_info[1])


def test_a_failure_of_the_bridge_itself_is_json_with_an_error_id(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = ToolRegistry()

    @registry.tool
    def ping() -> str:
        return "pong"

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("/srv/secret/path")

    monkeypatch.setattr(registry.get("ping"), "ainvoke", broken)
    with running(create_bridge_app(registry, token=TOKEN)) as server:
        answer = _post(f"{server.base_url}/tools/ping", json={}, headers=AUTH)
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/json"
    assert answer.json()["error_code"] == "internal_error" and "error id" in answer.json()["message"]
    assert "/srv/secret" not in answer.text


# --- 5. crafted JSON --------------------------------------------------------------------------------

DEEP = "[" * 3000 + "]" * 3000


@pytest.mark.parametrize(
    "body",
    [
        '{"value": ' + DEEP + "}",
        DEEP,
        '{"value": ' + "1" * 5000 + "}",
        '{"value": -' + "9" * 4301 + "}",
        '{"value": ' + "[" * 65 + "]" * 65 + "}",
    ],
    ids=["3000-deep", "3000-deep-top", "5000-digits", "4301-digits-negative", "65-deep"],
)
def test_crafted_json_is_an_invalid_arguments_answer(body: str) -> None:
    registry = ToolRegistry()

    @registry.tool
    def echo(value: Any = None) -> Any:
        return value

    with running(create_bridge_app(registry, token=TOKEN)) as server:
        answer = _post(
            f"{server.base_url}/tools/echo", content=body, headers={**AUTH, "Content-Type": "application/json"}
        )
    assert answer.status_code == 422 and answer.json()["error_code"] == "invalid_arguments", answer.text[:300]
    result = registry.invoke("echo", body)
    assert result.error is not None and result.error.code == "invalid_arguments"


def test_invoke_never_raises_for_decoded_arguments_or_what_a_tool_returns() -> None:
    registry = ToolRegistry()

    @registry.tool
    def echo(value: Any = None) -> Any:
        return value

    @registry.tool
    def deep() -> Any:
        value: Any = []
        for _ in range(3000):
            value = [value]
        return value

    @registry.tool
    def huge() -> int:
        return int("9" * 4000) ** 2  # more digits than an int may turn into text

    nested: Any = []
    for _ in range(3000):
        nested = [nested]
    for name, arguments in [("echo", {"value": nested}), ("echo", {"value": 10**5000}), ("deep", {}), ("huge", {})]:
        result = registry.invoke(name, arguments)
        assert not result.ok and result.error is not None, name
        assert result.error.code in ("invalid_arguments", "tool_error"), (name, result.error)


@pytest.mark.anyio
async def test_ainvoke_never_raises_either() -> None:
    registry = ToolRegistry()

    @registry.tool
    def echo(value: Any = None) -> Any:
        return value

    for arguments in ('{"value": ' + DEEP + "}", b'{"value": ' + b"7" * 5000 + b"}", b"\xff\xfe"):
        result = await registry.ainvoke("echo", arguments)
        assert result.error is not None and result.error.code == "invalid_arguments"
