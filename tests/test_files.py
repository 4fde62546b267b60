"""Files: upload and retrieve with the real cozepy, the bytes proven to arrive through a chat that quotes
them, and the limits (size, formats, the bytes kept, the temporary folder removed when the server stops).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import cozepy
import httpx
import pytest
from asgi_driver import Sim

from harness import sdk
from simulators.coze import (
    BUILTIN_DIR,
    DEFAULT_TOKEN,
    Catalogue,
    RunningServer,
    SimConfig,
    TokenGrant,
    create_app,
    running,
)
from simulators.coze.files import FileLimits, FileStore

pytestmark = pytest.mark.e2e

FILE_BOT, ECHO_BOT, WEATHER_BOT = "7390000000000000030", "7390000000000000001", "7390000000000000002"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
TEXT = "name,city\nAda,Paris\n世界,Shanghai\n"


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_bytes(TEXT.encode())
    return path


def object_string(*parts: dict[str, Any]) -> cozepy.Message:
    """A user message of object_string parts, built as cozepy's `build_user_question_objects` builds it
    (json.dumps of the parts, nulls kept), by hand so that every release from 0.2.0 can send it."""
    content = json.dumps([{"text": None, "file_id": None, "file_url": None, **part} for part in parts])
    return cozepy.Message(role="user", type="question", content=content, content_type="object_string")


def answer_of(coze: cozepy.Coze, bot_id: str, message: cozepy.Message) -> str:
    """The completed answer of a streamed chat (every release has chat.stream)."""
    events = list(coze.chat.stream(bot_id=bot_id, user_id="u1", additional_messages=[message]))
    answers = [
        e.message.content
        for e in events
        if sdk.event_name(e) == "conversation.message.completed" and sdk.enum_value(e.message.type) == "answer"
    ]
    assert sdk.event_name(events[-1]) == "conversation.chat.completed", [sdk.event_name(e) for e in events]
    return str(answers[-1])


def expected_answer(question: str, name: str, data: bytes) -> str:
    return (
        f"You asked: {question} | file {name} | {len(data)} bytes | sha256 {hashlib.sha256(data).hexdigest()} "
        f"| text: {data[:65536].decode('utf-8', 'replace')}"
    )


# --- the real cozepy --------------------------------------------------------------------------------


def test_upload_retrieve_and_a_chat_that_quotes_the_file(coze: cozepy.Coze, csv_file: Path) -> None:
    uploaded = coze.files.upload(file=str(csv_file))  # a str path: what 0.2 takes, and every later release too
    assert uploaded.file_name == "people.csv" and uploaded.bytes == len(TEXT.encode())
    assert len(uploaded.id) == 19 and uploaded.id.isdigit() and isinstance(uploaded.created_at, int)
    retrieved = coze.files.retrieve(file_id=uploaded.id)
    assert (retrieved.id, retrieved.bytes, retrieved.file_name) == (uploaded.id, uploaded.bytes, "people.csv")
    assert retrieved.created_at == uploaded.created_at

    message = object_string({"type": "text", "text": "who is in it?"}, {"type": "file", "file_id": uploaded.id})
    assert answer_of(coze, FILE_BOT, message) == expected_answer("who is in it?", "people.csv", TEXT.encode())


def test_an_image_part_and_a_path_object_as_the_multimodal_example_sends_them(
    coze: cozepy.Coze, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 4  # binary: the SHA-256 proves every byte, the text quote is lossy
    path = tmp_path / "pixel.png"
    path.write_bytes(data)
    if not hasattr(cozepy, "MessageObjectString") or "Path" not in str(
        getattr(coze.files.upload, "__annotations__", {}).get("file", "")
    ):
        uploaded = coze.files.upload(file=str(path))
    else:
        uploaded = coze.files.upload(file=path)
    builder = getattr(cozepy.Message, "build_user_question_objects", None)
    if builder is not None and hasattr(cozepy, "MessageObjectString"):
        parts = [cozepy.MessageObjectString.build_text("what is it?")]
        parts.append(cozepy.MessageObjectString.build_image(file_id=uploaded.id))
        message = builder(parts)
    else:
        message = object_string({"type": "text", "text": "what is it?"}, {"type": "image", "file_id": uploaded.id})
    assert answer_of(coze, FILE_BOT, message) == expected_answer("what is it?", "pixel.png", data)


@pytest.mark.skipif(not sdk.has_async_client(), reason=f"cozepy {sdk.version()} has no AsyncCoze")
@pytest.mark.anyio
async def test_async_upload_and_retrieve(sim: RunningServer, csv_file: Path) -> None:
    coze = cozepy.AsyncCoze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url)
    uploaded = await coze.files.upload(file=str(csv_file))
    retrieved = await coze.files.retrieve(file_id=uploaded.id)
    assert (retrieved.id, retrieved.file_name, retrieved.bytes) == (uploaded.id, "people.csv", len(TEXT.encode()))


def test_an_unknown_file_id_in_a_message_names_the_field(coze: cozepy.Coze) -> None:
    message = object_string({"type": "text", "text": "hi"}, {"type": "file", "file_id": "7000000000000000001"})
    with pytest.raises(cozepy.CozeAPIError) as caught:
        coze.chat.create(bot_id=ECHO_BOT, user_id="u1", additional_messages=[message])
    assert caught.value.code == 4200
    assert "additional_messages[0].content[1].file_id" in str(caught.value.msg)
    assert "7000000000000000001" in str(caught.value.msg)


def test_a_file_bot_chat_without_a_file_says_what_is_missing(coze: cozepy.Coze) -> None:
    message = cozepy.Message(role="user", type="question", content="hi", content_type="text")
    with pytest.raises(cozepy.CozeAPIError) as caught:
        coze.chat.create(bot_id=FILE_BOT, user_id="u1", additional_messages=[message])
    assert caught.value.code == 4000 and "attach an uploaded file" in str(caught.value.msg)


def test_an_unknown_file_id_on_retrieve_is_4200(coze: cozepy.Coze) -> None:
    with pytest.raises(cozepy.CozeAPIError) as caught:
        coze.files.retrieve(file_id="7000000000000000001")
    assert caught.value.code == 4200


# --- the upload's limits and refusals (raw HTTP) ---------------------------------------------------


def _upload(base_url: str, files: Any = None, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", AUTH)
    return httpx.post(f"{base_url}/v1/files/upload", files=files, headers=headers, timeout=10, **kwargs)


def test_the_wire_shape_is_the_documented_file(sim: RunningServer) -> None:
    response = _upload(sim.base_url, {"file": ("a.py", b"print(1)\n", "text/x-python")})
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0 and body["msg"] == ""
    assert list(body["data"]) == ["bytes", "created_at", "file_name", "id"]  # upload_files.md's example order
    assert body["data"]["bytes"] == 9 and body["detail"]["logid"] == response.headers["x-tt-logid"]


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    app = create_app(config=SimConfig(files=FileLimits(max_file_bytes=1000)))
    with running(app) as sim:
        response = _upload(sim.base_url, {"file": ("big.csv", b"x" * 1001, "text/csv")})
        assert response.status_code == 413 and response.json()["code"] == 4000
        assert "1000" in response.json()["msg"] and "max_file_bytes" in response.json()["msg"]
        folder = app.state.simulator.files.folder
        assert folder is None or list(folder.iterdir()) == []
        ok = _upload(sim.base_url, {"file": ("small.csv", b"x" * 1000, "text/csv")})
        assert ok.json()["data"]["bytes"] == 1000


def test_a_streamed_upload_is_refused_once_past_the_limit_without_reading_it_all() -> None:
    app = create_app(config=SimConfig(files=FileLimits(max_file_bytes=64 * 1024)))
    sim = Sim(app)  # in process, so that what the app pulled from the body can be counted
    sent = 0

    async def body() -> AsyncIterator[bytes]:  # chunked, no Content-Length: the limit is found while streaming
        nonlocal sent
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
        for _ in range(200):
            sent += 1 << 16
            yield b"y" * (1 << 16)
        yield b"\r\n--B--\r\n"

    try:
        headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=B"}
        response = sim.request("POST", "/v1/files/upload", content=body(), headers=headers)
        assert response.status_code == 413 and response.json()["code"] == 4000
        assert sent <= 8 * (1 << 16)  # the app stopped reading a few chunks past the limit, not at the end
        folder = app.state.simulator.files.folder
        assert folder is None or list(folder.iterdir()) == []
    finally:
        sim.close()
        app.state.simulator.close()


@pytest.fixture(scope="module")
def inprocess() -> Iterator[Sim]:
    sim = Sim()
    yield sim
    sim.close()


def _huge_upload(sim: Sim, headers: dict[str, str]) -> tuple[httpx.Response, int]:
    read = 0

    async def huge() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(64):
            read += 1
            yield b" " * (1 << 16)

    declared = {**headers, "Content-Type": "multipart/form-data; boundary=B", "Content-Length": str(1 << 40)}
    return sim.request("POST", "/v1/files/upload", headers=declared, content=huge()), read


def test_a_declared_length_over_the_limit_is_refused_before_the_body(inprocess: Sim) -> None:
    response, read = _huge_upload(inprocess, AUTH)
    assert response.status_code == 413 and response.json()["code"] == 4000
    assert read <= 1


def test_the_token_is_checked_before_the_body_is_read(inprocess: Sim) -> None:
    response, read = _huge_upload(inprocess, {})
    assert response.status_code == 401 and response.json()["code"] == 4100
    assert read <= 1


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"files": {"file": ("notes.txt", b"hi", "text/plain")}}, ["unsupported format", ".txt", "csv"]),
        ({"files": {"file": ("noext", b"hi", "text/plain")}}, ["no extension"]),
        ({"files": {"other": ("a.csv", b"hi", "text/csv")}}, ["no part named 'file'"]),
        ({"data": {"file": "just text"}, "files": {"x": ("a.csv", b"1")}}, ["no filename"]),
        ({"json": {"file": "x"}}, ["multipart/form-data"]),
        ({"content": b"--B\r\nbroken", "headers": {**AUTH, "Content-Type": "multipart/form-data; boundary=B"}}, []),
    ],
    ids=["txt", "no-extension", "no-file-part", "text-field", "json", "truncated"],
)
def test_refusals_name_what_to_fix(sim: RunningServer, kwargs: dict[str, Any], words: list[str]) -> None:
    response = _upload(sim.base_url, **kwargs)
    body = response.json()
    assert response.status_code == 400 and body["code"] == 4000, body
    for word in words:
        assert word in body["msg"], body


def test_two_file_parts_are_refused(sim: RunningServer) -> None:
    files = [("file", ("a.csv", b"1", "text/csv")), ("file", ("b.csv", b"2", "text/csv"))]
    response = _upload(sim.base_url, files)
    assert response.json()["code"] == 4000 and "more than one 'file' part" in response.json()["msg"]


def test_the_oldest_files_go_when_the_bytes_kept_would_pass_the_cap() -> None:
    app = create_app(config=SimConfig(files=FileLimits(max_file_bytes=100, max_total_bytes=250)))
    with running(app) as sim:
        ids = [_upload(sim.base_url, {"file": (f"{n}.csv", b"z" * 100)}).json()["data"]["id"] for n in range(3)]
        store = app.state.simulator.files
        assert store.total_bytes == 200 and len(store) == 2
        gone = httpx.get(f"{sim.base_url}/v1/files/retrieve", params={"file_id": ids[0]}, headers=AUTH)
        assert gone.json()["code"] == 4200
        assert sorted(p.name for p in store.folder.iterdir()) == sorted(ids[1:])  # its bytes are deleted too
        kept = httpx.get(f"{sim.base_url}/v1/files/retrieve", params={"file_id": ids[2]}, headers=AUTH)
        assert kept.json()["data"]["file_name"] == "2.csv"


def test_the_folder_is_removed_when_the_server_stops() -> None:
    app = create_app()
    with running(app) as sim:
        _upload(sim.base_url, {"file": ("a.csv", b"1,2\n")})
        folder = app.state.simulator.files.folder
        assert folder is not None and len(list(folder.iterdir())) == 1
    assert not folder.exists()


def test_a_store_collected_without_close_removes_its_folder() -> None:
    store = FileStore(FileLimits())
    folder = store.new_path("1").parent
    assert folder.exists()
    del store
    import gc

    gc.collect()
    assert not folder.exists()


def test_a_scoped_token_sees_only_its_own_uploads() -> None:
    grants = [TokenGrant(token=DEFAULT_TOKEN), TokenGrant(token="scoped-a", bots=frozenset({ECHO_BOT}))]
    app = create_app(config=SimConfig(tokens=grants))
    with running(app) as sim:
        mine = _upload(sim.base_url, {"file": ("a.csv", b"1")}).json()["data"]["id"]
        theirs = _upload(sim.base_url, {"file": ("b.csv", b"2")}, headers={"Authorization": "Bearer scoped-a"})
        theirs_id = theirs.json()["data"]["id"]
        scoped = {"Authorization": "Bearer scoped-a"}
        assert (
            httpx.get(f"{sim.base_url}/v1/files/retrieve", params={"file_id": mine}, headers=scoped).json()["code"]
            == 4200
        )
        own = httpx.get(f"{sim.base_url}/v1/files/retrieve", params={"file_id": theirs_id}, headers=scoped)
        assert own.json()["data"]["file_name"] == "b.csv"
        everyone = httpx.get(f"{sim.base_url}/v1/files/retrieve", params={"file_id": theirs_id}, headers=AUTH)
        assert everyone.json()["code"] == 0  # the account's unrestricted token sees every upload


# --- the open-source server ------------------------------------------------------------------------


def test_studio_uploads_in_its_own_shape_and_has_no_retrieve() -> None:
    with running(create_app(config=SimConfig(profile="studio"))) as sim:
        response = _upload(sim.base_url, {"file": ("a.csv", b"1,2\n", "text/csv")})
        body = response.json()
        assert list(body) == ["code", "msg", "data", "BaseResp"] and body["BaseResp"] is None
        data = body["data"]
        assert list(data) == ["uri", "bytes", "CreatedAt", "file_name", "url", "id"]
        assert data["uri"] == f"bot_files/{data['id']}/a.csv" and data["bytes"] == 4
        gone = httpx.get(f"{sim.base_url}/v1/files/retrieve", params={"file_id": data["id"]}, headers=AUTH)
        assert gone.status_code == 404 and gone.text == "404 page not found"


def test_studio_upload_with_cozepy(tmp_path: Path) -> None:
    """What a cozepy user meets on coze-studio: before 0.5 `File.created_at` is required, and studio
    spells it `CreatedAt`, so the upload fails to parse; from 0.5 it is optional and the upload works."""
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n")
    with running(create_app(config=SimConfig(profile="studio"))) as sim:
        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url)
        created_at_required = cozepy.File.model_fields["created_at"].is_required()
        if created_at_required:
            with pytest.raises(Exception, match="created_at"):
                coze.files.upload(file=str(path))
        else:
            uploaded = coze.files.upload(file=str(path))
            assert uploaded.file_name == "a.csv" and uploaded.bytes == 4 and uploaded.created_at is None


# --- files as workflow parameters --------------------------------------------------------------------

FILE_WORKFLOW = "7440000000000000040"


def test_a_workflow_file_parameter_quotes_the_upload(coze: cozepy.Coze, csv_file: Path) -> None:
    uploaded = coze.files.upload(file=str(csv_file))
    reference = json.dumps({"file_id": uploaded.id})  # the documented form: a JSON string (workflow_run.md)
    result = coze.workflows.runs.create(workflow_id=FILE_WORKFLOW, parameters={"document": reference})
    data = TEXT.encode()
    assert json.loads(result.data) == {
        "name": "people.csv",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "text": TEXT,
    }


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ('{"file_id": "7000000000000000001"}', 4200, ["parameters.document.file_id", "7000000000000000001"]),
        ('{"file_id": "x"}', 4000, ["parameters.document.file_id"]),
        ('{"id": "1"}', 4000, ['{"file_id": "..."}']),
        ("7000000000000000001", 4000, ["parameters.document", "file URL"]),
    ],
)
def test_a_bad_file_parameter_names_it(coze: cozepy.Coze, value: str, code: int, words: list[str]) -> None:
    with pytest.raises(cozepy.CozeAPIError) as caught:
        coze.workflows.runs.create(workflow_id=FILE_WORKFLOW, parameters={"document": value})
    assert caught.value.code == code
    for word in words:
        assert word in str(caught.value.msg)


def test_a_file_url_parameter_is_quoted_as_its_url() -> None:
    from simulators.coze.files import parameter_files

    workflow = create_app().state.simulator.catalogue.workflows[FILE_WORKFLOW]
    store = FileStore(FileLimits())
    quotes = parameter_files(store, TokenGrant(token="t"), workflow, {"document": "https://example.com/a.png"})
    assert quotes == {"document": {"url": "https://example.com/a.png"}}


def test_serve_takes_the_file_limits_as_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import harness._serve_cli as serve_cli
    from harness.cli import main

    seen: list[Any] = []
    monkeypatch.setattr(serve_cli, "serve", lambda app, sock, **_: (seen.append(app), sock.close()))
    assert main(["serve", "--max-file-bytes", "1234", "--max-file-store-bytes", "5678"]) == 0
    assert seen[0].state.simulator.config.files == FileLimits(max_file_bytes=1234, max_total_bytes=5678)
    assert main(["serve", "--max-file-bytes", "0"]) == 2
    assert "max_file_bytes" in capsys.readouterr().err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
@pytest.mark.cozepy_free
def test_serve_removes_the_uploads_folder_when_stopped_by_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    """uvicorn re-raises the signal it caught after shutting down; SIGTERM's default action would kill the
    process before any cleanup, so `serve` exits instead and removes the folder (in $TMPDIR, here tmp_path)."""
    command = [sys.executable, "-m", "harness.cli", "serve", "--port", "0"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = first.rsplit(" ", 1)[1].strip()
        assert _upload(base_url, {"file": ("a.csv", b"1,2\n")}).json()["code"] == 0
        assert len(list(tmp_path.glob("coze-sim-files-*/*"))) == 1
        process.send_signal(stop)
        process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert list(tmp_path.glob("coze-sim-files-*")) == []


def test_a_chatflow_file_parameter_is_quoted_in_its_answer(tmp_path: Path) -> None:
    (tmp_path / "file_chatflow.yaml").write_text(
        "kind: chatflow\nid: '7449000000000000001'\nname: file-chatflow\ndescription: quotes a file\n"
        "parameters:\n  doc: {type: file}\n"
        "nodes:\n  - kind: end\n    answer: '{{ user }}: {{ file.doc.name }} has {{ file.doc.size }} bytes'\n",
        encoding="utf-8",
    )
    app = create_app(Catalogue.load(BUILTIN_DIR, tmp_path))
    with running(app) as sim:
        file_id = _upload(sim.base_url, {"file": ("a.csv", b"1,2\n")}).json()["data"]["id"]
        body = {
            "workflow_id": "7449000000000000001",
            "additional_messages": [{"role": "user", "content": "size?", "content_type": "text"}],
            "parameters": {"doc": json.dumps({"file_id": file_id})},
        }
        response = httpx.post(f"{sim.base_url}/v1/workflows/chat", json=body, headers=AUTH, timeout=10)
        completed = [
            json.loads(line[5:])
            for line in response.text.splitlines()
            if line.startswith("data:{") and '"type":"answer"' in line and '"created_at"' in line
        ]
        assert completed and completed[-1]["content"] == "size?: a.csv has 4 bytes", response.text[:800]


def test_a_file_limit_larger_than_the_store_is_refused() -> None:
    with pytest.raises(ValueError, match="must fit in the store"):
        FileLimits(max_file_bytes=2000, max_total_bytes=1000)
