"""The local tools the probes run: deterministic, so their outputs can be looked for in answers.

The bridge serves the same registry, so chat and workflow probes call the same code.
"""

from __future__ import annotations

from ..tools import ToolError, ToolRegistry

registry = ToolRegistry()


@registry.tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Weather for a city.

    Args:
        city: the city to report on
        unit: celsius or fahrenheit
    """
    return f"{len(city) + 12} degrees {unit} in {city}"


@registry.tool
def get_time(timezone: str) -> str:
    """The local time in a timezone.

    Args:
        timezone: an IANA timezone name
    """
    return f"12:00 in {timezone}"


@registry.tool
def search_files(query: str, limit: int = 3) -> str:
    """Find a file about a topic.

    Args:
        query: what to look for
        limit: how many results at most
    """
    return f"/notes/{query}.md"


@registry.tool
def read_file(path: str) -> str:
    """Read a file.

    Args:
        path: the path search_files returned
    """
    return f"contents of {path}"


failing = ToolRegistry()
failing.add(get_weather)


@failing.tool(name="get_time")
def broken_time(timezone: str) -> str:
    """A get_time that always fails, to show how tool errors travel back."""
    raise ToolError(f"clock unavailable for {timezone}", code="clock_down")


bridged = ToolRegistry()
for _tool in (get_weather, search_files, read_file):
    bridged.add(_tool)


@bridged.tool
def broken_clock(timezone: str) -> str:
    """Always fails: how a tool error reaches a workflow through the bridge."""
    raise ToolError(f"clock unavailable for {timezone}", code="clock_down")


BROKEN_CLOCK_ERROR = "clock unavailable for UTC"
"""What `broken_clock`'s error says for UTC, looked for in the bridge workflow's Error event."""
