"""The @coze/api driver: the official JavaScript SDK, run in Node in a subprocess.

`runner.mjs` (shipped in this package) loads @coze/api from an npm prefix folder and speaks JSON
lines over stdio: one `FlowRequest` a line in, one `Observation` a line out. This side finds
`node` and `npm`, installs a release into the cache when asked (`python -m harness.drivers.coze_js
install 1.3.9`), starts the runner, bounds every wait, and always ends the child.

Where releases live: `$COZE_HARNESS_CACHE/coze-js/VERSION/` if that variable is set, otherwise
`$XDG_CACHE_HOME/coze-harness/coze-js/VERSION/` (`~/.cache/...` by default). Without a version the
driver uses the @coze/api installed in a `node_modules` folder at or above the current directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .. import DriverUnavailable, FlowRequest, MethodKind, Observation, SdkError, ToolAnswerer, ToolCallSeen

PACKAGE = "@coze/api"
SDK_NAME = "coze-js"
MIN_NODE_MAJOR = 18  # @coze/api streams with the native fetch of Node 18+
RUNNER = Path(__file__).with_name("runner.mjs")
CACHE_ENV = "COZE_HARNESS_CACHE"
INSTALL_TIMEOUT_SECONDS = 600.0
HELLO_TIMEOUT_SECONDS = 30.0
GRACE_SECONDS = 5.0  # beyond a flow's own limit, for the runner to report it
STOP_TIMEOUT_SECONDS = 3.0
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_GET_NODE = (
    "install Node.js 18 or newer with npm: on Debian or Ubuntu `apt-get install nodejs npm`, "
    "elsewhere see https://nodejs.org"
)


def install_command(version: str) -> str:
    return f"python -m harness.drivers.coze_js install {version}"


def parse_sdk(spec: str) -> str | None:
    """`coze-js` -> None (the installed one), `coze-js@1.3.9` -> "1.3.9"; anything else is a ValueError."""
    name, at, version = spec.partition("@")
    if name != SDK_NAME:
        raise ValueError(f"not a coze-js SDK spec: {spec!r} (coze-js or coze-js@VERSION)")
    if not at:
        return None
    check_version(version)
    return version


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise ValueError(f"not an exact @coze/api release: {version!r} (for example 1.3.9)")
    return version


def cache_root() -> Path:
    """The folder holding one npm prefix per @coze/api release."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / SDK_NAME
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "coze-harness" / SDK_NAME


@dataclass(frozen=True)
class NodeTools:
    node: str
    npm: str | None
    node_version: str


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def find_node(need_npm: bool = False) -> NodeTools:
    """`node` (18+) and, if asked, `npm` on PATH; DriverUnavailable naming what is missing otherwise."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm if need_npm else "-")) if not path]
    if missing or node is None:
        raise DriverUnavailable(
            f"{' and '.join(missing)} not found on PATH: the coze-js driver runs @coze/api in Node; {_GET_NODE}"
        )
    try:
        version = _run([node, "--version"], 15).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverUnavailable(f"`{node} --version` failed ({exc}); {_GET_NODE}") from exc
    match = re.match(r"v?(\d+)", version)
    if not match or int(match.group(1)) < MIN_NODE_MAJOR:
        raise DriverUnavailable(
            f"node {version or '(unknown version)'} is too old: @coze/api needs Node {MIN_NODE_MAJOR}+; {_GET_NODE}"
        )
    return NodeTools(node=node, npm=npm, node_version=version.lstrip("v"))


def _installed_version(prefix: Path) -> str | None:
    try:
        package = json.loads((prefix / "node_modules" / "@coze" / "api" / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    version = package.get("version") if isinstance(package, dict) else None
    return version if isinstance(version, str) else None


def cached(version: str) -> Path | None:
    """The cache folder holding exactly this release, if it is installed."""
    prefix = cache_root() / check_version(version)
    return prefix if _installed_version(prefix) == version else None


def install(version: str, timeout: float = INSTALL_TIMEOUT_SECONDS) -> Path:
    """Install @coze/api@VERSION into the cache (unless it is there) and return its folder.

    npm installs into a fresh folder beside the final one, which is renamed into place only when the
    release is complete, so an interrupted install never passes for an installed one."""
    check_version(version)
    existing = cached(version)
    if existing is not None:
        return existing
    tools = find_node(need_npm=True)
    assert tools.npm is not None
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".install-{version}-", dir=root))
    try:
        argv = [tools.npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging), f"{PACKAGE}@{version}"]
        try:
            done = _run(argv, timeout)
        except subprocess.TimeoutExpired as exc:
            raise DriverUnavailable(f"`npm install {PACKAGE}@{version}` did not finish within {timeout:g} s") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise DriverUnavailable(f"`npm install {PACKAGE}@{version}` failed (exit {done.returncode}):\n{tail}")
        got = _installed_version(staging)
        if got != version:
            raise DriverUnavailable(f"npm installed {PACKAGE} {got or '(nothing)'} when asked for {version}")
        final = root / version
        if final.exists():  # a half-made or stale folder (a complete one was returned above)
            shutil.rmtree(final, ignore_errors=True)
        try:
            staging.rename(final)
        except OSError:
            if cached(version) is None:  # not another installer winning the race
                raise
        return final
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def locate(version: str | None) -> Path:
    """The npm prefix folder to load @coze/api from: the cached release, or the installed one."""
    if version is not None:
        found = cached(version)
        if found is None:
            raise DriverUnavailable(
                f"{PACKAGE}@{version} is not installed in {cache_root()}: install it with `{install_command(version)}`"
            )
        return found
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if _installed_version(folder) is not None:
            return folder
    raise DriverUnavailable(
        f"no {PACKAGE} in a node_modules folder at or above {here}: `npm install {PACKAGE}` there, "
        f"or name a release (coze-js@VERSION) and install it with `{install_command('VERSION')}`"
    )


class CozeJsDriver:
    """Runs flows with @coze/api in one Node child process (restarted after a flow that ran out of time).

    Use as a context manager; `close()` always ends the child."""

    sdk = SDK_NAME

    def __init__(
        self,
        prefix: Path,
        tools: NodeTools | None = None,
        grace_seconds: float = GRACE_SECONDS,
        extra_ca_file: Path | None = None,
    ) -> None:
        """`extra_ca_file`: a certificate authority Node trusts besides its own (NODE_EXTRA_CA_CERTS), such as
        the simulator's throwaway one for wss:// on loopback."""
        self.prefix = prefix
        self.extra_ca_file = extra_ca_file
        self.grace_seconds = grace_seconds
        self.tools = tools or find_node()
        self.methods: dict[str, MethodKind] = {}
        self.loading: str | None = None  # how the release had to be loaded, when not as its package says
        self._version = _installed_version(prefix) or "unknown"
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=200)
        self._pumps: list[threading.Thread] = []

    @classmethod
    def for_version(cls, version: str | None) -> CozeJsDriver:
        tools = find_node()
        return cls(locate(version), tools)

    @property
    def sdk_version(self) -> str:
        return self._version

    @property
    def node_version(self) -> str:
        return self.tools.node_version

    @property
    def runtime(self) -> str:
        """What runs the SDK, as a report names it."""
        return f"Node {self.tools.node_version}"

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    def __enter__(self) -> CozeJsDriver:
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.close()
        self._lines = queue.Queue()
        env = dict(os.environ)
        if self.extra_ca_file is not None:
            env["NODE_EXTRA_CA_CERTS"] = str(self.extra_ca_file)
        proc = subprocess.Popen(
            [self.tools.node, str(RUNNER), str(self.prefix)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        self._pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, self._lines.put), daemon=True, name="coze-js-out"),
            threading.Thread(target=_pump, args=(proc.stderr, self._keep_stderr), daemon=True, name="coze-js-err"),
        ]
        for pump in self._pumps:
            pump.start()
        hello = self._read(HELLO_TIMEOUT_SECONDS)
        if hello is None or "hello" not in hello:
            why = hello.get("fatal") if isinstance(hello, dict) else None
            self.close()
            raise DriverUnavailable(
                f"the coze-js runner did not start: {why or 'no hello within the time limit'}\n{self.stderr_tail()}"
            )
        self._version = str(hello["hello"].get("sdk_version", self._version))
        self.methods = dict(hello["hello"].get("methods", {}))
        loading = hello["hello"].get("loading")
        self.loading = str(loading) if loading else None

    def _keep_stderr(self, line: str | None) -> None:
        if line is not None:
            self._stderr.append(line.rstrip("\n"))

    def _read(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line from the runner, or None on EOF or when `timeout` passes."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            return None
        try:
            value = json.loads(line)
        except ValueError:
            return {"fatal": f"the runner wrote a line that is not JSON: {line[:200]!r}"}
        return value if isinstance(value, dict) else {"fatal": f"the runner wrote {line[:200]!r}"}

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def run(self, request: FlowRequest, tools: ToolAnswerer | None = None) -> Observation:
        if tools is not None:
            request = request.model_copy(update={"host_tools": True})
        if not self._alive():
            self._start()
        limit = request.timeout_seconds + self.grace_seconds
        deadline = time.monotonic() + limit
        if not self._send(request.model_dump_json()):
            self.close()
            return self._failed(request, "DriverError", f"the runner could not take the request\n{self.stderr_tail()}")
        while True:
            answer = self._read(max(0.0, deadline - time.monotonic()))
            if answer is None:
                alive = self._alive()
                self.close()
                if alive:
                    why = f"the runner did not report within {limit:g} s; it was killed"
                    return self._failed(request, "DriverTimeout", why, timed_out=True)
                return self._failed(request, "DriverError", f"the runner exited\n{self.stderr_tail()}")
            if "fatal" in answer:
                self.close()
                return self._failed(request, "DriverError", str(answer["fatal"]))
            if "tool_calls" not in answer:
                break
            outputs = _answer_calls(answer["tool_calls"], tools)
            if not self._send(json.dumps({"tool_outputs": outputs}, ensure_ascii=False)):
                self.close()
                return self._failed(request, "DriverError", f"the runner exited\n{self.stderr_tail()}")
        observation = Observation.model_validate(answer)
        if observation.timed_out:  # the runner exits after such a flow; wait for it so the next run starts afresh
            self.close()
        return observation

    def _send(self, line: str) -> bool:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return False
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def _failed(self, request: FlowRequest, kind: str, message: str, timed_out: bool = False) -> Observation:
        return Observation(
            sdk=self.sdk,
            sdk_version=self._version,
            flow=request.flow,
            errors=[SdkError(type=kind, message=message)],
            methods=self.methods,
            timed_out=timed_out,
        )

    def settle(self) -> list[str]:
        """Nothing is left running between two flows: each ends in the runner before its answer comes back."""
        return []

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be refused; the wait stays bounded
                proc.wait(STOP_TIMEOUT_SECONDS)
        for pump in self._pumps:  # the child is gone, so its pipes end and the pumps with them
            pump.join(STOP_TIMEOUT_SECONDS)
        for stream in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


def driver_factory(version: str | None, install_missing: bool = True) -> Callable[[Path | None], CozeJsDriver]:
    """What makes a driver of this release (None: the @coze/api in node_modules) given the certificate authority
    Node is to trust for wss://. A named release missing from the cache is installed first when asked (said on
    stderr); DriverUnavailable when Node, npm or the release is missing."""
    if version is not None and install_missing and cached(version) is None:
        print(f"installing {PACKAGE} {version} into {cache_root()} with npm...", file=sys.stderr, flush=True)
        install(version)
    tools, prefix = find_node(), locate(version)
    return lambda ca_file: CozeJsDriver(prefix, tools, extra_ca_file=ca_file)


def _answer_calls(calls: Any, tools: ToolAnswerer | None) -> dict[str, str]:
    """The local code's output for each call the runner handed over; a tool that raises answers with the error."""
    outputs: dict[str, str] = {}
    for raw in calls if isinstance(calls, list) else []:
        call = ToolCallSeen.model_validate(raw)
        if tools is None:
            outputs[call.id] = f"no local code to answer {call.name}"
            continue
        try:
            outputs[call.id] = tools(call)
        except Exception as exc:  # local code failing is an answer too, as a local-plugin client would send
            outputs[call.id] = f"error: {type(exc).__name__}: {exc}"
    return outputs


def _pump(stream: IO[str], put: Any) -> None:
    try:
        for line in stream:
            put(line)
    except (OSError, ValueError):
        pass
    finally:
        put(None)


__all__ = [
    "CACHE_ENV",
    "PACKAGE",
    "RUNNER",
    "CozeJsDriver",
    "NodeTools",
    "cache_root",
    "cached",
    "check_version",
    "driver_factory",
    "find_node",
    "install",
    "install_command",
    "locate",
    "parse_sdk",
]
