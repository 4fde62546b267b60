"""The local-plugin runner with tools that fail in ways the caller must not see or that used to crash it:
a chat always gets its outputs, an unexpected exception's text stays in the local log, and a return value
that cannot be sent becomes an error output instead of an exception that left the chat waiting."""

from __future__ import annotations

import json
import logging
from typing import Any

import cozepy
import httpx
import pytest
from conftest import WEATHER_BOT

from harness import sdk
from harness.local_plugin import LocalPluginRunner
from harness.tools import TOOL_ERROR, ToolRegistry
from simulators.coze import DEFAULT_TOKEN, RunningServer

pytestmark = pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))

SECRET = "postgres://admin:hunter2@db.internal:5432/prod"


def test_the_chat_completes_and_no_exception_text_reaches_the_bot(
    sim: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str, unit: str) -> Any:
        """Weather, as a value nested deeper than JSON can be written."""
        value: Any = city
        for _ in range(3000):
            value = [value]
        return value

    @registry.tool
    def get_time(timezone: str) -> str:
        """Time."""
        raise ConnectionError(f"cannot reach {SECRET}")

    client = cozepy.Coze(
        auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url, http_client=httpx.Client(timeout=20.0)
    )
    with caplog.at_level(logging.ERROR, logger="harness.tools"):
        result = LocalPluginRunner(client, registry).run(WEATHER_BOT, "Oslo")
    assert result.status == "completed"
    weather, time = result.tool_calls
    for call in (weather, time):
        assert not call.ok and call.error is not None and call.error.code == TOOL_ERROR and call.error.error_id
        assert json.loads(call.output)["error"]["error_id"] == call.error.error_id
    assert SECRET not in json.dumps([call.output for call in result.tool_calls]) and "hunter2" not in result.answer
    logged = " ".join(str(record.exc_info[1]) for record in caplog.records if record.exc_info)
    assert "hunter2" in logged  # the detail is kept, locally
