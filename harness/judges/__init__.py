"""Judges: what an SDK observed (harness.drivers.Observation) and what crossed the wire, made into cells.

A judge imports neither an SDK nor the simulator, so the same rules serve every SDK a driver runs;
`harness.probes` runs the flows with a driver and hands their observations here.
"""

from ._cells import (
    TOOL_CAPABILITIES,
    Verdicts,
    cells_for,
    chat_ids_on_wire,
    dumps,
    first_error,
    has_method,
    offers_tool_calls,
)
from .chat import (
    SUBMIT,
    ChatRun,
    absent_on_platform,
    absent_sdk_method,
    completed,
    judge_chat,
    lacks_tool_path,
    platform_without_tool_path,
)
from .framing import judge_framing
from .workflow import (
    judge_bridge,
    judge_chatflow_resume,
    judge_chatflow_tools,
    judge_workflow_resume,
    judge_workflow_run,
    judge_workflow_stream,
    read_back,
    workflow_text,
)

__all__ = [
    "SUBMIT",
    "TOOL_CAPABILITIES",
    "ChatRun",
    "Verdicts",
    "absent_on_platform",
    "absent_sdk_method",
    "cells_for",
    "chat_ids_on_wire",
    "completed",
    "dumps",
    "first_error",
    "has_method",
    "judge_bridge",
    "judge_chat",
    "judge_chatflow_resume",
    "judge_chatflow_tools",
    "judge_framing",
    "judge_workflow_resume",
    "judge_workflow_run",
    "judge_workflow_stream",
    "lacks_tool_path",
    "offers_tool_calls",
    "platform_without_tool_path",
    "read_back",
    "workflow_text",
]
