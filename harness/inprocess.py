"""`harness.transports.inprocess` under the name the README has shown since it was written: the same module
object (tests that patch it patch the one the transports use)."""

import sys

from .transports import inprocess as _module
from .transports.inprocess import *  # noqa: F403  (the public names, for type checkers)

sys.modules[__name__] = _module
