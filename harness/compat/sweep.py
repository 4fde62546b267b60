"""`python -m harness.compat.sweep`: run the capability report for every cozepy release on the index.

The list of releases is read from the package index when the sweep runs (PyPI's JSON API, or
`pip index versions` when that is unreachable), from 0.2.0 (the first with chat and workflows) to
the newest, pre-releases and yanked releases left out. Each release runs in a virtual environment
of the httpx line it accepts (CONTRACT.md, "SDK versions that matter"): one venv per line is made
once (the lines' venvs concurrently) and reused, holding the project's dependencies and that httpx.
Each release is installed into a folder of its own beside them (`pip install --target`, `--no-deps`
when the line's venv has its dependencies; uv does the making and installing when it is there, see
`use_installer`), kept for the next sweep, and its report runs with that
folder first on `PYTHONPATH`: releases of one line never share an install, so `--jobs N` runs N
releases at once. The project itself is not installed in those venvs: the report runs from this
source tree (`PYTHONPATH`).

A release that fails to install, times out or writes no matrix becomes a `failure.json` beside its
would-be matrix, which the compatibility report shows as a finding; the sweep goes on. At the end
the per-version matrices are merged into `compatibility.{md,json,html}` (see `harness.compat`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .load import FAILURE_FILE, MATRIX_FILE
from .model import VersionFailure
from .shards import Shard, remove_manifests, write_manifest

ROOT = Path(__file__).resolve().parents[2]
PYPI_JSON = "https://pypi.org/pypi/cozepy/json"
OLDEST = Version("0.2.0")  # the first release with chat and workflows
DEFAULT_TIMEOUT = 300.0
LOG_FILE = "sweep.log"
MAX_DEFAULT_JOBS = 8
INSTALLED = ".coze-harness-installed"  # in a release's install folder once pip finished there


def default_jobs() -> int:
    """The machine's cores, capped: each release's report is one process keeping about one core busy."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def httpx_line(version: Version) -> str:
    """The httpx series a cozepy release accepts (CONTRACT.md): ^0.24 (0.2-0.5), ^0.27 (0.6-0.19), ^0.28 (0.20+)."""
    if version < Version("0.6.0"):
        return "0.24"
    if version < Version("0.20.0"):
        return "0.27"
    return "0.28"


def keep(versions: Sequence[str], oldest: Version = OLDEST) -> list[str]:
    """Releases from `oldest` on, final releases only, sorted oldest first."""
    kept: list[Version] = []
    for text in versions:
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version >= oldest and not version.is_prerelease and not version.is_devrelease:
            kept.append(version)
    return [str(version) for version in sorted(set(kept))]


def _from_pypi() -> list[str]:
    import httpx

    response = httpx.get(PYPI_JSON, timeout=30.0, follow_redirects=True)
    response.raise_for_status()
    releases: dict[str, list[dict[str, object]]] = response.json()["releases"]
    # a release whose every file is yanked is not installable by `==` without a warning: leave it out
    return [name for name, files in releases.items() if files and not all(item.get("yanked") for item in files)]


def _from_pip() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "cozepy"], capture_output=True, text=True, timeout=120
    )
    for line in done.stdout.splitlines():
        if line.strip().startswith("Available versions:"):
            return [part.strip() for part in line.split(":", 1)[1].split(",") if part.strip()]
    raise RuntimeError(f"`pip index versions cozepy` listed no versions: {done.stderr.strip()[-500:]}")


def discover(oldest: Version = OLDEST) -> tuple[list[str], str]:
    """The releases to sweep and where the list came from."""
    try:
        return keep(_from_pypi(), oldest), PYPI_JSON
    except Exception as exc:  # an offline mirror, a proxy: fall back to pip's own index configuration
        print(f"PyPI JSON unavailable ({type(exc).__name__}: {exc}); asking `pip index versions`", file=sys.stderr)
        return keep(_from_pip(), oldest), "pip index versions cozepy"


def _project_dependencies() -> list[str]:
    """The project's own dependencies, cozepy and httpx left out: the sweep pins those per release."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        deps: list[str] = tomllib.loads(text)["project"]["dependencies"]
    else:  # no tomllib: the list is one simple array of strings
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
        deps = re.findall(r'"([^"]+)"', block.group(1)) if block else []
    return [dep for dep in deps if not dep.replace(" ", "").lower().startswith(("cozepy", "httpx"))]


INSTALLERS = ("auto", "uv", "pip")


def find_uv() -> str | None:
    """uv's binary: the `uv` package's (the compat env installs it) or one on PATH; None without either."""
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        found: str = uv.find_uv_bin()
        return found
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


_INSTALLER: dict[str, str | None] = {"uv": None}
"""The uv binary the sweep installs with, or None for pip (`use_installer`)."""


def use_installer(choice: str) -> str:
    """Pick how venvs are made and releases installed, and say which: uv (`uv venv`, `uv pip install`: several
    times faster than pip, which matters most for the three venvs made before the first report) when `choice` is
    `uv`, or `auto` and uv is there; pip otherwise. `uv` without uv is an error, not a quiet fall back to pip."""
    found = find_uv() if choice in ("auto", "uv") else None
    if choice == "uv" and found is None:
        raise SweepError("venv", "--installer uv: uv is not installed (pip install uv), nor on PATH")
    _INSTALLER["uv"] = found
    return f"uv ({found})" if found else "pip"


def _make_venv(venv: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """A venv with pip in it either way: `pip check` tells what a release installed beside it lacks."""
    uv = _INSTALLER["uv"]
    if uv is not None:
        command = [uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)]
    else:
        command = [sys.executable, "-m", "venv", str(venv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _pip(python: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`pip install ARGS` for the venv of `python`, through uv when the sweep uses it."""
    uv = _INSTALLER["uv"]
    if uv is not None:
        command = [uv, "pip", "install", "--python", str(python), *args]
    else:
        command = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", "install", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


class SweepError(Exception):
    """A step of one release failed; its message becomes that release's finding."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def _checked(done: subprocess.CompletedProcess[str], stage: str) -> None:
    if done.returncode != 0:
        raise SweepError(stage, (done.stderr or done.stdout).strip()[-2000:])


_VENV_LOCKS: dict[str, threading.Lock] = {}
_VENV_LOCKS_GUARD = threading.Lock()


def ensure_venv(venvs: Path, line: str, timeout: float) -> Path:
    """The venv of one httpx line, made and given the project's dependencies once, then reused (one
    thread at a time per line: the others wait for it)."""
    with _VENV_LOCKS_GUARD:
        lock = _VENV_LOCKS.setdefault(str(venvs / line), threading.Lock())
    with lock:
        return _ensure_venv(venvs, line, timeout)


def _ensure_venv(venvs: Path, line: str, timeout: float) -> Path:
    venv = venvs / f"httpx-{line}"
    python = venv / "bin" / "python"
    deps = [f"httpx=={line}.*", *_project_dependencies()]
    stamp = venv / ".coze-harness-deps"
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == "\n".join(deps):
        return python
    if not python.exists():
        _checked(_make_venv(venv, timeout), "venv")
    _checked(_pip(python, "--quiet", *deps, timeout=timeout), "install dependencies")
    stamp.write_text("\n".join(deps), encoding="utf-8")
    return python


def release_site(venvs: Path, version: str, line: str) -> Path:
    """The folder one release is installed into (`pip install --target`), put first on its report's path."""
    return venvs / "releases" / f"cozepy-{version}-httpx-{line}"


def _pip_with(site: Path, python: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


class _LineLock:
    """Per httpx line: many releases read its venv at once (install beside it, report), one changes it
    (adds a release's missing dependencies) with no reader running."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0  # writers waiting: new readers wait behind them

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


_LINE_LOCKS: dict[str, _LineLock] = {}


def _line_lock(python: Path) -> _LineLock:
    with _VENV_LOCKS_GUARD:
        return _LINE_LOCKS.setdefault(str(python), _LineLock())


def _missing(site: Path, python: Path, timeout: float) -> list[str]:
    """What `pip check` says the release installed in `site` lacks in its line's venv."""
    check = _pip_with(site, python, "check", timeout=timeout)
    return [row for row in check.stdout.splitlines() if row.lower().startswith("cozepy ")]


def install_cozepy(python: Path, version: str, line: str, timeout: float, site: Path) -> str:
    """Install one release into its own folder `site` (`--no-deps`), beside its line's venv. When the venv
    lacks some of the release's dependencies, they are installed into the venv (the release with them, as
    one release at a time used to be; its own folder comes first on the path), while no report of that line
    runs. A folder a finished install left is reused as it is."""
    if (site / INSTALLED).exists():
        how = f"already in {site}"
    else:
        partial = site.with_name(site.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
        pin = f"cozepy=={version}"
        _checked(_pip(python, "--quiet", "--no-deps", "--target", str(partial), pin, timeout=timeout), "install")
        (partial / INSTALLED).write_text(pin + "\n", encoding="utf-8")
        partial.rename(site)
        how = "--no-deps"
    lock = _line_lock(python)
    with lock.reading():
        missing = _missing(site, python, timeout)
    if not missing:
        return how
    with lock.writing():
        missing = _missing(site, python, timeout)  # another release of the line may have just added them
        if missing:
            _checked(_pip(python, "--quiet", f"cozepy=={version}", f"httpx=={line}.*", timeout=timeout), "install")
            how += "; its dependencies into the venv (" + "; ".join(missing) + ")"
    return how


def run_report(
    python: Path, version: str, folder: Path, timeout: float, site: Path | None = None
) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(site), str(ROOT)] if site is not None else [str(ROOT)])
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [
        str(python),
        "-m",
        "harness.cli",
        "report",
        "--out",
        str(folder),
        "--format",
        "json",
        "--sdk-label",
        f"sdk-{version}",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def summary(path: Path) -> str:
    """A release's matrix in one line: its verdicts counted, and any crash."""
    data = json.loads(path.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for cell in data.get("cells", []):
        counts[cell["verdict"]] = counts.get(cell["verdict"], 0) + 1
    crashes = len(data.get("crashes", []))
    text = ", ".join(f"{count} {verdict}" for verdict, count in sorted(counts.items()))
    return text + (f"; {crashes} probe(s) crashed" if crashes else "")


def sweep_one(version: str, venvs: Path, sdk_root: Path, timeout: float) -> tuple[bool, str]:
    """Install and report one release; on failure write its `failure.json`. Returns (ok, one line)."""
    folder = sdk_root / version
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (MATRIX_FILE, FAILURE_FILE, LOG_FILE):
        (folder / stale).unlink(missing_ok=True)
    line = httpx_line(Version(version))
    deadline = time.monotonic() + timeout
    stage = "venv"
    log: list[str] = []
    try:
        python = ensure_venv(venvs, line, timeout)
        stage = "install"
        site = release_site(venvs, version, line)
        how = install_cozepy(python, version, line, max(1.0, deadline - time.monotonic()), site)
        log.append(f"installed cozepy {version} {how} into {site}, beside {python.parent.parent}")
        stage = "report"
        with _line_lock(python).reading():
            done = run_report(python, version, folder, max(1.0, deadline - time.monotonic()), site)
        log += [done.stdout, done.stderr]
        if not (folder / MATRIX_FILE).exists():
            raise SweepError("report", f"exit {done.returncode}, no {MATRIX_FILE}: {done.stderr.strip()[-2000:]}")
        note = f" (exit {done.returncode})" if done.returncode else ""
        return True, summary(folder / MATRIX_FILE) + note
    except subprocess.TimeoutExpired:
        failure = VersionFailure(version=version, stage=stage, error=f"timed out after {timeout:g} s")
    except SweepError as exc:
        failure = VersionFailure(version=version, stage=exc.stage, error=str(exc))
    except Exception as exc:  # a finding, not an abort: the next release still runs
        failure = VersionFailure(version=version, stage=stage, error=f"{type(exc).__name__}: {exc}")
    finally:
        (folder / LOG_FILE).write_text("\n".join(log), encoding="utf-8")
    failure.httpx = line
    (folder / FAILURE_FILE).write_text(failure.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return False, f"FAILED at {failure.stage}: {failure.error.splitlines()[-1] if failure.error else ''}"


def _prepare_venvs(versions: Sequence[str], venvs: Path, timeout: float, jobs: int) -> None:
    """Make the lines' venvs at once (each is pip-bound for a while): a failure is left for the releases of
    that line to meet again and report as their finding."""

    def make(line: str) -> None:
        with contextlib.suppress(SweepError, OSError, subprocess.SubprocessError):
            ensure_venv(venvs, line, timeout)

    lines = sorted({httpx_line(Version(version)) for version in versions})
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(lines)))) as pool:
        list(pool.map(make, lines))


def sweep_each(
    order: Sequence[str],
    label: str,
    sweep: Callable[[str], tuple[bool, str]],
    jobs: int,
    note: Callable[[str], str] = lambda _version: "",
) -> list[str]:
    """Run `sweep` on each release (oldest first), `jobs` at a time; returns the ones that failed, in that order.
    One sweep of either SDK (`label`: cozepy, coze-js) goes through here.

    Each release writes only its own folder, so the files do not depend on `jobs`; the progress lines are
    whole lines, each naming its release and its place in the order, printed as releases start and end
    (`note`: what to add to a release's first line)."""
    printing = threading.Lock()

    def say(text: str) -> None:
        with printing:
            print(text, flush=True)

    def one(number: int, version: str) -> bool:
        prefix = f"[{number}/{len(order)}] {label} {version}"
        say(f"{prefix}{note(version)} ...")
        begun = time.monotonic()
        ok, line = sweep(version)
        say(f"{prefix} {'done' if ok else 'failed'} in {time.monotonic() - begun:.1f} s: {line}")
        return ok

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, range(1, len(order) + 1), order))
    return [version for version, ok in zip(order, results, strict=True) if not ok]


def sweep_all(order: Sequence[str], venvs: Path, sdk_root: Path, timeout: float, jobs: int) -> list[str]:
    """Sweep the cozepy releases (oldest first), `jobs` at a time (`sweep_each`), each in its httpx line's venv
    (made beforehand, the lines at once, when releases run side by side); returns the ones that failed."""
    if jobs > 1 and order:
        _prepare_venvs(order, venvs, timeout, jobs)
    return sweep_each(
        order,
        "cozepy",
        lambda version: sweep_one(version, venvs, sdk_root, timeout),
        jobs,
        note=lambda version: f" (httpx {httpx_line(Version(version))}.*)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.compat.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="reports", help="reports folder; releases go to OUT/sdk/<version>/")
    parser.add_argument(
        "--venvs", default=".tox/compat-venvs", help="where the per-httpx-line venvs live (default .tox/compat-venvs)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per release (default {DEFAULT_TIMEOUT:g})"
    )
    parser.add_argument("--oldest", default=str(OLDEST), help=f"oldest release to sweep (default {OLDEST})")
    parser.add_argument(
        "--versions",
        default="",
        help="comma-separated releases to sweep instead of asking the index, e.g. 0.2.0,0.20.0",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="FILE",
        help="gate the merge against this baseline (only read, never written: the merge then goes to OUT/sdk)",
    )
    parser.add_argument(
        "--merge-out",
        default=None,
        metavar="DIR",
        help="where to write compatibility.* (default OUT; with --baseline, OUT/sdk); refused if it would "
        "overwrite the baseline",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"releases swept at once (default: the CPU cores, at most {MAX_DEFAULT_JOBS}; 1: one after another)",
    )
    parser.add_argument(
        "--installer",
        choices=INSTALLERS,
        default="auto",
        help="how venvs are made and releases installed: uv (much faster), pip, or auto (the default: uv when the "
        "uv package or binary is there, else pip); the sweep's first line says which",
    )
    parser.add_argument("--no-merge", action="store_true", help="only run the releases; do not write compatibility.*")
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="sweep only shard I of N (1-based; contiguous runs of the releases, oldest first) and do not merge "
        "unless --merge-out says where; `coze-harness compat DIR...` merges the shards' folders",
    )
    return parser


def merge_folder(args: argparse.Namespace) -> Path | None:
    """Where the merge is written: None with `--no-merge`; never the baseline's file (see `refusal`)."""
    if args.no_merge:
        return None
    if args.merge_out is not None:
        return Path(args.merge_out)
    if args.shard is not None:  # one shard alone is not the whole list: merged by `coze-harness compat` later
        return None
    out = Path(args.out)
    return out / "sdk" if args.baseline else out


def release_files(sdk_root: Path, versions: Sequence[str]) -> list[tuple[str, Path]]:
    """Every file the sweep writes for its releases (each release's folder is cleared of them first)."""
    return [
        (f"cozepy {version}", sdk_root / version / name)
        for version in versions
        for name in (MATRIX_FILE, FAILURE_FILE, LOG_FILE)
    ]


def _refuse(message: str) -> int:
    print(f"python -m harness.compat.sweep: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    from .._compat_cli import refusal
    from ..report.paths import clashes

    args = build_parser().parse_args(argv)
    try:
        shard = Shard.parse(args.shard) if args.shard is not None else None
    except ValueError as exc:
        return _refuse(str(exc))
    out = Path(args.out)
    venvs = Path(args.venvs).resolve()
    baseline = Path(args.baseline) if args.baseline else None
    merge_out = merge_folder(args)
    # Checked before anything runs: a sweep takes minutes, and its baseline must survive it.
    refused = refusal(baseline, merge_out, flag="--merge-out")
    if refused:
        return _refuse(
            f"{refused}. Leave --merge-out out (with --baseline the merge goes to {out / 'sdk'}) or give another "
            "folder; to refresh the baseline, sweep without --baseline and commit the result"
        )
    if args.versions:
        versions, source = keep([part.strip() for part in args.versions.split(",")], Version("0")), "--versions"
    else:
        versions, source = discover(Version(args.oldest))
    if not versions:
        print("no cozepy release to sweep", file=sys.stderr)
        return 2
    every = versions = sorted(versions, key=Version)
    if shard is not None:
        versions = shard.take(every)
    overwritten = clashes([("--baseline", baseline)] if baseline else [], release_files(out / "sdk", versions))
    if overwritten:
        return _refuse("refusing to write over the baseline: " + "; ".join(overwritten) + ". Gate a copy of it")
    if shard is not None:
        write_manifest(out / "sdk", shard, every, versions)
        span = f"{versions[0]} .. {versions[-1]}" if versions else "none"
        print(f"shard {shard}: {len(versions)} of {len(every)} cozepy releases ({span}, from {source})", flush=True)
    else:
        remove_manifests(out / "sdk")
        print(f"sweeping {len(versions)} cozepy releases ({versions[0]} .. {versions[-1]}, from {source})", flush=True)
    started = time.monotonic()
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        return _refuse(f"--jobs {jobs}: give 1 or more")
    try:
        print(f"installing with {use_installer(args.installer)}", flush=True)
    except SweepError as exc:
        return _refuse(str(exc))
    failed = sweep_all(sorted(versions, key=Version), venvs, out / "sdk", args.timeout, jobs)
    print(f"swept {len(versions)} releases in {time.monotonic() - started:.0f} s; {len(failed)} failed", flush=True)
    if merge_out is None:
        why = "--no-merge" if args.no_merge else f"shard {shard}: merge the shards with `coze-harness compat DIR...`"
        print(f"releases written to {out / 'sdk'}; not merged ({why})", flush=True)
        return 0
    from .._compat_cli import main as compat_main

    # the other SDK's per-release matrices a sweep of it left under OUT are merged too: one report, a part each
    others = [str(folder) for folder in (out / "coze-js" / "sdk",) if folder.is_dir()]
    compat_args = [str(out / "sdk"), *others, "--out", str(merge_out)]
    if args.baseline:
        compat_args += ["--baseline", args.baseline]
    return compat_main(compat_args)


if __name__ == "__main__":
    sys.exit(main())
