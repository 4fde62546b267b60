"""The README's stream-and-resume snippet, run as written against the simulator with the real cozepy."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from harness import sdk
from simulators.coze import RunningServer

README = Path(__file__).resolve().parent.parent / "README.md"

pytestmark = pytest.mark.e2e


def _python_block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    matching = [block for block in blocks if containing in block]
    assert len(matching) == 1, f"expected one python block in README.md with {containing!r}"
    return matching[0]


@pytest.mark.skipif(
    not sdk.workflow_resume_sends_event_id(),
    reason=f"cozepy {sdk.version()} sends resume's event id as 'id' (coze-py#196): resume cannot work with it",
)
def test_stream_then_resume_snippet_runs_against_the_simulator(sim: RunningServer) -> None:
    code = _python_block("coze.workflows.runs.resume(")
    assert "http://127.0.0.1:PORT" in code
    code = code.replace("http://127.0.0.1:PORT", sim.base_url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md (stream and resume)", "exec"), {"__name__": "readme_snippet"})
    assert out.getvalue().splitlines() == [
        "Which city's weather do you want?",  # the question node, then the Interrupt
        "Looking up the weather in Paris...",  # after resume: the answer reached the run
        '{"output":"It is sunny in Paris.","city":"Paris"}',  # the end node's output
    ]
