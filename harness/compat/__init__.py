"""Cross-version compatibility: merge per-release capability matrices, find regressions, gate on a baseline.

`load_dir` reads `DIR/<version>/capability-matrix.json` (or a sweep's `failure.json`), `merge` builds
the `Compatibility` model, `write_compatibility` renders it, and `gate` compares it with a committed
baseline. `python -m harness.compat.sweep` produces the per-release folders for every release.
"""

from .baseline import GateFailure, gate
from .load import CompatError, Loaded, load_compatibility, load_dir
from .merge import merge, merge_by_sdk
from .model import Compatibility, FramingCell, FramingChange, FramingRow, Regression, RequestShape, Row
from .write import write_compatibility

__all__ = [
    "CompatError",
    "Compatibility",
    "FramingCell",
    "FramingChange",
    "FramingRow",
    "GateFailure",
    "Loaded",
    "Regression",
    "RequestShape",
    "Row",
    "gate",
    "load_compatibility",
    "load_dir",
    "merge",
    "merge_by_sdk",
    "write_compatibility",
]
