"""The command's rough edges (issue 22): a version, a real description, a licence, and no traceback
where the user's input, an unreachable server or a closed pipe is the cause."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_version_names_the_package_and_cozepy(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"coze-harness {version('coze-harness')} (cozepy {version('cozepy')})"


def test_top_level_help_says_what_the_tool_is_and_its_main_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "The `coze-harness` command." not in out
    assert "fake Coze server" in out and "cozepy" in out and "capability matrix" in out
    for command in ("report", "serve", "catalogue", "scenario validate", "bridge serve", "record"):
        assert f"`{command}`" in out


def test_license_file_is_mit_as_pyproject_says() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026 coze-harness contributors" in text
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_bridge_module_with_a_syntax_error_is_one_line_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "brokenpkg22"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "tools.py").write_text("x = 1\ndef f(:\n    pass\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for command in (
        ["bridge", "serve", "--module", "brokenpkg22.tools", "--insecure-no-auth"],
        ["bridge", "export-plugin", "--module", "brokenpkg22.tools", "--public-url", "https://x.example", "--out", "-"],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert f"{package / 'tools.py'}:2: invalid syntax" in err
        assert len(err.strip().splitlines()) == 1


def test_bridge_module_raising_on_import_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "raising22.py").write_text("import os\nraise RuntimeError('no config')\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["bridge", "serve", "--module", "raising22", "--insecure-no-auth"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "RuntimeError: no config" in err and f"{tmp_path / 'raising22.py'}:2" in err


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_record_against_an_unreachable_host_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COZE_API_TOKEN", "token-for-nowhere")
    base_url = f"http://127.0.0.1:{_free_port()}"
    out = tmp_path / "never.yaml"
    status = main(
        ["record", "--flow", "workflow-stream", "--base-url", base_url, "--workflow-id", "7", "--out", str(out)]
    )
    assert status == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("coze-harness record:")]
    assert len(lines) == 1 and f"cannot reach {base_url}" in lines[0] and "nothing was written" in lines[0]
    assert not out.exists()


@pytest.mark.cozepy_free
def test_catalogue_into_a_closed_pipe_exits_quietly() -> None:
    """`coze-harness catalogue --json | head -1`: the reader is gone before the first write."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "catalogue", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `head` does once it has its line
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "BrokenPipeError" not in err and "Traceback" not in err and err == ""


@pytest.mark.cozepy_free
def test_catalogue_through_head_in_a_shell() -> None:
    result = subprocess.run(
        f"{sys.executable} -m harness.cli catalogue --json | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.stdout == "[\n"
    assert "BrokenPipeError" not in result.stderr and "Traceback" not in result.stderr


def test_record_refused_by_the_server_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulators.coze import create_app, running

    monkeypatch.setenv("COZE_API_TOKEN", "not-the-token-it-accepts")
    out = tmp_path / "never.yaml"
    with running(create_app()) as sim:
        command = [
            "record",
            "--flow",
            "workflow-stream",
            "--base-url",
            sim.base_url,
            "--workflow-id",
            "7440000000000000001",
        ]
        assert main([*command, "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("coze-harness record:")]
    assert len(lines) == 1 and f"against {sim.base_url}: cozepy raised " in lines[0]
    assert "4100" in lines[0] or "ResponseNotRead" in lines[0]  # cozepy 0.6 cannot read the refusal of a stream
    assert "not-the-token-it-accepts" not in err and not out.exists()
