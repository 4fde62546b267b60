"""The `coze-harness` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from harness.cli import main
from simulators.coze import DEFAULT_TOKEN


def test_catalogue_json_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {"id", "kind", "name", "description"} <= set(entries[0])
    assert "weather-bot" in {entry["name"] for entry in entries}


def test_bad_scenario_folder_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("kind: bot\nid: '1'\nname: x\ndescription: d\n", encoding="utf-8")
    assert main(["catalogue", "--scenarios", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "answer" in err


@contextmanager
def _serving(*options: str) -> Iterator[tuple[str, IO[str]]]:
    """`coze-harness serve --port 0 OPTIONS` in a child process: its first line's URL and its stdout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Coze simulator listening on http://127.0.0.1:"), first
        base_url = first.rsplit(" ", 1)[1].strip()
        assert not base_url.endswith(":0")
        yield base_url, process.stdout
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.e2e
@pytest.mark.cozepy_free
def test_serve_on_port_zero_prints_its_url_and_answers() -> None:
    with _serving("--token", "t0k") as (base_url, _):
        # The socket listens before the line is printed, so the kernel queues this until uvicorn accepts it.
        response = httpx.post(
            f"{base_url}/v3/chat",
            headers={"Authorization": "Bearer t0k"},
            json={"bot_id": "7390000000000000001", "user_id": "u", "additional_messages": []},
            timeout=10,
        )
        assert response.json()["code"] == 0
        default = httpx.post(f"{base_url}/v3/chat", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, json={})
        assert default.json()["code"] == 4100  # --token replaces the default token


@pytest.mark.e2e
@pytest.mark.cozepy_free
def test_serve_profile_studio_speaks_the_open_source_server() -> None:
    with _serving("--profile", "studio") as (base_url, stdout):
        assert stdout.readline().startswith("Platform: open-source Coze server (coze-studio)")
        refused = httpx.post(f"{base_url}/v3/chat", json={}, timeout=10)
        assert (refused.status_code, refused.json()["code"]) == (200, 700012006)
        missing = httpx.post(f"{base_url}/v3/chat/submit_tool_outputs", json={}, timeout=10)
        assert (missing.status_code, missing.text) == (404, "404 page not found")


def test_serve_refuses_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--profile", "coze-cn"])
    assert exited.value.code == 2
    assert "invalid choice: 'coze-cn'" in capsys.readouterr().err
