"""Framing variants: each one's bytes pinned, each one spec-legal (a spec parser reads the same events),
the default framing untouched, and the probe that reports which variants the installed cozepy survives."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import ECHO_BOT, scenario_copy
from packaging.version import Version

from harness import sdk
from harness.matrix import FramingResult, Matrix
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.reporting import run_report
from harness.streams import parse_sse
from simulators.coze import DEFAULT_TOKEN, Catalogue, RunningServer, ScenarioFileError, create_app, running
from simulators.coze.framing import CANONICAL, VARIANTS, Framer, Framing, combined
from simulators.coze.scenarios import BUILTIN_DIR
from simulators.coze.sse import chat_frame, workflow_frame

JOKE_WORKFLOW = "7440000000000000001"

PINNED: dict[tuple[str, str], bytes] = {
    ("canonical", "chat"): b'event:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\nevent:done\ndata:"[DONE]"\n\n',
    ("canonical", "workflow"): b'id: 0\nevent: Message\ndata: {"content":"hi"}\n\nid: 1\nevent: Done\ndata: {}\n\n',
    (
        "comment-keepalive",
        "chat",
    ): b': ping\n\nevent:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\n: ping\n\nevent:done\ndata:"[DONE]"\n\n',
    (
        "comment-keepalive",
        "workflow",
    ): b': ping\n\nid: 0\nevent: Message\ndata: {"content":"hi"}\n\n: ping\n\nid: 1\nevent: Done\ndata: {}\n\n',
    (
        "retry-line",
        "chat",
    ): b'retry:3000\n\nevent:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\nevent:done\ndata:"[DONE]"\n\n',
    (
        "retry-line",
        "workflow",
    ): b'retry:3000\n\nid: 0\nevent: Message\ndata: {"content":"hi"}\n\nid: 1\nevent: Done\ndata: {}\n\n',
    (
        "crlf",
        "chat",
    ): b'event:conversation.chat.created\r\ndata:{"id":"1","n":[1]}\r\n\r\nevent:done\r\ndata:"[DONE]"\r\n\r\n',
    (
        "crlf",
        "workflow",
    ): b'id: 0\r\nevent: Message\r\ndata: {"content":"hi"}\r\n\r\nid: 1\r\nevent: Done\r\ndata: {}\r\n\r\n',
    ("cr", "chat"): b'event:conversation.chat.created\rdata:{"id":"1","n":[1]}\r\revent:done\rdata:"[DONE]"\r\r',
    ("cr", "workflow"): b'id: 0\revent: Message\rdata: {"content":"hi"}\r\rid: 1\revent: Done\rdata: {}\r\r',
    (
        "chat-id-lines",
        "chat",
    ): b'id:0\nevent:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\nid:1\nevent:done\ndata:"[DONE]"\n\n',
    (
        "space-after-colon",
        "chat",
    ): b'event: conversation.chat.created\ndata: {"id":"1","n":[1]}\n\nevent: done\ndata: "[DONE]"\n\n',
    (
        "no-space-after-colon",
        "workflow",
    ): b'id:0\nevent:Message\ndata:{"content":"hi"}\n\nid:1\nevent:Done\ndata:{}\n\n',
    (
        "multiline-data",
        "chat",
    ): b'event:conversation.chat.created\ndata:{\ndata: "id": "1",\ndata: "n": [\ndata:  1\ndata: ]\ndata:}\n\nevent:done\ndata:"[DONE]"\n\n',  # noqa: E501 - pinned bytes
    (
        "multiline-data",
        "workflow",
    ): b'id: 0\nevent: Message\ndata: {\ndata:  "content": "hi"\ndata: }\n\nid: 1\nevent: Done\ndata: {}\n\n',
    (
        "unknown-event",
        "chat",
    ): b'event:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\nevent:coze.unknown\ndata:{}\n\nevent:done\ndata:"[DONE]"\n\n',  # noqa: E501 - pinned bytes
    (
        "unknown-event",
        "workflow",
    ): b'id: 0\nevent: Message\ndata: {"content":"hi"}\n\nid: 1\nevent: coze.unknown\ndata: {}\n\nid: 2\nevent: Done\ndata: {}\n\n',  # noqa: E501 - pinned bytes
    (
        "workflow-ping",
        "workflow",
    ): b'id: 0\nevent: Message\ndata: {"content":"hi"}\n\nid: 1\nevent: PING\ndata: {}\n\nid: 2\nevent: Done\ndata: {}\n\n',  # noqa: E501 - pinned bytes
    (
        "open-after-done",
        "chat",
    ): b'event:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\nevent:done\ndata:"[DONE]"\n\n',
    (
        "done-unquoted",
        "chat",
    ): b'event:conversation.chat.created\ndata:{"id":"1","n":[1]}\n\nevent:done\ndata:[DONE]\n\n',
}


def _synthetic(kind: str) -> list[bytes]:
    if kind == "chat":
        return [chat_frame("conversation.chat.created", {"id": "1", "n": [1]}), chat_frame("done", '"[DONE]"')]
    return [workflow_frame(0, "Message", {"content": "hi"}), workflow_frame(1, "Done", {})]


@pytest.mark.cozepy_free
def test_every_variant_is_pinned() -> None:
    expected = {("canonical", "chat"), ("canonical", "workflow")}
    expected |= {(name, kind) for name, variant in VARIANTS.items() for kind in variant.kinds}
    assert set(PINNED) == expected


@pytest.mark.parametrize(("variant", "kind"), list(PINNED))
@pytest.mark.cozepy_free
def test_variant_bytes_are_pinned(variant: str, kind: str) -> None:
    framing = CANONICAL if variant == "canonical" else VARIANTS[variant].framing
    framer = Framer(framing)
    assert b"".join(framer.encode(frame) for frame in _synthetic(kind)) == PINNED[(variant, kind)]


@pytest.mark.cozepy_free
def test_canonical_framer_writes_the_canonical_bytes() -> None:
    for kind in ("chat", "workflow"):
        frames = _synthetic(kind)
        framer = Framer(CANONICAL)
        assert b"".join(framer.encode(frame) for frame in frames) == b"".join(frames)


# --- served by the simulator ------------------------------------------------------------------


def _with_framing(source: str, scenario_id: str, name: str, framing: Framing) -> str:
    block = yaml.safe_dump({"framing": framing.model_dump(exclude_defaults=True)}, default_flow_style=False)
    return scenario_copy(source, scenario_id, name, block)


VARIANT_IDS = {name: (str(7392000000000000001 + n), str(7442000000000000001 + n)) for n, name in enumerate(VARIANTS)}


@pytest.fixture(scope="module")
def framed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The echo bot and the joke workflow once per variant, each a scenario file with a `framing` block."""
    folder = tmp_path_factory.mktemp("framing-scenarios")
    echo = (BUILTIN_DIR / "echo_bot.yaml").read_text(encoding="utf-8")
    joke = (BUILTIN_DIR / "joke_workflow.yaml").read_text(encoding="utf-8")
    for name, variant in VARIANTS.items():
        bot_id, workflow_id = VARIANT_IDS[name]
        (folder / f"bot-{name}.yaml").write_text(_with_framing(echo, bot_id, f"echo-{name}", variant.framing))
        (folder / f"wf-{name}.yaml").write_text(_with_framing(joke, workflow_id, f"joke-{name}", variant.framing))
    with running(create_app(Catalogue.load(BUILTIN_DIR, folder))) as server:
        yield server


def _fetch(sim: RunningServer, kind: str, scenario_id: str) -> bytes:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    if kind == "chat":
        path = "/v3/chat"
        body: dict[str, Any] = {
            "bot_id": scenario_id,
            "user_id": "u",
            "stream": True,
            "additional_messages": [{"role": "user", "content": "a\nb", "content_type": "text"}],
        }
    else:
        path, body = "/v1/workflow/stream_run", {"workflow_id": scenario_id, "parameters": {"topic": "framing"}}
    answer = httpx.post(f"{sim.base_url}{path}", json=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/event-stream"
    return answer.content


def _events(raw: bytes, variant: str) -> list[tuple[str, Any]]:
    """(event, data as JSON) by a spec parser; ids and the unknown event left out, done data normalised."""
    events = []
    for event in parse_sse(raw.decode()):
        if event.event in ("coze.unknown", "PING"):
            continue
        data = "[DONE]" if event.data == "[DONE]" and variant == "done-unquoted" else json.loads(event.data)
        events.append((event.event, data))
    return events


def _ids_free(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The same events with the ids and timestamps a fresh chat or run gets blanked."""
    text = json.dumps(events)
    return json.loads(re.sub(r"\b\d{19}\b", "ID", re.sub(r":\s?(\d{10})\b", ":0", text)))


@pytest.mark.parametrize(("variant", "kind"), [(n, k) for n, v in VARIANTS.items() for k in v.kinds])
@pytest.mark.cozepy_free
def test_served_variant_is_spec_legal(framed: RunningServer, variant: str, kind: str) -> None:
    canonical_id = ECHO_BOT if kind == "chat" else JOKE_WORKFLOW
    scenario_id = VARIANT_IDS[variant][0 if kind == "chat" else 1]
    canonical = _events(_fetch(framed, kind, canonical_id), "canonical")
    served = _events(_fetch(framed, kind, scenario_id), variant)
    if variant == "done-unquoted":
        assert served[-1] == ("done", "[DONE]")
        served[-1] = ("done", "[DONE]")
        canonical[-1] = ("done", "[DONE]")
    assert _ids_free(served) == _ids_free(canonical)
    assert framed.app.state.simulator.journal.wait_closed(5.0) == []


@pytest.mark.cozepy_free
def test_bad_framing_block_names_the_place(tmp_path: Path) -> None:
    echo = (BUILTIN_DIR / "echo_bot.yaml").read_text(encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(echo + "framing: {line_ending: lf2}\n")
    with pytest.raises(ScenarioFileError) as info:
        Catalogue.load(tmp_path)
    assert "bad.yaml" in str(info.value) and "at framing.line_ending" in str(info.value)


@pytest.mark.cozepy_free
def test_combined_variants() -> None:
    framing = combined(["crlf", "chat-id-lines", "comment-keepalive"])
    assert framing == Framing(line_ending="crlf", event_ids=True, comment="ping")
    with pytest.raises(ValueError, match="unknown framing variant"):
        combined(["nope"])


# --- the probe and the report -----------------------------------------------------------------


@pytest.fixture(scope="module")
def probed() -> list[FramingResult]:
    return run_report(["framing"]).framing


def test_probe_reports_every_variant_on_both_streams(probed: list[FramingResult]) -> None:
    seen = {(item.variant, item.stream) for item in probed}
    assert seen == set(PINNED)
    for item in probed:
        assert (item.outcome == "fails") == (item.error is not None), item
        assert item.sample, item
    controls = {item.stream: item for item in probed if item.variant == "canonical"}
    if controls["chat"].outcome == "survives":
        # cozepy's parser counts fields per event and refuses any other line (CONTRACT.md, "SSE framing"):
        # a comment keep-alive breaks every release that can read a chat stream at all.
        (comment,) = [i for i in probed if i.variant == "comment-keepalive" and i.stream == "chat"]
        assert comment.outcome == "fails" and "ping" in (comment.error or "")
        (crlf,) = [i for i in probed if i.variant == "crlf" and i.stream == "chat"]
        assert crlf.outcome == "survives", crlf
        # Up to 0.16 the SDK stops at `done`; from 0.17.0 it reads to EOF (reference/cozepy-sdk.md), so a
        # response left open after `done` holds it until its read timeout; 0.4 and 0.5 read the whole body
        # before the first event.
        (lingering,) = [i for i in probed if i.variant == "open-after-done"]
        if not sdk.sync_stream_is_incremental():
            assert lingering.outcome == "fails" and "delivered no event" in lingering.detail, lingering
        elif Version(sdk.version()) >= Version("0.17.0"):
            assert lingering.outcome == "fails" and "ReadTimeout" in (lingering.error or ""), lingering
            assert "kept reading after the last event" in lingering.detail
        else:
            assert lingering.outcome == "survives", lingering


def test_report_has_a_framing_robustness_section(probed: list[FramingResult]) -> None:
    matrix = Matrix(sdk_version="0.0.0", framing=probed)
    markdown = render_markdown(matrix)
    assert "## Framing robustness" in markdown and "| `comment-keepalive` |" in markdown
    html = render_html(matrix)
    assert ">Framing robustness</h2>" in html and "<code>multiline-data</code>" in html
    assert Matrix.model_validate_json(matrix.model_dump_json()).framing == probed


@pytest.mark.cozepy_free
def test_a_lingering_response_stays_open_after_its_last_event(framed: RunningServer) -> None:
    """`open-after-done`: every event, `done` included, goes out at once; the server ends the response only
    after the linger (the journal shows it still open once `done` has been read), or when the client leaves."""
    bot_id = VARIANT_IDS["open-after-done"][0]
    journal = framed.app.state.simulator.journal
    body = {
        "bot_id": bot_id,
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
    }
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.stream("POST", f"{framed.base_url}/v3/chat", json=body, headers=headers, timeout=10) as answer:
        lines = answer.iter_lines()
        for line in lines:
            if line == 'data:"[DONE]"':
                break
        else:
            raise AssertionError("no done event")
        [entry] = [e for e in journal.entries() if e.path == "/v3/chat" and e.closed_at is None]
        assert not entry.complete
        assert list(lines) == [""]  # the blank line that ends `done`; then the server closes after the linger
    assert journal.wait_closed(5.0) == []
    [entry] = [e for e in journal.entries() if e.id == entry.id]
    assert entry.complete and entry.closed_by == "server"


@pytest.mark.cozepy_free
def test_a_lingering_stream_is_read_with_a_short_limit_well_under_its_linger() -> None:
    """Half a second of silence (the events before `done` leave at once), and six times that before the close."""
    from harness.probes.framing import FLOW_SECONDS, LINGER_SECONDS, framing_limit

    lingering = VARIANTS["open-after-done"].framing
    assert lingering.linger_seconds is not None
    limit = framing_limit(lingering.linger_seconds)
    assert limit == LINGER_SECONDS == 0.5 and limit * 6 <= lingering.linger_seconds
    assert framing_limit(1.2) == pytest.approx(0.2)  # never more than a sixth
    assert framing_limit(None) == FLOW_SECONDS
