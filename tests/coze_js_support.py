"""What the tests that run @coze/api share: which releases, and skipping (or, under CI, failing) without them.

Tests that need Node skip with the driver's own reason when node is missing, and those that need an
installed @coze/api skip with the command that installs it (`python -m harness.drivers.coze_js
install VERSION`; .ci/run does it before tox). Under CI=true a skip of either kind is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.drivers import DriverUnavailable, coze_js

LATEST = os.environ.get("COZE_JS_LATEST", "1.3.9")
OLD = os.environ.get("COZE_JS_OLD", "1.0.4")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the coze-js tests: {reason}")
    pytest.skip(reason)


def node() -> coze_js.NodeTools:
    try:
        return coze_js.find_node()
    except DriverUnavailable as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc


def npm() -> coze_js.NodeTools:
    """Node and npm (the sweep asks npm even when every release is in the cache)."""
    try:
        return coze_js.find_node(need_npm=True)
    except DriverUnavailable as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc


def sdk_folder(version: str) -> Path:
    """The cache folder of an installed release (skip, or fail under CI, when it is not installed)."""
    node()
    found = coze_js.cached(version)
    if found is None:
        unavailable(
            f"@coze/api {version} is not installed in {coze_js.cache_root()}: {coze_js.install_command(version)}"
        )
        raise AssertionError("unreachable")
    return found
