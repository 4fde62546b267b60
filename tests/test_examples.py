"""examples/draft_tools.py end to end: the draft bot through the local-plugin runner, the draft tools
through the HTTP bridge and a workflow's http nodes, the sandbox, and the atomic write. Real cozepy,
real loopback sockets, a temporary folder as the sandbox."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cozepy
import httpx
import pytest

from examples import draft_tools
from examples.draft_tools import DRAFT_DIR_ENV, tools
from harness import sdk
from harness.bridge import create_bridge_app
from harness.local_plugin import LocalPluginRunner
from harness.sdk import event_name
from harness.tools import INVALID_ARGUMENTS, load_registry
from simulators.coze import DEFAULT_TOKEN, Catalogue, RunningServer, create_app, running
from simulators.coze.scenarios import BUILTIN_DIR

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SCENARIOS = ROOT / "examples" / "scenarios"
DRAFT_BOT = "7390000000000000101"
DRAFT_WORKFLOW = "7440000000000000101"
HTTP_BRIDGE_WORKFLOW = "7440000000000000005"

SCRIPT = "Coze bots can call local code. This draft was written on your disk! 这是一个本地工具写的草稿。"
# At the draft bot's 150 words a minute: 6 words, 7 words, 12 CJK characters (half a word each).
EXPECTED_CLIPS = [
    {"text": "Coze bots can call local code.", "start": 0.0, "duration": 2.4},
    {"text": "This draft was written on your disk!", "start": 2.4, "duration": 2.8},
    {"text": "这是一个本地工具写的草稿。", "start": 5.2, "duration": 2.4},
]
EXPECTED_RANGES = [(0, 2_400_000), (2_400_000, 2_800_000), (5_200_000, 2_400_000)]

# Names that would leave the sandbox, each with the rule its refusal must name ({tmp}: the test's tmp_path).
ESCAPES = [
    ("../escape", "must not contain '..'"),
    ("../../escape", "must not contain '..'"),
    ("..", "must not contain '..'"),
    ("sub/escape", "path separator"),
    ("sub\\escape", "path separator"),
    ("{tmp}/escape", "absolute"),
    ("C:escape", "absolute or drive path"),
    ("esc\x00ape", "NUL"),
    (".escape", "must not start with '.'"),
]

_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
"""Every request is bounded well below cozepy's default 600 s read timeout."""

needs_tool_calls = pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))


BRIDGE_TOKEN = "examples-bridge-token"

# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_sim() -> Iterator[RunningServer]:
    """The built-in catalogue plus examples/scenarios (ids must not collide, or loading fails)."""
    with running(create_app(Catalogue.load(BUILTIN_DIR, EXAMPLE_SCENARIOS))) as server:
        yield server


@pytest.fixture(scope="module")
def http_bridge() -> Iterator[RunningServer]:
    """The example tools as the bridge serves them by default: failures are HTTP errors."""
    with running(create_bridge_app(load_registry("examples.draft_tools"), insecure_no_auth=True)) as server:
        yield server


@pytest.fixture(scope="module")
def body_bridge() -> Iterator[RunningServer]:
    """The same tools answering failures with 200 and success=false, so a workflow's Error shows why; the
    draft workflow's http nodes send the token (`bridge_token`), as a workflow calling a real bridge must."""
    app = create_bridge_app(load_registry("examples.draft_tools"), token=BRIDGE_TOKEN, errors="body")
    with running(app) as server:
        yield server


@pytest.fixture
def example_coze(example_sim: RunningServer) -> Iterator[Any]:
    options: dict[str, Any] = {}
    http_client = None
    if "http_client" in inspect.signature(cozepy.Coze).parameters:
        http_client = options["http_client"] = httpx.Client(timeout=_TIMEOUT)
    yield cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=example_sim.base_url, **options)
    if http_client is not None:
        http_client.close()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A draft folder nested in tmp_path, so any escape ('..', '../..') would still land in tmp_path."""
    folder = tmp_path / "a" / "b" / "drafts"
    folder.mkdir(parents=True)
    monkeypatch.setenv(DRAFT_DIR_ENV, str(folder))
    draft_tools.configure(None)
    yield folder
    draft_tools.configure(None)


def _files(root: Path) -> list[str]:
    """Every file (not folder) under root, relative: what a tool wrote, temporary files included."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if not path.is_dir())


def _draft(sandbox: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((sandbox / f"{name}.json").read_text(encoding="utf-8"))
    return document


def _assert_project(document: dict[str, Any], name: str) -> None:
    """The draft of SCRIPT: three captions back to back on one text track, timed in microseconds."""
    assert document["format"] == "coze-harness.draft"
    assert document["name"] == name
    assert document["canvas_config"] == {"ratio": "9:16", "width": 1080, "height": 1920}
    assert document["duration"] == 7_600_000
    texts = {item["id"]: item["content"] for item in document["materials"]["texts"]}
    assert list(texts.values()) == [clip["text"] for clip in EXPECTED_CLIPS]
    [track] = document["tracks"]
    assert track["type"] == "text"
    placed = [
        (texts[seg["material_id"]], seg["target_timerange"]["start"], seg["target_timerange"]["duration"])
        for seg in track["segments"]
    ]
    assert placed == [(clip["text"], *span) for clip, span in zip(EXPECTED_CLIPS, EXPECTED_RANGES, strict=True)]


def _workflow_events(coze: Any, workflow_id: str, parameters: dict[str, Any]) -> list[Any]:
    return list(coze.workflows.runs.stream(workflow_id=workflow_id, parameters=parameters))


def _only_message(events: list[Any]) -> dict[str, Any]:
    """The run's one Message (the end node's output), after checking the stream ended cleanly.

    Releases from 0.17 read to the end of the body and skip `Done`; older ones may hand it over, and
    then it must be last.
    """
    names = [event_name(event) for event in events]
    assert names in (["Message"], ["Message", "Done"]), names
    content: dict[str, Any] = json.loads(events[0].message.content)
    return content


EXPECTED_SUMMARY = {
    "path": "episode-1.json",
    "name": "episode-1",
    "clips": 3,
    "tracks": 1,
    "duration_us": 7_600_000,
    "duration_seconds": 7.6,
}


# --- the local-plugin bot -----------------------------------------------------------------------


@needs_tool_calls
def test_draft_bot_runs_both_tools_and_quotes_their_outputs(example_coze: Any, sandbox: Path, tmp_path: Path) -> None:
    runner = LocalPluginRunner(example_coze, tools, tool_timeout=20)
    result = runner.run(DRAFT_BOT, SCRIPT, custom_variables={"draft_name": "episode-1"})

    assert result.status == "completed", result
    assert result.rounds == 2
    split, make = result.tool_calls
    assert [(split.round, split.name, split.ok), (make.round, make.name, make.ok)] == [
        (1, "split_script", True),
        (2, "make_draft", True),
    ]
    assert json.loads(split.output) == EXPECTED_CLIPS
    assert json.loads(make.arguments)["clips"] == split.output  # the bot passed round 1's output on as text
    assert json.loads(make.output) == EXPECTED_SUMMARY
    assert result.answer == f"Clips: {split.output}\nDraft: {make.output}"

    _assert_project(_draft(sandbox, "episode-1"), "episode-1")
    assert _files(tmp_path) == ["a/b/drafts/episode-1.json"]  # no temporary file left, nothing elsewhere


@needs_tool_calls
@pytest.mark.parametrize(("name", "rule"), ESCAPES[:3] + ESCAPES[5:6])
def test_draft_bot_gets_a_json_error_for_an_escaping_name(
    example_coze: Any, sandbox: Path, tmp_path: Path, name: str, rule: str
) -> None:
    name = name.format(tmp=tmp_path)
    result = LocalPluginRunner(example_coze, tools, tool_timeout=20).run(
        DRAFT_BOT, SCRIPT, custom_variables={"draft_name": name}
    )

    assert result.status == "completed"  # the chat goes on: the bot is told why, it is not left hanging
    make = result.tool_calls[-1]
    assert (make.name, make.ok) == ("make_draft", False)
    error = json.loads(make.output)["error"]
    assert error["code"] == INVALID_ARGUMENTS
    assert rule in error["message"]
    assert result.answer.endswith(f"Draft: {make.output}")
    assert _files(tmp_path) == []


# --- the HTTP bridge and workflows -------------------------------------------------------------


def test_bridge_serves_both_tools_with_their_schemas(http_bridge: RunningServer) -> None:
    document = httpx.get(f"{http_bridge.base_url}/openapi.json", timeout=_TIMEOUT).json()
    assert sorted(document["paths"]) == ["/tools/make_draft", "/tools/split_script"]
    schema = document["paths"]["/tools/make_draft"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["name", "clips"]
    assert schema["properties"]["clips"]["type"] == "array"
    assert schema["properties"]["clips"]["maxItems"] == draft_tools.MAX_CLIPS


def test_draft_workflow_chains_both_tools_through_the_bridge(
    example_coze: Any, body_bridge: RunningServer, sandbox: Path, tmp_path: Path
) -> None:
    parameters = {"bridge": body_bridge.base_url, "script": SCRIPT, "draft_name": "episode-1"}
    without_token = _workflow_events(example_coze, DRAFT_WORKFLOW, parameters)
    assert [event_name(event) for event in without_token] == ["Error"] and _files(tmp_path) == []
    parameters["bridge_token"] = BRIDGE_TOKEN
    output = _only_message(_workflow_events(example_coze, DRAFT_WORKFLOW, parameters))

    assert output == {"draft": EXPECTED_SUMMARY}
    _assert_project(_draft(sandbox, "episode-1"), "episode-1")
    assert _files(tmp_path) == ["a/b/drafts/episode-1.json"]


def test_http_bridge_workflow_calls_make_draft_with_clip_arguments(
    example_coze: Any, http_bridge: RunningServer, sandbox: Path, tmp_path: Path
) -> None:
    parameters = {
        "url": f"{http_bridge.base_url}/tools/make_draft",
        "arguments": {"name": "episode-1", "clips": EXPECTED_CLIPS, "aspect_ratio": "9:16"},
    }
    output = _only_message(_workflow_events(example_coze, HTTP_BRIDGE_WORKFLOW, parameters))

    assert output == {"output": {"success": True, "error_code": "", "message": "", "data": EXPECTED_SUMMARY}}
    _assert_project(_draft(sandbox, "episode-1"), "episode-1")
    assert _files(tmp_path) == ["a/b/drafts/episode-1.json"]


@pytest.mark.parametrize(("name", "rule"), ESCAPES)
def test_bridge_refuses_an_escaping_name_with_a_422(
    http_bridge: RunningServer, sandbox: Path, tmp_path: Path, name: str, rule: str
) -> None:
    name = name.format(tmp=tmp_path)
    response = httpx.post(
        f"{http_bridge.base_url}/tools/make_draft", json={"name": name, "clips": EXPECTED_CLIPS}, timeout=_TIMEOUT
    )

    assert response.status_code == 422
    answer = response.json()
    assert (answer["success"], answer["error_code"], answer["data"]) == (False, INVALID_ARGUMENTS, None)
    assert rule in answer["message"]
    assert [detail["loc"] for detail in answer["details"]] == [["name"]]
    assert _files(tmp_path) == []


def test_workflow_run_fails_with_the_reason_for_an_escaping_name(
    example_coze: Any, body_bridge: RunningServer, sandbox: Path, tmp_path: Path
) -> None:
    parameters = {
        "bridge": body_bridge.base_url,
        "bridge_token": BRIDGE_TOKEN,
        "script": SCRIPT,
        "draft_name": "../../escape",
    }
    events = _workflow_events(example_coze, DRAFT_WORKFLOW, parameters)

    assert [event_name(event) for event in events] == ["Error"]
    assert "draft name '../../escape' must not contain '..'" in events[0].error.error_message
    assert _files(tmp_path) == []


# --- the sandbox and the write, tool by tool ----------------------------------------------------


def _make(name: str = "episode-1", **extra: Any) -> Any:
    return tools.invoke("make_draft", {"name": name, "clips": EXPECTED_CLIPS, **extra})


def test_no_sandbox_set_is_a_clear_error_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DRAFT_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    draft_tools.configure(None)

    result = _make()

    assert result.error is not None
    assert result.error.code == "draft_dir_not_set"
    assert DRAFT_DIR_ENV in result.error.message
    assert _files(tmp_path) == []


def test_a_missing_sandbox_is_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DRAFT_DIR_ENV, str(tmp_path / "nowhere"))
    draft_tools.configure(None)

    result = _make()

    assert result.error is not None and result.error.code == "draft_dir_missing"
    assert str(tmp_path) not in result.output  # the remote side never learns local paths
    assert list(tmp_path.iterdir()) == []


def test_configure_wins_over_the_environment(sandbox: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    draft_tools.configure(chosen)
    try:
        assert _make().ok
    finally:
        draft_tools.configure(None)
    assert _files(tmp_path) == ["chosen/episode-1.json"]
    with pytest.raises(NotADirectoryError):
        draft_tools.configure(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["episode-1", "第一集", "take 2.v1", "CONSOLE"])
def test_plain_names_are_accepted(sandbox: Path, name: str) -> None:
    result = _make(name)
    assert result.ok, result.output
    assert result.value["path"] == f"{name}.json"
    assert _files(sandbox) == [f"{name}.json"]


def test_an_existing_draft_is_kept_unless_overwrite(sandbox: Path) -> None:
    assert _make().ok
    first = (sandbox / "episode-1.json").read_bytes()

    again = tools.invoke("make_draft", {"name": "episode-1", "clips": EXPECTED_CLIPS[:1]})
    assert again.error is not None and again.error.code == "draft_exists"
    assert (sandbox / "episode-1.json").read_bytes() == first

    replaced = tools.invoke("make_draft", {"name": "episode-1", "clips": EXPECTED_CLIPS[:1], "overwrite": True})
    assert replaced.ok and replaced.value["clips"] == 1
    assert len(_draft(sandbox, "episode-1")["materials"]["texts"]) == 1
    assert _files(sandbox) == ["episode-1.json"]


def test_the_write_is_a_rename_of_a_complete_temporary_file_in_the_sandbox(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _make().ok
    renames: list[tuple[Path, Path, bytes]] = []
    real_replace = os.replace

    def spy(source: Any, target: Any) -> None:
        renames.append((Path(source), Path(target), Path(source).read_bytes()))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    assert _make(overwrite=True, fps=25).ok

    [(source, target, written)] = renames
    assert source.parent == sandbox == target.parent
    assert source.name.startswith(".episode-1.json.") and source.name.endswith(".tmp")
    assert json.loads(written)["fps"] == 25  # the whole document was there before the rename
    assert written == target.read_bytes()
    assert _files(sandbox) == ["episode-1.json"]


def test_a_failed_write_leaves_the_old_draft_and_no_temporary_file(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _make().ok
    before = (sandbox / "episode-1.json").read_bytes()

    def full_disk(source: Any, target: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    result = _make(overwrite=True, fps=60)

    assert result.error is not None and result.error.code == "write_failed"
    assert "No space left on device" in result.error.message
    assert (sandbox / "episode-1.json").read_bytes() == before
    assert _files(sandbox) == ["episode-1.json"]


def test_without_hard_links_a_new_draft_is_still_renamed_into_place(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: Any, target: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert _make().ok
    _assert_project(_draft(sandbox, "episode-1"), "episode-1")
    again = _make()
    assert again.error is not None and again.error.code == "draft_exists"
    assert _files(sandbox) == ["episode-1.json"]


@pytest.mark.parametrize(
    ("clips", "message"),
    [
        ([], "at least 1 item"),
        ([{"text": "", "start": 0, "duration": 1}], "at least 1 character"),
        ([{"text": "   ", "start": 0, "duration": 1}], "text must not be blank"),
        ([{"text": "a", "start": -1, "duration": 1}], "greater than or equal to 0"),
        ([{"text": "a", "start": 0, "duration": 0}], "greater than or equal to 0.001"),
        ([{"text": "a" * 501, "start": 0, "duration": 1}], "at most 500 characters"),
        ([{"text": "a", "start": 0, "duration": 1}] * 501, "at most 500 items"),
        ("not json", "JSON text"),
    ],
)
def test_bad_clips_are_refused_before_anything_is_written(sandbox: Path, clips: Any, message: str) -> None:
    result = tools.invoke("make_draft", {"name": "episode-1", "clips": clips})
    assert result.error is not None and result.error.code == INVALID_ARGUMENTS
    assert message in result.error.message
    assert _files(sandbox) == []


def test_overlapping_clips_go_on_separate_tracks(sandbox: Path) -> None:
    clips = [
        {"text": "title", "start": 0, "duration": 5},
        {"text": "one", "start": 1, "duration": 2},
        {"text": "two", "start": 3, "duration": 2},
    ]
    result = tools.invoke("make_draft", {"name": "layers", "clips": clips, "aspect_ratio": "16:9"})
    assert result.ok and result.value["tracks"] == 2 and result.value["duration_us"] == 5_000_000
    document = _draft(sandbox, "layers")
    texts = {item["id"]: item["content"] for item in document["materials"]["texts"]}
    lanes = [[texts[seg["material_id"]] for seg in track["segments"]] for track in document["tracks"]]
    assert lanes == [["title"], ["one", "two"]]
    assert document["canvas_config"] == {"ratio": "16:9", "width": 1920, "height": 1080}
