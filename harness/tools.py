"""Local tools: plain Python functions that a bot (or, through the bridge, a workflow) may call by name.

A tool's arguments are a pydantic model, built from the function's type hints or given outright,
so every caller (the local-plugin runner, the HTTP bridge, a test) gets the same JSON schema and the
same validation. Invoking a tool never raises for anything the remote side caused: an unknown name,
arguments that do not validate, a tool that fails or overruns all come back as a `ToolResult`
carrying a JSON error object, because a bot waiting on `submit_tool_outputs` must always get an
answer. Only code registered here is ever run; a name is looked up, never imported or evaluated.

Arguments are decoded in one place, `decode_arguments`, with limits on size, nesting depth and the
digits of an integer, so crafted JSON is an `invalid_arguments` answer, never an exception. What a
tool raises reaches the caller only when it is a `ToolError` (a message written for the caller);
anything else is answered with a generic message and an error id, and logged here in full, because
exception text carries paths, hosts and connection strings. `ToolSlots` caps how many calls run at
once, counting a thread that overran its timeout until it really ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import inspect
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any, Generic, Literal, ParamSpec, TypeVar, get_type_hints, overload

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

__all__ = [
    "BUSY",
    "DEFAULT_MAX_ARGUMENT_BYTES",
    "DEFAULT_MAX_INT_DIGITS",
    "DEFAULT_MAX_JSON_DEPTH",
    "DEFAULT_TOOL_TIMEOUT",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENTS",
    "TIMEOUT",
    "TOOL_ERROR",
    "UNKNOWN_TOOL",
    "ErrorMode",
    "LocalTool",
    "ToolError",
    "ToolErrorInfo",
    "ToolRegistry",
    "ToolResult",
    "ToolSlots",
    "decode_arguments",
    "load_registry",
    "tool",
]

_log = logging.getLogger("harness.tools")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

ErrorMode = Literal["http", "body"]
"""How the bridge reports a failed call: a non-2xx status, or 200 with `success: false` (see bridge.py)."""

UNKNOWN_TOOL = "unknown_tool"
INVALID_ARGUMENTS = "invalid_arguments"
TOOL_ERROR = "tool_error"
TIMEOUT = "timeout"
BUSY = "busy"
"""Every slot of the `ToolSlots` the call was given is taken: nothing ran; try again later."""
INTERNAL_ERROR = "internal_error"
"""Something other than the tool failed while handling the call (see the log, by the error id)."""

DEFAULT_MAX_ARGUMENT_BYTES = 1 << 20
"""The largest arguments document `decode_arguments` takes."""
DEFAULT_MAX_JSON_DEPTH = 64
"""How deeply arrays and objects may nest in a call's arguments (the arguments object itself is depth 1)."""
DEFAULT_MAX_INT_DIGITS = 1000
"""The most digits an integer in a call's arguments may have (Python's own limit for int(str) is 4300)."""

DEFAULT_TOOL_TIMEOUT = 30.0
"""Seconds a call may take when neither the tool nor the caller says otherwise."""

_CANCEL_GRACE_SECONDS = 1.0
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
_ARGS_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


# --- results ----------------------------------------------------------------------------------


class ToolErrorInfo(BaseModel):
    """Why a call produced no value, in a form both a bot and an HTTP client can read."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="unknown_tool, invalid_arguments, tool_error, timeout, or a ToolError's own code")
    message: str
    tool: str
    details: list[dict[str, Any]] | None = Field(None, description="one entry per validation error")
    error_id: str | None = Field(
        None, description="for an unexpected failure: the id under which the details were logged locally"
    )

    def as_output(self) -> str:
        """The text submitted to the bot in place of the tool's output: a JSON error object."""
        return _dumps({"error": self.model_dump(exclude_none=True)})


class ToolResult(BaseModel):
    """One call: what came back, or why nothing did, and how long it took."""

    model_config = ConfigDict(frozen=True)

    tool: str
    ok: bool
    value: Any = Field(None, description="the return value as JSON-compatible data (None when not ok)")
    output: str = Field(description="the text for the bot: a returned str as is, other values as JSON, errors as JSON")
    error: ToolErrorInfo | None = None
    duration_seconds: float = Field(ge=0)


class ToolError(Exception):
    """Raise from a tool to report a failure with a code of your own (default `tool_error`).

    Its message goes to the caller (the bot, the workflow) as it is: write it for them. Any other
    exception a tool raises is answered with a generic message and an error id; its text stays in the log.
    """

    def __init__(self, message: str, *, code: str = TOOL_ERROR) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Failure(Exception):
    """Internal: stops a call and carries the error to report."""

    def __init__(self, info: ToolErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- the tool ---------------------------------------------------------------------------------


class LocalTool(Generic[P, R]):
    """A function, its argument model, and how to call it safely. Calling the object calls the function."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        args: type[BaseModel] | None = None,
        timeout: float | None = None,
        errors: ErrorMode | None = None,
    ) -> None:
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(self.name):
            raise ValueError(
                f"tool name {self.name!r} is not usable as a Coze tool or operationId: use letters, digits, "
                "'_' or '-', starting with a letter or '_', at most 64 characters"
            )
        if timeout is not None and timeout <= 0:
            raise ValueError(f"tool {self.name}: timeout must be positive seconds or None, not {timeout!r}")
        doc = inspect.getdoc(fn) or ""
        self.description = description if description is not None else _summary_of(doc) or self.name
        self.timeout = timeout
        self.errors = errors
        self.is_async = _is_async(fn)
        self.arguments_model, self._takes_model = _arguments_model(fn, self.name, args, _param_docs(doc))
        self.return_schema = _return_schema(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LocalTool({self.name!r})"

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema (draft 2020-12, as pydantic writes it) of the arguments object."""
        return self.arguments_model.model_json_schema()

    def parse(
        self, arguments: str | bytes | Mapping[str, Any] | None, *, max_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES
    ) -> BaseModel:
        """Validate the arguments a caller sent (a JSON document, as Coze sends them) against the schema.

        Decoding goes through `decode_arguments` and its limits first; a caller's mistake is a `_Failure`.
        """
        try:
            decoded = decode_arguments(arguments, max_bytes=max_bytes)
        except InvalidArguments as exc:
            raise _Failure(self._invalid(str(exc))) from None
        try:
            if isinstance(arguments, str | bytes) and arguments.strip():
                return self.arguments_model.model_validate_json(arguments)
            return self.arguments_model.model_validate(decoded)
        except ValidationError as exc:
            details = [
                {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors(include_url=False)
            ]
            summary = "; ".join(f"{'.'.join(d['loc']) or '(arguments)'}: {d['msg']}" for d in details)
            raise _Failure(self._invalid(f"arguments do not match the schema: {summary}", details)) from None

    def invoke(
        self,
        arguments: str | bytes | Mapping[str, Any] | None,
        *,
        timeout: float | None = None,
        slots: ToolSlots | None = None,
        max_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
    ) -> ToolResult:
        """Validate and run, blocking this thread; `timeout` applies only when the tool sets none.

        With a limit, a sync tool runs in a daemon thread so that the caller can stop waiting; an
        async tool always gets an event loop of its own in a daemon thread, so this works even when
        the calling thread already runs a loop. With `slots`, the call takes one (or is answered
        `busy` when none is free) and gives it back when its thread really ends. `max_bytes` bounds
        the arguments text (see `decode_arguments`). Never raises for anything the caller sent or the
        tool did.
        """
        started = time.perf_counter()
        limit = self._limit(timeout)
        try:
            model = self.parse(arguments, max_bytes=max_bytes)
            release = self._take(slots)
            if self.is_async or limit is not None:
                wait = _with_grace(limit) if self.is_async else limit
                value = _in_daemon_thread(lambda: self._run_sync(model, limit), wait, self.name, release)
            else:
                try:
                    value = self._run_sync(model, limit)
                finally:
                    release()
            return self._success(value, started)
        except _Failure as failure:
            return self._failed(failure.info, started)
        except _Timeout:
            return self._failed(self._timed_out(limit), started)
        except Exception as exc:
            return self._failed(self._internal(exc), started)

    async def ainvoke(
        self,
        arguments: str | bytes | Mapping[str, Any] | None,
        *,
        timeout: float | None = None,
        slots: ToolSlots | None = None,
        max_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
    ) -> ToolResult:
        """The async twin of `invoke`: async tools run on this loop, sync tools in a thread of their own.

        An async tool holds its slot until its task really ends (a task that ignores cancellation too).
        """
        started = time.perf_counter()
        limit = self._limit(timeout)
        try:
            model = self.parse(arguments, max_bytes=max_bytes)
            release = self._take(slots)
            if self.is_async:
                value = await _bounded(self._guarded_async(lambda: self._call(model)), limit, release)
            else:
                call = functools.partial(self._guarded, lambda: self._call(model))
                value = await _await_thread(call, limit, self.name, release)
                if inspect.isawaitable(value):
                    value = await _bounded(self._guarded_async(lambda: value), limit)
            return self._success(value, started)
        except _Failure as failure:
            return self._failed(failure.info, started)
        except _Timeout:
            return self._failed(self._timed_out(limit), started)
        except Exception as exc:
            return self._failed(self._internal(exc), started)

    # -- internals -------------------------------------------------------------------------------

    def _limit(self, default: float | None) -> float | None:
        return self.timeout if self.timeout is not None else default

    def _take(self, slots: ToolSlots | None) -> Callable[[], None]:
        """A slot for one call (its release, callable once), or a `busy` failure."""
        if slots is None:
            return _nothing
        if not slots.try_acquire(self.name):
            message = (
                f"{self.name}: {slots.limit} tool calls are already running (the most allowed at once); "
                "nothing was run, try again shortly"
            )
            raise _Failure(ToolErrorInfo(code=BUSY, message=message, tool=self.name))
        return _once(lambda: slots.release(self.name))

    def _call(self, model: BaseModel) -> Any:
        fn: Callable[..., Any] = self.fn
        if self._takes_model:
            return fn(model)
        return fn(**{field: getattr(model, field) for field in type(model).model_fields})

    def _run_sync(self, model: BaseModel, limit: float | None) -> Any:
        """One call, to completion, in the current thread (which runs no event loop)."""
        if self.is_async:
            return asyncio.run(_bounded(self._guarded_async(lambda: self._call(model)), limit))
        value = self._guarded(lambda: self._call(model))
        if inspect.isawaitable(value):
            awaitable = value
            return asyncio.run(_bounded(self._guarded_async(lambda: awaitable), limit))
        return value

    def _guarded(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (_Failure, _Timeout):
            raise
        except ToolError as exc:
            raise _Failure(ToolErrorInfo(code=exc.code, message=exc.message, tool=self.name)) from None
        except Exception as exc:
            raise _Failure(self._raised(exc)) from None

    async def _guarded_async(self, start: Callable[[], Awaitable[T]]) -> T:
        try:
            return await start()
        except ToolError as exc:
            raise _Failure(ToolErrorInfo(code=exc.code, message=exc.message, tool=self.name)) from None
        except Exception as exc:
            raise _Failure(self._raised(exc)) from None

    def _success(self, value: Any, started: float) -> ToolResult:
        try:
            data = pydantic_core.to_jsonable_python(value)
            output = data if isinstance(data, str) else _dumps(data)
        except (pydantic_core.PydanticSerializationError, ValueError, TypeError, RecursionError) as exc:
            error_id = _error_id()
            _log.error(
                "local tool %s returned a value that cannot be sent (error id %s)", self.name, error_id, exc_info=exc
            )
            message = (
                f"{self.name} returned a value that cannot be sent as JSON (error id {error_id}; "
                "the details are in the local log)"
            )
            info = ToolErrorInfo(code=TOOL_ERROR, message=message, tool=self.name, error_id=error_id)
            return self._failed(info, started)
        return ToolResult(
            tool=self.name, ok=True, value=data, output=output, duration_seconds=time.perf_counter() - started
        )

    def _failed(self, info: ToolErrorInfo, started: float) -> ToolResult:
        elapsed = time.perf_counter() - started
        return ToolResult(tool=self.name, ok=False, output=info.as_output(), error=info, duration_seconds=elapsed)

    def _invalid(self, message: str, details: list[dict[str, Any]] | None = None) -> ToolErrorInfo:
        return ToolErrorInfo(code=INVALID_ARGUMENTS, message=f"{self.name}: {message}", tool=self.name, details=details)

    def _raised(self, exc: BaseException) -> ToolErrorInfo:
        """An exception that is not a `ToolError`: logged here in full; the caller gets a generic message and an id."""
        error_id = _error_id()
        _log.error("local tool %s raised (error id %s)", self.name, error_id, exc_info=exc)
        message = f"{self.name} failed with an unexpected error (error id {error_id}; the details are in the local log)"
        return ToolErrorInfo(code=TOOL_ERROR, message=message, tool=self.name, error_id=error_id)

    def _internal(self, exc: BaseException) -> ToolErrorInfo:
        """A failure of the machinery around the tool (never expected): logged, answered like `_raised`."""
        error_id = _error_id()
        _log.error("calling local tool %s failed (error id %s)", self.name, error_id, exc_info=exc)
        message = f"{self.name}: the call could not be handled (error id {error_id}; the details are in the local log)"
        return ToolErrorInfo(code=INTERNAL_ERROR, message=message, tool=self.name, error_id=error_id)

    def _timed_out(self, limit: float | None) -> ToolErrorInfo:
        return ToolErrorInfo(code=TIMEOUT, message=f"{self.name} did not finish within {limit:g} s", tool=self.name)


# --- decoding the arguments --------------------------------------------------------------------


class InvalidArguments(ValueError):
    """Arguments that cannot be decoded, or that break a limit of `decode_arguments`."""


class _TooManyDigits(ValueError):
    pass


def _nothing() -> None:
    return None


def _once(call: Callable[[], None]) -> Callable[[], None]:
    lock = threading.Lock()
    done = False

    def run() -> None:
        nonlocal done
        with lock:
            if done:
                return
            done = True
        call()

    return run


def _error_id() -> str:
    return secrets.token_hex(6)


def decode_arguments(
    arguments: str | bytes | Mapping[str, Any] | None,
    *,
    max_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
) -> dict[str, Any]:
    """A call's arguments as a dict, decoded with limits; `InvalidArguments` (a ValueError) says what is wrong.

    Text (Coze sends a JSON document) may be at most `max_bytes` long, nest at most `max_depth`
    arrays and objects deep (the arguments object is depth 1) and hold no integer of more than
    `max_int_digits` digits; a mapping (already decoded) is held to the same depth and digits. `None` and
    blank text are `{}`. This is the one place tool arguments are decoded: the runners and the bridge
    all come through here, so no crafted document reaches a parser without the limits.
    """
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        decoded: Any = dict(arguments)
    else:
        if len(arguments) > max_bytes:
            raise InvalidArguments(f"arguments are over {max_bytes} bytes, the most a call may send")
        if isinstance(arguments, bytes):
            try:
                arguments = arguments.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidArguments("arguments are not UTF-8 text") from None
        if not arguments.strip():
            return {}

        def bounded_int(text: str) -> int:
            if len(text.lstrip("-")) > max_int_digits:
                raise _TooManyDigits(text)
            return int(text)

        try:
            decoded = json.loads(arguments, parse_int=bounded_int)
        except _TooManyDigits:
            raise InvalidArguments(f"an integer in the arguments has more than {max_int_digits} digits") from None
        except RecursionError:
            raise InvalidArguments(f"arguments nest more than {max_depth} levels deep") from None
        except ValueError as exc:  # JSONDecodeError, and int(str) refusing a number (the interpreter's limit)
            raise InvalidArguments(f"arguments are not valid JSON ({_short(str(exc))})") from None
    if not isinstance(decoded, dict):
        raise InvalidArguments(f"arguments must be a JSON object, not {type(decoded).__name__}")
    _check_shape(decoded, max_depth, max_int_digits)
    return decoded


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_shape(value: Any, max_depth: int, max_int_digits: int) -> None:
    """Depth and integer size of decoded data, without recursion (a deep mapping must not overflow the stack)."""
    max_bits = math.ceil(max_int_digits * math.log2(10))  # the bits of the largest number of that many digits
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > max_bits:
                raise InvalidArguments(f"an integer in the arguments has more than {max_int_digits} digits")
            continue
        if depth > max_depth:
            raise InvalidArguments(f"arguments nest more than {max_depth} levels deep")
        stack.extend((child, depth + 1) for child in children)


# --- building the argument model ----------------------------------------------------------------


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def _summary_of(doc: str) -> str:
    """The docstring's first paragraph: what Coze shows as the tool's description."""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _param_docs(doc: str) -> dict[str, str]:
    """Descriptions from a Google-style `Args:` section, so documented code needs no annotations twice."""
    found: dict[str, str] = {}
    inside, base, current = False, -1, ""
    for line in doc.splitlines():
        if _ARGS_SECTION.match(line):
            inside, base, current = True, -1, ""
            continue
        if not inside or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            inside = False  # the next section starts
            continue
        base = indent if base < 0 else base
        match = _ARG_LINE.match(line)
        if indent <= base and match:
            current = match.group(1)
            found[current] = match.group(2).strip()
        elif current and indent > base:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found


def _hints_of(fn: Callable[..., Any], *, include_extras: bool = False) -> dict[str, Any]:
    """Type hints of a function, a `functools.partial` or a callable object alike."""
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = getattr(target, "__call__", target)  # noqa: B004
    return get_type_hints(target, include_extras=include_extras)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _arguments_model(
    fn: Callable[..., Any], name: str, given: type[BaseModel] | None, docs: dict[str, str]
) -> tuple[type[BaseModel], bool]:
    """The model a call's arguments validate against, and whether the function takes it whole."""
    signature = inspect.signature(fn)
    try:
        hints = _hints_of(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"tool {name}: cannot resolve the type hints of {fn!r}: {exc}") from exc
    params = list(signature.parameters.values())
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(
                f"tool {name}: parameter {param.name!r} is {param.kind.description}; a tool's parameters must be "
                "passable by keyword, because a call's arguments are a JSON object"
            )
    if given is not None:
        if not _is_model(given):
            raise TypeError(f"tool {name}: args must be a pydantic BaseModel subclass, not {given!r}")
        return given, len(params) == 1
    if len(params) == 1 and _is_model(hints.get(params[0].name)):
        model: type[BaseModel] = hints[params[0].name]
        return model, True
    fields: dict[str, Any] = {}
    for param in params:
        if param.name.startswith("_"):
            raise TypeError(f"tool {name}: parameter {param.name!r} starts with '_', which a JSON schema cannot carry")
        options: dict[str, Any] = {}
        if param.name in docs:
            options["description"] = docs[param.name]
        if isinstance(param.default, FieldInfo):  # `days: int = Field(1, ge=1)`: keep its constraints
            info = param.default
            if options and not info.description:
                info = FieldInfo.merge_field_infos(info, **options)
            fields[param.name] = (hints.get(param.name, Any), info)
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), Field(default, **options))
    built: type[BaseModel] = create_model(
        f"{name}_arguments", __config__=ConfigDict(extra="forbid", title=name), **fields
    )
    return built, False


def _return_schema(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The JSON schema of what the tool returns, when its annotation says; the bridge documents it."""
    try:
        annotation = _hints_of(fn).get("return", inspect.Signature.empty)
    except Exception:
        return None
    if annotation is inspect.Signature.empty or annotation is Any:
        return None
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(annotation).json_schema(mode="serialization")
    except Exception:
        return None


# --- running with a deadline --------------------------------------------------------------------


class _Timeout(Exception):
    """Internal: the call overran its limit."""


def _start(work: Callable[[], None], name: str, on_exit: Callable[[], None]) -> None:
    """A daemon thread for one call; `on_exit` runs when the thread ends (or now, if it cannot start)."""

    def run() -> None:
        try:
            work()
        finally:
            on_exit()

    try:
        threading.Thread(target=run, name=f"coze-tool-{name}", daemon=True).start()
    except BaseException:
        on_exit()
        raise


def _in_daemon_thread(
    call: Callable[[], T], limit: float | None, name: str, on_exit: Callable[[], None] = _nothing
) -> T:
    """Run `call` in a daemon thread and wait at most `limit` seconds.

    A Python thread cannot be killed, so a sync tool that overruns keeps running in the background;
    making it a daemon means it can never keep the process alive, and the caller is free at once.
    `on_exit` runs when the thread really ends, which is how an overrunning call keeps its slot.
    """
    box: dict[str, Any] = {}
    finished = threading.Event()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            box["value"] = context.run(call)
        except BaseException as exc:
            box["error"] = exc
        finally:
            finished.set()

    _start(work, name, on_exit)
    if not finished.wait(limit):
        raise _Timeout
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


async def _await_thread(
    call: Callable[[], T], limit: float | None, name: str, on_exit: Callable[[], None] = _nothing
) -> T:
    """`_in_daemon_thread` for an event loop: the loop keeps running while the thread works."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, error = context.run(call), None
        except BaseException as exc:
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed while the tool ran: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    _start(work, name, on_exit)
    done, _ = await asyncio.wait({future}, timeout=limit)
    if not done:
        future.cancel()
        raise _Timeout
    return future.result()


def _with_grace(limit: float | None) -> float | None:
    """The outer wait for a call whose own deadline is enforced inside (an async tool's loop)."""
    return None if limit is None else limit + 2 * _CANCEL_GRACE_SECONDS


async def _bounded(awaitable: Awaitable[T], limit: float | None, on_exit: Callable[[], None] = _nothing) -> T:
    """Await with a deadline that cannot be confused with a TimeoutError the tool raises itself.

    `on_exit` runs when the task really ends, even if that is after the deadline.
    """
    try:
        task = asyncio.ensure_future(awaitable)
    except BaseException:
        on_exit()
        raise
    task.add_done_callback(lambda _task: on_exit())
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=_CANCEL_GRACE_SECONDS)
        raise _Timeout
    return task.result()


# --- how many at once ----------------------------------------------------------------------------


class ToolSlots:
    """At most `limit` tool calls at once, counted while they really run.

    A sync call whose caller stopped waiting (its timeout passed) keeps running in its thread, because
    a Python thread cannot be stopped; it keeps its slot until it ends, so the cap bounds live threads,
    not answered requests. Thread-safe; `try_acquire` never waits.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"ToolSlots needs a limit of at least 1, not {limit!r}")
        self.limit = limit
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._live = 0

    def try_acquire(self, name: str) -> bool:
        with self._lock:
            if self._live >= self.limit:
                return False
            self._live += 1
            self._running[name] = self._running.get(name, 0) + 1
            return True

    def release(self, name: str) -> None:
        with self._lock:
            self._live = max(0, self._live - 1)
            left = self._running.get(name, 0) - 1
            if left > 0:
                self._running[name] = left
            else:
                self._running.pop(name, None)

    @property
    def live(self) -> int:
        with self._lock:
            return self._live

    def running(self) -> dict[str, int]:
        """Tool name -> how many of its calls hold a slot now."""
        with self._lock:
            return dict(self._running)


# --- the registry -------------------------------------------------------------------------------


@overload
def tool(fn: Callable[P, R], /) -> LocalTool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    args: type[BaseModel] | None = None,
    timeout: float | None = None,
    errors: ErrorMode | None = None,
) -> Callable[[Callable[P, R]], LocalTool[P, R]]: ...


def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    args: type[BaseModel] | None = None,
    timeout: float | None = None,
    errors: ErrorMode | None = None,
) -> LocalTool[P, R] | Callable[[Callable[P, R]], LocalTool[P, R]]:
    """Make a function a local tool (`@tool` or `@tool(name=..., timeout=...)`); it stays callable as before.

    `args` gives the argument model outright; otherwise a single parameter annotated with a pydantic
    model is that model, and any other signature becomes a model of its parameters (descriptions from
    `Annotated[..., Field(description=...)]` or the docstring's `Args:` section). `timeout` bounds each
    call in seconds; `errors` chooses how the HTTP bridge reports this tool's failures.
    """

    def wrap(function: Callable[P, R]) -> LocalTool[P, R]:
        return LocalTool(function, name=name, description=description, args=args, timeout=timeout, errors=errors)

    return wrap(fn) if fn is not None else wrap


class ToolRegistry:
    """The tools a runner or a bridge may run, by name. Nothing outside it is ever called."""

    def __init__(self, tools: Iterable[LocalTool[Any, Any]] = ()) -> None:
        self._tools: dict[str, LocalTool[Any, Any]] = {}
        for item in tools:
            self.add(item)

    def add(self, item: LocalTool[P, R]) -> LocalTool[P, R]:
        existing = self._tools.get(item.name)
        if existing is not None and existing is not item:
            raise ValueError(f"a different tool named {item.name!r} is already registered")
        self._tools[item.name] = item
        return item

    @overload
    def tool(self, fn: Callable[P, R], /) -> LocalTool[P, R]: ...

    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        args: type[BaseModel] | None = None,
        timeout: float | None = None,
        errors: ErrorMode | None = None,
    ) -> Callable[[Callable[P, R]], LocalTool[P, R]]: ...

    def tool(
        self,
        fn: Callable[P, R] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        args: type[BaseModel] | None = None,
        timeout: float | None = None,
        errors: ErrorMode | None = None,
    ) -> LocalTool[P, R] | Callable[[Callable[P, R]], LocalTool[P, R]]:
        """`tool`, registering the result here."""

        def wrap(function: Callable[P, R]) -> LocalTool[P, R]:
            return self.add(
                LocalTool(function, name=name, description=description, args=args, timeout=timeout, errors=errors)
            )

        return wrap(fn) if fn is not None else wrap

    def get(self, name: str) -> LocalTool[Any, Any] | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[LocalTool[Any, Any]]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names!r})"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {item.name: item.json_schema() for item in self}

    def unknown(self, name: str) -> ToolResult:
        """The answer for a name nothing is registered under (it lists what is, to help the caller)."""
        known = ", ".join(self.names) or "none"
        info = ToolErrorInfo(
            code=UNKNOWN_TOOL, message=f"no local tool named {name!r} is registered (registered: {known})", tool=name
        )
        return ToolResult(tool=name, ok=False, output=info.as_output(), error=info, duration_seconds=0.0)

    def invoke(
        self,
        name: str,
        arguments: str | bytes | Mapping[str, Any] | None,
        *,
        timeout: float | None = None,
        slots: ToolSlots | None = None,
        max_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
    ) -> ToolResult:
        """Run the tool registered as `name`; never raises for what the caller sent (see `LocalTool.invoke`)."""
        found = self._tools.get(name)
        if found is None:
            return self.unknown(name)
        return found.invoke(arguments, timeout=timeout, slots=slots, max_bytes=max_bytes)

    async def ainvoke(
        self,
        name: str,
        arguments: str | bytes | Mapping[str, Any] | None,
        *,
        timeout: float | None = None,
        slots: ToolSlots | None = None,
        max_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
    ) -> ToolResult:
        found = self._tools.get(name)
        if found is None:
            return self.unknown(name)
        return await found.ainvoke(arguments, timeout=timeout, slots=slots, max_bytes=max_bytes)


def load_registry(target: str | ModuleType) -> ToolRegistry:
    """The tools an importable module defines: `pkg.mod` (every registry and tool in it) or `pkg.mod:attr`.

    This is how the CLI finds a user's tools; importing the module is the only code it runs.
    """
    if isinstance(target, ModuleType):
        module, attr = target, ""
    else:
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
    if attr:
        if not hasattr(module, attr):
            raise LookupError(f"module {module.__name__} has no attribute {attr!r}")
        found: list[Any] = [getattr(module, attr)]
        if not isinstance(found[0], ToolRegistry | LocalTool):
            raise LookupError(f"{module.__name__}:{attr} is neither a ToolRegistry nor a LocalTool")
    else:
        found = [value for value in vars(module).values() if isinstance(value, ToolRegistry | LocalTool)]
    registry = ToolRegistry()
    for value in found:
        for item in value if isinstance(value, ToolRegistry) else [value]:
            registry.add(item)
    if not registry:
        raise LookupError(
            f"module {module.__name__} defines no tools: decorate functions with @harness.tool or "
            "register them on a harness.ToolRegistry"
        )
    return registry
