"""Choosing the SDK: `report --sdk`, cells that name their SDK, expectations per SDK, and older files read.

None of this needs Node: every refusal here comes before any driver starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.compat import CompatError
from harness.compat.load import load_matrix
from harness.drivers import coze_js
from harness.expect import Expectation, ExpectationError, compare
from harness.matrix import SCHEMA_VERSION, Capability, Cell, Matrix, Mode, Verdict

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "reports" / "capability-matrix.json"


def _schema3(tmp_path: Path) -> Path:
    """The committed matrix as the previous schema wrote it: no SDK on its cells."""
    data = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data["schema_version"] = 3
    for cell in data["cells"]:
        cell.pop("sdk", None)
    path = tmp_path / "old" / "capability-matrix.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_schema_3_matrix_is_read_as_cozepys_and_older_ones_are_refused(tmp_path: Path) -> None:
    old = load_matrix(_schema3(tmp_path))
    assert old.schema_version == SCHEMA_VERSION and {cell.sdk for cell in old.cells} == {"cozepy"}
    assert [c.verdict for c in old.cells] == [c.verdict for c in Matrix.read(json.loads(COMMITTED.read_text())).cells]
    older = tmp_path / "older.json"
    older.write_text(json.dumps({"schema_version": 2, "sdk_version": "0.2.0"}), encoding="utf-8")
    with pytest.raises(CompatError, match="has schema_version 2; this coze-harness reads 3, 4: regenerate it"):
        load_matrix(older)


def test_a_cell_names_its_matrix_sdk_and_may_not_name_another() -> None:
    cell = Cell(capability=Capability.ROUNDS, mode=Mode.CHAT_STREAM, verdict=Verdict.SUPPORTED, reason="r")
    assert Matrix(sdk="coze-js", sdk_version="1.3.9", cells=[cell]).cells[0].sdk == "coze-js"
    foreign = cell.model_copy(update={"sdk": "cozepy"})
    with pytest.raises(ValueError, match="cells of SDK \\['cozepy'\\] in a matrix of 'coze-js'"):
        Matrix(sdk="coze-js", sdk_version="1.3.9", cells=[foreign])


def test_a_schema_2_expectation_is_cozepys_and_a_js_run_is_not_compared_with_it(tmp_path: Path) -> None:
    committed = Expectation.load(ROOT / "reports" / "expected-verdicts.json")
    old = tmp_path / "old.json"
    entry = committed.sdks["cozepy"]
    old.write_text(
        json.dumps({"schema_version": 2, "sdk_version": entry.sdk_version, "verdicts": entry.model_dump()["verdicts"]}),
        encoding="utf-8",
    )
    assert Expectation.load(old).sdks == {"cozepy": entry}
    js = Matrix(sdk="coze-js", sdk_version="1.3.9", platforms=["cloud"])
    with pytest.raises(ExpectationError, match="holds verdicts for cozepy, not for coze-js: add them with"):
        compare(Expectation.load(old), js)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"schema_version": 9, "sdks": {}}), encoding="utf-8")
    with pytest.raises(ExpectationError, match="schema 9; this coze-harness reads schemas 2 and 3"):
        Expectation.load(future)


def test_report_refuses_a_bad_sdk_or_another_sdks_expectation_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--sdk", "cozepy@0.2.0", "--out", str(tmp_path)]) == 2
    assert "report runs the cozepy installed here" in capsys.readouterr().err
    assert main(["report", "--sdk", "rust", "--out", str(tmp_path)]) == 2
    assert "choose cozepy, coze-js or coze-js@VERSION" in capsys.readouterr().err
    assert main(["report", "--sdk", "coze-js@latest", "--out", str(tmp_path)]) == 2
    assert "not an exact @coze/api release" in capsys.readouterr().err
    committed = Expectation.load(ROOT / "reports" / "expected-verdicts.json")
    expect = tmp_path / "cozepy-only.json"
    Expectation(sdks={"cozepy": committed.sdks["cozepy"]}).save(expect)
    assert main(["report", "--sdk", "coze-js", "--expect", str(expect), "--out", str(tmp_path / "out")]) == 2
    assert "holds verdicts for cozepy, not for coze-js" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["cozepy-only.json"]


def test_without_node_report_says_what_is_missing_and_exits_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither node nor npm
    monkeypatch.setenv(coze_js.CACHE_ENV, str(tmp_path / "cache"))
    assert main(["report", "--sdk", "coze-js@1.3.9", "--no-install", "--out", str(tmp_path / "out")]) == 4
    err = capsys.readouterr().err
    assert "node not found on PATH" in err and "apt-get install nodejs npm" in err
    assert not (tmp_path / "out").exists()
