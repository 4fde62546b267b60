"""`verify-sim`: replay a cassette's requests against the simulator and compare the answers' shape.

This is how the simulator stays true to the platform: record real Coze traffic once, then check
that the simulator, asked the same things, answers with the same kind of stream. Values are not
compared (ids, timestamps and texts differ by nature); shape is:

- the HTTP status, and whether the answer is a stream or a JSON body;
- a stream's event names in order, each run of repeats counted once (how many deltas a message
  takes depends on its text, not on the protocol; positions in messages count runs, too), and a
  reordering is called one;
- per event name, the fields of its data (dotted paths, `[]` for list items) and their JSON types
  (null, bool, int, float, str, object, array); a workflow event's `id:` line is the field `(id)`;
- a JSON body's fields and types the same way.

Requests are sent as recorded, except for ids: an id the cassette's flow was given is swapped for
the simulator's scenario id for that role, and an id first seen in a recorded answer (a chat id, a
tool call id, an interrupt's event id) is swapped for the one the simulator answered at the same
place, so a recorded conversation can be followed on the simulator. A cassette recorded from the
simulator is replayed with the seed it was recorded with, so there the ids agree anyway.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from pydantic import BaseModel, Field

from ..streams import SseEvent, parse_sse
from .flows import FLOWS
from .model import Cassette, CassetteError, Interaction, RecordedResponse, load
from .redaction import PSEUDONYM

if TYPE_CHECKING:
    from simulators.coze import Catalogue

# The simulator is imported where it is used, not here: `harness.cassettes` is imported by every test in
# cassette mode, which replays with no simulator, and the simulator's import is most of that import.

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_MISSING = object()


class Difference(BaseModel):
    interaction: int
    request: str = Field(description="METHOD PATH of the recorded request")
    message: str

    def line(self) -> str:
        return f"#{self.interaction} {self.request}: {self.message}"


class Verification(BaseModel):
    """One cassette against the simulator."""

    cassette: str
    interactions: int = 0
    streams: int = 0
    events: int = 0
    differences: list[Difference] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


# --- shapes -------------------------------------------------------------------------------------


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "array"
    return "object"


Shape = dict[str, set[str]]


def shape_of(value: Any, path: str = "", out: Shape | None = None) -> Shape:
    """Every dotted path in a JSON value and the types found there."""
    out = {} if out is None else out
    out.setdefault(path or "(top)", set()).add(_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            shape_of(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for item in value:
            shape_of(item, f"{path}[]", out)
    return out


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _MISSING


def _event_shape(events: Iterable[SseEvent]) -> Shape:
    shape: Shape = {}
    for event in events:
        data = _parse(event.data)
        if data is _MISSING:
            shape.setdefault("(data)", set()).add("text")
        else:
            shape_of(data, "", shape)
        if event.id is not None:
            shape.setdefault("(id)", set()).add("present")
    return shape


def _topmost(paths: set[str]) -> list[str]:
    """Drop a path when its parent is in the set too: a missing object is one difference, not one per field."""

    def parents(path: str) -> Iterable[str]:
        for index, char in enumerate(path):
            if char in ".[" and index:
                yield path[:index]

    return sorted(path for path in paths if not any(parent in paths for parent in parents(path)))


def compare_shapes(recorded: Shape, simulated: Shape, where: str) -> list[str]:
    out: list[str] = []
    for path in _topmost(set(recorded) - set(simulated)):
        out.append(f"{where} field '{path}': recorded has it, the simulator does not send it")
    for path in _topmost(set(simulated) - set(recorded)):
        out.append(f"{where} field '{path}': the simulator sends it, the recording does not have it")
    for path in sorted(set(recorded) & set(simulated)):
        if recorded[path] != simulated[path]:
            out.append(
                f"{where} field '{path}': recorded {'|'.join(sorted(recorded[path]))}, "
                f"simulator {'|'.join(sorted(simulated[path]))}"
            )
    return out


def _groups(events: list[SseEvent]) -> list[tuple[str, list[SseEvent]]]:
    groups: list[tuple[str, list[SseEvent]]] = []
    for event in events:
        if groups and groups[-1][0] == event.event:
            groups[-1][1].append(event)
        else:
            groups.append((event.event, [event]))
    return groups


def _occurrences(groups: list[tuple[str, list[SseEvent]]]) -> dict[tuple[str, int], list[SseEvent]]:
    seen: Counter[str] = Counter()
    keyed: dict[tuple[str, int], list[SseEvent]] = {}
    for name, events in groups:
        keyed[(name, seen[name])] = events
        seen[name] += 1
    return keyed


def compare_streams(recorded: list[SseEvent], simulated: list[SseEvent]) -> list[str]:
    out: list[str] = []
    left, right = _groups(recorded), _groups(simulated)
    left_names, right_names = [name for name, _ in left], [name for name, _ in right]
    if left_names != right_names:
        if Counter(left_names) == Counter(right_names):
            out.append(f"events reordered: recorded {' > '.join(left_names)}; simulator {' > '.join(right_names)}")
        else:
            matcher = difflib.SequenceMatcher(a=left_names, b=right_names, autojunk=False)
            for tag, a0, a1, b0, b1 in matcher.get_opcodes():
                if tag == "replace":
                    out.append(
                        f"event {a0}: recorded {', '.join(map(repr, left_names[a0:a1]))}, "
                        f"simulator {', '.join(map(repr, right_names[b0:b1]))}"
                    )
                elif tag == "delete":
                    out.append(
                        f"event {a0}: recorded {', '.join(map(repr, left_names[a0:a1]))}, not in the simulator's stream"
                    )
                elif tag == "insert":
                    out.append(
                        f"event {a0}: the simulator sends {', '.join(map(repr, right_names[b0:b1]))}, not recorded"
                    )
    left_keyed, right_keyed = _occurrences(left), _occurrences(right)
    for key in left_keyed:
        if key in right_keyed:
            where = f"event '{key[0]}'" + (f" (occurrence {key[1] + 1})" if key[1] else "")
            out += compare_shapes(_event_shape(left_keyed[key]), _event_shape(right_keyed[key]), where)
    return out


def compare_responses(recorded: RecordedResponse, status: int, content_type: str, data: bytes) -> list[str]:
    out: list[str] = []
    if recorded.status.code != status:
        out.append(f"status: recorded {recorded.status.code}, simulator {status}")
    simulated_stream = content_type.split(";")[0].strip().lower() == "text/event-stream"
    if recorded.is_event_stream != simulated_stream:
        kinds = {True: "a stream", False: "a JSON body"}
        out.append(f"answer: recorded {kinds[recorded.is_event_stream]}, simulator {kinds[simulated_stream]}")
        return out
    if simulated_stream:
        recorded_events = parse_sse(recorded.body.data.decode("utf-8", "replace"))
        return out + compare_streams(recorded_events, parse_sse(data.decode("utf-8", "replace")))
    left, right = _parse(recorded.body.data.decode("utf-8", "replace")), _parse(data.decode("utf-8", "replace"))
    if left is _MISSING or right is _MISSING:
        if (left is _MISSING) != (right is _MISSING):
            kinds = {True: "text", False: "JSON"}
            out.append(f"body: recorded {kinds[left is _MISSING]}, simulator {kinds[right is _MISSING]}")
        return out
    return out + compare_shapes(shape_of(left), shape_of(right), "body")


# --- following ids ------------------------------------------------------------------------------


def _is_id_key(key: str) -> bool:
    return key == "id" or key.endswith("_id")


def learn_ids(recorded: Any, simulated: Any, ids: dict[str, str]) -> None:
    """Map each id in a recorded answer to the simulator's id at the same place."""
    if isinstance(recorded, dict) and isinstance(simulated, dict):
        for key, value in recorded.items():
            other = simulated.get(key, _MISSING)
            if (
                _is_id_key(str(key))
                and isinstance(value, str)
                and isinstance(other, str)
                and value
                and value != other
                and not PSEUDONYM.fullmatch(value)
            ):
                ids.setdefault(value, other)
            elif other is not _MISSING:
                learn_ids(value, other, ids)
    elif isinstance(recorded, list) and isinstance(simulated, list):
        for left, right in zip(recorded, simulated, strict=False):
            learn_ids(left, right, ids)
    elif isinstance(recorded, str) and isinstance(simulated, str) and recorded[:1] in "{[":
        left, right = _parse(recorded), _parse(simulated)
        if left is not _MISSING and right is not _MISSING:
            learn_ids(left, right, ids)


def _learn_from_answer(recorded: RecordedResponse, data: bytes, ids: dict[str, str]) -> None:
    text = data.decode("utf-8", "replace")
    if recorded.is_event_stream:
        left = _occurrences(
            [(event.event, [event]) for event in parse_sse(recorded.body.data.decode("utf-8", "replace"))]
        )
        right = _occurrences([(event.event, [event]) for event in parse_sse(text)])
        for key, events in left.items():
            if key in right:
                learn_ids(_parse(events[0].data), _parse(right[key][0].data), ids)
        return
    learn_ids(_parse(recorded.body.data.decode("utf-8", "replace")), _parse(text), ids)


def _swap(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _swap(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_swap(item, ids) for item in value]
    if isinstance(value, str):
        return ids.get(value, value)
    return value


def rewrite_request(interaction: Interaction, ids: dict[str, str]) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path?query, headers, body) to send the simulator, recorded ids swapped for its ids."""
    request = interaction.request
    parts = urlsplit(request.uri)
    path = "/".join(ids.get(segment, segment) for segment in parts.path.split("/"))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    swapped = [(key, ids.get(value, value)) for key, value in pairs]
    query = urlencode(swapped) if swapped != pairs else parts.query
    target = path + (f"?{query}" if parts.query else "")
    body = request.content  # sent as recorded unless an id in it has to change
    parsed = _parse(request.body) if request.body else _MISSING
    if parsed is not _MISSING and _swap(parsed, ids) != parsed:
        body = json.dumps(_swap(parsed, ids), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    from simulators.coze import DEFAULT_TOKEN

    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    content_type = request.headers.get("content-type")
    if content_type:
        headers["Content-Type"] = content_type[0]
    return request.method, target, headers, body


# --- the command's job --------------------------------------------------------------------------


def _flow_ids(cassette: Cassette) -> dict[str, str]:
    info = cassette.coze_harness
    flow = FLOWS.get(info.flow or "")
    if flow is None:
        return {}
    return {
        recorded: flow.roles[role]
        for role, recorded in info.ids.items()
        if role in flow.roles and recorded != flow.roles[role]
    }


def verify_cassette(cassette: Cassette, name: str = "<cassette>", catalogue: Catalogue | None = None) -> Verification:
    """Send every recorded request to a fresh simulator and compare each answer's shape."""
    from simulators.coze import SimConfig, create_app, running

    info = cassette.coze_harness
    config = SimConfig() if info.simulator_seed is None else SimConfig(seed=info.simulator_seed)
    result = Verification(cassette=name, interactions=len(cassette.interactions))
    ids = _flow_ids(cassette)
    with running(create_app(catalogue, config)) as sim, httpx.Client(base_url=sim.base_url, timeout=TIMEOUT) as client:
        for index, interaction in enumerate(cassette.interactions):
            method, target, headers, body = rewrite_request(interaction, ids)
            label = f"{interaction.request.method} {urlsplit(interaction.request.uri).path}"
            try:
                with client.stream(method, target, headers=headers, content=body) as response:
                    data = b"".join(response.iter_raw())
                    status, content_type = response.status_code, response.headers.get("content-type", "")
            except httpx.HTTPError as exc:
                result.differences.append(
                    Difference(interaction=index, request=label, message=f"the simulator did not answer: {exc!r}")
                )
                continue
            recorded = interaction.response
            if recorded.is_event_stream:
                result.streams += 1
                result.events += len(parse_sse(recorded.body.data.decode("utf-8", "replace")))
            for message in compare_responses(recorded, status, content_type, data):
                result.differences.append(Difference(interaction=index, request=label, message=message))
            _learn_from_answer(recorded, data, ids)
    return result


def verify_files(paths: Iterable[Path | str], catalogue: Catalogue | None = None) -> list[Verification | CassetteError]:
    """Each cassette's verification, or the error that kept it from being read."""
    results: list[Verification | CassetteError] = []
    for path in paths:
        try:
            cassette = load(path)
        except CassetteError as exc:
            results.append(exc)
            continue
        results.append(verify_cassette(cassette, str(path), catalogue))
    return results
