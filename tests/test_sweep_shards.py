"""Sweep shards: `python -m harness.compat.sweep --shard I/N` runs a disjoint share of the releases and writes
only its share (and a manifest); `coze-harness compat DIR...` merges the shards' folders and refuses a set of
shards that does not add up. The releases are faked (no venv, no install, no probe): SYNTHETIC matrices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.compat import sweep
from harness.compat.load import MATRIX_FILE
from harness.compat.shards import Shard
from harness.matrix import Capability, Cell, Matrix, Mode, Verdict

RELEASES = ["0.2.0", "0.5.0", "0.6.0", "0.12.0", "0.16.2", "0.19.0", "0.20.0"]


def _fake_release(version: str, venvs: Path, sdk_root: Path, timeout: float) -> tuple[bool, str]:
    folder = sdk_root / version
    folder.mkdir(parents=True, exist_ok=True)
    cell = Cell(capability=Capability.LOCAL_CODE, mode=Mode.CHAT_STREAM, verdict=Verdict.SUPPORTED, reason="SYNTHETIC")
    matrix = Matrix(sdk_version=version, sdk_label=f"SYNTHETIC {version}", cells=[cell])
    (folder / MATRIX_FILE).write_text(matrix.model_dump_json(indent=2), encoding="utf-8")
    return True, "SYNTHETIC"


@pytest.fixture(autouse=True)
def faked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "sweep_one", _fake_release)


def _shard(out: Path, shard: str, *extra: str) -> int:
    return sweep.main(["--out", str(out), "--versions", ",".join(RELEASES), "--shard", shard, *extra])


def _released(out: Path) -> list[str]:
    return sorted((p.name for p in (out / "sdk").iterdir() if (p / MATRIX_FILE).exists()), key=sweep.Version)


def test_shards_are_disjoint_contiguous_and_cover_every_release() -> None:
    for count in range(1, len(RELEASES) + 3):
        shares = [Shard(index, count).take(RELEASES) for index in range(1, count + 1)]
        assert [v for share in shares for v in share] == RELEASES  # disjoint, complete, in order
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert Shard.parse("2/3").take(RELEASES) == ["0.6.0", "0.12.0"]
    for bad in ("0/3", "4/3", "3", "a/b", "1/0"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_a_shard_sweeps_only_its_share_and_does_not_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shard(tmp_path, "1/3") == 0
    assert _released(tmp_path) == ["0.2.0", "0.5.0"]
    assert (tmp_path / "sdk" / "sweep-shard-1-of-3.json").exists()
    assert not list(tmp_path.rglob("compatibility.*"))
    assert "not merged (shard 1/3" in capsys.readouterr().out
    assert sweep.main(["--shard", "4/3", "--versions", "0.2.0", "--out", str(tmp_path)]) == 2


def test_compat_merges_the_shards_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folders = [tmp_path / f"shard-{index}" for index in (1, 2, 3)]
    for index, folder in enumerate(folders, start=1):
        assert _shard(folder, f"{index}/3") == 0
    capsys.readouterr()
    out = tmp_path / "merged"
    assert main(["compat", *(str(folder / "sdk") for folder in folders), "--out", str(out)]) == 0
    assert "(3 shard(s) of 3, 7 releases)" in capsys.readouterr().out
    merged = json.loads((out / "compatibility.json").read_text(encoding="utf-8"))
    assert [column["version"] for column in merged["versions"]] == RELEASES


def test_shards_writing_into_one_folder_merge_from_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shard(tmp_path, "2/2") == 0
    merge_out = tmp_path / "merged"
    assert _shard(tmp_path, "1/2", "--merge-out", str(merge_out)) == 0  # the last shard to finish merges
    assert _released(tmp_path) == RELEASES
    assert "(2 shard(s) of 2, 7 releases)" in capsys.readouterr().out
    assert (merge_out / "compatibility.json").exists()


def _three_shards(tmp_path: Path) -> list[Path]:
    folders = [tmp_path / f"shard-{index}" for index in (1, 2, 3)]
    for index, folder in enumerate(folders, start=1):
        assert _shard(folder, f"{index}/3") == 0
    return [folder / "sdk" for folder in folders]


def _refused(args: list[Path], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["compat", *map(str, args), "--no-write"]) == 2
    return capsys.readouterr().err


def test_a_missing_shard_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two, _ = _three_shards(tmp_path)
    assert "shard(s) missing: 3/3 (cozepy 0.16.2, 0.19.0, 0.20.0)" in _refused([one, two], capsys)


def test_a_shard_given_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two, three = _three_shards(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(two, copy)
    err = _refused([one, two, three, copy], capsys)
    assert "two results for cozepy 0.12.0" in err and str(copy) in err  # the same release from two folders
    (copy / "0.6.0" / MATRIX_FILE).unlink()
    (copy / "0.12.0" / MATRIX_FILE).unlink()
    assert "shard 2/3 is given twice" in _refused([one, two, three, copy], capsys)


def test_a_release_missing_from_its_shard_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two, three = _three_shards(tmp_path)
    (two / "0.12.0" / MATRIX_FILE).unlink()
    assert "no result for cozepy 0.12.0 (shard 2/3)" in _refused([one, two, three], capsys)


def test_shards_cut_from_different_lists_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two, _ = _three_shards(tmp_path)
    other = tmp_path / "other"
    assert sweep.main(["--out", str(other), "--versions", ",".join(RELEASES[:-1]), "--shard", "3/3"]) == 0
    assert "cut from different release lists" in _refused([one, two, other / "sdk"], capsys)


def test_a_result_no_shard_swept_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two, three = _three_shards(tmp_path)
    _fake_release("0.21.0", tmp_path, three, 1.0)
    assert "result(s) for cozepy 0.21.0, which no shard swept" in _refused([one, two, three], capsys)


def test_a_whole_sweep_clears_stale_shard_manifests(tmp_path: Path) -> None:
    assert _shard(tmp_path, "1/3") == 0
    assert sweep.main(["--out", str(tmp_path), "--versions", ",".join(RELEASES), "--no-merge"]) == 0
    assert not list((tmp_path / "sdk").glob("sweep-shard-*"))
    assert main(["compat", str(tmp_path / "sdk"), "--no-write"]) == 0


def test_jobs_run_releases_at_once_with_the_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two releases must be in flight together to pass the barrier (one after another, it breaks)."""
    import threading

    barrier = threading.Barrier(2, timeout=10)

    def together(version: str, venvs: Path, sdk_root: Path, timeout: float) -> tuple[bool, str]:
        barrier.wait()
        return _fake_release(version, venvs, sdk_root, timeout)

    monkeypatch.setattr(sweep, "sweep_one", together)
    monkeypatch.setattr(sweep, "_prepare_venvs", lambda *args: None)
    argv = ["--versions", "0.6.0,0.20.0", "--no-merge"]
    assert sweep.main(["--out", str(tmp_path / "two"), "--jobs", "2", *argv]) == 0
    monkeypatch.setattr(sweep, "sweep_one", _fake_release)
    assert sweep.main(["--out", str(tmp_path / "one"), "--jobs", "1", *argv]) == 0
    for version in ("0.6.0", "0.20.0"):
        two = json.loads((tmp_path / "two" / "sdk" / version / MATRIX_FILE).read_text(encoding="utf-8"))
        one = json.loads((tmp_path / "one" / "sdk" / version / MATRIX_FILE).read_text(encoding="utf-8"))
        assert {**two, "generated_at": None} == {**one, "generated_at": None}
    assert sweep.main(["--out", str(tmp_path), "--jobs", "0", *argv]) == 2


def test_failures_are_listed_in_release_order_whatever_finishes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_some(version: str, venvs: Path, sdk_root: Path, timeout: float) -> tuple[bool, str]:
        return version in ("0.2.0", "0.16.2"), "SYNTHETIC"

    monkeypatch.setattr(sweep, "sweep_one", fail_some)
    monkeypatch.setattr(sweep, "_prepare_venvs", lambda *args: None)
    failed = sweep.sweep_all(RELEASES, tmp_path, tmp_path / "sdk", 1.0, jobs=3)
    assert failed == [v for v in RELEASES if v not in ("0.2.0", "0.16.2")]


def test_a_release_is_installed_into_its_own_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    calls: list[tuple[str, ...]] = []
    venv_has: set[str] = set()

    def pip(python: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if "--target" not in args:
            venv_has.add("distro")
        else:
            target = Path(args[args.index("--target") + 1])
            (target / "cozepy").mkdir(parents=True)
        return subprocess.CompletedProcess(args, 0, "", "")

    def check(site: Path, python: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        missing = "" if "distro" in venv_has else "cozepy 0.6.0 requires distro"
        return subprocess.CompletedProcess(args, 0, missing, "")

    monkeypatch.setattr(sweep, "_pip", pip)
    monkeypatch.setattr(sweep, "_pip_with", check)
    site = sweep.release_site(tmp_path, "0.6.0", "0.27")
    how = sweep.install_cozepy(tmp_path / "python", "0.6.0", "0.27", 5.0, site)
    assert (site / "cozepy").is_dir() and "dependencies into the venv" in how
    assert [c for c in calls if "--target" in c] and [c for c in calls if "httpx==0.27.*" in c and "--target" not in c]
    calls.clear()
    assert "already in" in sweep.install_cozepy(tmp_path / "python", "0.6.0", "0.27", 5.0, site)
    assert calls == []  # reused: no pip at all


def test_the_installer_is_uv_when_there_and_an_asked_for_uv_that_is_missing_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import subprocess

    monkeypatch.setitem(sweep._INSTALLER, "uv", None)  # put back whatever the test chooses
    ran: list[list[str]] = []

    def run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(sweep.subprocess, "run", run)
    monkeypatch.setattr(sweep, "find_uv", lambda: "/opt/uv/bin/uv")
    assert sweep.use_installer("auto") == "uv (/opt/uv/bin/uv)"
    sweep._make_venv(Path("/v/httpx-0.27"), timeout=5.0)
    sweep._pip(Path("/v/httpx-0.27/bin/python"), "--quiet", "--no-deps", "--target", "/t", "cozepy==0.6.0", timeout=5.0)
    assert ran[0][:3] == ["/opt/uv/bin/uv", "venv", "--quiet"] and "--seed" in ran[0]  # pip kept for `pip check`
    assert ran[1][:5] == ["/opt/uv/bin/uv", "pip", "install", "--python", "/v/httpx-0.27/bin/python"]
    assert ran[1][5:] == ["--quiet", "--no-deps", "--target", "/t", "cozepy==0.6.0"]

    assert sweep.use_installer("pip") == "pip"
    sweep._pip(Path("/v/httpx-0.27/bin/python"), "--quiet", "cozepy==0.6.0", timeout=5.0)
    assert ran[2][:3] == ["/v/httpx-0.27/bin/python", "-m", "pip"]
    assert ran[2][-3:] == ["install", "--quiet", "cozepy==0.6.0"]

    monkeypatch.setattr(sweep, "find_uv", lambda: None)
    assert sweep.use_installer("auto") == "pip"
    with pytest.raises(sweep.SweepError, match="uv is not installed"):
        sweep.use_installer("uv")
    assert sweep.main(["--out", str(tmp_path), "--versions", "0.6.0", "--installer", "uv"]) == 2
    assert not (tmp_path / "sdk" / "0.6.0").exists()  # refused before any release ran
