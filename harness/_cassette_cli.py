"""`coze-harness record | verify-sim`: cassettes from the command line.

Kept apart from cli.py, like the bridge's commands, so the options live beside the code they
configure; cli.py only registers them.

Exit statuses: 0 done (and, for verify-sim, every cassette matches the simulator in shape), 1 a
cassette differs from the simulator, 2 a usage problem (no token for a real base URL, a missing id,
a cozepy that cannot run the flow, an unreadable cassette), 3 the flow itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import httpx

from simulators.coze import BUILTIN_DIR, Catalogue, SimConfig

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE, EXIT_CRASH = 0, 1, 2, 3
TOKEN_ENV = "COZE_API_TOKEN"


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ids(args: argparse.Namespace, flow: Any, real: bool) -> dict[str, str] | str:
    """The ids the flow runs with, or what is missing. On the simulator every role has a default."""
    ids: dict[str, str] = {}
    for role in flow.roles:
        given = getattr(args, role, None)  # --bot-id, --workflow-id
        variable = flow.env.get(role)
        if given is None and real and variable:
            given = os.environ.get(variable)
        if given is None and real and variable:
            return f"{flow.name} needs --{role.replace('_', '-')} (or {variable}) with a real base URL"
        if given is not None:
            ids[role] = given
    return ids


def _quiet_import_cozepy() -> None:
    """Import cozepy with its authlib deprecation warning caught: authlib sets that warning to
    'always' as it is imported, which beats any filter, and it is not ours to act on."""
    with warnings.catch_warnings(record=True):
        import cozepy  # noqa: F401


def _cmd_record(args: argparse.Namespace) -> int:
    from .cassettes import FLOWS, CassetteError, FlowInput, FlowUnavailableError, RedactionRules, record_flow

    _quiet_import_cozepy()

    flow = FLOWS[args.flow]
    token = os.environ.get(TOKEN_ENV) or None
    real = args.base_url is not None
    if real and not token:
        _err(f"coze-harness record: --base-url needs {TOKEN_ENV} set to a Coze API token")
        return EXIT_USAGE
    ids = _ids(args, flow, real)
    if isinstance(ids, str):
        _err(f"coze-harness record: {ids}")
        return EXIT_USAGE
    defaults = RedactionRules()
    rules = RedactionRules(
        patterns=list(args.redact), keys={**defaults.keys, **{key.lower(): "ID" for key in args.redact_key}}
    )
    try:
        rules.compiled()
    except CassetteError as exc:
        _err(f"coze-harness record: {exc}")
        return EXIT_USAGE
    given = FlowInput(text=args.text) if args.user_id is None else FlowInput(user_id=args.user_id, text=args.text)
    where = args.base_url or "the embedded simulator"
    _err(f"recording {flow.name} ({flow.description}) against {where}")
    try:
        cassette = record_flow(
            flow.name,
            base_url=args.base_url,
            token=token if real else None,
            ids=ids,
            given=given,
            rules=rules,
            seed=args.seed,
            secrets=[token] if token else [],
            catalogue=_catalogue(args),
        )
    except FlowUnavailableError as exc:
        _err(f"coze-harness record: {exc}")
        return EXIT_USAGE
    except CassetteError as exc:
        _err(f"coze-harness record: {exc}; nothing was written")
        return EXIT_USAGE
    except httpx.TransportError as exc:  # nothing listening, DNS, TLS, a timeout: the server, not a bug here
        reason = str(exc) or type(exc).__name__
        _err(f"coze-harness record: the flow {flow.name} failed: cannot reach {where}: {reason}; nothing was written")
        return EXIT_CRASH
    except Exception as exc:
        if _sdk_error(exc):  # the server refused (a bad token, an unknown id), as the SDK read it: its words
            _err(
                f"coze-harness record: the flow {flow.name} failed against {where}: cozepy raised "
                f"{type(exc).__name__}: {exc}; nothing was written"
            )
            return EXIT_CRASH
        _err(f"coze-harness record: the flow {flow.name} failed: {type(exc).__name__}: {exc}; nothing was written")
        _err(traceback.format_exc())
        return EXIT_CRASH
    try:
        path = cassette.save(args.out)
    except OSError as exc:
        _err(f"coze-harness record: cannot write {args.out}: {exc.strerror}")
        return EXIT_USAGE
    streams = [i for i in cassette.interactions if i.response.body.is_stream]
    chunks = sum(len(i.response.body.chunks or []) for i in streams)
    redacted = ", ".join(f"{kind} {count}" for kind, count in cassette.coze_harness.pseudonyms.items()) or "nothing"
    print(
        f"wrote {path}: {len(cassette.interactions)} interactions, {len(streams)} streams in {chunks} chunks; "
        f"redacted {redacted}",
        flush=True,
    )
    return EXIT_OK


def _sdk_error(exc: Exception) -> bool:
    """Whether the SDK raised it reading what the server said, not a bug here: cozepy's own errors
    (`CozeAPIError`; before 0.6 a refused stream request is a `CozeEventError`) and httpx's (cozepy 0.6
    reads an error answer to a stream request without reading the body first: `ResponseNotRead`)."""
    return type(exc).__module__.split(".")[0] in ("cozepy", "httpx")


def _catalogue(args: argparse.Namespace) -> Catalogue | None:
    """The built-in scenarios plus `--scenarios` folders; None (the built-in catalogue) without any."""
    return Catalogue.load(BUILTIN_DIR, *(Path(folder) for folder in args.scenarios)) if args.scenarios else None


def _add_scenarios_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenarios",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of scenario files for the simulator besides the built-in ones; repeatable",
    )


def _cmd_verify(args: argparse.Namespace) -> int:
    from .cassettes import CassetteError, verify_files

    status = EXIT_OK
    for result in verify_files(args.cassettes, _catalogue(args)):
        if isinstance(result, CassetteError):
            _err(f"coze-harness verify-sim: {result}")
            status = max(status, EXIT_USAGE)
            continue
        if result.ok:
            print(
                f"ok    {result.cassette}: {result.interactions} requests, {result.streams} streams, "
                f"{result.events} events; the simulator answers in the same shape",
                flush=True,
            )
            continue
        status = max(status, EXIT_DIFFERENT)
        print(f"DIFFERS {result.cassette}: {len(result.differences)} difference(s)", flush=True)
        for difference in result.differences:
            print(f"  {difference.line()}", flush=True)
    return status


def add_cassette_commands(commands: Any) -> None:
    """Register `record` and `verify-sim` on the `coze-harness` subcommands."""
    from .cassettes import FLOWS

    record = commands.add_parser(
        "record",
        help="run a flow with the installed cozepy and write it as a redacted cassette",
        description="Run a flow with the real cozepy, against the embedded simulator (default) or a real "
        f"Coze base URL ({TOKEN_ENV} required), and write a cassette. Flows: "
        + "; ".join(f"{name}: {flow.description}" for name, flow in FLOWS.items()),
    )
    record.add_argument("--flow", required=True, choices=sorted(FLOWS), help="the flow to run")
    record.add_argument("--out", required=True, metavar="FILE", help="where to write the cassette (YAML)")
    record.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help=f"record a real Coze server (e.g. https://api.coze.com) instead of the embedded simulator; "
        f"needs {TOKEN_ENV}",
    )
    record.add_argument("--bot-id", default=None, metavar="ID", help="the bot a chat flow uses (or COZE_BOT_ID)")
    record.add_argument(
        "--workflow-id", default=None, metavar="ID", help="the workflow a workflow flow uses (or COZE_WORKFLOW_ID)"
    )
    record.add_argument("--user-id", default=None, metavar="U", help="the user id the client sends (redacted)")
    record.add_argument("--text", default=None, help="the user's message, workflow topic or resume answer")
    record.add_argument(
        "--seed", type=int, default=SimConfig().seed, help="the embedded simulator's seed (ids and log ids)"
    )
    record.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="REGEX",
        help="also redact every match of this pattern (as REDACTED-CUSTOM-n); repeatable",
    )
    record.add_argument(
        "--redact-key",
        action="append",
        default=[],
        metavar="KEY",
        help="also redact the values of this JSON key or query parameter (as REDACTED-ID-n); repeatable",
    )
    _add_scenarios_option(record)
    record.set_defaults(func=_cmd_record)

    verify = commands.add_parser(
        "verify-sim",
        help="replay cassettes' requests against the simulator and report where its answers differ in shape",
    )
    verify.add_argument("cassettes", nargs="+", metavar="CASSETTE", help="cassette files to check")
    _add_scenarios_option(verify)
    verify.set_defaults(func=_cmd_verify)
