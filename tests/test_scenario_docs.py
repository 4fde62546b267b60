"""docs/scenarios.md stays in step with the scenario models: every field of every model a scenario file
can hold is described there, in that model's table, and the tables describe no field the models lack."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from simulators.coze.scenarios import BotScenario, WorkflowScenario, _NodeBase

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

DOC = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"
MARKER = re.compile(r"<!-- model: (\w+) -->")
ROW = re.compile(r"^\| `([A-Za-z_]+)` \|", re.M)


def _models() -> list[type[BaseModel]]:
    """Every model reachable from a scenario file's top level, in the order first met."""
    found: list[type[BaseModel]] = []

    def walk(annotation: object) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for field in annotation.model_fields.values():
                    walk(field.annotation)
            return
        for argument in typing.get_args(annotation):
            walk(argument)

    walk(BotScenario)
    walk(WorkflowScenario)
    return found


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    markers = list(MARKER.finditer(text))
    sections: dict[str, str] = {}
    for number, marker in enumerate(markers):
        end = markers[number + 1].start() if number + 1 < len(markers) else len(text)
        assert marker.group(1) not in sections, f"two sections for {marker.group(1)}"
        sections[marker.group(1)] = text[marker.end() : end]
    return sections


def _node_kind(model: type[BaseModel]) -> str:
    (kind,) = typing.get_args(model.model_fields["kind"].annotation)
    return str(kind)


def _documented_fields(model: type[BaseModel]) -> set[str]:
    """The fields the model's own table must hold: a node's table leaves out the common node fields
    (their own table) and `kind` (its heading)."""
    fields = set(model.model_fields)
    if model is not _NodeBase and issubclass(model, _NodeBase):
        fields -= set(_NodeBase.model_fields) | {"kind"}
    return fields


def _expected_models() -> list[type[BaseModel]]:
    return [*_models(), _NodeBase]


def test_every_model_has_a_table_and_every_table_a_model() -> None:
    sections = _sections()
    names = [model.__name__ for model in _expected_models()]
    assert sorted(set(names) - set(sections)) == [], "models with no table in docs/scenarios.md"
    assert sorted(set(sections) - set(names)) == [], "tables in docs/scenarios.md for models that do not exist"


def test_every_field_is_described_in_its_models_table() -> None:
    sections = _sections()
    missing = {}
    stale = {}
    for model in _expected_models():
        rows = set(ROW.findall(sections.get(model.__name__, "")))
        wanted = _documented_fields(model)
        if wanted - rows:
            missing[model.__name__] = sorted(wanted - rows)
        if rows - set(model.model_fields):
            stale[model.__name__] = sorted(rows - set(model.model_fields))
    assert missing == {}, "fields docs/scenarios.md does not describe"
    assert stale == {}, "fields docs/scenarios.md describes that the models do not have"


def test_every_node_kind_has_its_heading() -> None:
    text = DOC.read_text(encoding="utf-8")
    under: dict[str, list[str]] = {}  # a `#### `kind`` heading -> the tables under it
    for chunk in re.split(r"^#{2,4} ", text, flags=re.M)[1:]:
        title = re.match(r"`(\w+)`", chunk)
        if title:
            under[title.group(1)] = MARKER.findall(chunk)
    for model in _models():
        if issubclass(model, _NodeBase):
            kind = _node_kind(model)
            assert model.__name__ in under.get(kind, []), f"no '#### `{kind}`' heading over {model.__name__}'s table"


def test_the_docs_examples_load(tmp_path: Path) -> None:
    """The YAML examples on the page are valid scenario files (ids changed so they load beside the built-ins)."""
    import yaml

    from simulators.coze.scenarios import load_file

    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    files = [block for block in blocks if block.startswith("kind:")]
    assert len(files) >= 2
    for number, block in enumerate(files):
        path = tmp_path / f"example{number}.yaml"
        path.write_text(block, encoding="utf-8")
        assert load_file(path).id == yaml.safe_load(block)["id"]
