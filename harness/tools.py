"""Local tools: plain Python functions that a bot (or, through the bridge, a workflow) may call by name.

A tool's arguments are a pydantic model, built from the function's type hints or given outright,
so every caller (the local-plugin runner, the HTTP bridge, a test) gets the same JSON schema and the
same validation. Invoking a tool never raises for anything the remote side caused: an unknown name,
arguments that do not validate, a tool that fails or overruns all come back as a `ToolResult`
carrying a JSON error object, because a bot waiting on `submit_tool_outputs` must always get an
answer. Only code registered here is ever run; a name is looked up, never imported or evaluated.
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
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any, Generic, Literal, ParamSpec, TypeVar, get_type_hints, overload

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
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
    """Raise from a tool to report a failure with a code of your own (default `tool_error`)."""

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

    def parse(self, arguments: str | bytes | Mapping[str, Any] | None) -> BaseModel:
        """Validate the arguments a caller sent (a JSON document, as Coze sends them) against the schema."""
        if arguments is None or (isinstance(arguments, str | bytes) and not arguments.strip()):
            arguments = "{}"
        try:
            if isinstance(arguments, Mapping):
                return self.arguments_model.model_validate(dict(arguments))
            try:
                decoded = json.loads(arguments)
            except ValueError as exc:
                raise _Failure(self._invalid(f"arguments are not valid JSON ({exc})")) from None
            except RecursionError:
                raise _Failure(self._invalid("arguments nest too deeply to decode")) from None
            if not isinstance(decoded, dict):
                raise _Failure(self._invalid(f"arguments must be a JSON object, not {type(decoded).__name__}"))
            return self.arguments_model.model_validate_json(arguments)
        except ValidationError as exc:
            details = [
                {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors(include_url=False)
            ]
            summary = "; ".join(f"{'.'.join(d['loc']) or '(arguments)'}: {d['msg']}" for d in details)
            raise _Failure(self._invalid(f"arguments do not match the schema: {summary}", details)) from None

    def invoke(self, arguments: str | bytes | Mapping[str, Any] | None, *, timeout: float | None = None) -> ToolResult:
        """Validate and run, blocking this thread; `timeout` applies only when the tool sets none.

        With a limit, a sync tool runs in a daemon thread so that the caller can stop waiting; an
        async tool always gets an event loop of its own in a daemon thread, so this works even when
        the calling thread already runs a loop.
        """
        started = time.perf_counter()
        limit = self._limit(timeout)
        try:
            model = self.parse(arguments)
            if self.is_async or limit is not None:
                wait = _with_grace(limit) if self.is_async else limit
                value = _in_daemon_thread(lambda: self._run_sync(model, limit), wait, self.name)
            else:
                value = self._run_sync(model, limit)
            return self._success(value, started)
        except _Failure as failure:
            return self._failed(failure.info, started)
        except _Timeout:
            return self._failed(self._timed_out(limit), started)

    async def ainvoke(
        self, arguments: str | bytes | Mapping[str, Any] | None, *, timeout: float | None = None
    ) -> ToolResult:
        """The async twin of `invoke`: async tools run on this loop, sync tools in a thread of their own."""
        started = time.perf_counter()
        limit = self._limit(timeout)
        try:
            model = self.parse(arguments)
            if self.is_async:
                value = await _bounded(self._guarded_async(lambda: self._call(model)), limit)
            else:
                value = await _await_thread(lambda: self._guarded(lambda: self._call(model)), limit, self.name)
                if inspect.isawaitable(value):
                    value = await _bounded(self._guarded_async(lambda: value), limit)
            return self._success(value, started)
        except _Failure as failure:
            return self._failed(failure.info, started)
        except _Timeout:
            return self._failed(self._timed_out(limit), started)

    # -- internals -------------------------------------------------------------------------------

    def _limit(self, default: float | None) -> float | None:
        return self.timeout if self.timeout is not None else default

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
            _log.warning("local tool %s raised", self.name, exc_info=True)
            raise _Failure(self._raised(exc)) from None

    async def _guarded_async(self, start: Callable[[], Awaitable[T]]) -> T:
        try:
            return await start()
        except ToolError as exc:
            raise _Failure(ToolErrorInfo(code=exc.code, message=exc.message, tool=self.name)) from None
        except Exception as exc:
            _log.warning("local tool %s raised", self.name, exc_info=True)
            raise _Failure(self._raised(exc)) from None

    def _success(self, value: Any, started: float) -> ToolResult:
        try:
            data = pydantic_core.to_jsonable_python(value)
        except pydantic_core.PydanticSerializationError as exc:
            message = f"the tool returned a value that is not JSON-serialisable: {exc}"
            info = ToolErrorInfo(code=TOOL_ERROR, message=message, tool=self.name)
            return self._failed(info, started)
        output = data if isinstance(data, str) else _dumps(data)
        return ToolResult(
            tool=self.name, ok=True, value=data, output=output, duration_seconds=time.perf_counter() - started
        )

    def _failed(self, info: ToolErrorInfo, started: float) -> ToolResult:
        elapsed = time.perf_counter() - started
        return ToolResult(tool=self.name, ok=False, output=info.as_output(), error=info, duration_seconds=elapsed)

    def _invalid(self, message: str, details: list[dict[str, Any]] | None = None) -> ToolErrorInfo:
        return ToolErrorInfo(code=INVALID_ARGUMENTS, message=f"{self.name}: {message}", tool=self.name, details=details)

    def _raised(self, exc: Exception) -> ToolErrorInfo:
        return ToolErrorInfo(code=TOOL_ERROR, message=f"{self.name} raised {type(exc).__name__}: {exc}", tool=self.name)

    def _timed_out(self, limit: float | None) -> ToolErrorInfo:
        return ToolErrorInfo(code=TIMEOUT, message=f"{self.name} did not finish within {limit:g} s", tool=self.name)


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


def _in_daemon_thread(call: Callable[[], T], limit: float | None, name: str) -> T:
    """Run `call` in a daemon thread and wait at most `limit` seconds.

    A Python thread cannot be killed, so a sync tool that overruns keeps running in the background;
    making it a daemon means it can never keep the process alive, and the caller is free at once.
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

    threading.Thread(target=work, name=f"coze-tool-{name}", daemon=True).start()
    if not finished.wait(limit):
        raise _Timeout
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


async def _await_thread(call: Callable[[], T], limit: float | None, name: str) -> T:
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

    threading.Thread(target=work, name=f"coze-tool-{name}", daemon=True).start()
    done, _ = await asyncio.wait({future}, timeout=limit)
    if not done:
        future.cancel()
        raise _Timeout
    return future.result()


def _with_grace(limit: float | None) -> float | None:
    """The outer wait for a call whose own deadline is enforced inside (an async tool's loop)."""
    return None if limit is None else limit + 2 * _CANCEL_GRACE_SECONDS


async def _bounded(awaitable: Awaitable[T], limit: float | None) -> T:
    """Await with a deadline that cannot be confused with a TimeoutError the tool raises itself."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=_CANCEL_GRACE_SECONDS)
        raise _Timeout
    return task.result()


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
        self, name: str, arguments: str | bytes | Mapping[str, Any] | None, *, timeout: float | None = None
    ) -> ToolResult:
        found = self._tools.get(name)
        return found.invoke(arguments, timeout=timeout) if found is not None else self.unknown(name)

    async def ainvoke(
        self, name: str, arguments: str | bytes | Mapping[str, Any] | None, *, timeout: float | None = None
    ) -> ToolResult:
        found = self._tools.get(name)
        return await found.ainvoke(arguments, timeout=timeout) if found is not None else self.unknown(name)


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
