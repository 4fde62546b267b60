"""The `coze-harness` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from simulators.coze import (
    DEFAULT_TOKEN,
    Catalogue,
    ScenarioFileError,
    SimConfig,
    TokenGrant,
    bind,
    create_app,
    serve,
)
from simulators.coze.scenarios import BUILTIN_DIR
from simulators.coze.server import base_url_of


def _catalogue(args: argparse.Namespace) -> Catalogue:
    folders = [] if args.no_builtin else [BUILTIN_DIR]
    folders += [Path(folder) for folder in args.scenarios]
    if not folders:
        raise ScenarioFileError("--no-builtin needs at least one --scenarios DIR")
    return Catalogue.load(*folders)


def _add_catalogue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenarios",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of scenario files (YAML or JSON) to serve besides the built-in ones; repeatable",
    )
    parser.add_argument("--no-builtin", action="store_true", help="serve only the --scenarios folders")


def _cmd_serve(args: argparse.Namespace) -> int:
    catalogue = _catalogue(args)
    tokens = args.token or [DEFAULT_TOKEN]
    config = SimConfig(
        seed=args.seed,
        tokens=[TokenGrant(token=token) for token in tokens],
        wall_clock=args.wall_clock,
        event_delay_seconds=args.event_delay,
    )
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"coze-harness serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"Coze simulator listening on {base_url_of(sock)}", flush=True)
    if not args.token:
        print(f"Token: {DEFAULT_TOKEN} (pass --token to choose your own)", flush=True)
    print(
        f"Serving {len(catalogue.bots)} bots and {len(catalogue.workflows)} workflows; "
        "list them with `coze-harness catalogue`. Stop with Ctrl-C.",
        flush=True,
    )
    serve(create_app(catalogue, config), sock)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import FORMATS
    from .reporting import run_report

    formats = tuple(part.strip() for part in args.format.split(",") if part.strip())
    bad = [name for name in formats if name not in FORMATS]
    if bad:
        print(f"coze-harness report: unknown format(s) {bad}; choose from {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    from .probes import PROBES

    unknown = [name for name in args.probe if name not in PROBES]
    if unknown:
        print(f"coze-harness report: unknown probe(s) {unknown}; choose from {', '.join(PROBES)}", file=sys.stderr)
        return 2
    written, summary = run_report(Path(args.out), formats, args.probe or None, progress=_progress)
    print(summary)
    for path in written:
        print(f"wrote {path}")
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cmd_catalogue(args: argparse.Namespace) -> int:
    entries = _catalogue(args).entries()
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, indent=2))
    else:
        for entry in entries:
            print(f"{entry['kind']:<9} {entry['id']}  {entry['name']:<22} {entry['description']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coze-harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser("serve", help="run the fake Coze server until interrupted")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    serve_cmd.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="T",
        help=f"a bearer token the server accepts; repeatable (default {DEFAULT_TOKEN})",
    )
    serve_cmd.add_argument("--seed", type=int, default=SimConfig().seed, help="seed for ids and log ids")
    serve_cmd.add_argument("--wall-clock", action="store_true", help="real timestamps instead of the logical clock")
    serve_cmd.add_argument(
        "--event-delay", type=float, default=0.0, metavar="SECONDS", help="pause between stream events"
    )
    _add_catalogue_options(serve_cmd)
    serve_cmd.set_defaults(func=_cmd_serve)

    report_cmd = commands.add_parser(
        "report", help="probe the installed cozepy against the embedded simulator and write the capability matrix"
    )
    report_cmd.add_argument("--out", default="reports", help="folder for the reports (default ./reports)")
    report_cmd.add_argument("--format", default="md,json", help="comma-separated: md, json (default md,json)")
    report_cmd.add_argument(
        "--probe", action="append", default=[], metavar="NAME", help="run only this probe; repeatable"
    )
    report_cmd.set_defaults(func=_cmd_report)

    catalogue_cmd = commands.add_parser("catalogue", help="list the bots and workflows the simulator serves")
    catalogue_cmd.add_argument("--json", action="store_true", help="print a JSON array for other tools")
    _add_catalogue_options(catalogue_cmd)
    catalogue_cmd.set_defaults(func=_cmd_catalogue)

    from ._bridge_cli import add_bridge_command

    add_bridge_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ScenarioFileError as exc:
        print(f"coze-harness: bad scenario: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
