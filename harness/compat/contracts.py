"""Request contracts: what each release sends per flow, read from the exchanges its matrix recorded.

Only the shape is kept (method, path with ids as `{id}`, query keys, body keys, the headers that matter);
never a value, so a token or a user's text cannot leak into a report. The recorder already redacts
`Authorization`; here it is reduced further to present or absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from simulators.coze import DEFAULT_PLATFORM

from ..matrix import Evidence, Matrix
from ..recorder import Exchange
from .model import ContractChange, Rejection, RequestShape

_ID_SEGMENT = re.compile(r"^\d{6,}$")
# Envelope codes that mean "the simulator refused this request" (bad parameter, auth, unknown resource),
# as opposed to an answer about the run itself (6039: a sync run reached an interrupt).
_REJECTION_CODES = range(4000, 5000)


def template_path(path: str) -> str:
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


def _user_agent_family(value: str | None) -> str:
    if not value:
        return "absent"
    return value.split()[0].split("/")[0].lower() or "absent"


def _header_facts(exchange: Exchange) -> dict[str, str]:
    headers = exchange.request_headers
    content_type = headers.get("content-type")
    return {
        "content-type": content_type.split(";")[0].strip() if content_type else "absent",
        "user-agent": _user_agent_family(headers.get("user-agent")),
        "x-coze-client-user-agent": "present" if headers.get("x-coze-client-user-agent") else "absent",
        "authorization": "present" if headers.get("authorization") else "absent",
    }


def _body_keys(body: str) -> tuple[set[str], set[str]]:
    """(keys, keys sent as null). Lists of objects (messages, tool outputs) are SDK models: their keys
    count as `key[].sub`. Plain objects (parameters, custom variables) hold user data: not descended."""
    if not body.strip():
        return set(), set()
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return {"<not json>"}, set()
    if not isinstance(data, dict):
        return {f"<{type(data).__name__}>"}, set()
    keys: set[str] = set()
    nulls: set[str] = set()
    for key, value in data.items():
        keys.add(key)
        if value is None:
            nulls.add(key)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    for sub, sub_value in item.items():
                        keys.add(f"{key}[].{sub}")
                        if sub_value is None:
                            nulls.add(f"{key}[].{sub}")
    return keys, nulls


def _sdk_evidence(matrix: Matrix) -> list[tuple[str, Evidence]]:
    """The evidence of the run's first platform (cloud unless only another was probed): what a release
    sends does not depend on the platform, and another platform's refusals (studio's 404s) are findings of
    the matrix, not about the release."""
    first = matrix.platforms[0] if matrix.platforms else DEFAULT_PLATFORM
    return sorted((flow, item) for flow, item in matrix.evidence.items() if item.platform == first)


def shapes(matrix: Matrix) -> list[RequestShape]:
    """One shape per (flow, path), the union over every request the flow made there."""
    merged: dict[tuple[str, str], RequestShape] = {}
    for flow, evidence in _sdk_evidence(matrix):
        for exchange in evidence.exchanges:
            url = urlsplit(exchange.url)
            path = template_path(url.path)
            shape = merged.setdefault((flow, path), RequestShape(flow=flow, path=path, methods=[]))
            keys, nulls = _body_keys(exchange.request_body)
            shape.methods = sorted(set(shape.methods) | {exchange.method})
            shape.query_keys = sorted(set(shape.query_keys) | {k for k, _ in parse_qsl(url.query, True)})
            shape.body_keys = sorted(set(shape.body_keys) | keys)
            shape.null_body_keys = sorted(set(shape.null_body_keys) | nulls)
            for name, value in _header_facts(exchange).items():
                seen = shape.headers.get(name)
                shape.headers[name] = (
                    value if seen in (None, value) else " | ".join(sorted({*seen.split(" | "), value}))
                )
            shape.requests += 1
    return list(merged.values())


def _envelope_code(exchange: Exchange) -> tuple[int | None, str]:
    if not exchange.response_headers.get("content-type", "").startswith("application/json"):
        return None, ""
    try:
        body = json.loads(exchange.response_body)
    except json.JSONDecodeError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    try:
        code = int(body.get("code") or 0)
    except (TypeError, ValueError):
        return None, ""
    return (code or None), str(body.get("msg", ""))


def rejections(version: str, matrix: Matrix) -> list[Rejection]:
    """Requests of this release that the simulator refused: a finding about the release, never a crash."""
    found: list[Rejection] = []
    for flow, evidence in _sdk_evidence(matrix):
        for exchange in evidence.exchanges:
            code, msg = _envelope_code(exchange)
            status = exchange.status
            if (status is not None and 400 <= status < 500) or (code is not None and code in _REJECTION_CODES):
                found.append(
                    Rejection(
                        version=version,
                        flow=flow,
                        method=exchange.method,
                        path=template_path(urlsplit(exchange.url).path),
                        status=status,
                        code=code,
                        msg=msg[:300],
                    )
                )
    return found


def _diff_keys(label: str, before: Iterable[str], after: Iterable[str]) -> list[str]:
    old, new = set(before), set(after)
    parts = [f"+{key}" for key in sorted(new - old)] + [f"-{key}" for key in sorted(old - new)]
    return [f"{label} {' '.join(parts)}"] if parts else []


def diff_shapes(old: RequestShape, new: RequestShape) -> list[str]:
    details: list[str] = []
    if old.methods != new.methods:
        details.append(f"method {','.join(old.methods)} -> {','.join(new.methods)}")
    details += _diff_keys("query", old.query_keys, new.query_keys)
    details += _diff_keys("body", old.body_keys, new.body_keys)
    details += _diff_keys("null in body", old.null_body_keys, new.null_body_keys)
    for name in sorted(set(old.headers) | set(new.headers)):
        before, after = old.headers.get(name, "absent"), new.headers.get(name, "absent")
        if before != after:
            details.append(f"header {name}: {before} -> {after}")
    return details


def diff_contracts(
    previous: str, version: str, old: list[RequestShape], new: list[RequestShape]
) -> list[ContractChange]:
    """How `version`'s requests differ from `previous`'s, flow by flow and endpoint by endpoint.

    A flow that one release did not run at all (its probe crashed, or it failed) is not compared:
    only endpoints of flows both releases ran count as added or removed.
    """
    old_by, new_by = {shape.key: shape for shape in old}, {shape.key: shape for shape in new}
    flows = {shape.flow for shape in old} & {shape.flow for shape in new}
    changes: list[ContractChange] = []
    for key in sorted(set(old_by) | set(new_by)):
        flow, path = key
        if flow not in flows:
            continue
        before, after = old_by.get(key), new_by.get(key)
        if before is None and after is not None:
            details = [f"{','.join(after.methods)} {path}, query {after.query_keys}, body {after.body_keys}"]
            changes.append(
                ContractChange(flow=flow, path=path, previous=previous, version=version, kind="added", details=details)
            )
        elif after is None and before is not None:
            changes.append(ContractChange(flow=flow, path=path, previous=previous, version=version, kind="removed"))
        elif before is not None and after is not None:
            details = diff_shapes(before, after)
            if details:
                changes.append(
                    ContractChange(
                        flow=flow, path=path, previous=previous, version=version, kind="changed", details=details
                    )
                )
    return changes
