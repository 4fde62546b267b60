"""No command writes over a file it reads as a baseline or an expectation, and each says where it wrote.

`coze-harness compat --baseline`, `python -m harness.compat.sweep --baseline` (what `tox -e compat`
runs) and `coze-harness report --expect` each read a committed file and write files of their own.
When an output would be the file they read (however the path is spelt), they refuse with exit 2
before running anything, and the file they read is left byte for byte as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.compat import sweep
from harness.compat.load import MATRIX_FILE
from harness.expect import Expectation
from harness.matrix import Capability, Cell, Matrix, Mode, Verdict
from harness.report.paths import clashes, same_file

# SYNTHETIC matrices: made-up cells, enough for the merge and the gate; no probe runs in this file.
RELEASES = ("0.6.0", "0.20.0")


def _matrix(version: str, verdict: Verdict = Verdict.SUPPORTED) -> Matrix:
    return Matrix(
        sdk_version=version,
        sdk_label=f"SYNTHETIC {version}",
        cells=[Cell(capability=Capability.LOCAL_CODE, mode=Mode.CHAT_STREAM, verdict=verdict, reason="SYNTHETIC")],
    )


def _releases(root: Path, verdict: Verdict = Verdict.SUPPORTED) -> Path:
    for version in RELEASES:
        folder = root / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MATRIX_FILE).write_text(_matrix(version, verdict).model_dump_json(indent=2), encoding="utf-8")
    return root


@pytest.fixture
def committed(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A reports folder as the repository has it: per-release matrices and a committed baseline merged from them."""
    reports = tmp_path / "reports"
    sdk_dir = _releases(reports / "sdk")
    assert main(["compat", str(sdk_dir), "--out", str(reports)]) == 0
    baseline = reports / "compatibility.json"
    return reports, sdk_dir, baseline.read_bytes()


def test_same_file_sees_through_spellings_and_links(tmp_path: Path) -> None:
    target = tmp_path / "a" / "compatibility.json"
    target.parent.mkdir()
    target.write_text("{}", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    os.link(target, tmp_path / "hard.json")
    assert same_file(target, tmp_path / "a" / ".." / "a" / "compatibility.json")
    assert same_file(target, tmp_path / "link" / "compatibility.json")
    assert same_file(target, tmp_path / "hard.json")
    assert same_file(tmp_path / "new" / "x.json", tmp_path / "new" / "." / "x.json")  # neither exists yet
    assert not same_file(target, tmp_path / "a" / "compatibility.md")
    assert clashes([("--baseline", target)], [("--out", tmp_path / "hard.json")]) == [
        f"--baseline {target} is also where --out would write ({tmp_path / 'hard.json'})"
    ]


def test_the_readme_gate_with_out_reports_is_refused_and_the_baseline_survives(
    committed: tuple[Path, Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's data loss: one release in reports/sdk, `--out reports --baseline reports/compatibility.json`."""
    reports, _, before = committed
    one = _releases(tmp_path / "one-release")
    (one / RELEASES[0] / MATRIX_FILE).unlink()
    capsys.readouterr()
    spellings = [reports / "compatibility.json", reports / ".." / "reports" / "compatibility.json"]
    (tmp_path / "linked").symlink_to(reports)
    spellings.append(tmp_path / "linked" / "compatibility.json")
    for baseline in spellings:
        assert main(["compat", str(one), "--out", str(reports), "--baseline", str(baseline)]) == 2
        err = capsys.readouterr().err
        assert "refusing to write over a file this run reads" in err
        assert "--no-write" in err and "--out DIR" in err
        assert (reports / "compatibility.json").read_bytes() == before
    assert sorted(path.name for path in reports.iterdir()) == [
        "compatibility.html",
        "compatibility.json",
        "compatibility.md",
        "sdk",
    ]


def test_the_gate_writes_beside_the_matrices_by_default_and_says_where(
    committed: tuple[Path, Path, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    reports, sdk_dir, before = committed
    capsys.readouterr()
    assert main(["compat", str(sdk_dir), "--baseline", str(reports / "compatibility.json")]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {sdk_dir / 'compatibility.json'}" in out
    assert f"the merged report is in {sdk_dir}" in err and "(unchanged)" in err
    assert (reports / "compatibility.json").read_bytes() == before
    assert main(["compat", str(sdk_dir), "--no-write", "--baseline", str(reports / "compatibility.json")]) == 0
    out, err = capsys.readouterr()
    assert "wrote" not in out and "no file written (--no-write)" in err
    assert (reports / "compatibility.json").read_bytes() == before


def test_a_failing_gate_also_leaves_the_baseline_and_says_where_it_wrote(
    committed: tuple[Path, Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, _, before = committed
    worse = _releases(tmp_path / "worse", Verdict.BROKEN)
    capsys.readouterr()
    gate_out = tmp_path / "gate"
    argv = ["compat", str(worse), "--out", str(gate_out), "--baseline", str(reports / "compatibility.json")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "baseline supported, now broken" in err and f"the merged report is in {gate_out}" in err
    assert (reports / "compatibility.json").read_bytes() == before
    assert (gate_out / "compatibility.json").exists()


def test_refreshing_the_baseline_without_gating_still_works(committed: tuple[Path, Path, bytes]) -> None:
    reports, sdk_dir, _ = committed
    assert main(["compat", str(sdk_dir), "--out", str(reports)]) == 0  # no --baseline: nothing is read


def test_the_sweep_refuses_before_running_anything(
    committed: tuple[Path, Path, bytes], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, _, before = committed

    def must_not_run(*args: object, **kwargs: object) -> tuple[bool, str]:
        raise AssertionError("the sweep ran a release although it was going to overwrite its baseline")

    monkeypatch.setattr(sweep, "sweep_one", must_not_run)
    baseline = str(reports / "compatibility.json")
    common = ["--out", str(reports), "--versions", "0.20.0", "--baseline"]
    assert sweep.main([*common, baseline, "--merge-out", str(reports)]) == 2
    err = capsys.readouterr().err
    assert "refusing to write over a file this run reads" in err and "--merge-out" in err
    release_file = str(reports / "sdk" / "0.20.0" / MATRIX_FILE)
    assert sweep.main([*common, release_file]) == 2
    assert "refusing to write over the baseline" in capsys.readouterr().err
    assert (reports / "compatibility.json").read_bytes() == before


def test_the_sweep_with_a_baseline_merges_into_the_release_folder(
    committed: tuple[Path, Path, bytes], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tox -e compat -- --versions 0.6.0,0.20.0 --baseline reports/compatibility.json`, the releases faked."""
    reports, sdk_dir, before = committed

    def fake_release(version: str, venvs: Path, sdk_root: Path, timeout: float) -> tuple[bool, str]:
        folder = sdk_root / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MATRIX_FILE).write_text(_matrix(version).model_dump_json(indent=2), encoding="utf-8")
        return True, "SYNTHETIC"

    monkeypatch.setattr(sweep, "sweep_one", fake_release)
    argv = ["--out", str(reports), "--versions", ",".join(RELEASES), "--baseline", str(reports / "compatibility.json")]
    assert sweep.main(argv) == 0
    out, err = capsys.readouterr()
    assert f"wrote {sdk_dir / 'compatibility.json'}" in out and f"the merged report is in {sdk_dir}" in err
    assert (reports / "compatibility.json").read_bytes() == before
    assert sweep.main(["--out", str(reports), "--versions", "0.20.0", "--no-merge"]) == 0
    assert "not merged (--no-merge)" in capsys.readouterr().out


def test_report_never_writes_over_its_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = tmp_path / "expected-verdicts.json"
    Expectation.of(_matrix("0.20.0")).save(expect)
    before = expect.read_bytes()
    (tmp_path / "alias").symlink_to(tmp_path)
    cases = [
        ["--expect", str(expect), "--save-expect", str(expect)],
        ["--expect", str(expect), "--save-expect", str(tmp_path / "alias" / expect.name)],
        ["--expect", str(expect), "--save-expect", str(tmp_path / "." / expect.name)],
    ]
    for options in cases:
        assert main(["report", "--probe", "chat-stream", "--out", str(tmp_path / "out"), *options]) == 2
        err = capsys.readouterr().err
        assert "refusing to write over a file this run reads" in err and "--save-expect" in err
        assert "[1/" not in err  # refused before any probe ran
        assert expect.read_bytes() == before
    assert not (tmp_path / "out").exists()


def test_report_refuses_an_expectation_saved_over_a_report_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--out", str(tmp_path), "--save-expect", str(tmp_path / "junit.xml")]) == 2
    assert "--out" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
