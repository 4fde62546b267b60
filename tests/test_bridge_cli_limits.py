"""`coze-harness bridge serve --max-body-bytes N --body-timeout SECONDS`: the body limits `create_bridge_app`
takes, from the command line. Validated by argparse, defaulting to the library's values, and enforced
with the bridge's own error envelope: through the command's app builder on a loopback server, and
through the real command in a subprocess."""

from __future__ import annotations

import argparse
import queue
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness._bridge_cli import build_serve_app
from harness.bridge import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES
from harness.cli import build_parser
from simulators.coze import running

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SMALL = 256
"""The lowered limit: a body of BIG bytes is over it, and far under the default of 1 MiB."""
BIG = 4096


@pytest.fixture
def tool_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"limit_tools_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from harness import tool

            @tool
            def measure(text: str) -> int:
                '''Count the characters of a text.

                Args:
                    text: what to measure
                '''
                return len(text)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def _args(module: str, *flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["bridge", "serve", "--module", module, "--insecure-no-auth", *flags])


def _body(size: int) -> bytes:
    """A valid `measure` call of exactly `size` bytes."""
    envelope = b'{"text": ""}'
    return b'{"text": "' + b"x" * (size - len(envelope)) + b'"}'


# --- the flags -------------------------------------------------------------------------------


def test_the_flags_default_to_the_library_defaults() -> None:
    args = build_parser().parse_args(["bridge", "serve", "--module", "m"])
    assert args.max_body_bytes == DEFAULT_MAX_BODY_BYTES and isinstance(args.max_body_bytes, int)
    assert args.body_timeout == DEFAULT_BODY_TIMEOUT


def test_the_flags_parse() -> None:
    args = build_parser().parse_args(
        ["bridge", "serve", "--module", "m", "--max-body-bytes", "64", "--body-timeout", "2.5"]
    )
    assert (args.max_body_bytes, args.body_timeout) == (64, 2.5)


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--max-body-bytes", "0", "wants a whole number of bytes above 0, got '0'"),
        ("--max-body-bytes", "-5", "wants a whole number of bytes above 0, got '-5'"),
        ("--max-body-bytes", "1.5", "wants a whole number of bytes above 0, got '1.5'"),
        ("--max-body-bytes", "lots", "wants a whole number of bytes above 0, got 'lots'"),
        ("--body-timeout", "0", "wants a finite number of seconds above 0, got '0'"),
        ("--body-timeout", "-1", "wants a finite number of seconds above 0, got '-1'"),
        ("--body-timeout", "nan", "wants a finite number of seconds above 0, got 'nan'"),
        ("--body-timeout", "inf", "wants a finite number of seconds above 0, got 'inf'"),
        ("--body-timeout", "soon", "wants a number of seconds above 0, got 'soon'"),
    ],
)
def test_bad_values_are_a_usage_error(capsys: pytest.CaptureFixture[str], flag: str, value: str, says: str) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["bridge", "serve", "--module", "m", flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {says}" in err and "usage: coze-harness bridge serve" in err


def test_help_says_what_each_flag_is_for(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bridge", "serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-body-bytes N" in text and "413" in text and f"default {DEFAULT_MAX_BODY_BYTES}" in text
    assert "--body-timeout SECONDS" in text and "408" in text and f"default {DEFAULT_BODY_TIMEOUT:g}" in text


# --- the app the command serves ----------------------------------------------------------------


def _post(base_url: str, content: bytes | Iterator[bytes]) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return httpx.post(f"{base_url}/tools/measure", content=content, headers=headers, timeout=_TIMEOUT)


def test_a_lower_limit_refuses_an_oversized_body_with_the_bridge_envelope(tool_module: str) -> None:
    app = build_serve_app(_args(tool_module, "--max-body-bytes", str(SMALL)))
    assert app is not None
    with running(app) as server:
        refused = _post(server.base_url, _body(BIG))
        chunked = _post(server.base_url, iter([_body(BIG)[:100], _body(BIG)[100:]]))  # no Content-Length
        fits = _post(server.base_url, _body(SMALL))
    for answer in (refused, chunked):
        assert answer.status_code == 413 and answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["success"] is False and body["error_code"] == "too_large" and body["data"] is None
        assert str(SMALL) in body["message"]
    assert fits.status_code == 200
    assert fits.json() == {"success": True, "error_code": "", "message": "", "data": SMALL - len('{"text": ""}')}


def test_without_the_flag_the_same_body_is_accepted(tool_module: str) -> None:
    app = build_serve_app(_args(tool_module))
    assert app is not None
    with running(app) as server:
        answer = _post(server.base_url, _body(BIG))
    assert answer.status_code == 200 and answer.json()["data"] == BIG - len('{"text": ""}')


def _trickle(base_url: str) -> bytes:
    """Headers that promise 100 bytes, then 10 of them, then nothing: the answer the server gives (bounded)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /tools/measure HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\nConnection: close\r\n\r\n{"text": "'
        )
        received = b""
        for _ in range(100):  # bounded: each recv waits at most the socket timeout
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_a_short_body_timeout_refuses_a_trickling_sender(tool_module: str) -> None:
    app = build_serve_app(_args(tool_module, "--body-timeout", "0.2"))
    assert app is not None
    with running(app) as server:
        answer = _trickle(server.base_url)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b'"error_code":"body_timeout"' in body and b'"success":false' in body and b"0.2 s" in body


# --- the real command --------------------------------------------------------------------------


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"`coze-harness bridge serve` printed nothing within {timeout} s")


def test_bridge_serve_command_enforces_max_body_bytes(tool_module: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness.cli", "bridge", "serve", "--module", tool_module, "--port", "0"]
    command.append("--insecure-no-auth")
    process = subprocess.Popen(
        [*command, "--max-body-bytes", str(SMALL), "--body-timeout", "5"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = _read_line(process, timeout=30)
        assert first_line.startswith("Tool bridge listening on http://127.0.0.1:"), first_line
        base_url = first_line.rsplit(" ", 1)[-1].strip()
        refused = _post(base_url, _body(BIG))
        assert refused.status_code == 413 and refused.json()["error_code"] == "too_large"
        assert refused.json()["success"] is False and f"at most {SMALL}" in refused.json()["message"]
        assert _post(base_url, _body(SMALL)).status_code == 200
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


def test_bridge_serve_command_rejects_a_bad_limit(tool_module: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness.cli", "bridge", "serve", "--module", tool_module]
    done = subprocess.run([*command, "--max-body-bytes", "0"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --max-body-bytes: wants a whole number of bytes above 0, got '0'" in done.stderr


@pytest.mark.parametrize("value", ["x", "0", "-1", "nan", "inf"])
def test_a_bad_slow_tool_delay_is_refused(tool_module: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert build_serve_app(_args(tool_module, "--slow-tool", f"measure={value}")) is None
    assert "--slow-tool wants NAME=SECONDS (above 0)" in capsys.readouterr().err
