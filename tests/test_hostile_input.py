"""Hostile input to the simulator: crafted JSON in bodies and in the fields that carry JSON as a string,
sent with and without a token, over HTTP and the websocket, and bodies that never finish arriving.

Each case was a 500 (or a dropped socket, or a held connection) before one decoding path with limits
and the token-first rule: a huge integer literal made Python's decoder raise a plain ValueError, which
nothing caught, and four chat routes read the body before they checked the token.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgi_driver import Sim, SocketRun

from simulators.coze import DEFAULT_TOKEN, SimConfig, create_app, running
from simulators.coze.inputs import MAX_INT_DIGITS, MAX_JSON_DEPTH

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
ECHO_BOT, WEATHER_BOT = "7390000000000000001", "7390000000000000002"
JOKE, QUESTION, INPUT, CHATFLOW = (
    "7440000000000000001",
    "7440000000000000002",
    "7440000000000000003",
    "7440000000000000006",
)

HUGE_INT = "9" * 4301
DEEP = "[" * 3000 + "]" * 3000
CHAT_ROUTES = [
    ("POST", "/v3/chat"),
    ("POST", "/v3/chat/retrieve"),
    ("POST", "/v3/chat/message/list"),
    ("POST", "/v3/chat/cancel"),
    ("POST", "/v3/chat/submit_tool_outputs"),
    ("POST", "/v1/workflow/run"),
    ("POST", "/v1/workflow/stream_run"),
    ("POST", "/v1/workflow/stream_resume"),
    ("POST", "/v1/workflows/chat"),
]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    harness = Sim()
    yield harness
    harness.close()


def _refused(response: httpx.Response, *fragments: str) -> str:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    envelope = response.json()
    assert envelope["code"] == 4000 and envelope["detail"]["logid"], envelope
    message: str = envelope["msg"]
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize(("method", "path"), CHAT_ROUTES)
@pytest.mark.parametrize("payload", [f'{{"chat_id":{HUGE_INT}}}', DEEP, '{"a":NaN}'])
def test_without_a_token_nothing_is_read(sim: Sim, method: str, path: str, payload: str) -> None:
    """The token is checked before the body: the answer is 4100 whatever the body holds."""
    response = sim.request(method, path, content=payload, params={"conversation_id": "1", "chat_id": "2"})
    assert response.status_code == 401 and response.json()["code"] == 4100, response.text[:300]


@pytest.mark.parametrize(("method", "path"), CHAT_ROUTES)
def test_without_a_token_an_oversized_body_is_not_even_measured(sim: Sim, method: str, path: str) -> None:
    """Was: 413 on the four chat routes that read the body first; a stranger learns nothing, not even a limit."""
    response = sim.request(method, path, content=b"{}", headers={"Content-Length": "5000000"})
    assert response.status_code == 401 and response.json()["code"] == 4100


@pytest.mark.parametrize(("method", "path"), CHAT_ROUTES)
@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (f'{{"chat_id":{HUGE_INT}}}', f"the limit is {MAX_INT_DIGITS}"),
        (f'{{"chat_id":-{HUGE_INT}}}', "digits"),
        (DEEP, f"more than {MAX_JSON_DEPTH} levels"),
        ('{"a":NaN}', "NaN"),
        ('{"a":1e999}', "out of range"),
        ("[Infinity]", "Infinity"),
    ],
)
def test_crafted_json_bodies_are_4000_naming_the_limit(
    sim: Sim, method: str, path: str, payload: str, fragment: str
) -> None:
    response = sim.request(method, path, headers=AUTH, content=payload, params={"conversation_id": "1"})
    _refused(response, "request body", fragment)


def _chat_body(content: str, content_type: str = "object_string") -> dict[str, Any]:
    return {
        "bot_id": ECHO_BOT,
        "user_id": "u",
        "additional_messages": [{"role": "user", "content": content, "content_type": content_type}],
    }


@pytest.mark.parametrize("embedded", [f'[{{"type":"text","text":{HUGE_INT}}}]', DEEP, '[{"n":NaN}]'])
def test_crafted_json_in_an_object_string_message_is_4000(sim: Sim, embedded: str) -> None:
    _refused(sim.request("POST", "/v3/chat", headers=AUTH, json=_chat_body(embedded)), "additional_messages[0]")
    flow = {"workflow_id": CHATFLOW, "additional_messages": _chat_body(embedded)["additional_messages"]}
    _refused(sim.request("POST", "/v1/workflows/chat", headers=AUTH, json=flow), "additional_messages[0]")


@pytest.mark.parametrize("embedded", [f'{{"topic":{HUGE_INT}}}', "{" + '"a":' * 3000 + "1" + "}" * 3000, "[1e999]"])
@pytest.mark.parametrize("path", ["/v1/workflow/run", "/v1/workflow/stream_run"])
def test_crafted_json_in_string_parameters_is_4000(sim: Sim, path: str, embedded: str) -> None:
    response = sim.request("POST", path, headers=AUTH, json={"workflow_id": JOKE, "parameters": embedded})
    _refused(response, "parameters")


def _interrupt(sim: Sim, workflow: str) -> str:
    stream = sim.request("POST", "/v1/workflow/stream_run", headers=AUTH, json={"workflow_id": workflow})
    [event_id] = re.findall(r'"event_id":"([0-9/]+)"', stream.text)
    return event_id


@pytest.mark.parametrize("embedded", [f'{{"name":"Ada","age":{HUGE_INT}}}', DEEP, '{"name":"Ada","age":NaN}'])
def test_crafted_json_in_resume_data_is_4000_and_keeps_the_interrupt(sim: Sim, embedded: str) -> None:
    event_id = _interrupt(sim, INPUT)
    resume = {"workflow_id": INPUT, "event_id": event_id, "resume_data": embedded, "interrupt_type": 5}
    _refused(sim.request("POST", "/v1/workflow/stream_resume", headers=AUTH, json=resume), "resume_data")
    good = {**resume, "resume_data": '{"name":"Ada","age":36}'}
    resumed = sim.request("POST", "/v1/workflow/stream_resume", headers=AUTH, json=good)
    assert resumed.status_code == 200 and "Ada" in resumed.text


def test_a_crafted_websocket_message_is_an_error_event_and_the_socket_stays(sim: Sim) -> None:
    """Was: a huge integer dropped the socket with no close frame."""
    run = SocketRun(sim, f"bot_id={ECHO_BOT}", AUTH)
    assert run.next()["type"] == "websocket.accept"
    assert run.event()["event_type"] == "chat.created"
    for text in (f'{{"id":"1","event_type":"chat.update","data":{{"n":{HUGE_INT}}}}}', DEEP, '{"id":NaN}'):
        run.send_text(text)
        error = run.event()
        assert error["event_type"] == "error" and error["data"]["code"] == 4000, error
        assert "message" in error["data"]["msg"]
    message = {"role": "user", "content": "still here", "content_type": "text"}
    run.send_text(json.dumps({"id": "2", "event_type": "conversation.message.create", "data": message}))
    seen = [run.event()["event_type"] for _ in range(3)]
    assert seen[0] == "conversation.chat.created", seen
    run.finish()


# --- a body that never finishes ---------------------------------------------------------------------


def _raw_exchange(base_url: str, head: bytes, limit: float) -> tuple[bytes, float]:
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=limit) as conn:
        conn.sendall(head)
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def test_a_body_that_never_arrives_gets_a_408_within_the_body_timeout() -> None:
    app = create_app(config=SimConfig(body_timeout_seconds=0.5))
    head = (
        b"POST /v3/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {DEFAULT_TOKEN}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        + b'{"bot_id":'
    )
    with running(app) as server:
        received, took = _raw_exchange(server.base_url, head, 10)
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    envelope = json.loads(received.split(b"\r\n\r\n", 1)[1])
    assert envelope["code"] == 4000 and "did not arrive within 0.5 s" in envelope["msg"]
    assert took < 5
