"""The `coze-harness` command."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from simulators.coze import (
    BUILTIN_DIR,
    DEFAULT_TOKEN,
    PLATFORMS,
    Catalogue,
    ScenarioFileError,
)

DESCRIPTION = """\
A contract-test and simulation harness for the Coze open API. It runs a fake Coze server that speaks
the API on the wire (chat v3 with local-plugin tool calls, workflows, chatflows, websocket chat; the
cloud platform or the open-source coze-studio server), drives the installed cozepy SDK (or a release of
the JavaScript SDK, @coze/api, in Node) against it, and reports what that SDK can do: a capability
matrix with the evidence behind every verdict.

Main commands: `report` (the capability matrix for the installed cozepy, or `--sdk coze-js@VERSION`),
`drive` (one flow with one SDK), `serve` (run the fake server),
`catalogue` (the bots and workflows it serves), `scenario validate` (check scenario files), `bridge serve`
(local tools over HTTP for workflows), `record` / `verify-sim` (cassettes), `compat` (merge releases).
"""


def catalogue_of(args: argparse.Namespace) -> Catalogue:
    folders = [] if args.no_builtin else [BUILTIN_DIR]
    folders += [Path(folder) for folder in args.scenarios]
    if not folders:
        raise ScenarioFileError("--no-builtin needs at least one --scenarios DIR")
    return Catalogue.load(*folders)


def add_catalogue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenarios",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of scenario files (YAML or JSON) to serve besides the built-in ones; repeatable",
    )
    parser.add_argument("--no-builtin", action="store_true", help="serve only the --scenarios folders")


# Exit statuses of `report`, documented in the README.
EXIT_OK, EXIT_EXPECT, EXIT_USAGE, EXIT_CRASH, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4

DEFAULT_OUT = {"cozepy": "reports", "coze-js": "reports/coze-js"}


def _sdk_choice(spec: str) -> tuple[str, str | None]:
    """`--sdk`: cozepy (the installed one), coze-js (the @coze/api in node_modules) or coze-js@VERSION."""
    if spec == "cozepy":
        return "cozepy", None
    if spec.startswith("cozepy@"):
        raise ValueError(
            f"--sdk {spec}: report runs the cozepy installed here ({version_of('cozepy')}); for another release "
            "install it (pip install cozepy==VERSION) or sweep them all (`python -m harness.compat.sweep`)"
        )
    if spec == "coze-js" or spec.startswith("coze-js@"):
        from .drivers import coze_js

        return "coze-js", coze_js.parse_sdk(spec)
    raise ValueError(f"--sdk {spec!r}: choose cozepy, coze-js or coze-js@VERSION")


def _probe_selection(names: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """`--probe MODE` or `--probe MODE:CAPABILITY` -> probes to run, and single cells to print."""
    from .matrix import Capability
    from .probes import PROBES

    probes: list[str] = []
    cells: list[tuple[str, str]] = []
    for name in names:
        probe, _, capability = name.partition(":")
        if probe not in PROBES:
            raise ValueError(f"unknown probe {probe!r}; choose from {', '.join(PROBES)}")
        if capability and capability not in {c.value for c in Capability}:
            raise ValueError(f"unknown capability {capability!r}; choose from {', '.join(c.value for c in Capability)}")
        if probe not in probes:
            probes.append(probe)
        cells.append((probe, capability))
    return probes, cells


_SERVING = ("simulators.coze._uvicorn", "anyio._backends._asyncio", "httpcore", "harness.tap", "harness.judges")
_REPORT_MODULES = {
    "cozepy": (*_SERVING, "harness.drivers.cozepy", "cozepy", "websockets.sync.client"),
    "coze-js": (*_SERVING, "harness.drivers.coze_js"),
}
"""What a report imports once its probes start: imported before the heap is frozen (`harness._gc`)."""


def _cmd_report(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ._gc import freeze_after_importing
    from .drivers import DriverUnavailable, coze_js
    from .expect import Expectation, ExpectationError, compare
    from .matrix import Mode
    from .report import FORMATS, render_cells, write_reports
    from .report.paths import clashes
    from .report.summary import summary_json
    from .report.terminal import ProgressView, print_answer, print_summary
    from .report.writer import report_paths
    from .reporting import run_report

    formats = tuple(part.strip() for part in args.format.split(",") if part.strip())
    bad = [name for name in formats if name not in FORMATS]
    if bad:
        print(f"coze-harness report: unknown format(s) {bad}; choose from {', '.join(FORMATS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sdk_name, js_version = _sdk_choice(args.sdk)
        probes, single_cells = _probe_selection(args.probe)
        expectation = Expectation.load(Path(args.expect)) if args.expect else None
        if expectation is not None:
            expectation.for_sdk(sdk_name, args.expect)
    except (ValueError, ExpectationError) as exc:
        print(f"coze-harness report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # A partial run (--probe) prints its evidence and writes files only where asked, so it never
    # overwrites a full report with a partial one. Another SDK's report goes beside cozepy's, in a folder of
    # its own, so neither overwrites the other.
    out = args.out or (None if probes else DEFAULT_OUT[sdk_name])
    writes = [("--out", path) for path in report_paths(Path(out), formats)] if out else []
    writes += [("--save-expect", Path(args.save_expect))] if args.save_expect else []
    overlaps = clashes([("--expect", Path(args.expect))] if args.expect else [], writes)
    if overlaps:  # checked before any probe runs: the expectation must survive the run that reads it
        print(
            f"coze-harness report: refusing to write over a file this run reads: {'; '.join(overlaps)}. "
            "Save the new expectation to another file (or compare first, then --save-expect alone)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    try:
        driver_for = None if sdk_name == "cozepy" else coze_js.driver_factory(js_version, not args.no_install)
    except DriverUnavailable as exc:
        print(f"coze-harness report: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    platforms = PLATFORMS if args.platform == "both" else (args.platform,)
    freeze_after_importing(_REPORT_MODULES[sdk_name])
    # The answer and the tables on stdout (the JSON summary alone with --json); progress on stderr.
    stdout, stderr = Console(highlight=False), Console(stderr=True, highlight=False)
    loud = not (args.quiet or args.json)
    with ProgressView(stderr, quiet=args.quiet) as view:
        matrix = run_report(
            probes or None,
            sdk_label=args.sdk_label,
            progress=view.line,
            token=args.token,
            platforms=platforms,
            started=view.status,
            driver_for=driver_for,
        )
    if args.quiet and not args.json:
        print_answer(matrix, stdout)
    elif loud:
        print_summary(matrix, stdout)
    if single_cells and loud:
        print()
        print(render_cells(matrix, single_cells))
    differences = None
    if expectation is not None:
        modes = {Mode(name) for name in probes if name in {m.value for m in Mode}} if probes else None
        differences = compare(expectation, matrix, modes)
    written: list[str] = []
    if out:
        paths = write_reports(matrix, Path(out), formats, differences, expect_name=args.expect or "the expectation")
        written += [str(path) for path in paths]
    if args.save_expect:
        try:
            saved = Expectation.of(matrix).merged_into(Path(args.save_expect))
        except ExpectationError as exc:
            print(f"coze-harness report: --save-expect: {exc}", file=sys.stderr)
            return EXIT_USAGE
        saved.save(Path(args.save_expect))
        written.append(args.save_expect)
    if loud:
        for path_name in written:
            print(f"wrote {path_name}")

    status = EXIT_OK
    if expectation is not None and differences is not None:
        recorded = expectation.for_sdk(matrix.sdk).sdk_version
        if recorded != matrix.sdk_version:
            print(
                f"note: {args.expect} was recorded with {matrix.sdk} {recorded}; "
                f"this run is {matrix.sdk} {matrix.sdk_version}",
                file=sys.stderr,
            )
        if differences:
            print(f"{len(differences)} verdict(s) differ from {args.expect}:", file=sys.stderr)
            for difference in differences:
                print(f"  {difference.line()}", file=sys.stderr)
            status = EXIT_EXPECT
        elif not args.quiet:
            print(f"every verdict matches {args.expect}", file=sys.stderr)
    for crash in matrix.crashes:
        print(f"probe {crash.probe} crashed: {crash.error}\n{crash.traceback}", file=sys.stderr)
    if matrix.crashes:
        status = EXIT_CRASH
    if args.json:
        summary = summary_json(
            matrix,
            exit_status=status,
            crashes=[{"probe": c.probe, "platform": c.platform, "error": c.error} for c in matrix.crashes],
            differences=None if differences is None else [difference.line() for difference in differences],
            written=written,
        )
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    return status


def _cmd_catalogue(args: argparse.Namespace) -> int:
    entries = catalogue_of(args).entries()
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, indent=2))
    else:
        for entry in entries:
            print(f"{entry['kind']:<9} {entry['id']}  {entry['name']:<22} {entry['description']}")
    return 0


def version_of(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def version_line() -> str:
    """`coze-harness X (cozepy Y)`: this package's version and the SDK it drives."""
    return f"coze-harness {version_of('coze-harness')} (cozepy {version_of('cozepy')})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coze-harness", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from ._serve_cli import add_serve_command

    add_serve_command(commands)

    report_cmd = commands.add_parser(
        "report",
        help="probe the installed cozepy (or --sdk coze-js[@VERSION]) against the embedded simulator and write the "
        "capability matrix",
    )
    report_cmd.add_argument(
        "--out", default=None, help="folder for the reports (default ./reports; with --probe, none unless given)"
    )
    report_cmd.add_argument(
        "--format",
        default="md,json,html,junit",
        help="comma-separated: md, json, html, junit (default all four)",
    )
    report_cmd.add_argument(
        "--platform",
        choices=[*PLATFORMS, "both"],
        default="both",
        help="which platform profile(s) of the simulator to probe: cloud Coze, the open-source server "
        "(studio), or both side by side (default)",
    )
    report_cmd.add_argument(
        "--sdk",
        default="cozepy",
        metavar="SDK",
        help="the SDK to probe: cozepy (the installed one, default), coze-js (the @coze/api in a node_modules "
        "folder here or above) or coze-js@VERSION (installed into the cache with npm when missing); another "
        "SDK's reports go to reports/<sdk>/ by default",
    )
    report_cmd.add_argument(
        "--no-install", action="store_true", help="with --sdk coze-js@VERSION: fail instead of installing it"
    )
    report_cmd.add_argument("--sdk-label", default="", metavar="L", help="a name for this run, shown in the reports")
    report_cmd.add_argument(
        "--token", default=DEFAULT_TOKEN, metavar="T", help="the token the embedded simulator accepts (never reported)"
    )
    report_cmd.add_argument(
        "--probe",
        action="append",
        default=[],
        metavar="ID",
        help="rerun one probe (a mode, e.g. chat-stream) or one cell (MODE:CAPABILITY) and print its evidence; "
        "repeatable",
    )
    report_cmd.add_argument(
        "--expect",
        metavar="FILE",
        help="compare the verdicts with this expectation; exit 1 and print the differences if any differ",
    )
    report_cmd.add_argument("--save-expect", metavar="FILE", help="write this run's verdicts as an expectation")
    report_cmd.add_argument(
        "--quiet", action="store_true", help="print only the one-line answer per platform, and errors"
    )
    report_cmd.add_argument(
        "--json", action="store_true", help="print the summary as JSON on stdout (and nothing else there)"
    )
    report_cmd.set_defaults(func=_cmd_report)

    catalogue_cmd = commands.add_parser("catalogue", help="list the bots and workflows the simulator serves")
    catalogue_cmd.add_argument("--json", action="store_true", help="print a JSON array for other tools")
    add_catalogue_options(catalogue_cmd)
    catalogue_cmd.set_defaults(func=_cmd_catalogue)

    from ._bridge_cli import add_bridge_command
    from ._cassette_cli import add_cassette_commands
    from ._compat_cli import add_compat_command
    from ._drive_cli import add_drive_command

    add_bridge_command(commands)
    add_cassette_commands(commands)
    add_compat_command(commands)
    add_drive_command(commands)

    from ._scenario_cli import add_scenario_command

    add_scenario_command(commands)
    return parser


def _quiet_authlib() -> None:
    """cozepy imports authlib.jose, which warns on every run; the warning is not ours to act on.

    authlib forces its warnings to "always" when `authlib.deprecate` is imported, putting its filter
    first, so ours must be added after that import to win.
    """
    try:
        importlib.import_module("authlib.deprecate")
    except ImportError:  # releases of cozepy without authlib
        return
    warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")


EXIT_BROKEN_PIPE = 141
"""What a shell reports for a command killed by SIGPIPE (128 + 13): `coze-harness catalogue --json | head -1`."""


def _stdout_gone() -> int:
    """The reader of stdout left (`| head`): stop quietly, as Unix tools do, with no traceback.

    stdout is pointed at the null device so that the interpreter's last flush at exit has nowhere to
    fail (it would print "Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is no real file (a test's capture): nothing left to flush
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_authlib()
    try:
        args = build_parser().parse_args(argv)
        try:
            code: int = args.func(args)
        except ScenarioFileError as exc:
            print(f"coze-harness: bad scenario: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        sys.stdout.flush()  # inside the try: a reader that left shows here, not at the interpreter's exit
    except BrokenPipeError:
        return _stdout_gone()
    return code


if __name__ == "__main__":
    sys.exit(main())
