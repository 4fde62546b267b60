"""`coze-harness compat DIR...`: merge per-release capability matrices into the compatibility report.

Kept apart from cli.py, like the bridge's and the cassettes' commands; cli.py only registers it.

Exit statuses: 0 written (and no cell got worse than in `--baseline`), 1 a cell got worse than in the
baseline (each one is printed), 2 a usage problem (a missing folder, no matrices, a file of another
schema version, an unreadable baseline, an output that is the baseline).

The command never writes over the baseline it gates against: with `--baseline` and no `--out`, the
merge is written beside the per-release matrices (into DIR), and an `--out` whose files would be the
baseline is refused before anything runs. Refreshing the committed baseline is a merge without
`--baseline`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2
DEFAULT_OUT = "reports"


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def out_folder(args: argparse.Namespace) -> Path:
    """Where the merge goes: `--out`; by default `reports`, or the (first) DIR itself when gating on a baseline."""
    if args.out is not None:
        return Path(args.out)
    return Path(args.dir[0]) if args.baseline else Path(DEFAULT_OUT)


def refusal(
    baseline: Path | None, out: Path | None, inputs: list[Path] | None = None, flag: str = "--out"
) -> str | None:
    """Why writing the merge into `out` would destroy what this run reads (None: it would not)."""
    from .compat.write import file_names
    from .drivers import SDKS
    from .report.paths import clashes

    if out is None:
        return None
    reads = [("--baseline", baseline)] if baseline is not None else []
    reads += [("the matrix", path) for path in inputs or []]
    found = clashes(reads, [(flag, out / name) for name in file_names(SDKS)])
    return "refusing to write over a file this run reads: " + "; ".join(found) if found else None


ADVICE = (
    "Gate without writing (--no-write) or write the merge elsewhere (--out DIR, e.g. DIR itself, the folder of "
    "the per-release matrices); to refresh the baseline, merge without --baseline and commit the result"
)


def _cmd_compat(args: argparse.Namespace) -> int:
    from .compat import CompatError, gate, load_compatibility, write_compatibility
    from .compat.load import load_dirs
    from .compat.markdown import span
    from .compat.merge import merge_by_sdk
    from .compat.shards import check_shards
    from .compat.write import json_name, kept_parts

    baseline_path = Path(args.baseline) if args.baseline else None
    out = None if args.no_write else out_folder(args)
    refused = refusal(baseline_path, out)
    if refused:
        _err(f"coze-harness compat: {refused}. {ADVICE}")
        return EXIT_USAGE
    try:
        baseline = load_compatibility(baseline_path) if baseline_path is not None else None
        folders = [Path(folder) for folder in args.dir]
        loaded = load_dirs(folders)
        shards = check_shards(folders, loaded)
    except CompatError as exc:
        _err(f"coze-harness compat: {exc}")
        return EXIT_USAGE
    refused = refusal(None, out, [item.source for item in loaded])
    if refused:
        _err(f"coze-harness compat: {refused}. Write the merge elsewhere (--out DIR)")
        return EXIT_USAGE
    compats = merge_by_sdk(loaded)
    sources = " ".join(args.dir) + (f" ({shards})" if shards else "")
    print(f"merged {'; '.join(f'{compat.sdk} {span(compat)}' for compat in compats)} from {sources}")
    for compat in compats:
        _print_merge(compat)
    failures = []
    if baseline is not None:
        gated = next((compat for compat in compats if compat.sdk == baseline.sdk), None)
        if gated is None:
            _err(
                f"coze-harness compat: {args.baseline} is {baseline.sdk}'s baseline, and this merge holds no "
                f"{baseline.sdk} release; give the folder of its per-release matrices"
            )
            return EXIT_USAGE
        failures = gate(baseline, gated)
    if out is not None:
        kept = kept_parts(out, [compat.sdk for compat in compats])
        for compat in kept:
            print(
                f"kept {compat.sdk}'s part as {out / json_name(compat.sdk)} has it ({span(compat)}; "
                f"no {compat.sdk} matrix given)"
            )
        ordered = sorted([*compats, *kept], key=lambda compat: (compat.sdk != "cozepy", compat.sdk))
        for path in write_compatibility(ordered, out):
            print(f"wrote {path}")
    where = f"the merged report is in {out}" if out is not None else "no file written (--no-write)"
    if baseline is None:
        return EXIT_OK
    if failures:
        _err(f"{len(failures)} cell(s) got worse than in {args.baseline}:")
        for failure in failures:
            _err(f"  {failure.line()}")
        _err(f"{args.baseline} is unchanged; {where}")
        return EXIT_REGRESSION
    _err(f"no cell got worse than in {args.baseline} (unchanged); {where}")
    return EXIT_OK


def _print_merge(compat: Any) -> None:
    """One SDK's regressions, findings and request changes, a line each."""
    for item in compat.regressions:
        print(
            f"regression: {compat.sdk} {item.name}: {item.before.value} in {item.previous} -> {item.after.value} "
            f"in {item.version}"
        )
    for row, change in compat.framing_regressions:
        print(
            f"regression: {compat.sdk} {row.name}: {change.before} in {change.previous} -> {change.after} "
            f"in {change.version}"
        )
    for finding in compat.findings:
        print(f"finding: {compat.sdk} {finding.version}: {finding.kind}: {finding.detail}")
    print(f"{compat.sdk}: {len(compat.contract_changes)} request change(s) between consecutive releases")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir",
        metavar="DIR",
        nargs="+",
        help="a folder with one sub-folder per release (e.g. reports/sdk); several folders (the sweep shards') "
        "are merged as one, a release found twice or a shard missing is refused",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="where to write compatibility.{md,json,html} (default reports; with --baseline, the first DIR); "
        "an --out whose files would be the baseline is refused",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="a committed compatibility.json: exit 1 naming every cell that got worse for the same release "
        "or for the newest release; it is only read, never written",
    )
    parser.add_argument("--no-write", action="store_true", help="only merge and gate; write no files")
    parser.set_defaults(func=_cmd_compat)


def add_compat_command(commands: Any) -> None:
    """Register `compat` on the `coze-harness` subcommands."""
    compat = commands.add_parser(
        "compat",
        help="merge per-release capability matrices into compatibility.{md,json,html}; gate on a baseline",
        description="Merge DIR/<version>/capability-matrix.json (from tox or `python -m harness.compat.sweep`, "
        "one folder or the shards' folders) into one cross-version report. "
        "Exit 0 ok, 1 a cell got worse than in --baseline, 2 usage error.",
    )
    _configure(compat)


def main(argv: Sequence[str] | None = None) -> int:
    """`coze-harness compat` on its own (what the sweep calls at its end)."""
    parser = argparse.ArgumentParser(prog="coze-harness compat")
    _configure(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code
