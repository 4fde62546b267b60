"""`coze-harness compat DIR`: merge per-release capability matrices into the compatibility report.

Kept apart from cli.py, like the bridge's and the cassettes' commands; cli.py only registers it.

Exit statuses: 0 written (and no cell got worse than in `--baseline`), 1 a cell got worse than in the
baseline (each one is printed), 2 a usage problem (a missing folder, no matrices, a file of another
schema version, an unreadable baseline).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_compat(args: argparse.Namespace) -> int:
    from .compat import CompatError, gate, load_compatibility, load_dir, merge, write_compatibility
    from .compat.markdown import span

    try:
        baseline = load_compatibility(Path(args.baseline)) if args.baseline else None
        loaded = load_dir(Path(args.dir))
    except CompatError as exc:
        _err(f"coze-harness compat: {exc}")
        return EXIT_USAGE
    compat = merge(loaded)
    print(f"merged {span(compat)} from {args.dir}")
    for item in compat.regressions:
        print(
            f"regression: {item.name}: {item.before.value} in {item.previous} -> {item.after.value} in {item.version}"
        )
    for row, change in compat.framing_regressions:
        print(f"regression: {row.name}: {change.before} in {change.previous} -> {change.after} in {change.version}")
    for finding in compat.findings:
        print(f"finding: cozepy {finding.version}: {finding.kind}: {finding.detail}")
    print(f"{len(compat.contract_changes)} request change(s) between consecutive releases")
    # The gate reads the baseline before the new files are written, so `--out` may overwrite it.
    failures = gate(baseline, compat) if baseline is not None else []
    if not args.no_write:
        for path in write_compatibility(compat, Path(args.out)):
            print(f"wrote {path}")
    if baseline is None:
        return EXIT_OK
    if failures:
        _err(f"{len(failures)} cell(s) got worse than in {args.baseline}:")
        for failure in failures:
            _err(f"  {failure.line()}")
        return EXIT_REGRESSION
    _err(f"no cell got worse than in {args.baseline}")
    return EXIT_OK


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a folder with one sub-folder per release (e.g. reports/sdk)")
    parser.add_argument(
        "--out", default="reports", help="where to write compatibility.{md,json,html} (default reports)"
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="a committed compatibility.json: exit 1 naming every cell that got worse for the same release "
        "or for the newest release",
    )
    parser.add_argument("--no-write", action="store_true", help="only merge and gate; write no files")
    parser.set_defaults(func=_cmd_compat)


def add_compat_command(commands: Any) -> None:
    """Register `compat` on the `coze-harness` subcommands."""
    compat = commands.add_parser(
        "compat",
        help="merge per-release capability matrices into compatibility.{md,json,html}; gate on a baseline",
        description="Merge DIR/<version>/capability-matrix.json (from tox or `python -m harness.compat.sweep`) "
        "into one cross-version report. Exit 0 ok, 1 a cell got worse than in --baseline, 2 usage error.",
    )
    _configure(compat)


def main(argv: Sequence[str] | None = None) -> int:
    """`coze-harness compat` on its own (what the sweep calls at its end)."""
    parser = argparse.ArgumentParser(prog="coze-harness compat")
    _configure(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code
