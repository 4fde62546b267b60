"""Running a workflow scenario: its nodes, one after another, as an async stream of engine events.

The engine knows nothing of framing. The routes turn its events into workflow SSE frames, chat
frames (chatflows) or one JSON envelope (sync and async runs). It is an async generator so that an
http node makes its real request while the stream is open and a wait node really waits, with PING
keep-alives in between when the scenario asks for them.

State changes happen under the store lock in small synchronous steps; the lock is never held across
an `await` or a `yield`, so a client may resume while the stream that interrupted is still open.
Every wait is bounded: wait nodes by their `seconds`, http nodes by their timeout, and both by the
scenario's time limit.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import ssl
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from .. import wire
from ..envelope import Code, bad_request, dumps, not_found
from ..ids import Clock, IdSource
from ..inputs import NotJson, parse_json, parse_json_object
from ..scenarios import (
    EndNode,
    ErrorNode,
    HttpNode,
    InputNode,
    MessageNode,
    Node,
    QuestionNode,
    RawEventNode,
    ToolInterruptNode,
    WaitNode,
    WorkflowScenario,
    type_matches,
)
from ..store import ExecutionRecord, NodeRun, PendingInterrupt, Store
from .templates import TemplateError, render, render_value

T = TypeVar("T")
_log = logging.getLogger("simulators.coze")


@functools.cache
def _tls() -> ssl.SSLContext:
    """The SSL context of an http node's client, made once: httpx makes one per client otherwise, loading
    the certificate bundle (about 50 ms) on the simulator's event loop for every node that runs."""
    return httpx.create_ssl_context(trust_env=False)


INTERRUPT_QUESTION = 2
INTERRUPT_INPUT = 5
NODE_FAILED = 720701013  # the platform's "workflow execution failure" code, for scenario values that cannot render
CANCELED = 5000
DEFAULT_CONNECTOR_UID = "7439000000000000002"
MAX_HTTP_RESPONSE_BYTES = 1 << 20

_NODE_TYPES: dict[str, str] = {"message": "Message", "question": "Question", "end": "End"}


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeMessage:
    """One chunk of a node's answer output; `seq` counts per node from 0."""

    node_title: str
    node_id: str
    node_type: str
    seq: int
    content: str
    is_finish: bool
    usage: dict[str, int] | None = None


@dataclass(frozen=True)
class Interrupted:
    """The run paused at a question (type 2) or input (type 5) node; the segment ends here."""

    event_id: str
    type: int
    data: str
    node_title: str


@dataclass(frozen=True)
class Failed:
    code: int
    message: str


@dataclass(frozen=True)
class Finished:
    """The end node ran: `output` is the run's output (a JSON string; a chatflow's answer text)."""

    output: str


@dataclass(frozen=True)
class Ping:
    """A keep-alive while a node waits; only when the scenario sets `ping_interval_seconds`."""


@dataclass(frozen=True)
class RawEvent:
    """An event a scenario spells out by hand (probes of tool-call-shaped events); `data` is JSON."""

    event: str
    data: str


FlowEvent = NodeMessage | Interrupted | Failed | Finished | Ping | RawEvent
Terminal = Interrupted | Failed | Finished


class _NodeFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _TimedOut(Exception):
    pass


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _as_code(value: Any, fallback: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return fallback


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _query_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else dumps(value)


# --- the engine -------------------------------------------------------------------------------


class FlowEngine:
    """Starts, runs and resumes executions; one per simulator, shared by all workflow routes."""

    def __init__(
        self,
        store: Store,
        ids: IdSource,
        clock: Clock,
        debug_url_base: str,
        allow_http_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self._store = store
        self._ids = ids
        self._clock = clock
        self._debug_url_base = debug_url_base
        self._allow_http_hosts = frozenset(host.lower().rstrip(".") for host in allow_http_hosts)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- before a run --------------------------------------------------------------------------

    def debug_url(self, workflow: WorkflowScenario, execute_id: str) -> str:
        return f"{self._debug_url_base}?execute_id={execute_id}&space_id={workflow.space_id}&workflow_id={workflow.id}"

    @staticmethod
    def check_parameters(workflow: WorkflowScenario, raw: Any) -> dict[str, Any]:
        """The run's parameters: declared ones checked (present when required, of the right type) and
        defaulted; undeclared ones kept, as the platform ignores them. Mistakes are 4000 naming the key.
        """
        if raw is None:
            given: dict[str, Any] = {}
        elif isinstance(raw, dict):
            given = raw
        elif isinstance(raw, str):  # some clients send the object JSON-encoded; the platform accepts it
            given = parse_json_object(raw, "parameters (a JSON-encoded string)") if raw.strip() else {}
        else:
            raise bad_request(f"parameters must be a JSON object of the workflow's inputs, not {type(raw).__name__}")
        result = dict(given)
        for name, spec in workflow.parameters.items():
            value = given.get(name)
            if value is None:
                if spec.default is not None:
                    result[name] = spec.default
                elif spec.required:
                    raise bad_request(
                        f"parameters.{name} is required by workflow {workflow.id} ({workflow.name}); "
                        f"send it as a {spec.type}" + (f": {spec.description}" if spec.description else "")
                    )
                continue
            if not type_matches(spec.type, value):
                raise bad_request(
                    f"parameters.{name} must be of type {spec.type}, got {type(value).__name__} {dumps(value)}"
                )
        return result

    def start(
        self,
        workflow: WorkflowScenario,
        *,
        parameters: dict[str, Any],
        run_mode: int,
        logid: str,
        bot_id: str | None = None,
        ext: dict[str, Any] | None = None,
        user_message: str = "",
    ) -> ExecutionRecord:
        """A new execution, recorded as Running before any node runs (so run histories can find it)."""
        execute_id = self._ids.new_id()
        now = self._clock.now()
        user_id = (ext or {}).get("user_id")
        execution = ExecutionRecord(
            id=execute_id,
            workflow_id=workflow.id,
            space_id=workflow.space_id,
            run_mode=run_mode,
            bot_id=bot_id or "0",
            connector_uid=user_id if isinstance(user_id, str) and user_id else DEFAULT_CONNECTOR_UID,
            logid=logid,
            debug_url=self.debug_url(workflow, execute_id),
            create_time=now,
            update_time=now,
            parameters=parameters,
            user_message=user_message,
        )
        execution.usage.input_count = len(dumps(parameters)) + len(user_message)
        with self._store.lock:
            self._store.executions[execute_id] = execution
        return execution

    def claim_resume(
        self, workflow: WorkflowScenario, event_id: str, interrupt_type: int, resume_data: str
    ) -> ExecutionRecord:
        """Validate a resume whole, then move the execution past its interrupt, atomically.

        Two racing resumes of one interrupt give one continuation and one 4000.
        """
        exec_id, _, event = event_id.partition("/")
        if not (exec_id.isdigit() and event.isdigit()):
            raise bad_request(
                f"event_id {event_id!r} is not EXECUTE_ID/EVENT_ID; pass interrupt.interrupt_data.event_id unchanged"
            )
        with self._store.lock:
            execution = self._store.executions.get(exec_id)
            if execution is None:
                raise bad_request(
                    f"event_id {event_id}: execution {exec_id} does not exist; resume only event ids this "
                    "server sent in an Interrupt event"
                )
            if execution.workflow_id != workflow.id:
                raise bad_request(
                    f"event_id {event_id} belongs to workflow {execution.workflow_id}, not {workflow.id}; "
                    "send the workflow_id of the run that was interrupted"
                )
            if event_id in execution.resumed_events:
                raise bad_request(
                    f"event_id {event_id} was already resumed (execution {exec_id} is now "
                    f"{execution.status}); each interrupt is resumed once: use the event_id of the latest Interrupt"
                )
            if execution.finished:
                raise bad_request(
                    f"execution {exec_id} already finished ({execution.status}) and cannot be resumed; "
                    "start a new run with stream_run"
                )
            pending = execution.pending
            if pending is None or pending.event_id != event_id:
                raise bad_request(
                    f"event_id {event_id} is not the interrupt execution {exec_id} waits on; "
                    "pass interrupt.interrupt_data.event_id of its latest Interrupt event"
                )
            if interrupt_type != pending.type:
                raise bad_request(
                    f"interrupt_type {interrupt_type} does not match the interrupt (type {pending.type}); "
                    "pass interrupt.interrupt_data.type unchanged"
                )
            node = workflow.nodes[pending.node_index]
            assert isinstance(node, QuestionNode | InputNode | ToolInterruptNode)
            answer = self._answer(node, resume_data) if isinstance(node, InputNode) else resume_data
            execution.answers[node.save_as] = answer
            self._node_ran(execution, workflow, pending.node_index, dumps({node.save_as: answer}), finished=True)
            execution.resumed_events.add(event_id)
            execution.pending = None
            execution.next_node = pending.node_index + 1
            execution.status = "Running"
            execution.update_time = self._clock.now()
            execution.usage.input_count += len(resume_data)
            return execution

    @staticmethod
    def _answer(node: InputNode, resume_data: str) -> dict[str, Any]:
        """An input node's answer: a JSON object with every required field, each of its declared type."""
        try:
            value = parse_json(resume_data, "resume_data")
        except NotJson:
            value = None
        if not isinstance(value, dict):
            names = ", ".join(f.name for f in node.fields)
            raise bad_request(
                f"resume_data for input node '{node.title}' must be a JSON object string with the fields {names}"
            )
        for spec in node.fields:
            if spec.name not in value or value[spec.name] is None:
                if spec.required:
                    raise bad_request(f"resume_data.{spec.name} is required by input node '{node.title}'")
                continue
            if not type_matches(spec.type, value[spec.name]):
                raise bad_request(
                    f"resume_data.{spec.name} must be of type {spec.type}, got {type(value[spec.name]).__name__}"
                )
        return value

    # -- running -------------------------------------------------------------------------------

    async def run(self, workflow: WorkflowScenario, execution: ExecutionRecord) -> AsyncGenerator[FlowEvent, None]:
        """Run from `execution.next_node` until the end, a failure, an interrupt or the time limit.

        The last event is always terminal (Finished, Failed or Interrupted) unless the consumer stops
        early; then the execution fails, unless another segment (a resume) has taken it over.
        """
        loop = asyncio.get_running_loop()
        deadline = None if workflow.time_limit_seconds is None else loop.time() + workflow.time_limit_seconds
        with self._store.lock:
            execution.segment += 1
            segment = execution.segment
        settled = False
        try:
            while True:
                with self._store.lock:
                    index = execution.next_node
                node = workflow.nodes[index]
                said: list[str] = []
                try:
                    if deadline is not None and loop.time() >= deadline:
                        raise _TimedOut
                    async with aclosing(self._node(workflow, execution, index, node, deadline)) as steps:
                        async for event in steps:
                            if isinstance(event, NodeMessage):
                                said.append(event.content)
                            if isinstance(event, Interrupted | Finished):
                                settled = True  # the node settled the execution before this event
                                with self._store.lock:
                                    output = execution.output if isinstance(event, Finished) else ""
                                    self._node_ran(
                                        execution, workflow, index, output, finished=isinstance(event, Finished)
                                    )
                            yield event
                except _NodeFailure as failure:
                    settled = True
                    yield self._settle_failure(execution, failure.code, failure.message)
                except _TimedOut:
                    settled = True
                    limit = workflow.time_limit_seconds
                    yield self._settle_failure(
                        execution,
                        Code.WORKFLOW_TIMEOUT,
                        f"workflow {workflow.id} ({workflow.name}) timed out: it ran past its {limit:g} s time limit",
                    )
                if settled:
                    return
                with self._store.lock:
                    saved = getattr(node, "save_as", None)
                    result = execution.node_outputs.get(saved) if saved else None
                    self._node_ran(
                        execution, workflow, index, dumps({"output": "".join(said)} if said else result or {})
                    )
                    execution.next_node = index + 1
                    execution.update_time = self._clock.now()
        finally:
            if not settled:
                with self._store.lock:
                    if execution.segment == segment and execution.status == "Running":
                        execution.status = "Fail"
                        execution.error = (CANCELED, "the run stopped: the client closed the stream before it ended")
                        execution.update_time = self._clock.now()

    async def outcome(self, workflow: WorkflowScenario, execution: ExecutionRecord) -> Terminal:
        """Run to the first terminal event, ignoring the streamed output (sync and async runs)."""
        async with aclosing(self.run(workflow, execution)) as events:
            async for event in events:
                if isinstance(event, Interrupted | Failed | Finished):
                    return event
        raise AssertionError("a run always ends with a terminal event")

    def fail(self, execution: ExecutionRecord, code: int, message: str) -> None:
        """Settle an execution from outside, e.g. a synchronous run that reached an interrupt."""
        with self._store.lock:
            execution.pending = None
            execution.status = "Fail"
            execution.error = (int(code), message)
            execution.update_time = self._clock.now()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run an async execution in the background; the engine keeps the task alive until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def history(self, workflow_id: str, execute_id: str) -> dict[str, Any]:
        with self._store.lock:
            return wire.run_history(self._execution(workflow_id, execute_id))

    def node_history(self, workflow_id: str, execute_id: str, node_execute_uuid: str) -> dict[str, Any]:
        """One node run of an execution (`/execute_nodes/{uuid}`); 4200 naming where to find the uuid."""
        with self._store.lock:
            run = self._execution(workflow_id, execute_id).node_runs.get(node_execute_uuid)
            if run is None:
                raise not_found(
                    f"node execution {node_execute_uuid} of execution {execute_id} does not exist; use a "
                    "node_execute_uuid from the run history's node_execute_status"
                )
            return wire.node_execute_history(run)

    def _execution(self, workflow_id: str, execute_id: str) -> ExecutionRecord:
        execution = self._store.executions.get(execute_id)
        if execution is None or execution.workflow_id != workflow_id:
            raise not_found(
                f"execution {execute_id} of workflow {workflow_id} does not exist; use the execute_id "
                "that /v1/workflow/run returned"
            )
        return execution

    # -- nodes ---------------------------------------------------------------------------------

    def _context(self, execution: ExecutionRecord) -> dict[str, Any]:
        with self._store.lock:
            return {
                "param": dict(execution.parameters),
                "answer": dict(execution.answers),
                "node": dict(execution.node_outputs),
                "user": execution.user_message,
                "file": dict(execution.files),
            }

    def _render(self, node: Node, template: str, context: dict[str, Any], code: int = NODE_FAILED) -> str:
        try:
            return render(template, context)
        except TemplateError as exc:
            raise _NodeFailure(code, f"node '{node.title}' failed: {exc}") from None

    def _render_value(self, node: Node, value: Any, context: dict[str, Any], code: int = NODE_FAILED) -> Any:
        try:
            return render_value(value, context)
        except TemplateError as exc:
            raise _NodeFailure(code, f"node '{node.title}' failed: {exc}") from None

    async def _node(
        self, workflow: WorkflowScenario, execution: ExecutionRecord, index: int, node: Node, deadline: float | None
    ) -> AsyncGenerator[FlowEvent, None]:
        context = self._context(execution)
        node_id = workflow.node_id(index)
        if isinstance(node, MessageNode):
            text = self._render(node, node.content, context)
            pieces = _chunks(text, node.chunk_size)
            with self._store.lock:
                execution.usage.output_count += len(text)
            for seq, piece in enumerate(pieces):
                yield NodeMessage(node.title, node_id, _NODE_TYPES["message"], seq, piece, seq == len(pieces) - 1)
        elif isinstance(node, QuestionNode):
            text = self._render(node, node.question, context)
            with self._store.lock:
                execution.usage.output_count += len(text)
            yield NodeMessage(node.title, node_id, _NODE_TYPES["question"], 0, text, True)
            content: Any = {"options": [{"name": o} for o in node.options], "question": text} if node.options else text
            message = {"type": "question", "content_type": "option" if node.options else "text", "content": content}
            data = dumps({"messages": [{**message, "id": f"{node_id}_0"}]})
            yield self._interrupt(execution, index, INTERRUPT_QUESTION, data, node.title)
        elif isinstance(node, InputNode):
            schema = [f.model_dump() for f in node.fields]
            data = dumps({"content_type": "form_schema", "content": dumps(schema)})
            yield self._interrupt(execution, index, INTERRUPT_INPUT, data, node.title)
        elif isinstance(node, ToolInterruptNode):
            arguments = dumps(self._render_value(node, node.arguments, context))
            call = {
                "id": self._ids.new_id(),
                "type": "function",
                "function": {"name": node.tool, "arguments": arguments},
            }
            yield self._interrupt(execution, index, node.interrupt_type, dumps({"tool_calls": [call]}), node.title)
        elif isinstance(node, RawEventNode):
            yield RawEvent(node.event, dumps(self._render_value(node, node.data, context)))
        elif isinstance(node, WaitNode):
            sleep = asyncio.ensure_future(asyncio.sleep(node.seconds))
            async with aclosing(self._keepalive(workflow, sleep, deadline)) as pings:
                async for ping in pings:
                    yield ping
        elif isinstance(node, HttpNode):
            url = self._render(node, node.url, context, node.error_code)
            headers = {k: self._render(node, v, context, node.error_code) for k, v in node.headers.items()}
            body = self._render_value(node, node.body, context, node.error_code)
            task = asyncio.ensure_future(self._http_call(node, url, headers, body, self._allow_http_hosts))
            async with aclosing(self._keepalive(workflow, task, deadline)) as pings:
                async for ping in pings:
                    yield ping
            result = task.result()
            with self._store.lock:
                execution.node_outputs[node.save_as] = result
        elif isinstance(node, ErrorNode):
            raise _NodeFailure(node.code, self._render(node, node.message, context))
        else:
            async for event in self._end(workflow, execution, node_id, node, context):
                yield event

    async def _end(
        self,
        workflow: WorkflowScenario,
        execution: ExecutionRecord,
        node_id: str,
        node: EndNode,
        context: dict[str, Any],
    ) -> AsyncGenerator[FlowEvent, None]:
        output = dumps(self._render_value(node, node.output, context))
        if workflow.kind == "chatflow":
            answer = self._render(node, node.answer, context) if node.answer else output
            pieces = _chunks(answer, node.chunk_size)
            result = answer
        else:
            pieces = [output]
            result = output
        with self._store.lock:
            execution.usage.output_count += len(result)
            execution.output = result
            execution.status = "Success"
            execution.update_time = self._clock.now()
            usage = execution.usage.wire()
        for seq, piece in enumerate(pieces):
            last = seq == len(pieces) - 1
            yield NodeMessage(node.title, node_id, _NODE_TYPES["end"], seq, piece, last, usage if last else None)
        yield Finished(result)

    def _node_ran(
        self, execution: ExecutionRecord, workflow: WorkflowScenario, index: int, output: str, *, finished: bool = True
    ) -> None:
        """Record one run of a node (store lock held): the run history's node_execute_status shows it and
        /execute_nodes/{uuid} answers with its output. A node run again (a question re-asked) gets a new
        uuid; the map stays bounded by the workflow's nodes and its resumes."""
        node_id = workflow.node_id(index)
        for uuid, run in list(execution.node_runs.items()):
            if run.node_id == node_id and not run.is_finish:  # the pause a resume now finishes
                execution.node_runs[uuid] = NodeRun(
                    node_id, run.node_title, uuid, finished, self._clock.now(), output or run.output
                )
                return
        uuid = self._ids.new_id()
        title = workflow.nodes[index].title
        execution.node_runs[uuid] = NodeRun(node_id, title, uuid, finished, self._clock.now(), output)

    def _interrupt(self, execution: ExecutionRecord, index: int, kind: int, data: str, title: str) -> Interrupted:
        event_id = f"{execution.id}/{self._ids.new_id()}"
        with self._store.lock:
            execution.pending = PendingInterrupt(event_id=event_id, type=kind, node_index=index)
            execution.status = "Interrupted"
            execution.update_time = self._clock.now()
        return Interrupted(event_id=event_id, type=kind, data=data, node_title=title)

    def _settle_failure(self, execution: ExecutionRecord, code: int, message: str) -> Failed:
        self.fail(execution, int(code), message)
        return Failed(int(code), message)

    @staticmethod
    async def _keepalive(
        workflow: WorkflowScenario, task: asyncio.Future[T], deadline: float | None
    ) -> AsyncGenerator[Ping, None]:
        """Wait for `task`, yielding a Ping every ping interval; past the deadline cancel it and time out."""
        loop = asyncio.get_running_loop()
        interval = workflow.ping_interval_seconds
        try:
            while True:
                timeout = interval
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        raise _TimedOut
                    timeout = remaining if timeout is None else min(timeout, remaining)
                done, _ = await asyncio.wait({task}, timeout=timeout)
                if done:
                    return
                if deadline is not None and loop.time() >= deadline:
                    raise _TimedOut
                yield Ping()
        finally:
            if not task.done():
                task.cancel()

    @staticmethod
    async def _http_call(node: HttpNode, url: str, headers: dict[str, str], body: Any, allowed: frozenset[str]) -> Any:
        """The node's request; every way it can go wrong is a `_NodeFailure` with a message saying which."""
        where = f"http node '{node.title}': {node.method} {url}"
        if not url.startswith(("http://", "https://")):
            raise _NodeFailure(node.error_code, f"{where}: the URL must start with http:// or https://")
        host = _host_of(url)
        if host is None or not (_is_loopback(host) or host in allowed):
            raise _NodeFailure(
                node.error_code,
                f"{where}: the simulator's http nodes call loopback addresses only, so that a caller cannot use "
                f"it as a proxy into its network; start it with --allow-http-host {host or 'HOST'} to allow more",
            )
        try:
            async with httpx.AsyncClient(timeout=node.timeout_seconds, trust_env=False, verify=_tls()) as client:
                if node.method == "GET":
                    params = {k: _query_value(v) for k, v in body.items()} if isinstance(body, dict) else None
                    response = await client.get(url, headers=headers, params=params)
                else:
                    response = await client.post(url, headers=headers, json=body)
        except httpx.TimeoutException:
            raise _NodeFailure(node.error_code, f"{where} timed out after {node.timeout_seconds:g} s") from None
        except (httpx.HTTPError, ValueError) as exc:
            raise _NodeFailure(node.error_code, f"{where} failed: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise _NodeFailure(
                node.error_code, f"{where} answered HTTP {response.status_code}: {_excerpt(response.text)}"
            )
        if len(response.content) > MAX_HTTP_RESPONSE_BYTES:
            raise _NodeFailure(node.error_code, f"{where} answered more than {MAX_HTTP_RESPONSE_BYTES} bytes")
        try:
            payload = response.json()
        except ValueError:
            raise _NodeFailure(
                node.error_code, f"{where} answered a body that is not JSON: {_excerpt(response.text)}"
            ) from None
        if isinstance(payload, dict) and payload.get("success") is False:
            code = _as_code(payload.get("error_code"), node.error_code)
            message = payload.get("message")
            raise _NodeFailure(code, str(message) if message else f"{where} answered success: false without a message")
        return payload


def _host_of(url: str) -> str | None:
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        return None
    return host.lower().rstrip(".") or None


def _is_loopback(host: str) -> bool:
    """A literal loopback address or the name `localhost`. Other names are not resolved here: a name
    that resolves to loopback today may not tomorrow, so only `--allow-http-host` admits one."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def settle_in_background(engine: FlowEngine, workflow: WorkflowScenario, execution: ExecutionRecord) -> None:
    """An async (`is_async`) run: to the end, with nobody to answer an interrupt, so one fails the run."""
    try:
        outcome = await engine.outcome(workflow, execution)
    except Exception:
        _log.exception("async run %s of workflow %s crashed", execution.id, workflow.id)
        engine.fail(execution, Code.INTERNAL, "internal error in the simulator; see its log")
        return
    if isinstance(outcome, Interrupted):
        engine.fail(execution, Code.WORKFLOW_INTERRUPT_IN_SYNC_RUN, interrupt_not_supported(workflow, outcome))


def interrupt_not_supported(workflow: WorkflowScenario, interrupt: Interrupted) -> str:
    return (
        f"workflow {workflow.id} ({workflow.name}) reached node '{interrupt.node_title}', which waits for an "
        "answer (an interrupt); a non-streaming run cannot be resumed: use stream_run and stream_resume"
    )
