"""`coze-harness bridge serve | export-plugin`: the HTTP bridge from the command line.

Kept apart from cli.py so that the bridge's options live beside the code they configure; cli.py
only registers the subcommand.

`serve` never runs without a bearer token unless told `--insecure-no-auth` (and then only on a
loopback address). The token comes from `--token-file`, `COZE_HARNESS_BRIDGE_TOKEN` or `--token`
(visible in `ps`; the other two are not); with none of them, a random one is made and printed once,
with the header to enter in Coze's plugin import.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import sys
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from simulators.coze import base_url_of, bind, serve

from ._server_cli import (
    add_access_log_option,
    add_server_limit_options,
    positive_bytes,
    positive_int,
    positive_seconds,
    server_limits_of,
)
from .bridge import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_LOOP_STALL_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENT_TOOLS,
    TOKEN_ENV,
    create_bridge_app,
    is_loopback_host,
    plugin_spec,
    tool_path,
)
from .tools import DEFAULT_TOOL_TIMEOUT, ToolRegistry, load_registry

_PREFIX = "coze-harness bridge:"


def _load(args: argparse.Namespace) -> ToolRegistry | None:
    """The user's tools; the current directory is importable, as it is for `python -m`."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return load_registry(args.module)
    except SyntaxError as exc:  # the user's module does not compile: where and what, not our traceback
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else f"line {exc.lineno}"
        print(f"{_PREFIX} cannot load tools from {args.module!r}: {where}: {exc.msg}", file=sys.stderr)
        return None
    except (ImportError, LookupError, TypeError, ValueError) as exc:
        print(f"coze-harness bridge: cannot load tools from {args.module!r}: {exc}", file=sys.stderr)
        return None
    except Exception as exc:  # the module's own code raised while it was imported
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        print(
            f"{_PREFIX} cannot load tools from {args.module!r}: importing it raised {type(exc).__name__}: {exc}{where}",
            file=sys.stderr,
        )
        return None


def _public_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"wants an http:// or https:// URL such as https://x.example, got {text!r}")
    return text.rstrip("/")


class _Refused(Exception):
    """A combination of options `bridge serve` will not run with; the message says why."""


def _token(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The bearer token to require and whether it was made up here; `_Refused` for conflicting sources."""
    given = [name for name, value in (("--token", args.token), ("--token-file", args.token_file)) if value]
    if len(given) > 1:
        raise _Refused("give the token one way: --token or --token-file")
    if args.insecure_no_auth:
        if given:
            raise _Refused(f"--insecure-no-auth serves without a token; drop {given[0]} or drop it")
        if not is_loopback_host(args.host):
            raise _Refused(
                f"--insecure-no-auth is only allowed on a loopback address, not --host {args.host}: anyone who "
                "reaches the port could run the tools"
            )
        return None, False
    if args.token_file:
        try:
            text = Path(args.token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _Refused(
                f"cannot read --token-file {args.token_file}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if not text or len(text.split()) != 1:
            raise _Refused(f"--token-file {args.token_file} must hold one token (no spaces) on its own")
        return text, False
    if args.token:
        if not args.token.strip():
            raise _Refused("--token must not be empty")
        return args.token.strip(), False
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env, False
    return secrets.token_urlsafe(32), True


def _allowed_hosts(args: argparse.Namespace) -> list[str]:
    hosts = list(args.allowed_host)
    try:
        address = ipaddress.ip_address(args.host)
    except ValueError:
        hosts.append(args.host)  # a name to listen on is a name the bridge is reached by
    else:
        if not address.is_unspecified:
            hosts.append(str(address))
    return hosts


def build_serve_app(args: argparse.Namespace, token: str | None = None) -> FastAPI | None:
    """The app `bridge serve` would serve for these parsed arguments; None (reason on stderr) if it cannot.

    `token` is the one `_token` resolved (it is resolved here when not given).
    """
    registry = _load(args)
    if registry is None:
        return None
    if token is None:
        try:
            token, _ = _token(args)
        except _Refused as refused:
            print(f"{_PREFIX} {refused}", file=sys.stderr)
            return None
    slow: dict[str, float] = {}
    for item in args.slow_tool:
        name, _, seconds = item.partition("=")
        try:
            slow[name] = positive_seconds(seconds)
        except argparse.ArgumentTypeError:
            print(f"coze-harness bridge: --slow-tool wants NAME=SECONDS (above 0), got {item!r}", file=sys.stderr)
            return None
    return create_bridge_app(
        registry,
        token=token,
        insecure_no_auth=token is None,
        allowed_hosts=_allowed_hosts(args),
        allowed_origins=args.allowed_origin,
        public_url=args.public_url,
        errors=args.errors,
        tool_timeout=args.tool_timeout,
        max_body_bytes=args.max_body_bytes,
        body_timeout=args.body_timeout,
        max_concurrent_tools=args.max_concurrent_tools,
        loop_stall_seconds=args.loop_stall_warning,
        slow_tools=slow,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        token, generated = _token(args)
    except _Refused as refused:
        print(f"{_PREFIX} {refused}", file=sys.stderr)
        return 2
    app = build_serve_app(args, token) if token is not None else build_serve_app(args)
    if app is None:
        return 2
    registry: ToolRegistry = app.state.registry
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"{_PREFIX} cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    base_url = base_url_of(sock)
    public = args.public_url or base_url
    print(f"Tool bridge listening on {base_url}", flush=True)
    for item in registry:
        print(f"  POST {public}{tool_path(item.name)}  {item.description}", flush=True)
    print(f"Plugin spec (OpenAPI 3.0): {base_url}/openapi.json (servers: {public})", flush=True)
    if token is None:
        print("No auth (--insecure-no-auth): anyone who reaches this loopback port can run the tools.", flush=True)
    elif generated:
        print(
            f"Bearer token required. Generated for this run (set {TOKEN_ENV} or --token-file to choose one):\n"
            f"  Authorization: Bearer {token}\n"
            "In Coze's plugin import, choose service auth in a header named 'Authorization' with the value "
            f"'Bearer {token}'.",
            flush=True,
        )
    else:
        print("Bearer token required (send 'Authorization: Bearer <token>').", flush=True)
    if args.token:
        print(f"{_PREFIX} --token shows in the process list; prefer {TOKEN_ENV} or --token-file", file=sys.stderr)
    serve(app, sock, limits=server_limits_of(args), access_log=args.access_log)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    registry = _load(args)
    if registry is None:
        return 2
    bearer = not args.no_auth
    document = plugin_spec(registry, server_url=args.public_url, bearer=bearer, errors=args.errors)
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
    serve_cmd.add_argument(
        "--token",
        default=None,
        metavar="T",
        help=f"require 'Authorization: Bearer T' (shows in the process list: prefer {TOKEN_ENV} or --token-file). "
        f"Without --token, --token-file or {TOKEN_ENV}, a random token is made and printed once",
    )
    serve_cmd.add_argument(
        "--token-file", default=None, metavar="FILE", help="read the bearer token from FILE (one line)"
    )
    serve_cmd.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve without any token: anyone who reaches the port runs the tools. Refused with a non-loopback --host",
    )
    serve_cmd.add_argument(
        "--public-url",
        type=_public_url,
        default=None,
        metavar="URL",
        help="the address Coze reaches the bridge at (a tunnel's https URL): the plugin spec's servers, "
        "and its host is answered",
    )
    serve_cmd.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name to answer besides localhost, 127.0.0.1 and ::1 (421 otherwise); repeatable",
    )
    serve_cmd.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser Origin (scheme://host[:port]) allowed to call; every other Origin is refused (403); repeatable",
    )
    serve_cmd.add_argument(
        "--tool-timeout",
        type=float,
        default=DEFAULT_TOOL_TIMEOUT,
        metavar="SECONDS",
        help=f"limit for tools that set none (default {DEFAULT_TOOL_TIMEOUT:g})",
    )
    serve_cmd.add_argument(
        "--max-body-bytes",
        type=positive_bytes,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help="refuse a tool call whose body is over N bytes (413, error_code too_large) before parsing it, so "
        "one caller cannot make the bridge hold an unbounded body in memory "
        f"(default {DEFAULT_MAX_BODY_BYTES}); raise it for tools that take large arguments",
    )
    serve_cmd.add_argument(
        "--body-timeout",
        type=positive_seconds,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help="refuse a tool call whose body has not fully arrived within SECONDS (408, error_code "
        "body_timeout), so a slow or stalled sender cannot hold the bridge's worker "
        f"(default {DEFAULT_BODY_TIMEOUT:g})",
    )
    serve_cmd.add_argument(
        "--max-concurrent-tools",
        type=positive_int,
        default=DEFAULT_MAX_CONCURRENT_TOOLS,
        metavar="N",
        help="tool calls running at once, counting ones that overran --tool-timeout and still run; one more "
        f"is answered 503 with Retry-After (default {DEFAULT_MAX_CONCURRENT_TOOLS})",
    )
    serve_cmd.add_argument(
        "--loop-stall-warning",
        type=positive_seconds,
        default=DEFAULT_LOOP_STALL_SECONDS,
        metavar="SECONDS",
        help="warn (stderr) when an async tool blocks the event loop this long "
        f"(default {DEFAULT_LOOP_STALL_SECONDS:g})",
    )
    add_server_limit_options(serve_cmd)
    add_access_log_option(serve_cmd)
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
        "--public-url",
        "--server-url",
        dest="public_url",
        required=True,
        type=_public_url,
        metavar="URL",
        help="the URL Coze will reach the bridge at: the tunnel's https address, the same as serve's --public-url",
    )
    auth = export_cmd.add_mutually_exclusive_group()
    auth.add_argument(
        "--bearer", action="store_true", help="declare bearer-token auth (the default: serve always asks for one)"
    )
    auth.add_argument(
        "--no-auth", action="store_true", help="declare no auth, for a bridge served with --insecure-no-auth"
    )
    export_cmd.set_defaults(func=_cmd_export)
