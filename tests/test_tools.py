"""The local-tool registry: schemas from type hints and from pydantic models, validation, sync and
async calls, timeouts, and the JSON error outputs a bot receives instead of an exception."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from harness.tools import (
    INVALID_ARGUMENTS,
    TIMEOUT,
    TOOL_ERROR,
    UNKNOWN_TOOL,
    LocalTool,
    ToolError,
    ToolRegistry,
    ToolResult,
    load_registry,
    tool,
)

# --- schemas ----------------------------------------------------------------------------------


def test_schema_from_type_hints_with_defaults_and_descriptions() -> None:
    @tool
    def get_weather(
        city: Annotated[str, Field(description="a city name")],
        unit: Literal["celsius", "fahrenheit"] = "celsius",
        days: int = 1,
    ) -> dict[str, object]:
        """Current weather of a city.

        More text that is not the summary.

        Args:
            unit: the temperature unit,
                celsius unless asked.
            days: how many days
        """
        return {}

    schema = get_weather.json_schema()
    assert get_weather.name == "get_weather"
    assert get_weather.description == "Current weather of a city."
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["city"] == {"description": "a city name", "title": "City", "type": "string"}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["unit"]["default"] == "celsius"
    assert props["unit"]["description"] == "the temperature unit, celsius unless asked."
    assert props["days"]["type"] == "integer"
    assert props["days"]["description"] == "how many days"


class SearchArgs(BaseModel):
    query: str = Field(description="what to look for")
    limit: int = Field(3, ge=1, le=10)


def test_schema_from_a_pydantic_model_parameter() -> None:
    @tool(name="search_files", description="Search the files.")
    def search(args: SearchArgs) -> list[str]:
        return [args.query] * args.limit

    assert search.arguments_model is SearchArgs
    assert search.json_schema() == SearchArgs.model_json_schema()
    result = search.invoke('{"query": "notes", "limit": 2}')
    assert (result.ok, result.value, result.output) == (True, ["notes", "notes"], '["notes","notes"]')


def test_explicit_args_model_for_a_keyword_signature() -> None:
    @tool(args=SearchArgs)
    def search(query: str, limit: int) -> str:
        return f"{query}:{limit}"

    assert search.json_schema()["properties"]["query"]["description"] == "what to look for"
    assert search.invoke('{"query": "q"}').output == "q:3"


def test_decorated_function_stays_callable_and_typed() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert isinstance(add, LocalTool)
    assert add(1) == 3
    assert add(a=1, b=5) == 6


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("def f(*args: int) -> None: ...", "passable by keyword"),
        ("def f(**kw: int) -> None: ...", "passable by keyword"),
        ("def f(a: int, /) -> None: ...", "passable by keyword"),
        ("def f(_hidden: int) -> None: ...", "starts with '_'"),
    ],
)
def test_signatures_a_json_object_cannot_fill_are_refused(definition: str, message: str) -> None:
    namespace: dict[str, object] = {}
    exec(definition, namespace)
    with pytest.raises(TypeError, match=message):
        tool(namespace["f"])  # type: ignore[call-overload]


def test_bad_names_and_timeouts_are_refused() -> None:
    def f() -> None: ...

    with pytest.raises(ValueError, match="not usable as a Coze tool"):
        tool(name="has space")(f)
    with pytest.raises(ValueError, match="timeout must be positive"):
        tool(timeout=0)(f)


# --- validation -------------------------------------------------------------------------------


@pytest.fixture
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    calls: list[str] = []

    @registry.tool
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        calls.append(city)
        return f"{city}: 21 {unit}"

    registry.calls = calls  # type: ignore[attr-defined]
    return registry


@pytest.mark.parametrize(
    ("arguments", "message", "loc"),
    [
        ('{"unit": "celsius"}', "city: Field required", ["city"]),
        ('{"city": "Paris", "unit": "kelvin"}', "unit: Input should be 'celsius' or 'fahrenheit'", ["unit"]),
        ('{"city": 3}', "city: Input should be a valid string", ["city"]),
        ('{"city": "Paris", "country": "FR"}', "country: Extra inputs are not permitted", ["country"]),
    ],
)
def test_arguments_that_fail_validation_become_an_error_output(
    registry: ToolRegistry, arguments: str, message: str, loc: list[str]
) -> None:
    result = registry.invoke("get_weather", arguments)
    assert not result.ok
    assert result.error is not None
    assert result.error.code == INVALID_ARGUMENTS
    assert message in result.error.message
    assert result.error.details is not None and result.error.details[0]["loc"] == loc
    assert json.loads(result.output) == {"error": result.error.model_dump(exclude_none=True)}
    assert registry.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [("{city", "arguments are not valid JSON"), ('["Paris"]', "must be a JSON object, not list"), ("", "city")],
)
def test_arguments_that_are_not_an_object(registry: ToolRegistry, arguments: str, message: str) -> None:
    result = registry.invoke("get_weather", arguments)
    assert result.error is not None and result.error.code == INVALID_ARGUMENTS
    assert message in result.error.message


def test_empty_arguments_mean_no_arguments() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert ping.invoke("").output == "pong"
    assert ping.invoke(None).output == "pong"
    assert ping.invoke({}).output == "pong"


def test_unknown_tool_names_what_is_registered(registry: ToolRegistry) -> None:
    result = registry.invoke("os.system", '{"command": "true"}')
    assert result.error is not None and result.error.code == UNKNOWN_TOOL
    assert "registered: get_weather" in result.error.message
    assert json.loads(result.output)["error"]["tool"] == "os.system"


def test_registry_refuses_a_second_tool_with_the_same_name(registry: ToolRegistry) -> None:
    def get_weather() -> str:
        return ""

    with pytest.raises(ValueError, match="already registered"):
        registry.tool(get_weather)
    assert registry.names == ["get_weather"]
    assert "get_weather" in registry and len(registry) == 1


# --- outputs and errors -----------------------------------------------------------------------


class Forecast(BaseModel):
    city: str
    high: float


@pytest.mark.parametrize(
    ("value", "output"),
    [
        ("plain text, as is", "plain text, as is"),
        ({"b": 1, "a": "é"}, '{"b":1,"a":"é"}'),
        (Forecast(city="Oslo", high=3.5), '{"city":"Oslo","high":3.5}'),
        (None, "null"),
        ([1, 2], "[1,2]"),
    ],
)
def test_return_values_become_text_for_the_bot(value: object, output: str) -> None:
    @tool
    def give() -> object:
        return value

    assert give.invoke("{}").output == output


def test_unserialisable_return_value_is_a_tool_error() -> None:
    @tool
    def give() -> object:
        return object()

    result = give.invoke("{}")
    assert result.error is not None and result.error.code == TOOL_ERROR
    assert "cannot be sent as JSON" in result.error.message
    assert result.error.error_id and result.error.error_id in result.error.message


def test_raising_tool_reports_a_generic_message_and_logs_the_detail(caplog: pytest.LogCaptureFixture) -> None:
    @tool
    def broken(city: str) -> str:
        raise RuntimeError(f"sensor offline in {city}")

    with caplog.at_level("ERROR", logger="harness.tools"):
        result = broken.invoke('{"city": "Oslo"}')
    assert result.error is not None and result.error.error_id
    assert (result.error.code, result.error.message) == (
        TOOL_ERROR,
        f"broken failed with an unexpected error (error id {result.error.error_id}; the details are in the local log)",
    )
    assert "Oslo" not in result.output and "RuntimeError" not in result.output
    (record,) = [r for r in caplog.records if result.error.error_id in r.getMessage()]
    assert record.exc_info is not None and "sensor offline in Oslo" in str(record.exc_info[1])


def test_tool_error_carries_its_own_code() -> None:
    @tool
    def lookup(key: str) -> str:
        raise ToolError(f"no entry {key}", code="not_found")

    result = lookup.invoke('{"key": "k"}')
    assert result.error is not None and (result.error.code, result.error.message) == ("not_found", "no entry k")


# --- sync and async ---------------------------------------------------------------------------


def _sync_double(x: int) -> int:
    return x * 2


async def _async_double(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


@pytest.mark.parametrize("fn", [_sync_double, _async_double], ids=["sync-tool", "async-tool"])
def test_invoke_runs_sync_and_async_tools(fn: object) -> None:
    item = tool(name="double")(fn)  # type: ignore[call-overload]
    assert item.is_async == (fn is _async_double)
    assert item.invoke('{"x": 21}').value == 42
    assert item.invoke('{"x": 21}', timeout=5).value == 42


@pytest.mark.anyio
@pytest.mark.parametrize("fn", [_sync_double, _async_double], ids=["sync-tool", "async-tool"])
async def test_ainvoke_runs_sync_and_async_tools(fn: object) -> None:
    registry = ToolRegistry([tool(name="double")(fn)])  # type: ignore[call-overload]
    result = await registry.ainvoke("double", '{"x": "21"}')
    assert (result.ok, result.value, result.output) == (True, 42, "42")


@pytest.mark.anyio
async def test_async_tool_errors_are_caught_too() -> None:
    @tool
    async def broken() -> str:
        raise ValueError("bad")

    for result in (broken.invoke("{}"), await broken.ainvoke("{}")):
        assert result.error is not None and result.error.code == TOOL_ERROR and result.error.error_id
        assert result.error.message.startswith("broken failed with an unexpected error (error id ")


def test_sync_invoke_works_inside_a_running_loop() -> None:
    """A sync caller inside async code (a notebook, say) still gets its async tool's value."""

    async def inside() -> ToolResult:
        return tool(name="double")(_async_double).invoke('{"x": 2}')

    assert asyncio.run(inside()).value == 4


# --- timeouts ---------------------------------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets blocked sync tools finish when the test ends, so no thread outlives it by long."""
    event = threading.Event()
    yield event
    event.set()


def _blocking_tools(release: threading.Event) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(timeout=0.2)
    def stuck_sync() -> str:
        release.wait(10)
        return "late"

    @registry.tool(timeout=0.2)
    async def stuck_async() -> str:
        await asyncio.sleep(10)
        return "late"

    @registry.tool
    def slowish() -> str:
        release.wait(10)
        return "late"

    return registry


@pytest.mark.parametrize("name", ["stuck_sync", "stuck_async"])
def test_per_tool_timeout_sync_caller(release: threading.Event, name: str) -> None:
    started = time.monotonic()
    result = _blocking_tools(release).invoke(name, "{}", timeout=30)
    assert time.monotonic() - started < 5
    assert result.error is not None
    assert (result.error.code, result.error.message) == (TIMEOUT, f"{name} did not finish within 0.2 s")
    assert 0.2 <= result.duration_seconds < 5


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["stuck_sync", "stuck_async"])
async def test_per_tool_timeout_async_caller(release: threading.Event, name: str) -> None:
    started = time.monotonic()
    result = await _blocking_tools(release).ainvoke(name, "{}")
    assert time.monotonic() - started < 5
    assert result.error is not None and result.error.code == TIMEOUT


def test_callers_timeout_applies_when_the_tool_sets_none(release: threading.Event) -> None:
    result = _blocking_tools(release).invoke("slowish", "{}", timeout=0.1)
    assert result.error is not None and result.error.message == "slowish did not finish within 0.1 s"


def test_a_tools_own_timeout_error_is_not_mistaken_for_ours() -> None:
    @tool(timeout=5)
    async def fetch() -> str:
        raise TimeoutError("upstream took too long")

    result = fetch.invoke("{}")
    assert result.error is not None and result.error.code == TOOL_ERROR  # not TIMEOUT
    assert result.error.message.startswith("fetch failed with an unexpected error (error id ")


# --- loading from a module --------------------------------------------------------------------


@pytest.fixture
def tool_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"user_tools_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from harness import ToolRegistry, tool

            registry = ToolRegistry()

            @registry.tool
            def get_weather(city: str) -> str:
                return city

            @tool
            def get_time(timezone: str) -> str:
                return timezone

            def not_a_tool() -> None: ...
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_load_registry_collects_registries_and_tools(tool_module: str) -> None:
    assert sorted(load_registry(tool_module).names) == ["get_time", "get_weather"]
    assert load_registry(f"{tool_module}:registry").names == ["get_weather"]
    assert load_registry(f"{tool_module}:get_time").names == ["get_time"]


def test_load_registry_explains_what_is_wrong(tool_module: str) -> None:
    with pytest.raises(LookupError, match="no attribute 'nope'"):
        load_registry(f"{tool_module}:nope")
    with pytest.raises(LookupError, match="neither a ToolRegistry nor a LocalTool"):
        load_registry(f"{tool_module}:not_a_tool")
    with pytest.raises(LookupError, match="defines no tools"):
        load_registry("json")


def test_a_field_default_keeps_its_value_and_constraints() -> None:
    """`days: int = Field(1, ge=1)` is a default of 1 with a bound, not a FieldInfo handed to the function."""
    from pydantic import Field

    registry = ToolRegistry()

    @registry.tool
    def forecast(city: str, days: int = Field(1, ge=1, le=7)) -> dict[str, object]:
        return {"city": city, "days": days}

    assert registry.invoke("forecast", '{"city": "Oslo"}').output == '{"city":"Oslo","days":1}'
    refused = registry.invoke("forecast", '{"city": "Oslo", "days": 9}')
    assert not refused.ok and refused.error is not None and "days" in refused.error.message
