"""The pytest plugin, run the way a user runs it: small test files in a pytester session, in each mode."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from harness.pytest import plugin as pytest_plugin
from harness.pytest.network import is_loopback_address

pytest_plugins = ["pytester"]

_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose runs load the plugin explicitly and nothing else from entry points, so the
    result is the same whether or not this environment has the plugin installed as `pytest11`."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "harness.pytest.plugin", "--strict-markers", "-p", "no:cacheprovider", *args)


_CHAT = """
import pytest
from harness.sdk import event_name
import cozepy

ECHO_BOT = "7390000000000000001"

def ask(coze):
    message = cozepy.Message(role="user", type="question", content="hello", content_type="text")
    return [event_name(e) for e in coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[message])]
"""


def test_the_entry_point_names_the_plugin() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads(_PYPROJECT.read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"coze_harness": "harness.pytest.plugin"}


def test_socket_mode_is_the_default(run: pytest.Pytester) -> None:
    run.makepyfile(
        _CHAT
        + """
def test_chat(coze_client, coze_sim, coze_mode):
    assert coze_mode == "socket"
    assert coze_sim.base_url.startswith("http://127.0.0.1:")
    assert ask(coze_client)[-1] == "conversation.chat.completed"
"""
    )
    _run(run).assert_outcomes(passed=1)


def test_inprocess_mode_uses_no_socket(run: pytest.Pytester) -> None:
    run.makepyfile(
        _CHAT
        + """
import socket

@pytest.mark.coze(mode="inprocess")
def test_chat(coze_client, coze_sim, monkeypatch):
    connects = []
    original = socket.socket.connect
    def counting(self, address):
        connects.append(address)
        return original(self, address)
    monkeypatch.setattr(socket.socket, "connect", counting)
    assert ask(coze_client)[-1] == "conversation.chat.completed"
    assert connects == []

@pytest.mark.coze("inprocess")
def test_positional_mode(coze_mode):
    assert coze_mode == "inprocess"
"""
    )
    _run(run).assert_outcomes(passed=2)


def test_async_client_in_both_modes(run: pytest.Pytester) -> None:
    run.makepyfile(
        _CHAT
        + """
import asyncio

async def ask_async(coze):
    message = cozepy.Message(role="user", type="question", content="hello", content_type="text")
    stream = coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[message])
    if not hasattr(stream, "__aiter__"):
        stream = await stream
    return [event_name(e) async for e in stream]

def check(coze):
    for _ in range(2):  # a new event loop each time: the client must not hold on to the first one
        assert asyncio.run(ask_async(coze))[-1] == "conversation.chat.completed"

def test_socket(async_coze_client):
    check(async_coze_client)

@pytest.mark.coze(mode="inprocess")
def test_inprocess(async_coze_client):
    check(async_coze_client)
"""
    )
    from harness import sdk

    outcome = {"skipped": 2} if not sdk.has_async_client() else {"passed": 2}
    _run(run).assert_outcomes(**outcome)


def test_the_marker_passes_a_sim_config_and_the_client_follows_its_token(run: pytest.Pytester) -> None:
    run.makepyfile(
        _CHAT
        + """
import httpx
from simulators.coze import SimConfig, TokenGrant

@pytest.mark.coze(mode="inprocess", config=SimConfig(tokens=[TokenGrant(token="my-token")]))
def test_own_token(coze_client, coze_sim):
    assert ask(coze_client)[-1] == "conversation.chat.completed"
    default = {"Authorization": "Bearer coze-harness-dev-token"}
    refused = httpx.post(coze_sim.base_url + "/v3/chat", json={}, headers=default)
    assert refused.json()["code"] == 4100

@pytest.mark.coze(config="not a config")
def test_bad_config(coze_sim):
    pass
"""
    )
    result = _run(run)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*takes a simulators.coze.SimConfig, not str*"])


def test_the_marker_can_make_the_simulator_speak_studio(run: pytest.Pytester) -> None:
    run.makepyfile(
        """
import httpx
import pytest
from simulators.coze import SimConfig

@pytest.mark.coze(config=SimConfig(profile="studio"))
def test_studio(coze_sim):
    refused = httpx.post(coze_sim.base_url + "/v3/chat/submit_tool_outputs", json={})
    assert (refused.status_code, refused.text) == (404, "404 page not found")
"""
    )
    _run(run).assert_outcomes(passed=1)


def test_unknown_modes_are_refused(run: pytest.Pytester) -> None:
    run.makepyfile(
        """
import pytest

@pytest.mark.coze(mode="carrier-pigeon")
def test_unknown(coze_client):
    pass

@pytest.mark.coze(mode="cassette", cassette="c.yaml", replay="sideways")
def test_bad_replay(coze_client):
    pass

def test_cassette_fixture_outside_cassette_mode(coze_cassette):
    pass
"""
    )
    result = _run(run)
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*unknown mode 'carrier-pigeon'*",
            "*unknown replay mode 'sideways'*",
            "*coze_cassette needs @pytest.mark.coze(mode='cassette'*",
        ]
    )


_CASSETTE_TESTS = (
    _CHAT
    + """
import asyncio
import socket

@pytest.fixture
def no_socket(monkeypatch, coze_cassette):
    if not coze_cassette.recording:
        def refuse(self, address):
            raise AssertionError(f"replay opened a socket to {address}")
        monkeypatch.setattr(socket.socket, "connect", refuse)

@pytest.mark.coze(mode="cassette", cassette="cassettes/echo.yaml")
def test_echo(coze_client, coze_cassette, no_socket):
    assert ask(coze_client)[-1] == "conversation.chat.completed"
    if not coze_cassette.recording:
        assert coze_cassette.transport.playbacks and not coze_cassette.transport.unplayed()

@pytest.mark.coze(mode="cassette", replay="rechunked")
def test_default_path(coze_client, coze_cassette, no_socket):
    assert coze_cassette.path.name == "test_default_path.yaml"
    assert coze_cassette.path.parent.name == "test_replayed"
    assert ask(coze_client)[-1] == "conversation.chat.completed"

async def ask_async(coze):
    message = cozepy.Message(role="user", type="question", content="hello", content_type="text")
    stream = coze.chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[message])
    if not hasattr(stream, "__aiter__"):
        stream = await stream
    return [event_name(e) async for e in stream]

@pytest.mark.coze(mode="cassette", cassette="cassettes/both.yaml")
def test_sync_and_async(async_coze_client, coze_client, coze_cassette, no_socket):  # skipped first without AsyncCoze
    assert ask(coze_client)[-1] == "conversation.chat.completed"
    assert asyncio.run(ask_async(async_coze_client))[-1] == "conversation.chat.completed"
"""
)


def _timeless(cassette: str) -> list[str]:
    return [line for line in cassette.splitlines() if not line.strip().startswith(("at:", "- at:"))]


def test_cassette_mode_records_once_then_replays_with_no_server(run: pytest.Pytester) -> None:
    from harness import sdk

    run.makepyfile(test_replayed=_CASSETTE_TESTS)
    expected = {"passed": 3} if sdk.has_async_client() else {"passed": 2, "skipped": 1}
    _run(run, "--coze-record=once").assert_outcomes(**expected)
    echo = run.path / "cassettes" / "echo.yaml"
    default = run.path / "cassettes" / "test_replayed" / "test_default_path.yaml"
    assert echo.is_file() and default.is_file()
    text = echo.read_text()
    assert "source: simulator" in text and "coze-harness-dev-token" not in text
    if sdk.has_async_client():
        assert (run.path / "cassettes" / "both.yaml").read_text().count("/v3/chat") >= 2

    before = echo.stat().st_mtime_ns
    _run(run).assert_outcomes(**expected)  # record mode none: replay only, no socket
    _run(run, "--coze-record=once").assert_outcomes(**expected)  # exists: replayed, not rewritten
    assert echo.stat().st_mtime_ns == before
    _run(run, "--coze-record=all").assert_outcomes(**expected)  # recorded again: the same bytes, new timings
    assert _timeless(echo.read_text()) == _timeless(text)


def test_cassette_mode_without_a_cassette_says_how_to_record_it(run: pytest.Pytester) -> None:
    run.makepyfile(
        """
import pytest

@pytest.mark.coze(mode="cassette", cassette="cassettes/missing.yaml")
def test_replay(coze_client):
    pass
"""
    )
    result = _run(run)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no cassette at *missing.yaml: record it*--coze-record=once*"])


def test_a_failing_test_writes_no_cassette(run: pytest.Pytester) -> None:
    run.makepyfile(
        _CHAT
        + """
@pytest.mark.coze(mode="cassette", cassette="cassettes/failed.yaml")
def test_fails(coze_client):
    ask(coze_client)
    assert False, "on purpose"
"""
    )
    result = _run(run, "--coze-record=all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed.yaml not written: the test did not pass*"])
    assert not (run.path / "cassettes" / "failed.yaml").exists()


def test_recording_against_a_base_url_from_the_environment(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$COZE_API_BASE + $COZE_API_TOKEN: the path that records real Coze, here pointed at a loopback server."""
    from simulators.coze import SimConfig, TokenGrant, create_app, running

    secret = "pat_not-a-real-token-0123456789"
    run.makepyfile(
        _CHAT
        + """
@pytest.mark.coze(mode="cassette", cassette="cassettes/real.yaml")
def test_real(coze_client, coze_cassette):
    assert coze_cassette.source == "coze"
    assert ask(coze_client)[-1] == "conversation.chat.completed"
"""
    )
    with running(create_app(config=SimConfig(tokens=[TokenGrant(token=secret)]))) as server:
        monkeypatch.setenv("COZE_API_BASE", server.base_url)
        monkeypatch.setenv("COZE_API_TOKEN", secret)
        _run(run, "--coze-record=once").assert_outcomes(passed=1)
    text = (run.path / "cassettes" / "real.yaml").read_text()
    assert "source: coze" in text and secret not in text and "REDACTED-TOKEN-1" in text
    monkeypatch.delenv("COZE_API_BASE")
    monkeypatch.delenv("COZE_API_TOKEN")
    run.makepyfile(
        _CHAT
        + """
@pytest.mark.coze(mode="cassette", cassette="cassettes/real.yaml")
def test_real(coze_client):
    assert ask(coze_client)[-1] == "conversation.chat.completed"
"""
    )
    _run(run).assert_outcomes(passed=1)  # the server is gone: replayed


def test_recording_against_a_base_url_needs_a_token(run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COZE_API_BASE", "https://api.coze.com")
    monkeypatch.delenv("COZE_API_TOKEN", raising=False)
    run.makepyfile(
        """
import pytest

@pytest.mark.coze(mode="cassette", cassette="cassettes/x.yaml")
def test_real(coze_client):
    pass
"""
    )
    result = _run(run, "--coze-record=all")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*recording against $COZE_API_BASE (https://api.coze.com) needs a token*"])


def test_scenarios_from_the_marker_and_the_ini_option(run: pytest.Pytester) -> None:
    bot = """kind: bot
id: "{id}"
name: {name}
description: a user's own bot
answer: "{name} says {{{{ user }}}}"
"""
    run.mkdir("mine").joinpath("bot.yaml").write_text(bot.format(id="7391111111111111111", name="mine"))
    run.mkdir("shared").joinpath("bot.yaml").write_text(bot.format(id="7392222222222222222", name="shared"))
    run.makeini("[pytest]\ncoze_scenarios = shared\n")
    run.makepyfile(
        """
import pytest
import cozepy

def answer(coze, bot_id):
    message = cozepy.Message(role="user", type="question", content="hi", content_type="text")
    chat = coze.chat.create_and_poll(bot_id=bot_id, user_id="u", additional_messages=[message]) \\
        if hasattr(coze.chat, "create_and_poll") else None
    if chat is None:
        pytest.skip("no create_and_poll")
    return [m.content for m in chat.messages if m.type == "answer"]

@pytest.mark.coze_scenarios("mine")
def test_both(coze_client):
    assert answer(coze_client, "7391111111111111111") == ["mine says hi"]
    assert answer(coze_client, "7392222222222222222") == ["shared says hi"]
    assert answer(coze_client, "7390000000000000001")  # the built-in catalogue is still there

@pytest.mark.coze_scenarios("mine", builtin=False)
def test_without_builtin(coze_client):
    with pytest.raises(cozepy.CozeAPIError):
        answer(coze_client, "7390000000000000001")

@pytest.mark.coze_scenarios("missing")
def test_missing_folder(coze_sim):
    pass
"""
    )
    from harness import sdk

    result = _run(run)
    if sdk.has_create_and_poll():
        result.assert_outcomes(passed=2, errors=1)
    else:
        result.assert_outcomes(skipped=2, errors=1)
    result.stdout.fnmatch_lines(["*coze_sim: a scenario is wrong*missing: not a folder of scenario files*"])


def test_local_tools_through_the_bridge_and_a_workflow(run: pytest.Pytester) -> None:
    run.makepyfile(
        """
import json
import httpx

HTTP_BRIDGE_WORKFLOW = "7440000000000000005"

def test_bridge(local_tools, coze_bridge, coze_client):
    @local_tools.tool
    def add(a: int, b: int) -> int:
        return a + b

    # added after the bridge started, and served all the same
    answer = httpx.post(coze_bridge.tool_url("add"), json={"a": 2, "b": 3}, timeout=10).json()
    assert answer["success"] is True and answer["data"] == 5
    run = coze_client.workflows.runs.create(
        workflow_id=HTTP_BRIDGE_WORKFLOW,
        parameters={"url": coze_bridge.tool_url("add"), "arguments": {"a": 20, "b": 22}},
    )
    assert json.loads(run.data)["output"]["data"] == 42
    assert httpx.get(coze_bridge.openapi_url, timeout=10).json()["paths"]
"""
    )
    _run(run).assert_outcomes(passed=1)


def test_the_network_beyond_loopback_is_refused(run: pytest.Pytester) -> None:
    # Below the guard, a stand-in for the real connect makes sure nothing ever reaches the wire.
    run.makepyfile(
        """
import socket
import httpx
import pytest
from harness.pytest.network import NetworkBlockedError

@pytest.fixture
def no_wire(monkeypatch):
    real = socket.socket.connect
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(address[0]).startswith(("127.", "::1")):
            raise AssertionError(f"the guard let a connection to {address} through")
        return real(self, address)
    monkeypatch.setattr(socket.socket, "connect", connect)

def test_refused(no_wire, coze_network_guard, coze_sim):
    with pytest.raises(NetworkBlockedError, match="only loopback"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(httpx.ConnectError, match="coze-harness refused a connection to 192.0.2.1:443"):
        httpx.get("https://192.0.2.1/", timeout=1)
    with pytest.raises(httpx.ConnectError, match="name lookup of 'api.coze.com'"):
        httpx.get("https://api.coze.com/", timeout=1)
    assert httpx.get(coze_sim.base_url + "/v3/nothing", timeout=5).status_code == 404

def test_lifted_after(no_wire):
    assert socket.socket.connect.__name__ == "connect"
    assert socket.getaddrinfo.__module__ == "socket"
"""
    )
    _run(run).assert_outcomes(passed=2)


def test_new_episodes_is_refused_with_the_reason(run: pytest.Pytester) -> None:
    run.makepyfile("def test_nothing():\n    pass\n")
    result = _run(run, "--coze-record=new_episodes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--coze-record=new_episodes is not supported*cannot be appended*"])


def test_a_recording_run_may_reach_only_the_host_of_coze_api_base(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COZE_API_BASE", "https://api.coze.example")
    run.makepyfile(
        """
import socket
import pytest
from harness.pytest.network import NetworkBlockedError

@pytest.fixture
def fake_dns(monkeypatch):
    def answer(host, port, *args, **kwargs):
        address = "192.0.2.7" if host == "api.coze.example" else host
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
    monkeypatch.setattr(socket, "getaddrinfo", answer)

@pytest.fixture
def no_wire(monkeypatch):
    def connect(self, address):
        raise ConnectionAbortedError(f"reached the wire: {address[0]}")
    monkeypatch.setattr(socket.socket, "connect", connect)

def test_only_that_host(fake_dns, no_wire, coze_network_guard):
    assert socket.getaddrinfo("api.coze.example", 443)[0][4][0] == "192.0.2.7"
    with pytest.raises(ConnectionAbortedError, match="reached the wire: 192.0.2.7"):
        socket.create_connection(("192.0.2.7", 443), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.org", 443)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("192.0.2.8", 443), timeout=1)
"""
    )
    _run(run, "--coze-record=once").assert_outcomes(passed=1)
    _run(run).assert_outcomes(failed=1)  # not recording: that host is refused like any other


def test_loading_the_plugin_imports_nothing_heavy(run: pytest.Pytester) -> None:
    """The plugin is loaded in every pytest run of an environment that installs coze-harness.
    (The `harness` package itself imports the bridge, and so FastAPI, whatever the plugin does.)"""
    code = (
        "import sys, harness.pytest.plugin; "
        "print(sorted(m for m in ('cozepy', 'simulators', 'respx', 'uvicorn') if m in sys.modules))"
    )
    result = run.run(sys.executable, "-c", code)
    assert result.stdout.lines[-1] == "[]"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("api.localhost", True),
        (b"127.0.0.1", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("192.0.2.1", False),
        ("::ffff:192.0.2.1", False),
        ("api.coze.com", False),
        ("localhost.evil.example", False),
    ],
)
def test_what_counts_as_loopback(host: str | bytes, loopback: bool) -> None:
    assert is_loopback_address(host) is loopback


def test_the_guard_leaves_sockets_as_they_were() -> None:
    assert socket.socket.connect.__qualname__ == "socket.connect"
    assert pytest_plugin.RECORD_MODES[0] == "none"


_HEAP_CONFTEST = """
import gc


def pytest_unconfigure(config):
    print(f"frozen at the end: {gc.get_freeze_count()}")
"""


def _frozen_at_the_end(result: pytest.RunResult) -> int:
    line = next(line for line in result.outlines if line.startswith("frozen at the end: "))
    return int(line.rsplit(" ", 1)[1])


@pytest.mark.cozepy_free
@pytest.mark.parametrize("outer_has_the_plugin", [True, False], ids=["outer-with-plugin", "outer-without-plugin"])
def test_a_session_run_inside_another_leaves_the_heap_as_it_found_it(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, outer_has_the_plugin: bool
) -> None:
    """`harness.pytest.heap`: a pytester run inside this test never freezes (nor unfreezes) the process's heap, whether
    or not the outer session loaded the plugin (then the running test says it is nested)."""
    import gc

    from harness.pytest import heap

    if not outer_has_the_plugin:
        monkeypatch.setattr(heap, "_sessions", [0])
    found = gc.get_freeze_count()
    if found == 0:
        gc.freeze()  # a frozen heap of the outer session, to see it left as it is
    frozen = gc.get_freeze_count()
    monkeypatch.setenv("OUTER_FROZEN", str(frozen))
    run.makeconftest(_HEAP_CONFTEST)
    run.makepyfile(
        """
import gc
import os

import pytest


@pytest.mark.coze(mode="inprocess")
def test_first(coze_sim):
    # the same frozen heap (a few of its objects freed since): not refrozen (+10,000s), not unfrozen (0)
    assert abs(gc.get_freeze_count() - int(os.environ["OUTER_FROZEN"])) < 1_000
"""
    )
    try:
        result = _run(run, "-s")
        result.assert_outcomes(passed=1)
        assert abs(_frozen_at_the_end(result) - frozen) < 1_000
        assert abs(gc.get_freeze_count() - frozen) < 1_000
    finally:
        if found == 0:
            gc.unfreeze()


_FREEZE_CASES = {
    "uses-the-simulator": (True, (), ""),
    "no-coze-fixture": (False, (), ""),
    "turned-off": (True, ("-o", "coze_freeze_heap=false"), ""),
    "collect-only": (True, ("--collect-only",), ""),
    "fixtures-listing": (True, ("--fixtures",), ""),
    "collection-error": (True, (), "this is not python\n"),
}


@pytest.mark.cozepy_free
@pytest.mark.parametrize("case", list(_FREEZE_CASES))
def test_a_session_freezes_the_heap_only_when_tests_that_use_the_fixtures_will_run(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Run as from the command line (a process of its own): frozen before the first test when a collected test uses the
    simulator's fixtures, and still at the end (for the exit); left alone otherwise."""
    uses_the_simulator, args, broken = _FREEZE_CASES[case]
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # as from the command line, not from inside a test
    run.makeconftest(_HEAP_CONFTEST)
    fixture = "coze_sim" if uses_the_simulator else "tmp_path"
    check = "> 10_000" if case == "uses-the-simulator" else "== 0"
    run.makepyfile(
        test_one=f"""
import gc

import pytest


@pytest.mark.coze(mode="inprocess")
def test_one({fixture}):
    assert gc.get_freeze_count() {check}
"""
    )
    if broken:
        run.makepyfile(test_broken=broken)
    result = run.runpytest_subprocess("-p", "harness.pytest.plugin", "-p", "no:cacheprovider", "-s", *args)
    assert result.ret == (2 if broken else 0), result.stdout.str() + result.stderr.str()
    frozen = _frozen_at_the_end(result)
    assert frozen > 10_000 if case == "uses-the-simulator" else frozen == 0


def test_an_import_that_fails_while_freezing_fails_only_the_tests_that_need_it(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing early is only to freeze more: a module that raises on import (here cozepy, shadowed, which the
    client test's mode imports before freezing) is the concern of the test that imports it, not a crash of the
    session, and the rest is still imported and frozen."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # as from the command line, not from inside a test
    run.makepyfile(
        cozepy="raise TypeError('this cozepy does not import here')\n",
        test_one="""
import gc

import pytest

pytestmark = pytest.mark.coze(mode="inprocess")


def test_needs_no_sdk(coze_sim):
    assert coze_sim.token
    assert gc.get_freeze_count() > 10_000


def test_needs_the_sdk(coze_client):
    pass


def test_plain():
    pass
""",
    )
    result = run.runpytest_subprocess("-p", "harness.pytest.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    assert "this cozepy does not import here" in result.stdout.str()
    assert "did not freeze the heap" not in result.stdout.str()


@pytest.mark.cozepy_free
def test_a_suite_that_builds_no_client_never_imports_the_sdk(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freezing imports what the collected tests' fixtures will import, and no more: a suite that asks for
    `coze_sim` and `local_tools` alone (its code talks to the simulator its own way) never pays for importing cozepy."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # as from the command line, not from inside a test
    run.makepyfile(
        test_one="""
import gc
import sys


def test_no_sdk(coze_sim, local_tools):
    assert gc.get_freeze_count() > 10_000
    assert "cozepy" not in sys.modules
"""
    )
    result = run.runpytest_subprocess("-p", "harness.pytest.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.cozepy_free
def test_a_session_leaves_the_heap_frozen_for_the_exit_and_the_next_session_in_the_process_unfreezes_it(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run in a process of its own, as from a script: the heap stays frozen after the session (the exit would only
    take it apart); the next session started in the same process (`pytest.main` in a loop) unfreezes and collects
    what the last one left, so its objects are reclaimed and at most one session's heap is ever held."""
    run.makepyfile(
        test_one="""
import pytest


@pytest.mark.coze(mode="inprocess")
def test_one(coze_sim):
    pass
""",
        conftest="""
import weakref

import sessions


def pytest_sessionstart(session):
    sessions.seen.append(weakref.ref(session))
""",
        sessions="seen = []\n",
    )
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # a script, not a test: its sessions are not nested in one
    script = run.makepyfile(
        loop="""
import gc

import pytest

import sessions

for index in range(3):
    code = pytest.main(["-q", "-p", "harness.pytest.plugin", "-p", "no:cacheprovider", "test_one.py"])
    assert code == 0, code
    gc.collect()
    alive = ",".join("alive" if ref() is not None else "gone" for ref in sessions.seen)
    print(f"after session {index}: frozen {gc.get_freeze_count()} sessions {alive}")
"""
    )
    result = run.runpython(script)
    lines = [line for line in result.outlines if line.startswith("after session ")]
    assert len(lines) == 3, result.stdout.str() + result.stderr.str()
    assert all(int(line.split()[4]) > 10_000 for line in lines)  # each session leaves its heap frozen
    # the second session's heap, left frozen, was unfrozen and collected by the third
    assert lines[2].endswith(",gone,alive")
