"""Both HTML reports as a browser lays them out: headless Chromium (Debian's `chromium`), driven over the
DevTools protocol on loopback, measures the rendered pages (never their source).

At 1280x800: the answer is inside the first screen of each page and the page does not scroll sideways;
on the compatibility page the newest release's column is visible, unclipped and uncovered, in every
grid; every verdict badge and grid cell has at least 4.5:1 contrast (WCAG AA) as computed by the browser.

Skipped with the reason where `chromium` is not installed; under CI (CI=true) a missing chromium fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from harness.compat import load_compatibility
from harness.compat.html import render_html as render_compat
from harness.compat.reading import answers_at, newest_decided
from harness.matrix import Matrix
from harness.report.html import render_html
from harness.report.summary import answers

pytestmark = pytest.mark.cozepy_free  # runs no cozepy: once, in the newest release's env (tox.ini)

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 800
_WAIT = 30.0


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (Debian: apt-get install chromium); the layout checks need a browser")


class _Page:
    """One tab, over the DevTools protocol's flat sessions."""

    def __init__(self, socket: ClientConnection, session: str) -> None:
        self.socket, self.session, self.next_id = socket, session, 100

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ask = self.next_id
        self.socket.send(json.dumps({"id": ask, "method": method, "params": params, "sessionId": self.session}))
        while True:
            message = json.loads(self.socket.recv(timeout=_WAIT))
            if message.get("id") == ask:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def open(self, path: Path) -> None:
        self.send("Page.enable")
        self.send("Page.navigate", url=path.as_uri())
        deadline = time.monotonic() + _WAIT
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv(timeout=_WAIT))
            if message.get("method") == "Page.loadEventFired" and message.get("sessionId") == self.session:
                return
        raise AssertionError(f"{path.name} did not load in {_WAIT} s")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientConnection]:
    binary = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        url, seen, deadline = None, [], time.monotonic() + _WAIT
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            seen.append(line)
            found = re.search(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)", line)
            url = found.group(1) if found else None
        assert url is not None, "chromium gave no DevTools address:\n" + "".join(seen[-20:])
        with connect(url, max_size=16 * 2**20, open_timeout=_WAIT) as socket:
            yield socket
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _page(socket: ClientConnection, path: Path) -> _Page:
    socket.send(json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}))
    target = _reply(socket, 1)["targetId"]
    attach = {"targetId": target, "flatten": True}
    socket.send(json.dumps({"id": 2, "method": "Target.attachToTarget", "params": attach}))
    page = _Page(socket, _reply(socket, 2)["sessionId"])
    page.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
    page.open(path)
    return page


def _reply(socket: ClientConnection, ask: int) -> dict[str, Any]:
    while True:
        message = json.loads(socket.recv(timeout=_WAIT))
        if message.get("id") == ask and "sessionId" not in message:
            assert "error" not in message, message
            result: dict[str, Any] = message["result"]
            return result


_ANSWER = """(() => {
  const box = document.getElementById('answer');
  const r = box.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, text: box.innerText,
          width: innerWidth, height: innerHeight, scrollWidth: document.documentElement.scrollWidth};
})()"""

_CONTRAST = """(() => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const worst = [];
  for (const el of document.querySelectorAll('.v, td.c')) {
    const style = getComputedStyle(el);
    const a = lum(rgb(style.color)), b = lum(rgb(style.backgroundColor));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) worst.push([el.textContent, style.color, style.backgroundColor, ratio]);
  }
  return {checked: document.querySelectorAll('.v, td.c').length, failing: worst.slice(0, 5)};
})()"""

_NEWEST = """(() => {
  const found = [];
  for (const table of document.querySelectorAll('table.grid')) {
    const head = table.querySelector('th.newest');
    const wrap = table.closest('.wrap');
    window.scrollTo(0, head.getBoundingClientRect().top + window.scrollY - 100);
    const r = head.getBoundingClientRect(), w = wrap.getBoundingClientRect();
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    found.push({text: head.textContent, left: r.left, right: r.right, wrapLeft: w.left, wrapRight: w.right,
                scrolled: wrap.scrollLeft, width: innerWidth, onTop: hit === head || head.contains(hit)});
  }
  window.scrollTo(0, 0);
  return found;
})()"""


def test_the_capability_matrix_answers_on_its_first_screen(browser: ClientConnection, tmp_path: Path) -> None:
    matrix = Matrix.model_validate_json((ROOT / "reports" / "capability-matrix.json").read_text(encoding="utf-8"))
    page_file = tmp_path / "capability-matrix.html"
    page_file.write_text(render_html(matrix), encoding="utf-8")
    page = _page(browser, page_file)
    box = page.evaluate(_ANSWER)
    assert (box["width"], box["height"]) == (WIDTH, HEIGHT)
    assert box["top"] >= 0 and box["bottom"] <= HEIGHT and box["right"] <= WIDTH, box
    for answer in answers(matrix):  # what the browser shows is the sentence the cells give
        assert answer.sentence().removeprefix(answer.title + ": ") in " ".join(box["text"].split())
    assert box["scrollWidth"] <= WIDTH
    contrast = page.evaluate(_CONTRAST)
    assert contrast["checked"] > len(matrix.cells) and contrast["failing"] == []


def test_the_compatibility_page_answers_first_and_shows_the_newest_release(
    browser: ClientConnection, tmp_path: Path
) -> None:
    compat = load_compatibility(ROOT / "reports" / "compatibility.json")
    page_file = tmp_path / "compatibility.html"
    page_file.write_text(render_compat(compat), encoding="utf-8")
    page = _page(browser, page_file)
    box = page.evaluate(_ANSWER)
    assert box["top"] >= 0 and box["bottom"] <= HEIGHT and box["right"] <= WIDTH, box
    version = newest_decided(compat)
    assert version is not None
    for answer in answers_at(compat, version):
        assert answer.sentence().removeprefix(answer.title + ": ") in " ".join(box["text"].split())
    assert box["scrollWidth"] <= WIDTH
    grids = page.evaluate(_NEWEST)
    assert len(grids) >= len(compat.platforms)  # one per mode and platform, and the framing grid
    newest = compat.version_names[-1]
    for grid in grids:
        assert grid["text"] == newest and grid["scrolled"] == 0
        assert grid["wrapLeft"] <= grid["left"] and grid["right"] <= min(grid["wrapRight"], grid["width"]), grid
        assert grid["onTop"], grid  # nothing covers it: the header itself is what the browser hits there
    contrast = page.evaluate(_CONTRAST)
    assert contrast["checked"] > 1000 and contrast["failing"] == []
