"""Judging framing robustness: one spec-legal SSE framing variant against the canonical framing, as read
by one SDK (the variants and the probe: harness/probes/framing.py)."""

from __future__ import annotations

from ..drivers import Observation
from ..matrix import FramingOutcome
from ._cells import first_error

UNKNOWN_EVENTS = frozenset({"unknown", "coze.unknown", "(no event name)"})


def judge_framing(read: Observation, baseline: Observation, linger_seconds: float | None) -> tuple[FramingOutcome, str]:
    """`read` in a variant against `baseline` in the canonical framing. A stream left open for
    `linger_seconds` after its last event is run with a time limit shorter than that: an SDK that ends the
    stream at its last event returns at once, one that reads to the close runs out of time."""
    if baseline.errors or baseline.timed_out:
        return "not-run", f"the canonical stream itself failed with this SDK: {first_error(baseline)}"
    if read.timed_out and linger_seconds is not None:
        if not read.events:
            return "fails", (
                "the SDK delivered no event: it reads the whole response before the first one, so it waited for the "
                f"close ({linger_seconds:g} s after the last event)"
            )
        return "fails", (
            f"the SDK kept reading after the last event (the server closes {linger_seconds:g} s later): it ends a "
            "stream at the close, not at done"
        )
    if read.errors or read.timed_out:
        return "fails", f"the SDK raised after {len(read.events)} event(s)"
    names = read.event_names()
    known = [name for name in names if name not in UNKNOWN_EVENTS]
    expected = baseline.event_names()
    unknown = len(names) - len(known)
    extra = f"; {unknown} event(s) delivered as unknown" if unknown else ""
    if known != expected:
        return "misreads", f"events differ from the canonical stream's: {known} vs {expected}{extra}"
    if read.answer != baseline.answer:
        return "misreads", f"same events but the text differs: {read.answer!r} vs {baseline.answer!r}"
    return "survives", f"the same {len(known)} events and text as the canonical framing{extra}"
