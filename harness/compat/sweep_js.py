"""`python -m harness.compat.sweep_js`: run the capability report for every @coze/api release on npm.

The JavaScript SDK's counterpart of `harness.compat.sweep`. The releases are read from the npm registry
when the sweep runs (`npm view @coze/api versions`; pre-releases left out), each is installed into the
driver's cache (`harness.drivers.coze_js`, kept for the next sweep) and reported with
`coze-harness report --sdk coze-js@VERSION` in a process of its own, `--jobs` at a time, into
`OUT/coze-js/sdk/<version>/`. A release that fails to install, times out or writes no matrix becomes
a `failure.json` there, shown as a finding; the sweep goes on. At the end every SDK's per-release
matrices under OUT (cozepy's `OUT/sdk`, if a sweep left them, and these) are merged into
`OUT/compatibility.*`, one part per SDK (`coze-harness compat`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..drivers import DriverUnavailable, coze_js
from .load import FAILURE_FILE, MATRIX_FILE
from .model import VersionFailure
from .sweep import LOG_FILE, ROOT, default_jobs, summary, sweep_each

SDK = "coze-js"
DEFAULT_TIMEOUT = 300.0
VIEW_TIMEOUT = 60.0


def sdk_root(out: Path) -> Path:
    """Where the per-release folders go: OUT/coze-js/sdk."""
    return out / SDK / "sdk"


def keep(versions: Sequence[str]) -> list[str]:
    """Releases only (no pre-release, nothing that is not a version), oldest first."""
    kept = []
    for text in versions:
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if not version.is_prerelease and not version.is_devrelease:
            kept.append(text)
    return sorted(set(kept), key=Version)


def discover(timeout: float = VIEW_TIMEOUT) -> list[str]:
    """Every @coze/api release on the registry npm is configured for, asked now."""
    tools = coze_js.find_node(need_npm=True)
    assert tools.npm is not None
    argv = [tools.npm, "view", coze_js.PACKAGE, "versions", "--json"]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise DriverUnavailable(f"`npm view {coze_js.PACKAGE} versions` did not answer within {timeout:g} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise DriverUnavailable(f"`npm view {coze_js.PACKAGE} versions` failed: {' '.join(tail)}")
    try:
        found = json.loads(done.stdout)
    except ValueError as exc:
        raise DriverUnavailable(f"`npm view {coze_js.PACKAGE} versions` printed no JSON list: {exc}") from exc
    return keep([found] if isinstance(found, str) else [str(item) for item in found])


def report_command(version: str, folder: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "harness.cli",
        "report",
        "--sdk",
        f"{SDK}@{version}",
        "--no-install",
        "--out",
        str(folder),
        "--format",
        "json",
        "--sdk-label",
        f"{SDK}-{version}",
        "--quiet",
    ]


def sweep_one(version: str, root: Path, timeout: float) -> tuple[bool, str]:
    """Install and report one release; on failure write its `failure.json`. Returns (ok, one line)."""
    folder = root / version
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (MATRIX_FILE, FAILURE_FILE, LOG_FILE):
        (folder / stale).unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    stage = "install"
    log: list[str] = []
    try:
        prefix = coze_js.install(version, timeout=timeout)
        log.append(f"@coze/api {version} in {prefix}")
        stage = "report"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(
            report_command(version, folder),
            capture_output=True,
            text=True,
            timeout=max(1.0, deadline - time.monotonic()),
            cwd=ROOT,
            env=env,
            check=False,
        )
        log += [done.stdout, done.stderr]
        if not (folder / MATRIX_FILE).exists():
            raise DriverUnavailable(f"exit {done.returncode}, no {MATRIX_FILE}: {done.stderr.strip()[-2000:]}")
        note = f" (exit {done.returncode})" if done.returncode else ""
        return True, summary(folder / MATRIX_FILE) + note
    except subprocess.TimeoutExpired:
        failure = VersionFailure(version=version, sdk=SDK, stage=stage, error=f"timed out after {timeout:g} s")
    except DriverUnavailable as exc:
        failure = VersionFailure(version=version, sdk=SDK, stage=stage, error=str(exc))
    except Exception as exc:  # a finding, not an abort: the next release still runs
        failure = VersionFailure(version=version, sdk=SDK, stage=stage, error=f"{type(exc).__name__}: {exc}")
    finally:
        (folder / LOG_FILE).write_text("\n".join(log), encoding="utf-8")
    (folder / FAILURE_FILE).write_text(failure.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return False, f"FAILED at {failure.stage}: {failure.error.splitlines()[-1] if failure.error else ''}"


def sweep_all(order: Sequence[str], root: Path, timeout: float, jobs: int) -> list[str]:
    """Sweep the releases (oldest first), `jobs` at a time (`sweep_each`); returns the ones that failed."""
    return sweep_each(order, SDK, lambda version: sweep_one(version, root, timeout), jobs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.compat.sweep_js", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="reports", help="reports folder; releases go to OUT/coze-js/sdk/<version>/")
    parser.add_argument(
        "--versions", default="", help="comma-separated releases to sweep instead of asking npm, e.g. 1.0.4,1.3.9"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per release (default {DEFAULT_TIMEOUT:g})"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N", help="releases swept at once (default: the CPU cores, at most 8)"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="FILE",
        help="gate the merge against this coze-js baseline (compatibility-coze-js.json; only read, never written: "
        "the merge then goes to OUT/coze-js/sdk)",
    )
    parser.add_argument("--no-merge", action="store_true", help="only run the releases; do not write compatibility.*")
    return parser


def _refuse(message: str) -> int:
    print(f"python -m harness.compat.sweep_js: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    from .._compat_cli import main as compat_main
    from .._compat_cli import refusal

    args = build_parser().parse_args(argv)
    out = Path(args.out)
    root = sdk_root(out)
    baseline = Path(args.baseline) if args.baseline else None
    merge_out = None if args.no_merge else (root if baseline is not None else out)
    refused = refusal(baseline, merge_out)
    if refused:
        return _refuse(f"{refused}; to refresh the baseline, sweep without --baseline and commit the result")
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        return _refuse(f"--jobs {jobs}: give 1 or more")
    try:
        coze_js.find_node(need_npm=not args.versions)  # npm is asked for the list; a cached release needs none
        if args.versions:
            versions, source = keep([part.strip() for part in args.versions.split(",") if part.strip()]), "--versions"
        else:
            versions, source = discover(), "npm"
    except DriverUnavailable as exc:
        return _refuse(str(exc))
    if not versions:
        return _refuse(f"no {coze_js.PACKAGE} release to sweep")
    print(f"sweeping {len(versions)} {SDK} releases ({versions[0]} .. {versions[-1]}, from {source})", flush=True)
    started = time.monotonic()
    failed = sweep_all(versions, root, args.timeout, jobs)
    print(f"swept {len(versions)} releases in {time.monotonic() - started:.0f} s; {len(failed)} failed", flush=True)
    if merge_out is None:
        print(f"releases written to {root}; not merged (--no-merge)", flush=True)
        return 0
    folders = [str(folder) for folder in (out / "sdk", root) if folder.is_dir()]
    compat_args = [*folders, "--out", str(merge_out)]
    if baseline is not None:
        compat_args += ["--baseline", str(baseline)]
    return compat_main(compat_args)


if __name__ == "__main__":
    sys.exit(main())
