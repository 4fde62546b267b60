"""Workflow scenario files: the built-in catalogue, and mistakes caught at load time with where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.coze import Catalogue, ScenarioFileError, WorkflowScenario
from simulators.coze.scenarios import HttpNode, InputNode, QuestionNode, WaitNode, load_file

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

HEAD = "kind: workflow\nid: '7449000000000000001'\nname: w\ndescription: d\n"


def test_builtin_catalogue_has_the_documented_workflows() -> None:
    workflows = Catalogue.builtin().workflows
    by_name = {w.name: w for w in workflows.values()}
    expected = {
        "7440000000000000001": "joke-workflow",
        "7440000000000000002": "question-workflow",
        "7440000000000000003": "input-workflow",
        "7440000000000000004": "failing-workflow",
        "7440000000000000005": "http-bridge-workflow",
        "7440000000000000006": "echo-chatflow",
        "7440000000000000007": "slow-workflow",
        "7440000000000000008": "timeout-workflow",
        "7440000000000000009": "unpublished-workflow",
        "7440000000000000010": "forecast-workflow",
    }
    assert {i: workflows[i].name for i in expected} == expected
    assert any(isinstance(n, QuestionNode) for n in by_name["question-workflow"].nodes)
    assert any(isinstance(n, InputNode) for n in by_name["input-workflow"].nodes)
    bridge = by_name["http-bridge-workflow"].nodes[0]
    assert isinstance(bridge, HttpNode) and bridge.url == "{{ param.url }}"
    assert by_name["echo-chatflow"].kind == "chatflow"
    assert by_name["slow-workflow"].ping_interval_seconds and isinstance(by_name["slow-workflow"].nodes[0], WaitNode)
    assert not by_name["unpublished-workflow"].published
    assert by_name["timeout-workflow"].time_limit_seconds


def test_node_ids_default_by_position_and_end_is_900001() -> None:
    workflow = Catalogue.builtin().workflows["7440000000000000002"]
    assert [workflow.node_id(i) for i in range(len(workflow.nodes))] == ["100002", "100003", "900001"]


@pytest.mark.parametrize(
    ("nodes", "fragments"),
    [
        ("nodes: []\n", ["at nodes", "at least 1"]),
        ("nodes:\n  - {kind: message, title: M, content: x}\n", ["last node must be of kind 'end' or 'error'"]),
        (
            "nodes:\n  - {kind: end}\n  - {kind: error, title: E, code: 1, message: m}\n",
            ["nodes[0]", "must be the last node"],
        ),
        ("nodes:\n  - {kind: end, output: {a: '{{ param.nope }}'}}\n", ["param.nope", "add it under 'parameters'"]),
        ("nodes:\n  - {kind: end, output: {a: '{{ answer.city }}'}}\n", ["answer.city", "no earlier node"]),
        (
            "nodes:\n  - {kind: http, title: H, url: 'http://x', save_as: r}\n"
            "  - {kind: end, output: {a: '{{ answer.r }}'}}\n",
            ["answer.r", "in 'answer'"],
        ),
        ("nodes:\n  - {kind: end, output: {a: '{{ user }}'}}\n", ["unknown placeholder"]),
        ("nodes:\n  - {kind: http, title: H, url: 'ftp://x', save_as: r}\n  - {kind: end}\n", ["http://"]),
        ("nodes:\n  - {kind: wait, title: W, seconds: 9999}\n  - {kind: end}\n", ["seconds"]),
        (
            "nodes:\n  - {kind: message, title: M, content: x, node_id: '900001'}\n  - {kind: end}\n",
            ["node ids must be unique"],
        ),
        (
            "nodes:\n  - {kind: question, title: Q, question: q, save_as: a}\n"
            "  - {kind: input, title: I, fields: [{name: x}], save_as: a}\n  - {kind: end}\n",
            ["save_as 'a' is already used"],
        ),
        (
            "nodes:\n  - {kind: input, title: I, fields: [{name: x}, {name: x}], save_as: a}\n  - {kind: end}\n",
            ["unique"],
        ),
        ("nodes:\n  - {kind: teleport, title: T}\n  - {kind: end}\n", ["nodes[0]", "teleport"]),
        ("parameters: {n: {type: integer, default: 'five'}}\nnodes:\n  - {kind: end}\n", ["parameters.n", "integer"]),
    ],
)
def test_bad_workflow_file_says_where_and_why(tmp_path: Path, nodes: str, fragments: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + nodes, encoding="utf-8")
    with pytest.raises(ScenarioFileError) as raised:
        load_file(path)
    message = str(raised.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_chatflows_cannot_hold_workflow_event_nodes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        HEAD.replace("kind: workflow", "kind: chatflow")
        + "nodes:\n  - {kind: raw_event, title: R, event: Message, data: {}}\n  - {kind: end}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioFileError, match="chatflows cannot hold raw_event nodes"):
        load_file(path)


def test_a_user_workflow_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        '{"kind": "workflow", "id": "7449000000000000003", "name": "mine", "description": "d",'
        ' "parameters": {"q": {"type": "string"}},'
        ' "nodes": [{"kind": "http", "title": "H", "url": "{{ param.q }}", "save_as": "r"},'
        ' {"kind": "end", "output": {"output": "{{ node.r.answer }}"}}]}',
        encoding="utf-8",
    )
    scenario = load_file(path)
    assert isinstance(scenario, WorkflowScenario) and scenario.parameters["q"].required
    assert Catalogue.load(tmp_path).workflows["7449000000000000003"].name == "mine"
