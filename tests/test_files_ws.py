"""Uploads named in a websocket chat's message (`conversation.message.create` with an object_string):
the same resolution as /v3/chat, the answer quoting the bytes, an unknown id an error event naming it."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx
import pytest

from simulators.coze import DEFAULT_TOKEN, LocalTls, RunningServer

websockets_sync = pytest.importorskip("websockets.sync.client", reason="the websockets package is too old")

pytestmark = [pytest.mark.e2e, pytest.mark.cozepy_free]

FILE_BOT = "7390000000000000030"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def _events_until(connection: Any, *names: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for _ in range(60):
        message: dict[str, Any] = json.loads(connection.recv(timeout=5))
        seen.append(message)
        if message["event_type"] in names:
            return seen
    raise AssertionError(f"none of {names}: {[m['event_type'] for m in seen]}")


def _chat(wss: RunningServer, tls: LocalTls, file_id: str, *stop: str) -> list[dict[str, Any]]:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    url = wss.base_url.replace("https://", "wss://") + f"/v1/chat?bot_id={FILE_BOT}"
    with websockets_sync.connect(url, ssl=context, additional_headers=AUTH, open_timeout=5) as connection:
        _events_until(connection, "chat.created")
        content = json.dumps([{"type": "text", "text": "what?"}, {"type": "file", "file_id": file_id}])
        data = {"role": "user", "content_type": "object_string", "content": content}
        connection.send(json.dumps({"id": "c1", "event_type": "conversation.message.create", "data": data}))
        return _events_until(connection, *stop)


def test_a_websocket_chat_quotes_an_uploaded_file(wss: RunningServer, tls: LocalTls) -> None:
    with httpx.Client(verify=str(tls.ca_file), timeout=10) as client:
        upload = client.post(f"{wss.base_url}/v1/files/upload", headers=AUTH, files={"file": ("n.csv", b"a,b\n")})
    file_id = upload.json()["data"]["id"]
    events = _chat(wss, tls, file_id, "conversation.chat.completed")
    answers = [
        e["data"]["content"]
        for e in events
        if e["event_type"] == "conversation.message.completed" and e["data"]["type"] == "answer"
    ]
    assert answers and "file n.csv | 4 bytes" in answers[-1] and "text: a,b\n" in answers[-1]


def test_an_unknown_file_id_is_an_error_event_naming_it(wss: RunningServer, tls: LocalTls) -> None:
    events = _chat(wss, tls, "7000000000000000001", "error")
    error = events[-1]["data"]
    assert error["code"] == 4200 and "content[1].file_id" in error["msg"]
