"""Bad input, fuzzed: every endpoint of the simulator (HTTP and the websocket) and of the HTTP bridge gets
bodies, query strings, headers and messages drawn by hypothesis, built from the request models with
each field valid, absent or junk. Nothing may answer 5xx or raise inside the app; every refusal is
an envelope (`{code, msg, detail: {logid}}`; the bridge's `{success, error_code, message}`) with a
message saying what is wrong. Oversized and deeply nested bodies are refused before any model sees them.

Everything runs in process (httpx.ASGITransport, and a small ASGI websocket driver), on one event loop
per module, so hundreds of requests take a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_driver import Sim, SocketRun
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from harness.bridge import BridgeAnswer, create_bridge_app
from harness.tools import ToolRegistry
from simulators.coze import DEFAULT_TOKEN
from simulators.coze.inputs import MAX_BODY_BYTES, MAX_JSON_DEPTH

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
WEATHER_BOT, ECHO_BOT, FAILING_BOT = "7390000000000000002", "7390000000000000001", "7390000000000000004"
QUESTION, INPUT, JOKE, FORECAST = (
    "7440000000000000002",
    "7440000000000000003",
    "7440000000000000001",
    "7440000000000000010",
)
FAILING_WF, UNPUBLISHED, CHATFLOW, TOOL_EVENT = (
    "7440000000000000004",
    "7440000000000000009",
    "7440000000000000006",
    "7440000000000000031",
)
# Not fuzzed: slow-workflow and timeout-workflow wait in real time, and the http-node workflows would
# send requests to whatever URL a parameter holds.
FAST_WORKFLOWS = [QUESTION, INPUT, JOKE, FORECAST, FAILING_WF, UNPUBLISHED, TOOL_EVENT]

FUZZ = settings(
    max_examples=int(os.environ.get("COZE_HARNESS_FUZZ_EXAMPLES", "50")),  # more for a deeper run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ABSENT = object()


# --- strategies -------------------------------------------------------------------------------------

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
digits = st.from_regex(r"[0-9]{1,25}", fullmatch=True)
texts = st.text(max_size=30)


hostile_json = st.sampled_from(
    [
        "1" * 4301,  # past Python's int-string limit: a plain ValueError inside json.loads
        '{"a":' + "-" + "9" * 5000 + "}",
        "[" * 3000 + "]" * 3000,  # past the recursion the decoder allows
        "[" * 70 + "]" * 70,  # past MAX_JSON_DEPTH, within the decoder's
        '{"a":NaN}',
        "[Infinity]",
        "1e999",
        '[{"type":"text","text":' + "7" * 4400 + "}]",
    ]
)
"""JSON texts that decode in Python but must be refused: huge integers, deep nesting, non-finite numbers.
They go in as bodies and inside the fields that carry JSON as a string (object_string content,
`parameters` sent as a string, `resume_data`, a chatflow's answer)."""

raw_bodies = (
    st.sampled_from([b"{not json", b"\xff\xfe\x00", b"[]", b"null", b'"text"', b"{}" * 3, b"   "])
    | st.binary(max_size=40)
    | hostile_json.map(str.encode)
)


def field(*valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The values a field may validly take (junk comes from `body`'s mutations)."""
    return st.one_of(*valid)


def body(need: tuple[str, ...] = (), **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A JSON object of valid fields (those in `need` always there, the others maybe); the same with one
    field, or a stray key, replaced by junk; or any JSON at all. Valid bodies get past validation, so
    the fuzzing reaches the routes' own logic and not only the refusals."""
    stray = {key: junk for key in ("unexpected", "id", "event_id") if key not in fields}
    valid = st.fixed_dictionaries(
        {key: value for key, value in fields.items() if key in need},
        optional={key: value for key, value in fields.items() if key not in need},
    )
    mutated = st.tuples(valid, st.sampled_from(sorted({*fields, *stray})), junk).map(lambda t: {**t[0], t[1]: t[2]})
    return st.one_of(valid, valid, mutated, junk, raw_bodies)


def id_of(*known: str) -> st.SearchStrategy[Any]:
    """Mostly ids the simulator knows; sometimes well-formed unknown ones or any text."""
    return st.one_of(st.sampled_from(known), st.sampled_from(known), st.sampled_from(known), digits, texts)


messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "user", "assistant", "system"])},
        optional={
            "content": field(texts, st.just('[{"type":"text","text":"hi"}]'), st.just("[1, {}]"), hostile_json),
            "content_type": st.sampled_from(["text", "text", "object_string", "card", "audio"]),
            "type": st.sampled_from(["question", "answer", "function_call"]),
            "meta_data": junk,
        },
    ),
    max_size=3,
)
tool_outputs = st.lists(
    st.fixed_dictionaries({"tool_call_id": field(texts, digits), "output": texts}, optional={"x": junk}), max_size=3
)
headers = st.sampled_from([AUTH] * 8 + [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic eA=="}])


def chat_body() -> st.SearchStrategy[Any]:
    return body(
        ("bot_id", "user_id"),
        bot_id=field(id_of(WEATHER_BOT, ECHO_BOT, FAILING_BOT)),
        user_id=field(texts),
        additional_messages=field(messages),
        stream=field(st.booleans()),
        custom_variables=field(st.dictionaries(texts, texts, max_size=2)),
        parameters=field(st.dictionaries(texts, junk, max_size=2)),
        meta_data=field(st.dictionaries(texts, texts, max_size=2)),
        conversation_id=field(digits),
    )


def ids_body() -> st.SearchStrategy[Any]:
    return body(conversation_id=field(digits, texts), chat_id=field(digits, texts))


def run_body() -> st.SearchStrategy[Any]:
    return body(
        ("workflow_id",),
        workflow_id=field(id_of(*FAST_WORKFLOWS, CHATFLOW)),
        parameters=field(
            st.fixed_dictionaries(
                {}, optional={"city": texts, "days": st.integers(-5, 400) | junk, "topic": texts, "x": junk}
            ),
            st.text(max_size=20).map(json.dumps),
            hostile_json,
        ),
        is_async=field(st.booleans()),
        bot_id=field(digits),
        app_id=field(digits),
        ext=field(st.dictionaries(texts, texts, max_size=2)),
    )


def resume_body(event_ids: list[str]) -> st.SearchStrategy[Any]:
    return body(
        ("workflow_id", "event_id", "resume_data", "interrupt_type"),
        workflow_id=field(id_of(QUESTION, INPUT, JOKE)),
        event_id=field(st.sampled_from(event_ids), texts, st.from_regex(r"[0-9]{1,20}/[0-9]{1,20}", fullmatch=True)),
        resume_data=field(texts, st.just('{"name":"Ada","age":36}'), hostile_json),
        interrupt_type=field(st.sampled_from([1, 2, 5, 6, 99, -1])),
    )


def chatflow_body() -> st.SearchStrategy[Any]:
    return body(
        ("workflow_id",),
        workflow_id=field(id_of(CHATFLOW, JOKE, UNPUBLISHED)),
        additional_messages=field(messages),
        parameters=field(st.dictionaries(texts, junk, max_size=2)),
        conversation_id=field(digits),
        bot_id=field(digits),
    )


# --- the app in process -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    harness = Sim()
    yield harness
    harness.close()


@pytest.fixture(scope="module")
def pending(sim: Sim) -> dict[str, Any]:
    """Real ids to fuzz with: a weather chat waiting for its tool outputs, and question interrupts."""
    chat = sim.request(
        "POST",
        "/v3/chat",
        headers=AUTH,
        json={"bot_id": WEATHER_BOT, "user_id": "u", "additional_messages": [{"role": "user", "content": "Paris"}]},
    ).json()["data"]
    events = []
    for _ in range(3):
        stream = sim.request("POST", "/v1/workflow/stream_run", headers=AUTH, json={"workflow_id": QUESTION})
        data = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
        events += [item["interrupt_data"]["event_id"] for item in data if "interrupt_data" in item]
    run = sim.request("POST", "/v1/workflow/run", headers=AUTH, json={"workflow_id": JOKE, "is_async": True}).json()
    return {
        "conversation_id": chat["conversation_id"],
        "chat_id": chat["id"],
        "event_ids": events,
        "execute_id": run["execute_id"],
    }


# --- what every answer must look like -------------------------------------------------------------


NAMES = (
    *("bot_id", "user_id", "additional_messages", "custom_variables", "parameters", "meta_data", "stream"),
    *("conversation_id", "chat_id", "tool_outputs", "workflow_id", "event_id", "resume_data", "interrupt_type"),
    *("app_id", "ext", "is_async", "request body", "not allowed", "no such endpoint", "chat ", "workflow "),
    *("name", "messages", "role", "content", "message_id", "order", "limit", "before_id", "after_id", "page_num"),
    *("page_size", "sort_order", "feedback_type", "reason_types", "comment", "connector_id", "auto_save_history"),
    "message ",
    *("file", "multipart", "space_id", "workspace_id", "page_", "publish_status", "is_published"),
    *("workflow_mode", "include_input_output", "node_execute"),
)
"""What a 4000 refusal may name: a field, the body, the route, or the chat or workflow it is about."""


def _tally(what: str) -> None:
    """`pytest --hypothesis-show-statistics` shows how far the examples got past validation."""
    if currently_in_test_context():
        event(what)


def assert_answer(response: httpx.Response) -> None:
    """No 5xx; a stream is well framed; anything else is an envelope whose refusal says why."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    logid = response.headers.get("x-tt-logid")
    assert logid, "every answer carries x-tt-logid"
    kind = response.headers.get("content-type", "")
    if kind == "text/event-stream":
        _tally("answer: a stream")
        assert response.status_code == 200
        assert response.content.endswith(b"\n\n"), response.content[-200:]
        for block in response.text.split("\n\n")[:-1]:
            for line in block.split("\n"):
                assert line.split(":", 1)[0] in ("event", "data", "id"), block
        return
    assert kind.startswith("application/json"), kind
    envelope = response.json()
    assert isinstance(envelope, dict) and {"code", "msg", "detail"} <= set(envelope), envelope
    assert envelope["detail"] == {"logid": logid}
    _tally(f"answer: code {envelope['code']}")
    if envelope["code"] != 0:
        message = envelope["msg"]
        assert isinstance(message, str) and len(message) >= 10, envelope
        assert "internal error" not in message and "Traceback" not in message, envelope
        if 4000 <= envelope["code"] < 5000:
            assert response.status_code >= 400, envelope
        if envelope["code"] == 4000:
            assert any(word in message for word in NAMES), f"a 4000 that names no field or part: {message}"


def send(sim: Sim, method: str, path: str, payload: Any, auth: dict[str, str], query: dict[str, Any]) -> None:
    params = {key: value for key, value in query.items() if value is not ABSENT}
    if isinstance(payload, bytes):
        response = sim.request(method, path, headers=auth, params=params, content=payload)
    elif method == "GET":
        response = sim.request(method, path, headers=auth, params=params)
    else:
        response = sim.request(method, path, headers=auth, params=params, json=payload)
    assert_answer(response)


# --- the simulator's HTTP endpoints ---------------------------------------------------------------

chat_query = st.fixed_dictionaries({}, optional={"conversation_id": digits | texts, "x": texts})


@FUZZ
@given(payload=chat_body(), auth=headers, query=chat_query)
def test_create_chat(sim: Sim, payload: Any, auth: dict[str, str], query: dict[str, Any]) -> None:
    send(sim, "POST", "/v3/chat", payload, auth, query)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v3/chat/retrieve"),
        ("GET", "/v3/chat/retrieve"),
        ("GET", "/v3/chat/message/list"),
        ("POST", "/v3/chat/message/list"),
        ("POST", "/v3/chat/cancel"),
    ],
)
@FUZZ
@given(data=st.data(), payload=ids_body(), auth=headers)
def test_chat_lookups(
    sim: Sim, pending: dict[str, Any], method: str, path: str, data: st.DataObject, payload: Any, auth: dict[str, str]
) -> None:
    query = data.draw(
        st.fixed_dictionaries(
            {
                "conversation_id": st.just(ABSENT) | st.just(pending["conversation_id"]) | digits | texts,
                "chat_id": st.just(ABSENT) | st.just(pending["chat_id"]) | digits | texts,
            }
        )
    )
    send(sim, method, path, payload, auth, query)


@FUZZ
@given(data=st.data(), auth=headers)
def test_submit_tool_outputs(sim: Sim, pending: dict[str, Any], data: st.DataObject, auth: dict[str, str]) -> None:
    query = {"conversation_id": pending["conversation_id"], "chat_id": pending["chat_id"]}
    query = data.draw(st.sampled_from([query, {**query, "chat_id": "1"}, {}, {"conversation_id": "x"}]))
    payload = data.draw(body(("tool_outputs",), tool_outputs=tool_outputs, stream=st.booleans()))
    send(sim, "POST", "/v3/chat/submit_tool_outputs", payload, auth, query)


@pytest.mark.parametrize("path", ["/v1/workflow/run", "/v1/workflow/stream_run"])
@FUZZ
@given(payload=run_body(), auth=headers)
def test_workflow_runs(sim: Sim, path: str, payload: Any, auth: dict[str, str]) -> None:
    send(sim, "POST", path, payload, auth, {})


@FUZZ
@given(data=st.data(), auth=headers)
def test_stream_resume(sim: Sim, pending: dict[str, Any], data: st.DataObject, auth: dict[str, str]) -> None:
    payload = data.draw(resume_body(pending["event_ids"]))
    send(sim, "POST", "/v1/workflow/stream_resume", payload, auth, {})


@FUZZ
@given(payload=chatflow_body(), auth=headers, query=chat_query)
def test_chatflow(sim: Sim, payload: Any, auth: dict[str, str], query: dict[str, Any]) -> None:
    send(sim, "POST", "/v1/workflows/chat", payload, auth, query)


path_part = st.text(st.characters(codec="utf-8"), min_size=1, max_size=25).map(lambda p: quote(p, safe=""))


@FUZZ
@given(data=st.data(), auth=headers)
def test_run_histories(sim: Sim, pending: dict[str, Any], data: st.DataObject, auth: dict[str, str]) -> None:
    workflow = data.draw(st.sampled_from([JOKE, QUESTION, CHATFLOW]) | path_part)
    execute = data.draw(st.just(pending["execute_id"]) | path_part)
    response = sim.request("GET", f"/v1/workflows/{workflow}/run_histories/{execute}", headers=auth)
    assert_answer(response)


@FUZZ
@given(data=st.data(), auth=headers)
def test_resume(sim: Sim, pending: dict[str, Any], data: st.DataObject, auth: dict[str, str]) -> None:
    payload = data.draw(resume_body(pending["event_ids"]))
    send(sim, "POST", "/v1/workflows/resume", payload, auth, {})


@FUZZ
@given(data=st.data(), auth=headers)
def test_node_executions(sim: Sim, pending: dict[str, Any], data: st.DataObject, auth: dict[str, str]) -> None:
    workflow = data.draw(st.sampled_from([JOKE, QUESTION, CHATFLOW]) | path_part)
    execute = data.draw(st.just(pending["execute_id"]) | path_part)
    node = data.draw(digits | path_part)
    path = f"/v1/workflows/{workflow}/run_histories/{execute}/execute_nodes/{node}"
    assert_answer(sim.request("GET", path, headers=auth))


workflow_query = st.fixed_dictionaries(
    {},
    optional={
        "workspace_id": st.just("7439000000000000001") | texts,
        "page_num": st.integers(-2, 5).map(str) | texts,
        "page_size": st.integers(-2, 200).map(str) | texts,
        "workflow_mode": st.sampled_from(["workflow", "chatflow"]) | texts,
        "app_id": st.just("0") | texts,
        "publish_status": st.sampled_from(["all", "published_online", "unpublished_draft"]) | texts,
        "page_token": texts,
        "include_input_output": st.sampled_from(["true", "false"]) | texts,
    },
)


@FUZZ
@given(data=st.data(), auth=headers, query=workflow_query)
def test_workflow_lookups(sim: Sim, data: st.DataObject, auth: dict[str, str], query: dict[str, Any]) -> None:
    workflow = data.draw(st.sampled_from([JOKE, QUESTION, CHATFLOW]) | path_part)
    path = data.draw(
        st.sampled_from(["/v1/workflows", f"/v1/workflows/{workflow}", f"/v1/workflows/{workflow}/versions"])
    )
    send(sim, "GET", path, None, auth, query)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(
        [
            "/v3/chat",
            "/v1/workflow/run",
            "/v1/workflows/chat",
            "/v3/chat/cancel",
            "/v1/chat",
            "/",
            "/v3",
            "/v1/workflows/1/nothing",  # /v1/workflows/{id} is a route now (workflow retrieve)
        ]
    )
    | path_part.map(lambda p: "/" + p),
    auth=headers,
)
def test_unknown_routes_and_methods(sim: Sim, method: str, path: str, auth: dict[str, str]) -> None:
    response = sim.request(method, path, headers=auth)
    assert response.status_code < 500
    if method != "HEAD" and response.status_code in (404, 405):
        assert_answer(response)
        assert response.json()["code"] == 4000


# --- conversations and messages ---------------------------------------------------------------------

meta = st.dictionaries(st.text(max_size=70), st.text(max_size=20), max_size=3) | st.dictionaries(
    st.text(min_size=1, max_size=4), st.text(max_size=2), min_size=17, max_size=18
)


def conversation_body() -> st.SearchStrategy[Any]:
    return body(
        bot_id=field(id_of(ECHO_BOT, WEATHER_BOT), st.none()),
        name=field(texts, st.text(min_size=101, max_size=102)),
        messages=field(messages),
        connector_id=field(st.sampled_from(["1024", "999"]), digits, st.none()),
        meta_data=field(meta, st.none()),
    )


def message_body() -> st.SearchStrategy[Any]:
    return body(
        ("role", "content", "content_type"),
        role=field(st.sampled_from(["user", "assistant", "system"])),
        content=field(texts, st.just('[{"type":"text","text":"hi"}]'), hostile_json),
        content_type=field(st.sampled_from(["text", "object_string", "card"])),
        meta_data=field(meta, st.none()),
    )


@pytest.fixture(scope="module")
def conversation(sim: Sim) -> dict[str, str]:
    """A conversation of the echo bot with a question and an answer (for feedback), and a third message."""
    made = sim.request("POST", "/v1/conversation/create", headers=AUTH, json={"bot_id": ECHO_BOT}).json()["data"]
    chat = {
        "bot_id": ECHO_BOT,
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "x"}],
    }
    sim.request("POST", "/v3/chat", headers=AUTH, params={"conversation_id": made["id"]}, json=chat)
    listed = sim.request(
        "POST", "/v1/conversation/message/list", headers=AUTH, params={"conversation_id": made["id"]}, json={}
    ).json()["data"]
    return {"conversation_id": made["id"], "answer": listed[0]["id"], "question": listed[1]["id"]}


@FUZZ
@given(payload=conversation_body(), auth=headers)
def test_conversation_create(sim: Sim, payload: Any, auth: dict[str, str]) -> None:
    send(sim, "POST", "/v1/conversation/create", payload, auth, {})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/conversation/retrieve"),
        ("GET", "/v1/conversations"),
        ("PUT", "/v1/conversations/{id}"),
        ("POST", "/v1/conversations/{id}/clear"),
        ("POST", "/v1/conversation/message/create"),
        ("POST", "/v1/conversation/message/list"),
        ("GET", "/v1/conversation/message/retrieve"),
        ("POST", "/v1/conversation/message/modify"),
        ("POST", "/v1/conversations/{id}/messages/{message}/feedback"),
        ("DELETE", "/v1/conversations/{id}/messages/{message}/feedback"),
        ("POST", "/v1/conversation/message/delete"),
        ("DELETE", "/v1/conversations/{id}"),
    ],
)
@FUZZ
@given(data=st.data(), auth=headers)
def test_conversation_and_message_endpoints(
    sim: Sim, conversation: dict[str, str], method: str, path: str, data: st.DataObject, auth: dict[str, str]
) -> None:
    """Ids from the live conversation (in the path or the query), unknown ones and junk; bodies of every
    endpoint's fields, valid or not (the deletes run last, so the others reach a live conversation)."""
    conversation_id = data.draw(st.just(conversation["conversation_id"]) | digits | texts)
    message_id = data.draw(st.sampled_from([conversation["answer"], conversation["question"]]) | digits | texts)
    query = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "conversation_id": st.just(conversation_id),
                "message_id": st.just(message_id),
                "bot_id": id_of(ECHO_BOT, WEATHER_BOT),
                "page_num": st.integers(-1, 3).map(str) | texts,
                "page_size": st.integers(0, 60).map(str) | texts,
                "sort_order": st.sampled_from(["ASC", "DESC", "asc", "x"]),
                "connector_id": st.sampled_from(["1024", "999", "x"]),
            },
        )
    )
    payload = data.draw(
        message_body()
        | body(
            name=field(texts, st.text(min_size=101, max_size=102)),
            content=field(texts, hostile_json),
            content_type=field(st.sampled_from(["text", "object_string"])),
            meta_data=field(meta),
            order=field(st.sampled_from(["asc", "desc", "x"])),
            chat_id=field(digits),
            before_id=field(st.just(conversation["question"]), digits, st.just("0")),
            after_id=field(st.just(conversation["answer"]), digits, st.just("")),
            limit=field(st.integers(-1, 60)),
            feedback_type=field(st.sampled_from(["like", "unlike", "meh"])),
            reason_types=field(st.lists(texts, max_size=3)),
            comment=field(texts),
        )
    )
    filled = path.replace("{id}", quote(conversation_id, safe="") or "x").replace(
        "{message}", quote(message_id, safe="") or "x"
    )
    send(sim, method, filled, payload, auth, query)


# files and bots (routes/files.py, routes/bots.py)

file_names = st.one_of(
    st.sampled_from(["a.csv", "b.PNG", "c.py", "d.txt", "noext", "", "../../x.csv", "e.csv\x00.sh"]),
    st.text(max_size=20),
)
form_parts = st.lists(
    st.tuples(st.sampled_from(["file", "other", "", "FILE"]), file_names, st.binary(max_size=64)), max_size=3
)


@FUZZ
@given(
    parts=form_parts,
    raw=st.one_of(st.none(), st.binary(max_size=200)),
    auth=headers,
    boundary=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
)
def test_file_upload(
    sim: Sim, parts: list[tuple[str, str, bytes]], raw: bytes | None, auth: dict[str, str], boundary: str
) -> None:
    if raw is not None:  # any bytes, declared as multipart with any boundary
        kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        response = sim.request("POST", "/v1/files/upload", headers={**auth, **kind}, content=raw)
    else:
        files = [(field, (name, data, "application/octet-stream")) for field, name, data in parts]
        response = sim.request("POST", "/v1/files/upload", headers=auth, files=files or None, data={"x": "1"})
    assert_answer(response)


bot_query = st.fixed_dictionaries(
    {},
    optional={
        "bot_id": id_of(WEATHER_BOT, ECHO_BOT),
        "space_id": id_of("7439000000000000001"),
        "workspace_id": id_of("7439000000000000001"),
        **{key: digits | texts for key in ("page_index", "page_num", "page_size", "file_id")},
        "publish_status": texts | st.sampled_from(["all", "published_online", "unpublished_draft"]),
        "is_published": texts | st.sampled_from(["true", "false"]),
    },
)


@pytest.mark.parametrize(
    "path",
    ["/v1/files/retrieve", "/v1/bot/get_online_info", "/v1/space/published_bots_list", "/v1/bots", "/v1/bots/{}"],
)
@FUZZ
@given(query=bot_query, auth=headers, bot=id_of(WEATHER_BOT))
def test_file_and_bot_lookups(sim: Sim, path: str, query: dict[str, Any], auth: dict[str, str], bot: Any) -> None:
    send(sim, "GET", path.format(quote(str(bot), safe="")) if "{}" in path else path, None, auth, query)


def test_every_route_is_fuzzed(sim: Sim) -> None:
    """A new endpoint must join the fuzzing: the routes here are all the simulator serves."""
    from simulators.coze.routes import ROUTERS

    served = {route.path for router in ROUTERS for route in router.routes}  # type: ignore[attr-defined]
    assert served == {
        "/v3/chat",
        "/v3/chat/retrieve",
        "/v3/chat/message/list",
        "/v3/chat/cancel",
        "/v3/chat/submit_tool_outputs",
        "/v1/workflow/run",
        "/v1/workflow/stream_run",
        "/v1/workflow/stream_resume",
        "/v1/workflows/{workflow_id}/run_histories/{execute_id}",
        "/v1/workflows/{workflow_id}/run_histories/{execute_id}/execute_nodes/{node_execute_uuid}",
        "/v1/workflows/resume",
        "/v1/workflows",
        "/v1/workflows/{workflow_id}",
        "/v1/workflows/{workflow_id}/versions",
        "/v1/workflows/chat",
        "/v1/chat",
        "/v1/conversation/create",
        "/v1/conversation/retrieve",
        "/v1/conversations",
        "/v1/conversations/{conversation_id}",
        "/v1/conversations/{conversation_id}/clear",
        "/v1/conversation/message/create",
        "/v1/conversation/message/list",
        "/v1/conversation/message/retrieve",
        "/v1/conversation/message/modify",
        "/v1/conversation/message/delete",
        "/v1/conversations/{conversation_id}/messages/{message_id}/feedback",
        "/v1/files/upload",
        "/v1/files/retrieve",
        "/v1/bot/get_online_info",
        "/v1/bots/{bot_id}",
        "/v1/space/published_bots_list",
        "/v1/bots",
    }


# --- oversized and deeply nested bodies -------------------------------------------------------------

POSTS = [
    "/v3/chat",
    "/v3/chat/retrieve",
    "/v3/chat/message/list",
    "/v3/chat/cancel",
    "/v3/chat/submit_tool_outputs?conversation_id=1&chat_id=2",
    "/v1/workflow/run",
    "/v1/workflow/stream_run",
    "/v1/workflow/stream_resume",
    "/v1/workflows/chat",
    "/v1/conversation/create",
    "/v1/conversation/message/create?conversation_id=1",
    "/v1/conversation/message/list?conversation_id=1",
]


def _envelope(response: httpx.Response, code: int, *words: str) -> dict[str, Any]:
    assert_answer(response)
    envelope: dict[str, Any] = response.json()
    assert envelope["code"] == code, envelope
    for word in words:
        assert word in envelope["msg"], envelope
    return envelope


@pytest.mark.parametrize("path", POSTS)
def test_an_oversized_body_is_refused_by_its_length_before_it_is_read(sim: Sim, path: str) -> None:
    read = 0

    async def huge() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(64):
            read += 1
            yield b" " * (1 << 16)

    headers = {**AUTH, "Content-Length": str(MAX_BODY_BYTES * 4)}
    response = sim.request("POST", path, headers=headers, content=huge())
    _envelope(response, 4000, "limit is")
    assert response.status_code == 413
    assert read <= 1  # at most the chunk httpx had in hand when the app answered


@pytest.mark.parametrize("path", ["/v3/chat", "/v1/workflow/stream_run"])
def test_an_oversized_streamed_body_is_refused_once_past_the_limit(sim: Sim, path: str) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        nonlocal sent
        for _ in range(64):
            sent += 1 << 16
            yield b" " * (1 << 16)

    response = sim.request("POST", path, headers=AUTH, content=chunks())
    _envelope(response, 4000, "limit is")
    assert response.status_code == 413


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(
    "payload",
    [
        "[" * 200_000,  # the decoder gives up long before the end
        '{"parameters":' + '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 2),
        '{"additional_messages":' + "[" * 900 + "]" * 900 + "}",
    ],
    ids=["unterminated", "just-over", "900-deep"],
)
def test_deeply_nested_json_is_refused_with_a_4000(sim: Sim, path: str, payload: str) -> None:
    response = sim.request("POST", path, headers=AUTH, content=payload.encode())
    _envelope(response, 4000, f"more than {MAX_JSON_DEPTH} levels")


def test_nesting_up_to_the_limit_is_accepted(sim: Sim) -> None:
    parameters: Any = {"city": "Paris", "days": 2}
    extra: Any = 1
    for _ in range(MAX_JSON_DEPTH - 2):
        extra = {"a": extra}
    parameters["extra"] = extra
    response = sim.request(
        "POST", "/v1/workflow/run", headers=AUTH, json={"workflow_id": FORECAST, "parameters": parameters}
    )
    assert _envelope(response, 0)["data"]


# --- the websocket ----------------------------------------------------------------------------------


SENTINEL = json.dumps({"id": "sentinel", "event_type": "fuzz.sentinel"})

ws_events = st.sampled_from(
    [
        "chat.update",
        "conversation.message.create",
        "conversation.chat.submit_tool_outputs",
        "conversation.chat.cancel",
        "conversation.clear",
        "input_audio_buffer.append",
    ]
)
ws_data = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from(["user", "assistant"]) | junk,
            "content_type": st.sampled_from(["text", "card"]) | junk,
            "content": texts | junk,
            "chat_id": texts | junk,
            "tool_outputs": tool_outputs | junk,
            "chat_config": st.fixed_dictionaries({}, optional={"custom_variables": junk, "conversation_id": junk})
            | junk,
        },
    ),
)
ws_messages = st.one_of(
    st.fixed_dictionaries({"id": texts, "event_type": ws_events | texts}, optional={"data": ws_data}).map(json.dumps),
    junk.map(json.dumps),
    st.text(max_size=40),
    st.just("[" * 5000),
    st.just(json.dumps({"event_type": "chat.update", "data": {"chat_config": {"x": [[[[[[[[]]]]]]]]}}})),
)


@pytest.mark.parametrize("bot", [WEATHER_BOT, ECHO_BOT])
@FUZZ
@given(sent=st.lists(ws_messages, min_size=1, max_size=4))
def test_websocket_messages(sim: Sim, bot: str, sent: list[str]) -> None:
    """Every message gets its answer or an error event naming the problem, and the socket stays open."""
    socket = SocketRun(sim, f"bot_id={bot}", AUTH)
    assert socket.next()["type"] == "websocket.accept"
    assert socket.event()["event_type"] == "chat.created"
    for text in sent:
        socket.send_text(text)
        socket.send_text(SENTINEL)
        while True:
            event = socket.event()
            if event["event_type"] == "error":
                assert event["data"]["code"] in (4000, 4200) and len(event["data"]["msg"]) >= 10, event
                assert "internal error" not in event["data"]["msg"]
                if event["detail"].get("origin_message") == SENTINEL:
                    assert "fuzz.sentinel" in event["data"]["msg"]
                    break
    socket.finish()


@FUZZ
@given(query=st.sampled_from(["", "bot_id=", f"bot_id={WEATHER_BOT}", "bot_id=1", "bot_id=%FF"]) | texts, auth=headers)
def test_websocket_handshakes(sim: Sim, query: str, auth: dict[str, str]) -> None:
    """A refused handshake is an HTTP envelope with a 4xx status, never an exception."""
    socket = SocketRun(sim, query, auth)
    first = socket.next()
    if first["type"] == "websocket.accept":
        socket.event()
        socket.finish()
        return
    assert first["type"] == "websocket.http.response.start", first
    assert 400 <= first["status"] < 500
    envelope = json.loads(socket.next()["body"])
    assert envelope["code"] in (4000, 4100, 4101, 4200) and len(envelope["msg"]) >= 10 and envelope["detail"]["logid"]
    socket.sim.run(socket.task)


def test_an_oversized_websocket_message_is_an_error_event(sim: Sim) -> None:
    socket = SocketRun(sim, f"bot_id={ECHO_BOT}", AUTH)
    socket.next()
    socket.event()
    socket.send_text(json.dumps({"event_type": "chat.update", "data": {"x": "a" * (1 << 20)}}))
    event = socket.event()
    assert event["event_type"] == "error" and "larger than" in event["data"]["msg"]
    socket.finish()


# --- the bridge -------------------------------------------------------------------------------------

BRIDGE_TOKEN = "fuzz-bridge-token"


class Place(BaseModel):
    city: str = Field(max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=5)


def _bridge_tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int = 1) -> int:
        """Add two integers."""
        return a + b

    @registry.tool
    def forecast(place: Place, days: int = Field(1, ge=1, le=7)) -> dict[str, Any]:
        """A forecast; never fails for valid arguments."""
        return {"city": place.city, "days": days}

    @registry.tool
    def echo(value: Any = None) -> Any:
        """Returns what it got."""
        return value

    return registry


@pytest.fixture(scope="module")
def bridge(sim: Sim) -> Iterator[httpx.AsyncClient]:
    app = create_bridge_app(_bridge_tools(), token=BRIDGE_TOKEN, body_timeout=2.0)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",  # a Host the bridge answers; tool calls are JSON
        headers={"Content-Type": "application/json"},
    )
    yield client
    sim.run(client.aclose())


def assert_bridge_answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    answer: dict[str, Any] = response.json()
    BridgeAnswer.model_validate(answer)
    if not answer["success"]:
        assert response.status_code >= 400
        assert answer["error_code"] and len(answer["message"]) >= 10, answer
        assert answer["data"] is None
    return answer


bridge_headers = st.sampled_from(
    [
        {"Authorization": f"Bearer {BRIDGE_TOKEN}"},
        {"Authorization": f"Bearer {BRIDGE_TOKEN}"},
        {"Authorization": f"Bearer {BRIDGE_TOKEN}"},
        {},
        {"Authorization": BRIDGE_TOKEN},
        {"Authorization": f"Bearer {BRIDGE_TOKEN}x"},
    ]
)
tool_names = (
    st.sampled_from(["add", "forecast", "echo", "__import__", "os.system", "..%2Fx", "%2e%2e", "eval"]) | path_part
)


@FUZZ
@given(
    name=tool_names,
    payload=st.one_of(
        body(("a",), a=st.integers(), b=st.integers()),
        body(("place",), place=st.fixed_dictionaries({"city": texts}, optional={"tags": st.lists(texts)}), days=junk),
        body(value=junk),
        raw_bodies,
    ),
    auth=bridge_headers,
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]),
)
def test_bridge_tool_calls(
    sim: Sim, bridge: httpx.AsyncClient, name: str, payload: Any, auth: dict[str, str], method: str
) -> None:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response: httpx.Response = sim.run(bridge.request(method, f"/tools/{name}", headers=auth, content=content))
    answer = assert_bridge_answer(response)
    if answer["success"]:
        assert auth == {"Authorization": f"Bearer {BRIDGE_TOKEN}"} and name in ("add", "forecast", "echo")


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"[" * 200_000, {}, 422, "invalid_arguments"),
        (b'{"value":' + b"[" * 900 + b"]" * 900 + b"}", {}, 422, "invalid_arguments"),
        (b"{}", {"Content-Length": str(8 << 20)}, 413, "too_large"),
        (b" " * ((1 << 20) + 1), {}, 413, "too_large"),
    ],
    ids=["unterminated", "900-deep", "declared-too-large", "too-large"],
)
def test_bridge_refuses_deep_and_oversized_bodies(
    sim: Sim, bridge: httpx.AsyncClient, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {BRIDGE_TOKEN}", **headers}
    response: httpx.Response = sim.run(bridge.post("/tools/echo", headers=headers, content=content))
    assert response.status_code == status
    assert assert_bridge_answer(response)["error_code"] == code


def test_bridge_bounds_the_time_a_body_may_take(sim: Sim, bridge: httpx.AsyncClient) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"value":'
        await asyncio.sleep(30)
        yield b"1}"

    headers = {"Authorization": f"Bearer {BRIDGE_TOKEN}"}
    response: httpx.Response = sim.run(bridge.post("/tools/echo", headers=headers, content=trickle()))
    assert response.status_code == 408
    assert assert_bridge_answer(response)["error_code"] == "body_timeout"
