"""Scenario files: the built-in catalogue loads, and a bad file names the file, the place and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.coze import Catalogue, ScenarioFileError
from simulators.coze.scenarios import load_file

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_catalogue_has_the_documented_bots() -> None:
    catalogue = Catalogue.builtin()
    names = {bot.name for bot in catalogue.bots.values()}
    assert {"echo-bot", "weather-bot", "research-bot", "failing-bot"} <= names
    weather = next(b for b in catalogue.bots.values() if b.name == "weather-bot")
    assert len(weather.rounds) == 1 and len(weather.rounds[0].tool_calls) == 2
    research = next(b for b in catalogue.bots.values() if b.name == "research-bot")
    assert len(research.rounds) == 2
    for entry in catalogue.entries():
        assert entry["id"].isdigit() and entry["description"]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "kind: bot\nid: '1'\nname: x\ndescription: d\nanswer: '{{ output.nope }}'\n",
            ["answer", "output.nope", "no output of an earlier tool call"],
        ),
        ("kind: bot\nid: '1'\nname: x\ndescription: d\nanswer: '{{ weird }}'\n", ["unknown placeholder"]),
        ("kind: bot\nid: '1'\nname: x\ndescription: d\n", ["needs an 'answer'"]),
        ("kind: bot\nid: 'abc'\nname: x\ndescription: d\nanswer: a\n", ["at id"]),
        (
            "kind: bot\nid: '1'\nname: x\ndescription: d\nanswer: a\nrounds: [{tool_calls: []}]\n",
            ["at rounds[0].tool_calls"],
        ),
        (
            "kind: bot\nid: '1'\nname: x\ndescription: d\nanswer: a\ncolour: red\n",
            ["at colour", "Extra inputs"],
        ),
        ("kind: robot\nid: '1'\n", ["kind"]),
        ("- just a list\n", ["top level must be a mapping"]),
        ("kind: bot\n  id: [\n", ["cannot read"]),
    ],
)
def test_bad_scenario_file_says_where_and_why(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ScenarioFileError) as raised:
        load_file(path)
    message = str(raised.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_round_two_may_quote_round_one_but_not_the_reverse(tmp_path: Path) -> None:
    good = _write(
        tmp_path,
        "good.yaml",
        """
kind: bot
id: "11"
name: chain
description: d
rounds:
  - tool_calls: [{name: a}]
  - tool_calls: [{name: b, arguments: {x: "{{ output.a }}"}}]
answer: "{{ output.b }}"
""",
    )
    assert load_file(good).rounds[1].tool_calls[0].arguments == {"x": "{{ output.a }}"}
    bad = _write(
        tmp_path,
        "bad.yaml",
        """
kind: bot
id: "12"
name: chain
description: d
rounds:
  - tool_calls: [{name: a, arguments: {x: "{{ output.b }}"}}]
  - tool_calls: [{name: b}]
answer: ok
""",
    )
    with pytest.raises(ScenarioFileError, match=r"output\.b"):
        load_file(bad)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.json"):
        _write(tmp_path, name, '{"kind": "bot", "id": "5", "name": "n", "description": "d", "answer": "a"}')
    with pytest.raises(ScenarioFileError, match="already used by"):
        Catalogue.load(tmp_path)


def test_user_folder_adds_a_bot_by_writing_a_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "mine.yaml",
        "kind: bot\nid: '777'\nname: mine\ndescription: mine\nanswer: 'ok {{ user }}'\n",
    )
    catalogue = Catalogue.load(tmp_path)
    assert list(catalogue.bots) == ["777"]
    assert catalogue.sources["777"].endswith("mine.yaml")


def test_polling_moves_no_id_and_no_timestamp() -> None:
    """Ids and timestamps are seeded; a request that creates nothing (a poll, a refused call) draws neither, so
    what a run creates does not depend on how often its client polled."""
    import httpx

    from simulators.coze import DEFAULT_TOKEN, SimConfig, create_app

    def second_chat(polls: int) -> dict[str, object]:
        transport = httpx.ASGITransport(app=create_app(Catalogue.builtin(), SimConfig()))
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        body = {"bot_id": "7390000000000000001", "user_id": "u", "additional_messages": []}

        async def run() -> dict[str, object]:
            async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers) as client:
                first = (await client.post("/v3/chat", json=body)).json()["data"]
                query = {"conversation_id": first["conversation_id"], "chat_id": first["id"]}
                for _ in range(polls):
                    assert (await client.get("/v3/chat/retrieve", params=query)).status_code == 200
                    await client.get("/v1/bot/get_online_info", params={"bot_id": "0"})  # refused: no such bot
                data: dict[str, object] = (await client.post("/v3/chat", json=body)).json()["data"]
                return data

        import asyncio

        return asyncio.run(run())

    assert second_chat(0) == second_chat(7)
