"""What a scenario file may say: bots, workflows and chatflows, as pydantic models.

Scenarios are data. A user adds a bot or a workflow by dropping a YAML or JSON file in a folder; a
file that is wrong fails at load time naming the file, the place inside it and what to fix, so no
mistake in a scenario surfaces later as a confusing stream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ._yaml import YAMLError, load_yaml
from .engines.templates import references, references_in
from .faults import Faults
from .framing import Framing

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"

CozeId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,18}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")]
DEFAULT_SPACE_ID = "7439000000000000001"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- bots -------------------------------------------------------------------------------------


class ToolCallSpec(_Strict):
    """One call the bot asks the client to run; `arguments` string values may quote earlier outputs."""

    name: Name
    key: Name | None = Field(None, description="how the answer refers to this call's output; defaults to name")
    arguments: dict[str, Any] = Field(default_factory=dict)

    @property
    def output_key(self) -> str:
        return self.key or self.name


class ToolRound(_Strict):
    tool_calls: list[ToolCallSpec] = Field(min_length=1)


class ChatFailure(_Strict):
    code: int = Field(5000, gt=0)
    msg: str
    partial_answer: str = Field("", description="text streamed as deltas before the chat fails")


def derived_id(*parts: str) -> str:
    """A stable 19-digit id for something a scenario declares without an id (a plugin, a tool): the same
    file gives the same ids in every run, as the catalogue's own ids are."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return str(7_300_000_000_000_000_000 + int.from_bytes(digest[:8], "big") % 200_000_000_000_000_000)


class ToolDeclaration(_Strict):
    """A local-plugin tool the bot offers: shown by bot retrieve (`plugin_info_list[].api_info_list`) and
    checked against the bot's tool calls at load time (names, argument keys, required arguments)."""

    name: Name
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments: an object schema whose `properties` name every argument",
    )
    api_id: CozeId = Field("0", description="the tool's id on the wire; derived from the bot and name if omitted")

    @model_validator(mode="after")
    def _check_schema(self) -> ToolDeclaration:
        schema = self.parameters
        if schema.get("type", "object") != "object" or not isinstance(schema.get("properties", {}), dict):
            raise ValueError(f"tool {self.name}: parameters must be an object schema with a 'properties' mapping")
        required = schema.get("required", [])
        if not isinstance(required, list) or any(key not in schema.get("properties", {}) for key in required):
            raise ValueError(f"tool {self.name}: parameters.required must list names from parameters.properties")
        return self

    def check_call(self, call: ToolCallSpec, where: str) -> None:
        properties = self.parameters.get("properties", {})
        unknown = sorted(set(call.arguments) - set(properties))
        if unknown:
            raise ValueError(f"{where}: argument(s) {unknown} are not declared in tool {self.name}'s parameters")
        missing = sorted(set(self.parameters.get("required", [])) - set(call.arguments))
        if missing:
            raise ValueError(f"{where}: required argument(s) {missing} of tool {self.name} are missing")


class BotScenario(_Strict):
    kind: Literal["bot"]
    id: CozeId
    name: str
    description: str
    space_id: CozeId = Field(DEFAULT_SPACE_ID, description="the space the bot is published in (bots list)")
    owner_user_id: CozeId = Field("7390000000000000001", description="who owns it (bots list, 0.18+)")
    prompt: str = Field("", description="prompt_info.prompt, as bot retrieve shows it")
    prologue: str = Field("", description="onboarding_info.prologue, as bot retrieve shows it")
    suggested_questions: list[str] = Field(default_factory=list, description="onboarding_info.suggested_questions")
    tools: list[ToolDeclaration] = Field(
        default_factory=list,
        description="the local-plugin tools it offers (name, description, parameter schema); when given, every "
        "tool call must name one of them, with declared arguments",
    )
    answer: str = Field("", description="final answer template: {{ user }}, {{ output.KEY }}, {{ var.NAME }}")
    rounds: list[ToolRound] = Field(default_factory=list, description="tool-call rounds before the answer")
    fail: ChatFailure | None = None
    chunk_size: int = Field(8, gt=0, description="characters per message delta")
    faults: Faults | None = Field(None, description="faults for this bot's streams and requests")
    framing: Framing | None = Field(None, description="a spec-legal SSE framing variant for this bot's streams")

    @property
    def plugin_id(self) -> str:
        """The id of the one plugin holding this bot's tools."""
        return derived_id(self.id, "plugin")

    def declared_tools(self) -> list[ToolDeclaration]:
        """The tools bot retrieve shows: those declared, else one per tool name its rounds call (no
        description, no parameters), each with its wire id."""
        tools = list(self.tools)
        if not tools:
            names = dict.fromkeys(call.name for r in self.rounds for call in r.tool_calls)
            tools = [ToolDeclaration(name=name) for name in names]
        return [
            tool if tool.api_id != "0" else tool.model_copy(update={"api_id": derived_id(self.id, "tool", tool.name)})
            for tool in tools
        ]

    @model_validator(mode="after")
    def _check_references(self) -> BotScenario:
        keys: list[str] = []
        declared = {tool.name: tool for tool in self.tools}
        if len(declared) != len(self.tools):
            raise ValueError("tools: names must be unique")
        for number, tool_round in enumerate(self.rounds):
            for call in tool_round.tool_calls:
                if declared:
                    tool = declared.get(call.name)
                    if tool is None:
                        raise ValueError(
                            f"rounds[{number}]: tool call {call.name} names no declared tool; declared: "
                            f"{', '.join(declared)}"
                        )
                    tool.check_call(call, f"rounds[{number}] {call.name}")
                for path in references_in(call.arguments):
                    _check_bot_path(path, keys, f"rounds[{number}] {call.name}.arguments")
            round_keys = [call.output_key for call in tool_round.tool_calls]
            duplicates = {key for key in round_keys if round_keys.count(key) > 1 or key in keys}
            if duplicates:
                raise ValueError(f"rounds[{number}]: output key(s) {sorted(duplicates)} used twice; give calls a 'key'")
            keys.extend(round_keys)
        for path in references(self.answer):
            _check_bot_path(path, keys, "answer")
        if self.fail is None and not self.answer:
            raise ValueError("a bot needs an 'answer' (or 'fail' for a bot whose chat fails)")
        return self


def _check_bot_path(path: list[str], known_outputs: Iterable[str], where: str) -> None:
    head = path[0]
    if head == "user" and len(path) == 1:
        return
    if head in ("var", "param", "file", "files") and len(path) >= 2:
        return
    if head == "history" and len(path) >= 2 and path[1] in ("count", "text", "messages"):
        return  # the conversation's current section (engines.bots.history_context)
    if head == "output" and len(path) >= 2:
        if path[1] not in known_outputs:
            raise ValueError(f"{where}: '{{{{ {'.'.join(path)} }}}}' names no output of an earlier tool call")
        return
    raise ValueError(
        f"{where}: unknown placeholder '{{{{ {'.'.join(path)} }}}}'; use user, output.KEY, var.NAME, param.NAME, "
        "file.FIELD or files.N.FIELD"
    )


# --- workflows --------------------------------------------------------------------------------

ParameterType = Literal["string", "integer", "number", "boolean", "object", "array", "file"]
"""`file`: a string holding `{"file_id": "..."}` of an upload (workflow_run.md) or a file URL; quoted as
`{{ file.NAME.* }}` (files.parameter_files)."""


def type_matches(kind: str, value: Any) -> bool:
    """Whether a JSON value has a declared parameter or form-field type (a bool is not a number)."""
    if kind in ("string", "file"):
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


class Parameter(_Strict):
    """One input of the workflow's start node; a run that misses a required one, or sends a wrong type, gets 4000."""

    type: ParameterType = "string"
    required: bool = True
    default: Any = None
    description: str = ""

    @model_validator(mode="after")
    def _check_default(self) -> Parameter:
        if self.default is not None and not type_matches(self.type, self.default):
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        return self


class _NodeBase(_Strict):
    title: str
    node_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")] | None = Field(
        None, description="the node's id on the wire (Message.node_id); defaults to one derived from its position"
    )


class MessageNode(_NodeBase):
    """Streams `content` as `Message` events of `chunk_size` characters (chat deltas in a chatflow)."""

    kind: Literal["message"]
    content: str
    chunk_size: int = Field(8, gt=0)


class QuestionNode(_NodeBase):
    """Sends its question as a `Message`, then interrupts with type 2; the answer is `answer.<save_as>`."""

    kind: Literal["question"]
    question: str
    options: list[str] = Field(default_factory=list)
    save_as: Name


class InputField(_Strict):
    name: Name
    type: Literal["string", "integer", "number", "boolean"] = "string"
    required: bool = True
    description: str = ""


class InputNode(_NodeBase):
    """Interrupts with type 5 and a form schema; the resume data (a JSON object) is `answer.<save_as>`."""

    kind: Literal["input"]
    fields: list[InputField] = Field(min_length=1)
    save_as: Name

    @model_validator(mode="after")
    def _unique_fields(self) -> InputNode:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"fields: names must be unique, got {names}")
        return self


class HttpNode(_NodeBase):
    """A real outbound request; its JSON response is stored under `node.<save_as>`.

    Timeouts, connection failures, non-2xx answers and non-JSON bodies fail the node with
    `error_code`; a JSON answer `{"success": false, "error_code": N, "message": "..."}` (how plugins
    report errors) fails it with the answer's own code and message.
    """

    kind: Literal["http"]
    url: str = Field(description="http(s) URL; may be a template such as '{{ param.url }}'")
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, description="JSON body (POST) or query parameters (GET); templates allowed")
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    save_as: Name
    error_code: int = Field(720701004, gt=0, description="error code when the call itself fails")

    @model_validator(mode="after")
    def _check_url(self) -> HttpNode:
        if "{{" not in self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must start with http:// or https:// (or be a template)")
        return self


class WaitNode(_NodeBase):
    """Takes `seconds` of real time: how long runs, PING keep-alives and timeouts are exercised."""

    kind: Literal["wait"]
    seconds: float = Field(gt=0, le=600)


class ErrorNode(_NodeBase):
    """Fails the run: a workflow `Error` event, a failed run history, a `conversation.chat.failed`."""

    kind: Literal["error"]
    code: int = Field(gt=0)
    message: str


class EndNode(_NodeBase):
    """The run's output: `output` rendered and sent as a JSON string; a chatflow answers with `answer`."""

    kind: Literal["end"]
    title: str = "End"
    output: dict[str, Any] = Field(default_factory=dict)
    answer: str = Field("", description="chatflows: the reply text (default: the output as JSON)")
    chunk_size: int = Field(8, gt=0, description="chatflows: characters per message delta")


class ToolInterruptNode(_NodeBase):
    """Simulated platform behaviour, for probes: an Interrupt of a reserved type carrying a tool call.

    Types 1 (LocalPlugin) and 6 (WorkflowLocalPlugin) exist in the platform's IDL but no Coze server is
    known to send them on a workflow stream. The probes use this node to show what an SDK does if one
    ever did. The resume data is stored under `answer.<save_as>`. In a chatflow it is an end-side plugin,
    which cloud surfaces as `requires_action` with the tool call and whose outputs it refuses
    (coze-dev/coze-py#303; routes/chatflow_pause.py).
    """

    kind: Literal["tool_interrupt"]
    interrupt_type: Literal[1, 6]
    tool: Name
    arguments: dict[str, Any] = Field(default_factory=dict)
    save_as: Name


class RawEventNode(_NodeBase):
    """Simulated platform behaviour, for probes: one event of any name on a workflow stream."""

    kind: Literal["raw_event"]
    event: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]+$")]
    data: dict[str, Any] = Field(default_factory=dict)


Node = Annotated[
    MessageNode
    | QuestionNode
    | InputNode
    | HttpNode
    | WaitNode
    | ErrorNode
    | EndNode
    | ToolInterruptNode
    | RawEventNode,
    Field(discriminator="kind"),
]

END_NODE_ID = "900001"


class WorkflowScenario(_Strict):
    kind: Literal["workflow", "chatflow"]
    id: CozeId
    name: str
    description: str
    space_id: CozeId = Field(DEFAULT_SPACE_ID, description="the space the workflow lives in (debug_url)")
    parameters: dict[Name, Parameter] = Field(default_factory=dict)
    nodes: list[Node] = Field(min_length=1)
    published: bool = True
    time_limit_seconds: float | None = Field(
        None, gt=0, le=3600, description="a run segment taking longer fails with 6023"
    )
    ping_interval_seconds: float | None = Field(
        None, gt=0, description="send PING events this often while a node waits (workflow streams only)"
    )
    faults: Faults | None = Field(None, description="faults for this workflow's streams and requests")
    framing: Framing | None = Field(None, description="a spec-legal SSE framing variant for this workflow's streams")

    def node_id(self, index: int) -> str:
        """The wire id of node `index`: its declared id, 900001 for the end node, else 100002 onwards."""
        node = self.nodes[index]
        if node.node_id is not None:
            return node.node_id
        return END_NODE_ID if isinstance(node, EndNode) else str(100002 + index)

    @model_validator(mode="after")
    def _check_nodes(self) -> WorkflowScenario:
        saved: dict[str, str] = {}
        last = self.nodes[-1]
        if not isinstance(last, EndNode | ErrorNode):
            raise ValueError("nodes: the last node must be of kind 'end' or 'error'")
        ids = [self.node_id(index) for index in range(len(self.nodes))]
        if len(set(ids)) != len(ids):
            raise ValueError(f"nodes: node ids must be unique, got {ids}")
        for number, node in enumerate(self.nodes):
            if isinstance(node, EndNode) and number != len(self.nodes) - 1:
                raise ValueError(f"nodes[{number}]: an 'end' node must be the last node")
            if self.kind == "chatflow" and isinstance(node, RawEventNode):
                raise ValueError(
                    f"nodes[{number}]: chatflows cannot hold {node.kind} nodes: those shape workflow events, "
                    "and a chatflow speaks chat events"
                )
            for path in references_in(node.model_dump(exclude={"kind", "title", "save_as", "node_id"})):
                self._check_path(path, saved, f"nodes[{number}] ({node.kind})")
            save_as = getattr(node, "save_as", None)
            if save_as is not None:
                namespace = "node" if isinstance(node, HttpNode) else "answer"
                if save_as in saved:
                    raise ValueError(f"nodes[{number}]: save_as '{save_as}' is already used by an earlier node")
                saved[save_as] = namespace
        return self

    @property
    def asks(self) -> bool:
        """Whether a run can pause for the user (a question or input node)."""
        return any(isinstance(node, QuestionNode | InputNode) for node in self.nodes)

    def _check_path(self, path: list[str], saved: dict[str, str], where: str) -> None:
        head, rest = path[0], path[1:]
        text = "{{ " + ".".join(path) + " }}"
        if head == "param" and rest:
            if rest[0] not in self.parameters:
                raise ValueError(f"{where}: '{text}' names no declared parameter; add it under 'parameters'")
            return
        if head == "file" and len(rest) >= 2:
            if rest[0] not in self.parameters or self.parameters[rest[0]].type != "file":
                raise ValueError(f"{where}: '{text}' names no parameter of type file; declare it with 'type: file'")
            return
        if head in ("answer", "node") and rest:
            if saved.get(rest[0]) != head:
                raise ValueError(f"{where}: '{text}' names no earlier node saved as '{rest[0]}' in '{head}'")
            return
        if head == "user" and not rest and self.kind == "chatflow":
            return
        raise ValueError(f"{where}: unknown placeholder '{text}'; use param.NAME, answer.NAME or node.NAME")


Scenario = Annotated[BotScenario | WorkflowScenario, Field(discriminator="kind")]


class _Document(BaseModel):
    scenario: Scenario


# --- loading ----------------------------------------------------------------------------------


class ScenarioFileError(ValueError):
    """A scenario file that cannot be used, with where and why; `problems` holds each problem on its own
    (`FILE: at PLACE: what is wrong`), as `coze-harness scenario validate` prints them."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc[1:]:  # loc[0] is the wrapper field
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("bot", "workflow", "chatflow") and not parts:
            continue  # the discriminator tag pydantic inserts
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def load_file(path: Path) -> BotScenario | WorkflowScenario:
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, YAMLError) as exc:
        raise ScenarioFileError(f"{path}: cannot read: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioFileError(f"{path}: the top level must be a mapping with a 'kind' (bot, workflow, chatflow)")
    try:
        return _Document.model_validate({"scenario": raw}).scenario
    except ValidationError as exc:
        problems = [f"at {_location(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ScenarioFileError(f"{path}: {'; '.join(problems)}", [f"{path}: {p}" for p in problems]) from None


class Catalogue(BaseModel):
    """Every scenario the simulator serves, by id."""

    model_config = ConfigDict(frozen=True)

    bots: dict[str, BotScenario] = Field(default_factory=dict)
    workflows: dict[str, WorkflowScenario] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict, description="scenario id -> file it came from")

    @classmethod
    def load(cls, *folders: Path) -> Catalogue:
        """Load every `*.yaml`, `*.yml` and `*.json` file in the folders; ids must be unique across all."""
        bots: dict[str, BotScenario] = {}
        workflows: dict[str, WorkflowScenario] = {}
        sources: dict[str, str] = {}
        for folder in folders:
            if not folder.is_dir():
                raise ScenarioFileError(f"{folder}: not a folder of scenario files")
            files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
            for file in files:
                scenario = load_file(file)
                if scenario.id in sources:
                    raise ScenarioFileError(f"{file}: id {scenario.id} is already used by {sources[scenario.id]}")
                sources[scenario.id] = str(file)
                if isinstance(scenario, BotScenario):
                    bots[scenario.id] = scenario
                else:
                    workflows[scenario.id] = scenario
        return cls(bots=bots, workflows=workflows, sources=sources)

    @classmethod
    def builtin(cls) -> Catalogue:
        return cls.load(BUILTIN_DIR)

    def entries(self) -> list[dict[str, str]]:
        """One row per scenario: what `coze-harness catalogue --json` prints."""
        rows = [{"id": b.id, "kind": b.kind, "name": b.name, "description": b.description} for b in self.bots.values()]
        rows += [
            {"id": w.id, "kind": w.kind, "name": w.name, "description": w.description} for w in self.workflows.values()
        ]
        return sorted(rows, key=lambda row: (row["kind"], row["name"]))
