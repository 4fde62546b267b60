"""Hypothesis strategies for property tests of Coze code: tool calls, tool outputs, event sequences, scenarios.

Everything here builds plain data in the shapes the simulator's scenario files accept
(`simulators.coze.scenarios`), so a drawn value can be written as a YAML or JSON file, loaded into a
`Catalogue`, or fed to `BotScenario.model_validate`:

- `texts()` / `large_texts()`: Unicode text (no lone surrogates; no `{{`, which scenario strings
  read as a placeholder). `large_texts()` gives tens of kilobytes cheaply.
- `json_values()`: any JSON value (nested objects and arrays, Unicode keys, integers within 2**53,
  finite floats).
- `tool_names()`, `tool_arguments()`, `tool_calls()`: a call as a bot scenario writes it:
  `{"name", "arguments", "key"?}`; `tool_outputs()`: what a local tool answers (text, a JSON
  document, or a large text).
- `bot_scenarios()` / `workflow_scenarios()` / `scenario_files()`: whole scenario files.
- `local_plugin_cases()`: a local-plugin bot (many calls, many rounds) with the output each call
  should get and an answer quoting every output, to check that outputs make the round trip.
- `chat_event_sequences()` / `workflow_event_sequences()`: scenarios paired with the events the
  simulator must emit for them (`EventSequence`), to compare SSE parsers on what it sends.

By default no text contains U+0085, U+2028 or U+2029 (`LINE_SEPARATORS`). The simulator sends JSON
with those characters raw, as `ensure_ascii=False` encoders do; SSE does not treat them as line
ends, but httpx's `iter_lines` (0.24 to 0.28 at least), which cozepy reads streams with, splits lines
at them. Pass `line_separators=True` to draw them anyway.

Needs `hypothesis` (a test dependency of coze-harness).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "LINE_SEPARATORS",
    "EventSequence",
    "LocalPluginCase",
    "bot_scenarios",
    "chat_event_sequences",
    "coze_ids",
    "json_values",
    "large_texts",
    "local_plugin_cases",
    "scenario_files",
    "texts",
    "tool_arguments",
    "tool_calls",
    "tool_names",
    "tool_outputs",
    "workflow_event_sequences",
    "workflow_scenarios",
]

LINE_SEPARATORS = "\x85\u2028\u2029"
"""Characters `str.splitlines` (and so httpx's `iter_lines`) ends a line at, but SSE does not."""

_NAME_START = string.ascii_letters + "_"
_NAME_REST = string.ascii_letters + string.digits + "_-"
_MAX_SAFE_INT = 2**53


def _no_placeholders(text: str) -> str:
    while "{{" in text:
        text = text.replace("{{", "{ {")
    return text


def texts(*, min_size: int = 0, max_size: int = 40, line_separators: bool = False) -> st.SearchStrategy[str]:
    """Unicode text of any script, control characters included; never a lone surrogate or `{{`."""
    excluded = "" if line_separators else LINE_SEPARATORS
    alphabet = st.characters(codec="utf-8", exclude_characters=excluded)  # utf-8: no lone surrogates
    return st.text(alphabet, min_size=min_size, max_size=max_size).map(_no_placeholders)


def large_texts(
    *, min_chars: int = 2_000, max_chars: int = 40_000, line_separators: bool = False
) -> st.SearchStrategy[str]:
    """Long Unicode text, built by repeating a short drawn piece (drawing every character is slow)."""

    def build(piece: str, length: int) -> str:
        return _no_placeholders((piece * (length // len(piece) + 1))[:length])

    piece = texts(min_size=1, max_size=24, line_separators=line_separators)
    return st.builds(build, piece, st.integers(min_chars, max_chars))


def _sometimes(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 8) -> st.SearchStrategy[Any]:
    """`usual`, but `rare` once in about `one_in` draws (an even `|` would make every other value huge)."""
    return st.integers(1, one_in).flatmap(lambda n: rare if n == 1 else usual)


def coze_ids(prefix: str = "73") -> st.SearchStrategy[str]:
    """A 19-digit decimal id, as Coze writes bot, workflow and chat ids."""
    return st.integers(0, 10 ** (19 - len(prefix)) - 1).map(lambda n: f"{prefix}{n:0{19 - len(prefix)}d}")


def tool_names(*, max_size: int = 32) -> st.SearchStrategy[str]:
    """A name a local tool and a scenario's tool call may both carry: `[A-Za-z_][A-Za-z0-9_-]*`."""
    return st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_NAME_START),
        st.text(st.sampled_from(_NAME_REST), max_size=max_size - 1),
    )


def json_values(*, max_leaves: int = 12, line_separators: bool = False) -> st.SearchStrategy[Any]:
    """Any JSON value: null, booleans, integers within +-2**53, finite floats, Unicode strings, nesting."""
    text = texts(max_size=30, line_separators=line_separators)
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-_MAX_SAFE_INT, _MAX_SAFE_INT)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=max_leaves,
    )


def tool_arguments(
    *, max_keys: int = 5, large: bool = True, line_separators: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """A call's arguments: a JSON object with Unicode keys; with `large`, sometimes a value of tens of KB."""
    keys = texts(min_size=1, max_size=20, line_separators=line_separators)
    values = json_values(line_separators=line_separators)
    if large:
        values = _sometimes(values, large_texts(line_separators=line_separators))
    return st.dictionaries(keys, values, max_size=max_keys)


def tool_calls(
    *, names: st.SearchStrategy[str] | None = None, large: bool = True, line_separators: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """One call as a bot scenario's round lists it: `{"name": ..., "arguments": {...}}`."""
    return st.fixed_dictionaries(
        {
            "name": names if names is not None else tool_names(),
            "arguments": tool_arguments(large=large, line_separators=line_separators),
        }
    )


def tool_outputs(*, large: bool = True, line_separators: bool = False) -> st.SearchStrategy[str]:
    """What a local tool answers (`submit_tool_outputs` takes a string): text, a JSON document, or long text."""
    from json import dumps

    options = texts(max_size=60, line_separators=line_separators) | json_values(line_separators=line_separators).map(
        lambda value: dumps(value, ensure_ascii=False)
    )
    if large:
        options = _sometimes(options, large_texts(line_separators=line_separators))
    return options


# --- whole scenarios ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalPluginCase:
    """A local-plugin bot and what a correct client run of it gives.

    `outputs[key]` is what the call with that `key` must be answered with (a test's tool returns it);
    the bot's answer quotes every output, so `expected_answer(user)` is the final answer when every
    output arrived intact.
    """

    scenario: dict[str, Any]
    outputs: dict[str, str]
    user: str

    @property
    def bot_id(self) -> str:
        return str(self.scenario["id"])

    @property
    def calls(self) -> list[dict[str, Any]]:
        return [call for round_ in self.scenario["rounds"] for call in round_["tool_calls"]]

    def expected_answer(self) -> str:
        return _answer_of(self.user, list(self.outputs.items()))


def _answer_template(keys: list[str]) -> str:
    return "user=«{{ user }}»" + "".join(f" [{key}]«{{{{ output.{key} }}}}»" for key in keys)


def _answer_of(user: str, outputs: list[tuple[str, str]]) -> str:
    return f"user=«{user}»" + "".join(f" [{key}]«{value}»" for key, value in outputs)


@st.composite
def local_plugin_cases(
    draw: st.DrawFn,
    *,
    tool_pool: tuple[str, ...] = ("lookup", "render", "save_draft"),
    max_rounds: int = 4,
    max_calls: int = 4,
    large: bool = True,
    line_separators: bool = False,
) -> LocalPluginCase:
    """A bot asking for `max_calls` calls per round over `max_rounds` rounds, tools named from
    `tool_pool`, with Unicode and (with `large`) very long arguments and outputs."""
    rounds: list[dict[str, Any]] = []
    outputs: dict[str, str] = {}
    for number in range(draw(st.integers(1, max_rounds))):
        calls = []
        for index in range(draw(st.integers(1, max_calls))):
            key = f"r{number}c{index}"
            arguments = draw(tool_arguments(max_keys=3, large=large, line_separators=line_separators))
            calls.append({"name": draw(st.sampled_from(tool_pool)), "key": key, "arguments": arguments})
            outputs[key] = draw(tool_outputs(large=large, line_separators=line_separators))
        rounds.append({"tool_calls": calls})
    user = draw(texts(min_size=1, max_size=30, line_separators=line_separators))
    # The answer quotes every output: keep it to a few hundred deltas however long the outputs are.
    answer_chars = len(user) + sum(len(key) + len(value) + 8 for key, value in outputs.items())
    chunk_size = max(draw(st.integers(1, 64)), answer_chars // 300 + 1)
    scenario = {
        "kind": "bot",
        "id": draw(coze_ids()),
        "name": "generated-local-plugin-bot",
        "description": "generated by harness.strategies.local_plugin_cases",
        "rounds": rounds,
        "answer": _answer_template(list(outputs)),
        "chunk_size": chunk_size,
    }
    return LocalPluginCase(scenario=scenario, outputs=outputs, user=user)


@st.composite
def bot_scenarios(
    draw: st.DrawFn, *, max_rounds: int = 3, max_calls: int = 3, line_separators: bool = False
) -> dict[str, Any]:
    """A bot scenario file: an answer quoting the user (and, with rounds, every output), or a failure."""
    if draw(st.booleans()):
        case = draw(
            local_plugin_cases(max_rounds=max_rounds, max_calls=max_calls, large=False, line_separators=line_separators)
        )
        return case.scenario
    scenario: dict[str, Any] = {
        "kind": "bot",
        "id": draw(coze_ids()),
        "name": draw(texts(min_size=1, max_size=20, line_separators=line_separators)),
        "description": draw(texts(max_size=40, line_separators=line_separators)),
        "chunk_size": draw(st.integers(1, 32)),
    }
    if draw(st.booleans()):
        scenario["answer"] = draw(texts(max_size=60, line_separators=line_separators)) + " {{ user }}"
    else:
        scenario["fail"] = {
            "code": draw(st.integers(1, 2**31 - 1)),
            "msg": draw(texts(min_size=1, max_size=40, line_separators=line_separators)),
            "partial_answer": draw(texts(max_size=40, line_separators=line_separators)),
        }
    return scenario


def _message_node(content: str, chunk_size: int) -> dict[str, Any]:
    return {"kind": "message", "title": "Message", "content": content, "chunk_size": chunk_size}


@st.composite
def workflow_scenarios(
    draw: st.DrawFn, *, kind: str = "workflow", max_nodes: int = 5, line_separators: bool = False
) -> dict[str, Any]:
    """A workflow (or chatflow) scenario file: message nodes, then an end node with a JSON output, or an error."""
    text = texts(min_size=1, max_size=60, line_separators=line_separators)
    nodes: list[dict[str, Any]] = [
        _message_node(draw(text), draw(st.integers(1, 32))) for _ in range(draw(st.integers(0, max_nodes - 1)))
    ]
    if draw(st.integers(0, 3)) == 0:
        nodes.append({"kind": "error", "title": "Fail", "code": draw(st.integers(1, 2**31 - 1)), "message": draw(text)})
    else:
        output = draw(
            st.dictionaries(texts(min_size=1, max_size=10), json_values(line_separators=line_separators), max_size=4)
        )
        nodes.append({"kind": "end", "output": output})
    return {
        "kind": kind,
        "id": draw(coze_ids("74")),
        "name": draw(text),
        "description": draw(texts(max_size=40, line_separators=line_separators)),
        "nodes": nodes,
    }


def scenario_files(*, line_separators: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Any scenario file the simulator loads: a bot, a workflow or a chatflow."""
    return (
        bot_scenarios(line_separators=line_separators)
        | workflow_scenarios(line_separators=line_separators)
        | workflow_scenarios(kind="chatflow", line_separators=line_separators)
    )


# --- event sequences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSequence:
    """A scenario and events the simulator must send for it, in order.

    `kind` is `chat` (a bot; `user` is the message to send) or `workflow`. `expected` lists
    `(event name, fields its data must have)` for the events the scenario determines; a parser of
    the stream must find them in this order (the simulator may send others in between, such as
    `conversation.message.completed` or the end node's `Message`).
    """

    kind: str
    scenario: dict[str, Any]
    user: str = ""
    expected: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


@st.composite
def chat_event_sequences(draw: st.DrawFn, *, line_separators: bool = False) -> EventSequence:
    """A chat stream: created, in_progress, the answer's deltas (of `chunk_size` characters), then
    `conversation.chat.completed`, or `conversation.chat.failed` after a partial answer."""
    text = texts(min_size=1, max_size=80, line_separators=line_separators)
    chunk_size = draw(st.integers(1, 16))
    user = draw(texts(min_size=1, max_size=20, line_separators=line_separators))
    scenario: dict[str, Any] = {
        "kind": "bot",
        "id": draw(coze_ids()),
        "name": "generated-chat",
        "description": "generated by harness.strategies.chat_event_sequences",
        "chunk_size": chunk_size,
    }
    expected: list[tuple[str, dict[str, Any]]] = [
        ("conversation.chat.created", {"status": "created"}),
        ("conversation.chat.in_progress", {"status": "in_progress"}),
    ]
    if draw(st.booleans()):
        prefix = draw(text)
        scenario["answer"] = prefix + "{{ user }}"
        answer = prefix + user
        expected += [("conversation.message.delta", {"content": piece}) for piece in _pieces(answer, chunk_size)]
        expected.append(("conversation.chat.completed", {"status": "completed"}))
    else:
        partial = draw(text)
        code = draw(st.integers(1, 2**31 - 1))
        scenario["fail"] = {"code": code, "msg": draw(text), "partial_answer": partial}
        expected += [("conversation.message.delta", {"content": piece}) for piece in _pieces(partial, chunk_size)]
        expected.append(("conversation.chat.failed", {"status": "failed"}))
    return EventSequence(kind="chat", scenario=scenario, user=user, expected=expected)


@st.composite
def workflow_event_sequences(draw: st.DrawFn, *, line_separators: bool = False) -> EventSequence:
    """A workflow stream: `Message` events (each node's content in `chunk_size` pieces, `node_seq_id`
    counting from 0), then the end node's `Message` and `Done`, or an `Error`."""
    text = texts(min_size=1, max_size=60, line_separators=line_separators)
    nodes: list[dict[str, Any]] = []
    expected: list[tuple[str, dict[str, Any]]] = []
    for _ in range(draw(st.integers(0, 4))):
        content, chunk_size = draw(text), draw(st.integers(1, 24))
        nodes.append(_message_node(content, chunk_size))
        expected += [
            ("Message", {"content": piece, "node_seq_id": str(seq)})
            for seq, piece in enumerate(_pieces(content, chunk_size))
        ]
    if draw(st.booleans()):
        code, message = draw(st.integers(1, 2**31 - 1)), draw(text)
        nodes.append({"kind": "error", "title": "Fail", "code": code, "message": message})
        expected.append(("Error", {"error_code": code, "error_message": message}))
    else:
        nodes.append({"kind": "end", "output": {"output": draw(text)}})
        expected.append(("Done", {}))
    scenario = {
        "kind": "workflow",
        "id": draw(coze_ids("74")),
        "name": "generated-workflow",
        "description": "generated by harness.strategies.workflow_event_sequences",
        "nodes": nodes,
    }
    return EventSequence(kind="workflow", scenario=scenario, expected=expected)
