"""The harness's clients keep their timeout on every cozepy release.

cozepy builds each `httpx.Request` itself; httpx applies the client's timeout to such a request only
from 0.27 (encode/httpx#3116), so under httpx 0.24 (cozepy 0.2-0.5) a stalled server would hang the
client until it closed the connection. Run on that line (tox env sdk-0.2.0) this fails without the fill.
"""

from __future__ import annotations

import httpx
import pytest

from harness.clients import coze_client
from simulators.coze import DEFAULT_TOKEN, Catalogue, SimConfig, create_app, running
from simulators.coze.faults import Faults

pytestmark = pytest.mark.e2e
STALL_SECONDS = 20.0  # far past the client's read timeout; without one, the stall ends in a reset instead


def test_a_stalled_stream_trips_the_clients_read_timeout() -> None:
    config = SimConfig(faults=Faults.model_validate({"stall": {"after_events": 1, "seconds": STALL_SECONDS}}))
    with running(create_app(Catalogue.builtin(), config)) as sim:
        coze = coze_client(None, base_url=sim.base_url, token=DEFAULT_TOKEN, timeout=httpx.Timeout(1.0))
        with pytest.raises(httpx.ReadTimeout):
            list(coze.workflows.runs.stream(workflow_id="7440000000000000001"))


def test_the_hook_fills_only_a_missing_timeout() -> None:
    """The fill itself, on any httpx: a request built by hand gets the client's timeout; one that has its
    own keeps it."""
    from harness.clients import _timeout_filler

    fill = _timeout_filler(httpx.Timeout(7.0, connect=2.0))
    bare = httpx.Request("GET", "http://127.0.0.1:9/")
    fill(bare)
    assert bare.extensions["timeout"] == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    own = httpx.Request("GET", "http://127.0.0.1:9/", extensions={"timeout": {"read": 1.0}})
    fill(own)
    assert own.extensions["timeout"] == {"read": 1.0}
