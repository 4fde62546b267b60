"""`harness.transports.respx` under the name the README has shown since it was written: the same module object."""

import sys

from .transports import respx as _module
from .transports.respx import *  # noqa: F403  (the public names, for type checkers)

sys.modules[__name__] = _module
