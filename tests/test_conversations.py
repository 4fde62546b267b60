"""Conversations and messages over HTTP, in process: the shapes the spec gives, paging, the errors the docs
give, scoped tokens, the studio profile, and chat and conversations as one state (history, clear, delete,
meta_data)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgi_driver import Sim, SocketRun

from simulators.coze import DEFAULT_TOKEN, SimConfig, TokenGrant, create_app

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
ECHO_BOT, WEATHER_BOT, HISTORY_BOT = "7390000000000000001", "7390000000000000002", "7390000000000000020"
UNKNOWN = "7" * 19
CONVERSATION_KEYS = ["id", "name", "meta_data", "creator_id", "created_at", "updated_at", "last_section_id"]
MESSAGE_KEYS = [
    *("id", "conversation_id", "bot_id", "chat_id", "meta_data", "role", "content", "content_type"),
    *("created_at", "updated_at", "type", "section_id"),
]


@pytest.fixture
def sim() -> Iterator[Sim]:
    harness = Sim()
    yield harness
    harness.close()


def data(response: httpx.Response) -> Any:
    envelope = response.json()
    assert envelope["code"] == 0, envelope
    assert response.headers["x-tt-logid"] == envelope["detail"]["logid"]
    return envelope.get("data")


def refused(response: httpx.Response, code: int, *words: str) -> str:
    envelope = response.json()
    assert envelope["code"] == code, envelope
    for word in words:
        assert word in envelope["msg"], envelope
    message: str = envelope["msg"]
    return message


def create(sim: Sim, headers: dict[str, str] = AUTH, **body: Any) -> dict[str, Any]:
    conversation: dict[str, Any] = data(sim.request("POST", "/v1/conversation/create", headers=headers, json=body))
    return conversation


def chat(sim: Sim, conversation_id: str | None, text: str, bot: str = HISTORY_BOT, **extra: Any) -> str:
    """A streamed chat; the answer's text."""
    body = {"bot_id": bot, "user_id": "u", "stream": True, "additional_messages": [{"role": "user", "content": text}]}
    response = sim.request(
        "POST", "/v3/chat", headers=AUTH, params={"conversation_id": conversation_id or ""}, json={**body, **extra}
    )
    assert response.headers["content-type"] == "text/event-stream", response.text
    answers = [
        json.loads(line[5:])
        for line in response.text.splitlines()
        if line.startswith("data:{") and '"type":"answer"' in line and '"created_at"' in line
    ]
    content: str = answers[-1]["content"]
    return content


def listed(sim: Sim, conversation_id: str, **body: Any) -> dict[str, Any]:
    response = sim.request(
        "POST", "/v1/conversation/message/list", headers=AUTH, params={"conversation_id": conversation_id}, json=body
    )
    envelope: dict[str, Any] = response.json()
    assert envelope["code"] == 0, envelope
    return envelope


# --- conversations -----------------------------------------------------------------------------------


def test_create_answers_the_spec_shape_and_retrieve_round_trips_meta_data(sim: Sim) -> None:
    made = create(sim, bot_id=ECHO_BOT, name="trip", meta_data={"uuid": "newid1234"}, connector_id="999")
    assert list(made) == [*CONVERSATION_KEYS, "connector_id"]
    assert made["name"] == "trip" and made["meta_data"] == {"uuid": "newid1234"} and made["connector_id"] == "999"
    assert made["id"].isdigit() and len(made["id"]) == 19 and made["last_section_id"].isdigit()
    assert made["created_at"] == made["updated_at"]
    retrieved = data(
        sim.request("GET", "/v1/conversation/retrieve", headers=AUTH, params={"conversation_id": made["id"]})
    )
    assert retrieved == made
    empty = create(sim)  # cozepy 0.20 sends {} for create(); the defaults
    assert empty["name"] == "" and empty["meta_data"] == {} and empty["connector_id"] == "1024"


def test_create_takes_the_body_cozepy_0_2_sends(sim: Sim) -> None:
    """0.2 dumps every Message field, nulls included, and sends `meta_data: null`."""
    message = {
        "role": "user",
        "type": "question",
        "content": "hi",
        "content_type": "text",
        **dict.fromkeys(("meta_data", "id", "conversation_id", "bot_id", "chat_id", "created_at", "updated_at")),
    }
    made = create(sim, messages=[message], meta_data=None)
    items = listed(sim, made["id"])["data"]
    assert [(m["role"], m["type"], m["content"]) for m in items] == [("user", "question", "hi")]
    assert list(items[0]) == MESSAGE_KEYS and items[0]["bot_id"] == items[0]["chat_id"] == ""
    assert items[0]["section_id"] == made["last_section_id"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"meta_data": {f"k{i}": "v" for i in range(17)}}, ("meta_data", "16")),
        ({"meta_data": {"k": "v" * 513}}, ("meta_data", "512")),
        ({"name": "n" * 101}, ("name",)),
        ({"messages": [{"role": "user", "content": "x"}] * 17}, ("messages",)),
        ({"messages": [{"role": "assistant", "type": "question", "content": "x"}]}, ("messages[0].type",)),
        ({"messages": [{"role": "user", "content": "{", "content_type": "object_string"}]}, ("messages[0].content",)),
        ({"bot_id": "abc"}, ("bot_id",)),
    ],
)
def test_create_refuses_what_the_docs_forbid(sim: Sim, body: dict[str, Any], words: tuple[str, ...]) -> None:
    response = sim.request("POST", "/v1/conversation/create", headers=AUTH, json=body)
    refused(response, 4000, *words)
    assert response.status_code == 400
    assert not sim.app.state.simulator.store.conversations


def test_unknown_conversations_answer_4200_everywhere(sim: Sim) -> None:
    for method, path, kwargs in [
        ("GET", "/v1/conversation/retrieve", {"params": {"conversation_id": UNKNOWN}}),
        ("PUT", f"/v1/conversations/{UNKNOWN}", {"json": {"name": "x"}}),
        ("DELETE", f"/v1/conversations/{UNKNOWN}", {}),
        ("POST", f"/v1/conversations/{UNKNOWN}/clear", {}),
        ("POST", "/v1/conversation/message/list", {"params": {"conversation_id": UNKNOWN}, "json": {}}),
        ("POST", "/v1/conversation/message/create", {"params": {"conversation_id": UNKNOWN}, "json": _text("x")}),
    ]:
        response = sim.request(method, path, headers=AUTH, **kwargs)
        refused(response, 4200, UNKNOWN)
        assert response.status_code == 404
    refused(sim.request("GET", "/v1/conversation/retrieve", headers=AUTH), 4000, "conversation_id")
    refused(sim.request("DELETE", "/v1/conversations/abc", headers=AUTH), 4000, "conversation_id")
    refused(sim.request("POST", "/v1/conversation/create", headers=AUTH, json={"bot_id": UNKNOWN}), 4200, UNKNOWN)


def test_list_pages_a_bots_conversations_newest_first(sim: Sim) -> None:
    made = [create(sim, bot_id=ECHO_BOT, name=f"c{i}")["id"] for i in range(5)]
    create(sim, bot_id=WEATHER_BOT)  # another bot's
    create(sim, bot_id=ECHO_BOT, connector_id="999")  # another connector's
    chatted = data(
        sim.request(
            "POST",
            "/v3/chat",
            headers=AUTH,
            json={"bot_id": ECHO_BOT, "user_id": "u", "additional_messages": [{"role": "user", "content": "hi"}]},
        )
    )["conversation_id"]  # a chat's conversation is the bot's too

    def page(**query: Any) -> dict[str, Any]:
        listing: dict[str, Any] = data(
            sim.request("GET", "/v1/conversations", headers=AUTH, params={"bot_id": ECHO_BOT, **query})
        )
        assert list(listing) == ["has_more", "conversations"]
        return listing

    everything = [*made, chatted]
    first, second = page(page_num=1, page_size=4), page(page_num=2, page_size=4)
    assert first["has_more"] is True and second["has_more"] is False
    assert [c["id"] for c in first["conversations"] + second["conversations"]] == everything[::-1]
    assert [c["id"] for c in page(sort_order="ASC")["conversations"]] == everything
    assert [c["id"] for c in page(connector_id="999")["conversations"]] != everything
    assert page(page_num=9)["conversations"] == []
    for query, word in [
        ({"page_size": 51}, "page_size"),
        ({"page_num": 0}, "page_num"),
        ({"sort_order": "up"}, "sort"),
    ]:
        refused(sim.request("GET", "/v1/conversations", headers=AUTH, params={"bot_id": ECHO_BOT, **query}), 4000, word)
    refused(sim.request("GET", "/v1/conversations", headers=AUTH), 4000, "bot_id")
    refused(sim.request("GET", "/v1/conversations", headers=AUTH, params={"bot_id": UNKNOWN}), 4200, UNKNOWN)


def test_update_renames_and_delete_removes_for_chat_too(sim: Sim) -> None:
    made = create(sim, bot_id=ECHO_BOT, name="old")
    chat(sim, made["id"], "before delete", bot=ECHO_BOT)
    renamed = data(sim.request("PUT", f"/v1/conversations/{made['id']}", headers=AUTH, json={"name": "new"}))
    assert renamed["name"] == "new" and renamed["id"] == made["id"] and renamed["updated_at"] > made["updated_at"]
    refused(sim.request("PUT", f"/v1/conversations/{made['id']}", headers=AUTH, json={}), 4000, "name")
    refused(sim.request("PUT", f"/v1/conversations/{made['id']}", headers=AUTH, json={"name": "n" * 101}), 4000, "name")

    chats = sim.app.state.simulator.store.chats
    old_chat = next(c for c in chats.values() if c.conversation_id == made["id"])
    deleted = sim.request("DELETE", f"/v1/conversations/{made['id']}", headers=AUTH)
    assert deleted.json() == {"code": 0, "msg": "", "detail": {"logid": deleted.headers["x-tt-logid"]}}
    params = {"conversation_id": made["id"]}
    refused(sim.request("GET", "/v1/conversation/retrieve", headers=AUTH, params=params), 4200)
    body = {"bot_id": ECHO_BOT, "user_id": "u", "additional_messages": [{"role": "user", "content": "hi"}]}
    refused(sim.request("POST", "/v3/chat", headers=AUTH, params=params, json=body), 4200, made["id"])
    ids = {**params, "chat_id": old_chat.id}
    refused(sim.request("GET", "/v3/chat/retrieve", headers=AUTH, params=ids), 4200)
    refused(sim.request("GET", "/v3/chat/message/list", headers=AUTH, params=ids), 4200)
    refused(sim.request("DELETE", f"/v1/conversations/{made['id']}", headers=AUTH), 4200)


# --- chat and conversations are one state ------------------------------------------------------------


def test_chat_history_is_saved_in_order_and_clear_empties_the_context(sim: Sim) -> None:
    made = create(
        sim,
        bot_id=HISTORY_BOT,
        messages=[{"role": "user", "content": "translate please"}, {"role": "assistant", "content": "OK."}],
    )
    first = chat(sim, made["id"], "one")
    assert first.startswith("I see 2 earlier message(s)") and "user: translate please\nassistant: OK." in first
    second = chat(sim, made["id"], "two")
    assert second.startswith("I see 4 earlier message(s)") and f"assistant: {first}" in second

    items = listed(sim, made["id"], order="asc")["data"]
    assert [(m["role"], m["type"], m["content"]) for m in items] == [
        ("user", "question", "translate please"),
        ("assistant", "answer", "OK."),
        ("user", "question", "one"),
        ("assistant", "answer", first),
        ("user", "question", "two"),
        ("assistant", "answer", second),
    ]
    assert items[2]["chat_id"] == items[3]["chat_id"] != "" and items[3]["bot_id"] == HISTORY_BOT
    section = data(sim.request("POST", f"/v1/conversations/{made['id']}/clear", headers=AUTH))
    assert section["conversation_id"] == made["id"] and section["id"] != made["last_section_id"]
    assert list(section) == ["id", "conversation_id"]
    after = chat(sim, made["id"], "three")
    assert after.startswith("I see 0 earlier message(s)")  # the context was cleared...
    items = listed(sim, made["id"], order="asc")["data"]
    assert len(items) == 8 and items[0]["section_id"] == made["last_section_id"]  # ...the messages were not
    assert items[-1]["section_id"] == section["id"]
    retrieved = data(
        sim.request("GET", "/v1/conversation/retrieve", headers=AUTH, params={"conversation_id": made["id"]})
    )
    assert retrieved["last_section_id"] == section["id"]


def test_a_chat_without_auto_save_history_leaves_the_conversation_alone(sim: Sim) -> None:
    made = create(sim, bot_id=HISTORY_BOT)
    chat(sim, made["id"], "unsaved", auto_save_history=False)
    assert listed(sim, made["id"])["data"] == []
    assert chat(sim, made["id"], "saved").startswith("I see 0 earlier")
    body = {"bot_id": HISTORY_BOT, "user_id": "u", "stream": False, "auto_save_history": False}
    refused(sim.request("POST", "/v3/chat", headers=AUTH, json=body), 4000, "auto_save_history")


@pytest.mark.parametrize("save", [True, False])
def test_websocket_chat_shares_the_conversation_and_its_auto_save_history(sim: Sim, save: bool) -> None:
    made = create(sim, bot_id=HISTORY_BOT, messages=[{"role": "user", "content": "before"}])
    socket = SocketRun(sim, f"bot_id={HISTORY_BOT}", AUTH)
    assert socket.next()["type"] == "websocket.accept"
    assert socket.event()["event_type"] == "chat.created"
    config = {"conversation_id": made["id"], "auto_save_history": save}
    socket.send_text(json.dumps({"id": "1", "event_type": "chat.update", "data": {"chat_config": config}}))
    assert socket.event()["event_type"] == "chat.updated"
    message = {"role": "user", "content": "over the socket", "content_type": "text"}
    socket.send_text(json.dumps({"id": "2", "event_type": "conversation.message.create", "data": message}))
    answers = []
    for _ in range(50):
        event = socket.event()
        if event["event_type"] == "conversation.message.completed" and event["data"]["type"] == "answer":
            answers.append(event["data"]["content"])
        if event["event_type"] == "conversation.chat.completed":
            break
    socket.finish()
    assert answers and answers[0].startswith("I see 1 earlier message(s)")
    contents = [m["content"] for m in listed(sim, made["id"], order="asc")["data"]]
    assert contents == (["before", "over the socket", answers[0]] if save else ["before"])


def test_websocket_clear_starts_a_new_section_of_the_same_conversation(sim: Sim) -> None:
    """cozepy's ConversationClear: "会在当前 conversation 下新增一个 section" (a new section, same conversation)."""
    socket = SocketRun(sim, f"bot_id={HISTORY_BOT}", AUTH)
    assert socket.next()["type"] == "websocket.accept"
    assert socket.event()["event_type"] == "chat.created"

    def ask(text: str) -> dict[str, Any]:
        message = {"role": "user", "content": text, "content_type": "text"}
        socket.send_text(json.dumps({"id": text, "event_type": "conversation.message.create", "data": message}))
        for _ in range(50):
            event = socket.event()
            if event["event_type"] == "conversation.message.completed" and event["data"]["type"] == "answer":
                answer: dict[str, Any] = event["data"]
            if event["event_type"] == "conversation.chat.completed":
                return answer
        raise AssertionError("no conversation.chat.completed")

    first = ask("one")
    assert ask("two")["content"].startswith("I see 2 earlier message(s)")
    socket.send_text(json.dumps({"id": "c", "event_type": "conversation.clear"}))
    assert socket.event()["event_type"] == "conversation.cleared"
    third = ask("three")
    socket.finish()
    assert third["content"].startswith("I see 0 earlier message(s)")
    assert third["conversation_id"] == first["conversation_id"] and third["section_id"] != first["section_id"]
    assert len(listed(sim, first["conversation_id"])["data"]) == 6


def test_tool_round_answers_join_the_history_after_submit(sim: Sim) -> None:
    made = create(sim, bot_id=WEATHER_BOT)
    body = {"bot_id": WEATHER_BOT, "user_id": "u", "additional_messages": [{"role": "user", "content": "Paris"}]}
    started = data(sim.request("POST", "/v3/chat", headers=AUTH, params={"conversation_id": made["id"]}, json=body))
    ids = {"conversation_id": made["id"], "chat_id": started["id"]}
    pending = data(sim.request("POST", "/v3/chat/retrieve", headers=AUTH, params=ids))
    calls = pending["required_action"]["submit_tool_outputs"]["tool_calls"]
    outputs = [{"tool_call_id": call["id"], "output": "sunny"} for call in calls]
    sim.request("POST", "/v3/chat/submit_tool_outputs", headers=AUTH, params=ids, json={"tool_outputs": outputs})
    items = listed(sim, made["id"], order="asc")["data"]
    assert [m["type"] for m in items] == ["question", "answer"]  # no function_call, tool_response or verbose
    assert "sunny" in items[1]["content"]


def test_chat_meta_data_round_trips_through_retrieve(sim: Sim) -> None:
    body = {"bot_id": ECHO_BOT, "user_id": "u", "meta_data": {"order": "42"}}
    body["additional_messages"] = [{"role": "user", "content": "hi", "meta_data": {"m": "1"}}]
    started = data(sim.request("POST", "/v3/chat", headers=AUTH, json=body))
    assert started["meta_data"] == {"order": "42"}
    ids = {"conversation_id": started["conversation_id"], "chat_id": started["id"]}
    assert data(sim.request("GET", "/v3/chat/retrieve", headers=AUTH, params=ids))["meta_data"] == {"order": "42"}
    plain = data(sim.request("POST", "/v3/chat", headers=AUTH, json={**body, "meta_data": None}))
    assert "meta_data" not in plain  # the recorded streams of chats without one have no such key
    items = listed(sim, started["conversation_id"])["data"]
    assert [m["meta_data"] for m in items if m["role"] == "user"] == [{"m": "1"}]


# --- messages ----------------------------------------------------------------------------------------


def _text(content: str, role: str = "user") -> dict[str, Any]:
    return {"role": role, "content": content, "content_type": "text", "meta_data": None}


def test_message_create_retrieve_modify_delete(sim: Sim) -> None:
    made = create(sim)
    params = {"conversation_id": made["id"]}
    message = data(
        sim.request(
            "POST",
            "/v1/conversation/message/create",
            headers=AUTH,
            params=params,
            json={**_text("hi"), "meta_data": {"k": "v"}},
        )
    )
    assert list(message) == MESSAGE_KEYS
    assert (message["role"], message["content"], message["type"], message["meta_data"]) == (
        "user",
        "hi",
        "question",  # the spec's enum has no "" (the docs' example shows one)
        {"k": "v"},
    )
    ids = {**params, "message_id": message["id"]}
    assert data(sim.request("GET", "/v1/conversation/message/retrieve", headers=AUTH, params=ids)) == message

    modified = sim.request(
        "POST",
        "/v1/conversation/message/modify",
        headers=AUTH,
        params=ids,
        json={"content": "bye", "content_type": "text"},
    ).json()
    assert modified["code"] == 0 and "data" not in modified  # the spec (and cozepy) read it under `message`
    assert modified["message"]["content"] == "bye" and modified["message"]["meta_data"] == {"k": "v"}
    assert modified["message"]["updated_at"] > message["updated_at"]
    only_meta = sim.request(
        "POST", "/v1/conversation/message/modify", headers=AUTH, params=ids, json={"meta_data": {"a": "b"}}
    )
    assert only_meta.json()["message"]["content"] == "bye" and only_meta.json()["message"]["meta_data"] == {"a": "b"}
    for body, word in [({}, "content and meta_data"), ({"content": "x"}, "content_type")]:
        refused(sim.request("POST", "/v1/conversation/message/modify", headers=AUTH, params=ids, json=body), 4000, word)

    deleted = data(sim.request("POST", "/v1/conversation/message/delete", headers=AUTH, params=ids))
    assert deleted["id"] == message["id"] and deleted["content"] == "bye"
    assert listed(sim, made["id"])["data"] == []
    refused(sim.request("GET", "/v1/conversation/message/retrieve", headers=AUTH, params=ids), 4200, message["id"])
    refused(sim.request("POST", "/v1/conversation/message/delete", headers=AUTH, params=ids), 4200)


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"role": "system", "content": "x", "content_type": "text"}, "role"),
        ({"role": "user", "content": "x"}, "content_type"),
        ({"role": "user", "content": "x", "content_type": "card"}, "content_type"),
        ({"role": "user", "content": "[1", "content_type": "object_string"}, "content"),
        ({"role": "user", "content": "{}", "content_type": "object_string"}, "content"),
        ({**_text("x"), "meta_data": {"": "v"}}, "meta_data"),
    ],
)
def test_message_create_refuses_bad_bodies(sim: Sim, body: dict[str, Any], word: str) -> None:
    made = create(sim)
    params = {"conversation_id": made["id"]}
    refused(sim.request("POST", "/v1/conversation/message/create", headers=AUTH, params=params, json=body), 4000, word)
    assert listed(sim, made["id"])["data"] == []


def test_a_message_of_another_conversation_answers_as_an_unknown_one(sim: Sim) -> None:
    mine, theirs = create(sim), create(sim)
    params = {"conversation_id": theirs["id"]}
    message = data(sim.request("POST", "/v1/conversation/message/create", headers=AUTH, params=params, json=_text("x")))
    for method, path in [
        ("GET", "/v1/conversation/message/retrieve"),
        ("POST", "/v1/conversation/message/modify"),
        ("POST", "/v1/conversation/message/delete"),
    ]:
        wrong = {"conversation_id": mine["id"], "message_id": message["id"]}
        unknown = {"conversation_id": mine["id"], "message_id": UNKNOWN}
        body = {"content": "y", "content_type": "text"}
        one = refused(sim.request(method, path, headers=AUTH, params=wrong, json=body), 4200)
        other = refused(sim.request(method, path, headers=AUTH, params=unknown, json=body), 4200)
        assert one.replace(message["id"], "ID") == other.replace(UNKNOWN, "ID")
    assert listed(sim, theirs["id"])["data"][0]["content"] == "x"


def test_message_list_pages_with_cursors_in_either_order(sim: Sim) -> None:
    made = create(sim)
    params = {"conversation_id": made["id"]}
    ids = [
        data(sim.request("POST", "/v1/conversation/message/create", headers=AUTH, params=params, json=_text(str(i))))[
            "id"
        ]
        for i in range(7)
    ]
    newest_first = ids[::-1]
    first = listed(sim, made["id"], limit=3)  # desc by default
    assert [m["id"] for m in first["data"]] == newest_first[:3]
    assert (first["has_more"], first["first_id"], first["last_id"]) == (True, newest_first[0], newest_first[2])
    assert list(first)[:6] == ["code", "msg", "data", "has_more", "first_id", "last_id"]
    second = listed(sim, made["id"], limit=3, after_id=first["last_id"])
    assert [m["id"] for m in second["data"]] == newest_first[3:6] and second["has_more"] is True
    third = listed(sim, made["id"], limit=3, after_id=second["last_id"])
    assert [m["id"] for m in third["data"]] == newest_first[6:] and third["has_more"] is False
    back = listed(sim, made["id"], limit=2, before_id=second["first_id"])
    assert [m["id"] for m in back["data"]] == newest_first[1:3] and back["has_more"] is True
    ascending = listed(sim, made["id"], order="asc", limit=4, before_id=None, after_id=None)
    assert [m["id"] for m in ascending["data"]] == ids[:4]
    assert [m["id"] for m in listed(sim, made["id"], order="asc", after_id=ascending["last_id"])["data"]] == ids[4:]
    assert listed(sim, made["id"], before_id="0", after_id="")["first_id"] == newest_first[0]  # "0": no cursor
    empty = listed(sim, create(sim)["id"])
    assert (empty["data"], empty["has_more"], empty["first_id"], empty["last_id"]) == ([], False, "", "")
    for body, word in [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"order": "newest"}, "order"),
        ({"before_id": ids[1], "after_id": ids[2]}, "before_id or after_id"),
        ({"after_id": UNKNOWN}, "after_id"),
        ({"before_id": "x"}, "before_id"),
    ]:
        response = sim.request("POST", "/v1/conversation/message/list", headers=AUTH, params=params, json=body)
        refused(response, 4000, word)


def test_deleting_an_answer_removes_it_and_its_intermediates_from_the_chat_too(sim: Sim) -> None:
    """delete_message.md: deleted messages are gone from list_chat_messages too, an answer with its chat's
    function_call, tool_response and verbose messages."""
    made = create(sim, bot_id=WEATHER_BOT)
    body = {"bot_id": WEATHER_BOT, "user_id": "u", "additional_messages": [{"role": "user", "content": "Paris"}]}
    started = data(sim.request("POST", "/v3/chat", headers=AUTH, params={"conversation_id": made["id"]}, json=body))
    ids = {"conversation_id": made["id"], "chat_id": started["id"]}
    calls = data(sim.request("POST", "/v3/chat/retrieve", headers=AUTH, params=ids))["required_action"]
    outputs = [{"tool_call_id": c["id"], "output": "sunny"} for c in calls["submit_tool_outputs"]["tool_calls"]]
    sim.request("POST", "/v3/chat/submit_tool_outputs", headers=AUTH, params=ids, json={"tool_outputs": outputs})
    chat_types = [m["type"] for m in data(sim.request("GET", "/v3/chat/message/list", headers=AUTH, params=ids))]
    assert {"function_call", "tool_response", "answer", "verbose"} <= set(chat_types)
    answer, question = listed(sim, made["id"])["data"]
    params = {"conversation_id": made["id"], "message_id": answer["id"]}
    data(sim.request("POST", "/v1/conversation/message/delete", headers=AUTH, params=params))
    assert data(sim.request("GET", "/v3/chat/message/list", headers=AUTH, params=ids)) == []
    assert [m["id"] for m in listed(sim, made["id"])["data"]] == [question["id"]]


def test_message_list_filters_by_chat(sim: Sim) -> None:
    made = create(sim, bot_id=ECHO_BOT)
    chat(sim, made["id"], "one", bot=ECHO_BOT)
    chat(sim, made["id"], "two", bot=ECHO_BOT)
    chat_id = listed(sim, made["id"])["data"][0]["chat_id"]
    only = listed(sim, made["id"], chat_id=chat_id)["data"]
    assert [m["content"] for m in only][::-1][0] == "two" and len(only) == 2


def test_feedback_rates_answers_only(sim: Sim) -> None:
    made = create(sim, bot_id=ECHO_BOT)
    chat(sim, made["id"], "rate me", bot=ECHO_BOT)
    answer, question = listed(sim, made["id"])["data"]
    path = f"/v1/conversations/{made['id']}/messages/{answer['id']}/feedback"
    given = sim.request("POST", path, headers=AUTH, json={"feedback_type": "like", "reason_types": ["useful"]})
    assert given.json() == {"code": 0, "msg": "", "detail": {"logid": given.headers["x-tt-logid"]}}
    store = sim.app.state.simulator.store
    assert store.conversations[made["id"]].messages.find(answer["id"]).feedback == "like"
    data(sim.request("DELETE", path, headers=AUTH))
    assert store.conversations[made["id"]].messages.find(answer["id"]).feedback is None
    refused(sim.request("POST", path, headers=AUTH, json={"feedback_type": "meh"}), 4000, "feedback_type")
    on_question = f"/v1/conversations/{made['id']}/messages/{question['id']}/feedback"
    refused(sim.request("POST", on_question, headers=AUTH, json={"feedback_type": "unlike"}), 4000, "answer")
    missing = f"/v1/conversations/{made['id']}/messages/{UNKNOWN}/feedback"
    refused(sim.request("DELETE", missing, headers=AUTH), 4200, UNKNOWN)


def test_message_history_is_bounded(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulators.coze import store

    monkeypatch.setattr(store, "MAX_MESSAGES_PER_CONVERSATION", 3)
    made = create(sim)
    params = {"conversation_id": made["id"]}
    for i in range(5):
        data(sim.request("POST", "/v1/conversation/message/create", headers=AUTH, params=params, json=_text(str(i))))
    assert [m["content"] for m in listed(sim, made["id"], order="asc")["data"]] == ["2", "3", "4"]


# --- scoped tokens and the studio profile ------------------------------------------------------------

ECHO_ONLY, WEATHER_ONLY = "conversations-echo-only", "conversations-weather-only"


@pytest.fixture
def scoped() -> Iterator[Sim]:
    tokens = [
        TokenGrant(token=DEFAULT_TOKEN),
        TokenGrant(token=ECHO_ONLY, bots=frozenset({ECHO_BOT})),
        TokenGrant(token=WEATHER_ONLY, bots=frozenset({WEATHER_BOT})),
    ]
    harness = Sim(create_app(config=SimConfig(tokens=tokens)))
    yield harness
    harness.close()


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _filled(
    sim: Sim, method: str, path: str, kwargs: dict[str, Any], conversation_id: str, headers: dict[str, str]
) -> httpx.Response:
    """The request with `{id}` (in the path, the query or the body) standing for `conversation_id`."""
    filled = json.loads(json.dumps(kwargs).replace("{id}", conversation_id))
    return sim.request(method, path.replace("{id}", conversation_id), headers=headers, **filled)


def test_a_scoped_token_sees_another_bots_conversation_as_unknown(scoped: Sim) -> None:
    theirs = create(scoped, _as(WEATHER_ONLY), bot_id=WEATHER_BOT)["id"]
    message = data(
        scoped.request(
            "POST",
            "/v1/conversation/message/create",
            headers=_as(WEATHER_ONLY),
            params={"conversation_id": theirs},
            json=_text("secret"),
        )
    )
    echo = _as(ECHO_ONLY)
    for method, path, kwargs in [
        ("GET", "/v1/conversation/retrieve", {"params": {"conversation_id": "{id}"}}),
        ("PUT", "/v1/conversations/{id}", {"json": {"name": "x"}}),
        ("POST", "/v1/conversations/{id}/clear", {}),
        ("DELETE", "/v1/conversations/{id}", {}),
        ("POST", "/v1/conversation/message/list", {"params": {"conversation_id": "{id}"}, "json": {}}),
        (
            "GET",
            "/v1/conversation/message/retrieve",
            {"params": {"conversation_id": "{id}", "message_id": message["id"]}},
        ),
    ]:
        foreign = _filled(scoped, method, path, kwargs, theirs, echo)
        unknown = _filled(scoped, method, path, kwargs, UNKNOWN, echo)
        assert foreign.status_code == unknown.status_code == 404, (path, foreign.text)
        assert foreign.json()["msg"].replace(theirs, "ID") == unknown.json()["msg"].replace(UNKNOWN, "ID")
    refused(scoped.request("POST", "/v1/conversation/create", headers=echo, json={"bot_id": WEATHER_BOT}), 4101)
    refused(scoped.request("GET", "/v1/conversations", headers=echo, params={"bot_id": WEATHER_BOT}), 4101)
    assert (
        data(scoped.request("GET", "/v1/conversations", headers=echo, params={"bot_id": ECHO_BOT}))["conversations"]
        == []
    )
    # untouched, and the full token still reaches it
    assert listed(scoped, theirs)["data"][0]["content"] == "secret"


def test_a_scoped_token_may_use_a_conversation_it_created_without_a_bot(scoped: Sim) -> None:
    mine = create(scoped, _as(ECHO_ONLY))
    assert mine["creator_id"] != create(scoped, _as(WEATHER_ONLY))["creator_id"]
    assert DEFAULT_TOKEN not in json.dumps(mine) and ECHO_ONLY not in json.dumps(mine)
    params = {"conversation_id": mine["id"]}
    data(scoped.request("GET", "/v1/conversation/retrieve", headers=_as(ECHO_ONLY), params=params))
    refused(scoped.request("GET", "/v1/conversation/retrieve", headers=_as(WEATHER_ONLY), params=params), 4200)


def test_studio_serves_conversations_but_not_the_message_endpoints() -> None:
    studio = Sim(create_app(config=SimConfig(profile="studio")))
    try:
        made = studio.request("POST", "/v1/conversation/create", headers=AUTH, json={}).json()["data"]
        params = {"conversation_id": made["id"]}
        assert studio.request("POST", "/v1/conversation/message/list", headers=AUTH, params=params).json()["code"] == 0
        assert studio.request("POST", f"/v1/conversations/{made['id']}/clear", headers=AUTH).json()["code"] == 0
        for method, path in [
            ("POST", "/v1/conversation/message/create"),
            ("GET", "/v1/conversation/message/retrieve"),
            ("POST", "/v1/conversation/message/modify"),
            ("POST", "/v1/conversation/message/delete"),
            ("POST", f"/v1/conversations/{made['id']}/messages/1/feedback"),
        ]:
            response = studio.request(method, path, headers=AUTH, params=params, json=_text("x"))
            assert (response.status_code, response.text) == (404, "404 page not found"), path
    finally:
        studio.close()


def test_studio_answers_in_coze_studios_own_shapes() -> None:
    """conversation.ConversationData / message.OpenMessageApi struct tags, as each studio handler fills them."""
    studio = Sim(create_app(config=SimConfig(profile="studio")))
    try:
        created = studio.request(
            "POST", "/v1/conversation/create", headers=AUTH, json={"bot_id": ECHO_BOT, "messages": [_text("ignored")]}
        ).json()
        made = created["data"]
        assert list(made) == ["id", "created_at", "meta_data", "connector_id", "last_section_id"]
        assert made["meta_data"] is None and "BaseResp" not in created  # parseExt's nil map; no BaseResp field
        params = {"conversation_id": made["id"]}
        retrieved = studio.request("GET", "/v1/conversation/retrieve", headers=AUTH, params=params).json()
        assert "data" not in retrieved and retrieved["BaseResp"] is None
        assert list(retrieved["ConversationData"]) == [
            *("id", "created_at", "meta_data", "creator_d", "connector_id", "last_section_id", "name"),
        ]
        empty = studio.request("POST", "/v1/conversation/message/list", headers=AUTH, params=params, json={}).json()
        assert empty == {"code": 0, "msg": "", "has_more": False, "first_id": "0", "last_id": "0"}  # no `data`
        chat(studio, made["id"], "hi", bot=ECHO_BOT)
        items = studio.request("POST", "/v1/conversation/message/list", headers=AUTH, params=params, json={}).json()
        assert [m["content"] for m in items["data"]][1] == "hi"  # the create's messages were never saved
        assert items["data"][0]["reasoning_content"] == "" and items["first_id"] == items["data"][0]["id"]
        listing = studio.request("GET", "/v1/conversations", headers=AUTH, params={"bot_id": ECHO_BOT}).json()
        assert list(listing["data"]) == ["conversations", "has_more"] and listing["BaseResp"] is None
        assert listing["data"]["conversations"][0]["name"] == ""
        renamed = studio.request("PUT", f"/v1/conversations/{made['id']}", headers=AUTH, json={"name": "n"}).json()
        assert renamed["data"]["name"] == "n" and renamed["data"]["meta_data"] is None
        cleared = studio.request("POST", f"/v1/conversations/{made['id']}/clear", headers=AUTH).json()
        assert cleared["BaseResp"] is None and cleared["data"]["conversation_id"] == made["id"]
        deleted = studio.request("DELETE", f"/v1/conversations/{made['id']}", headers=AUTH).json()
        assert deleted == {"code": 0, "msg": "", "BaseResp": None}
    finally:
        studio.close()
