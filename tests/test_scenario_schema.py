"""The scenario files' JSON Schema and `coze-harness scenario validate | schema` (issue 22, "Writing scenarios")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.cli import main
from simulators.coze import Catalogue
from simulators.coze.scenario_schema import REGENERATE, SCHEMA_PATH, render
from simulators.coze.scenario_schema import main as schema_main
from simulators.coze.scenarios import BUILTIN_DIR

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(
    path
    for folder in (BUILTIN_DIR, ROOT / "examples" / "scenarios")
    for path in folder.iterdir()
    if path.suffix in (".yaml", ".yml", ".json")
)
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _raw(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def test_the_shipped_schema_is_what_the_models_generate() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), f"stale schema: regenerate it with `{REGENERATE}`"
    assert schema_main(["--check"]) == 0


def test_the_check_catches_a_stale_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "scenario.schema.json"
    stale.write_text(render().replace('"chunk_size"', '"chunk_sizes"'), encoding="utf-8")
    assert schema_main(["--check", "--out", str(stale)]) == 1
    assert REGENERATE in capsys.readouterr().err


def test_the_schema_ships_as_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    package_data = re.search(r"^\[tool\.setuptools\.package-data\]\nsimulators = \[(.*)\]$", pyproject, re.M)
    assert SCHEMA_PATH.parent.name == "simulators"
    assert package_data and '"scenario.schema.json"' in package_data.group(1)


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_every_shipped_scenario_file_matches_the_schema(path: Path) -> None:
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in _validator().iter_errors(_raw(path))]
    assert errors == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"nodes": [{"kind": "teleport", "title": "x"}]}, "teleport"),
        ({"nodes": [{"kind": "end", "title": "End", "outputs": {}}]}, "outputs"),
        ({"colour": "red"}, "colour"),
        ({"id": "0123"}, "0123"),
        ({"nodes": [{"kind": "wait", "title": "w", "seconds": 0}]}, "0"),
    ],
    ids=["unknown-node-kind", "unknown-node-field", "unknown-top-level-field", "bad-id", "out-of-bounds"],
)
def test_the_schema_rejects_what_the_loader_rejects(change: dict[str, object], expected: str) -> None:
    workflow = {"kind": "workflow", "id": "7440000000000000999", "name": "w", "description": "d"}
    workflow["nodes"] = [{"kind": "end", "title": "End"}]
    document = {**workflow, **change}
    assert not _validator().is_valid(workflow | {"nodes": "not a list"})
    errors = list(_validator().iter_errors(document))
    assert errors and any(expected in error.message or expected in str(error.instance) for error in errors)


def test_the_editor_line_points_at_the_shipped_schema_and_leaves_loading_alone() -> None:
    carrying = []
    for path in SHIPPED:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        match = SCHEMA_LINE.match(first)
        if match:
            assert (path.parent / match.group(1)).resolve() == SCHEMA_PATH
            carrying.append(path.name)
    assert {"weather_bot.yaml", "question_workflow.yaml", "draft_workflow.yaml"} <= set(carrying)
    assert "7390000000000000002" in Catalogue.builtin().bots


def test_scenario_schema_prints_the_shipped_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["scenario", "schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_PATH.read_text(encoding="utf-8")
    out = tmp_path / "schema.json"
    assert main(["scenario", "schema", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()


# --- scenario validate -------------------------------------------------------------------------------


def test_validate_passes_every_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "validate", str(BUILTIN_DIR), str(ROOT / "examples" / "scenarios")]) == 0
    out = capsys.readouterr().out
    assert "ok  " in out and "weather-bot" in out and "draft-workflow" in out


BAD_WORKFLOW = """\
kind: workflow
id: "7440000000000009999"
name: bad
description: a question whose answer is quoted under the wrong name
nodes:
  - kind: question
    title: Ask
    question: "Topic?"
    save_as: topic
  - kind: message
    title: Say
    content: "About {{ answer.nope }}"
  - kind: end
"""

BAD_BOT = """\
kind: bot
id: "7390000000000009999"
name: bad-bot
description: two mistakes at once
chunk_size: 0
answer: "hi"
rounds:
  - tool_calls: []
"""


def test_validate_prints_one_line_per_problem_with_file_and_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow, bot = tmp_path / "workflow.yaml", tmp_path / "bot.yaml"
    workflow.write_text(BAD_WORKFLOW, encoding="utf-8")
    bot.write_text(BAD_BOT, encoding="utf-8")
    good = BUILTIN_DIR / "echo_bot.yaml"
    assert main(["scenario", "validate", str(workflow), str(bot), str(good), str(tmp_path / "missing.yaml")]) == 2
    captured = capsys.readouterr()
    problems = [line for line in captured.out.splitlines() if not line.startswith("ok  ")]
    assert problems == [
        f"{tmp_path / 'missing.yaml'}: no such file",
        f"{workflow}: at (top level): Value error, nodes[1] (message): '{{{{ answer.nope }}}}' names no earlier node "
        "saved as 'nope' in 'answer'",
        f"{bot}: at rounds[0].tool_calls: List should have at least 1 item after validation, not 0",
        f"{bot}: at chunk_size: Input should be greater than 0",
    ]
    assert f"ok  {good}: bot echo-bot" in captured.out
    assert "4 problem(s); 1 file(s) valid" in captured.err


def test_validate_finds_an_id_the_builtin_catalogue_already_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clash = tmp_path / "clash.yaml"
    clash.write_text((BUILTIN_DIR / "echo_bot.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["scenario", "validate", "-q", str(clash)]) == 2
    assert capsys.readouterr().out.strip() == (
        f"{clash}: at id: 7390000000000000001 is already used by {(BUILTIN_DIR / 'echo_bot.yaml').resolve()}"
    )
    assert main(["scenario", "validate", "-q", "--no-builtin", str(clash)]) == 0


def test_validate_reports_unreadable_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: bot\nid: [unclosed\n", encoding="utf-8")
    assert main(["scenario", "validate", str(broken)]) == 2
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{broken}: cannot read:") and "line 2" in line
