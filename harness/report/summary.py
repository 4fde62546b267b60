"""The answer a person reads first: per platform, one sentence saying which integration modes can call
local code, which cannot and why in a few words, and the workaround.

Every word of it is computed from the cells (their verdicts, and the exception a `broken` cell's reason
names); nothing here is a verdict typed in by hand. The terminal, `report --json`, the Markdown and both
HTML pages (the capability matrix and, for the newest release, the compatibility report) all use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..matrix import PLATFORM_TITLES, Capability, Matrix, Mode, Verdict

# (verdict, reason) of one cell, or None when the run decided no such cell
Lookup = Callable[[Capability, Mode, str], "tuple[Verdict, str] | None"]

# How the sentence names the modes: a family, and the word that tells the family's members apart.
FAMILY: dict[Mode, tuple[str, str]] = {
    Mode.CHAT_STREAM: ("bot chat", "stream"),
    Mode.CHAT_POLL: ("bot chat", "poll"),
    Mode.WEBSOCKET_CHAT: ("bot chat", "websocket"),
    Mode.WORKFLOW_RUN: ("workflows", "run"),
    Mode.WORKFLOW_STREAM: ("workflows", "stream"),
    Mode.WORKFLOW_RESUME: ("workflows", "resume"),
    Mode.CHATFLOW: ("workflows", "chatflow"),
    Mode.WORKFLOW_BRIDGE: ("the HTTP bridge", ""),
}
# A mode alone in its group is named on its own when its family's name would only repeat it.
ALONE: dict[Mode, str] = {Mode.CHATFLOW: "chatflow"}

CAN, CANNOT, UNKNOWN, WORKAROUND = "can", "cannot", "unknown", "workaround"
_CLASS = {
    Verdict.SUPPORTED: CAN,
    Verdict.WORKAROUND: WORKAROUND,
    Verdict.ABSENT: CANNOT,
    Verdict.BROKEN: CANNOT,
    Verdict.UNKNOWN: UNKNOWN,
    Verdict.NOT_APPLICABLE: UNKNOWN,
}
_GAPS = (  # the parts of the local-code loop a client needs, in the order the sentence names them
    (Capability.TOOL_CALL_EVENT, "tool-call event"),
    (Capability.SUBMIT_METHOD, "submit method"),
)
_FAILING = (Verdict.ABSENT, Verdict.BROKEN)
_EXCEPTION = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Timeout))\b")


@dataclass(frozen=True)
class Group:
    """Modes of one family that reached the same conclusion for the same reason."""

    kind: str  # can, cannot, unknown or workaround
    modes: tuple[Mode, ...]
    why: str = ""

    @property
    def label(self) -> str:
        if len(self.modes) == 1 and self.modes[0] in ALONE:
            return ALONE[self.modes[0]]
        family = FAMILY[self.modes[0]][0]
        words = [FAMILY[mode][1] for mode in self.modes if FAMILY[mode][1]]
        return f"{family} ({', '.join(words)})" if words else family

    def clause(self) -> str:
        if self.kind == CAN:
            return f"{self.label} can call local code"
        if self.kind == WORKAROUND:
            return f"workaround: {self.label}, which works end to end" + (f" ({self.why})" if self.why else "")
        if self.kind == CANNOT:
            return f"{self.label} cannot: {self.why}"
        return f"{self.label}: unknown ({self.why})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "modes": [m.value for m in self.modes], "why": self.why}


@dataclass(frozen=True)
class PlatformAnswer:
    platform: str
    groups: list[Group] = field(default_factory=list)

    @property
    def title(self) -> str:
        return PLATFORM_TITLES.get(self.platform, self.platform)

    def of(self, kind: str) -> list[Group]:
        return [group for group in self.groups if group.kind == kind]

    def sentence(self) -> str:
        """One line: the modes that can, those that cannot and why, those not known, then the workaround."""
        if not self.groups:
            return f"{self.title}: no probe decided whether local code is reachable."
        order = (CAN, CANNOT, UNKNOWN, WORKAROUND)
        clauses = [group.clause() for kind in order for group in self.of(kind)]
        if not self.of(CAN):
            clauses.insert(0, "no mode calls local code directly")
        if not self.of(WORKAROUND) and self.of(CANNOT):
            clauses.append("no workaround worked")
        return f"{self.title}: " + "; ".join(clauses) + "."

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "title": self.title,
            "sentence": self.sentence(),
            "groups": [group.to_json() for group in self.groups],
        }


def _why_cannot(lookup: Lookup, mode: Mode, platform: str, verdict: Verdict, reason: str) -> str:
    if verdict is Verdict.BROKEN:
        found = _EXCEPTION.search(reason)
        return f"the flow fails ({found.group(1)})" if found else "the flow fails"
    gaps = [name for capability, name in _GAPS if (cell := lookup(capability, mode, platform)) and cell[0] in _FAILING]
    if gaps:
        return "no " + " or ".join(gaps)
    fields = lookup(Capability.TOOL_CALL_FIELDS, mode, platform)
    if fields and fields[0] in _FAILING:
        return "tool calls unreadable"
    answer = lookup(Capability.OUTPUTS_IN_ANSWER, mode, platform)
    if answer and answer[0] in _FAILING:
        return "tool outputs never reach the answer"
    return "local code is not reachable"


def _elsewhere(lookup: Lookup, modes: Sequence[Mode], platform: str, platforms: Sequence[str]) -> str:
    """Another platform of the same run where every one of `modes` reaches local code: then the same SDK
    can, and this platform is why it cannot."""
    for other in platforms:
        if other != platform and all(
            (cell := lookup(Capability.LOCAL_CODE, mode, other)) is not None and cell[0] is Verdict.SUPPORTED
            for mode in modes
        ):
            return PLATFORM_TITLES.get(other, other)
    return ""


def answer_for(lookup: Lookup, platform: str, platforms: Sequence[str], sdk: str = "cozepy") -> PlatformAnswer:
    """The answer on `platform`, from the `local-code-reachable` cells and the loop's parts (`lookup`)."""
    keyed: dict[tuple[str, str, str], list[Mode]] = {}
    for mode in Mode:
        cell = lookup(Capability.LOCAL_CODE, mode, platform)
        if cell is None:
            continue
        verdict, reason = cell
        kind = _CLASS[verdict]
        why = ""
        if kind == CANNOT:
            why = _why_cannot(lookup, mode, platform, verdict, reason)
        elif kind == UNKNOWN:
            why = "the platform's behaviour is not known" if verdict is Verdict.UNKNOWN else "not applicable"
        keyed.setdefault((kind, FAMILY[mode][0], why), []).append(mode)
    groups = []
    for (kind, _family, why), modes in keyed.items():
        if kind == CANNOT and (other := _elsewhere(lookup, modes, platform, platforms)):
            why += f" here (the same {sdk} can on {other})"
        groups.append(Group(kind=kind, modes=tuple(modes), why=why))
    return PlatformAnswer(platform=platform, groups=groups)


def matrix_lookup(matrix: Matrix) -> Lookup:
    def lookup(capability: Capability, mode: Mode, platform: str) -> tuple[Verdict, str] | None:
        cell = matrix.cell(capability, mode, platform)
        return (cell.verdict, cell.reason) if cell is not None else None

    return lookup


def answers(matrix: Matrix) -> list[PlatformAnswer]:
    """One answer per platform of the run, in run order."""
    lookup = matrix_lookup(matrix)
    return [answer_for(lookup, platform, matrix.platforms, matrix.sdk) for platform in matrix.platforms]


def headline(matrix: Matrix) -> str:
    label = f" ({matrix.sdk_label})" if matrix.sdk_label else ""
    return f"Can {matrix.sdk} {matrix.sdk_version}{label} call your local code?"


def summary_json(matrix: Matrix, **extra: Any) -> dict[str, Any]:
    """`coze-harness report --json`: the answer, each platform's verdict per mode and capability, and `extra`
    (crashes, `--expect` differences, files written)."""
    return {
        "sdk": matrix.sdk,
        "sdk_version": matrix.sdk_version,
        "sdk_label": matrix.sdk_label,
        "question": headline(matrix),
        "platforms": [
            {
                **answer.to_json(),
                "verdicts": {
                    mode.value: {
                        cell.capability.value: cell.verdict.value
                        for cell in matrix.cells
                        if cell.platform == answer.platform and cell.mode == mode
                    }
                    for mode in matrix.modes(answer.platform)
                },
            }
            for answer in answers(matrix)
        ],
        **extra,
    }
