"""`coze-harness serve`: the fake Coze server from the command line, safe by default.

The simulator's default token is public (it is in the README), which is fine on loopback and nowhere
else: a server on another address must be given tokens of its own, on the command line or, so that
they do not show in `ps`, in a grants file that can also scope a token to some bots and workflows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulators.coze import (
    DEFAULT_PLATFORM,
    DEFAULT_TOKEN,
    PLATFORMS,
    FileLimits,
    SimConfig,
    StoreLimits,
    TokenGrant,
    base_url_of,
    bind,
    create_app,
    load_profile,
    serve,
)

from ._server_cli import (
    add_access_log_option,
    add_server_limit_options,
    is_loopback_host,
    positive_seconds,
    server_limits_of,
)

_PROG = "coze-harness serve"
_DEFAULT_STORE = StoreLimits()
_DEFAULT_FILES = FileLimits()


class GrantsFile(BaseModel):
    """A `--grants` file: the tokens the server accepts, each optionally limited to some bots and workflows."""

    model_config = ConfigDict(extra="forbid")

    tokens: list[TokenGrant] = Field(min_length=1)


def load_grants(path: Path) -> list[TokenGrant]:
    """The grants in a YAML or JSON file; ValueError naming the file and what is wrong in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    try:
        return GrantsFile.model_validate(raw).tokens
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the file'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise ValueError(f"{path}: {problems} (expected `tokens: [{{token, bots?, workflows?}}, ...]`)") from None


def _grants(args: argparse.Namespace) -> list[TokenGrant]:
    """The tokens to accept: --token values, then --grants entries; the default token only if neither."""
    grants: list[TokenGrant] = []
    for index, token in enumerate(args.token):
        try:
            grants.append(TokenGrant(token=token))
        except ValidationError as exc:
            reason = exc.errors(include_url=False, include_input=False)[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"--token number {index + 1} cannot be used: {reason}") from None
    for path in args.grants:
        grants += load_grants(Path(path))
    if not grants:
        grants = [TokenGrant(token=DEFAULT_TOKEN)]
    if not is_loopback_host(args.host) and any(grant.token == DEFAULT_TOKEN for grant in grants):
        raise ValueError(
            f"--host {args.host} is reachable from other machines, and the default token {DEFAULT_TOKEN} is "
            "public; give tokens of your own with --token T or --grants FILE"
        )
    return grants


def _cmd_serve(args: argparse.Namespace) -> int:
    from ._fault_cli import faults_of, framing_of
    from .cli import catalogue_of

    try:
        catalogue = catalogue_of(args)
        grants = _grants(args)
        faults, framing = faults_of(args), framing_of(args)
        config = SimConfig(
            seed=args.seed,
            tokens=grants,
            wall_clock=args.wall_clock,
            event_delay_seconds=args.event_delay,
            faults=faults,
            framing=framing,
            profile=args.profile,
            store=StoreLimits(max_records=args.max_records, max_age_seconds=args.record_max_age),
            allow_http_hosts=frozenset(args.allow_http_host),
            body_timeout_seconds=args.body_timeout,
            files=FileLimits(max_file_bytes=args.max_file_bytes, max_total_bytes=args.max_file_store_bytes),
        )
    except ValueError as exc:  # pydantic's ValidationError is one too
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"{_PROG}: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"Coze simulator listening on {base_url_of(sock)}", flush=True)
    print(f"Platform: {load_profile(args.profile).title} (--profile {args.profile})", flush=True)
    if not args.token and not args.grants:
        print(f"Token: {DEFAULT_TOKEN} (pass --token or --grants to choose your own)", flush=True)
    else:
        scoped = sum(not grant.unrestricted for grant in grants)
        print(f"Tokens: {len(grants)} accepted ({scoped} scoped to some bots or workflows)", flush=True)
    for line in config.faults.model_dump(exclude_none=True).items() if config.faults else ():
        print(f"Fault on every stream: {line[0]} = {line[1]}", flush=True)
    if config.framing is not None:
        print(f"Framing variant on every stream: {config.framing.model_dump(exclude_defaults=True)}", flush=True)
    print(
        f"Serving {len(catalogue.bots)} bots and {len(catalogue.workflows)} workflows; "
        "list them with `coze-harness catalogue`. Stop with Ctrl-C.",
        flush=True,
    )
    serve(create_app(catalogue, config), sock, limits=server_limits_of(args), access_log=args.access_log)
    return 0


def add_serve_command(commands: Any) -> None:
    """Register `serve` on the `coze-harness` subcommands."""
    from ._fault_cli import add_fault_options
    from .cli import add_catalogue_options

    serve_cmd = commands.add_parser("serve", help="run the fake Coze server until interrupted")
    serve_cmd.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); any other needs tokens of your own",
    )
    serve_cmd.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    serve_cmd.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="T",
        help=f"a bearer token the server accepts; repeatable (default {DEFAULT_TOKEN}, on loopback only)",
    )
    serve_cmd.add_argument(
        "--grants",
        action="append",
        default=[],
        metavar="FILE",
        help="a YAML or JSON file of tokens, each optionally limited to some bots and workflows: "
        "`tokens: [{token: T, bots: [ID...], workflows: [ID...]}]`; keeps tokens out of `ps`; repeatable",
    )
    serve_cmd.add_argument(
        "--profile",
        choices=PLATFORMS,
        default=DEFAULT_PLATFORM,
        help="the platform to speak: cloud Coze (default) or the open-source Coze server, coze-studio "
        "(its framing, envelopes, spellings and missing endpoints; simulators/profiles/*.yaml)",
    )
    serve_cmd.add_argument("--seed", type=int, default=SimConfig().seed, help="seed for ids and log ids")
    serve_cmd.add_argument("--wall-clock", action="store_true", help="real timestamps instead of the logical clock")
    serve_cmd.add_argument(
        "--event-delay", type=float, default=0.0, metavar="SECONDS", help="pause between stream events"
    )
    serve_cmd.add_argument(
        "--allow-http-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host a workflow's http node may call besides loopback addresses; repeatable",
    )
    serve_cmd.add_argument(
        "--max-records",
        type=int,
        default=_DEFAULT_STORE.max_records,
        metavar="N",
        help="chats, conversations and executions kept, each; the oldest finished go first "
        f"(default {_DEFAULT_STORE.max_records})",
    )
    serve_cmd.add_argument(
        "--record-max-age",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="also forget a record SECONDS after it was created (default: only by count)",
    )
    serve_cmd.add_argument(
        "--body-timeout",
        type=positive_seconds,
        default=SimConfig().body_timeout_seconds,
        metavar="SECONDS",
        help="answer 408 to a request whose body has not fully arrived within SECONDS "
        f"(default {SimConfig().body_timeout_seconds:g})",
    )
    serve_cmd.add_argument(
        "--max-file-bytes",
        type=int,
        default=_DEFAULT_FILES.max_file_bytes,
        metavar="N",
        help="largest upload /v1/files/upload accepts (4000, HTTP 413 beyond; the platform allows 512 MB) "
        f"(default {_DEFAULT_FILES.max_file_bytes})",
    )
    serve_cmd.add_argument(
        "--max-file-store-bytes",
        type=int,
        default=_DEFAULT_FILES.max_total_bytes,
        metavar="N",
        help="bytes of uploads kept in the temporary folder; past it the oldest are deleted "
        f"(default {_DEFAULT_FILES.max_total_bytes})",
    )
    add_server_limit_options(serve_cmd)
    add_access_log_option(serve_cmd)
    add_catalogue_options(serve_cmd)
    add_fault_options(serve_cmd)
    serve_cmd.set_defaults(func=_cmd_serve)
