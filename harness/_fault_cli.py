"""`coze-harness serve` options for faults and framing variants applied to every stream.

Each flag sets one field of `simulators.coze.faults.Faults` (or the framing); a scenario file's
own `faults:` / `framing:` block still wins for that scenario.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from simulators.coze import FRAMING_VARIANTS as VARIANTS
from simulators.coze import ExponentialDelay, Faults, Framing, UniformDelay
from simulators.coze import combined_framing as combined


def parse_delay(text: str) -> float | UniformDelay | ExponentialDelay:
    """`0.2` (fixed), `uniform:0.1,0.5` or `exp:0.2` (mean; capped at 60 s)."""
    kind, _, rest = text.partition(":")
    try:
        if not rest:
            return float(kind)
        if kind == "uniform":
            low, high = (float(part) for part in rest.split(","))
            return UniformDelay(uniform=(low, high))
        if kind in ("exp", "exponential"):
            return ExponentialDelay(exponential=float(rest))
    except (ValueError, ValidationError) as exc:
        raise argparse.ArgumentTypeError(f"bad delay {text!r}: {exc}") from None
    raise argparse.ArgumentTypeError(f"bad delay {text!r}: use SECONDS, uniform:LOW,HIGH or exp:MEAN")


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("faults and framing variants, on every stream (see README)")
    group.add_argument("--fault-seed", type=int, default=None, metavar="N", help="seed for drawn latencies")
    group.add_argument("--first-byte-delay", type=parse_delay, metavar="DELAY", help="latency before the first byte")
    group.add_argument(
        "--latency",
        type=parse_delay,
        metavar="DELAY",
        help="latency between events: SECONDS, uniform:LO,HI or exp:MEAN",
    )
    group.add_argument("--reset-after", type=int, metavar="N", help="close the connection mid-body after N events")
    group.add_argument("--stall-after", type=int, metavar="N", help="after N events send nothing for --stall-seconds")
    group.add_argument("--stall-seconds", type=float, default=30.0, metavar="S", help="length of a stall (default 30)")
    group.add_argument(
        "--truncate-final-frame", type=int, metavar="BYTES", help="send only the first BYTES of the last event"
    )
    group.add_argument("--malformed-json", type=int, metavar="N", help="event N's data: is broken JSON")
    group.add_argument("--error-after", type=int, metavar="N", help="after N events send an error event and end")
    group.add_argument("--http-error", type=int, metavar="STATUS", help="refuse stream and run requests with this 5xx")
    group.add_argument(
        "--rate-limit",
        type=int,
        nargs="?",
        const=0,
        metavar="TIMES",
        help="refuse requests with 4013 / HTTP 429 (the first TIMES only, if given)",
    )
    group.add_argument(
        "--framing",
        action="append",
        default=[],
        metavar="VARIANT",
        help=f"a spec-legal framing variant; repeatable: {', '.join(VARIANTS)}",
    )


def faults_of(args: argparse.Namespace) -> Faults | None:
    fields: dict[str, Any] = {}
    if args.first_byte_delay is not None or args.latency is not None:
        fields["latency"] = {"first_byte": args.first_byte_delay or 0.0, "between_events": args.latency or 0.0}
    if args.fault_seed is not None:
        fields["seed"] = args.fault_seed
    if args.reset_after is not None:
        fields["reset_after_events"] = args.reset_after
    if args.stall_after is not None:
        fields["stall"] = {"after_events": args.stall_after, "seconds": args.stall_seconds}
    if args.truncate_final_frame is not None:
        fields["truncate_final_frame"] = {"keep_bytes": args.truncate_final_frame}
    if args.malformed_json is not None:
        fields["malformed_json"] = {"event": args.malformed_json}
    if args.error_after is not None:
        fields["error_event"] = {"after_events": args.error_after}
    if args.http_error is not None:
        fields["http_error"] = {"status": args.http_error}
    if args.rate_limit is not None:
        fields["rate_limit"] = {"times": args.rate_limit or None}
    if not fields:
        return None
    try:
        return Faults.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors())
        raise ValueError(f"bad fault option: {problems}") from None


def framing_of(args: argparse.Namespace) -> Framing | None:
    names = [name.strip() for item in args.framing for name in item.split(",") if name.strip()]
    return combined(names) if names else None
