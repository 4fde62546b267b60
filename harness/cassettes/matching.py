"""Does a live request match a recorded one? Method, path, query and JSON body, key order free.

Headers, scheme, host and port are not compared: a cassette recorded against the simulator on
some loopback port, or against api.coze.com, replays for a client pointed anywhere, and the SDK's
user-agent may change between releases without changing what was asked.

A pseudonym (`REDACTED-USER-1`) in a recorded value is a variable: it matches any text, and
`Bindings` makes it match the same text for the rest of the replay, so a redacted user id still has
to be the same user id in every request. A string is compared as a template, so a recorded
`"hi REDACTED-CUSTOM-1"` matches a sent `"hi Zephyr-77"`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .model import RecordedRequest
from .redaction import PSEUDONYM

Bindings = dict[str, str]
"""Pseudonym -> the live text it stood for, kept for a whole replay."""

_MISSING = object()


def _template(recorded: str, bindings: Mapping[str, str]) -> tuple[re.Pattern[str], list[str]]:
    pattern = ""
    groups: list[str] = []
    last = 0
    for match in PSEUDONYM.finditer(recorded):
        pattern += re.escape(recorded[last : match.start()])
        name = match.group(0)
        if name in bindings:
            pattern += re.escape(bindings[name])
        elif name in groups:
            pattern += f"(?P=g{groups.index(name)})"
        else:
            pattern += f"(?P<g{len(groups)}>.+?)"
            groups.append(name)
        last = match.end()
    pattern += re.escape(recorded[last:])
    return re.compile(pattern, re.DOTALL), groups


def match_text(recorded: str, live: str, bindings: Bindings) -> bool:
    """Equal text, pseudonyms standing for whatever they are (or were already) bound to; binds on success."""
    if "REDACTED-" not in recorded:
        return recorded == live
    regex, groups = _template(recorded, bindings)
    found = regex.fullmatch(live)
    if found is None:
        return False
    for index, name in enumerate(groups):
        bindings[name] = found.group(f"g{index}")
    return True


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_differences(recorded: Any, live: Any, path: str, bindings: Bindings, out: list[str]) -> None:
    if isinstance(recorded, dict) and isinstance(live, dict):
        for key in recorded:
            if key not in live:
                out.append(f"{path}.{key}: recorded {_short(recorded[key])}, not sent")
        for key in live:
            if key not in recorded:
                out.append(f"{path}.{key}: sent {_short(live[key])}, not recorded")
        for key in recorded:
            if key in live:
                _json_differences(recorded[key], live[key], f"{path}.{key}", bindings, out)
        return
    if isinstance(recorded, list) and isinstance(live, list):
        if len(recorded) != len(live):
            out.append(f"{path}: recorded {len(recorded)} items, sent {len(live)}")
            return
        for index, (left, right) in enumerate(zip(recorded, live, strict=True)):
            _json_differences(left, right, f"{path}[{index}]", bindings, out)
        return
    if isinstance(recorded, str) and isinstance(live, str):
        if not match_text(recorded, live, bindings):
            out.append(f"{path}: recorded {_short(recorded)}, sent {_short(live)}")
        return
    # bool is an int in Python: compare types too, so true never matches 1.
    if type(recorded) is not type(live) or recorded != live:
        out.append(f"{path}: recorded {_short(recorded)}, sent {_short(live)}")


def _parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return _MISSING


def body_differences(recorded: bytes, live: bytes, bindings: Bindings) -> list[str]:
    """JSON bodies compare as data (key order free); anything else as text."""
    if not recorded.strip() and not live.strip():
        return []
    left, right = _parse_json(recorded), _parse_json(live)
    out: list[str] = []
    if left is not _MISSING and right is not _MISSING:
        _json_differences(left, right, "body $", bindings, out)
        return out
    if not match_text(recorded.decode("utf-8", "replace"), live.decode("utf-8", "replace"), bindings):
        out.append(f"body: recorded {_short(recorded.decode('utf-8', 'replace'))}, sent {_short(live.decode())}")
    return out


def _query(query: str) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return grouped


def query_differences(recorded: str, live: str, bindings: Bindings) -> list[str]:
    """Query parameters compare by name (order free); repeated names in the order given."""
    left, right = _query(recorded), _query(live)
    out: list[str] = []
    for key in sorted(left.keys() | right.keys()):
        if key not in right:
            out.append(f"query {key}: recorded {left[key]}, not sent")
        elif key not in left:
            out.append(f"query {key}: sent {right[key]}, not recorded")
        elif len(left[key]) != len(right[key]) or not all(
            match_text(a, b, bindings) for a, b in zip(left[key], right[key], strict=True)
        ):
            out.append(f"query {key}: recorded {left[key]}, sent {right[key]}")
    return out


def request_differences(recorded: RecordedRequest, method: str, url: str, body: bytes, bindings: Bindings) -> list[str]:
    """Why a live request does not match a recorded one (empty: it matches).

    `bindings` is only updated when everything matches, so a near miss binds nothing.
    """
    trial = dict(bindings)
    out: list[str] = []
    if recorded.method.upper() != method.upper():
        out.append(f"method: recorded {recorded.method}, sent {method}")
    recorded_url, live_url = urlsplit(recorded.uri), urlsplit(url)
    if not match_text(unquote(recorded_url.path), unquote(live_url.path), trial):
        out.append(f"path: recorded {recorded_url.path}, sent {live_url.path}")
    out += query_differences(recorded_url.query, live_url.query, trial)
    out += body_differences(recorded.content, body, trial)
    if not out:
        bindings.update(trial)
    return out
