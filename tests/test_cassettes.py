"""Cassettes: record with the real cozepy, replay with no server in three modes, redact, verify the simulator."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ECHO_BOT, WEATHER_BOT

from harness import sdk
from harness.cassettes import (
    FLOWS,
    MATCH_ON,
    SERIALIZER,
    AsyncCassetteTransport,
    Body,
    Cassette,
    CassetteInfo,
    CassetteNotFoundError,
    CassetteRecorder,
    CassetteTransport,
    Chunk,
    FlowInput,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RedactionRules,
    Redactor,
    ReplayMode,
    UnmatchedRequestError,
    async_cozepy_client,
    cozepy_client,
    load,
    record_flow,
    register_vcrpy,
    request_differences,
    run_flow,
)
from harness.cassettes.model import Status
from harness.cli import main
from simulators.coze import DEFAULT_TOKEN, RunningServer, bind

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "cassettes" / "simulator").glob("*.yaml"))
VARIANTS = ROOT / "tests" / "data" / "cassettes"
NOWHERE = "http://127.0.0.1:9"
"""Replay clients point here: nothing listens, so a request that reached the network would fail."""


def _gap(name: str) -> str | None:
    return FLOWS[name].gap()


def _flow_param(name: str) -> Any:
    gap = _gap(name)
    return pytest.param(name, marks=pytest.mark.skipif(gap is not None, reason=str(gap)))


ALL_FLOWS = [_flow_param(name) for name in FLOWS]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every flow the installed cozepy can run, recorded by the command against the embedded simulator."""
    out = tmp_path_factory.mktemp("cassettes")
    paths: dict[str, Path] = {}
    for name in FLOWS:
        if _gap(name) is None:
            path = out / f"{name}.yaml"
            assert main(["record", "--flow", name, "--out", str(path)]) == 0
            paths[name] = path
    return paths


# --- the live stream and its replays, byte for byte ----------------------------------------------

CHAT_BODY = {
    "bot_id": WEATHER_BOT,
    "user_id": "byte-tester",
    "stream": True,
    "additional_messages": [{"role": "user", "content": "São Paulo 天气 ☔", "content_type": "text"}],
}
WORKFLOW_BODY = {"workflow_id": "7440000000000000001", "parameters": {"topic": "猫 and café ☕"}}


@pytest.fixture(scope="module")
def live(sim: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[bytes]]]:
    """Two streams read raw from the simulator through the recorder, and the chunks the client saw."""
    recorder = CassetteRecorder()
    seen: list[list[bytes]] = []
    with recorder.client(base_url=sim.base_url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
        for path, body in (("/v3/chat", CHAT_BODY), ("/v1/workflow/stream_run", WORKFLOW_BODY)):
            with client.stream("POST", path, json=body) as response:
                seen.append(list(response.iter_raw()))
    path = recorder.cassette(source="test", base_url=sim.base_url).save(tmp_path_factory.mktemp("live") / "live.yaml")
    return path, seen


def _replay_raw(transport: httpx.BaseTransport) -> list[list[bytes]]:
    got: list[list[bytes]] = []
    with httpx.Client(transport=transport, base_url=NOWHERE, headers={"Authorization": "Bearer other"}) as client:
        for path, body in (("/v3/chat", CHAT_BODY), ("/v1/workflow/stream_run", WORKFLOW_BODY)):
            with client.stream("POST", path, json=body) as response:
                assert response.headers["content-type"] == "text/event-stream"
                got.append(list(response.iter_raw()))
    return got


async def _replay_raw_async(transport: httpx.AsyncBaseTransport) -> list[list[bytes]]:
    got: list[list[bytes]] = []
    async with httpx.AsyncClient(transport=transport, base_url=NOWHERE) as client:
        for path, body in (("/v3/chat", CHAT_BODY), ("/v1/workflow/stream_run", WORKFLOW_BODY)):
            async with client.stream("POST", path, json=body) as response:
                got.append([chunk async for chunk in response.aiter_raw()])
    return got


def _splits_inside_a_character(chunks: list[bytes]) -> bool:
    def decodes(piece: bytes) -> bool:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    return any(not decodes(piece) for piece in chunks)


@pytest.mark.parametrize("mode", list(ReplayMode))
@pytest.mark.parametrize("client", ["sync", "async"])
def test_every_replay_mode_gives_the_live_bytes(
    live: tuple[Path, list[list[bytes]]], mode: ReplayMode, client: str
) -> None:
    path, seen = live
    cassette = load(path)
    if client == "sync":
        transport: CassetteTransport | AsyncCassetteTransport = CassetteTransport(path, mode=mode)
        got = _replay_raw(transport)  # type: ignore[arg-type]
    else:
        transport = AsyncCassetteTransport(path, mode=mode)
        got = asyncio.run(_replay_raw_async(transport))  # type: ignore[arg-type]
    assert [b"".join(stream) for stream in got] == [b"".join(stream) for stream in seen]
    recorded_chunks = [[chunk.data for chunk in i.response.body.chunks or []] for i in cassette.interactions]
    assert recorded_chunks == seen, "the cassette keeps the chunks exactly as the client saw them"
    if mode is ReplayMode.COALESCED:
        assert [len(stream) for stream in got] == [1, 1]
    elif mode is ReplayMode.FAITHFUL:
        assert got == seen
        # the virtual clock stamps each chunk with its recorded arrival offset; nothing slept
        first = transport.playbacks[0]
        expected = [first.started_at + chunk.at for chunk in cassette.interactions[0].response.body.chunks or []]
        assert [played.at for played in first.chunks] == pytest.approx(expected)
    else:
        for stream, original in zip(got, seen, strict=True):
            assert len(stream) > len(original)
            assert _splits_inside_a_character(stream), "a cut inside a multibyte UTF-8 character"
            assert any(a.endswith(b"\n") and b.startswith(b"\n") for a, b in itertools.pairwise(stream)), (
                "a cut between the two newlines that end an event"
            )
            assert any(not a.endswith(b"\n") for a in stream[:-1]), "a cut inside a line"
    transport.assert_all_played()


def test_faithful_replay_can_pace_on_a_sleep_function(live: tuple[Path, list[list[bytes]]]) -> None:
    slept: list[float] = []
    transport = CassetteTransport(live[0], sleep=slept.append)
    _replay_raw(transport)
    assert slept and sum(slept) == pytest.approx(transport.clock.now())


# --- the real cozepy on replay, with no server ----------------------------------------------------


@pytest.mark.parametrize("mode", list(ReplayMode))
@pytest.mark.parametrize("flow", ALL_FLOWS)
def test_cozepy_passes_the_recorded_flow_on_replay(recorded: dict[str, Path], flow: str, mode: ReplayMode) -> None:
    cassette = load(recorded[flow])
    transport = CassetteTransport(cassette, mode=mode)
    outcome = run_flow(flow, cozepy_client(transport, NOWHERE, "not-the-recorded-token"))
    assert outcome == cassette.coze_harness.outcome
    transport.assert_all_played()


@pytest.mark.skipif(sdk.async_tool_call_gap() is not None, reason=str(sdk.async_tool_call_gap()))
def test_the_async_runner_replays_the_sync_recording(recorded: dict[str, Path]) -> None:
    from harness.local_plugin import AsyncLocalPluginRunner
    from harness.probes.demo_tools import registry

    cassette = load(recorded["chat-local-plugin"])
    transport = AsyncCassetteTransport(cassette, mode=ReplayMode.RECHUNKED)
    coze = async_cozepy_client(transport, NOWHERE, "x")
    runner = AsyncLocalPluginRunner(coze, registry, user_id="coze-harness-user")
    result = asyncio.run(runner.run(WEATHER_BOT, FLOWS["chat-local-plugin"].default_text))
    assert cassette.coze_harness.outcome is not None
    assert result.answer == cassette.coze_harness.outcome["answer"]


def _broken_server() -> tuple[str, threading.Thread]:
    """A server that sends two chunks of a stream, the second ending inside a character, then hangs up."""
    sock = bind("127.0.0.1", 0)

    def serve() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for piece in (
                b"event:conversation.chat.created\ndata:{}\n\n",
                b'event:conversation.message.delta\ndata:{"c":"caf\xc3',
            ):
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                time.sleep(0.05)
            conn.shutdown(socket.SHUT_RDWR)
        sock.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}", thread


def _read_until_broken(client: httpx.Client) -> tuple[bytes, BaseException | None]:
    data = b""
    try:
        with client.stream("GET", "/stream") as response:
            for chunk in response.iter_raw():
                data += chunk
    except httpx.HTTPError as exc:
        return data, exc
    return data, None


def test_a_stream_that_breaks_midway_replays_broken_in_every_mode(tmp_path: Path) -> None:
    base_url, thread = _broken_server()
    recorder = CassetteRecorder()
    with recorder.client(base_url=base_url, timeout=5) as client:
        live_bytes, live_error = _read_until_broken(client)
    thread.join(5)
    assert isinstance(live_error, httpx.TransportError)  # RemoteProtocolError: incomplete chunked read
    path = recorder.cassette(source="test", base_url=base_url).save(tmp_path / "broken.yaml")
    body = load(path).interactions[0].response.body
    assert not body.complete and body.error and body.error.startswith(f"{type(live_error).__name__}: ")
    assert body.chunks is not None and body.chunks[-1].base64 is not None, "a chunk ending inside a character"
    for mode in ReplayMode:
        with httpx.Client(transport=CassetteTransport(path, mode=mode), base_url=NOWHERE) as client:
            data, error = _read_until_broken(client)
        assert data == live_bytes
        assert type(error) is type(live_error)


# --- redaction ------------------------------------------------------------------------------------

SECRET_TOKEN = "sk-live-8f3a9c2e77d14b0b"
QUERY_TOKEN = "qs-secret-5be2a41c"
BODY_TOKEN = "body-secret-0c9d7e11"
USER_ID = "user-secret-4711"
CODENAME = "Zephyr-77"


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory, sim: RunningServer) -> tuple[list[Path], set[str]]:
    """Cassettes written with every kind of secret in play, and the log ids the server sent."""
    out = tmp_path_factory.mktemp("redacted")
    rules = RedactionRules(patterns=[r"Zephyr-\d+"])
    paths: list[Path] = []
    for name in (
        "workflow-stream",
        "chat-error",
        *(["chat-local-plugin"] if _gap("chat-local-plugin") is None else []),
    ):
        text = f"Project {CODENAME}" if name == "workflow-stream" else None
        cassette = record_flow(
            name, token=SECRET_TOKEN, given=FlowInput(user_id=USER_ID, text=text), rules=rules, secrets=[QUERY_TOKEN]
        )
        paths.append(cassette.save(out / f"{name}.yaml"))
    # tokens in a query string and a body, which cozepy never sends but other clients do
    recorder = CassetteRecorder(rules=rules)
    with recorder.client(base_url=sim.base_url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
        client.post(
            "/v3/chat",
            params={"access_token": QUERY_TOKEN},
            json={"bot_id": ECHO_BOT, "user_id": USER_ID, "token": BODY_TOKEN, "stream": False},
        )
    logids = {exchange.response_headers["x-tt-logid"] for exchange in recorder.transport.exchanges}
    paths.append(recorder.cassette(source="test", base_url=sim.base_url).save(out / "query-and-body.yaml"))
    return paths, logids


def test_no_secret_reaches_a_written_cassette(
    redacted: tuple[list[Path], set[str]], recorded: dict[str, Path], live: tuple[Path, list[list[bytes]]]
) -> None:
    paths, logids = redacted
    default_user = FlowInput().user_id
    secrets = {
        SECRET_TOKEN,
        QUERY_TOKEN,
        BODY_TOKEN,
        USER_ID,
        CODENAME,
        DEFAULT_TOKEN,
        default_user,
        "byte-tester",
        *logids,
    }
    written = [*paths, *recorded.values(), live[0], *SHIPPED, *VARIANTS.glob("*.yaml")]
    for path in written:
        text = path.read_text(encoding="utf-8")
        everything = text + "".join(i.response.body.data.decode("utf-8", "replace") for i in load(path).interactions)
        assert not [secret for secret in secrets if secret in everything], path
    query_and_body = load(paths[-1])
    request = query_and_body.interactions[0].request
    assert "access_token=REDACTED-TOKEN-" in request.uri
    assert json.loads(request.body or "")["token"].startswith("REDACTED-TOKEN-")


def test_pseudonyms_are_stable_and_line_up(redacted: tuple[list[Path], set[str]]) -> None:
    paths, _ = redacted
    error = load(next(path for path in paths if path.name == "chat-error.yaml"))
    [interaction] = error.interactions
    assert interaction.request.headers["authorization"] == ["Bearer REDACTED-TOKEN-1"]
    assert json.loads(interaction.request.body or "")["user_id"] == "REDACTED-USER-1"
    logid = interaction.response.headers["x-tt-logid"][0]
    assert logid == "REDACTED-LOGID-1" == json.loads(interaction.response.body.data)["detail"]["logid"]
    stream = load(next(path for path in paths if path.name == "workflow-stream.yaml"))
    assert stream.coze_harness.outcome is not None
    assert all(CODENAME not in message for message in stream.coze_harness.outcome["messages"])
    assert "REDACTED-CUSTOM-1" in json.dumps(stream.coze_harness.outcome)
    assert "REDACTED-CUSTOM-1" in (stream.interactions[0].request.body or "")
    assert b"REDACTED-CUSTOM-1" in stream.interactions[0].response.body.data


def test_a_redacted_cassette_still_replays_the_live_values(redacted: tuple[list[Path], set[str]]) -> None:
    path = next(path for path in redacted[0] if path.name == "workflow-stream.yaml")
    cassette = load(path)
    transport = CassetteTransport(cassette)
    outcome = run_flow(
        "workflow-stream", cozepy_client(transport, NOWHERE, "x"), given=FlowInput(text=f"Project {CODENAME}")
    )
    assert outcome == cassette.coze_harness.outcome
    assert transport.bindings == {"REDACTED-CUSTOM-1": CODENAME}


def test_a_secret_split_across_chunks_is_still_redacted() -> None:
    stream = b'event:x\ndata:{"user_id":"' + USER_ID.encode() + b'","n":"' + "é".encode() + b'"}\n\n'
    cut = stream.index(b"secret") + 3
    body = Body(chunks=[Chunk.of(0.1, stream[:cut]), Chunk.of(0.2, stream[cut:])])
    cassette = Cassette(
        coze_harness=CassetteInfo(source="test", base_url="http://x"),
        interactions=[
            Interaction(
                request=RecordedRequest(method="POST", uri="http://x/v3/chat"),
                response=RecordedResponse(
                    status=Status(code=200), headers={"content-type": ["text/event-stream"]}, body=body
                ),
            )
        ],
    )
    chunks = Redactor().redact(cassette).interactions[0].response.body.chunks or []
    assert [chunk.at for chunk in chunks] == [0.1, 0.2]
    assert b"".join(chunk.data for chunk in chunks) == stream.replace(USER_ID.encode(), b"REDACTED-USER-1")
    assert chunks[1].data.startswith(b'"REDACTED-USER-1"'), "the cut moved to the start of the replacement"


# --- matching and errors --------------------------------------------------------------------------


def _request(body: str, uri: str = "http://x/v3/chat?a=1&b=2") -> RecordedRequest:
    return RecordedRequest(method="POST", uri=uri, body=body)


def test_the_matcher_ignores_json_key_order_and_header_host_and_query_order() -> None:
    recorded = _request('{"a": 1, "b": {"c": [1, "x"], "d": null}}')
    assert (
        request_differences(
            recorded, "POST", "http://elsewhere:1/v3/chat?b=2&a=1", b'{"b":{"d":null,"c":[1,"x"]},"a":1}', {}
        )
        == []
    )
    differences = request_differences(
        recorded, "POST", "http://x/v3/chat?a=1&b=3", b'{"a":true,"b":{"c":[1,"y"],"d":null}}', {}
    )
    assert differences == [
        "query b: recorded ['2'], sent ['3']",
        "body $.a: recorded 1, sent true",
        "body $.b.c[1]: recorded 'x', sent 'y'",
    ]


def test_a_pseudonym_binds_once_for_the_whole_replay() -> None:
    recorded = _request('{"user_id": "REDACTED-USER-1"}')
    bindings: dict[str, str] = {}
    assert request_differences(recorded, "POST", "http://x/v3/chat?a=1&b=2", b'{"user_id":"alice"}', bindings) == []
    assert bindings == {"REDACTED-USER-1": "alice"}
    assert request_differences(recorded, "POST", "http://x/v3/chat?a=1&b=2", b'{"user_id":"bob"}', bindings) == [
        "body $.user_id: recorded 'REDACTED-USER-1', sent 'bob'"
    ]


def test_an_unmatched_request_names_itself_and_what_was_recorded() -> None:
    path = ROOT / "cassettes" / "simulator" / "workflow-stream.yaml"
    with (
        httpx.Client(transport=CassetteTransport(path), base_url=NOWHERE) as client,
        pytest.raises(UnmatchedRequestError) as caught,
    ):
        client.post(
            "/v1/workflow/stream_run", json={"workflow_id": "7440000000000000001", "parameters": {"topic": "dogs"}}
        )
    message = str(caught.value)
    assert "workflow-stream.yaml" in message and "POST http://127.0.0.1:9/v1/workflow/stream_run" in message
    assert "#0 POST http://coze-simulator.invalid/v1/workflow/stream_run" in message
    assert "body $.parameters.topic: recorded '猫 and café ☕', sent 'dogs'" in message


def test_a_missing_cassette_says_where_and_how_to_record_one(tmp_path: Path) -> None:
    with pytest.raises(CassetteNotFoundError, match="record one with `coze-harness record --flow NAME"):
        CassetteTransport(tmp_path / "nope.yaml")


def test_each_interaction_plays_once(recorded: dict[str, Path]) -> None:
    transport = CassetteTransport(recorded["workflow-stream"])
    run_flow("workflow-stream", cozepy_client(transport, NOWHERE, "x"))
    with pytest.raises(UnmatchedRequestError, match="every recording has been played"):
        run_flow("workflow-stream", cozepy_client(transport, NOWHERE, "x"))
    repeating = CassetteTransport(recorded["workflow-stream"], allow_repeats=True)
    for _ in range(2):
        run_flow("workflow-stream", cozepy_client(repeating, NOWHERE, "x"))
    assert [playback.index for playback in repeating.playbacks] == [0, 0]


# --- vcrpy ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", [_flow_param("workflow-stream"), _flow_param("chat-local-plugin")])
def test_vcrpy_replays_our_cassette_coalesced(recorded: dict[str, Path], flow: str) -> None:
    vcr = pytest.importorskip("vcr")
    cassette = load(recorded[flow])
    my_vcr = register_vcrpy(vcr.VCR())
    with my_vcr.use_cassette(
        str(recorded[flow]), serializer=SERIALIZER, match_on=list(MATCH_ON), record_mode="none"
    ) as tape:
        import cozepy

        coze = cozepy.Coze(auth=cozepy.TokenAuth("x"), base_url=NOWHERE, http_client=httpx.Client())
        assert run_flow(flow, coze) == cassette.coze_harness.outcome
        assert tape.play_count == len(cassette.interactions)


def test_what_vcrpy_records_through_our_serializer_is_redacted(sim: RunningServer, tmp_path: Path) -> None:
    vcr = pytest.importorskip("vcr")
    path = tmp_path / "vcrpy.yaml"
    my_vcr = register_vcrpy(vcr.VCR())
    with my_vcr.use_cassette(str(path), serializer=SERIALIZER, record_mode="once"):
        import cozepy

        coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url, http_client=httpx.Client())
        outcome = run_flow("workflow-stream", coze)
    assert DEFAULT_TOKEN not in path.read_text(encoding="utf-8")
    cassette = load(path)
    assert cassette.coze_harness.source == "vcrpy" and "timing were not kept" in cassette.coze_harness.notes[0]
    assert run_flow("workflow-stream", cozepy_client(CassetteTransport(cassette), NOWHERE, "x")) == outcome


# --- verify-sim and the shipped cassettes ---------------------------------------------------------


def test_cassettes_are_shipped_for_every_flow() -> None:
    assert [path.stem for path in SHIPPED] == sorted(FLOWS)


def test_verify_sim_passes_on_the_shipped_cassettes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-sim", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert out.count("the simulator answers in the same shape") == len(SHIPPED)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            "renamed-event.yaml",
            "event 1: recorded 'conversation.chat.progressing', simulator 'conversation.chat.in_progress'",
        ),
        (
            "dropped-field.yaml",
            "event 'conversation.chat.created' field 'bot_id': the simulator sends it, the recording does not have it",
        ),
        ("changed-type.yaml", "event 'Interrupt' field 'interrupt_data.type': recorded str, simulator int"),
        (
            "reordered-events.yaml",
            "events reordered: recorded conversation.chat.in_progress > conversation.chat.created",
        ),
    ],
)
def test_verify_sim_catches_a_hand_edited_cassette(
    variant: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify-sim", str(VARIANTS / variant)]) == 1
    out = capsys.readouterr().out
    assert f"DIFFERS {VARIANTS / variant}" in out and expected in out


def test_verify_sim_exits_2_on_an_unreadable_cassette(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("version: 1\ninteractions: []\n", encoding="utf-8")
    assert main(["verify-sim", str(tmp_path / "bad.yaml"), str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: a vcrpy cassette without the 'coze_harness' block" in err and "no cassette at" in err


def _essence(cassette: Cassette) -> list[Any]:
    """What re-recording must reproduce: requests as matched, answers as bytes (not chunking or timing)."""
    return [
        (
            i.request.method,
            i.request.uri,
            i.request.body,
            i.response.status.code,
            {k: v for k, v in i.response.headers.items() if k != "content-length"},
            i.response.body.data,
        )
        for i in cassette.interactions
    ] + [cassette.coze_harness.outcome, cassette.coze_harness.ids]


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_the_shipped_cassettes_are_current(path: Path) -> None:
    shipped = load(path)
    flow = shipped.coze_harness.flow or ""
    if shipped.coze_harness.recorded_with.get("cozepy") != sdk.version():
        pytest.skip(f"recorded with cozepy {shipped.coze_harness.recorded_with.get('cozepy')}; its requests differ")
    fresh = record_flow(flow, seed=shipped.coze_harness.simulator_seed)
    assert _essence(fresh) == _essence(shipped), f"re-record: coze-harness record --flow {flow} --out {path}"


# --- the command's usage errors and real Coze -----------------------------------------------------


def test_record_against_a_real_url_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COZE_API_TOKEN", raising=False)
    out = tmp_path / "x.yaml"
    assert main(["record", "--flow", "chat-error", "--out", str(out), "--base-url", NOWHERE]) == 2
    assert "COZE_API_TOKEN" in capsys.readouterr().err and not out.exists()
    monkeypatch.setenv("COZE_API_TOKEN", "t")
    monkeypatch.delenv("COZE_WORKFLOW_ID", raising=False)
    assert main(["record", "--flow", "workflow-stream", "--out", str(out), "--base-url", NOWHERE]) == 2
    assert "--workflow-id (or COZE_WORKFLOW_ID)" in capsys.readouterr().err and not out.exists()


def test_record_with_a_base_url_takes_the_token_and_ids_from_the_environment(
    sim: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real-Coze path, pointed at the simulator standing in for the platform."""
    monkeypatch.setenv("COZE_API_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("COZE_WORKFLOW_ID", "7440000000000000001")
    out = tmp_path / "as-if-real.yaml"
    assert main(["record", "--flow", "workflow-stream", "--out", str(out), "--base-url", sim.base_url]) == 0
    assert DEFAULT_TOKEN not in out.read_text(encoding="utf-8")
    cassette = load(out)
    assert cassette.coze_harness.source == "coze" and cassette.coze_harness.base_url == sim.base_url
    assert cassette.coze_harness.ids == {"workflow_id": "7440000000000000001"}
    assert main(["verify-sim", str(out)]) == 0


@pytest.mark.skipif(not os.environ.get("COZE_API_TOKEN"), reason="set COZE_API_TOKEN to record real Coze traffic")
@pytest.mark.skipif(bool(os.environ.get("CI")), reason="never against real Coze in CI")
def test_record_real_coze_then_replay(tmp_path: Path) -> None:
    token = os.environ["COZE_API_TOKEN"]
    base_url = os.environ.get("COZE_API_BASE", "https://api.coze.com")
    out = tmp_path / "real-chat-error.yaml"
    assert main(["record", "--flow", "chat-error", "--out", str(out), "--base-url", base_url]) == 0
    assert token not in out.read_text(encoding="utf-8")
    cassette = load(out)
    assert cassette.coze_harness.source == "coze"
    outcome = run_flow("chat-error", cozepy_client(CassetteTransport(cassette), NOWHERE, "x"))
    assert outcome == cassette.coze_harness.outcome
