"""`coze-harness bridge serve | export-plugin`: the HTTP bridge from the command line.

Kept apart from cli.py so that the bridge's options live beside the code they configure; cli.py
only registers the subcommand.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from simulators.coze import bind, serve
from simulators.coze.server import base_url_of

from .bridge import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, create_bridge_app, plugin_spec, tool_path
from .tools import DEFAULT_TOOL_TIMEOUT, ToolRegistry, load_registry

DEFAULT_EXPORT_URL = "http://127.0.0.1:8000"


def _load(args: argparse.Namespace) -> ToolRegistry | None:
    """The user's tools; the current directory is importable, as it is for `python -m`."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return load_registry(args.module)
    except (ImportError, LookupError, TypeError, ValueError) as exc:
        print(f"coze-harness bridge: cannot load tools from {args.module!r}: {exc}", file=sys.stderr)
        return None


def _positive_int(text: str) -> int:
    """An argparse type: a whole number above zero (argparse turns the error into a usage message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a whole number of bytes above 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"wants a whole number of bytes above 0, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a number of seconds above 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"wants a finite number of seconds above 0, got {text!r}")
    return value


def build_serve_app(args: argparse.Namespace) -> FastAPI | None:
    """The app `bridge serve` would serve for these parsed arguments; None (reason on stderr) if it cannot."""
    registry = _load(args)
    if registry is None:
        return None
    slow: dict[str, float] = {}
    for item in args.slow_tool:
        name, _, seconds = item.partition("=")
        try:
            slow[name] = _positive_seconds(seconds)
        except argparse.ArgumentTypeError:
            print(f"coze-harness bridge: --slow-tool wants NAME=SECONDS (above 0), got {item!r}", file=sys.stderr)
            return None
    return create_bridge_app(
        registry,
        token=args.token,
        errors=args.errors,
        tool_timeout=args.tool_timeout,
        max_body_bytes=args.max_body_bytes,
        body_timeout=args.body_timeout,
        slow_tools=slow,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    app = build_serve_app(args)
    if app is None:
        return 2
    registry: ToolRegistry = app.state.registry
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"coze-harness bridge: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    base_url = base_url_of(sock)
    print(f"Tool bridge listening on {base_url}", flush=True)
    for item in registry:
        print(f"  POST {base_url}{tool_path(item.name)}  {item.description}", flush=True)
    print(f"Plugin spec (OpenAPI 3.0): {base_url}/openapi.json", flush=True)
    print("Bearer token required." if args.token else "No auth (pass --token to require one).", flush=True)
    serve(app, sock)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    registry = _load(args)
    if registry is None:
        return 2
    document = plugin_spec(registry, server_url=args.server_url, bearer=args.bearer, errors=args.errors)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"coze-harness bridge: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"Wrote an OpenAPI plugin spec with {len(registry)} tools to {args.out}", flush=True)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--module",
        required=True,
        metavar="PKG.MOD[:ATTR]",
        help="importable module whose tools to serve (every ToolRegistry and @tool in it, or just ATTR)",
    )
    parser.add_argument(
        "--errors",
        choices=["http", "body"],
        default="http",
        help="report tool failures as HTTP errors (default) or as 200 with success=false, for tools "
        "that do not choose themselves",
    )


def add_bridge_command(commands: Any) -> None:
    """Register `bridge` on the `coze-harness` subcommands."""
    bridge = commands.add_parser("bridge", help="serve local tools over HTTP for workflows; export a plugin spec")
    actions = bridge.add_subparsers(dest="bridge_command", required=True, metavar="ACTION")

    serve_cmd = actions.add_parser("serve", help="serve the tools until interrupted")
    _common(serve_cmd)
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    serve_cmd.add_argument("--token", default=None, metavar="T", help="require 'Authorization: Bearer T'")
    serve_cmd.add_argument(
        "--tool-timeout",
        type=float,
        default=DEFAULT_TOOL_TIMEOUT,
        metavar="SECONDS",
        help=f"limit for tools that set none (default {DEFAULT_TOOL_TIMEOUT:g})",
    )
    serve_cmd.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help="refuse a tool call whose body is over N bytes (413, error_code too_large) before parsing it, so "
        "one caller cannot make the bridge hold an unbounded body in memory "
        f"(default {DEFAULT_MAX_BODY_BYTES}); raise it for tools that take large arguments",
    )
    serve_cmd.add_argument(
        "--body-timeout",
        type=_positive_seconds,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help="refuse a tool call whose body has not fully arrived within SECONDS (408, error_code "
        "body_timeout), so a slow or stalled sender cannot hold the bridge's worker "
        f"(default {DEFAULT_BODY_TIMEOUT:g})",
    )
    serve_cmd.add_argument(
        "--slow-tool",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help="fault: wait SECONDS before running tool NAME (a slow tool); repeatable",
    )
    serve_cmd.set_defaults(func=_cmd_serve)

    export_cmd = actions.add_parser("export-plugin", help="write the OpenAPI 3.0 plugin spec Coze imports")
    _common(export_cmd)
    export_cmd.add_argument("--out", required=True, metavar="FILE", help="where to write the JSON ('-': stdout)")
    export_cmd.add_argument(
        "--server-url",
        default=DEFAULT_EXPORT_URL,
        metavar="URL",
        help=f"the URL Coze will reach the bridge at (default {DEFAULT_EXPORT_URL})",
    )
    export_cmd.add_argument("--bearer", action="store_true", help="declare bearer-token auth in the spec")
    export_cmd.set_defaults(func=_cmd_export)
