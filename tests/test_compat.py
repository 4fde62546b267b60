"""The cross-version compatibility report: merge, regressions, the baseline gate, request contracts.

One real report of the installed cozepy is made once per module (`coze-harness report`). The other
"releases" in these tests are SYNTHETIC: copies of that real matrix given a made-up version number
(0.0.1, 100.0.0) and one deliberately degraded cell or request, each labelled `SYNTHETIC` in its
`sdk_label`. They exercise the merge logic; the real cross-release data comes from the sweep.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness import sdk
from harness.cli import main
from harness.compat import CompatError, gate, load_compatibility, load_dir, merge, sweep, write_compatibility
from harness.compat.contracts import shapes, template_path
from harness.compat.load import FAILURE_FILE, MATRIX_FILE
from harness.compat.model import VersionFailure
from harness.matrix import Capability, Matrix, Mode, Verdict
from simulators.coze import DEFAULT_TOKEN, PLATFORMS

pytestmark = pytest.mark.e2e

OLDER, NEWER, FAILED = "0.0.1", "100.0.0", "99.0.0"  # synthetic version numbers, never real releases
DEGRADED = (Capability.LOCAL_CODE, Mode.WORKFLOW_BRIDGE)  # workaround on every release that has workflows


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The installed cozepy's real capability matrix, as `coze-harness report --format json` wrote it."""
    out = tmp_path_factory.mktemp("real")
    assert main(["report", "--out", str(out), "--format", "json", "--sdk-label", "installed"]) == 0
    data: dict[str, Any] = json.loads((out / MATRIX_FILE).read_text(encoding="utf-8"))
    return data


def _write(root: Path, data: dict[str, Any]) -> Path:
    folder = root / data["sdk_version"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MATRIX_FILE).write_text(json.dumps(data), encoding="utf-8")
    return folder


def synthetic(real: dict[str, Any], version: str, note: str, verdict: Verdict | None = None) -> dict[str, Any]:
    """A SYNTHETIC release: the real matrix under a made-up version, with the DEGRADED cell set to `verdict`."""
    data: dict[str, Any] = json.loads(json.dumps(real))
    data["sdk_version"] = version
    data["sdk_label"] = f"SYNTHETIC {version}: copy of cozepy {real['sdk_version']}; {note}"
    if verdict is not None:
        for cell in data["cells"]:
            if (cell["capability"], cell["mode"], cell["platform"]) == (DEGRADED[0].value, DEGRADED[1].value, "cloud"):
                cell["verdict"] = verdict.value
                cell["reason"] = f"SYNTHETIC: degraded to {verdict.value} by the test"
    return data


def _exchanges(data: dict[str, Any], flow: str) -> list[dict[str, Any]]:
    exchanges: list[dict[str, Any]] = data["evidence"][flow]["exchanges"]
    return exchanges


@pytest.fixture
def degraded_cell_is_available(real: dict[str, Any]) -> None:
    verdict = Matrix.model_validate(real).cell(*DEGRADED)
    if verdict is None or verdict.verdict not in (Verdict.SUPPORTED, Verdict.WORKAROUND):
        pytest.skip(f"{DEGRADED[1].value} / {DEGRADED[0].value} is not available with cozepy {sdk.version()}")


@pytest.fixture
def three(tmp_path: Path, real: dict[str, Any], degraded_cell_is_available: None) -> Path:
    """0.0.1 (SYNTHETIC, cell absent) < the real installed release < 100.0.0 (SYNTHETIC, cell broken)."""
    root = tmp_path / "sdk"
    _write(root, real)
    _write(root, synthetic(real, OLDER, "bridge cell set to absent", Verdict.ABSENT))
    _write(root, synthetic(real, NEWER, "bridge cell set to broken", Verdict.BROKEN))
    return root


def test_merge_sorts_releases_as_versions_and_tracks_first_appearance_and_changes(three: Path) -> None:
    compat = merge(load_dir(three))
    real_version = sdk.version()
    assert compat.version_names == [OLDER, real_version, NEWER]
    assert compat.versions[-1].label.startswith("SYNTHETIC")
    assert len(compat.rows) == len(Capability) * len(Mode) * len(PLATFORMS)  # a row per platform
    row = compat.row(*DEGRADED)
    assert row is not None
    assert row.first_appeared == real_version
    assert [(c.previous, c.version, c.before, c.after, c.regression) for c in row.changes] == [
        (OLDER, real_version, Verdict.ABSENT, row.cells[real_version].verdict, False),
        (real_version, NEWER, row.cells[real_version].verdict, Verdict.BROKEN, True),
    ]
    # every other row is the same in all three: no change, no regression
    assert [(r.name, r.version) for r in compat.regressions] == [(row.name, NEWER)]
    assert all(not other.changes for other in compat.rows if other is not row)


def test_the_same_results_merged_from_another_folder_give_the_same_report(three: Path, tmp_path: Path) -> None:
    """Was: each column named its file by absolute path (`/tmp/...`), so a refresh from another checkout or
    temporary folder changed the committed compatibility.json even where no verdict did."""
    elsewhere = tmp_path / "elsewhere" / "sdk"
    shutil.copytree(three, elsewhere)
    here, there = merge(load_dir(three)), merge(load_dir(elsewhere))
    assert [column.source for column in here.versions] == [column.source for column in there.versions]
    assert all(column.source == f"{column.version}/{MATRIX_FILE}" for column in here.versions if not column.failure)
    assert str(three) not in here.model_dump_json()


def test_reports_put_regressions_first_and_html_is_self_contained(three: Path, tmp_path: Path) -> None:
    compat = merge(load_dir(three))
    written = write_compatibility(compat, tmp_path / "out")
    assert [path.name for path in written] == ["compatibility.md", "compatibility.json", "compatibility.html"]
    markdown = written[0].read_text(encoding="utf-8")
    assert markdown.index("## Regressions") < markdown.index("## Verdicts by release")
    assert "| cloud: workflow-bridge / local-code-reachable | " + sdk.version() + f" | {NEWER} |" in markdown
    html = written[2].read_text(encoding="utf-8")
    assert html.index("Regressions (1)") < html.index("Verdicts by release")
    assert 'class="regression"' in html and "SYNTHETIC: degraded to broken" in html
    assert "<script" not in html and "<link" not in html and "src=" not in html  # self-contained
    assert load_compatibility(written[1]).model_dump() == compat.model_dump()
    assert DEFAULT_TOKEN not in written[1].read_text(encoding="utf-8")


def test_baseline_gate_names_the_cell_that_got_worse_in_the_newest_release(
    tmp_path: Path, real: dict[str, Any], degraded_cell_is_available: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tmp_path / "before"
    _write(before, real)
    assert main(["compat", str(before), "--out", str(tmp_path / "baseline")]) == 0
    baseline = tmp_path / "baseline" / "compatibility.json"

    after = tmp_path / "after"
    _write(after, real)
    _write(after, synthetic(real, NEWER, "bridge cell set to broken", Verdict.BROKEN))
    capsys.readouterr()
    assert main(["compat", str(after), "--out", str(tmp_path / "new"), "--baseline", str(baseline)]) == 1
    err = capsys.readouterr().err
    assert "1 cell(s) got worse" in err
    assert f"cloud: workflow-bridge / local-code-reachable at cozepy {NEWER} (newest)" in err
    assert "now broken" in err
    # the same merge gated against itself passes
    again = tmp_path / "new" / "compatibility.json"
    assert main(["compat", str(after), "--no-write", "--baseline", str(again)]) == 0


def test_baseline_gate_fails_when_the_same_release_got_worse(
    tmp_path: Path, real: dict[str, Any], degraded_cell_is_available: None
) -> None:
    good = tmp_path / "good"
    _write(good, real)
    baseline = merge(load_dir(good))
    worse = tmp_path / "worse"
    data = json.loads(json.dumps(real))
    degraded = (DEGRADED[0].value, DEGRADED[1].value, "cloud")
    data["cells"] = [c for c in data["cells"] if (c["capability"], c["mode"], c["platform"]) != degraded]
    _write(worse, data)  # the cell has no verdict at all now: ranks below every verdict
    [failure] = gate(baseline, merge(load_dir(worse)))
    assert failure.cell == f"cloud: {DEGRADED[1].value} / {DEGRADED[0].value}" and failure.version == sdk.version()
    assert failure.after is None and "no verdict" in failure.line()


def test_a_deliberately_broken_simulator_fails_the_gate(
    tmp_path: Path, real: dict[str, Any], request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """A simulator whose requires_action event loses `required_action`: the real report turns the chat
    cells broken, and the gate against the healthy baseline exits 1 naming them."""
    if sdk.tool_call_gap() is not None:
        pytest.skip(f"the chat cells are not supported to begin with: {sdk.tool_call_gap()}")
    healthy = tmp_path / "healthy"
    _write(healthy, real)
    assert main(["compat", str(healthy), "--out", str(tmp_path / "baseline")]) == 0

    request.getfixturevalue("without_required_action")
    broken = tmp_path / "broken"
    version = sdk.version()
    assert main(["report", "--out", str(broken / version), "--format", "json", "--sdk-label", "broken-sim"]) == 0
    capsys.readouterr()
    baseline = str(tmp_path / "baseline" / "compatibility.json")
    assert main(["compat", str(broken), "--no-write", "--baseline", baseline]) == 1
    err = capsys.readouterr().err
    assert f"chat-stream / local-code-reachable at cozepy {version}: baseline supported, now broken" in err
    assert "workflow-bridge" not in err


def test_request_contracts_keep_shapes_not_values_and_diff_consecutive_releases(
    tmp_path: Path, real: dict[str, Any]
) -> None:
    matrix = Matrix.model_validate(real)
    found = {shape.key: shape for shape in shapes(matrix)}
    run = found[("workflow-run", "/v1/workflow/run")]
    assert run.methods == ["POST"] and "workflow_id" in run.body_keys
    assert run.headers["authorization"] == "present" and run.headers["user-agent"] == "cozepy"
    assert run.headers["content-type"] == "application/json"
    assert template_path("/v1/workflows/7440000000000000002/run_histories/7448910954954924836") == (
        "/v1/workflows/{id}/run_histories/{id}"
    )

    newer = synthetic(real, NEWER, "workflow-run request given an extra body key")
    for exchange in _exchanges(newer, "workflow-run"):
        body = json.loads(exchange["request_body"])
        body["synthetic_key"] = None
        exchange["request_body"] = json.dumps(body)
    root = tmp_path / "sdk"
    _write(root, real)
    _write(root, newer)
    compat = merge(load_dir(root))
    [change] = compat.contract_changes
    assert (change.flow, change.path, change.kind, change.version) == (
        "workflow-run",
        "/v1/workflow/run",
        "changed",
        NEWER,
    )
    assert change.details == ["body +synthetic_key", "null in body +synthetic_key"]
    assert "synthetic_key" in write_compatibility(compat, tmp_path / "out")[0].read_text(encoding="utf-8")


def test_a_rejected_request_and_a_failed_release_are_findings_not_crashes(
    tmp_path: Path, real: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    newer = synthetic(real, NEWER, "workflow-run answered with a 4000 envelope")
    exchange = _exchanges(newer, "workflow-run")[0]
    exchange["status"] = 400
    exchange["response_headers"]["content-type"] = "application/json"
    exchange["response_body"] = json.dumps({"code": 4000, "msg": "SYNTHETIC: workflow_id is required"})
    root = tmp_path / "sdk"
    _write(root, real)
    _write(root, newer)
    (root / FAILED).mkdir()
    failure = VersionFailure(version=FAILED, stage="install", error="SYNTHETIC: no matching distribution")
    (root / FAILED / FAILURE_FILE).write_text(failure.model_dump_json(), encoding="utf-8")

    assert main(["compat", str(root), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert (
        f"finding: cozepy {NEWER}: request-rejected: workflow-run: POST /v1/workflow/run was refused (code 4000)" in out
    )
    assert f"finding: cozepy {FAILED}: release-failed" in out
    compat = load_compatibility(tmp_path / "out" / "compatibility.json")
    assert compat.version_names == [sdk.version(), FAILED, NEWER]  # 99 < 100 as versions, not as strings
    # only the synthetic one: a release whose real run was refused (0.10-0.13 resume) brings its own
    assert [r.code for r in compat.rejections if r.msg.startswith("SYNTHETIC")] == [4000]
    assert {r.version for r in compat.rejections if r.msg.startswith("SYNTHETIC")} == {NEWER}
    row = compat.row(*DEGRADED)
    assert row is not None and row.cells[FAILED].verdict is None and not row.changes  # no verdict is no change
    assert "release-failed" in (tmp_path / "out" / "compatibility.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such folder"),
        ("empty", "no capability-matrix.json under"),
        ("old-schema", "has schema_version 1; this coze-harness reads"),
        ("not-json", "not readable JSON"),
    ],
)
def test_clear_usage_errors_exit_2(
    tmp_path: Path, real: dict[str, Any], setup: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sdk"
    if setup != "missing":
        root.mkdir()
    if setup == "old-schema":
        _write(root, {**real, "schema_version": 1})
    if setup == "not-json":
        (root / "0.2.0").mkdir()
        (root / "0.2.0" / MATRIX_FILE).write_text("{not json", encoding="utf-8")
    assert main(["compat", str(root), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coze-harness compat: ") and message in err
    assert not (tmp_path / "out").exists()


def test_unusable_baselines_are_usage_errors(
    tmp_path: Path, real: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sdk"
    _write(root, real)
    assert main(["compat", str(root), "--no-write", "--baseline", str(tmp_path / "nope.json")]) == 2
    assert "no such baseline file" in capsys.readouterr().err
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema_version": 0}), encoding="utf-8")
    assert main(["compat", str(root), "--no-write", "--baseline", str(old)]) == 2
    assert "regenerate the baseline" in capsys.readouterr().err
    with pytest.raises(CompatError, match="two results for cozepy"):
        shutil.copytree(root / sdk.version(), root / "copy")
        load_dir(root)


def test_sweep_keeps_final_releases_from_the_oldest_and_picks_httpx_per_release() -> None:
    listed = ["0.1.0", "0.10.0", "0.2.0", "0.20.0", "0.21.0rc1", "0.9.1", "0.6.0", "0.5.0", "nonsense", "0.19.0"]
    assert sweep.keep(listed) == ["0.2.0", "0.5.0", "0.6.0", "0.9.1", "0.10.0", "0.19.0", "0.20.0"]
    lines = {
        version: sweep.httpx_line(sweep.Version(version)) for version in ["0.2.0", "0.5.0", "0.6.0", "0.19.0", "0.20.0"]
    }
    assert lines == {"0.2.0": "0.24", "0.5.0": "0.24", "0.6.0": "0.27", "0.19.0": "0.27", "0.20.0": "0.28"}


def test_a_release_that_fails_in_the_sweep_becomes_a_failure_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_venv(venvs: Path, line: str, timeout: float) -> Path:
        raise sweep.SweepError("venv", "SYNTHETIC: venv creation failed")

    monkeypatch.setattr(sweep, "ensure_venv", no_venv)
    ok, line = sweep.sweep_one("0.2.0", tmp_path / "venvs", tmp_path / "sdk", timeout=5)
    assert not ok and "FAILED at venv" in line
    [loaded] = load_dir(tmp_path / "sdk")
    assert loaded.failure is not None and loaded.failure.httpx == "0.24" and loaded.matrix is None


def test_a_cell_per_release_and_platform(tmp_path: Path, real: dict[str, Any]) -> None:
    """The same release on both platforms: bot chat's local-code row per platform, with its own verdict."""
    _write(tmp_path, real)
    compat = merge(load_dir(tmp_path))
    assert compat.platforms == ["cloud", "studio"]
    cloud = compat.verdict(Capability.LOCAL_CODE, Mode.CHAT_STREAM, sdk.version(), "cloud")
    studio = compat.verdict(Capability.LOCAL_CODE, Mode.CHAT_STREAM, sdk.version(), "studio")
    assert studio is Verdict.ABSENT  # the studio server never sends a tool call, whatever the release
    if sdk.tool_call_gap() is None:
        assert cloud is Verdict.SUPPORTED
    markdown = write_compatibility(compat, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert "### bot chat (stream) (`chat-stream`) on open-source Coze server (coze-studio)" in markdown
    assert not any(r.flow.startswith("studio/") for r in compat.rejections)  # studio's 404s are not the release's


def _framing_outcome(data: dict[str, Any], variant: str, stream: str) -> dict[str, Any]:
    return next(r for r in data["framing"] if (r["variant"], r["stream"]) == (variant, stream))


def test_framing_robustness_per_release_and_its_regressions_fail_the_gate(
    tmp_path: Path, real: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each release's framing results become one row per (variant, stream); a release that reads a variant
    worse than the one before is a regression in the report and fails the gate."""
    survived = next((r for r in real["framing"] if r["outcome"] == "survives" and r["variant"] != "canonical"), None)
    if survived is None:
        pytest.skip(f"cozepy {sdk.version()} survives no framing variant")
    variant, stream = survived["variant"], survived["stream"]
    newer = synthetic(real, NEWER, f"framing {stream}/{variant} set to fails")
    degraded = _framing_outcome(newer, variant, stream)
    degraded.update(outcome="fails", error="SYNTHETIC: the SDK raised, by the test")
    root = tmp_path / "sdk"
    _write(root, real)
    assert main(["compat", str(root), "--out", str(tmp_path / "baseline")]) == 0
    _write(root, newer)

    compat = merge(load_dir(root))
    row = compat.framing_row(variant, stream)
    assert row is not None and row.first_survived == sdk.version()
    assert {(r.variant, r.stream) for r in compat.framing} == {(r["variant"], r["stream"]) for r in real["framing"]}
    assert [(c.previous, c.version, c.before, c.after, c.regression) for c in row.changes] == [
        (sdk.version(), NEWER, "survives", "fails", True)
    ]
    assert [(r.name, c.version) for r, c in compat.framing_regressions] == [(f"framing: {stream} / {variant}", NEWER)]
    markdown = write_compatibility(compat, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert markdown.index("## Regressions") < markdown.index("## Framing robustness by release")
    assert f"| framing: {stream} / {variant} | {sdk.version()} | {NEWER} | survives → **fails** |" in markdown
    assert f"| {stream} | {variant} | {sdk.version()} | {NEWER} (survives → fails) | ok | F |" in markdown
    html = (tmp_path / "out" / "compatibility.html").read_text(encoding="utf-8")
    assert "Framing robustness by release" in html and "SYNTHETIC: the SDK raised, by the test" in html

    capsys.readouterr()
    baseline = str(tmp_path / "baseline" / "compatibility.json")
    assert main(["compat", str(root), "--no-write", "--baseline", baseline]) == 1
    err = capsys.readouterr().err
    assert f"framing: {stream} / {variant} at cozepy {NEWER} (newest) vs baseline cozepy {sdk.version()}" in err
    assert "baseline survives, now fails" in err


def test_a_merge_of_one_sdk_keeps_the_other_sdks_part_already_in_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cozepy sweep in a fresh checkout has no @coze/api matrix at hand: the report keeps @coze/api's part
    (from its JSON in the folder) instead of dropping it."""
    reports = Path(__file__).resolve().parents[1] / "reports"
    release = tmp_path / "sdk" / "0.20.0"
    release.mkdir(parents=True)
    shutil.copy(reports / "capability-matrix.json", release / "capability-matrix.json")
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(reports / "compatibility-coze-js.json", out / "compatibility-coze-js.json")
    assert main(["compat", str(tmp_path / "sdk"), "--out", str(out)]) == 0
    assert "kept coze-js's part" in capsys.readouterr().out
    markdown = (out / "compatibility.md").read_text(encoding="utf-8")
    assert "## cozepy compatibility: 0.20.0" in markdown and "## coze-js compatibility: 1.0.4 .. 1.3.9" in markdown
    assert (out / "compatibility-coze-js.json").read_bytes() == (reports / "compatibility-coze-js.json").read_bytes()
    (out / "compatibility-coze-js.json").write_text('{"schema_version": 1}', encoding="utf-8")
    assert main(["compat", str(tmp_path / "sdk"), "--out", str(out)]) == 0
    assert "not keeping coze-js's part" in capsys.readouterr().err
    assert "coze-js" not in (out / "compatibility.md").read_text(encoding="utf-8")
